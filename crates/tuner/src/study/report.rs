//! What a study reports (`experiments/results/<name>.json`).

use super::spec::DataSpec;
use super::TuneOutcome;
use forecast_core::metrics::Metrics;
use forecast_core::panel::Skipped;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Pooled accuracy of one model at one horizon, beside the naive forecast's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelResult {
    /// Name in the tables.
    pub name: String,
    /// Model kind.
    pub kind: String,
    /// Target transform (`none`, `log`, ...).
    pub transform: String,
    /// Refit policy.
    pub refit: String,
    /// The keys set by the spec (and by tuning).
    pub config: Map<String, Value>,
    /// The model's accuracy (absent when it failed).
    pub metrics: Option<Metrics>,
    /// The naive forecast's accuracy on the same folds.
    pub naive: Option<Metrics>,
    /// MAE over the naive forecast's MAE (below 1: better than naive).
    pub relative_mae: Option<f64>,
    /// Whether the model's MAE is below the naive forecast's.
    pub beats_naive: Option<bool>,
    /// Wall time of its backtest (fits and forecasts of all folds), seconds.
    pub seconds: f64,
    /// The search that chose its config, when the spec tunes it.
    pub tuned: Option<TuneOutcome>,
    /// Why it failed, when it did.
    pub error: Option<String>,
    /// Overall weighted average relative to naive 2 (the M4 convention):
    /// `(sMAPE / sMAPE₂ + MASE / MASE₂) / 2`, where ₂ is the study's `naive2` row on
    /// the same data; present when the study has such a row.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owa: Option<f64>,
    /// Series scored (1 for a single series).
    #[serde(default)]
    pub series: usize,
    /// Series left out as too short (`data.short = "skip"`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<Skipped>,
    /// Series whose fit or forecast failed (the others were scored).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed: Vec<Skipped>,
}

/// Every model at one horizon, on the same folds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HorizonResult {
    /// Steps forecast at each origin.
    pub horizon: usize,
    /// Number of folds.
    pub folds: usize,
    /// Rows between origins.
    pub step: usize,
    /// Rows before the first origin.
    pub first_origin: usize,
    /// Rows before the last origin.
    pub last_origin: usize,
    /// One row per model, in spec order (naive first when added).
    pub models: Vec<ModelResult>,
}

/// A study's outcome (`experiments/results/<name>.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StudyReport {
    /// Study name.
    pub name: String,
    /// What the study asks.
    pub description: Option<String>,
    /// The data table of the spec.
    pub data: DataSpec,
    /// Rows of the series (over every series of a panel).
    pub rows: usize,
    /// Series in the data.
    #[serde(default)]
    pub series: usize,
    /// The id column when the data is a panel.
    #[serde(default)]
    pub id_column: Option<String>,
    /// The held-out file scored against (`[evaluation] test`), if any.
    #[serde(default)]
    pub test: Option<PathBuf>,
    /// Season length used (MASE scale, seasonal models; a panel's first series').
    pub season_length: usize,
    /// Rows tuned on (before the earliest evaluation window).
    pub tuning_rows: usize,
    /// One entry per horizon.
    pub results: Vec<HorizonResult>,
    /// Wall time of the whole study, seconds.
    pub seconds: f64,
    /// How it was produced (command, version, date, machine), filled by the caller.
    pub provenance: BTreeMap<String, String>,
}

impl StudyReport {
    /// Models that failed, or failed on some series, as `(horizon, name, error)`.
    pub fn failures(&self) -> Vec<(usize, String, String)> {
        self.results
            .iter()
            .flat_map(|h| {
                h.models.iter().filter_map(move |m| {
                    let error = match (&m.error, m.failed.as_slice()) {
                        (Some(e), _) => e.clone(),
                        (None, []) => return None,
                        (None, failed) => format!(
                            "{} series failed: {}",
                            failed.len(),
                            failed
                                .iter()
                                .map(|f| format!("'{}': {}", f.unique_id, f.reason))
                                .collect::<Vec<_>>()
                                .join("; ")
                        ),
                    };
                    Some((h.horizon, m.name.clone(), error))
                })
            })
            .collect()
    }
}
