//! `forecast`: train, predict, backtest, tune and track time-series models.
//!
//! The binary is thin: argument parsing, progress bars and printing. Everything else
//! lives in `forecast-core`, `tuner` and `forecast-serve`.

mod args;
mod backtest;
mod experiment;
mod features;
mod merge;
mod output;
mod panel;
mod predict;
mod progress;
mod report;
mod runs;
mod serve;
mod strategy;
mod train;
mod tune;
mod watch;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Time-series forecasting: baselines, ARIMA and neural models, backtests, tuning.
#[derive(Parser)]
#[command(name = "forecast", version, about, long_about = None)]
#[command(after_help = "Examples:\n  \
    forecast train --data datasets/msft_daily.csv --target close --model naive --out models/msft\n  \
    forecast predict --model models/msft --horizon 10 --level 80,95\n  \
    forecast backtest --data datasets/airpassengers.csv --target passengers --model seasonal-naive --horizon 12 --folds 5\n  \
    forecast features --data datasets/msft_daily.csv --indicators sma:20,rsi:14,macd --output features.parquet")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Fit a model on a series and save it as a model directory.
    Train(train::TrainArgs),
    /// Forecast with a saved model, with prediction intervals.
    Predict(predict::PredictArgs),
    /// Rolling-origin backtest of a model beside the naive baseline.
    Backtest(backtest::BacktestArgs),
    /// Compute technical indicators and write the curated table (CSV or Parquet).
    Features(features::FeaturesArgs),
    /// Hyperparameter search over a model's config keys, resumable.
    Tune(tune::TuneArgs),
    /// Runs recorded locally and their shipping state to MLflow; ship what is missing.
    Runs(runs::RunsArgs),
    /// Accuracy studies from a spec: many models and horizons beside the naive forecast.
    Experiment(experiment::ExperimentArgs),
    /// Pool the backtests of a panel's shards (`backtest --shard I/N --json`) into one.
    Merge(merge::MergeArgs),
    /// Serve saved models over HTTP: MLflow's scoring protocol and a native API.
    Serve(serve::ServeArgs),
    /// Trading strategies: backtest signals over price bars with honest execution.
    Strategy(strategy::StrategyArgs),
    /// A self-contained HTML report, or a PNG / SVG chart, of a model, a backtest,
    /// market data, a tuning study or experiment results.
    Report(report::ReportArgs),
    /// Alert rules on bars as they arrive (a growing CSV or JSON lines on stdin):
    /// JSON lines, webhooks, e-mail.
    Watch(watch::WatchArgs),
}

/// The commands that train networks let glibc keep freed tensor buffers (an opt-in of
/// the program: the library leaves the process's allocator alone).
fn keep_freed_memory() {
    forecast_core::models::neural::device::keep_freed_memory();
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Train(a) => {
            keep_freed_memory();
            train::run(a)
        }
        Command::Predict(a) => predict::run(a),
        Command::Backtest(a) => backtest::run(a),
        Command::Features(a) => features::run(a),
        Command::Tune(a) => {
            keep_freed_memory();
            tune::run(a)
        }
        Command::Runs(a) => runs::run(a),
        Command::Merge(a) => merge::run(a),
        Command::Serve(a) => serve::run(a),
        Command::Strategy(a) => strategy::run(a),
        Command::Watch(a) => watch::run(a),
        Command::Report(a) => report::run(a),
        Command::Experiment(a) => {
            keep_freed_memory();
            experiment::run(a)
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let mut msg = e.to_string();
            for cause in e.chain().skip(1) {
                let c = cause.to_string();
                if !msg.contains(&c) {
                    msg.push_str(": ");
                    msg.push_str(&c);
                }
            }
            eprintln!("error: {msg}");
            ExitCode::FAILURE
        }
    }
}
