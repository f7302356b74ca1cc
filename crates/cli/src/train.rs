//! `forecast train`

use crate::args::{DataArgs, ModelArgs, TrackingArgs};
use crate::progress::EpochBar;
use crate::runs::CommandRun;
use anyhow::Result;
use clap::Args;
use forecast_core::artifact;
use forecast_core::dataset::Dataset;
use forecast_core::{Decision, EpochReport, Reporter};
use serde_json::json;
use std::path::PathBuf;
use tuner::tracking::{flatten_params, numeric_leaves, RunStatus, TrackingReporter};

/// Fit a model and write the model directory.
#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  \
    forecast train --data datasets/msft_daily.csv --target close --model naive --out models/msft-naive\n  \
    forecast train --data datasets/airpassengers.csv --target passengers --model seasonal-naive --transform log --out models/air\n  \
    forecast train --data datasets/msft_daily.csv --target close --model drift --test-fraction 0.1 --json --out models/msft-drift\n  \
    forecast train --data datasets/m3_monthly_train.csv --model auto-arima --out models/m3   # a panel: one model per series")]
pub struct TrainArgs {
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Forecast horizon the model is trained for (multi-output models).
    #[arg(long)]
    pub horizon: Option<usize>,
    /// Share of rows after the training part used for validation (early stopping).
    #[arg(long, default_value_t = 0.0)]
    pub valid_fraction: f64,
    /// Share of rows at the end held out and scored beside the naive forecast.
    #[arg(long, default_value_t = 0.0)]
    pub test_fraction: f64,
    /// After scoring the validation and test parts, refit on every row (neural models:
    /// for the best epoch count found on the validation part) instead of conditioning
    /// the fitted state on those rows.
    #[arg(long)]
    pub refit_final: bool,
    #[command(flatten)]
    pub tracking: TrackingArgs,
    /// Register the logged model in the MLflow Model Registry under this name.
    #[arg(long, value_name = "NAME")]
    pub register_model: Option<String>,
    /// Model directory to write.
    #[arg(long)]
    pub out: PathBuf,
    /// Print {"kind", "fit", "out"} as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Where the saved model's forecasts start, and which rows it was fitted on.
fn origin_line(f: &forecast_core::Forecaster) -> String {
    let d = &f.schema;
    let from = d
        .last_timestamp
        .map(|t| {
            format!(
                " (after {})",
                forecast_core::data::format_timestamp(t, d.date_only)
            )
        })
        .unwrap_or_default();
    if f.spec.refit_final && f.spec.valid_fraction + f.spec.test_fraction > 0.0 {
        format!(
            "refitted on all {} rows after scoring; forecasts start at the next period{from}",
            d.conditioned_rows
        )
    } else if d.fitted_rows == d.conditioned_rows {
        format!(
            "fitted on all {} rows; forecasts start at the next period{from}",
            d.fitted_rows
        )
    } else {
        format!(
            "fitted on the first {} rows, conditioned on all {} (no refit; --refit-final refits); forecasts start at the next period{from}",
            d.fitted_rows, d.conditioned_rows
        )
    }
}

pub fn run(a: TrainArgs) -> Result<()> {
    a.model.init_threads()?;
    let spec = a
        .model
        .spec(a.horizon, a.valid_fraction, a.test_fraction, a.refit_final)?;
    let (frame, series) = match a.data.load()? {
        Dataset::One(one) => *one,
        Dataset::Panel(panel, series) => return crate::panel::train(&a, &spec, &panel, &series),
    };
    let target = series.schema.target.clone();
    let kind = spec.model.kind();
    let mut tracking = CommandRun::start(&a.tracking, &format!("train-{kind}"))?;
    let data_path = a.data.data.display().to_string();
    tracking.with(|run| {
        run.set_tags([
            ("forecast.command", "train"),
            ("forecast.model", kind),
            ("forecast.data", data_path.as_str()),
            ("forecast.target", target.as_str()),
        ])
    });
    let mut bar = EpochBar::new();
    let fitted = match tracking.run_mut() {
        Some(run) => {
            let mut rep =
                TrackingReporter::new(run, |r: &EpochReport| -> Decision { bar.report(r) });
            spec.fit(&series, &mut rep)
        }
        None => spec.fit(&series, &mut bar),
    };
    bar.finish();
    // The params are the values the fit used (an inferred season length, not null).
    let used = match &fitted {
        Ok(f) => spec.model.resolved(&f.model),
        Err(_) => spec.model.clone(),
    };
    tracking.with(|run| run.log_params(flatten_params(&used.config_json(), "")));
    // The data file is recorded so that `forecast report --model` can show the whole
    // history (a hint only; the model forecasts without it).
    let source = a.data.data.is_file().then_some(a.data.data.as_path());
    let saved = fitted.and_then(|f| artifact::save_with_source(&f, &a.out, source).map(|()| f));
    let fitted = match saved {
        Ok(f) => f,
        Err(e) => {
            tracking.finish(RunStatus::Failed);
            return Err(e.into());
        }
    };
    let fit = fitted.fit_stats();
    tracking.with(|run| {
        // Under `fit.`: the per-epoch curves (`train_loss` at steps 1..n) keep their own
        // keys; the fit's final values (the best epoch's loss, AIC, ...) are not a point
        // of those curves.
        let mut fit_only = fit.clone();
        if let Some(o) = fit_only.as_object_mut() {
            o.remove("test"); // logged below as `test.*`
        }
        let mut finals = numeric_leaves(&fit_only, "fit");
        if let Some(test) = &fitted.test {
            finals.extend(numeric_leaves(
                &serde_json::to_value(test).unwrap_or_default(),
                "test",
            ));
        }
        run.log_metrics(&finals, 0)?;
        run.log_model(&a.out, a.register_model.as_deref())
    });
    tracking.finish(RunStatus::Finished);
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "kind": spec.model.kind(),
                "fit": fit,
                "out": a.out,
            }))?
        );
    } else {
        let span = match (&frame.times, frame.date_only) {
            (Some(t), d) if !t.is_empty() => format!(
                ", {} .. {}",
                forecast_core::data::format_timestamp(t[0], d),
                forecast_core::data::format_timestamp(t[t.len() - 1], d)
            ),
            _ => String::new(),
        };
        eprintln!(
            "trained {} on {} ({} rows, {}{span})",
            spec.model.kind(),
            a.data.data.display(),
            series.len(),
            frame.frequency.name(),
        );
        if let Some(c) = &frame.calendar {
            eprintln!("calendar: {}", c.reason);
        }
        eprintln!("{}", origin_line(&fitted));
        if frame.repaired > 0 {
            eprintln!(
                "missing values: {} cells repaired by policy '{}'",
                frame.repaired,
                a.data.missing.name()
            );
        }
        println!("{}", serde_json::to_string_pretty(&fit)?);
        eprintln!("model written to {}", a.out.display());
    }
    Ok(())
}
