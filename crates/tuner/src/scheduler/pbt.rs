//! Population-based training (Jaderberg et al., 2017) with Ray Tune's
//! `PopulationBasedTraining` semantics.
//!
//! Every `perturbation_interval` iterations of a trial, the live trials are ranked by
//! their last loss. A trial in the bottom `quantile_fraction` exploits one from the top
//! quantile, chosen at random: it restarts from that trial's latest checkpoint with the
//! donor's hyperparameters explored — each mutated key is resampled from the space with
//! probability `resample_probability`, otherwise a number is multiplied by 0.8 or 1.2
//! (kept inside the domain, rounded for integers) and a categorical value moves to a
//! neighbouring entry of its list.

use super::{Action, Scheduler};
use crate::space::{Domain, Params, SearchSpace};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;

#[derive(Debug, Clone)]
struct State {
    params: Params,
    last_loss: Option<f64>,
    last_perturbation: usize,
    live: bool,
}

/// The PBT scheduler.
#[derive(Debug, Clone)]
pub struct Pbt {
    space: SearchSpace,
    mutations: Vec<String>,
    interval: usize,
    quantile_fraction: f64,
    resample_probability: f64,
    trials: BTreeMap<usize, State>,
    rng: StdRng,
}

impl Pbt {
    /// PBT mutating `mutations` (keys of `space`).
    pub fn new(
        space: SearchSpace,
        mutations: Vec<String>,
        interval: usize,
        quantile_fraction: f64,
        resample_probability: f64,
        seed: u64,
    ) -> Self {
        Pbt {
            space,
            mutations,
            interval: interval.max(1),
            quantile_fraction,
            resample_probability,
            trials: BTreeMap::new(),
            rng: StdRng::seed_from_u64(seed ^ 0x5EED_0BB7),
        }
    }

    // (worst, best) quantiles of the live trials with a result.
    fn quantiles(&self) -> (Vec<usize>, Vec<usize>) {
        let mut ranked: Vec<(usize, f64)> = self
            .trials
            .iter()
            .filter(|(_, s)| s.live)
            .filter_map(|(id, s)| s.last_loss.map(|l| (*id, l)))
            .collect();
        if ranked.len() <= 1 {
            return (vec![], vec![]);
        }
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1)); // worst first
        let mut k = (ranked.len() as f64 * self.quantile_fraction).ceil() as usize;
        if k as f64 > ranked.len() as f64 / 2.0 {
            k = ranked.len() / 2;
        }
        let ids: Vec<usize> = ranked.iter().map(|(id, _)| *id).collect();
        (ids[..k].to_vec(), ids[ids.len() - k..].to_vec())
    }

    /// The donor's hyperparameters, explored.
    pub fn explore(&mut self, donor: &Params) -> Params {
        let mut out = donor.clone();
        for key in &self.mutations {
            let (Some(param), Some(current)) = (self.space.param(key), donor.get(key)) else {
                continue;
            };
            let resample = self.rng.random::<f64>() < self.resample_probability;
            let new = match &param.domain {
                Domain::Fixed(v) => v.clone(),
                Domain::Choice(vs) | Domain::Grid(vs) => match vs.iter().position(|v| v == current)
                {
                    Some(i) if !resample => {
                        let j = if self.rng.random::<bool>() {
                            i + 1
                        } else {
                            i.saturating_sub(1)
                        };
                        vs[j.min(vs.len() - 1)].clone()
                    }
                    _ => param.domain.sample(&mut self.rng),
                },
                d => match current.as_f64() {
                    Some(x) if !resample => {
                        let factor = if self.rng.random::<bool>() { 1.2 } else { 0.8 };
                        d.from_number(x * factor)
                    }
                    _ => d.sample(&mut self.rng),
                },
            };
            out.insert(key.clone(), new);
        }
        out
    }
}

impl Scheduler for Pbt {
    fn on_trial_add(&mut self, trial: usize, params: &Params) {
        let s = self.trials.entry(trial).or_insert(State {
            params: params.clone(),
            last_loss: None,
            last_perturbation: 0,
            live: true,
        });
        s.params = params.clone();
        s.live = true;
    }

    fn on_result(&mut self, trial: usize, iteration: usize, loss: f64) -> Action {
        let Some(state) = self.trials.get_mut(&trial) else {
            return Action::Continue;
        };
        state.last_loss = Some(loss);
        if iteration < state.last_perturbation + self.interval {
            return Action::Continue;
        }
        state.last_perturbation = iteration;
        let (worst, best) = self.quantiles();
        if !worst.contains(&trial) || best.is_empty() {
            return Action::Continue;
        }
        let donor = best[self.rng.random_range(0..best.len())];
        let donor_params = self.trials[&donor].params.clone();
        let params = self.explore(&donor_params);
        if let Some(s) = self.trials.get_mut(&trial) {
            s.params = params.clone();
        }
        Action::Exploit { donor, params }
    }

    fn on_trial_complete(&mut self, trial: usize) {
        if let Some(s) = self.trials.get_mut(&trial) {
            s.live = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn space() -> SearchSpace {
        SearchSpace::from_toml(
            "lr = { loguniform = [1e-4, 1.0] }\nwidth = { choice = [16, 32, 64, 128] }",
        )
        .unwrap()
    }

    fn params(lr: f64, width: i64) -> Params {
        [
            ("lr".to_string(), Value::from(lr)),
            ("width".to_string(), Value::from(width)),
        ]
        .into()
    }

    #[test]
    fn scripted_exploit_and_explore() {
        let mut p = Pbt::new(space(), vec!["lr".into(), "width".into()], 2, 0.25, 0.0, 1);
        let lrs = [0.1, 0.01, 0.001, 0.0001];
        for (t, lr) in lrs.iter().enumerate() {
            p.on_trial_add(t, &params(*lr, 32));
        }
        // Iteration 1: no perturbation yet (interval 2).
        for t in 0..4 {
            assert_eq!(p.on_result(t, 1, t as f64), Action::Continue);
        }
        // Iteration 2: losses 0 < 1 < 2 < 3. Quantile size ceil(4 * 0.25) = 1:
        // trial 3 is the worst, trial 0 the best.
        for t in 0..3 {
            assert_eq!(p.on_result(t, 2, t as f64), Action::Continue, "trial {t}");
        }
        match p.on_result(3, 2, 3.0) {
            Action::Exploit { donor, params } => {
                assert_eq!(donor, 0);
                // No resampling: lr is the donor's times 0.8 or 1.2; width moves to a
                // neighbour of 32.
                let lr = params["lr"].as_f64().unwrap();
                assert!(
                    (lr - 0.08).abs() < 1e-12 || (lr - 0.12).abs() < 1e-12,
                    "{lr}"
                );
                let w = params["width"].as_i64().unwrap();
                assert!(w == 16 || w == 64, "{w}");
            }
            a => panic!("expected exploit, got {a:?}"),
        }
        // Iteration 3: inside the interval again, nothing happens.
        assert_eq!(p.on_result(3, 3, 10.0), Action::Continue);
    }

    #[test]
    fn resampling_stays_in_the_domain_and_ends_are_clamped() {
        let mut p = Pbt::new(space(), vec!["lr".into(), "width".into()], 1, 0.25, 1.0, 2);
        for _ in 0..100 {
            let e = p.explore(&params(1.0, 128));
            let lr = e["lr"].as_f64().unwrap();
            assert!((1e-4..=1.0).contains(&lr));
            assert!([16, 32, 64, 128].contains(&e["width"].as_i64().unwrap()));
        }
        let mut p = Pbt::new(space(), vec!["lr".into()], 1, 0.25, 0.0, 3);
        for _ in 0..20 {
            // 1.0 * 1.2 is clipped to the upper bound 1.0.
            let lr = p.explore(&params(1.0, 16))["lr"].as_f64().unwrap();
            assert!(lr == 1.0 || (lr - 0.8).abs() < 1e-12, "{lr}");
        }
    }
}
