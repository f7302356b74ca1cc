//! Tuning forecast-core models: experiment specs (`experiments/*.toml`) and the
//! objective that fits a [`ForecasterSpec`] with sampled hyperparameters.
//!
//! Sampled keys land in the model's typed config through
//! [`ModelConfig::set_json_many`] (one step for all of a trial's keys), so a bad sample
//! is an error naming the key. The special
//! key `kind` picks the model kind (a `choice` or `grid` over kinds); `transform`
//! picks the target transform (`"log"`, `"boxcox:0.5"`); a dotted key `KIND.key`
//! applies only when the trial's kind is `KIND`.
//!
//! Per-epoch results reach the scheduler through forecast-core's [`Reporter`]. Models
//! fitted in one go (baselines, ARIMA) report one epoch; the evaluation metrics are
//! reported with it:
//!
//! - `evaluation = { kind = "valid", fraction = F }` (default, F = 0.2): fit on the
//!   first rows, forecast the last `F` of them in one multi-step forecast, report
//!   `valid_mae`, `valid_rmse`, `valid_smape`, `valid_mape`, `valid_mase`;
//! - `evaluation = { kind = "backtest", folds = K, horizon = H, step = S }`: a
//!   rolling-origin backtest ([`forecast_core::backtest`]), reporting `backtest_mae`,
//!   `backtest_rmse`, `backtest_smape`, `backtest_mape`, `backtest_mase`,
//!   `backtest_directional_accuracy` and the naive baseline's `naive_mase`.
//!
//! Neural models (those with a `checkpoint_dir` setting) train with forecast-core's
//! training-loop checkpoints (weights, best weights, optimizer state, epoch) in a
//! temporary directory of the trial; after each epoch it is packed (a tar archive) into
//! the trial's checkpoint in the experiment store. A trial resumed after a crash or a
//! pause, retried, or restarted by a PBT exploit from another trial's checkpoint
//! continues training from that checkpoint's epoch. PBT should mutate only keys that
//! keep the weights' shapes (`learning_rate`, `dropout`, `weight_decay`, ...): a
//! checkpoint that does not fit the new architecture is a trial error.

use crate::error::{Error, TrialError};
use crate::runner::{Control, TrialContext, TuneConfig};
use crate::space::{Params, SearchSpace};
use forecast_core::backtest::{BacktestSpec, Refit};
use forecast_core::metrics::Metrics;
use forecast_core::panel::{
    backtest_panel, fit_panel, Failed, PanelForecaster, PanelSeries, ShortPolicy,
};
use forecast_core::split::FoldPlan;
use forecast_core::transform::Transform;
use forecast_core::{Decision, EpochReport, Forecaster, ForecasterSpec, ModelConfig, Series};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// The `[data]` table: the same as an accuracy study's (file, target, time column,
/// features, indicators, season length, missing-value policy).
pub use forecast_core::data::DataSpec;

fn one() -> usize {
    1
}

/// The `[model]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    /// Model kind (any `--model` kind).
    pub kind: String,
    /// Forecast horizon (default backtest horizon).
    #[serde(default = "one")]
    pub horizon: usize,
    /// Fixed config keys.
    #[serde(default)]
    pub config: Map<String, Value>,
    /// Target transform (`"log"`, `"boxcox:0.5"`).
    #[serde(default)]
    pub transform: Option<String>,
    /// Seed of the model.
    #[serde(default)]
    pub seed: u64,
}

fn fifth() -> f64 {
    0.2
}

/// How a trial is scored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Evaluation {
    /// Fit on the first rows, forecast the last `fraction` of them.
    Valid {
        /// Share of rows for validation.
        #[serde(default = "fifth")]
        fraction: f64,
    },
    /// Rolling-origin backtest.
    Backtest {
        /// Number of folds.
        folds: usize,
        /// Forecast horizon (default: the model's).
        #[serde(default)]
        horizon: Option<usize>,
        /// Rows between origins (default: the horizon).
        #[serde(default)]
        step: Option<usize>,
    },
}

impl Default for Evaluation {
    fn default() -> Self {
        Evaluation::Valid { fraction: 0.2 }
    }
}

/// An experiment spec (`forecast tune --spec FILE.toml`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentSpec {
    /// Experiment name.
    pub name: String,
    /// The data.
    pub data: DataSpec,
    /// The model and its fixed settings.
    pub model: ModelSpec,
    /// The search space (see [`crate::space`]).
    #[serde(default = "empty_table")]
    pub space: Value,
    /// How trials are scored.
    #[serde(default)]
    pub evaluation: Evaluation,
    /// How the search runs.
    pub tune: TuneConfig,
    /// Tracking settings (read by the tracking layer).
    #[serde(default)]
    pub tracking: Option<Value>,
}

fn empty_table() -> Value {
    Value::Object(Map::new())
}

impl ExperimentSpec {
    /// Read and check a spec file.
    pub fn from_file(path: &Path) -> crate::Result<ExperimentSpec> {
        crate::error::read_spec(path, Self::from_toml)
    }

    /// Parse and check a spec.
    pub fn from_toml(text: &str) -> crate::Result<ExperimentSpec> {
        let spec: ExperimentSpec = toml::from_str(text)
            .map_err(|e| Error::config("", e.to_string().trim().to_string()))?;
        spec.space()?;
        Ok(spec)
    }

    /// The search space.
    pub fn space(&self) -> crate::Result<SearchSpace> {
        SearchSpace::from_json(&self.space)
    }

    /// The experiment directory (`tune.out`, default `experiments/runs/<name>`).
    pub fn out_dir(&self) -> PathBuf {
        self.tune.out_dir(&self.name)
    }
}

impl ModelSpec {
    /// The typed spec of the `[model]` table: the kind's defaults, the fixed config keys,
    /// the transform and the seed (a bad key or value is an error naming it).
    pub fn forecaster_spec(&self) -> crate::Result<ForecasterSpec> {
        let mut spec = ForecasterSpec::new(config_with(&self.kind, &self.config)?);
        if let Some(t) = &self.transform {
            spec.transform = Transform::from_str(t).map_err(|e| {
                Error::invalid_sample("model.transform", &Value::from(t.clone()), e)
            })?;
        }
        spec.seed = self.seed;
        Ok(spec)
    }
}

/// The config of `kind` with the `fixed` keys set (errors name `model.config.KEY`).
fn config_with(kind: &str, fixed: &Map<String, Value>) -> crate::Result<ModelConfig> {
    let mut model = ModelConfig::from_kind(kind)
        .map_err(|e| Error::invalid_sample("kind", &Value::from(kind), e))?;
    for (k, v) in fixed {
        model
            .set_json(k, v.clone())
            .map_err(|e| Error::invalid_sample(&format!("model.config.{k}"), v, e))?;
    }
    Ok(model)
}

/// The objective: data loaded once, trials configure and fit a forecaster (one per
/// series of a panel, scored by the unweighted mean over series).
#[derive(Debug, Clone)]
pub struct ForecastObjective {
    /// The series: one, or each series of a panel.
    series: Vec<PanelSeries>,
    /// The id column when the data is a panel.
    id_column: Option<String>,
    /// A panel's series too short for a trial's model.
    short: ShortPolicy,
    /// The typed spec every trial starts from (fixed keys, transform, seed).
    base: ForecasterSpec,
    /// The fixed config keys, re-applied when a trial samples another `kind`.
    fixed: Map<String, Value>,
    /// Default horizon of backtest evaluations.
    horizon: usize,
    evaluation: Evaluation,
    metric: String,
}

impl ForecastObjective {
    /// Load the spec's data and check its fixed model settings.
    /// A panel is tuned on the pooled metric over its series (local models only).
    pub fn new(spec: &ExperimentSpec) -> crate::Result<ForecastObjective> {
        let data = spec.data.load()?;
        let id_column = data.id_column().map(str::to_string);
        let base = spec.model.forecaster_spec()?;
        let mut objective = Self::from_spec(
            Series::from_values(vec![], 1),
            base,
            spec.model.config.clone(),
            spec.model.horizon,
            spec.evaluation.clone(),
            &spec.tune.metric,
        )?;
        objective.series = data.into_series();
        objective.id_column = id_column;
        objective.short = spec.data.short;
        if objective.id_column.is_some() && objective.base.model.has_key("checkpoint_dir") {
            return Err(Error::config(
                "model.kind",
                format!(
                    "'{}' on a panel would be one network per series; tune a local model (naive, seasonal-naive, naive2, drift, mean, arima, auto-arima, theta, auto-theta, ets, auto-ets, ensemble) on a panel",
                    objective.base.model.kind()
                ),
            ));
        }
        Ok(objective)
    }

    /// An objective over an already loaded series from a typed spec (accuracy studies
    /// tune on the rows before their evaluation window). `fixed` are the config keys to
    /// re-apply when a trial samples another `kind`; `horizon` is the default horizon
    /// of backtest evaluations. The fixed settings alone must make a valid model
    /// (sampled keys are checked per trial).
    pub fn from_spec(
        series: Series,
        base: ForecasterSpec,
        fixed: Map<String, Value>,
        horizon: usize,
        evaluation: Evaluation,
        metric: &str,
    ) -> crate::Result<ForecastObjective> {
        if let Evaluation::Valid { fraction } = evaluation {
            if !(fraction > 0.0 && fraction < 1.0) {
                return Err(Error::config("evaluation.fraction", "must be in (0, 1)"));
            }
        }
        let objective = ForecastObjective {
            series: vec![PanelSeries {
                id: series.schema.target.clone(),
                series,
            }],
            id_column: None,
            short: ShortPolicy::Error,
            base,
            fixed,
            horizon,
            evaluation,
            metric: metric.to_string(),
        };
        objective.configure(&Params::new())?;
        Ok(objective)
    }

    /// The id column when the trials run on a panel.
    pub fn id_column(&self) -> Option<&str> {
        self.id_column.as_deref()
    }

    /// The one series of an objective that is not a panel.
    fn single(&self) -> Option<&Series> {
        match (&self.id_column, self.series.as_slice()) {
            (None, [one]) => Some(&one.series),
            _ => None,
        }
    }

    /// The forecaster spec of a trial: fixed settings, then the sampled keys.
    pub fn configure(&self, params: &Params) -> crate::Result<ForecasterSpec> {
        let invalid = |key: &str, value: &Value, e: forecast_core::Error| {
            Error::invalid_sample(key, value, e)
        };
        let mut model = match params.get("kind") {
            None => self.base.model.clone(),
            Some(v) => {
                let kind = v.as_str().ok_or_else(|| {
                    invalid(
                        "kind",
                        v,
                        forecast_core::Error::config("kind", "must be a model kind name"),
                    )
                })?;
                if kind == self.base.model.kind() {
                    self.base.model.clone()
                } else {
                    config_with(kind, &self.fixed)?
                }
            }
        };
        let mut transform = self.base.transform;
        // (config key, sampled key, value): applied to the typed config in one step.
        let mut sets: Vec<(&str, &str, &Value)> = Vec::new();
        for (key, value) in params {
            let target = match key.split_once('.') {
                Some((k, rest)) if k == model.kind() => rest,
                Some((k, _)) if ModelConfig::from_kind(k).is_ok() => continue, // another kind's key
                _ => key.as_str(),
            };
            match target {
                "kind" => {}
                "transform" => {
                    let text = value.as_str().ok_or_else(|| {
                        invalid(
                            key,
                            value,
                            forecast_core::Error::config(key, "must be a transform name"),
                        )
                    })?;
                    transform = Transform::from_str(text).map_err(|e| invalid(key, value, e))?;
                }
                k => sets.push((k, key, value)),
            }
        }
        let pairs: Vec<(&str, Value)> = sets.iter().map(|(k, _, v)| (*k, (*v).clone())).collect();
        if model.set_json_many(&pairs).is_err() {
            // Name the sampled key at fault, as the trial's error.
            for (k, key, value) in &sets {
                model
                    .set_json(k, (*value).clone())
                    .map_err(|e| invalid(key, value, e))?;
            }
        }
        let mut spec = ForecasterSpec::new(model);
        spec.transform = transform;
        spec.seed = self.base.seed;
        if let Evaluation::Valid { fraction } = self.evaluation {
            spec.valid_fraction = fraction;
        }
        Ok(spec)
    }

    /// Run one trial: configure, fit (forwarding each epoch to the scheduler),
    /// evaluate.
    pub fn run(&self, ctx: &mut TrialContext<'_>) -> Result<(), TrialError> {
        let spec = self.configure(ctx.params())?;
        match self.evaluation {
            Evaluation::Valid { .. } => match self.single() {
                Some(series) => self.run_valid(&spec, series, ctx),
                None => {
                    let fit = fit_panel(&spec, self.id_name(), &self.series, self.short, &|| {})?;
                    failed_series(&fit.failed)?;
                    let each: Vec<Metrics> = fit
                        .fitted
                        .series
                        .iter()
                        .filter_map(|(_, f)| f.valid.as_ref().map(|v| v.metrics))
                        .collect();
                    if each.is_empty() {
                        return Err(TrialError::Failed(
                            "no series was fitted with a validation part".into(),
                        ));
                    }
                    let mut m = metric_pairs("valid", &Metrics::mean(&each));
                    m.push(("series".into(), each.len() as f64));
                    report(ctx, &m);
                    Ok(())
                }
            },
            Evaluation::Backtest {
                folds,
                horizon,
                step,
            } => {
                let horizon = horizon.unwrap_or(self.horizon).max(1);
                let bt = BacktestSpec {
                    horizon,
                    plan: FoldPlan::Count {
                        folds,
                        step: step.unwrap_or(horizon),
                    },
                    refit: Refit::Every,
                };
                let (metrics, naive) = match self.single() {
                    Some(series) => {
                        let r = forecast_core::backtest(&spec, series, &bt, &|| {})?;
                        (r.metrics, r.naive)
                    }
                    None => {
                        let (score, failed) =
                            backtest_panel(&spec, &self.series, &bt, self.short, &|| {})?;
                        failed_series(&failed)?;
                        if score.series == 0 {
                            return Err(TrialError::Failed(format!(
                                "no series was scored ({} skipped as too short)",
                                score.skipped.len()
                            )));
                        }
                        (score.metrics, score.naive)
                    }
                };
                let mut m = metric_pairs("backtest", &metrics);
                if let Some(v) = naive.mase {
                    m.push(("naive_mase".into(), v));
                }
                let refs: Vec<(&str, f64)> = m.iter().map(|(k, v)| (k.as_str(), *v)).collect();
                ctx.report(&refs, None);
                Ok(())
            }
        }
    }

    /// The id column's name (`unique_id` for one series).
    fn id_name(&self) -> &str {
        self.id_column.as_deref().unwrap_or("unique_id")
    }

    fn run_valid(
        &self,
        spec: &ForecasterSpec,
        series: &Series,
        ctx: &mut TrialContext<'_>,
    ) -> Result<(), TrialError> {
        // Neural models checkpoint every epoch into a directory of this attempt.
        let mut spec = spec.clone();
        let ckpt_dir = if spec.model.has_key("checkpoint_dir") {
            let dir = tempfile::Builder::new()
                .prefix("tune-trial-")
                .tempdir()
                .map_err(|source| TrialError::Io {
                    what: "creating the trial's checkpoint directory".into(),
                    source,
                })?;
            if let Some(bytes) = ctx.checkpoint() {
                unpack_checkpoint(bytes, dir.path())?;
            }
            spec.model.set_json(
                "checkpoint_dir",
                Value::from(dir.path().to_string_lossy().into_owned()),
            )?;
            Some(dir)
        } else {
            None
        };
        let ckpt_path = ckpt_dir.as_ref().map(|d| d.path().to_path_buf());
        // The directory holds the state after the last epoch the trainer finished; it is
        // the trial's checkpoint when that epoch is the last reported iteration.
        let save = |ctx: &mut TrialContext<'_>| -> Result<(), TrialError> {
            let Some(dir) = &ckpt_path else {
                return Ok(());
            };
            if checkpoint_epoch(dir) == Some(ctx.iteration()) {
                ctx.save_checkpoint(&pack_checkpoint(dir)?);
            }
            Ok(())
        };
        let spec = &spec;
        let metric = self.metric.clone();
        // Epochs that carry the metric go to the scheduler at once; an epoch without it
        // (a one-shot fit) waits for the validation metrics and goes with them.
        let held: RefCell<Option<Vec<(String, f64)>>> = RefCell::new(None);
        let stopped = RefCell::new(false);
        let forecaster = {
            let ctx_cell = RefCell::new(&mut *ctx);
            let save_error: RefCell<Option<TrialError>> = RefCell::new(None);
            let mut reporter = |r: &EpochReport| -> Decision {
                // The previous epoch's checkpoint, now on disk.
                if let Err(e) = save(&mut ctx_cell.borrow_mut()) {
                    save_error.borrow_mut().get_or_insert(e);
                    return Decision::Stop;
                }
                let m = r.metrics();
                if m.iter().any(|(k, _)| *k == metric) {
                    if let Some(prev) = held.borrow_mut().take() {
                        report(&mut ctx_cell.borrow_mut(), &prev);
                    }
                    if report(&mut ctx_cell.borrow_mut(), &m) == Control::Stop {
                        *stopped.borrow_mut() = true;
                        return Decision::Stop;
                    }
                } else if let Some(prev) = held.borrow_mut().replace(m) {
                    report(&mut ctx_cell.borrow_mut(), &prev);
                }
                if ckpt_path.is_some() {
                    Decision::Checkpoint
                } else {
                    Decision::Continue
                }
            };
            let fitted = spec.fit(series, &mut reporter);
            if let Some(e) = save_error.into_inner() {
                return Err(e);
            }
            let fitted = fitted?;
            // The last epoch's checkpoint (a paused trial resumes from it).
            save(&mut ctx_cell.borrow_mut())?;
            fitted
        };
        if *stopped.borrow() {
            return Ok(());
        }
        let pending = held.into_inner();
        let mut m = pending.unwrap_or_default();
        let forwarded_any = ctx.iteration() > 0;
        // Models that report the metric every epoch (neural ones, whose horizon may be
        // shorter than the validation part) are done; the others report the
        // validation forecast's accuracy with their last epoch.
        if !m.is_empty() || !forwarded_any {
            m.extend(Self::valid_metrics(&forecaster));
            report(ctx, &m);
        }
        Ok(())
    }

    /// Accuracy of the forecast of the validation rows from the end of the training
    /// rows (one multi-step forecast, in the original units), as the fit scored it.
    fn valid_metrics(f: &Forecaster) -> Vec<(String, f64)> {
        f.valid
            .as_ref()
            .map(|v| metric_pairs("valid", &v.metrics))
            .unwrap_or_default()
    }

    /// Fit the forecaster of `params` as its trial did (same split and seed), with
    /// `epochs` capped at `iterations` when the trial was stopped early, to be saved as
    /// the best model: one forecaster, or one per series of a panel.
    pub fn fit_best(
        &self,
        params: &Params,
        iterations: Option<usize>,
    ) -> Result<BestModel, TrialError> {
        let mut spec = self.configure(params)?;
        if let Some(n) = iterations {
            if spec.model.has_key("epochs") {
                spec.model.set_json("epochs", Value::from(n))?;
            }
        }
        match self.single() {
            Some(series) => Ok(BestModel::One(Box::new(spec.fit_quiet(series)?))),
            None => {
                let fit = fit_panel(&spec, self.id_name(), &self.series, self.short, &|| {})?;
                failed_series(&fit.failed)?;
                Ok(BestModel::Panel(fit.fitted))
            }
        }
    }
}

/// The best trial's model, refitted.
#[derive(Debug)]
pub enum BestModel {
    /// One series' forecaster.
    One(Box<Forecaster>),
    /// A forecaster per series of a panel.
    Panel(PanelForecaster),
}

/// A trial on a panel fails when any series fails (a pooled metric over the series
/// that happened to fit would not compare with other trials').
fn failed_series(failed: &[Failed]) -> Result<(), TrialError> {
    match failed {
        [] => Ok(()),
        [first, ..] => Err(TrialError::Failed(format!(
            "{} series failed; first: series '{}': {}",
            failed.len(),
            first.unique_id,
            first.error
        ))),
    }
}

/// The epoch of the training-loop checkpoint in `dir`, if it holds one.
fn checkpoint_epoch(dir: &Path) -> Option<usize> {
    let text = std::fs::read(dir.join("state.json")).ok()?;
    let v: Value = serde_json::from_slice(&text).ok()?;
    v.get("epoch")?.as_u64().map(|e| e as usize)
}

/// The files of a training-loop checkpoint directory as a tar archive.
fn pack_checkpoint(dir: &Path) -> Result<Vec<u8>, TrialError> {
    let err = |source: std::io::Error| TrialError::Io {
        what: format!("packing checkpoint {}", dir.display()),
        source,
    };
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(err)?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| PathBuf::from(e.file_name()))
        .filter(|n| !n.to_string_lossy().starts_with('.')) // temporary files
        .collect();
    names.sort();
    let mut tar = tar::Builder::new(Vec::new());
    for name in &names {
        tar.append_path_with_name(dir.join(name), name)
            .map_err(err)?;
    }
    tar.into_inner().map_err(err)
}

/// Unpack a checkpoint written by [`pack_checkpoint`] into `dir`.
fn unpack_checkpoint(bytes: &[u8], dir: &Path) -> Result<(), TrialError> {
    tar::Archive::new(bytes)
        .unpack(dir)
        .map_err(|source| TrialError::Io {
            what: "unpacking the trial's checkpoint".into(),
            source,
        })
}

fn report(ctx: &mut TrialContext<'_>, m: &[(String, f64)]) -> Control {
    let refs: Vec<(&str, f64)> = m.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    ctx.report(&refs, None)
}

/// `prefix_name` pairs of `m`'s metrics; the validation metrics leave out the
/// directional accuracy (one multi-step forecast makes few calls).
fn metric_pairs(prefix: &str, m: &Metrics) -> Vec<(String, f64)> {
    m.pairs()
        .into_iter()
        .filter(|(k, _)| prefix != "valid" || *k != "directional_accuracy")
        .map(|(k, v)| (format!("{prefix}_{k}"), v))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_samples_name_the_key() {
        let spec = ExperimentSpec::from_toml(
            r#"
            name = "t"
            [data]
            path = "x.csv"
            target = "y"
            [model]
            kind = "seasonal-naive"
            [space]
            season_length = { choice = [0, 12] }
            [tune]
            metric = "valid_mae"
            "#,
        )
        .unwrap();
        let obj = ForecastObjective::from_spec(
            Series::from_values((0..48).map(|i| (i % 12) as f64).collect(), 12),
            spec.model.forecaster_spec().unwrap(),
            spec.model.config.clone(),
            spec.model.horizon,
            spec.evaluation.clone(),
            &spec.tune.metric,
        )
        .unwrap();
        let bad: Params = [("season_length".to_string(), Value::from(1.5))].into();
        let e = obj.configure(&bad).unwrap_err().to_string();
        assert!(e.contains("season_length") && e.contains("1.5"), "{e}");
        let bad: Params = [("hidden_size".to_string(), Value::from(3))].into();
        let e = obj.configure(&bad).unwrap_err().to_string();
        assert!(e.contains("hidden_size"), "{e}");
        let ok: Params = [
            ("kind".to_string(), Value::from("naive")),
            ("seasonal-naive.season_length".to_string(), Value::from(4)),
        ]
        .into();
        assert_eq!(obj.configure(&ok).unwrap().model.kind(), "naive");
    }

    #[test]
    fn spec_errors_are_clear() {
        let e = ExperimentSpec::from_toml("name = \"t\"\n[tune]\nmetric = \"m\"\nbogus = 1")
            .unwrap_err()
            .to_string();
        assert!(e.contains("bogus") || e.contains("data"), "{e}");
    }
}
