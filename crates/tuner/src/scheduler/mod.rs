//! Trial schedulers: after every reported result, continue, stop early, or exploit
//! another trial (PBT).
//!
//! Schedulers see losses: the experiment's metric signed so that lower is better.
//! "Time" is the trial's iteration count (epochs), Ray Tune's `training_iteration`.

mod asha;
mod hyperband;
mod median;
mod pbt;

pub use asha::Asha;
pub use hyperband::HyperBand;
pub use median::MedianStopping;
pub use pbt::Pbt;

use crate::error::{Error, Result};
use crate::space::{Params, SearchSpace};
use serde::{Deserialize, Serialize};

/// A scheduler's answer to one result.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Keep going.
    Continue,
    /// Stop the trial now (early stopping).
    Stop,
    /// Restart the trial from `donor`'s latest checkpoint with `params` (PBT).
    Exploit {
        /// The better trial whose checkpoint is copied.
        donor: usize,
        /// The new hyperparameters.
        params: Params,
    },
    /// Pause the trial (keeping its checkpoint) until the scheduler hands it back
    /// through [`Scheduler::choose_paused`] or stops it through
    /// [`Scheduler::take_stopped`] (synchronous HyperBand).
    Pause,
}

/// Decides the fate of running trials from their results.
pub trait Scheduler: Send {
    /// A trial starts (or restarts) with `params`.
    fn on_trial_add(&mut self, _trial: usize, _params: &Params) {}
    /// Trial `trial` reports `loss` after `iteration` iterations.
    fn on_result(&mut self, trial: usize, iteration: usize, loss: f64) -> Action;
    /// A trial ended (completed, stopped or failed) and reports no more.
    fn on_trial_complete(&mut self, _trial: usize) {}
    /// The runner will create no more trials (search exhausted or trial budget reached).
    fn on_no_more_trials(&mut self) {}
    /// A paused trial to resume now, if any (asked before new trials are created).
    fn choose_paused(&mut self) -> Option<usize> {
        None
    }
    /// Paused trials the scheduler has stopped since the last call; they report no more.
    fn take_stopped(&mut self) -> Vec<usize> {
        Vec::new()
    }
    /// The most iterations a trial may run (`max_t`), if the scheduler has such a cap: a
    /// trial stopped there ran to its end and counts as completed, not stopped early.
    fn max_iterations(&self) -> Option<usize> {
        None
    }
}

/// First in, first out: every trial runs to its end.
#[derive(Debug, Clone, Copy, Default)]
pub struct Fifo;

impl Scheduler for Fifo {
    fn on_result(&mut self, _: usize, _: usize, _: f64) -> Action {
        Action::Continue
    }
}

fn one() -> usize {
    1
}
fn four() -> f64 {
    4.0
}
fn hundred() -> usize {
    100
}
fn three() -> usize {
    3
}
fn three_f() -> f64 {
    3.0
}
fn quarter() -> f64 {
    0.25
}

/// A scheduler as named in experiment specs (`scheduler = { kind = "asha", ... }`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum SchedulerSpec {
    /// [`Fifo`].
    #[default]
    Fifo,
    /// [`Asha`] (Ray Tune's `AsyncHyperBandScheduler`).
    Asha {
        /// Iterations before the first stopping decision.
        #[serde(default = "one")]
        grace_period: usize,
        /// Keep the best 1 / `reduction_factor` at each rung.
        #[serde(default = "four")]
        reduction_factor: f64,
        /// Iterations after which every trial stops.
        #[serde(default = "hundred")]
        max_t: usize,
        /// Number of brackets (1 = plain ASHA; more = asynchronous HyperBand).
        #[serde(default = "one")]
        brackets: usize,
    },
    /// Synchronous HyperBand: [`HyperBand`] (Ray Tune's `HyperBandScheduler`).
    Hyperband {
        /// Keep the best 1 / `reduction_factor` at each cut (Ray's `eta`).
        #[serde(default = "three_f")]
        reduction_factor: f64,
        /// Iterations after which every trial stops; sets the brackets' sizes.
        #[serde(default = "hundred")]
        max_t: usize,
    },
    /// Asynchronous HyperBand: [`Asha`] with one bracket per aggressiveness level
    /// (`floor(log_rf(max_t / grace_period)) + 1` brackets).
    AsyncHyperband {
        /// Iterations before the first stopping decision in the most aggressive bracket.
        #[serde(default = "one")]
        grace_period: usize,
        /// Keep the best 1 / `reduction_factor` at each rung.
        #[serde(default = "four")]
        reduction_factor: f64,
        /// Iterations after which every trial stops.
        #[serde(default = "hundred")]
        max_t: usize,
    },
    /// [`MedianStopping`].
    MedianStopping {
        /// Iterations before a trial can be stopped.
        #[serde(default = "one")]
        grace_period: usize,
        /// Trials needed at an iteration before the median is used.
        #[serde(default = "three")]
        min_samples_required: usize,
    },
    /// [`Pbt`] (population-based training).
    Pbt {
        /// Iterations between exploit / explore steps.
        perturbation_interval: usize,
        /// Share of trials in the bottom and top quantiles.
        #[serde(default = "quarter")]
        quantile_fraction: f64,
        /// Chance to resample a hyperparameter instead of perturbing it.
        #[serde(default = "quarter")]
        resample_probability: f64,
        /// Keys to mutate (default: every sampled key of the space).
        #[serde(default)]
        mutations: Option<Vec<String>>,
    },
}

impl SchedulerSpec {
    /// Check the settings and build the scheduler.
    pub fn build(&self, space: &SearchSpace, seed: u64) -> Result<Box<dyn Scheduler>> {
        let key = |k: &str| format!("tune.scheduler.{k}");
        Ok(match self {
            SchedulerSpec::Fifo => Box::new(Fifo),
            SchedulerSpec::Asha {
                grace_period,
                reduction_factor,
                max_t,
                brackets,
            } => Box::new(Asha::new(
                *grace_period,
                *reduction_factor,
                *max_t,
                *brackets,
                seed,
            )?),
            SchedulerSpec::Hyperband {
                reduction_factor,
                max_t,
            } => Box::new(HyperBand::new(*max_t, *reduction_factor)?),
            SchedulerSpec::AsyncHyperband {
                grace_period,
                reduction_factor,
                max_t,
            } => {
                if *grace_period == 0 || *reduction_factor <= 1.0 || max_t < grace_period {
                    return Err(Error::config(
                        key("kind"),
                        "async-hyperband needs grace_period >= 1, reduction_factor > 1, max_t >= grace_period",
                    ));
                }
                let s_max = ((*max_t as f64 / *grace_period as f64).ln() / reduction_factor.ln())
                    .floor() as usize;
                Box::new(Asha::new(
                    *grace_period,
                    *reduction_factor,
                    *max_t,
                    s_max + 1,
                    seed,
                )?)
            }
            SchedulerSpec::MedianStopping {
                grace_period,
                min_samples_required,
            } => {
                if *min_samples_required == 0 {
                    return Err(Error::config(
                        key("min_samples_required"),
                        "must be at least 1",
                    ));
                }
                Box::new(MedianStopping::new(*grace_period, *min_samples_required))
            }
            SchedulerSpec::Pbt {
                perturbation_interval,
                quantile_fraction,
                resample_probability,
                mutations,
            } => {
                if *perturbation_interval == 0 {
                    return Err(Error::config(
                        key("perturbation_interval"),
                        "must be at least 1",
                    ));
                }
                if !(0.0..=0.5).contains(quantile_fraction) {
                    return Err(Error::config(
                        key("quantile_fraction"),
                        "must be in [0, 0.5]",
                    ));
                }
                if !(0.0..=1.0).contains(resample_probability) {
                    return Err(Error::config(
                        key("resample_probability"),
                        "must be in [0, 1]",
                    ));
                }
                let keys: Vec<String> = match mutations {
                    Some(keys) => {
                        for k in keys {
                            if space.param(k).is_none() {
                                return Err(Error::config(
                                    key("mutations"),
                                    format!("'{k}' is not a key of the space"),
                                ));
                            }
                        }
                        keys.clone()
                    }
                    None => space
                        .params()
                        .iter()
                        .filter(|p| !matches!(p.domain, crate::space::Domain::Fixed(_)))
                        .map(|p| p.name.clone())
                        .collect(),
                };
                Box::new(Pbt::new(
                    space.clone(),
                    keys,
                    *perturbation_interval,
                    *quantile_fraction,
                    *resample_probability,
                    seed,
                ))
            }
        })
    }
}

/// numpy's default (linear) percentile of `xs`, `p` in [0, 100].
pub(crate) fn percentile(xs: &[f64], p: f64) -> Option<f64> {
    let mut v: Vec<f64> = xs.iter().copied().filter(|x| !x.is_nan()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    percentile_sorted(&v, p)
}

/// [`percentile`] of values already sorted ascending, without NaN.
pub(crate) fn percentile_sorted(v: &[f64], p: f64) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let pos = p / 100.0 * (v.len() - 1) as f64;
    let (i, frac) = (pos.floor() as usize, pos.fract());
    Some(if i + 1 < v.len() {
        v[i] + (v[i + 1] - v[i]) * frac
    } else {
        v[i]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_matches_numpy() {
        // numpy.percentile([1, 2, 3, 4], 25) == 1.75; ([5], 75) == 5; ([3, 1, 2], 50) == 2
        assert_eq!(percentile(&[1.0, 2.0, 3.0, 4.0], 25.0), Some(1.75));
        assert_eq!(percentile(&[5.0], 75.0), Some(5.0));
        assert_eq!(percentile(&[3.0, 1.0, 2.0], 50.0), Some(2.0));
        assert_eq!(percentile(&[], 50.0), None);
    }

    #[test]
    fn specs_parse_from_toml() {
        #[derive(Deserialize)]
        struct W {
            scheduler: SchedulerSpec,
        }
        let w: W = toml::from_str(
            "scheduler = { kind = \"asha\", grace_period = 1, reduction_factor = 4, max_t = 20 }",
        )
        .unwrap();
        assert_eq!(
            w.scheduler,
            SchedulerSpec::Asha {
                grace_period: 1,
                reduction_factor: 4.0,
                max_t: 20,
                brackets: 1
            }
        );
        assert!(toml::from_str::<W>("scheduler = { kind = \"asha\", bogus = 1 }").is_err());
        let w: W = toml::from_str("scheduler = { kind = \"hyperband\", max_t = 27 }").unwrap();
        assert_eq!(
            w.scheduler,
            SchedulerSpec::Hyperband {
                reduction_factor: 3.0,
                max_t: 27
            }
        );
        let w: W =
            toml::from_str("scheduler = { kind = \"async-hyperband\", max_t = 27 }").unwrap();
        assert!(matches!(
            w.scheduler,
            SchedulerSpec::AsyncHyperband { max_t: 27, .. }
        ));
    }
}
