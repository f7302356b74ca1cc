//! The per-epoch reporter: how training tells the outside world how it is going, and
//! how the outside world (a progress bar, a tuner's scheduler) answers.

use serde::{Deserialize, Serialize};

/// Metrics of one finished epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochReport {
    /// 1-based epoch number (models fitted in one go report a single epoch 1).
    pub epoch: usize,
    /// Planned number of epochs, when known.
    pub max_epochs: Option<usize>,
    /// Training loss of the epoch (on the model's scale).
    pub train_loss: f64,
    /// Validation loss, when a validation part exists.
    pub valid_loss: Option<f64>,
    /// Any further metrics, by name.
    pub extra: Vec<(String, f64)>,
}

impl EpochReport {
    /// All metrics as `(name, value)` pairs: `train_loss`, `valid_loss`, then the extras.
    pub fn metrics(&self) -> Vec<(String, f64)> {
        let mut m = vec![("train_loss".to_string(), self.train_loss)];
        if let Some(v) = self.valid_loss {
            m.push(("valid_loss".to_string(), v));
        }
        m.extend(self.extra.iter().cloned());
        m
    }

    /// Look a metric up by name.
    pub fn metric(&self, name: &str) -> Option<f64> {
        match name {
            "train_loss" => Some(self.train_loss),
            "valid_loss" => self.valid_loss,
            _ => self.extra.iter().find(|(n, _)| n == name).map(|(_, v)| *v),
        }
    }
}

/// The reporter's answer after an epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Decision {
    /// Keep training.
    Continue,
    /// Stop now (early stopping by a scheduler); the model keeps its best weights.
    Stop,
    /// Save a checkpoint (to the training run's checkpoint directory), then continue.
    Checkpoint,
}

/// Receives one report per epoch. Implemented by the CLI's progress bar and the tuner.
pub trait Reporter {
    /// Called after each epoch; the answer steers training.
    fn report(&mut self, report: &EpochReport) -> Decision;
}

/// A reporter that ignores everything and always continues.
#[derive(Debug, Default, Clone, Copy)]
pub struct Silent;

impl Reporter for Silent {
    fn report(&mut self, _: &EpochReport) -> Decision {
        Decision::Continue
    }
}

impl<F: FnMut(&EpochReport) -> Decision> Reporter for F {
    fn report(&mut self, report: &EpochReport) -> Decision {
        self(report)
    }
}
