//! Search algorithms: which configuration the next trial gets.
//!
//! Every searcher is seeded: trial `i`'s random draws come from a generator seeded by
//! `(seed, i)`, so an experiment resumed after a crash suggests the same configurations.

mod tpe;

pub use tpe::{Tpe, TpeOptions};

use crate::error::{Error, Result};
use crate::space::{Params, SearchSpace};
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

/// Chooses configurations and learns from finished trials.
pub trait Searcher: Send {
    /// The configuration of trial `trial` (0-based, in creation order), or `None` when
    /// the searcher has no more to give.
    fn suggest(&mut self, trial: usize) -> Option<Params>;
    /// Learn the outcome of a finished trial: `loss` is the metric signed so that lower
    /// is better, `None` when the trial failed or reported nothing.
    fn observe(&mut self, trial: usize, params: &Params, loss: Option<f64>);
    /// How many configurations the searcher will give, when finite.
    fn total(&self) -> Option<usize>;
}

/// A generator for trial `trial` of an experiment seeded with `seed`.
pub fn trial_rng(seed: u64, trial: usize) -> StdRng {
    // SplitMix64 finaliser: nearby (seed, trial) pairs get unrelated streams.
    let mut z = seed ^ (trial as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    StdRng::seed_from_u64(z ^ (z >> 31))
}

/// Which search algorithm, as named in experiment specs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum SearchKind {
    /// Random search (grid keys enumerated, the rest drawn).
    #[default]
    Random,
    /// Grid search: the same algorithm, named for specs whose keys are all grids.
    Grid,
    /// Tree-structured Parzen Estimator.
    Tpe,
}

impl SearchKind {
    /// Build the searcher for `samples` samples (for random / grid: repeats of the grid).
    pub fn build(
        self,
        space: &SearchSpace,
        samples: usize,
        seed: u64,
    ) -> Result<Box<dyn Searcher>> {
        if samples == 0 {
            return Err(Error::config("tune.samples", "must be at least 1"));
        }
        Ok(match self {
            SearchKind::Random | SearchKind::Grid => {
                Box::new(VariantGenerator::new(space.clone(), samples, seed))
            }
            SearchKind::Tpe => Box::new(Tpe::new(
                space.clone(),
                samples,
                seed,
                TpeOptions::default(),
            )),
        })
    }
}

/// Random and grid search combined, as Ray Tune's basic variant generator: the
/// `grid` keys are enumerated (full cartesian product) and the other keys drawn at
/// random for every grid point; the whole grid is repeated `samples` times.
#[derive(Debug, Clone)]
pub struct VariantGenerator {
    space: SearchSpace,
    grid: Vec<Params>,
    samples: usize,
    seed: u64,
}

impl VariantGenerator {
    /// `samples` repeats of the grid (one grid point, the empty one, without grid keys).
    pub fn new(space: SearchSpace, samples: usize, seed: u64) -> Self {
        let grid = space.grid_points();
        VariantGenerator {
            space,
            grid,
            samples,
            seed,
        }
    }
}

impl Searcher for VariantGenerator {
    fn suggest(&mut self, trial: usize) -> Option<Params> {
        if trial >= self.samples * self.grid.len() {
            return None;
        }
        let point = &self.grid[trial % self.grid.len()];
        Some(
            self.space
                .sample_with(&mut trial_rng(self.seed, trial), point),
        )
    }

    fn observe(&mut self, _: usize, _: &Params, _: Option<f64>) {}

    fn total(&self) -> Option<usize> {
        Some(self.samples * self.grid.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_repeats_and_random_keys_vary() {
        let space =
            SearchSpace::from_toml("a = { grid = [1, 2] }\nb = { uniform = [0, 1] }").unwrap();
        let mut g = VariantGenerator::new(space, 3, 5);
        assert_eq!(g.total(), Some(6));
        let all: Vec<Params> = (0..6).map(|i| g.suggest(i).unwrap()).collect();
        assert!(g.suggest(6).is_none());
        assert_eq!(all.iter().filter(|p| p["a"] == 1).count(), 3);
        let bs: Vec<f64> = all.iter().map(|p| p["b"].as_f64().unwrap()).collect();
        for i in 0..bs.len() {
            for j in 0..i {
                assert_ne!(bs[i], bs[j]);
            }
        }
        // Reproducible: a second generator with the same seed agrees.
        let mut h = VariantGenerator::new(g.space.clone(), 3, 5);
        assert_eq!(h.suggest(4), Some(all[4].clone()));
    }
}
