//! The data layer: load CSV / Parquet into a validated [`Frame`], repair missing values
//! by an explicit policy, and write curated tables back out.

pub mod calendar;
mod load;
mod missing;
pub mod panel;
mod spec;
pub mod time;
mod write;

pub use calendar::{Calendar, CalendarChoice, CalendarDecision};
pub use load::{load, LoadOptions};
pub use missing::MissingPolicy;
pub use panel::{load_data, Data, Member, Panel, PanelOptions, Wide, WIDE_VALUE};
pub use spec::DataSpec;
pub use time::{format_timestamp, parse_timestamp, Frequency};
pub use write::{write_csv_to, write_frame, write_long_parquet};

use crate::error::{Error, Result};
use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// A named numeric column.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// Column name as in the file.
    pub name: String,
    /// Values; `NaN` only for features' warm-up rows, never for loaded data.
    pub values: Vec<f64>,
    /// Whether every loaded value was a whole number (written back as integers).
    pub integer: bool,
}

/// A table of observations in time order: an optional time index plus typed columns.
#[derive(Debug, Clone)]
pub struct Frame {
    /// Where the data came from (for error messages).
    pub source: PathBuf,
    /// Name of the time column, if the file has one.
    pub time_column: Option<String>,
    /// Timestamps, strictly increasing; `None` when indexed by row.
    pub times: Option<Vec<NaiveDateTime>>,
    /// Whether every timestamp is a plain date (printed without a time of day).
    pub date_only: bool,
    /// Inferred sampling frequency.
    pub frequency: Frequency,
    /// The trading-day calendar and how it was chosen (business-day data only).
    pub calendar: Option<CalendarDecision>,
    /// Numeric columns, in file order.
    pub columns: Vec<Column>,
    /// Non-numeric columns passed through unchanged (e.g. a ticker symbol).
    pub text_columns: Vec<(String, Vec<Option<String>>)>,
    /// Rows repaired or dropped by the missing-value policy.
    pub repaired: usize,
}

impl Frame {
    /// Number of rows.
    pub fn len(&self) -> usize {
        match &self.times {
            Some(t) => t.len(),
            None => self.columns.first().map_or(0, |c| c.values.len()),
        }
    }

    /// Whether the frame has no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The values of a numeric column, or an error naming the available columns.
    pub fn column(&self, name: &str) -> Result<&[f64]> {
        self.columns
            .iter()
            .find(|c| c.name == name)
            .map(|c| c.values.as_slice())
            .ok_or_else(|| Error::ColumnNotFound {
                path: self.source.clone(),
                column: name.to_string(),
                available: self.column_names().join(", "),
            })
    }

    /// Names of the numeric columns.
    pub fn column_names(&self) -> Vec<String> {
        self.columns.iter().map(|c| c.name.clone()).collect()
    }

    /// Append a computed column (e.g. an indicator).
    pub fn push_column(&mut self, name: impl Into<String>, values: Vec<f64>) {
        self.columns.push(Column {
            name: name.into(),
            values,
            integer: false,
        });
    }

    /// The last timestamp, if any.
    pub fn last_time(&self) -> Option<NaiveDateTime> {
        self.times.as_ref().and_then(|t| t.last().copied())
    }

    /// The schema that a model remembers about its training data.
    pub fn schema(&self, target: &str, features: &[String]) -> DataSchema {
        DataSchema {
            time_column: self.time_column.clone(),
            frequency: self.frequency,
            date_only: self.date_only,
            target: target.to_string(),
            features: features.to_vec(),
            input_columns: vec![],
            indicators: vec![],
            last_timestamp: self.last_time(),
            calendar: self.calendar.as_ref().map(|c| c.calendar),
            fitted_rows: self.len(),
            conditioned_rows: self.len(),
        }
    }
}

/// How many of its last rows a forecaster keeps in [`RecentRows`].
pub const RECENT_ROWS: usize = 32;

/// The last rows (at most [`RECENT_ROWS`]) of the data a forecaster last saw, with
/// their timestamps, so that rows sent to it again can be told from new ones: a row at
/// one of these times that equals the kept row is a repeat, one that differs
/// contradicts the model's data. Empty for row-indexed data, which has no time to
/// match rows by.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RecentRows {
    /// Timestamps, ascending.
    pub times: Vec<NaiveDateTime>,
    /// Target values, in original units.
    pub target: Vec<f64>,
    /// The input columns' values, one vector per column in the schema's `features`
    /// order, each as long as `target`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub features: Vec<Vec<f64>>,
}

/// What comparing a row with the rows a forecaster keeps found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RowMatch {
    /// The kept row at that time has the same values.
    Repeat,
    /// The kept row at that time differs: the name of the first differing column
    /// (`None` for the target) and the kept value.
    Contradicts(Option<usize>, f64),
    /// No kept row has that time, though it is within the kept rows' span.
    Missing,
    /// The time is before the first kept row: the row cannot be checked.
    TooOld,
}

impl RecentRows {
    /// The rows `[end - RECENT_ROWS, end)` of a series with timestamps `times`, target
    /// `target` and input columns `features` (empty when `times` is `None`).
    pub fn of(
        times: Option<&[NaiveDateTime]>,
        target: &[f64],
        features: &[Column],
        end: usize,
    ) -> RecentRows {
        let Some(times) = times else {
            return RecentRows::default();
        };
        let end = end.min(times.len()).min(target.len());
        let start = end.saturating_sub(RECENT_ROWS);
        RecentRows {
            times: times[start..end].to_vec(),
            target: target[start..end].to_vec(),
            features: features
                .iter()
                .map(|c| c.values.get(start..end).unwrap_or_default().to_vec())
                .collect(),
        }
    }

    /// Whether no rows are kept.
    pub fn is_empty(&self) -> bool {
        self.times.is_empty()
    }

    /// These rows followed by new rows at `times` (one per `target` value; none for
    /// row-indexed data) with input columns `features`, trimmed to the last
    /// [`RECENT_ROWS`].
    pub fn extended(
        &self,
        times: &[NaiveDateTime],
        target: &[f64],
        features: &[Column],
    ) -> RecentRows {
        if times.is_empty() || times.len() != target.len() {
            return self.clone();
        }
        let fresh = self.is_empty() || self.features.len() != features.len();
        let mut out = if fresh {
            RecentRows {
                features: vec![Vec::new(); features.len()],
                ..RecentRows::default()
            }
        } else {
            self.clone()
        };
        out.times.extend_from_slice(times);
        out.target.extend_from_slice(target);
        for (kept, new) in out.features.iter_mut().zip(features) {
            kept.extend_from_slice(&new.values);
        }
        let drop = out.times.len().saturating_sub(RECENT_ROWS);
        if drop > 0 {
            out.times.drain(..drop);
            out.target.drain(..drop);
            for kept in &mut out.features {
                kept.drain(..drop.min(kept.len()));
            }
        }
        out
    }

    /// Compare a row at time `t` with target `y` and input values `x` (the schema's
    /// `features` order) with the kept row at `t`. Values are equal when they agree to
    /// a relative 1e-12: a decimal written out and read back by any JSON or CSV
    /// reader is within that of the value it was written from.
    pub fn check(&self, t: NaiveDateTime, y: f64, x: &[f64]) -> RowMatch {
        let Some(first) = self.times.first() else {
            return RowMatch::TooOld;
        };
        if t < *first {
            return RowMatch::TooOld;
        }
        let Ok(i) = self.times.binary_search(&t) else {
            return RowMatch::Missing;
        };
        let same = |a: f64, b: f64| (a - b).abs() <= 1e-12 * a.abs().max(b.abs()).max(1e-300);
        if !same(y, self.target[i]) {
            return RowMatch::Contradicts(None, self.target[i]);
        }
        for (c, (v, kept)) in x.iter().zip(&self.features).enumerate() {
            if let Some(k) = kept.get(i) {
                if !same(*v, *k) {
                    return RowMatch::Contradicts(Some(c), *k);
                }
            }
        }
        RowMatch::Repeat
    }
}

/// What a fitted model records about the data it was trained on, so that `predict`
/// can continue the timestamps and check new data against it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataSchema {
    /// Time column name, or `None` for row-indexed data.
    pub time_column: Option<String>,
    /// Sampling frequency.
    pub frequency: Frequency,
    /// Timestamps are plain dates.
    pub date_only: bool,
    /// Target column.
    pub target: String,
    /// Input feature columns (exogenous regressors / network inputs), in order,
    /// including the columns computed by `indicators`.
    pub features: Vec<String>,
    /// Columns of the file taken as inputs as they are.
    #[serde(default)]
    pub input_columns: Vec<String>,
    /// Indicators computed from the target, which `features` includes.
    #[serde(default)]
    pub indicators: Vec<crate::features::Feature>,
    /// Last timestamp of the data the model last saw (fitted or conditioned on): the
    /// forecast origin.
    pub last_timestamp: Option<NaiveDateTime>,
    /// Trading-day calendar of business-day data (`None` for other frequencies and for
    /// artifacts written before calendars existed, which continue on weekdays).
    #[serde(default)]
    pub calendar: Option<Calendar>,
    /// Rows the parameters were fitted on (the training part).
    #[serde(default)]
    pub fitted_rows: usize,
    /// Rows the model's state was last conditioned on (every row passed to `train`, or
    /// to `predict --data`); the forecast starts after the last of them.
    #[serde(alias = "rows")]
    pub conditioned_rows: usize,
}

impl DataSchema {
    /// The `h` timestamps that follow the last one seen, formatted for output, or
    /// `None` when the data is indexed by row.
    pub fn future_timestamps(&self, from: Option<NaiveDateTime>, h: usize) -> Option<Vec<String>> {
        let mut t = from.or(self.last_timestamp)?;
        self.time_column.as_ref()?;
        Some(
            (0..h)
                .map(|_| {
                    t = self.step(t);
                    format_timestamp(t, self.date_only)
                })
                .collect(),
        )
    }

    /// The `h` timestamps that follow the last one seen, or `None` when the data is
    /// indexed by row (see [`DataSchema::future_timestamps`] for them formatted).
    pub fn future_times(&self, h: usize) -> Option<Vec<NaiveDateTime>> {
        let mut t = self.last_timestamp?;
        self.time_column.as_ref()?;
        Some(
            (0..h)
                .map(|_| {
                    t = self.step(t);
                    t
                })
                .collect(),
        )
    }

    /// The timestamp of the row after the last one the model saw (the next row a
    /// stream of new observations must carry), or `None` for row-indexed data.
    pub fn next_timestamp(&self) -> Option<NaiveDateTime> {
        self.time_column.as_ref()?;
        self.last_timestamp.map(|t| self.step(t))
    }

    /// One step of the data's frequency (its trading calendar for business days).
    fn step(&self, t: NaiveDateTime) -> NaiveDateTime {
        match (self.frequency, self.calendar) {
            (Frequency::BusinessDay, Some(c)) => c.next(t),
            _ => self.frequency.next(t),
        }
    }
}
