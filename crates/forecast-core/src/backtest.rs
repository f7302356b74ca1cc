//! Rolling-origin backtests with no look-ahead: each fold fits only on rows before its
//! origin, and every model is scored beside the naive forecast on the same folds.

use crate::error::{Error, Result};
use crate::metrics::{mase_scale, Metrics, Window};
use crate::models::ModelConfig;
use crate::pipeline::{Forecaster, ForecasterSpec};
use crate::series::Series;
use crate::split::{rolling_origin, Fold, FoldPlan};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::str::FromStr;

/// When a backtest refits the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Refit {
    /// Refit at every fold.
    Every,
    /// Fit once at the first origin; later folds condition on newer data without refitting.
    Never,
    /// Refit every `n` folds, conditioning in between.
    EveryN(usize),
}

impl FromStr for Refit {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "every" => Ok(Refit::Every),
            "never" => Ok(Refit::Never),
            n => match n.parse::<usize>() {
                Ok(n) if n >= 1 => Ok(Refit::EveryN(n)),
                _ => Err(Error::config(
                    "refit",
                    format!("'{s}' is not every, never or a number >= 1"),
                )),
            },
        }
    }
}

/// How to backtest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BacktestSpec {
    /// Steps forecast at each origin.
    pub horizon: usize,
    /// Where the origins go.
    pub plan: FoldPlan,
    /// When to refit.
    pub refit: Refit,
}

/// One fold's outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FoldResult {
    /// Rows the model was fitted or conditioned on (= the origin).
    pub train_rows: usize,
    /// The model's window.
    pub model: Window,
    /// The naive forecast's window.
    pub naive: Window,
}

/// A backtest's outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BacktestReport {
    /// Model kind.
    pub model: String,
    /// Forecast horizon.
    pub horizon: usize,
    /// Number of folds.
    pub folds: usize,
    /// The model's pooled accuracy.
    pub metrics: Metrics,
    /// The naive forecast's pooled accuracy on the same folds.
    pub naive: Metrics,
    /// Per-fold detail.
    pub per_fold: Vec<FoldResult>,
}

/// One fold as `forecast backtest --json` prints it under `"windows"`: where it started
/// and what was forecast against what happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FoldWindow {
    /// The timestamp of the fold's last training row (for row-indexed data, its row
    /// number, from 1).
    pub origin: String,
    /// The timestamps (or row numbers) of the forecast steps.
    pub ds: Vec<String>,
    /// Actual values.
    pub actual: Vec<f64>,
    /// The model's point forecasts.
    pub forecast: Vec<f64>,
    /// The naive forecasts (the last training value).
    pub naive: Vec<f64>,
}

/// Run a rolling-origin backtest of `spec` on `series`, folds in parallel (rayon).
/// `on_fold` is called once per finished fold (for progress bars).
pub fn backtest(
    spec: &ForecasterSpec,
    series: &Series,
    bt: &BacktestSpec,
    on_fold: &(dyn Fn() + Sync),
) -> Result<BacktestReport> {
    if spec.valid_fraction > 0.0 || spec.test_fraction > 0.0 {
        // Folds define the evaluation windows; a test part inside each fold would only
        // shrink the training data.
        return Err(Error::config(
            "test-fraction",
            "backtests take no valid/test fraction",
        ));
    }
    let min_train = spec.model.min_train_rows(series.season_length);
    let folds = rolling_origin(series.len(), bt.horizon, bt.plan, min_train)?;
    // Group folds by the fold at which the model is (re)fitted.
    let every = bt.refit.every(folds.len());
    let groups: Vec<&[Fold]> = folds.chunks(every).collect();
    let naive = ForecasterSpec::new(ModelConfig::Naive(Default::default()));
    let results: Vec<Vec<FoldResult>> = groups
        .par_iter()
        .map(|group| -> Result<Vec<FoldResult>> {
            let first = group[0];
            let fitted = spec.fit_quiet(&series.head(first.origin()))?;
            group
                .iter()
                .map(|fold| {
                    let r = run_fold(&fitted, &naive, series, *fold)?;
                    on_fold();
                    Ok(r)
                })
                .collect()
        })
        .collect::<Result<_>>()?;
    let per_fold: Vec<FoldResult> = results.into_iter().flatten().collect();
    Ok(BacktestReport::from_folds(
        spec.model.kind(),
        bt.horizon,
        per_fold,
    ))
}

impl Refit {
    /// Folds per fit (the fit at a group's first fold serves the whole group), for a
    /// backtest of `folds` folds.
    pub fn every(&self, folds: usize) -> usize {
        match self {
            Refit::Every => 1,
            Refit::Never => folds.max(1),
            Refit::EveryN(n) => (*n).max(1),
        }
    }
}

impl BacktestReport {
    /// Every fold's window on `series` (the series the backtest ran on), in fold
    /// order, labelled by the series' timestamps (row numbers when it has none).
    pub fn windows(&self, series: &Series) -> Vec<FoldWindow> {
        let date_only = series.schema.date_only;
        let label = |row: usize| match &series.times {
            Some(t) => t
                .get(row)
                .map(|t| crate::data::format_timestamp(*t, date_only))
                .unwrap_or_else(|| (row + 1).to_string()),
            None => (row + 1).to_string(),
        };
        self.per_fold
            .iter()
            .map(|f| FoldWindow {
                origin: label(f.train_rows.saturating_sub(1)),
                ds: (0..f.model.actual.len())
                    .map(|i| label(f.train_rows + i))
                    .collect(),
                actual: f.model.actual.clone(),
                forecast: f.model.forecast.clone(),
                naive: f.naive.forecast.clone(),
            })
            .collect()
    }

    /// The report of `per_fold` (in fold order): metrics pooled over the folds.
    pub fn from_folds(model: &str, horizon: usize, per_fold: Vec<FoldResult>) -> BacktestReport {
        let model_windows: Vec<Window> = per_fold.iter().map(|f| f.model.clone()).collect();
        let naive_windows: Vec<Window> = per_fold.iter().map(|f| f.naive.clone()).collect();
        BacktestReport {
            model: model.to_string(),
            horizon,
            folds: per_fold.len(),
            metrics: Metrics::pooled(&model_windows),
            naive: Metrics::pooled(&naive_windows),
            per_fold,
        }
    }
}

/// Score one fold with a model fitted (or conditioned) at or before its origin: the
/// model is conditioned on the rows before the origin, and the naive forecast beside.
pub(crate) fn run_fold(
    fitted: &Forecaster,
    naive: &ForecasterSpec,
    series: &Series,
    fold: Fold,
) -> Result<FoldResult> {
    let history = series.head(fold.origin());
    let model = if fitted.schema.conditioned_rows == fold.origin() {
        fitted.clone()
    } else {
        fitted.condition(&history)?
    };
    let future: Vec<_> = series
        .features
        .iter()
        .map(|c| crate::data::Column {
            name: c.name.clone(),
            values: fold.test(&c.values).to_vec(),
            integer: c.integer,
        })
        .collect();
    let fc = model.predict(fold.horizon(), &[], &future)?;
    let naive_fc = naive
        .fit_quiet(&history)?
        .predict(fold.horizon(), &[], &[])?;
    let train = fold.train(&series.target);
    let actual = fold.test(&series.target).to_vec();
    let last = train[train.len() - 1];
    let scale = mase_scale(train, series.season_length);
    Ok(FoldResult {
        train_rows: train.len(),
        model: Window {
            actual: actual.clone(),
            forecast: fc.point,
            last,
            scale,
        },
        naive: Window {
            actual,
            forecast: naive_fc.point,
            last,
            scale,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series() -> Series {
        let y: Vec<f64> = (0..60)
            .map(|i| 100.0 + (i as f64 * 0.7).sin() * 5.0 + i as f64)
            .collect();
        Series::from_values(y, 12)
    }

    #[test]
    fn naive_forecasts_use_only_rows_before_the_origin() {
        // A naive forecast equals the last value the model saw: if a fold leaked even
        // one test row into training, the forecast would equal that row instead.
        let s = series();
        let spec = ForecasterSpec::new(ModelConfig::from_kind("naive").unwrap());
        for refit in [Refit::Every, Refit::Never, Refit::EveryN(2)] {
            let bt = BacktestSpec {
                horizon: 5,
                plan: FoldPlan::Count { folds: 4, step: 5 },
                refit,
            };
            let r = backtest(&spec, &s, &bt, &|| {}).unwrap();
            assert_eq!(r.folds, 4);
            for f in &r.per_fold {
                assert!(f
                    .model
                    .forecast
                    .iter()
                    .all(|v| *v == s.target[f.train_rows - 1]));
                assert_eq!(
                    f.model.actual,
                    s.target[f.train_rows..f.train_rows + 5].to_vec()
                );
            }
            assert_eq!(r.metrics, r.naive);
            let w = r.windows(&s);
            assert_eq!(w.len(), 4);
            for (f, w) in r.per_fold.iter().zip(&w) {
                assert_eq!(w.origin, f.train_rows.to_string());
                assert_eq!(w.ds[0], (f.train_rows + 1).to_string());
                assert_eq!((w.actual.len(), w.naive.len()), (5, 5));
                assert_eq!(w.forecast, f.model.forecast);
            }
        }
    }

    #[test]
    fn seasonal_model_beats_naive_on_seasonal_data() {
        let y: Vec<f64> = (0..120)
            .map(|i| 50.0 + 10.0 * ((i % 12) as f64 - 6.0).abs())
            .collect();
        let s = Series::from_values(y, 12);
        let spec = ForecasterSpec::new(ModelConfig::from_kind("seasonal-naive").unwrap());
        let bt = BacktestSpec {
            horizon: 12,
            plan: FoldPlan::Count { folds: 3, step: 12 },
            refit: Refit::Every,
        };
        let r = backtest(&spec, &s, &bt, &|| {}).unwrap();
        assert!(r.metrics.mae < 1e-12);
        assert!(r.naive.mae > 1.0);
    }
}
