//! The panel forms of `train`, `predict` and `backtest`: many series in one command.

use crate::backtest::{metrics_json, print_table, BacktestArgs};
use crate::output::emit;
use crate::progress::bar;
use crate::runs::CommandRun;
use crate::train::TrainArgs;
use anyhow::{Context, Result};
use forecast_core::artifact;
use forecast_core::backtest::BacktestSpec;
use forecast_core::data::{load_data, write_long_parquet, Data, Panel};
use forecast_core::dataset::{load_test, Dataset};
use forecast_core::panel::{
    backtest_panel, fit_panel, panel_folds, score_holdout, series_of, Failed, LongTable,
    PanelForecaster, PanelScore, PanelSeries, SeriesForecast, Skipped,
};
use forecast_core::{ForecasterSpec, SeriesSpec};
use serde_json::{json, Value};
use std::path::Path;
use std::time::Instant;
use tuner::tracking::{flatten_params, numeric_leaves, RunStatus};

/// Fail (exit status 1) when some series failed, after everything else was written.
fn fail_if_any(failed: &[Failed], what: &str) -> Result<()> {
    if failed.is_empty() {
        return Ok(());
    }
    for f in failed {
        eprintln!("failed: series '{}': {}", f.unique_id, f.error);
    }
    anyhow::bail!(
        "{} of the series failed to {what} (listed above; the others were written)",
        failed.len()
    )
}

fn listed(failed: &[Failed]) -> Vec<Skipped> {
    failed.iter().map(Failed::listed).collect()
}

/// `forecast train` on a panel: one model per series, one model directory.
pub fn train(
    a: &TrainArgs,
    spec: &ForecasterSpec,
    panel: &Panel,
    series: &[PanelSeries],
) -> Result<()> {
    let started = Instant::now();
    let kind = spec.model.kind();
    let mut tracking = CommandRun::start(&a.tracking, &format!("train-{kind}"))?;
    let data_path = panel.source.display().to_string();
    tracking.with(|run| {
        run.set_tags([
            ("forecast.command", "train"),
            ("forecast.model", kind),
            ("forecast.data", data_path.as_str()),
            ("forecast.panel", panel.id_column.as_str()),
        ])?;
        let mut params = flatten_params(&spec.model.config_json(), "");
        params.push(("panel.series".into(), series.len().to_string()));
        params.push((
            "panel.short".into(),
            format!("{:?}", a.data.short).to_lowercase(),
        ));
        run.log_params(params)
    });
    let pb = bar(series.len() as u64, "series");
    let fit = fit_panel(spec, &panel.id_column, series, a.data.short, &|| pb.inc(1));
    pb.finish_and_clear();
    let fit = match fit {
        Ok(f) => f,
        Err(e) => {
            tracking.finish(RunStatus::Failed);
            return Err(e.into());
        }
    };
    tracking.with(|run| {
        run.log_metrics(
            &[
                ("panel.fitted".into(), fit.fitted.series.len() as f64),
                ("panel.skipped".into(), fit.fitted.skipped.len() as f64),
                ("panel.failed".into(), fit.failed.len() as f64),
                ("panel.seconds".into(), started.elapsed().as_secs_f64()),
            ],
            0,
        )
    });
    if fit.fitted.series.is_empty() {
        tracking.finish(RunStatus::Failed);
        anyhow::bail!(
            "no series was fitted ({} skipped, {} failed){}",
            fit.fitted.skipped.len(),
            fit.failed.len(),
            fit.failed
                .first()
                .map(|f| format!("; first failure: series '{}': {}", f.unique_id, f.error))
                .unwrap_or_default()
        );
    }
    if let Err(e) = artifact::save_panel(&fit.fitted, &a.out) {
        tracking.finish(RunStatus::Failed);
        return Err(e.into());
    }
    tracking.with(|run| run.log_model(&a.out, a.register_model.as_deref()));
    tracking.finish(if fit.failed.is_empty() {
        RunStatus::Finished
    } else {
        RunStatus::Failed
    });
    let summary = json!({
        "kind": spec.model.kind(),
        "series": fit.fitted.series.len(),
        "skipped": fit.fitted.skipped,
        "failed": listed(&fit.failed),
        "out": a.out,
    });
    if a.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        eprintln!(
            "trained {} on {} series of {} ({} rows) in {:.1} s; {} skipped, {} failed",
            spec.model.kind(),
            fit.fitted.series.len(),
            panel.source.display(),
            panel.rows(),
            started.elapsed().as_secs_f64(),
            fit.fitted.skipped.len(),
            fit.failed.len()
        );
        for s in &fit.fitted.skipped {
            eprintln!("skipped: series '{}': {}", s.unique_id, s.reason);
        }
        eprintln!("model written to {}", a.out.display());
    }
    fail_if_any(&fit.failed, "fit")
}

/// Output of `predict` on a panel model.
pub struct PredictPanel<'a> {
    /// Model directory.
    pub model: &'a Path,
    /// Steps to forecast (`None`: the future rows per series).
    pub horizon: Option<usize>,
    /// The regressors over the horizon, a long table with the id column.
    pub future: Option<&'a Path>,
    /// Interval levels.
    pub levels: &'a [f64],
    /// Only these series.
    pub ids: &'a [String],
    /// Newer history to condition on.
    pub data: Option<&'a Path>,
    /// The model's column name.
    pub alias: Option<&'a str>,
    /// csv, json or parquet.
    pub format: &'a str,
    /// Output file.
    pub output: Option<&'a Path>,
    /// Missing-value policy for `data`.
    pub missing: forecast_core::MissingPolicy,
}

/// `forecast predict` with a panel model: a long table of every series' forecast.
pub fn predict(p: PredictPanel<'_>) -> Result<()> {
    let mut model = artifact::load_panel(p.model)?;
    // A global model takes series it was not trained on from --data, so --ids applies
    // to the conditioned panel; a local model's series are only its own.
    let global = model
        .series
        .first()
        .is_some_and(|(_, f)| f.model.is_global());
    if !global && !p.ids.is_empty() {
        model = model.subset(p.ids)?;
    }
    if let Some(path) = p.data {
        model = condition(&model, path, p.missing, p.ids)?;
    }
    if global && !p.ids.is_empty() {
        model = model.subset(p.ids)?;
    }
    let first = &model
        .series
        .first()
        .context("the panel model holds no series")?
        .1;
    let future = match p.future {
        Some(path) => {
            let options = forecast_core::data::PanelOptions {
                id_column: Some(model.id_column.clone()),
                load: forecast_core::LoadOptions {
                    time_col: first.schema.time_column.clone(),
                    required: vec![],
                    missing: forecast_core::MissingPolicy::Error,
                    ..Default::default()
                },
                wide: None,
            };
            let data = load_data(path, &options)
                .with_context(|| format!("--future {}", path.display()))?;
            let Data::Panel(mut panel) = data else {
                anyhow::bail!(
                    "--future {}: a panel model needs a long table with the id column '{}'",
                    path.display(),
                    model.id_column
                );
            };
            if !p.ids.is_empty() {
                panel.members.retain(|m| p.ids.contains(&m.id));
            }
            Some(panel)
        }
        None => {
            crate::predict::no_future_needed(
                p.model,
                &first.future_columns(),
                first.schema.time_column.as_deref(),
                Some(model.id_column.as_str()),
            )?;
            None
        }
    };
    let (horizon, forecasts, failed) =
        model
            .predict_future(future.as_ref(), p.horizon, p.levels)
            .with_context(|| format!("--future for {}", p.model.display()))?;
    let name = p.alias.unwrap_or(model.kind());
    write_forecasts(&forecasts, &model, name, &p, horizon, &failed)?;
    fail_if_any(&failed, "forecast")
}

/// Re-anchor every series of `model` at the end of its rows in `path` (same schema,
/// newer rows), without refitting. A global model (one network for the panel) forecasts
/// the series of `path` (those of `ids` when given), the model's own and new ones alike.
fn condition(
    model: &PanelForecaster,
    path: &Path,
    missing: forecast_core::MissingPolicy,
    ids: &[String],
) -> Result<PanelForecaster> {
    let first = &model
        .series
        .first()
        .context("the panel model holds no series")?
        .1;
    let schema = &first.schema;
    let mut required = vec![schema.target.clone()];
    required.extend(schema.input_columns.iter().cloned());
    let options = forecast_core::data::PanelOptions {
        id_column: Some(model.id_column.clone()),
        load: forecast_core::LoadOptions {
            time_col: schema.time_column.clone(),
            required,
            missing,
            ..Default::default()
        },
        wide: None,
    };
    let Data::Panel(panel) = load_data(path, &options)? else {
        anyhow::bail!("{} is not a panel", path.display());
    };
    let spec = SeriesSpec::from_schema(schema, first.season_length);
    let history = series_of(&panel, &spec)?;
    let by_id: std::collections::HashMap<&str, &forecast_core::Series> =
        history.iter().map(|s| (s.id.as_str(), &s.series)).collect();
    if first.model.is_global() {
        let known: std::collections::HashMap<&str, &forecast_core::Forecaster> = model
            .series
            .iter()
            .map(|(id, f)| (id.as_str(), f))
            .collect();
        let wanted: std::collections::HashSet<&str> = ids.iter().map(String::as_str).collect();
        let mut series = Vec::new();
        for h in history
            .iter()
            .filter(|h| wanted.is_empty() || wanted.contains(h.id.as_str()))
        {
            let f = match known.get(h.id.as_str()) {
                Some(f) => f.condition(&h.series),
                None => first.adopt(&h.series),
            }
            .with_context(|| format!("series '{}' of {}", h.id, path.display()))?;
            series.push((h.id.clone(), f));
        }
        return Ok(PanelForecaster {
            id_column: model.id_column.clone(),
            series,
            skipped: vec![],
        });
    }
    let mut out = model.clone();
    for (id, f) in &mut out.series {
        let h = by_id
            .get(id.as_str())
            .with_context(|| format!("series '{id}' has no rows in {}", path.display()))?;
        *f = f.condition(h).with_context(|| {
            format!("series '{id}': {} does not match the model", path.display())
        })?;
    }
    Ok(out)
}

fn write_forecasts(
    forecasts: &[SeriesForecast],
    model: &PanelForecaster,
    name: &str,
    p: &PredictPanel<'_>,
    horizon: usize,
    failed: &[Failed],
) -> Result<()> {
    let table = LongTable::new(forecasts, name, p.levels);
    match p.format {
        "parquet" => {
            let out = p.output.context(
                "--format parquet needs --output FILE (Parquet is not written to a terminal)",
            )?;
            write_long_parquet(&table, out)?;
        }
        "json" => {
            let rows: Vec<Value> = (0..table.len())
                .map(|i| {
                    let mut row = serde_json::Map::new();
                    row.insert("unique_id".into(), json!(table.unique_id[i]));
                    row.insert("ds".into(), json!(table.ds[i]));
                    for (c, v) in &table.columns {
                        row.insert(c.clone(), json!(v[i].is_finite().then_some(v[i])));
                    }
                    Value::Object(row)
                })
                .collect();
            let mut skipped = model.skipped.clone();
            skipped.extend(listed(failed));
            let doc = json!({
                "model": name,
                "horizon": horizon,
                "levels": p.levels,
                "series": forecasts.len(),
                "rows": rows,
                "skipped": skipped,
            });
            emit(
                &format!("{}\n", serde_json::to_string_pretty(&doc)?),
                p.output,
            )?;
        }
        _ => emit(&table.to_csv(), p.output)?,
    }
    if !model.skipped.is_empty() {
        eprintln!(
            "{} series were skipped at training (too short): {}",
            model.skipped.len(),
            model
                .skipped
                .iter()
                .map(|s| s.unique_id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(())
}

/// `forecast backtest` on a panel (or, with `--test`, on one series): rolling origins
/// per series, or competition-style scoring against the test file; metrics pooled as
/// the mean over series.
pub fn backtest(
    a: &BacktestArgs,
    spec: &ForecasterSpec,
    bt: &BacktestSpec,
    data: Dataset,
) -> Result<()> {
    let started = Instant::now();
    let id_column = data.id_column().map(str::to_string);
    let data_path = data.source().display().to_string();
    let series = data.into_series();
    let kind = spec.model.kind();
    let mut tracking = CommandRun::start(&a.tracking, &format!("backtest-{kind}"))?;
    let mode = if a.test.is_some() { "test" } else { "rolling" };
    tracking.with(|run| {
        run.set_tags([
            ("forecast.command", "backtest"),
            ("forecast.model", kind),
            ("forecast.data", data_path.as_str()),
            ("forecast.panel", id_column.as_deref().unwrap_or("")),
        ])?;
        let mut params = flatten_params(&spec.model.config_json(), "");
        params.push(("backtest.horizon".into(), bt.horizon.to_string()));
        params.push(("backtest.evaluation".into(), mode.to_string()));
        if let Some(t) = &a.test {
            params.push(("backtest.test".into(), t.display().to_string()));
        }
        params.push(("panel.series".into(), series.len().to_string()));
        run.log_params(params)
    });
    let pb = match a.test {
        Some(_) => bar(series.len() as u64, "series"),
        None => bar(panel_folds(spec, &series, bt) as u64, "folds"),
    };
    let tick = || pb.inc(1);
    let result = match &a.test {
        Some(test_path) => {
            let target = &series
                .first()
                .context("the data holds no series")?
                .series
                .schema
                .target;
            let mut test = load_test(
                test_path,
                &a.data.options(target)?.0,
                &series,
                id_column.as_deref(),
            )?;
            if a.data.shard.is_some() {
                // The test file holds every series; this shard scores its own.
                let ids: std::collections::HashSet<&str> =
                    series.iter().map(|s| s.id.as_str()).collect();
                test.retain(|(id, _)| ids.contains(id.as_str()));
            }
            score_holdout(spec, &series, &test, target, a.data.short, &tick)
        }
        None => backtest_panel(spec, &series, bt, a.data.short, &tick),
    };
    pb.finish_and_clear();
    let (score, failed) = match result {
        Ok(r) => r,
        Err(e) => {
            tracking.finish(RunStatus::Failed);
            return Err(e.into());
        }
    };
    tracking.with(|run| {
        let mut m = numeric_leaves(&metrics_json(&score.metrics), "");
        m.extend(numeric_leaves(&metrics_json(&score.naive), "naive"));
        m.push(("panel.scored".into(), score.series as f64));
        m.push(("panel.skipped".into(), score.skipped.len() as f64));
        m.push(("panel.failed".into(), failed.len() as f64));
        run.log_metrics(&m, 0)
    });
    tracking.finish(if failed.is_empty() {
        RunStatus::Finished
    } else {
        RunStatus::Failed
    });
    report(a, &score, &failed, id_column.is_some(), started)?;
    fail_if_any(&failed, "score")
}

/// A panel score as `backtest --json` prints it; `failed` is `None` for one series
/// (then the panel keys are left out).
pub fn score_json(
    score: &PanelScore,
    horizon: usize,
    mode: &str,
    failed: Option<&[Skipped]>,
) -> Value {
    let mut doc = json!({
        "model": score.model,
        "horizon": horizon,
        "evaluation": mode,
        "metrics": metrics_json(&score.metrics),
        "baseline": {"naive": metrics_json(&score.naive)},
        "rows": score.rows,
    });
    if let Some(failed) = failed {
        doc["series"] = json!(score.series);
        doc["per_series"] = json!(score.per_series);
        doc["skipped"] = json!(score.skipped);
        doc["failed"] = json!(failed);
    }
    doc
}

fn report(
    a: &BacktestArgs,
    score: &PanelScore,
    failed: &[Failed],
    panel: bool,
    started: Instant,
) -> Result<()> {
    let mode = if a.test.is_some() { "test" } else { "rolling" };
    if a.json {
        let failed = listed(failed);
        let mut doc = score_json(score, a.horizon, mode, panel.then_some(&failed[..]));
        if let Some(shard) = a.data.shard {
            doc["shard"] = json!(shard.to_string());
        }
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        if panel {
            println!(
                "{} series scored ({} rows; {} skipped, {} failed), {} in {:.1} s; metrics are the mean over series",
                score.series,
                score.rows,
                score.skipped.len(),
                failed.len(),
                if mode == "test" { "forecast over the test rows" } else { "rolling origins" },
                started.elapsed().as_secs_f64()
            );
        } else {
            println!(
                "{} test rows scored, forecast from the end of the data",
                score.rows
            );
        }
        print_table(&[
            (score.model.as_str(), &score.metrics),
            ("naive", &score.naive),
        ]);
        for s in &score.skipped {
            eprintln!("skipped: series '{}': {}", s.unique_id, s.reason);
        }
    }
    Ok(())
}
