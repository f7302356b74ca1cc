//! The `[data]` table shared by study and tune specs: one struct, one loader
//! (see [`crate::dataset`]).

use crate::data::CalendarChoice;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The `[data]` table of a study or tune spec: the file, its columns and how to read
/// it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSpec {
    /// CSV or Parquet file (relative to the working directory).
    pub path: PathBuf,
    /// Column to forecast (default `y`).
    #[serde(default = "DataSpec::default_target")]
    pub target: String,
    /// Series id column of a long-format file (default: the first of `unique_id`,
    /// `ticker`, `symbol` present; none: one series).
    #[serde(default)]
    pub id_column: Option<String>,
    /// Time column (default: `date` when present, else row index).
    #[serde(default)]
    pub time_col: Option<String>,
    /// Input columns (for models that use them).
    #[serde(default)]
    pub features: Vec<String>,
    /// Indicators computed from the target (`"rsi:14"`, `"macd"`).
    #[serde(default)]
    pub indicators: Vec<String>,
    /// Season length (default: the frequency's usual one).
    #[serde(default)]
    pub season_length: Option<usize>,
    /// Missing values: `error` (default), `ffill`, `interpolate` or `drop`.
    #[serde(default)]
    pub missing: Option<String>,
    /// Trading-day calendar of daily weekday data: `auto` (default), `nyse` or
    /// `business` (see `forecast train --calendar`).
    #[serde(default)]
    pub calendar: CalendarChoice,
    /// A panel's series too short for the model: `error` (default) or `skip` (left out
    /// and listed in the results).
    #[serde(default)]
    pub short: crate::panel::ShortPolicy,
}
