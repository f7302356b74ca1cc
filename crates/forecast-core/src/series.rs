//! From a loaded [`Frame`] to the modelling view: a target, its input features
//! (columns and indicators) and the time index, with indicator warm-up rows removed.

use crate::data::{Column, DataSchema, Frame, RecentRows};
use crate::error::{Error, Result};
use crate::features::Feature;
use chrono::NaiveDateTime;

/// A target series with aligned input features, ready to split and fit.
#[derive(Debug, Clone)]
pub struct Series {
    /// Target values, in original units.
    pub target: Vec<f64>,
    /// Input features, aligned with `target`.
    pub features: Vec<Column>,
    /// Timestamps, when the data has a time column.
    pub times: Option<Vec<NaiveDateTime>>,
    /// Season length used by seasonal models and MASE.
    pub season_length: usize,
    /// Schema recorded in model artifacts.
    pub schema: DataSchema,
    /// Leading rows of the frame dropped because an indicator was undefined there.
    pub warmup_dropped: usize,
}

/// Which columns of a frame make a [`Series`].
#[derive(Debug, Clone, Default)]
pub struct SeriesSpec {
    /// Target column.
    pub target: String,
    /// Extra input columns, taken as they are.
    pub features: Vec<String>,
    /// Indicators computed from the target column.
    pub indicators: Vec<Feature>,
    /// Season length; `None` takes the frequency's usual one.
    pub season_length: Option<usize>,
}

impl SeriesSpec {
    /// The spec that rebuilds a model's input columns from a new file of the same schema.
    pub fn from_schema(schema: &DataSchema, season_length: usize) -> SeriesSpec {
        SeriesSpec {
            target: schema.target.clone(),
            features: schema.input_columns.clone(),
            indicators: schema.indicators.clone(),
            season_length: Some(season_length),
        }
    }
}

impl Series {
    /// Build the modelling view of `frame`.
    pub fn from_frame(frame: &Frame, spec: &SeriesSpec) -> Result<Series> {
        let target = frame.column(&spec.target)?.to_vec();
        let mut features: Vec<Column> = Vec::new();
        for name in &spec.features {
            if name == &spec.target {
                continue; // the target is always an input of the models that take inputs
            }
            features.push(Column {
                name: name.clone(),
                values: frame.column(name)?.to_vec(),
                integer: false,
            });
        }
        let mut warmup = 0;
        for ind in &spec.indicators {
            let cols = ind.compute(&target, frame.times.as_deref())?;
            for (name, values) in ind.columns().into_iter().zip(cols) {
                features.push(Column {
                    name,
                    values,
                    integer: false,
                });
            }
            warmup = warmup.max(ind.warmup());
        }
        // NaN inside an indicator after warm-up (e.g. log of a non-positive price).
        if let Some((c, i)) = features.iter().find_map(|c| {
            c.values
                .iter()
                .skip(warmup)
                .position(|v| !v.is_finite())
                .map(|i| (c, i + warmup))
        }) {
            return Err(Error::config(
                "indicators",
                format!(
                    "column '{}' is undefined at row {} (non-positive or non-finite input?)",
                    c.name,
                    i + 1
                ),
            ));
        }
        let n = target.len();
        if warmup >= n {
            return Err(Error::TooFewRows {
                what: "the requested indicators' warm-up".into(),
                needed: warmup + 1,
                available: n,
            });
        }
        let names: Vec<String> = features.iter().map(|c| c.name.clone()).collect();
        let season_length = spec
            .season_length
            .unwrap_or_else(|| frame.frequency.season_length())
            .max(1);
        let mut schema = frame.schema(&spec.target, &names);
        schema.input_columns = spec
            .features
            .iter()
            .filter(|f| **f != spec.target)
            .cloned()
            .collect();
        schema.indicators = spec.indicators.clone();
        let mut series = Series {
            target,
            features,
            times: frame.times.clone(),
            season_length,
            schema,
            warmup_dropped: 0,
        };
        if warmup > 0 {
            series = series.slice(warmup, n);
            series.warmup_dropped = warmup;
        }
        Ok(series)
    }

    /// A univariate series without timestamps (for library users with plain vectors).
    pub fn from_values(target: Vec<f64>, season_length: usize) -> Series {
        let rows = target.len();
        Series {
            target,
            features: vec![],
            times: None,
            season_length: season_length.max(1),
            schema: DataSchema {
                time_column: None,
                frequency: crate::data::Frequency::Row,
                date_only: true,
                target: "y".into(),
                features: vec![],
                input_columns: vec![],
                indicators: vec![],
                last_timestamp: None,
                calendar: None,
                fitted_rows: rows,
                conditioned_rows: rows,
            },
            warmup_dropped: 0,
        }
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.target.len()
    }

    /// Whether the series has no rows.
    pub fn is_empty(&self) -> bool {
        self.target.is_empty()
    }

    /// The feature columns over `rows` (a copy of that range of each column).
    pub fn columns(&self, rows: std::ops::Range<usize>) -> Vec<Column> {
        self.features
            .iter()
            .map(|c| Column {
                name: c.name.clone(),
                values: c.values[rows.clone()].to_vec(),
                integer: c.integer,
            })
            .collect()
    }

    /// Rows `[start, end)` as a new series (schema updated to the new last row).
    pub fn slice(&self, start: usize, end: usize) -> Series {
        let end = end.min(self.len());
        let start = start.min(end);
        let times = self.times.as_ref().map(|t| t[start..end].to_vec());
        let mut schema = self.schema.clone();
        schema.fitted_rows = end - start;
        schema.conditioned_rows = end - start;
        schema.last_timestamp = times.as_ref().and_then(|t| t.last().copied());
        Series {
            target: self.target[start..end].to_vec(),
            features: self
                .features
                .iter()
                .map(|c| Column {
                    name: c.name.clone(),
                    values: c.values[start..end].to_vec(),
                    integer: c.integer,
                })
                .collect(),
            times,
            season_length: self.season_length,
            schema,
            warmup_dropped: self.warmup_dropped,
        }
    }

    /// The first `n` rows: everything a model fitted at origin `n` may see.
    pub fn head(&self, n: usize) -> Series {
        self.slice(0, n)
    }

    /// The last rows before row `end` that a forecaster anchored there keeps (see
    /// [`RecentRows`]).
    pub fn recent(&self, end: usize) -> RecentRows {
        RecentRows::of(self.times.as_deref(), &self.target, &self.features, end)
    }

    /// The schema of the first `n` rows (`head(n).schema`), without copying the rows.
    pub fn head_schema(&self, n: usize) -> DataSchema {
        let n = n.min(self.len());
        let mut schema = self.schema.clone();
        schema.fitted_rows = n;
        schema.conditioned_rows = n;
        schema.last_timestamp = self.times.as_ref().and_then(|t| t[..n].last().copied());
        schema
    }
}
