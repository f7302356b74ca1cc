//! `forecast features`

use anyhow::Result;
use clap::Args;
use forecast_core::data::{load, write_csv_to, write_frame, LoadOptions, MissingPolicy};
use forecast_core::features::Feature;
use std::path::PathBuf;

/// Compute indicators and write the curated table.
#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  \
    forecast features --data datasets/msft_daily.csv --indicators sma:20,ema:12,rsi:14,macd,bbands:20,returns,log_returns,volatility:20 --output msft_features.parquet\n  \
    forecast features --data datasets/msft_daily.csv --indicators macd:5,35,5,bbands:20,3 > features.csv")]
pub struct FeaturesArgs {
    /// CSV or Parquet file.
    #[arg(long)]
    pub data: PathBuf,
    /// Time column [default: date].
    #[arg(long)]
    pub time_col: Option<String>,
    /// Column the indicators are computed from.
    #[arg(long, default_value = "close")]
    pub column: String,
    /// Indicators: sma:N, ema:N, rsi:N, macd[:F,S,G], bbands:N[,K], returns, log_returns, volatility:N, lag:N, dow, month.
    #[arg(long)]
    pub indicators: String,
    /// Missing values: error (default), ffill, interpolate or drop.
    #[arg(long, default_value = "error")]
    pub missing: MissingPolicy,
    /// Output file, .csv or .parquet [default: CSV on stdout].
    #[arg(long)]
    pub output: Option<PathBuf>,
}

pub fn run(a: FeaturesArgs) -> Result<()> {
    let indicators = Feature::parse_list(&a.indicators)?;
    anyhow::ensure!(!indicators.is_empty(), "--indicators: no indicator given");
    let mut frame = load(
        &a.data,
        &LoadOptions {
            time_col: a.time_col.clone(),
            required: vec![a.column.clone()],
            missing: a.missing,
            ..Default::default()
        },
    )?;
    let x = frame.column(&a.column)?.to_vec();
    for ind in &indicators {
        let cols = ind.compute(&x, frame.times.as_deref())?;
        for (name, values) in ind.columns().into_iter().zip(cols) {
            frame.push_column(name, values);
        }
    }
    match &a.output {
        Some(path) => write_frame(&frame, path)?,
        None => write_csv_to(&frame, std::io::stdout().lock())?,
    }
    Ok(())
}
