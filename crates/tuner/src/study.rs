//! Tuning inside accuracy studies ([`forecast_core::experiment`]): a short search (ASHA
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

use crate::forecast::{Evaluation, ForecastObjective, ModelSpec};
use crate::runner::{Experiment, TuneConfig};
use crate::space::SearchSpace;
use crate::store::Store;
use forecast_core::experiment::{
    transform_name, PreparedModel, StudyTuner, TuneOutcome, TuneRequest,
};
use forecast_core::transform::Transform;
use forecast_core::Error;
use serde_json::{Map, Value};

/// The tuner of accuracy studies.
#[derive(Debug, Default, Clone, Copy)]
pub struct SweepTuner;

/// A model's `tune` table, split into its parts.
struct Settings {
    space: SearchSpace,
    config: TuneConfig,
    fraction: f64,
}

fn settings(model: &PreparedModel, v: &Value) -> Result<Settings, Error> {
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

impl StudyTuner for SweepTuner {
    fn check(&self, model: &PreparedModel, settings_value: &Value) -> Result<(), Error> {
        settings(model, settings_value).map(|_| ())
    }

    fn tune(&self, req: &TuneRequest<'_>) -> Result<TuneOutcome, Error> {
        let s = settings(req.model, req.settings)?;
        let mut config: Map<String, Value> = req.model.fixed.clone();
        let keys = req.spec.model.config_json();
        if let Some(h) = keys.get("horizon") {
            config.insert("horizon".into(), h.clone());
        }
        let model = ModelSpec {
            kind: req.spec.model.kind().to_string(),
            horizon: req.horizon,
            config,
            transform: (req.spec.transform != Transform::None)
                .then(|| transform_name(&req.spec.transform)),
            seed: req.spec.seed,
        };
        let metric = s.config.metric.clone();
        let objective = ForecastObjective::from_series(
            req.history.clone(),
            model,
            Evaluation::Valid {
                fraction: s.fraction,
            },
            &metric,
        )?;
        let name = format!("{}-h{}", req.model.name, req.horizon);
        let experiment = Experiment::new(&name, s.space, s.config);
        let (summary, _) = experiment
            .run(Store::in_memory(&name, Value::Null), |ctx| {
                objective.run(ctx)
            })
            .map_err(|e| {
                Error::config(format!("model '{}'.tune", req.model.name), e.to_string())
            })?;
        let best = summary.best.as_ref().ok_or_else(|| {
            Error::config(
                format!("model '{}'.tune", req.model.name),
                format!(
                    "no trial reported {metric} ({} of {} failed)",
                    summary.failed, summary.trials
                ),
            )
        })?;
        let mut spec = objective.configure(&best.params).map_err(|e| {
            Error::config(format!("model '{}'.tune", req.model.name), e.to_string())
        })?;
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
            rows: req.history.len(),
            seconds: summary.seconds,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use forecast_core::experiment::{Study, StudySpec};
    use forecast_core::Series;

    #[test]
    fn tunes_on_the_rows_before_the_window_and_evaluates_the_best() {
        let text = r#"
            name = "t"
            [data]
            path = "unused.csv"
            target = "y"
            [evaluation]
            horizons = [12]
            folds = 2
            [[model]]
            kind = "seasonal-naive"
            tune = { samples = 1, search = "grid", metric = "valid_mae", space = { season_length = { grid = [5, 12] } } }
        "#;
        let spec = StudySpec::from_toml(text).unwrap();
        let models = spec.prepare_models().unwrap();
        // Period 12 before the window, so tuning must pick 12.
        let y: Vec<f64> = (0..96)
            .map(|i| 50.0 + 10.0 * ((i % 12) as f64 - 6.0).abs())
            .collect();
        let study = Study {
            spec,
            models,
            series: Series::from_values(y, 1),
        };
        SweepTuner
            .check(
                &study.models[1],
                study.models[1].entry.tune.as_ref().unwrap(),
            )
            .unwrap();
        let r = study.run(Some(&SweepTuner), &|| {}, &|_| {}).unwrap();
        let row = &r.results[0].models[1];
        let t = row.tuned.as_ref().unwrap();
        assert_eq!(t.rows, 96 - 24);
        assert_eq!(t.trials, 2);
        assert_eq!(t.params["season_length"], 12);
        assert_eq!(row.config["season_length"], 12);
        assert!(row.metrics.unwrap().mae < 1e-9);
    }

    #[test]
    fn bad_tune_tables_name_the_model() {
        let text = r#"
            name = "t"
            [data]
            path = "unused.csv"
            target = "y"
            [evaluation]
            horizons = [1]
            folds = 1
            [[model]]
            kind = "drift"
            tune = { samples = 2 }
        "#;
        let spec = StudySpec::from_toml(text).unwrap();
        let models = spec.prepare_models().unwrap();
        let e = SweepTuner
            .check(&models[1], models[1].entry.tune.as_ref().unwrap())
            .unwrap_err()
            .to_string();
        assert!(e.contains("drift") && e.contains("space"), "{e}");
    }
}
