//! Median stopping (Golovin et al., 2017) with Ray Tune's `MedianStoppingRule`
//! semantics: after the grace period, a trial stops when its best loss so far is worse
//! than the median, over the trials that have reached the same iteration, of their
//! running-mean losses up to that iteration.

use super::{percentile, Action, Scheduler};
use std::collections::{BTreeMap, HashSet};

/// The median stopping rule.
#[derive(Debug, Clone)]
pub struct MedianStopping {
    grace_period: usize,
    min_samples_required: usize,
    results: BTreeMap<usize, Vec<(usize, f64)>>,
    stopped: HashSet<usize>,
}

impl MedianStopping {
    /// Stop no trial before `grace_period` iterations, nor with fewer than
    /// `min_samples_required` trials to compare.
    pub fn new(grace_period: usize, min_samples_required: usize) -> Self {
        MedianStopping {
            grace_period,
            min_samples_required,
            results: BTreeMap::new(),
            stopped: HashSet::new(),
        }
    }

    fn median_at(&self, t: usize) -> Option<f64> {
        let means: Vec<f64> = self
            .results
            .values()
            .filter(|r| r.last().is_some_and(|(i, _)| *i >= t))
            .map(|r| {
                let upto: Vec<f64> = r.iter().filter(|(i, _)| *i <= t).map(|(_, l)| *l).collect();
                upto.iter().sum::<f64>() / upto.len().max(1) as f64
            })
            .collect();
        (means.len() >= self.min_samples_required)
            .then(|| percentile(&means, 50.0))
            .flatten()
    }
}

impl Scheduler for MedianStopping {
    fn on_result(&mut self, trial: usize, iteration: usize, loss: f64) -> Action {
        self.results
            .entry(trial)
            .or_default()
            .push((iteration, loss));
        if iteration < self.grace_period || self.stopped.contains(&trial) {
            return Action::Continue;
        }
        let best = self.results[&trial]
            .iter()
            .map(|(_, l)| *l)
            .fold(f64::INFINITY, f64::min);
        match self.median_at(iteration) {
            Some(median) if best > median => {
                self.stopped.insert(trial);
                Action::Stop
            }
            _ => Action::Continue,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripted_median_decisions() {
        let mut m = MedianStopping::new(2, 3);
        // Three trials with running means 1.0, 2.0, 3.0 at iteration 2.
        for (t, l) in [(0, 1.0), (1, 2.0), (2, 3.0)] {
            assert_eq!(m.on_result(t, 1, l), Action::Continue); // grace period
        }
        assert_eq!(m.on_result(0, 2, 1.0), Action::Continue); // only one trial at t = 2
        assert_eq!(m.on_result(1, 2, 2.0), Action::Continue); // two trials: too few samples
                                                              // Third at t = 2: means {1, 2, 3}, median 2; best 3 > 2: stop.
        assert_eq!(m.on_result(2, 2, 3.0), Action::Stop);
        // A trial whose best (0.5) beats the median continues even with a bad last loss.
        assert_eq!(m.on_result(3, 1, 0.5), Action::Continue);
        assert_eq!(m.on_result(3, 2, 9.0), Action::Continue);
    }
}
