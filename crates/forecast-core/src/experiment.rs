//! Accuracy studies: one declarative spec (TOML) runs rolling-origin backtests of several
//! models at several horizons on one series, always beside the naive forecast on the
//! same folds, and renders the result as JSON and Markdown tables.
//!
//! ```toml
//! name = "quick-airpassengers"
//! [data]
//! path = "datasets/airpassengers.csv"
//! target = "passengers"
//! [evaluation]
//! horizons = [12]
//! folds = 4          # origins end at the last row, `step` rows apart
//! step = 12          # default: the horizon
//! refit = "every"    # every | never | N (per model: `refit = ...`)
//! [[model]]
//! kind = "seasonal-naive"
//! [[model]]
//! kind = "arima"
//! name = "arima-airline"
//! transform = "log"
//! set = { order = "0,1,1", seasonal_order = "0,1,1,12" }
//! [[model]]
//! kind = "lstm"
//! set = { hidden_size = 16, epochs = 5 }
//! tune = { samples = 8, space = { learning_rate = { loguniform = [1e-4, 1e-2] } } }
//! ```
//!
//! Every model is checked before any data is touched: an unknown kind, an unknown
//! config key or a bad value is an error naming the model and the key. Models with a
//! `tune` table are tuned by a [`StudyTuner`] (the tuner crate provides one) on the rows
//! before the earliest evaluation window only, so no test fold is seen while tuning.

use crate::backtest::{backtest, BacktestReport, BacktestSpec, Refit};
use crate::data::{load, CalendarChoice, LoadOptions, MissingPolicy};
use crate::error::{Error, Result};
use crate::features::Feature;
use crate::metrics::Metrics;
use crate::models::ModelConfig;
use crate::pipeline::ForecasterSpec;
use crate::series::{Series, SeriesSpec};
use crate::split::{rolling_origin, FoldPlan};
use crate::transform::Transform;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Instant;

/// The `[data]` table of a study.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StudyData {
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

impl StudyData {
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

/// The `[evaluation]` table: horizons and rolling-origin folds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StudyEvaluation {
    /// Forecast horizons; each gets its own folds and table.
    pub horizons: Vec<usize>,
    /// Folds per horizon, the last one ending at the last row.
    pub folds: usize,
    /// Rows between origins (default: the horizon).
    #[serde(default)]
    pub step: Option<usize>,
    /// Default refit policy: `every`, `never` or a number of folds.
    #[serde(default)]
    pub refit: Option<String>,
    /// Run the backtests of different models at the same time (default true).
    #[serde(default = "yes")]
    pub parallel: bool,
}

fn yes() -> bool {
    true
}

/// One `[[model]]` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StudyModel {
    /// Model kind (any `--model` kind of this build).
    pub kind: String,
    /// Name in the tables (default: the kind). Unique within a study.
    #[serde(default)]
    pub name: Option<String>,
    /// Target transform (`"log"`, `"boxcox:0.5"`).
    #[serde(default)]
    pub transform: Option<String>,
    /// Refit policy of this model (default: the evaluation's).
    #[serde(default)]
    pub refit: Option<String>,
    /// Config keys, as `--set KEY=VALUE`: a string is read as on the command line
    /// (`order = "1,1,1"`), other TOML values as they are.
    #[serde(default)]
    pub set: Map<String, Value>,
    /// Seed of the model.
    #[serde(default)]
    pub seed: u64,
    /// Tune this model before evaluating (settings read by the [`StudyTuner`]).
    #[serde(default)]
    pub tune: Option<Value>,
}

impl StudyModel {
    /// The name in the tables.
    pub fn display_name(&self) -> String {
        self.name.clone().unwrap_or_else(|| self.kind.clone())
    }
}

/// A study spec (`forecast experiment run FILE.toml`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StudySpec {
    /// Study name; the results are written as `<name>.json` and `<name>.md`.
    pub name: String,
    /// What the study asks.
    #[serde(default)]
    pub description: Option<String>,
    /// The series.
    pub data: StudyData,
    /// Horizons and folds.
    pub evaluation: StudyEvaluation,
    /// The models (`[[model]]`); the naive forecast is added when absent.
    #[serde(rename = "model")]
    pub models: Vec<StudyModel>,
}

/// A model of a study, checked and ready to fit.
#[derive(Debug, Clone, PartialEq)]
pub struct PreparedModel {
    /// The entry as written.
    pub entry: StudyModel,
    /// Name in the tables.
    pub name: String,
    /// Model, transform and seed (horizon set per run).
    pub spec: ForecasterSpec,
    /// Refit policy.
    pub refit: Refit,
    /// The entry's `set` keys, as the typed config holds them.
    pub fixed: Map<String, Value>,
}

impl PreparedModel {
    /// The spec at `horizon` (models with a `horizon` key forecast that many steps per
    /// pass).
    pub fn spec_at(&self, horizon: usize) -> Result<ForecasterSpec> {
        with_horizon(&self.spec, horizon)
    }
}

/// `spec` with the model's `horizon` key (when it has one) set to `horizon`.
pub fn with_horizon(spec: &ForecasterSpec, horizon: usize) -> Result<ForecasterSpec> {
    let mut spec = spec.clone();
    if spec.model.config_json().get("horizon").is_some() {
        spec.model.set_json("horizon", Value::from(horizon))?;
    }
    Ok(spec)
}

/// What a [`StudyTuner`] is asked to tune.
#[derive(Debug)]
pub struct TuneRequest<'a> {
    /// The model (its fixed keys in `fixed`).
    pub model: &'a PreparedModel,
    /// The spec at the horizon, before tuning.
    pub spec: &'a ForecasterSpec,
    /// Only the rows before the earliest evaluation window.
    pub history: &'a Series,
    /// Forecast horizon.
    pub horizon: usize,
    /// The model's `tune` table.
    pub settings: &'a Value,
}

/// The result of tuning one model at one horizon.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TuneOutcome {
    /// The tuned spec to evaluate.
    #[serde(skip)]
    pub spec: Option<ForecasterSpec>,
    /// The best trial's sampled keys.
    pub params: Value,
    /// The metric it was chosen by, and its value.
    pub metric: String,
    /// Best value of the metric (on the tuning rows).
    pub value: Option<f64>,
    /// Trials run.
    pub trials: usize,
    /// Trials stopped early by the scheduler.
    pub stopped_early: usize,
    /// Rows tuned on (all before the first evaluation origin).
    pub rows: usize,
    /// Wall time of the search.
    pub seconds: f64,
}

/// Tunes models for a study (implemented by the tuner crate, which depends on this one).
pub trait StudyTuner: Sync {
    /// Check a model's `tune` table before anything runs.
    fn check(&self, model: &PreparedModel, settings: &Value) -> Result<()>;
    /// Search on `req.history` and return the spec to evaluate.
    fn tune(&self, req: &TuneRequest<'_>) -> Result<TuneOutcome>;
}

impl StudySpec {
    /// Read a spec file.
    pub fn from_file(path: &Path) -> Result<StudySpec> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::from_toml(&text).map_err(|e| match e {
            Error::InvalidConfig { key, message } if key.is_empty() => Error::Parse {
                path: path.to_path_buf(),
                message,
            },
            other => other,
        })
    }

    /// Parse a spec (TOML) and check its shape.
    pub fn from_toml(text: &str) -> Result<StudySpec> {
        let spec: StudySpec = toml::from_str(text)
            .map_err(|e| Error::config("", e.to_string().trim().replace('\n', " ")))?;
        spec.check_shape()?;
        Ok(spec)
    }

    fn check_shape(&self) -> Result<()> {
        if self.name.is_empty()
            || !self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            || self.name.starts_with('.')
        {
            return Err(Error::config(
                "name",
                format!(
                    "'{}' must be a non-empty file name of letters, digits, '-', '_' or '.'",
                    self.name
                ),
            ));
        }
        let ev = &self.evaluation;
        if ev.horizons.is_empty() || ev.horizons.contains(&0) {
            return Err(Error::config(
                "evaluation.horizons",
                "must list at least one horizon, each at least 1",
            ));
        }
        let mut seen = HashSet::new();
        for h in &ev.horizons {
            if !seen.insert(h) {
                return Err(Error::config(
                    "evaluation.horizons",
                    format!("horizon {h} listed twice"),
                ));
            }
        }
        if ev.folds == 0 || ev.step == Some(0) {
            return Err(Error::config(
                "evaluation.folds",
                "folds and step must be at least 1",
            ));
        }
        if self.models.is_empty() {
            return Err(Error::config("model", "the study lists no [[model]]"));
        }
        Ok(())
    }

    /// Check every model (kind, keys, values, transform, refit) and add the naive
    /// baseline when the spec has no plain naive model.
    pub fn prepare_models(&self) -> Result<Vec<PreparedModel>> {
        let mut entries = self.models.clone();
        let has_naive = entries
            .iter()
            .any(|m| m.kind == "naive" && m.transform.is_none() && m.name.is_none());
        if !has_naive {
            entries.insert(
                0,
                StudyModel {
                    kind: "naive".into(),
                    name: None,
                    transform: None,
                    refit: None,
                    set: Map::new(),
                    seed: 0,
                    tune: None,
                },
            );
        }
        let default_refit = self.evaluation.refit.as_deref().unwrap_or("every");
        let default_refit: Refit = default_refit
            .parse()
            .map_err(|e: Error| Error::config("evaluation.refit", e.to_string()))?;
        let mut names = HashSet::new();
        let mut out = Vec::new();
        for (i, m) in entries.into_iter().enumerate() {
            let name = m.display_name();
            let place = format!("model '{name}'");
            let ctx = |e: Error| Error::config(&place, e.to_string());
            if !names.insert(name.clone()) {
                return Err(Error::config(
                    &place,
                    format!(
                        "the name is used twice (entry {}); give one a `name`",
                        i + 1
                    ),
                ));
            }
            let mut model = ModelConfig::from_kind(&m.kind).map_err(ctx)?;
            for (k, v) in &m.set {
                match v {
                    Value::String(s) => model.set(k, s),
                    other => model.set_json(k, other.clone()),
                }
                .map_err(ctx)?;
            }
            let config = model.config_json();
            let fixed: Map<String, Value> = m
                .set
                .keys()
                .map(|k| (k.clone(), config.get(k).cloned().unwrap_or(Value::Null)))
                .collect();
            let transform = match &m.transform {
                Some(t) => Transform::from_str(t).map_err(ctx)?,
                None => Transform::None,
            };
            let refit = match &m.refit {
                Some(r) => r.parse().map_err(ctx)?,
                None => default_refit,
            };
            let mut spec = ForecasterSpec::new(model);
            spec.transform = transform;
            spec.seed = m.seed;
            out.push(PreparedModel {
                entry: m,
                name,
                spec,
                refit,
                fixed,
            });
        }
        Ok(out)
    }
}

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
    pub data: StudyData,
    /// Rows of the series.
    pub rows: usize,
    /// Season length used (MASE scale, seasonal models).
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
    /// Models that failed, as `(horizon, name, error)`.
    pub fn failures(&self) -> Vec<(usize, String, String)> {
        self.results
            .iter()
            .flat_map(|h| {
                h.models.iter().filter_map(move |m| {
                    m.error
                        .as_ref()
                        .map(|e| (h.horizon, m.name.clone(), e.clone()))
                })
            })
            .collect()
    }

    /// The tables as Markdown: one per horizon, each model beside the naive forecast.
    pub fn to_markdown(&self) -> String {
        let mut s = String::new();
        s.push_str(&format!("## {}\n\n", self.name));
        if let Some(d) = &self.description {
            s.push_str(&format!("{}\n\n", d.trim()));
        }
        s.push_str(&format!(
            "Data: `{}`, target `{}`, {} rows, season length {}.",
            self.data.path.display(),
            self.data.target,
            self.rows,
            self.season_length
        ));
        if self.tuning_rows > 0 {
            s.push_str(&format!(
                " Tuned models saw only the first {} rows (before every evaluation window).",
                self.tuning_rows
            ));
        }
        s.push('\n');
        for (k, v) in &self.provenance {
            s.push_str(&format!("- {k}: {v}\n"));
        }
        s.push('\n');
        let opt = |v: Option<f64>, d: usize| v.map_or("-".to_string(), |v| format!("{v:.d$}"));
        for h in &self.results {
            s.push_str(&format!(
                "### horizon {} ({} folds, step {}, origins after rows {}..={})\n\n",
                h.horizon, h.folds, h.step, h.first_origin, h.last_origin
            ));
            s.push_str("| model | MAE | RMSE | MAPE % | sMAPE % | MASE | dir. acc. | MAE / naive | beats naive | seconds |\n");
            s.push_str("|---|---:|---:|---:|---:|---:|---:|---:|:---:|---:|\n");
            for m in &h.models {
                let name = if m.transform == "none" {
                    m.name.clone()
                } else {
                    format!("{} ({})", m.name, m.transform)
                };
                match &m.metrics {
                    Some(x) => s.push_str(&format!(
                        "| {name} | {:.4} | {:.4} | {} | {:.3} | {} | {:.3} | {} | {} | {:.2} |\n",
                        x.mae,
                        x.rmse,
                        opt(x.mape, 3),
                        x.smape,
                        opt(x.mase, 3),
                        x.directional_accuracy,
                        opt(m.relative_mae, 3),
                        match m.beats_naive {
                            Some(true) => "yes",
                            Some(false) => "no",
                            None => "-",
                        },
                        m.seconds
                    )),
                    None => s.push_str(&format!(
                        "| {name} | failed: {} | | | | | | | | {:.2} |\n",
                        m.error
                            .as_deref()
                            .unwrap_or("")
                            .replace('|', "/")
                            .replace('\n', " "),
                        m.seconds
                    )),
                }
            }
            s.push('\n');
        }
        let tuned: Vec<String> = self
            .results
            .iter()
            .flat_map(|h| {
                h.models.iter().filter_map(move |m| {
                    m.tuned.as_ref().map(|t| {
                        format!(
                            "- {} at horizon {}: {} trials ({} stopped early) on {} rows in {:.1} s, best {} = {}, params `{}`",
                            m.name,
                            h.horizon,
                            t.trials,
                            t.stopped_early,
                            t.rows,
                            t.seconds,
                            t.metric,
                            t.value.map_or("-".into(), |v| format!("{v:.5}")),
                            t.params
                        )
                    })
                })
            })
            .collect();
        if !tuned.is_empty() {
            s.push_str("Tuning:\n\n");
            for t in tuned {
                s.push_str(&t);
                s.push('\n');
            }
            s.push('\n');
        }
        s.push_str(
            "MASE scales each fold's MAE by the in-sample MAE of the seasonal naive forecast on \
             that fold's training rows. Directional accuracy counts steps whose forecast moves \
             the same way as the actual value from the last observation; a flat forecast makes \
             no call, so the naive forecast scores 0. MAE / naive below 1 beats the naive \
             forecast on the same folds. Seconds are wall time with models run in parallel.\n",
        );
        s
    }
}

/// The folds plan of one horizon.
fn plan_for(ev: &StudyEvaluation, horizon: usize) -> FoldPlan {
    FoldPlan::Count {
        folds: ev.folds,
        step: ev.step.unwrap_or(horizon),
    }
}

/// A transform as written in specs and on the command line.
pub fn transform_name(t: &Transform) -> String {
    match t {
        Transform::None => "none".into(),
        Transform::Log => "log".into(),
        Transform::BoxCox { lambda } => format!("boxcox:{lambda}"),
        Transform::Standard => "standard".into(),
        Transform::MinMax => "minmax".into(),
        Transform::Difference { lag } => format!("diff:{lag}"),
    }
}

fn refit_name(r: Refit) -> String {
    match r {
        Refit::Every => "every".into(),
        Refit::Never => "never".into(),
        Refit::EveryN(n) => n.to_string(),
    }
}

/// A study ready to run: the spec, its checked models and its series.
#[derive(Debug, Clone)]
pub struct Study {
    /// The spec.
    pub spec: StudySpec,
    /// Checked models (naive first when it was added).
    pub models: Vec<PreparedModel>,
    /// The series.
    pub series: Series,
}

impl Study {
    /// Check the models, load the data and check that every horizon's folds fit in it.
    pub fn prepare(spec: StudySpec, tuner: Option<&dyn StudyTuner>) -> Result<Study> {
        let models = spec.prepare_models()?;
        for m in &models {
            if let Some(settings) = &m.entry.tune {
                let t = tuner.ok_or_else(|| {
                    Error::config(
                        format!("model '{}'.tune", m.name),
                        "this build cannot tune inside a study",
                    )
                })?;
                t.check(m, settings)?;
            }
        }
        let series = spec.data.load_series()?;
        let study = Study {
            spec,
            models,
            series,
        };
        for &h in &study.spec.evaluation.horizons {
            study.folds_at(h)?;
        }
        Ok(study)
    }

    /// Most training rows any model needs.
    fn min_train(&self) -> usize {
        self.models
            .iter()
            .map(|m| m.spec.model.min_train_rows(self.series.season_length))
            .max()
            .unwrap_or(1)
    }

    fn folds_at(&self, horizon: usize) -> Result<Vec<crate::split::Fold>> {
        rolling_origin(
            self.series.len(),
            horizon,
            plan_for(&self.spec.evaluation, horizon),
            self.min_train(),
        )
    }

    /// Total folds to run over all horizons and models (for progress bars).
    pub fn total_folds(&self) -> usize {
        self.spec.evaluation.horizons.len() * self.spec.evaluation.folds * self.models.len()
    }

    /// Rows before the earliest evaluation window (what tuning may see).
    pub fn tuning_rows(&self) -> Result<usize> {
        let mut first = self.series.len();
        for &h in &self.spec.evaluation.horizons {
            if let Some(f) = self.folds_at(h)?.first() {
                first = first.min(f.origin());
            }
        }
        Ok(first)
    }

    /// Run the study: tune what the spec tunes (on the rows before the earliest
    /// evaluation window), then backtest every model at every horizon. A model that fails
    /// is reported as failed in its row; the others still run. `on_fold` is called once
    /// per finished fold, `on_stage` with a line saying what runs now.
    pub fn run(
        &self,
        tuner: Option<&dyn StudyTuner>,
        on_fold: &(dyn Fn() + Sync),
        on_stage: &(dyn Fn(&str) + Sync),
    ) -> Result<StudyReport> {
        let start = Instant::now();
        let ev = &self.spec.evaluation;
        let tuning_rows = self.tuning_rows()?;
        let history = self.series.head(tuning_rows);
        // 1. Specs per (horizon, model), tuned where asked.
        type Task = (
            usize,
            usize,
            std::result::Result<ForecasterSpec, String>,
            Option<TuneOutcome>,
        );
        let mut tasks: Vec<Task> = Vec::new();
        for &h in &ev.horizons {
            for (i, m) in self.models.iter().enumerate() {
                let spec = m.spec_at(h).map_err(|e| e.to_string());
                let (spec, tuned) = match (spec, &m.entry.tune, tuner) {
                    (Ok(spec), Some(settings), Some(t)) => {
                        on_stage(&format!("tuning {} at horizon {h}", m.name));
                        let req = TuneRequest {
                            model: m,
                            spec: &spec,
                            history: &history,
                            horizon: h,
                            settings,
                        };
                        match t.tune(&req) {
                            Ok(mut out) => {
                                let s = out.spec.take().unwrap_or(spec);
                                (Ok(s), Some(out))
                            }
                            Err(e) => (Err(format!("tuning: {e}")), None),
                        }
                    }
                    (spec, _, _) => (spec, None),
                };
                tasks.push((h, i, spec, tuned));
            }
        }
        on_stage("backtests");
        // 2. Backtests, models in parallel (each backtest runs its folds in parallel too).
        let run_one = |(h, i, spec, tuned): &Task| -> ModelResult {
            let m = &self.models[*i];
            let t0 = Instant::now();
            let outcome: std::result::Result<BacktestReport, String> =
                spec.as_ref().map_err(Clone::clone).and_then(|spec| {
                    let bt = BacktestSpec {
                        horizon: *h,
                        plan: plan_for(ev, *h),
                        refit: m.refit,
                    };
                    backtest(spec, &self.series, &bt, on_fold).map_err(|e| e.to_string())
                });
            let seconds = t0.elapsed().as_secs_f64();
            let mut config = m.fixed.clone();
            if let Some(Value::Object(p)) = tuned.as_ref().map(|t| &t.params) {
                for (k, v) in p {
                    config.insert(k.clone(), v.clone());
                }
            }
            let transform =
                transform_name(spec.as_ref().map_or(&m.spec.transform, |s| &s.transform));
            let mut r = ModelResult {
                name: m.name.clone(),
                kind: m.spec.model.kind().to_string(),
                transform,
                refit: refit_name(m.refit),
                config,
                metrics: None,
                naive: None,
                relative_mae: None,
                beats_naive: None,
                seconds,
                tuned: tuned.clone(),
                error: None,
            };
            match outcome {
                Ok(rep) => {
                    let rel = rep.metrics.mae / rep.naive.mae;
                    r.relative_mae = rel.is_finite().then_some(rel);
                    r.beats_naive = Some(rep.metrics.mae < rep.naive.mae);
                    r.metrics = Some(rep.metrics);
                    r.naive = Some(rep.naive);
                }
                Err(e) => r.error = Some(e),
            }
            r
        };
        let rows: Vec<ModelResult> = if ev.parallel {
            tasks.par_iter().map(run_one).collect()
        } else {
            tasks.iter().map(run_one).collect()
        };
        let mut results = Vec::new();
        let per = self.models.len();
        for (k, &h) in ev.horizons.iter().enumerate() {
            let folds = self.folds_at(h)?;
            results.push(HorizonResult {
                horizon: h,
                folds: folds.len(),
                step: ev.step.unwrap_or(h),
                first_origin: folds.first().map_or(0, |f| f.origin()),
                last_origin: folds.last().map_or(0, |f| f.origin()),
                models: rows[k * per..(k + 1) * per].to_vec(),
            });
        }
        Ok(StudyReport {
            name: self.spec.name.clone(),
            description: self.spec.description.clone(),
            data: self.spec.data.clone(),
            rows: self.series.len(),
            season_length: self.series.season_length,
            tuning_rows: if self.models.iter().any(|m| m.entry.tune.is_some()) {
                tuning_rows
            } else {
                0
            },
            results,
            seconds: start.elapsed().as_secs_f64(),
            provenance: BTreeMap::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: &str = r#"
        name = "t"
        [data]
        path = "unused.csv"
        target = "y"
        [evaluation]
        horizons = [3, 6]
        folds = 3
        [[model]]
        kind = "seasonal-naive"
        [[model]]
        kind = "drift"
        transform = "log"
        refit = "never"
    "#;

    fn study(text: &str, y: Vec<f64>) -> Study {
        let spec = StudySpec::from_toml(text).unwrap();
        let models = spec.prepare_models().unwrap();
        Study {
            spec,
            models,
            series: Series::from_values(y, 12),
        }
    }

    fn seasonal() -> Vec<f64> {
        (0..96)
            .map(|i| 100.0 + 10.0 * ((i % 12) as f64 - 6.0).abs() + 0.5 * i as f64)
            .collect()
    }

    #[test]
    fn naive_is_added_and_every_row_matches_a_direct_backtest() {
        let s = study(SPEC, seasonal());
        assert_eq!(s.models[0].name, "naive");
        let r = s.run(None, &|| {}, &|_| {}).unwrap();
        assert_eq!(r.results.len(), 2);
        for h in &r.results {
            assert_eq!(h.models.len(), 3);
            for (m, row) in s.models.iter().zip(&h.models) {
                // Independent reference: the plain backtest of that model.
                let bt = BacktestSpec {
                    horizon: h.horizon,
                    plan: FoldPlan::Count {
                        folds: 3,
                        step: h.horizon,
                    },
                    refit: m.refit,
                };
                let direct = backtest(&m.spec, &s.series, &bt, &|| {}).unwrap();
                assert_eq!(row.metrics.as_ref(), Some(&direct.metrics), "{}", row.name);
                assert_eq!(row.naive.as_ref(), Some(&direct.naive));
            }
            // The naive row is the baseline itself.
            assert_eq!(h.models[0].relative_mae, Some(1.0));
            assert_eq!(h.models[0].beats_naive, Some(false));
            assert_eq!(h.first_origin, 96 - h.horizon * 3);
        }
        let md = r.to_markdown();
        assert!(
            md.contains("### horizon 3") && md.contains("| naive |"),
            "{md}"
        );
        assert!(md.contains("| drift (log) |"), "{md}");
    }

    #[test]
    fn seasonal_naive_beats_naive_on_a_seasonal_series() {
        let s = study(SPEC, seasonal());
        let r = s.run(None, &|| {}, &|_| {}).unwrap();
        let sn = &r.results[1].models[1];
        assert_eq!(sn.name, "seasonal-naive");
        assert_eq!(sn.beats_naive, Some(true));
    }

    #[test]
    fn bad_specs_name_the_problem() {
        let bad_kind = SPEC.replace("\"drift\"", "\"prophet\"");
        let e = StudySpec::from_toml(&bad_kind)
            .unwrap()
            .prepare_models()
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("prophet") && e.contains("model 'prophet'"),
            "{e}"
        );
        let bad_key = SPEC.replace("refit = \"never\"", "set = { hidden = 3 }");
        let e = StudySpec::from_toml(&bad_key)
            .unwrap()
            .prepare_models()
            .unwrap_err()
            .to_string();
        assert!(e.contains("hidden"), "{e}");
        let e = StudySpec::from_toml(&SPEC.replace("[3, 6]", "[]"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("evaluation.horizons"), "{e}");
        let e = StudySpec::from_toml(&SPEC.replace("folds = 3", "folds = 3\nbogus = 1"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("bogus"), "{e}");
        let e = StudySpec::from_toml(&SPEC.replace("name = \"t\"", "name = \"../x\""))
            .unwrap_err()
            .to_string();
        assert!(e.contains("name"), "{e}");
    }

    #[test]
    fn too_short_series_is_an_error_before_running() {
        let spec = StudySpec::from_toml(SPEC).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("y.csv");
        std::fs::write(&path, "y\n1\n2\n3\n4\n5\n").unwrap();
        let mut spec = spec;
        spec.data.path = path;
        let e = Study::prepare(spec, None).unwrap_err().to_string();
        assert!(e.contains("folds"), "{e}");
    }

    #[test]
    fn a_failing_model_is_reported_and_the_others_run() {
        // Log transform of a series with negative values fails at fit time.
        let y: Vec<f64> = seasonal().iter().map(|v| v - 150.0).collect();
        let s = study(SPEC, y);
        let r = s.run(None, &|| {}, &|_| {}).unwrap();
        let f = r.failures();
        assert_eq!(f.len(), 2, "{f:?}");
        assert!(f.iter().all(|(_, n, _)| n == "drift"));
        assert!(r.results[0].models[1].metrics.is_some());
        assert!(r.to_markdown().contains("failed:"));
    }

    #[test]
    fn tuning_sees_only_rows_before_the_first_window() {
        struct Spy;
        impl StudyTuner for Spy {
            fn check(&self, _: &PreparedModel, _: &Value) -> Result<()> {
                Ok(())
            }
            fn tune(&self, req: &TuneRequest<'_>) -> Result<TuneOutcome> {
                // Earliest window: horizon 6, 3 folds -> origin 96 - 18 = 78.
                assert_eq!(req.history.len(), 78);
                Ok(TuneOutcome {
                    spec: Some(req.spec.clone()),
                    params: Value::Null,
                    metric: "m".into(),
                    value: None,
                    trials: 0,
                    stopped_early: 0,
                    rows: req.history.len(),
                    seconds: 0.0,
                })
            }
        }
        let text = SPEC.replace("refit = \"never\"", "tune = { samples = 1 }");
        let s = study(&text, seasonal());
        let r = s.run(Some(&Spy), &|| {}, &|_| {}).unwrap();
        assert_eq!(r.tuning_rows, 78);
        assert_eq!(r.results[0].models[2].tuned.as_ref().unwrap().rows, 78);
    }
}
