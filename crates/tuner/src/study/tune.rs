//! Tuning inside accuracy studies: a short search (ASHA
//! or any scheduler) on the rows before the study's evaluation window, then the best
//! config is evaluated on the study's folds.
//!
//! A model's `tune` table holds the `[tune]` keys of a `forecast tune` spec (`samples`,
//! `max_concurrent`, `search`, `scheduler`, `seed`, `metric` (default `valid_loss`),
//! `mode`, `time_budget_s`, ...) plus:
//!
//! - `space`: the search space over config keys (as a tune spec's `[space]`);
//! - `valid_fraction`: share of the tuning rows each trial is scored on (default 0.2).
//!
//! ```toml
//! tune = { samples = 8, max_concurrent = 2, scheduler = { kind = "asha", grace_period = 1, reduction_factor = 2, max_t = 8 }, space = { hidden_size = { choice = [16, 32] } } }
//! ```

use super::spec::PreparedModel;
use crate::error::{Error, Result};
use crate::forecast::{Evaluation, ForecastObjective};
use crate::runner::{Experiment, TuneConfig};
use crate::space::SearchSpace;
use crate::store::Store;
use forecast_core::{ForecasterSpec, Series};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

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

/// A model's `tune` table, split into its parts.
struct Settings {
    space: SearchSpace,
    config: TuneConfig,
    fraction: f64,
}

fn settings(model: &PreparedModel, v: &Value) -> Result<Settings> {
    let place = format!("model '{}'.tune", model.name);
    let bad = |m: String| Error::config(&place, m);
    let mut table: Map<String, Value> = v
        .as_object()
        .cloned()
        .ok_or_else(|| bad("must be a table".into()))?;
    let space = table
        .remove("space")
        .ok_or_else(|| bad("needs a `space` of config keys to search".into()))?;
    let space = SearchSpace::from_json(&space).map_err(|e| bad(e.to_string()))?;
    let fraction = match table.remove("valid_fraction") {
        None => 0.2,
        Some(f) => f
            .as_f64()
            .filter(|f| *f > 0.0 && *f < 1.0)
            .ok_or_else(|| bad(format!("valid_fraction {f} must be a number in (0, 1)")))?,
    };
    table
        .entry("metric")
        .or_insert_with(|| Value::from("valid_loss"));
    if table.contains_key("out") {
        return Err(bad(
            "`out` is not used: study searches are kept in memory".into()
        ));
    }
    let config: TuneConfig =
        serde_json::from_value(Value::Object(table)).map_err(|e| bad(e.to_string()))?;
    Ok(Settings {
        space,
        config,
        fraction,
    })
}

/// Check a model's `tune` table before anything runs.
pub(crate) fn check(model: &PreparedModel, settings_value: &Value) -> Result<()> {
    settings(model, settings_value).map(|_| ())
}

/// Search on `history` (only the rows before the earliest evaluation window) from
/// `spec`, the model's typed spec at `horizon`, and return the spec to evaluate.
pub(crate) fn tune(
    model: &PreparedModel,
    spec: &ForecasterSpec,
    history: &Series,
    horizon: usize,
    settings_value: &Value,
) -> Result<TuneOutcome> {
    let s = settings(model, settings_value)?;
    let place = format!("model '{}'.tune", model.name);
    let mut fixed: Map<String, Value> = model.fixed.clone();
    if let Some(h) = spec.model.config_json().get("horizon") {
        fixed.insert("horizon".into(), h.clone());
    }
    let metric = s.config.metric.clone();
    let objective = ForecastObjective::from_spec(
        history.clone(),
        spec.clone(),
        fixed,
        horizon,
        Evaluation::Valid {
            fraction: s.fraction,
        },
        &metric,
    )?;
    let name = format!("{}-h{horizon}", model.name);
    let experiment = Experiment::new(&name, s.space, s.config);
    let (summary, _) = experiment
        .run(Store::in_memory(&name, Value::Null), |ctx| {
            objective.run(ctx)
        })
        .map_err(|e| Error::config(&place, e.to_string()))?;
    let best = summary.best.as_ref().ok_or_else(|| {
        Error::config(
            &place,
            format!(
                "no trial reported {metric} ({} of {} failed)",
                summary.failed, summary.trials
            ),
        )
    })?;
    let mut spec = objective
        .configure(&best.params)
        .map_err(|e| Error::config(&place, e.to_string()))?;
    // The study's folds define the evaluation; the tuning split is not part of it.
    spec.valid_fraction = 0.0;
    spec.test_fraction = 0.0;
    Ok(TuneOutcome {
        spec: Some(spec),
        params: serde_json::to_value(&best.params).unwrap_or(Value::Null),
        metric,
        value: Some(best.metric),
        trials: summary.trials,
        stopped_early: summary.stopped_early,
        rows: history.len(),
        seconds: summary.seconds,
    })
}
