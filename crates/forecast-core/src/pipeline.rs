//! The forecaster: a model plus its target transform, fitted on the training part of a
//! [`Series`], forecasting in the user's units.

use crate::data::{Column, DataSchema};
use crate::error::{Error, Result};
use crate::forecast::Forecast;
use crate::metrics::{mase_scale, Metrics, Window};
use crate::models::{FittedModel, ModelConfig, TrainingData};
use crate::reporter::{Reporter, Silent};
use crate::series::Series;
use crate::split::Split;
use crate::transform::{FittedTransform, Transform};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// Everything needed to fit a forecaster: model, target transform and data split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForecasterSpec {
    /// The model and its hyperparameters.
    pub model: ModelConfig,
    /// Transform of the target before fitting (log, Box-Cox, scaling); forecasts are
    /// transformed back.
    #[serde(default)]
    pub transform: Transform,
    /// Share of rows (after the training part) used for validation.
    #[serde(default)]
    pub valid_fraction: f64,
    /// Share of rows at the end held out for a final test.
    #[serde(default)]
    pub test_fraction: f64,
    /// Seed for anything random.
    #[serde(default)]
    pub seed: u64,
}

impl ForecasterSpec {
    /// A spec with no transform, no validation or test part, seed 0.
    pub fn new(model: ModelConfig) -> Self {
        ForecasterSpec {
            model,
            transform: Transform::None,
            valid_fraction: 0.0,
            test_fraction: 0.0,
            seed: 0,
        }
    }

    /// Fit on `series`: split by time, fit the transform on the training part only,
    /// fit the model, and evaluate on the test part when there is one.
    pub fn fit(&self, series: &Series, reporter: &mut dyn Reporter) -> Result<Forecaster> {
        if matches!(self.transform, Transform::Difference { .. }) {
            return Err(Error::config(
                "transform",
                "differencing is a model's job (ARIMA's d), not a target transform",
            ));
        }
        self.model.validate()?;
        let split = Split::by_fraction(series.len(), self.valid_fraction, self.test_fraction)?;
        let train = &series.target[split.train.clone()];
        let transform = self.transform.fit(train)?;
        let y = transform.apply(train)?;
        let slice = |r: std::ops::Range<usize>| -> Vec<Column> {
            series
                .features
                .iter()
                .map(|c| Column {
                    name: c.name.clone(),
                    values: c.values[r.clone()].to_vec(),
                    integer: c.integer,
                })
                .collect()
        };
        let train_features = slice(split.train.clone());
        let valid_target = transform.apply(&series.target[split.valid.clone()])?;
        let valid_features = slice(split.valid.clone());
        let data = TrainingData {
            target: &y,
            features: &train_features,
            valid: (!split.valid.is_empty())
                .then_some((valid_target.as_slice(), valid_features.as_slice())),
            season_length: series.season_length,
            seed: self.seed,
        };
        let model = self.model.fit(&data, reporter)?;
        let train_series = series.head(split.train.end);
        let mut forecaster = Forecaster {
            spec: self.clone(),
            transform,
            model,
            schema: train_series.schema.clone(),
            season_length: series.season_length,
            fingerprint: fingerprint(&train_series),
            test: None,
        };
        if !split.test.is_empty() {
            // Condition on train + valid, then forecast the test part.
            let history = series.head(split.test.start);
            let f = forecaster.condition(&history)?;
            let future = slice(split.test.clone());
            let fc = f.predict(split.test.len(), &[], &future)?;
            let actual = series.target[split.test.clone()].to_vec();
            let last = series.target[split.test.start - 1];
            let scale = mase_scale(&series.target[..split.test.start], series.season_length);
            let naive = vec![last; actual.len()];
            forecaster.test = Some(TestReport {
                rows: actual.len(),
                metrics: Metrics::pooled(&[Window {
                    actual: actual.clone(),
                    forecast: fc.point,
                    last,
                    scale,
                }]),
                naive: Metrics::pooled(&[Window {
                    actual,
                    forecast: naive,
                    last,
                    scale,
                }]),
            });
        }
        Ok(forecaster)
    }

    /// Fit without progress reports.
    pub fn fit_quiet(&self, series: &Series) -> Result<Forecaster> {
        self.fit(series, &mut Silent)
    }
}

/// Accuracy on the held-out test part, beside the naive forecast's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestReport {
    /// Rows in the test part.
    pub rows: usize,
    /// The model's accuracy.
    pub metrics: Metrics,
    /// The naive forecast's accuracy on the same rows.
    pub naive: Metrics,
}

/// A fitted forecaster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Forecaster {
    /// What was fitted.
    pub spec: ForecasterSpec,
    /// Target transform with its training-part state.
    pub transform: FittedTransform,
    /// The fitted model, anchored at the end of the data it last saw.
    pub model: FittedModel,
    /// Schema of the data it last saw (last timestamp, columns).
    pub schema: DataSchema,
    /// Season length used.
    pub season_length: usize,
    /// SHA-256 of the training data (target and feature values).
    pub fingerprint: String,
    /// Accuracy on the test part, when one was held out.
    pub test: Option<TestReport>,
}

impl Forecaster {
    /// Forecast `horizon` steps with intervals at `levels` (percent), in original units.
    pub fn predict(&self, horizon: usize, levels: &[f64], future: &[Column]) -> Result<Forecast> {
        let fc = self.model.predict(horizon, levels, future)?;
        let t = &self.transform;
        let fc = fc.map(|v| t.inverse_one(v));
        if fc.point.iter().any(|v| !v.is_finite()) {
            return Err(Error::Numerical {
                what: format!("{} forecast", self.spec.model.kind()),
                message: "non-finite forecast".into(),
            });
        }
        Ok(fc)
    }

    /// The same fitted parameters, re-anchored at the end of `history` (same schema,
    /// newer rows) without refitting.
    pub fn condition(&self, history: &Series) -> Result<Forecaster> {
        if history.schema.target != self.schema.target {
            return Err(Error::config(
                "data",
                format!(
                    "target column '{}' differs from the model's '{}'",
                    history.schema.target, self.schema.target
                ),
            ));
        }
        let y = self.transform.apply(&history.target)?;
        let data = TrainingData {
            target: &y,
            features: &history.features,
            valid: None,
            season_length: self.season_length,
            seed: self.spec.seed,
        };
        Ok(Forecaster {
            model: self.model.condition(&data)?,
            schema: DataSchema {
                last_timestamp: history.schema.last_timestamp,
                rows: history.len(),
                ..self.schema.clone()
            },
            ..self.clone()
        })
    }

    /// Fit statistics for `model.json`'s `"fit"`: the model's own, plus the test part's
    /// accuracy when there is one.
    pub fn fit_stats(&self) -> Value {
        let mut fit = self.model.fit_stats();
        if let (Some(test), Some(obj)) = (&self.test, fit.as_object_mut()) {
            obj.insert("test".into(), json!(test));
        }
        fit
    }

    /// The timestamps of the next `horizon` steps, or `None` for row-indexed data.
    pub fn future_timestamps(&self, horizon: usize) -> Option<Vec<String>> {
        self.schema.future_timestamps(None, horizon)
    }
}

/// SHA-256 over the target and feature values (little-endian bytes) and column names.
pub fn fingerprint(series: &Series) -> String {
    let mut h = Sha256::new();
    h.update(series.schema.target.as_bytes());
    for v in &series.target {
        h.update(v.to_le_bytes());
    }
    for c in &series.features {
        h.update(c.name.as_bytes());
        for v in &c.values {
            h.update(v.to_le_bytes());
        }
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}
