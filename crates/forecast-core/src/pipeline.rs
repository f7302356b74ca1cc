//! The forecaster: a model plus its target transform, fitted on the training part of a
//! [`Series`], forecasting in the user's units.

use crate::data::{Column, DataSchema, RecentRows};
use crate::error::{Error, Result};
use crate::forecast::Forecast;
use crate::metrics::{mase_scale, Metrics, Window};
use crate::models::{Fit, FittedModel, ModelConfig, TrainingData};
use crate::reporter::{Reporter, Silent};
use crate::series::Series;
use crate::split::Split;
use crate::transform::{FittedTransform, Transform};
use rayon::prelude::*;
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
    /// Refit on every row after the validation and test parts were scored, instead of
    /// conditioning the fitted state on them (`--refit-final`).
    #[serde(default)]
    pub refit_final: bool,
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
            refit_final: false,
        }
    }

    /// Fit on `series`: split by time, fit the transform and the model on the training
    /// part only, score the validation part (forecast from the end of the training part)
    /// and the test part (forecast from the end of the validation part) beside the naive
    /// forecast, then condition the fitted state on every row without refitting, so that
    /// the forecaster forecasts from the row after the last one, as `predict --data` on
    /// the whole series would. With [`ForecasterSpec::refit_final`] the model is refitted
    /// on every row after scoring instead.
    pub fn fit(&self, series: &Series, reporter: &mut dyn Reporter) -> Result<Forecaster> {
        let split = Split::by_fraction(series.len(), self.valid_fraction, self.test_fraction)?;
        let mut forecaster =
            self.fit_rows(series, split.train.clone(), split.valid.clone(), reporter)?;
        if !split.valid.is_empty() {
            forecaster.valid = Some(forecaster.evaluate(series, split.valid.clone())?);
        }
        if !split.test.is_empty() {
            forecaster.test = Some(forecaster.evaluate(series, split.test.clone())?);
        }
        if split.train.end == series.len() {
            return Ok(forecaster);
        }
        if self.refit_final {
            let refit_spec = ForecasterSpec {
                model: self.model.for_refit(&forecaster.model),
                ..self.clone()
            };
            let all = 0..series.len();
            let mut refit =
                refit_spec.fit_rows(series, all.clone(), all.end..all.end, &mut Silent)?;
            refit.model.keep_calibration(&forecaster.model);
            refit.spec = self.clone();
            refit.valid = forecaster.valid;
            refit.test = forecaster.test;
            return Ok(refit);
        }
        forecaster.condition(series)
    }

    /// Fit the transform and the model on the `train` rows, with the `valid` rows (which
    /// follow them, possibly none) as the model's validation data.
    fn fit_rows(
        &self,
        series: &Series,
        train: std::ops::Range<usize>,
        valid: std::ops::Range<usize>,
        reporter: &mut dyn Reporter,
    ) -> Result<Forecaster> {
        // The config is checked once, by Fit::fit.
        let rows = train.end;
        let transform = self.transform.fit(&series.target[train.clone()])?;
        let y = transform.apply(&series.target[train.clone()])?;
        let train_features = series.columns(train);
        let valid_target = transform.apply(&series.target[valid.clone()])?;
        let valid_features = series.columns(valid.clone());
        let data = TrainingData {
            target: &y,
            features: &train_features,
            valid: (!valid.is_empty())
                .then_some((valid_target.as_slice(), valid_features.as_slice())),
            season_length: series.season_length,
            seed: self.seed,
        };
        let model = self.model.fit(&data, reporter)?;
        Ok(Forecaster {
            spec: self.clone(),
            transform,
            model,
            schema: series.head_schema(rows),
            recent: series.recent(rows),
            season_length: series.season_length,
            fingerprint: fingerprint_rows(series, rows),
            valid: None,
            test: None,
        })
    }

    /// Fit without progress reports.
    pub fn fit_quiet(&self, series: &Series) -> Result<Forecaster> {
        self.fit(series, &mut Silent)
    }

    /// Fit one global model (a network, see [`ModelConfig::is_global`]) on every series
    /// at once: each series is split, transformed and scaled on its own training part
    /// as [`ForecasterSpec::fit`] does, one network learns from the windows of all of
    /// them, and each series gets a forecaster that shares it, scored on its own
    /// validation and test parts and conditioned on all its rows. The outer error is a
    /// failure of the whole fit; a series that cannot take part fails in its own place.
    pub fn fit_global(
        &self,
        series: &[&Series],
        reporter: &mut dyn Reporter,
    ) -> Result<Vec<Result<Forecaster>>> {
        if self.refit_final {
            return Err(Error::config(
                "refit-final",
                "a global model is fitted once on every series' training part; --refit-final applies to one series' network",
            ));
        }
        struct Part {
            train: std::ops::Range<usize>,
            transform: FittedTransform,
            y: Vec<f64>,
            features: Vec<Column>,
            valid_y: Vec<f64>,
            valid_features: Vec<Column>,
        }
        let parts: Vec<Result<Part>> = series
            .iter()
            .map(|s| {
                let split = Split::by_fraction(s.len(), self.valid_fraction, self.test_fraction)?;
                let (train, valid) = (split.train, split.valid);
                let transform = self.transform.fit(&s.target[train.clone()])?;
                Ok(Part {
                    y: transform.apply(&s.target[train.clone()])?,
                    features: s.columns(train.clone()),
                    valid_y: transform.apply(&s.target[valid.clone()])?,
                    valid_features: s.columns(valid),
                    train,
                    transform,
                })
            })
            .collect();
        let data: Vec<TrainingData<'_>> = parts
            .iter()
            .zip(series)
            .filter_map(|(p, s)| p.as_ref().ok().map(|p| (p, s)))
            .map(|(p, s)| TrainingData {
                target: &p.y,
                features: &p.features,
                valid: (!p.valid_y.is_empty())
                    .then_some((p.valid_y.as_slice(), p.valid_features.as_slice())),
                season_length: s.season_length,
                seed: self.seed,
            })
            .collect();
        let mut models = self
            .model
            .fit_global(&data, self.seed, reporter)?
            .into_iter();
        let built: Vec<Result<Forecaster>> = parts
            .into_iter()
            .zip(series)
            .map(|(p, s)| {
                let p = p?;
                let model = models.next().ok_or_else(|| Error::Model {
                    model: self.model.kind().into(),
                    message: "a series has no fitted model".into(),
                })??;
                Ok(Forecaster {
                    spec: self.clone(),
                    transform: p.transform,
                    model,
                    schema: s.head_schema(p.train.end),
                    recent: s.recent(p.train.end),
                    season_length: s.season_length,
                    fingerprint: fingerprint_rows(s, p.train.end),
                    valid: None,
                    test: None,
                })
            })
            .collect();
        Ok(built
            .into_par_iter()
            .zip(series.par_iter())
            .map(|(f, s)| {
                let mut f = f?;
                let split = Split::by_fraction(s.len(), self.valid_fraction, self.test_fraction)?;
                if !split.valid.is_empty() {
                    f.valid = Some(f.evaluate(s, split.valid.clone())?);
                }
                if !split.test.is_empty() {
                    f.test = Some(f.evaluate(s, split.test.clone())?);
                }
                if split.train.end == s.len() {
                    Ok(f)
                } else {
                    f.condition(s)
                }
            })
            .collect())
    }
}

/// Accuracy on a held-out part (validation or test), beside the naive forecast's.
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
    /// The last rows of the data it last saw, to tell rows sent again from new ones.
    #[serde(default)]
    pub recent: RecentRows,
    /// Season length used.
    pub season_length: usize,
    /// SHA-256 of the training data (target and feature values).
    pub fingerprint: String,
    /// Accuracy on the validation part (forecast from the end of the training part; see
    /// [`Forecaster::evaluate`]), when there is one.
    #[serde(default)]
    pub valid: Option<TestReport>,
    /// Accuracy on the test part, when one was held out.
    pub test: Option<TestReport>,
}

impl Forecaster {
    /// Reads the file at `path` as this model's series: its time column, target and
    /// input columns, validated as training data is (`missing`: the policy for missing
    /// values). For conditioning the model on newer rows, or for its training history.
    pub fn read_series(
        &self,
        path: &std::path::Path,
        missing: crate::MissingPolicy,
    ) -> Result<Series> {
        let schema = &self.schema;
        let mut required = vec![schema.target.clone()];
        required.extend(schema.input_columns.iter().cloned());
        let frame = crate::data::load(
            path,
            &crate::LoadOptions {
                time_col: schema.time_column.clone(),
                required,
                missing,
                // The model keeps the calendar it was trained with.
                ..Default::default()
            },
        )?;
        Series::from_frame(
            &frame,
            &crate::SeriesSpec::from_schema(schema, self.season_length),
        )
        .map_err(|e| Error::Parse {
            path: path.to_path_buf(),
            message: format!("does not match the model's data: {e}"),
        })
    }

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

    /// Score the forecast of `rows` of `series` beside the naive forecast, with no
    /// look-ahead: one multi-step forecast from the row before them (conditioned on
    /// every earlier row, never on `rows` themselves), or, for a model whose horizon is
    /// shorter than `rows`, consecutive forecasts of that horizon, each conditioned on
    /// the actual rows before it without refitting. MASE is scaled by the in-sample
    /// seasonal naive error of the rows before each forecast's origin.
    pub fn evaluate(&self, series: &Series, rows: std::ops::Range<usize>) -> Result<TestReport> {
        if rows.start == 0 || rows.end > series.len() || rows.is_empty() {
            return Err(Error::config(
                "rows",
                format!(
                    "cannot score rows {}..{} of a series of {}",
                    rows.start,
                    rows.end,
                    series.len()
                ),
            ));
        }
        let step = self.spec.model.max_horizon().unwrap_or(rows.len()).max(1);
        let (mut model, mut naive) = (Vec::new(), Vec::new());
        let mut origin = rows.start;
        while origin < rows.end {
            let part = origin..(origin + step).min(rows.end);
            let conditioned;
            let at_origin = if self.schema.conditioned_rows == origin {
                self
            } else {
                conditioned = self.condition(&series.head(origin))?;
                &conditioned
            };
            let fc = at_origin.predict(part.len(), &[], &series.columns(part.clone()))?;
            let actual = series.target[part.clone()].to_vec();
            let last = series.target[origin - 1];
            let scale = mase_scale(&series.target[..origin], series.season_length);
            naive.push(Window {
                actual: actual.clone(),
                forecast: vec![last; actual.len()],
                last,
                scale,
            });
            model.push(Window {
                actual,
                forecast: fc.point,
                last,
                scale,
            });
            origin = part.end;
        }
        Ok(TestReport {
            rows: rows.len(),
            metrics: Metrics::pooled(&model),
            naive: Metrics::pooled(&naive),
        })
    }

    /// `history` must hold the model's target column.
    fn check_target(&self, history: &Series) -> Result<()> {
        if history.schema.target != self.schema.target {
            return Err(Error::config(
                "data",
                format!(
                    "target column '{}' differs from the model's '{}'",
                    history.schema.target, self.schema.target
                ),
            ));
        }
        Ok(())
    }

    /// The same fitted parameters, re-anchored at the end of `history` (same schema,
    /// newer rows) without refitting.
    pub fn condition(&self, history: &Series) -> Result<Forecaster> {
        self.check_target(history)?;
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
                conditioned_rows: history.len(),
                ..self.schema.clone()
            },
            recent: history.recent(history.len()),
            ..self.clone()
        })
    }

    /// The same fitted parameters, re-anchored after new rows that follow the data the
    /// model last saw: `target` in original units, the model's input columns in
    /// `features` (by name, as many rows), the rows' timestamps in `times` (one per row,
    /// ascending; empty for row-indexed data). Time proportional to the new rows, never a pass over the
    /// history (see [`crate::models::Predict::extend`]); equal to
    /// [`Forecaster::condition`] on the history followed by them. A model with
    /// indicator features refuses: its indicators need the history.
    pub fn extend(
        &self,
        target: &[f64],
        features: &[Column],
        times: &[chrono::NaiveDateTime],
    ) -> Result<Forecaster> {
        if !self.schema.indicators.is_empty() {
            return Err(Error::config(
                "data",
                "a model with indicator features cannot be updated row by row (its \
                 indicators need the history): condition it on the whole history instead",
            ));
        }
        if !times.is_empty() && times.len() != target.len() {
            return Err(Error::config(
                "data",
                format!("{} new rows but {} timestamps", target.len(), times.len()),
            ));
        }
        let mut cols = Vec::with_capacity(self.schema.features.len());
        for name in &self.schema.features {
            let col = features.iter().find(|c| &c.name == name).ok_or_else(|| {
                Error::config(
                    "features",
                    format!("the new rows lack input column '{name}'"),
                )
            })?;
            if col.values.len() != target.len() {
                return Err(Error::config(
                    "features",
                    format!(
                        "input column '{name}' has {} new rows, the target {}",
                        col.values.len(),
                        target.len()
                    ),
                ));
            }
            cols.push(col.clone());
        }
        let y = self.transform.apply(target)?;
        let data = TrainingData {
            target: &y,
            features: &cols,
            valid: None,
            season_length: self.season_length,
            seed: self.spec.seed,
        };
        Ok(Forecaster {
            model: self.model.extend(&data)?,
            schema: DataSchema {
                last_timestamp: times.last().copied().or(self.schema.last_timestamp),
                conditioned_rows: self.schema.conditioned_rows + target.len(),
                ..self.schema.clone()
            },
            recent: self.recent.extended(times, target, &cols),
            ..self.clone()
        })
    }

    /// A global model's series applied to `history`, a series it was not trained on:
    /// the target transform and the network's scaling are fitted on all of `history`,
    /// and the forecast starts after its last row (see [`ForecasterSpec::fit_global`]).
    pub fn adopt(&self, history: &Series) -> Result<Forecaster> {
        self.check_target(history)?;
        let transform = self.spec.transform.fit(&history.target)?;
        let y = transform.apply(&history.target)?;
        let data = TrainingData {
            target: &y,
            features: &history.features,
            valid: None,
            season_length: history.season_length,
            seed: self.spec.seed,
        };
        Ok(Forecaster {
            model: self.model.adopt(&data)?,
            transform,
            schema: DataSchema {
                last_timestamp: history.schema.last_timestamp,
                fitted_rows: 0,
                conditioned_rows: history.len(),
                ..self.schema.clone()
            },
            recent: history.recent(history.len()),
            season_length: history.season_length,
            fingerprint: fingerprint(history),
            valid: None,
            test: None,
            spec: self.spec.clone(),
        })
    }

    /// Fit statistics for `model.json`'s `"fit"`: the model's own, plus the validation
    /// and test parts' accuracy when there are some.
    pub fn fit_stats(&self) -> Value {
        let mut fit = self.model.fit_stats();
        if let Some(obj) = fit.as_object_mut() {
            if let Some(valid) = &self.valid {
                obj.insert("valid".into(), json!(valid));
            }
            if let Some(test) = &self.test {
                obj.insert("test".into(), json!(test));
            }
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
    fingerprint_rows(series, series.len())
}

/// [`fingerprint`] of the first `n` rows (`fingerprint(&series.head(n))`), without
/// copying them.
pub fn fingerprint_rows(series: &Series, n: usize) -> String {
    let n = n.min(series.len());
    let mut h = Sha256::new();
    h.update(series.schema.target.as_bytes());
    hash_values(&mut h, &series.target[..n]);
    for c in &series.features {
        h.update(c.name.as_bytes());
        hash_values(&mut h, &c.values[..n.min(c.values.len())]);
    }
    let mut hex = String::with_capacity(64);
    for b in h.finalize() {
        hex.push(char::from(HEX[usize::from(b >> 4)]));
        hex.push(char::from(HEX[usize::from(b & 15)]));
    }
    hex
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Feed `values` as little-endian bytes, a few kilobytes per call (one call per value
/// costs more than the hashing).
fn hash_values(h: &mut Sha256, values: &[f64]) {
    let mut buf = [0u8; 4096];
    for chunk in values.chunks(buf.len() / 8) {
        for (dst, v) in buf.chunks_exact_mut(8).zip(chunk) {
            dst.copy_from_slice(&v.to_le_bytes());
        }
        h.update(&buf[..chunk.len() * 8]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Extending a fitted forecaster row by row gives the forecast of conditioning it on
    /// the whole history (to 1e-9 relative: the same arithmetic in a different order for
    /// ARIMA's filter, which switches to its steady state where one step keeps the full
    /// recursion), for every kind fitted per series, with a log transform.
    #[test]
    fn extending_row_by_row_equals_conditioning_on_the_history() {
        let n = 160;
        let y: Vec<f64> = (0..n)
            .map(|i| {
                let t = i as f64;
                50.0 + 0.3 * t + 6.0 * (t * std::f64::consts::PI / 6.0).sin() + (t * 1.7).sin()
            })
            .collect();
        let fit_rows = 120;
        let kinds: &[(&str, &[(&str, &str)])] = &[
            ("naive", &[]),
            ("seasonal-naive", &[]),
            ("drift", &[]),
            ("naive2", &[]),
            ("mean", &[]),
            ("theta", &[]),
            ("theta", &[("variant", "dotm")]),
            ("auto-theta", &[]),
            ("ets", &[("model", "MAdM")]),
            ("ets", &[("model", "AAA")]),
            ("auto-ets", &[]),
            ("ensemble", &[("members", "naive,auto-ets,theta")]),
            ("arima", &[("order", "[1,1,1]")]),
            (
                "arima",
                &[
                    ("order", "[1,0,1]"),
                    ("seasonal_order", "[0,1,1,12]"),
                    ("constant", "true"),
                ],
            ),
            ("arima", &[("order", "[2,0,0]"), ("constant", "true")]),
        ];
        for (kind, settings) in kinds {
            let mut model = ModelConfig::from_kind(kind).unwrap();
            for (k, v) in *settings {
                model.set(k, v).unwrap();
            }
            let mut spec = ForecasterSpec::new(model);
            spec.transform = Transform::Log;
            let full = Series::from_values(y.clone(), 12);
            let fc = spec.fit_quiet(&full.head(fit_rows)).unwrap();
            let mut stepped = fc.clone();
            for i in fit_rows..n {
                stepped = stepped.extend(&y[i..=i], &[], &[]).unwrap();
            }
            let conditioned = fc.condition(&full).unwrap();
            let a = stepped.predict(24, &[80.0, 95.0], &[]).unwrap();
            let b = conditioned.predict(24, &[80.0, 95.0], &[]).unwrap();
            let close = |u: &[f64], v: &[f64]| {
                u.len() == v.len()
                    && u.iter()
                        .zip(v)
                        .all(|(x, y)| (x - y).abs() <= 1e-9 * y.abs().max(1.0))
            };
            assert!(
                close(&a.point, &b.point),
                "{kind} {settings:?}: {:?} vs {:?}",
                a.point,
                b.point
            );
            for (l, (x, z)) in a.intervals.iter().zip(&b.intervals).enumerate() {
                assert!(
                    close(&x.lower, &z.lower) && close(&x.upper, &z.upper),
                    "{kind} level {l}"
                );
            }
            assert_eq!(stepped.schema.conditioned_rows, n, "{kind}");
            // A batch of rows is the same as one at a time.
            let batch = fc.extend(&y[fit_rows..], &[], &[]).unwrap();
            let c = batch.predict(24, &[], &[]).unwrap();
            assert!(close(&c.point, &b.point), "{kind} batch");
        }
        // Bad rows are errors, not panics.
        let fc = ForecasterSpec::new(ModelConfig::from_kind("arima").unwrap())
            .fit_quiet(&Series::from_values(y.clone(), 12))
            .unwrap();
        assert!(fc.extend(&[f64::NAN], &[], &[]).is_err());
        assert!(fc.extend(&[], &[], &[]).is_ok());
    }

    /// A forecaster keeps the last rows it saw, whether it saw them by fitting,
    /// conditioning or extending, and tells a repeated row from a contradicting one.
    #[test]
    fn recent_rows_follow_fit_condition_and_extend() {
        use crate::data::{RowMatch, RECENT_ROWS};
        let n = 100;
        let start = chrono::NaiveDate::from_ymd_opt(2024, 1, 1)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap();
        let times: Vec<_> = (0..n as i64)
            .map(|i| start + chrono::Duration::days(i))
            .collect();
        let mut full = Series::from_values((0..n).map(|i| 10.0 + (i as f64).sin()).collect(), 7);
        full.times = Some(times.clone());
        let spec = ForecasterSpec::new(ModelConfig::from_kind("naive").unwrap());
        let fc = spec.fit_quiet(&full.head(60)).unwrap();
        assert_eq!(fc.recent.times, times[60 - RECENT_ROWS..60]);
        assert_eq!(fc.recent.target, full.target[60 - RECENT_ROWS..60]);
        let extended = fc.extend(&full.target[60..], &[], &times[60..]).unwrap();
        let conditioned = fc.condition(&full).unwrap();
        assert_eq!(extended.recent, conditioned.recent);
        assert_eq!(extended.recent.times, times[n - RECENT_ROWS..]);
        assert_eq!(extended.schema.last_timestamp, Some(times[n - 1]));
        // Mismatched times are an error.
        assert!(fc
            .extend(&full.target[60..62], &[], &times[60..61])
            .is_err());

        let r = &conditioned.recent;
        let y = full.target[n - 3];
        assert_eq!(r.check(times[n - 3], y, &[]), RowMatch::Repeat);
        // A decimal round trip stays a repeat; a change in the 10th digit does not.
        let printed: f64 = format!("{y:.15}").parse().unwrap();
        assert_eq!(r.check(times[n - 3], printed, &[]), RowMatch::Repeat);
        assert_eq!(
            r.check(times[n - 3], y * (1.0 + 1e-10), &[]),
            RowMatch::Contradicts(None, y)
        );
        assert_eq!(r.check(times[0], full.target[0], &[]), RowMatch::TooOld);
        assert_eq!(
            r.check(times[n - 3] + chrono::Duration::hours(1), y, &[]),
            RowMatch::Missing
        );
        // Row-indexed data keeps nothing.
        let plain = spec
            .fit_quiet(&Series::from_values(full.target.clone(), 7))
            .unwrap();
        assert!(plain.recent.is_empty());
    }

    /// The digest is SHA-256 of the documented byte stream, whatever the chunking, and a
    /// head's fingerprint is the copied head's.
    #[test]
    fn fingerprints_hash_the_documented_bytes_and_heads_need_no_copy() {
        let n = 1500; // more than one 4096-byte chunk
        let mut s = Series::from_values((0..n).map(|i| (i as f64).sin() * 1e3).collect(), 12);
        s.features.push(crate::data::Column {
            name: "x".into(),
            values: (0..n).map(|i| i as f64 * 0.5).collect(),
            integer: false,
        });
        let mut bytes = s.schema.target.as_bytes().to_vec();
        for v in &s.target {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        bytes.extend_from_slice(b"x");
        for v in &s.features[0].values {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        let want: String = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(fingerprint(&s), want);
        for rows in [0, 1, 511, 512, 513, 1499] {
            assert_eq!(
                fingerprint_rows(&s, rows),
                fingerprint(&s.head(rows)),
                "{rows}"
            );
            assert_eq!(s.head_schema(rows), s.head(rows).schema, "{rows}");
        }
    }
}
