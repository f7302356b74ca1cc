//! `forecast report`

use anyhow::{bail, Result};
use clap::Args;
use forecast_report::market::MarketReportOptions;
use forecast_report::model::ModelReportOptions;
use forecast_report::{Format, Size};
use std::path::PathBuf;

/// A self-contained HTML report (or a PNG / SVG chart) of a model, a backtest, market
/// data, a tuning study or experiment results.
#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  \
    forecast report --model models/msft --out msft.html\n  \
    forecast report --model models/msft --horizon 20 --out docs/img/msft-forecast.png\n  \
    forecast report --backtest backtest.json --out backtest.html\n  \
    forecast report --data datasets/msft_daily.csv --indicators sma:20,sma:50,bbands:20,rsi:14,macd --out market.html\n  \
    forecast report --study runs/airpassengers-lstm --out study.html\n  \
    forecast report --results experiments/results/airpassengers.json --out results.html")]
pub struct ReportArgs {
    /// A saved model: history, forecast with interval bands, residual diagnostics, fit.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["backtest", "study", "results"])]
    pub model: Option<PathBuf>,
    /// A backtest's JSON (`forecast backtest --json`): forecast vs actual at every origin.
    #[arg(long, value_name = "FILE.json", conflicts_with_all = ["data", "study", "results"])]
    pub backtest: Option<PathBuf>,
    /// Market data (OHLCV): candlesticks, volume and indicators; with --model, the
    /// model's forecast band at the right edge.
    #[arg(long, value_name = "PATH", conflicts_with_all = ["study", "results"])]
    pub data: Option<PathBuf>,
    /// Indicators drawn over market data [default: sma:20,sma:50,bbands:20,rsi:14,macd].
    #[arg(long, requires = "data")]
    pub indicators: Option<String>,
    /// The price column of market data [default: close].
    #[arg(long, requires = "data")]
    pub target: Option<String>,
    /// The data a --model was trained on, for its whole history and residual
    /// diagnostics [default: the file recorded by `forecast train`, when it is unchanged].
    #[arg(long, value_name = "PATH", requires = "model", conflicts_with = "data")]
    pub history: Option<PathBuf>,
    /// A tuning study's directory (`tune.out`), or the PostgreSQL database of a shared
    /// study (`postgresql://USER@HOST:PORT/DB`, as given to `tune --storage`).
    #[arg(long, value_name = "DIR|URL", conflicts_with = "results")]
    pub study: Option<String>,
    /// Which study of a PostgreSQL database (its spec's `name`) [default: the only one].
    #[arg(long, value_name = "NAME", requires = "study")]
    pub study_name: Option<String>,
    /// Experiment or panel results (`experiment run --json`, a panel's `backtest --json`).
    #[arg(long, value_name = "FILE.json")]
    pub results: Option<PathBuf>,
    /// Steps to forecast [default: two seasons, at least 10; a network: at most the
    /// horizon it was trained for].
    #[arg(long)]
    pub horizon: Option<usize>,
    /// Interval levels in percent.
    #[arg(long, value_delimiter = ',', default_value = "80,95")]
    pub level: Vec<f64>,
    /// The regressors' values over the horizon, for a model trained with --features.
    #[arg(long, value_name = "FILE")]
    pub future: Option<PathBuf>,
    /// Output file: .html (the report), .png or .svg (its forecast or backtest chart).
    #[arg(long)]
    pub out: PathBuf,
    /// Output format, overriding the extension: html, png or svg.
    #[arg(long)]
    pub format: Option<String>,
    /// Width of a PNG / SVG chart in pixels.
    #[arg(long, default_value_t = 1200)]
    pub width: u32,
    /// Height of a PNG / SVG chart in pixels.
    #[arg(long, default_value_t = 600)]
    pub height: u32,
}

pub fn run(a: ReportArgs) -> Result<()> {
    let format = Format::choose(&a.out, a.format.as_deref())?;
    let page = if let Some(data) = &a.data {
        forecast_report::market::build(
            data,
            &MarketReportOptions {
                indicators: a.indicators.clone(),
                target: a.target.clone(),
                model: a.model.clone(),
                horizon: a.horizon,
                levels: a.level.clone(),
            },
        )?
    } else if let Some(model) = &a.model {
        let opts = ModelReportOptions {
            horizon: a.horizon,
            levels: a.level.clone(),
            future: a.future.clone(),
        };
        match &a.history {
            Some(h) => forecast_report::model::build_with_history(model, &opts, Some(h))?,
            None => forecast_report::model::build(model, &opts)?,
        }
    } else if let Some(b) = &a.backtest {
        forecast_report::backtest::build(b)?
    } else if let Some(s) = &a.study {
        forecast_report::study::build(s, a.study_name.as_deref())?
    } else if let Some(r) = &a.results {
        forecast_report::results::build(r)?
    } else {
        bail!("say what to report: --model DIR, --backtest FILE.json, --data PATH, --study DIR or --results FILE.json");
    };
    let size = Size {
        width: a.width,
        height: a.height,
    };
    forecast_report::write(&page, &a.out, format, size)?;
    eprintln!("wrote {}", a.out.display());
    Ok(())
}
