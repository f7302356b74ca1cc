//! What an experiment reports at its end: the best trial and the counts
//! ([`crate::runner::summarize`] computes it from the store; observers receive it).

use crate::space::Params;
use serde::{Deserialize, Serialize};

/// The best trial of an experiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Best {
    /// Trial id.
    pub trial: usize,
    /// Its hyperparameters.
    pub params: Params,
    /// Its metric.
    pub metric: f64,
}

/// The outcome of an experiment (`forecast tune --json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// The best trial, when any produced the metric.
    pub best: Option<Best>,
    /// Trials created.
    pub trials: usize,
    /// Trials that ran to their end.
    pub completed: usize,
    /// Trials stopped early (scheduler or time budget).
    pub stopped_early: usize,
    /// Trials that failed.
    pub failed: usize,
    /// Seconds this run took (this invocation, not counting earlier ones).
    pub seconds: f64,
}
