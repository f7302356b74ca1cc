//! `forecast backtest`

use crate::args::{DataArgs, ModelArgs, TrackingArgs};
use crate::progress::bar;
use anyhow::Result;
use clap::Args;
use forecast_core::backtest::{backtest, BacktestSpec, Refit};
use forecast_core::dataset::Dataset;
use forecast_core::metrics::Metrics;
use forecast_core::split::FoldPlan;
use serde_json::json;
use std::path::PathBuf;

/// Rolling-origin backtest.
#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  \
    forecast backtest --data datasets/airpassengers.csv --target passengers --model seasonal-naive --horizon 12 --folds 5 --json\n  \
    forecast backtest --data datasets/msft_daily.csv --target close --model drift --horizon 5 --initial 7000 --step 20\n  \
    forecast backtest --data datasets/airpassengers.csv --target passengers --model arima --horizon 12 --folds 6 --report backtest.html\n  \
    forecast backtest --data datasets/wineind.csv --target sales --model seasonal-naive --horizon 12 --folds 8 --refit never\n  \
    forecast backtest --data datasets/m3_monthly_train.csv --test datasets/m3_monthly_test.csv --model auto-arima --horizon 18")]
pub struct BacktestArgs {
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Steps forecast at each origin (with --test: the test rows of each series; this
    /// only sizes multi-output models).
    #[arg(long)]
    pub horizon: usize,
    /// Number of folds, ending at the last row, origins --step apart.
    #[arg(long, conflicts_with = "initial")]
    pub folds: Option<usize>,
    /// Rows before the first origin (then an origin every --step rows).
    #[arg(long)]
    pub initial: Option<usize>,
    /// Rows between origins [default: the horizon].
    #[arg(long)]
    pub step: Option<usize>,
    /// Refit at every fold (every), once (never), or every N folds.
    #[arg(long, default_value = "every")]
    pub refit: String,
    /// Competition-style scoring: forecast each series from the end of --data over its
    /// rows in this file (same columns and ids) and score them; no rolling origins.
    #[arg(long, value_name = "PATH")]
    pub test: Option<PathBuf>,
    /// Print the metrics as JSON, with every fold's window (`"windows"`: origin, ds,
    /// actual, forecast, naive; one series only, a panel's JSON has no windows).
    #[arg(long)]
    pub json: bool,
    /// Also write the backtest's report: .html (forecast vs actual at every origin,
    /// error per fold, metrics), or .png / .svg (its forecast vs actual chart).
    #[arg(long, value_name = "FILE.html|.png|.svg")]
    pub report: Option<PathBuf>,
    #[command(flatten)]
    pub tracking: TrackingArgs,
}

pub(crate) fn metrics_json(m: &Metrics) -> serde_json::Value {
    // The struct's own field names are the contract (`mape`/`mase` null when undefined).
    serde_json::to_value(m).unwrap_or_default()
}

pub fn run(a: BacktestArgs) -> Result<()> {
    a.model.init_threads()?;
    let spec = a.model.spec(Some(a.horizon), 0.0, 0.0, false)?;
    let refit: Refit = a.refit.parse()?;
    let step = a.step.unwrap_or(a.horizon);
    let plan = match a.initial {
        Some(initial) => FoldPlan::Initial { initial, step },
        None => FoldPlan::Count {
            folds: a.folds.unwrap_or(5),
            step,
        },
    };
    let bt = BacktestSpec {
        horizon: a.horizon,
        plan,
        refit,
    };
    // A bad report name fails before the backtest runs.
    let report_format = a
        .report
        .as_deref()
        .map(|p| forecast_report::Format::choose(p, None))
        .transpose()?;
    let series = match a.data.load()? {
        Dataset::One(one) if a.test.is_none() => one.1,
        data => {
            anyhow::ensure!(
                a.report.is_none(),
                "--report draws one series' backtest; for a panel or --test scoring, write --json and report it with forecast report --results"
            );
            return crate::panel::backtest(&a, &spec, &bt, data);
        }
    };
    let target = series.schema.target.clone();
    let folds = forecast_core::split::rolling_origin(
        series.len(),
        a.horizon,
        plan,
        spec.model.min_train_rows(series.season_length),
    )?
    .len();
    let mut tracking =
        crate::runs::CommandRun::start(&a.tracking, &format!("backtest-{}", spec.model.kind()))?;
    let data_path = a.data.data.display().to_string();
    tracking.with(|run| {
        run.log_params(tuner::tracking::flatten_params(
            &spec.model.config_json(),
            "",
        ))?;
        run.log_params([
            ("backtest.horizon", a.horizon.to_string()),
            ("backtest.folds", folds.to_string()),
            ("backtest.refit", a.refit.clone()),
        ])?;
        run.set_tags([
            ("forecast.command", "backtest"),
            ("forecast.model", spec.model.kind()),
            ("forecast.data", data_path.as_str()),
            ("forecast.target", target.as_str()),
        ])
    });
    let pb = bar(folds as u64, "folds");
    let report = backtest(&spec, &series, &bt, &|| pb.inc(1));
    pb.finish_and_clear();
    let report = match report {
        Ok(r) => r,
        Err(e) => {
            tracking.finish(tuner::tracking::RunStatus::Failed);
            return Err(e.into());
        }
    };
    tracking.with(|run| {
        let mut m = tuner::tracking::numeric_leaves(&metrics_json(&report.metrics), "");
        m.extend(tuner::tracking::numeric_leaves(
            &metrics_json(&report.naive),
            "naive",
        ));
        run.log_metrics(&m, 0)
    });
    tracking.finish(tuner::tracking::RunStatus::Finished);
    let doc = json!({
        "model": report.model,
        "horizon": report.horizon,
        "folds": report.folds,
        "metrics": metrics_json(&report.metrics),
        "baseline": {"naive": metrics_json(&report.naive)},
        "windows": report.windows(&series),
    });
    if let (Some(path), Some(format)) = (&a.report, report_format) {
        let page = forecast_report::backtest::from_json(&doc, &a.data.data.display().to_string())?;
        forecast_report::write(&page, path, format, forecast_report::Size::default())?;
        eprintln!("wrote {}", path.display());
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        println!(
            "{} folds, horizon {}, {} rows, first origin after {} rows",
            report.folds,
            report.horizon,
            series.len(),
            report.per_fold.first().map_or(0, |f| f.train_rows)
        );
        print_table(&[
            (report.model.as_str(), &report.metrics),
            ("naive", &report.naive),
        ]);
    }
    Ok(())
}

/// The metrics table printed by `backtest`: one line per model.
pub(crate) fn print_table(rows: &[(&str, &Metrics)]) {
    let opt = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.4}"));
    println!(
        "{:<16} {:>12} {:>12} {:>9} {:>9} {:>8} {:>8}",
        "model", "MAE", "RMSE", "MAPE%", "sMAPE%", "MASE", "dir.acc"
    );
    for (name, m) in rows {
        println!(
            "{:<16} {:>12.4} {:>12.4} {:>9} {:>9.3} {:>8} {:>8.3}",
            name,
            m.mae,
            m.rmse,
            opt(m.mape),
            m.smape,
            opt(m.mase),
            m.directional_accuracy
        );
    }
}
