//! Many series through one path: local models fitted per series in parallel, forecasts
//! as long tables named as statsforecast names them, and panel scoring (competition
//! style against a held-out file, or rolling origins per series) with pooled metrics
//! that are the unweighted mean over series (the M-competition convention).
//!
//! Work is spread over series with rayon; results keep the panel's series order, and
//! each series' fit depends on that series alone, so the output is the same whatever
//! the thread count.

use crate::backtest::{backtest, run_fold, BacktestReport, BacktestSpec, FoldResult};
use crate::data::{Column, Frame, Panel};
use crate::error::{Error, Result};
use crate::forecast::Forecast;
use crate::metrics::{mase_scale, Metrics, Window};
use crate::models::ModelConfig;
use crate::pipeline::{Forecaster, ForecasterSpec};
use crate::reporter::Silent;
use crate::series::{Series, SeriesSpec};
use crate::split::{rolling_origin, Fold, Split};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::str::FromStr;

/// What to do with a series too short for the model (`--short`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ShortPolicy {
    /// Fail the command, naming the series.
    #[default]
    Error,
    /// Leave the series out and list it in the output's `skipped`.
    Skip,
}

impl FromStr for ShortPolicy {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "error" => Ok(ShortPolicy::Error),
            "skip" => Ok(ShortPolicy::Skip),
            _ => Err(format!("'{s}': expected error or skip")),
        }
    }
}

/// One of `count` disjoint parts of a panel (`--shard I/N`): the series at positions
/// `index - 1`, `index - 1 + count`, ... of the panel's order. Shards of the same file
/// cover every series once, so their outputs concatenate and their scores merge
/// exactly ([`PanelScore::merge`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// 1-based shard number.
    pub index: usize,
    /// Number of shards.
    pub count: usize,
}

impl FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let bad = || format!("'{s}': expected I/N with 1 <= I <= N (e.g. 2/8)");
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let index: usize = i.trim().parse().map_err(|_| bad())?;
        let count: usize = n.trim().parse().map_err(|_| bad())?;
        if index == 0 || count == 0 || index > count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Shard {
    /// Whether the series at `position` (0-based, the panel's order) is in this shard.
    pub fn holds(&self, position: usize) -> bool {
        position % self.count == self.index - 1
    }

    /// The items of this shard, in order.
    pub fn take<T>(&self, items: Vec<T>) -> Vec<T> {
        items
            .into_iter()
            .enumerate()
            .filter(|(i, _)| self.holds(*i))
            .map(|(_, x)| x)
            .collect()
    }
}

/// One series of a panel in its modelling view.
#[derive(Debug, Clone)]
pub struct PanelSeries {
    /// The series id.
    pub id: String,
    /// Target, features and time index.
    pub series: Series,
}

/// A series left out, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Skipped {
    /// The series id.
    pub unique_id: String,
    /// Why it was left out.
    pub reason: String,
}

/// A series whose fit or forecast failed; the others went on.
#[derive(Debug)]
pub struct Failed {
    /// The series id.
    pub unique_id: String,
    /// What failed.
    pub error: Error,
}

impl Failed {
    /// As listed in outputs: `{"unique_id", "reason"}`.
    pub fn listed(&self) -> Skipped {
        Skipped {
            unique_id: self.unique_id.clone(),
            reason: self.error.to_string(),
        }
    }
}

/// The modelling view of every series of `panel` (series in parallel; the first error
/// in series order, naming the series).
pub fn series_of(panel: &Panel, spec: &SeriesSpec) -> Result<Vec<PanelSeries>> {
    let built: Vec<Result<PanelSeries>> = panel
        .members
        .par_iter()
        .map(|m| {
            Series::from_frame(&m.frame, spec)
                .map(|series| PanelSeries {
                    id: m.id.clone(),
                    series,
                })
                .map_err(|e| e.in_series(&m.id))
        })
        .collect();
    built.into_iter().collect()
}

/// Check a model's configuration once for the whole panel (not once per series).
fn check_model(model: &ModelConfig) -> Result<()> {
    crate::models::ModelFacts::check(model)
}

/// Fewest training rows `spec` needs of one series: a global network's series needs one
/// training window (the panel's validation windows serve it), a local model its own.
fn min_rows(spec: &ForecasterSpec, series: &Series, global: bool) -> usize {
    match spec.model.global_min_rows() {
        Some(n) if global => n,
        _ => spec.model.min_train_rows(series.season_length),
    }
}

/// Whether `series` is too short for `spec` (its training part has fewer rows than the
/// model needs): the reason, if so.
fn too_short(spec: &ForecasterSpec, series: &Series, extra: usize, global: bool) -> Option<String> {
    let train = Split::by_fraction(series.len(), spec.valid_fraction, spec.test_fraction)
        .map(|s| s.train.len())
        .unwrap_or(0);
    let needed = min_rows(spec, series, global) + extra;
    (train < needed).then(|| {
        format!(
            "too short: {} needs at least {needed} training rows, the series has {train}",
            spec.model.kind()
        )
    })
}

/// Series kept after the short-series policy, and those skipped; with
/// [`ShortPolicy::Error`] the first short series is an error.
fn apply_short<'a>(
    spec: &ForecasterSpec,
    series: &'a [PanelSeries],
    short: ShortPolicy,
    extra: usize,
    global: bool,
) -> Result<(Vec<&'a PanelSeries>, Vec<Skipped>)> {
    let mut kept = Vec::with_capacity(series.len());
    let mut skipped = Vec::new();
    for s in series {
        match (too_short(spec, &s.series, extra, global), short) {
            (None, _) => kept.push(s),
            (Some(reason), ShortPolicy::Skip) => skipped.push(Skipped {
                unique_id: s.id.clone(),
                reason,
            }),
            (Some(reason), ShortPolicy::Error) => {
                return Err(Error::config(
                    "data",
                    format!("{reason} (--short skip leaves such series out)"),
                )
                .in_series(&s.id))
            }
        }
    }
    Ok((kept, skipped))
}

/// A model fitted on every series of a panel.
#[derive(Debug, Clone)]
pub struct PanelForecaster {
    /// Name of the id column.
    pub id_column: String,
    /// The forecasters, in the panel's series order.
    pub series: Vec<(String, Forecaster)>,
    /// Series left out by the short-series policy.
    pub skipped: Vec<Skipped>,
}

/// The outcome of fitting a panel: what was fitted and what failed.
#[derive(Debug)]
pub struct PanelFit {
    /// The fitted series.
    pub fitted: PanelForecaster,
    /// Series whose fit failed (the others were fitted).
    pub failed: Vec<Failed>,
}

/// Fit `spec` on every series (in parallel), after the short-series policy; a failed
/// fit is reported with its series id and does not stop the others. `on_done` is called
/// once per finished series (progress bars).
pub fn fit_panel(
    spec: &ForecasterSpec,
    id_column: &str,
    series: &[PanelSeries],
    short: ShortPolicy,
    on_done: &(dyn Fn() + Sync),
) -> Result<PanelFit> {
    check_model(&spec.model)?;
    let (kept, skipped) = apply_short(spec, series, short, 0, spec.model.is_global())?;
    // A network over a panel is one global model, whatever the number of series.
    let results: Vec<(String, Result<Forecaster>)> = if spec.model.is_global() {
        let refs: Vec<&Series> = kept.iter().map(|s| &s.series).collect();
        let fitted = spec.fit_global(&refs, &mut Silent)?;
        kept.iter()
            .zip(fitted)
            .map(|(s, r)| {
                on_done();
                (s.id.clone(), r)
            })
            .collect()
    } else {
        kept.par_iter()
            .map(|s| {
                let r = spec.fit_quiet(&s.series);
                on_done();
                (s.id.clone(), r)
            })
            .collect()
    };
    let (fitted, failed) = split_results(results);
    Ok(PanelFit {
        fitted: PanelForecaster {
            id_column: id_column.to_string(),
            series: fitted,
            skipped,
        },
        failed,
    })
}

/// One series' forecast, with the timestamps it covers.
#[derive(Debug, Clone)]
pub struct SeriesForecast {
    /// The series id.
    pub unique_id: String,
    /// The timestamps of the forecast steps (formatted), or `None` for row-indexed
    /// series (steps `1..=h`).
    pub ds: Option<Vec<String>>,
    /// Point forecasts and intervals.
    pub forecast: Forecast,
}

impl PanelForecaster {
    /// The model kind.
    pub fn kind(&self) -> &'static str {
        self.series
            .first()
            .map_or("unknown", |(_, f)| f.spec.model.kind())
    }

    /// Only the series named in `ids` (every one must exist), in `ids`' order.
    pub fn subset(&self, ids: &[String]) -> Result<PanelForecaster> {
        let index: std::collections::HashMap<&str, usize> = self
            .series
            .iter()
            .enumerate()
            .map(|(i, (id, _))| (id.as_str(), i))
            .collect();
        let mut series = Vec::with_capacity(ids.len());
        for id in ids {
            let i = index.get(id.as_str()).ok_or_else(|| {
                Error::config("ids", format!("series '{id}' is not in the model"))
            })?;
            series.push(self.series[*i].clone());
        }
        Ok(PanelForecaster {
            id_column: self.id_column.clone(),
            series,
            skipped: vec![],
        })
    }

    /// Forecast `horizon` steps of every series (in parallel) with intervals at
    /// `levels`; a failed series is listed and does not stop the others.
    pub fn predict(&self, horizon: usize, levels: &[f64]) -> (Vec<SeriesForecast>, Vec<Failed>) {
        self.predict_each(horizon, levels, &|_| &[])
    }

    /// Every series' forecast with its regressors' future values (`future(i)` for the
    /// `i`-th series); a failed series is listed and does not stop the others.
    fn predict_each<'a>(
        &self,
        horizon: usize,
        levels: &[f64],
        future: &(dyn Fn(usize) -> &'a [Column] + Sync),
    ) -> (Vec<SeriesForecast>, Vec<Failed>) {
        let results: Vec<(String, Result<SeriesForecast>)> = self
            .series
            .par_iter()
            .enumerate()
            .map(|(i, (id, f))| {
                let r = f
                    .predict(horizon, levels, future(i))
                    .map(|forecast| SeriesForecast {
                        unique_id: id.clone(),
                        ds: f.future_timestamps(horizon),
                        forecast,
                    });
                (id.clone(), r)
            })
            .collect();
        let (ok, failed) = split_results(results);
        (ok.into_iter().map(|(_, f)| f).collect(), failed)
    }
}

impl PanelForecaster {
    /// [`PanelForecaster::predict`] with each series' regressors over the horizon from
    /// `future` (a long table of future rows, see [`crate::future`]; `None` for a model
    /// without input-column regressors). The horizon is `horizon`, or the number of
    /// future rows per series, which must then be the same for every series. Returns
    /// the horizon used with the forecasts. Future rows must cover every series of the
    /// model; rows of a series the model does not hold, or that do not continue their
    /// series, are errors naming the series. A series whose forecast fails is listed
    /// and does not stop the others.
    pub fn predict_future(
        &self,
        future: Option<&Panel>,
        horizon: Option<usize>,
        levels: &[f64],
    ) -> Result<(usize, Vec<SeriesForecast>, Vec<Failed>)> {
        if let Some(panel) = future {
            let unknown: Vec<&str> = panel
                .members
                .iter()
                .map(|m| m.id.as_str())
                .filter(|id| !self.series.iter().any(|(s, _)| s == id))
                .collect();
            if !unknown.is_empty() {
                return Err(Error::config(
                    "future",
                    format!(
                        "{}: series {} not in the model (or not selected)",
                        panel.source.display(),
                        unknown
                            .iter()
                            .map(|id| format!("'{id}'"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
        }
        let mut inputs = Vec::with_capacity(self.series.len());
        for (id, f) in &self.series {
            let frame = match future {
                Some(panel) => Some(
                    &panel
                        .members
                        .iter()
                        .find(|m| &m.id == id)
                        .ok_or_else(|| {
                            Error::config(
                                "future",
                                format!(
                                    "{}: no future rows for series '{id}'",
                                    panel.source.display()
                                ),
                            )
                        })?
                        .frame,
                ),
                None => None,
            };
            inputs.push(
                f.future_inputs(frame, horizon)
                    .map_err(|e| e.in_series(id))?,
            );
        }
        let h = match (horizon, inputs.first()) {
            (Some(h), _) => h,
            (None, Some(first)) => {
                let h = first.horizon;
                if let Some(((id, _), other)) = self
                    .series
                    .iter()
                    .zip(&inputs)
                    .find(|(_, i)| i.horizon != h)
                {
                    return Err(Error::config(
                        "future",
                        format!(
                            "series '{}' has {} future rows and series '{id}' {}: give the horizon, or the same number of rows per series",
                            self.series[0].0, h, other.horizon
                        ),
                    ));
                }
                h
            }
            (None, None) => return Err(Error::config("horizon", "must be at least 1")),
        };
        let (ok, failed) = self.predict_each(h, levels, &|i| &inputs[i].columns);
        Ok((h, ok, failed))
    }
}

/// Successes (with their ids) in order, and the failures.
fn split_results<T>(results: Vec<(String, Result<T>)>) -> (Vec<(String, T)>, Vec<Failed>) {
    let mut ok = Vec::with_capacity(results.len());
    let mut failed = Vec::new();
    for (id, r) in results {
        match r {
            Ok(v) => ok.push((id, v)),
            Err(error) => failed.push(Failed {
                unique_id: id,
                error,
            }),
        }
    }
    (ok, failed)
}

/// One series' accuracy beside the naive forecast's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesScore {
    /// The series id.
    pub unique_id: String,
    /// Steps scored.
    pub rows: usize,
    /// The model's accuracy.
    pub metrics: Metrics,
    /// The naive forecast's accuracy on the same steps.
    pub naive: Metrics,
    /// The scored steps' timestamps (row numbers for data without a time column), every
    /// fold's in turn, for drawing the series (`forecast report --results`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ds: Vec<String>,
    /// The actual values of the scored steps.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actual: Vec<f64>,
    /// The model's point forecasts of the scored steps.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub forecast: Vec<f64>,
}

/// The accuracy of a panel: pooled over series (the unweighted mean over series of
/// each series' metric) and per series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PanelScore {
    /// Model kind.
    pub model: String,
    /// Series scored.
    pub series: usize,
    /// Steps scored over every series.
    pub rows: usize,
    /// Mean over series of the model's metrics.
    pub metrics: Metrics,
    /// Mean over series of the naive forecast's metrics.
    pub naive: Metrics,
    /// Each series' scores, in the panel's order.
    pub per_series: Vec<SeriesScore>,
    /// Series left out by the short-series policy.
    pub skipped: Vec<Skipped>,
}

impl PanelScore {
    /// Pool per-series scores: the unweighted mean of each metric over series (a
    /// metric undefined for any series is undefined for the panel).
    pub fn pool(model: &str, per_series: Vec<SeriesScore>, skipped: Vec<Skipped>) -> PanelScore {
        let m: Vec<Metrics> = per_series.iter().map(|s| s.metrics).collect();
        let n: Vec<Metrics> = per_series.iter().map(|s| s.naive).collect();
        PanelScore {
            model: model.to_string(),
            series: per_series.len(),
            rows: per_series.iter().map(|s| s.rows).sum(),
            metrics: Metrics::mean(&m),
            naive: Metrics::mean(&n),
            per_series,
            skipped,
        }
    }
}

impl PanelScore {
    /// Merge the scores of disjoint parts of one panel (shards): per-series scores are
    /// concatenated and pooled again, so the result equals scoring the whole panel at
    /// once. The parts must score the same model, and no series may appear twice.
    pub fn merge(parts: Vec<PanelScore>) -> Result<PanelScore> {
        let model = match parts.first() {
            Some(p) => p.model.clone(),
            None => return Err(Error::config("merge", "nothing to merge")),
        };
        let mut seen = std::collections::HashSet::new();
        let mut per_series = Vec::new();
        let mut skipped = Vec::new();
        for p in parts {
            if p.model != model {
                return Err(Error::config(
                    "merge",
                    format!("parts score different models ('{model}' and '{}')", p.model),
                ));
            }
            for id in p
                .per_series
                .iter()
                .map(|s| &s.unique_id)
                .chain(p.skipped.iter().map(|s| &s.unique_id))
            {
                if !seen.insert(id.clone()) {
                    return Err(Error::config(
                        "merge",
                        format!("series '{id}' is in two parts (overlapping shards?)"),
                    ));
                }
            }
            per_series.extend(p.per_series);
            skipped.extend(p.skipped);
        }
        Ok(PanelScore::pool(&model, per_series, skipped))
    }
}

/// Competition-style scoring: fit `spec` on all of each training series, forecast
/// from its end over that series' rows of `test`, and score beside the naive forecast
/// (MASE scaled by the in-sample seasonal naive error of the training series). Every
/// training series must have test rows, and they must continue it (the timestamps the
/// model would forecast). Failed series are listed; the others are scored.
pub fn score_holdout(
    spec: &ForecasterSpec,
    train: &[PanelSeries],
    test: &[(String, Frame)],
    target: &str,
    short: ShortPolicy,
    on_done: &(dyn Fn() + Sync),
) -> Result<(PanelScore, Vec<Failed>)> {
    check_model(&spec.model)?;
    if spec.valid_fraction > 0.0 || spec.test_fraction > 0.0 {
        return Err(Error::config(
            "test-fraction",
            "scoring against a test file takes no valid/test fraction",
        ));
    }
    let by_id: std::collections::HashMap<&str, &Frame> =
        test.iter().map(|(id, f)| (id.as_str(), f)).collect();
    let train_ids: std::collections::HashSet<&str> = train.iter().map(|s| s.id.as_str()).collect();
    if let Some((id, _)) = test.iter().find(|(id, _)| !train_ids.contains(id.as_str())) {
        return Err(Error::config(
            "test",
            format!("series '{id}' of the test data is not in the training data"),
        ));
    }
    let global = spec.model.is_global() && train.len() > 1;
    let (kept, skipped) = apply_short(spec, train, short, 0, global)?;
    let mut jobs = Vec::with_capacity(kept.len());
    for s in kept {
        let frame = by_id.get(s.id.as_str()).ok_or_else(|| {
            Error::config("test", "no rows in the test data".to_string()).in_series(&s.id)
        })?;
        let actual = frame.column(target).map_err(|e| e.in_series(&s.id))?;
        jobs.push((s, *frame, actual));
    }
    let results: Vec<(String, Result<SeriesScore>)> = if global {
        let refs: Vec<&Series> = jobs.iter().map(|(s, _, _)| &s.series).collect();
        let fitted = spec.fit_global(&refs, &mut Silent)?;
        jobs.par_iter()
            .zip(fitted.into_par_iter())
            .map(|((s, frame, actual), f)| {
                let r = f.and_then(|f| score_fitted(&f, &s.series, frame, actual));
                on_done();
                (s.id.clone(), r)
            })
            .collect()
    } else {
        jobs.par_iter()
            .map(|(s, frame, actual)| {
                let r = spec
                    .fit_quiet(&s.series)
                    .and_then(|f| score_fitted(&f, &s.series, frame, actual));
                on_done();
                (s.id.clone(), r)
            })
            .collect()
    };
    let (scores, failed) = split_results(results);
    let scores = scores
        .into_iter()
        .map(|(unique_id, s)| SeriesScore { unique_id, ..s })
        .collect();
    Ok((PanelScore::pool(spec.model.kind(), scores, skipped), failed))
}

/// Forecast `actual.len()` steps from the end of `series` (which `fitted` was fitted on)
/// and score them.
fn score_fitted(
    fitted: &Forecaster,
    series: &Series,
    test: &Frame,
    actual: &[f64],
) -> Result<SeriesScore> {
    let h = actual.len();
    if let (Some(expected), Some(times)) = (fitted.future_timestamps(h), &test.times) {
        let got: Vec<String> = times
            .iter()
            .map(|t| crate::data::format_timestamp(*t, fitted.schema.date_only))
            .collect();
        if let Some(i) = (0..h).find(|&i| got[i] != expected[i]) {
            return Err(Error::config(
                "test",
                format!(
                    "test row {} is at {}, but the series continues at {} (the test rows must follow the training rows)",
                    i + 1,
                    got[i],
                    expected[i]
                ),
            ));
        }
    }
    let fc = fitted.predict(h, &[], &[])?;
    let ds = match &test.times {
        Some(times) => times
            .iter()
            .map(|t| crate::data::format_timestamp(*t, fitted.schema.date_only))
            .collect(),
        None => (1..=h).map(|i| (series.len() + i).to_string()).collect(),
    };
    let last = series.target[series.len() - 1];
    let scale = mase_scale(&series.target, series.season_length);
    let window = |forecast: Vec<f64>| Window {
        actual: actual.to_vec(),
        forecast,
        last,
        scale,
    };
    Ok(SeriesScore {
        unique_id: String::new(),
        rows: h,
        metrics: Metrics::pooled(&[window(fc.point.clone())]),
        naive: Metrics::pooled(&[window(vec![last; h])]),
        ds,
        actual: actual.to_vec(),
        forecast: fc.point,
    })
}

/// Rolling-origin backtest of every series (series in parallel, each with its own
/// folds), pooled over series. Series too short for the folds follow `short`.
/// `on_fold` is called once per finished fold (see [`panel_folds`] for the total).
pub fn backtest_panel(
    spec: &ForecasterSpec,
    series: &[PanelSeries],
    bt: &BacktestSpec,
    short: ShortPolicy,
    on_fold: &(dyn Fn() + Sync),
) -> Result<(PanelScore, Vec<Failed>)> {
    check_model(&spec.model)?;
    let global = spec.model.is_global() && series.len() > 1;
    let (kept, skipped) = apply_short(spec, series, short, bt.horizon, global)?;
    let results: Vec<(String, Result<BacktestReport>)> = if global {
        backtest_global(spec, &kept, bt, on_fold)?
    } else {
        kept.par_iter()
            .map(|s| (s.id.clone(), backtest(spec, &s.series, bt, on_fold)))
            .collect()
    };
    let by_id: HashMap<&str, &Series> = kept.iter().map(|s| (s.id.as_str(), &s.series)).collect();
    let (reports, failed) = split_results(results);
    let scores = reports
        .into_iter()
        .map(|(unique_id, r)| {
            let windows = by_id
                .get(unique_id.as_str())
                .map(|s| r.windows(s))
                .unwrap_or_default();
            SeriesScore {
                rows: r.per_fold.iter().map(|f| f.model.actual.len()).sum(),
                metrics: r.metrics,
                naive: r.naive,
                ds: windows.iter().flat_map(|w| w.ds.iter().cloned()).collect(),
                actual: windows
                    .iter()
                    .flat_map(|w| w.actual.iter().copied())
                    .collect(),
                forecast: windows
                    .iter()
                    .flat_map(|w| w.forecast.iter().copied())
                    .collect(),
                unique_id,
            }
        })
        .collect();
    Ok((PanelScore::pool(spec.model.kind(), scores, skipped), failed))
}

/// Rolling-origin backtest of a global model: fold `j` of every series (each series'
/// folds as [`backtest`] places them, counted from its end) is forecast by one network
/// trained on every series' rows before its own fold-`j` origin, refitted as `bt.refit`
/// says (conditioned on newer rows in between). A fit that fails as a whole fails every
/// series it was fitting.
fn backtest_global(
    spec: &ForecasterSpec,
    kept: &[&PanelSeries],
    bt: &BacktestSpec,
    on_fold: &(dyn Fn() + Sync),
) -> Result<Vec<(String, Result<BacktestReport>)>> {
    if spec.valid_fraction > 0.0 || spec.test_fraction > 0.0 {
        return Err(Error::config(
            "test-fraction",
            "backtests take no valid/test fraction",
        ));
    }
    let n = kept.len();
    let mut folds: Vec<Vec<Fold>> = Vec::with_capacity(n);
    let mut errors: Vec<Option<Error>> = Vec::with_capacity(n);
    for s in kept {
        let min_train = min_rows(spec, &s.series, true);
        match rolling_origin(s.series.len(), bt.horizon, bt.plan, min_train) {
            Ok(f) => {
                folds.push(f);
                errors.push(None);
            }
            Err(e) => {
                folds.push(Vec::new());
                errors.push(Some(e));
            }
        }
    }
    let most = folds.iter().map(Vec::len).max().unwrap_or(0);
    let every = bt.refit.every(most);
    let naive = ForecasterSpec::new(ModelConfig::Naive(Default::default()));
    let mut results: Vec<Vec<FoldResult>> = vec![Vec::new(); n];
    for start in (0..most).step_by(every) {
        let members: Vec<usize> = (0..n)
            .filter(|&i| errors[i].is_none() && folds[i].len() > start)
            .collect();
        if members.is_empty() {
            continue;
        }
        let heads: Vec<Series> = members
            .iter()
            .map(|&i| kept[i].series.head(folds[i][start].origin()))
            .collect();
        let refs: Vec<&Series> = heads.iter().collect();
        let fitted = match spec.fit_global(&refs, &mut Silent) {
            Ok(f) => f,
            Err(e) => {
                let message = format!("global fit at fold {}: {e}", start + 1);
                for &i in &members {
                    errors[i] = Some(Error::Model {
                        model: spec.model.kind().into(),
                        message: message.clone(),
                    });
                }
                continue;
            }
        };
        let outcomes: Vec<(usize, Result<Vec<FoldResult>>)> = members
            .par_iter()
            .zip(fitted.into_par_iter())
            .map(|(&i, f)| {
                let group = &folds[i][start..(start + every).min(folds[i].len())];
                let r = f.and_then(|f| {
                    group
                        .iter()
                        .map(|fold| {
                            let r = run_fold(&f, &naive, &kept[i].series, *fold)?;
                            on_fold();
                            Ok(r)
                        })
                        .collect::<Result<Vec<_>>>()
                });
                (i, r)
            })
            .collect();
        for (i, r) in outcomes {
            match r {
                Ok(v) => results[i].extend(v),
                Err(e) => errors[i] = Some(e),
            }
        }
    }
    Ok(kept
        .iter()
        .zip(errors)
        .zip(results)
        .map(|((s, e), per_fold)| {
            let r = match e {
                Some(e) => Err(e),
                None => Ok(BacktestReport::from_folds(
                    spec.model.kind(),
                    bt.horizon,
                    per_fold,
                )),
            };
            (s.id.clone(), r)
        })
        .collect())
}

/// Folds a rolling-origin backtest of `spec` runs over every series (a series whose
/// folds do not fit counts none), for progress bars.
pub fn panel_folds(spec: &ForecasterSpec, series: &[PanelSeries], bt: &BacktestSpec) -> usize {
    let global = spec.model.is_global() && series.len() > 1;
    series
        .iter()
        .map(|s| {
            let min_train = min_rows(spec, &s.series, global);
            rolling_origin(s.series.len(), bt.horizon, bt.plan, min_train).map_or(0, |f| f.len())
        })
        .sum()
}

/// A level as a column suffix: 80 -> "80", 97.5 -> "97.5".
pub fn level_name(level: f64) -> String {
    if level.fract() == 0.0 {
        format!("{}", level as i64)
    } else {
        format!("{level}")
    }
}

/// Forecasts as one long table, named as statsforecast names them: `unique_id`, `ds`,
/// then `<name>`, `<name>-lo-<L>` for the levels from the widest down, `<name>-hi-<L>`
/// from the narrowest up.
#[derive(Debug, Clone, PartialEq)]
pub struct LongTable {
    /// The series id of each row.
    pub unique_id: Vec<String>,
    /// The timestamp of each row (formatted), or the step `1..=h` for row-indexed
    /// series.
    pub ds: Vec<String>,
    /// The value columns, in order.
    pub columns: Vec<(String, Vec<f64>)>,
}

impl LongTable {
    /// The table of `forecasts` for a model named `name` (every forecast has the same
    /// levels).
    pub fn new(forecasts: &[SeriesForecast], name: &str, levels: &[f64]) -> LongTable {
        let mut order: Vec<(f64, bool)> = Vec::new(); // (level, upper)
        let mut sorted = levels.to_vec();
        sorted.sort_by(|a, b| a.total_cmp(b));
        sorted.dedup();
        order.extend(sorted.iter().rev().map(|l| (*l, false)));
        order.extend(sorted.iter().map(|l| (*l, true)));
        let mut columns: Vec<(String, Vec<f64>)> = vec![(name.to_string(), vec![])];
        for (l, upper) in &order {
            let side = if *upper { "hi" } else { "lo" };
            columns.push((format!("{name}-{side}-{}", level_name(*l)), vec![]));
        }
        let (mut unique_id, mut ds) = (Vec::new(), Vec::new());
        for f in forecasts {
            let h = f.forecast.point.len();
            for i in 0..h {
                unique_id.push(f.unique_id.clone());
                ds.push(match &f.ds {
                    Some(t) => t[i].clone(),
                    None => (i + 1).to_string(),
                });
                columns[0].1.push(f.forecast.point[i]);
                for (k, (l, upper)) in order.iter().enumerate() {
                    let v = f
                        .forecast
                        .intervals
                        .iter()
                        .find(|iv| iv.level == *l)
                        .map_or(
                            f64::NAN,
                            |iv| if *upper { iv.upper[i] } else { iv.lower[i] },
                        );
                    columns[k + 1].1.push(v);
                }
            }
        }
        LongTable {
            unique_id,
            ds,
            columns,
        }
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.unique_id.len()
    }

    /// Whether the table has no rows.
    pub fn is_empty(&self) -> bool {
        self.unique_id.is_empty()
    }

    /// The table as CSV (header line first; numbers printed to round-trip exactly).
    pub fn to_csv(&self) -> String {
        let mut s = String::from("unique_id,ds");
        for (name, _) in &self.columns {
            s.push(',');
            s.push_str(name);
        }
        s.push('\n');
        for i in 0..self.len() {
            s.push_str(&csv_cell(&self.unique_id[i]));
            s.push(',');
            s.push_str(&self.ds[i]);
            for (_, v) in &self.columns {
                s.push(',');
                if v[i].is_finite() {
                    s.push_str(&v[i].to_string());
                }
            }
            s.push('\n');
        }
        s
    }
}

/// A CSV cell, quoted when it holds a comma, quote or line break.
fn csv_cell(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::split::FoldPlan;

    fn seasonal(n: usize) -> Series {
        let y = (0..n)
            .map(|t| 100.0 + 10.0 * ((t % 12) as f64 - 6.0).abs() + 0.3 * t as f64)
            .collect();
        Series::from_values(y, 12)
    }

    #[test]
    fn one_series_takes_a_network_through_the_panel_path() {
        let mut model = ModelConfig::from_kind("lstm").unwrap();
        model
            .set_json_many(&[
                ("hidden_size", 4.into()),
                ("epochs", 1.into()),
                ("lookback", 12.into()),
                ("horizon", 3.into()),
                ("batch_size", 8.into()),
            ])
            .unwrap();
        let spec = ForecasterSpec::new(model);
        let bt = BacktestSpec {
            horizon: 3,
            plan: FoldPlan::Count { folds: 1, step: 3 },
            refit: crate::backtest::Refit::Every,
        };
        let one = vec![PanelSeries {
            id: "a".into(),
            series: seasonal(60),
        }];
        let (score, failed) = backtest_panel(&spec, &one, &bt, ShortPolicy::Error, &|| {}).unwrap();
        assert!(failed.is_empty(), "{failed:?}");
        assert_eq!(score.series, 1);
    }
}
