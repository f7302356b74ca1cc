//! The `[data]` table shared by study and tune specs: one struct, one loader.

use crate::data::{load, CalendarChoice, LoadOptions, MissingPolicy};
use crate::error::{Error, Result};
use crate::features::Feature;
use crate::series::{Series, SeriesSpec};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::str::FromStr;

/// The `[data]` table of a study or tune spec: the file, its columns and how to read
/// it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSpec {
    /// CSV or Parquet file (relative to the working directory).
    pub path: PathBuf,
    /// Column to forecast.
    pub target: String,
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
}

impl DataSpec {
    /// Load and validate the file and build the series (target, features, indicators).
    pub fn load_series(&self) -> Result<Series> {
        let d = self;
        let mut required = vec![d.target.clone()];
        required.extend(d.features.iter().cloned());
        let missing = match &d.missing {
            Some(m) => MissingPolicy::from_str(m).map_err(|e| Error::config("data.missing", e))?,
            None => MissingPolicy::default(),
        };
        let frame = load(
            &d.path,
            &LoadOptions {
                time_col: d.time_col.clone(),
                required,
                missing,
                calendar: d.calendar,
            },
        )?;
        let indicators = if d.indicators.is_empty() {
            vec![]
        } else {
            Feature::parse_list(&d.indicators.join(","))?
        };
        Series::from_frame(
            &frame,
            &SeriesSpec {
                target: d.target.clone(),
                features: d.features.clone(),
                indicators,
                season_length: d.season_length,
            },
        )
    }
}
