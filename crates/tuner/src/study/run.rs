//! Running a study: tune what the spec tunes, then score every model at every horizon
//! beside the naive forecast: rolling origins over one series or each series of a
//! panel, or competition-style against a held-out file (`[evaluation] test`).

use super::report::{HorizonResult, ModelResult, StudyReport};
use super::spec::{plan_for, refit_name, StudySpec};
use super::tune::{self, TuneOutcome};
use super::PreparedModel;
use crate::error::{Error, Result};
use forecast_core::backtest::{BacktestSpec, Refit};
use forecast_core::dataset::load_test;
use forecast_core::panel::{
    backtest_panel, panel_folds, score_holdout, Failed, PanelScore, PanelSeries,
};
use forecast_core::split::{rolling_origin, Fold};
use forecast_core::{ForecasterSpec, Frame, Series};
use rayon::prelude::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Instant;

/// A study ready to run: the spec, its checked models and its data.
#[derive(Debug, Clone)]
pub struct Study {
    /// The spec.
    pub spec: StudySpec,
    /// Checked models (naive first when it was added).
    pub models: Vec<PreparedModel>,
    /// The series: one, or each series of a panel in the panel's order.
    pub series: Vec<PanelSeries>,
    /// The id column when the data is a panel.
    pub id_column: Option<String>,
    /// The held-out rows of each series, when the spec scores against a test file.
    pub test: Option<Vec<(String, Frame)>>,
}

impl Study {
    /// Check the models, load the data (and the test file) and check that every
    /// horizon's folds fit in a single series (a panel's short series follow
    /// `data.short`).
    pub fn prepare(spec: StudySpec) -> Result<Study> {
        let models = spec.prepare_models()?;
        for m in &models {
            if let Some(settings) = &m.entry.tune {
                tune::check(m, settings)?;
            }
        }
        let data = spec.data.load()?;
        let id_column = data.id_column().map(str::to_string);
        let series = data.into_series();
        if id_column.is_some() {
            if let Some(m) = models.iter().find(|m| m.entry.tune.is_some()) {
                return Err(Error::config(
                    format!("model '{}'", m.name),
                    "tuning inside a study runs on one series; on a panel, tune with `forecast tune` and set the chosen keys here",
                ));
            }
        }
        let test = match &spec.evaluation.test {
            Some(path) => Some(load_test(
                path,
                &spec.data.options()?.0,
                &series,
                id_column.as_deref(),
            )?),
            None => None,
        };
        let study = Study {
            spec,
            models,
            series,
            id_column,
            test,
        };
        if let (None, None) = (&study.id_column, &study.test) {
            for h in study.horizons() {
                study.folds_at(h)?;
            }
        }
        Ok(study)
    }

    /// The one series of a study that is not a panel.
    fn single(&self) -> Option<&Series> {
        match (&self.id_column, self.series.as_slice()) {
            (None, [one]) => Some(&one.series),
            _ => None,
        }
    }

    /// The horizons scored: the spec's, or with a test file the most test rows of any
    /// series (each series is forecast over all of its test rows).
    pub fn horizons(&self) -> Vec<usize> {
        match &self.test {
            Some(test) => vec![test.iter().map(|(_, f)| f.len()).max().unwrap_or(0)],
            None => self.spec.evaluation.horizons.clone(),
        }
    }

    /// Most training rows any model needs.
    fn min_train(&self, series: &Series) -> usize {
        self.models
            .iter()
            .map(|m| m.spec.model.min_train_rows(series.season_length))
            .max()
            .unwrap_or(1)
    }

    /// The folds of the single series at `horizon` (none for a panel or a test file).
    fn folds_at(&self, horizon: usize) -> Result<Vec<Fold>> {
        match (self.single(), &self.test) {
            (Some(series), None) => Ok(rolling_origin(
                series.len(),
                horizon,
                plan_for(&self.spec.evaluation, horizon),
                self.min_train(series),
            )?),
            _ => Ok(vec![]),
        }
    }

    fn backtest_spec(&self, horizon: usize, refit: Refit) -> BacktestSpec {
        BacktestSpec {
            horizon,
            plan: plan_for(&self.spec.evaluation, horizon),
            refit,
        }
    }

    /// Units of progress the run reports (`on_fold` calls): folds over every series,
    /// or one per series scored against a test file.
    pub fn total_folds(&self) -> usize {
        let mut total = 0;
        for h in self.horizons() {
            for m in &self.models {
                total += match &self.test {
                    Some(_) => self.series.len(),
                    None => panel_folds(&m.spec, &self.series, &self.backtest_spec(h, m.refit)),
                };
            }
        }
        total
    }

    /// Rows a tuned model may see: those before the earliest evaluation window (all
    /// training rows when scoring against a test file).
    pub fn tuning_rows(&self) -> Result<usize> {
        let Some(series) = self.single() else {
            return Ok(0);
        };
        let mut first = series.len();
        for h in self.horizons() {
            if let Some(f) = self.folds_at(h)?.first() {
                first = first.min(f.origin());
            }
        }
        Ok(first)
    }

    /// Score one model at one horizon over every series.
    fn score(
        &self,
        spec: &ForecasterSpec,
        horizon: usize,
        refit: Refit,
        on_fold: &(dyn Fn() + Sync),
    ) -> forecast_core::Result<(PanelScore, Vec<Failed>)> {
        let short = self.spec.data.short;
        match &self.test {
            Some(test) => {
                let target = self
                    .series
                    .first()
                    .map_or("y", |s| s.series.schema.target.as_str());
                score_holdout(spec, &self.series, test, target, short, on_fold)
            }
            None => {
                let bt = self.backtest_spec(horizon, refit);
                backtest_panel(spec, &self.series, &bt, short, on_fold)
            }
        }
    }

    /// Run the study: tune what the spec tunes (on the rows before the earliest
    /// evaluation window), then score every model at every horizon. A model that fails
    /// is reported as failed in its row, a series that fails in its row's `failed`
    /// list; the others still run. `on_fold` is called once per finished fold (see
    /// [`Study::total_folds`]), `on_stage` with a line saying what runs now.
    pub fn run(
        &self,
        on_fold: &(dyn Fn() + Sync),
        on_stage: &(dyn Fn(&str) + Sync),
    ) -> Result<StudyReport> {
        let start = Instant::now();
        let ev = &self.spec.evaluation;
        let horizons = self.horizons();
        let tuning_rows = self.tuning_rows()?;
        // 1. Specs per (horizon, model), tuned where asked (one series only).
        type Task = (
            usize,
            usize,
            std::result::Result<ForecasterSpec, String>,
            Option<TuneOutcome>,
        );
        let mut tasks: Vec<Task> = Vec::new();
        for &h in &horizons {
            for (i, m) in self.models.iter().enumerate() {
                let spec = m.spec_at(h).map_err(|e| e.to_string());
                let (spec, tuned) = match (spec, &m.entry.tune, self.single()) {
                    (Ok(spec), Some(settings), Some(series)) => {
                        on_stage(&format!("tuning {} at horizon {h}", m.name));
                        let history = series.head(tuning_rows);
                        match tune::tune(m, &spec, &history, h, settings) {
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
        on_stage(if self.test.is_some() {
            "forecasting the test rows"
        } else {
            "backtests"
        });
        // 2. Scores, models in parallel (each runs its series and folds in parallel too).
        let run_one = |(h, i, spec, tuned): &Task| -> ModelResult {
            let m = &self.models[*i];
            let t0 = Instant::now();
            let outcome = spec.as_ref().map_err(Clone::clone).and_then(|spec| {
                self.score(spec, *h, m.refit, on_fold)
                    .map_err(|e| e.to_string())
            });
            let seconds = t0.elapsed().as_secs_f64();
            let mut config = m.fixed.clone();
            if let Some(Value::Object(p)) = tuned.as_ref().map(|t| &t.params) {
                for (k, v) in p {
                    config.insert(k.clone(), v.clone());
                }
            }
            let transform = spec
                .as_ref()
                .map_or(&m.spec.transform, |s| &s.transform)
                .to_string();
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
                owa: None,
                series: 0,
                skipped: vec![],
                failed: vec![],
            };
            match outcome {
                Ok((score, failed)) if score.series == 0 => {
                    r.error = Some(match failed.as_slice() {
                        [only] if self.id_column.is_none() => only.error.to_string(),
                        _ => format!(
                            "no series was scored ({} skipped, {} failed){}",
                            score.skipped.len(),
                            failed.len(),
                            failed
                                .first()
                                .map(|f| format!(
                                    "; first failure: series '{}': {}",
                                    f.unique_id, f.error
                                ))
                                .unwrap_or_default()
                        ),
                    });
                    r.skipped = score.skipped;
                    r.failed = failed.iter().map(Failed::listed).collect();
                }
                Ok((score, failed)) => {
                    let rel = score.metrics.mae / score.naive.mae;
                    r.relative_mae = rel.is_finite().then_some(rel);
                    r.beats_naive = Some(score.metrics.mae < score.naive.mae);
                    r.metrics = Some(score.metrics);
                    r.naive = Some(score.naive);
                    r.series = score.series;
                    r.skipped = score.skipped;
                    r.failed = failed.iter().map(Failed::listed).collect();
                }
                Err(e) => r.error = Some(e),
            }
            r
        };
        let mut rows: Vec<ModelResult> = if ev.parallel {
            tasks.par_iter().map(run_one).collect()
        } else {
            tasks.iter().map(run_one).collect()
        };
        let mut results = Vec::new();
        let per = self.models.len();
        for (k, &h) in horizons.iter().enumerate() {
            owa(&mut rows[k * per..(k + 1) * per]);
            let folds = self.folds_at(h)?;
            results.push(HorizonResult {
                horizon: h,
                folds: if self.test.is_some() { 1 } else { ev.folds },
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
            rows: self.series.iter().map(|s| s.series.len()).sum(),
            season_length: self.series.first().map_or(1, |s| s.series.season_length),
            series: self.series.len(),
            id_column: self.id_column.clone(),
            test: ev.test.clone(),
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

/// The M4's overall weighted average of each row relative to the first plain `naive2`
/// row of the same table (sMAPE and MASE ratios, averaged), when there is one.
fn owa(rows: &mut [ModelResult]) {
    let base = rows
        .iter()
        .find(|r| r.kind == "naive2" && r.transform == "none")
        .and_then(|r| r.metrics);
    let Some(base) = base else { return };
    for r in rows {
        r.owa = r.metrics.and_then(|m| {
            let v = 0.5 * (m.smape / base.smape + m.mase? / base.mase?);
            v.is_finite().then_some(v)
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use forecast_core::backtest;
    use forecast_core::split::FoldPlan;

    /// A study spec for a series given in memory: the name and data table every test
    /// uses, then `$body` (evaluation and models).
    macro_rules! spec {
        ($body:literal) => {
            concat!(
                "name = \"t\"\n[data]\npath = \"unused.csv\"\ntarget = \"y\"\n",
                $body
            )
        };
    }

    const SPEC: &str = spec!(
        r#"
        [evaluation]
        horizons = [3, 6]
        folds = 3
        [[model]]
        kind = "seasonal-naive"
        [[model]]
        kind = "drift"
        transform = "log"
        refit = "never"
    "#
    );

    fn study(text: &str, y: Vec<f64>) -> Study {
        let spec = StudySpec::from_toml(text).unwrap();
        let models = spec.prepare_models().unwrap();
        Study {
            spec,
            models,
            series: vec![PanelSeries {
                id: "y".into(),
                series: Series::from_values(y, 12),
            }],
            id_column: None,
            test: None,
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
        let r = s.run(&|| {}, &|_| {}).unwrap();
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
                let direct = backtest(&m.spec, &s.series[0].series, &bt, &|| {}).unwrap();
                assert_eq!(row.metrics.as_ref(), Some(&direct.metrics), "{}", row.name);
                assert_eq!(row.naive.as_ref(), Some(&direct.naive));
            }
            // The naive row is the baseline itself.
            assert_eq!(h.models[0].relative_mae, Some(1.0));
            assert_eq!(h.models[0].beats_naive, Some(false));
            assert_eq!(h.first_origin, 96 - h.horizon * 3);
        }
    }

    #[test]
    fn seasonal_naive_beats_naive_on_a_seasonal_series() {
        let s = study(SPEC, seasonal());
        let r = s.run(&|| {}, &|_| {}).unwrap();
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
        let e = Study::prepare(spec).unwrap_err().to_string();
        assert!(e.contains("folds"), "{e}");
    }

    #[test]
    fn a_failing_model_is_reported_and_the_others_run() {
        // Log transform of a series with negative values fails at fit time.
        let y: Vec<f64> = seasonal().iter().map(|v| v - 150.0).collect();
        let s = study(SPEC, y);
        let r = s.run(&|| {}, &|_| {}).unwrap();
        let f = r.failures();
        assert_eq!(f.len(), 2, "{f:?}");
        assert!(f.iter().all(|(_, n, _)| n == "drift"));
        assert!(r.results[0].models[1].metrics.is_some());
    }

    #[test]
    fn tuning_sees_only_rows_before_the_first_window() {
        // Earliest window: horizon 6, 3 folds -> origin 96 - 18 = 78; the search runs
        // on those 78 rows only (the outcome says how many it saw).
        let text = SPEC.replace(
            "refit = \"never\"",
            "tune = { samples = 1, metric = \"valid_mae\", space = { kind = { choice = [\"drift\"] } } }",
        );
        let s = study(&text, seasonal());
        let r = s.run(&|| {}, &|_| {}).unwrap();
        assert_eq!(r.tuning_rows, 78);
        for h in &r.results {
            let t = h.models[2].tuned.as_ref().unwrap();
            assert_eq!((t.rows, t.trials), (78, 1), "{:?}", h.models[2]);
        }
    }

    #[test]
    fn tunes_on_the_rows_before_the_window_and_evaluates_the_best() {
        let text = spec!(
            r#"
            [evaluation]
            horizons = [12]
            folds = 2
            [[model]]
            kind = "seasonal-naive"
            tune = { samples = 1, search = "grid", metric = "valid_mae", space = { season_length = { grid = [5, 12] } } }
        "#
        );
        // Period 12 before the window, so tuning must pick 12.
        let y: Vec<f64> = (0..96)
            .map(|i| 50.0 + 10.0 * ((i % 12) as f64 - 6.0).abs())
            .collect();
        let s = study(text, y);
        let r = s.run(&|| {}, &|_| {}).unwrap();
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
        let text = spec!(
            r#"
            [evaluation]
            horizons = [1]
            folds = 1
            [[model]]
            kind = "drift"
            tune = { samples = 2 }
        "#
        );
        let spec = StudySpec::from_toml(text).unwrap();
        let models = spec.prepare_models().unwrap();
        let e = tune::check(&models[1], models[1].entry.tune.as_ref().unwrap())
            .unwrap_err()
            .to_string();
        assert!(e.contains("drift") && e.contains("space"), "{e}");
    }
}
