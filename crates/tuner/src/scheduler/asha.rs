//! Asynchronous successive halving (Li et al., 2020) with Ray Tune's
//! `AsyncHyperBandScheduler` semantics.
//!
//! Bracket `s` has rungs at `grace_period * rf^(k + s)` iterations. When a trial first
//! reaches a rung it is compared with the results recorded there so far: it stops if
//! its loss is worse than the best `1 / rf` of them (numpy's linear percentile), and its
//! result is recorded either way. Every trial stops at `max_t`. With several brackets a
//! trial joins one at random, weighted towards brackets with more rungs (Ray's softmax).

use super::{percentile_sorted, Action, Scheduler};
use crate::error::{Error, Result};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::HashMap;

/// The results recorded at one rung: by trial, and sorted for the cutoff.
#[derive(Debug, Clone, Default)]
struct Rung {
    by_trial: HashMap<usize, f64>,
    sorted: Vec<f64>,
}

impl Rung {
    fn insert(&mut self, trial: usize, loss: f64) {
        if loss.is_nan() || self.by_trial.insert(trial, loss).is_some() {
            return;
        }
        let at = self.sorted.partition_point(|x| *x < loss);
        self.sorted.insert(at, loss);
    }

    // numpy's linear percentile over the sorted losses.
    fn cutoff(&self, p: f64) -> Option<f64> {
        percentile_sorted(&self.sorted, p)
    }
}

#[derive(Debug, Clone)]
struct Bracket {
    // (milestone, recorded losses), milestones descending.
    rungs: Vec<(usize, Rung)>,
}

/// The ASHA scheduler.
#[derive(Debug, Clone)]
pub struct Asha {
    reduction_factor: f64,
    max_t: usize,
    brackets: Vec<Bracket>,
    trial_bracket: HashMap<usize, usize>,
    rng: StdRng,
}

impl Asha {
    /// ASHA with `brackets` brackets.
    pub fn new(
        grace_period: usize,
        reduction_factor: f64,
        max_t: usize,
        brackets: usize,
        seed: u64,
    ) -> Result<Asha> {
        let key = |k: &str| format!("tune.scheduler.{k}");
        if grace_period == 0 {
            return Err(Error::config(key("grace_period"), "must be at least 1"));
        }
        if reduction_factor.is_nan() || reduction_factor <= 1.0 {
            return Err(Error::config(
                key("reduction_factor"),
                "must be greater than 1",
            ));
        }
        if max_t < grace_period {
            return Err(Error::config(key("max_t"), "must be at least grace_period"));
        }
        if brackets == 0 {
            return Err(Error::config(key("brackets"), "must be at least 1"));
        }
        let brackets = (0..brackets)
            .map(|s| {
                let max_rungs = ((max_t as f64 / grace_period as f64).ln() / reduction_factor.ln()
                    + s as f64
                    + 1.0) as usize;
                let rungs = (0..max_rungs)
                    .rev()
                    .map(|k| {
                        let m = grace_period as f64 * reduction_factor.powi((k + s) as i32);
                        (m.round() as usize, Rung::default())
                    })
                    .collect();
                Bracket { rungs }
            })
            .collect();
        Ok(Asha {
            reduction_factor,
            max_t,
            brackets,
            trial_bracket: HashMap::new(),
            rng: StdRng::seed_from_u64(seed ^ 0xA5A5),
        })
    }

    /// Rung milestones of bracket `b`, descending.
    pub fn milestones(&self, b: usize) -> Vec<usize> {
        self.brackets[b].rungs.iter().map(|(m, _)| *m).collect()
    }

    fn bracket_of(&mut self, trial: usize) -> usize {
        if let Some(&b) = self.trial_bracket.get(&trial) {
            return b;
        }
        let b = if self.brackets.len() == 1 {
            0
        } else {
            let sizes: Vec<f64> = self.brackets.iter().map(|b| b.rungs.len() as f64).collect();
            let top = sizes.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let w: Vec<f64> = sizes.iter().map(|s| (s - top).exp()).collect();
            let mut u = self.rng.random::<f64>() * w.iter().sum::<f64>();
            let mut i = 0;
            while i + 1 < w.len() && u >= w[i] {
                u -= w[i];
                i += 1;
            }
            i
        };
        self.trial_bracket.insert(trial, b);
        b
    }
}

impl Scheduler for Asha {
    fn max_iterations(&self) -> Option<usize> {
        Some(self.max_t)
    }

    fn on_result(&mut self, trial: usize, iteration: usize, loss: f64) -> Action {
        let b = self.bracket_of(trial);
        let rf = self.reduction_factor;
        let mut action = Action::Continue;
        for (milestone, recorded) in &mut self.brackets[b].rungs {
            if iteration >= *milestone && recorded.by_trial.contains_key(&trial) {
                break; // decided at this rung already; lower rungs were passed before
            }
            if iteration < *milestone {
                continue;
            }
            if let Some(cutoff) = recorded.cutoff(100.0 / rf) {
                if loss > cutoff {
                    action = Action::Stop;
                }
            }
            recorded.insert(trial, loss);
            break;
        }
        if iteration >= self.max_t {
            action = Action::Stop;
        }
        action
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rungs_follow_ray() {
        // Ray: int(log(max_t / grace) / log(rf) + s + 1) rungs at grace * rf^(k + s):
        // grace 1, rf 4, max_t 20 -> [16, 4, 1]; bracket 1 -> [256, 64, 16, 4] (Ray
        // keeps rungs beyond max_t in upper brackets; max_t stops trials first).
        let a = Asha::new(1, 4.0, 20, 2, 0).unwrap();
        assert_eq!(a.milestones(0), vec![16, 4, 1]);
        assert_eq!(a.milestones(1), vec![256, 64, 16, 4]);
    }

    #[test]
    fn scripted_promotions_and_stops() {
        // grace 1, rf 2, max_t 4: rungs at 1, 2, 4. Losses (lower is better).
        let mut a = Asha::new(1, 2.0, 4, 1, 0).unwrap();
        // Trial 0 is the first at rung 1: nothing to compare with, continues.
        assert_eq!(a.on_result(0, 1, 0.5), Action::Continue);
        // Trial 1 is worse than the 50th percentile of {0.5}: stops.
        assert_eq!(a.on_result(1, 1, 0.9), Action::Stop);
        // Trial 2 is better: continues. Rung 1 now holds {0.5, 0.9, 0.2}.
        assert_eq!(a.on_result(2, 1, 0.2), Action::Continue);
        // Trial 3: median of {0.5, 0.9, 0.2} is 0.5; 0.6 > 0.5 stops.
        assert_eq!(a.on_result(3, 1, 0.6), Action::Stop);
        // Trial 4: 0.5 is not worse than the median of {0.2, 0.5, 0.6, 0.9} (0.55).
        assert_eq!(a.on_result(4, 1, 0.5), Action::Continue);
        // Rung 2: trial 0 first (continues), trial 2 better (continues).
        assert_eq!(a.on_result(0, 2, 0.4), Action::Continue);
        assert_eq!(a.on_result(2, 2, 0.1), Action::Continue);
        // Trial 4 at rung 2: median of {0.4, 0.1} = 0.25, 0.3 > 0.25 stops.
        assert_eq!(a.on_result(4, 2, 0.3), Action::Stop);
        // Between rungs nothing is decided, even for a bad result.
        assert_eq!(a.on_result(2, 3, 5.0), Action::Continue);
        // max_t stops everyone, the best included.
        assert_eq!(a.on_result(2, 4, 0.05), Action::Stop);
    }

    #[test]
    fn bad_settings_name_the_key() {
        let e = Asha::new(1, 1.0, 10, 1, 0).unwrap_err().to_string();
        assert!(e.contains("reduction_factor"), "{e}");
        let e = Asha::new(5, 2.0, 4, 1, 0).unwrap_err().to_string();
        assert!(e.contains("max_t"), "{e}");
    }
}
