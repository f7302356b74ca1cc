//! `forecast strategy backtest`

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use forecast_core::data::{
    format_timestamp, load_data, Data, LoadOptions, MissingPolicy, PanelOptions,
};
use forecast_core::fsio;
use forecast_core::strategy::{
    run as simulate, run_panel, BacktestRun, Bars, PanelRun, Stats, StrategySpec, Trade,
};
use serde_json::json;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use tuner::strategy::PartResult;

/// Trading strategies on price bars.
#[derive(Args, Debug)]
pub struct StrategyArgs {
    #[command(subcommand)]
    pub command: StrategyCommand,
}

/// What to do with a strategy.
#[derive(Subcommand, Debug)]
pub enum StrategyCommand {
    /// Simulate a strategy over OHLC bars: statistics beside buy and hold, trades, equity.
    Backtest(StrategyBacktestArgs),
}

/// Backtest a strategy file on a CSV / Parquet file of bars.
#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  \
    forecast strategy backtest --data datasets/msft_daily.csv --strategy experiments/strategies/ma-cross.toml\n  \
    forecast strategy backtest --data datasets/msft_daily.csv --strategy experiments/strategies/rsi.toml --json\n  \
    forecast strategy backtest --data datasets/msft_daily.csv --strategy experiments/strategies/ma-cross.toml --out runs/ma-cross")]
pub struct StrategyBacktestArgs {
    /// CSV or Parquet file with open, high, low, close (and volume) columns.
    #[arg(long)]
    pub data: PathBuf,
    /// Strategy file (TOML: [signal], [execution], [sizing], [exits]).
    #[arg(long)]
    pub strategy: PathBuf,
    /// Time column [default: date].
    #[arg(long)]
    pub time_col: Option<String>,
    /// Series id column of a long table of several tickers (default: `unique_id`,
    /// `ticker`, `symbol` or `id` when present): one backtest per ticker with an equal
    /// share of the cash, and their portfolio.
    #[arg(long)]
    pub id_column: Option<String>,
    /// Missing values: error (default), ffill, interpolate or drop.
    #[arg(long, default_value = "error")]
    pub missing: MissingPolicy,
    /// Print {"stats", "benchmark", "trades"} as JSON.
    #[arg(long)]
    pub json: bool,
    /// Also write stats.json, trades.csv and equity.csv to this directory.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

pub fn run(a: StrategyArgs) -> Result<()> {
    match a.command {
        StrategyCommand::Backtest(b) => backtest(b),
    }
}

fn backtest(a: StrategyBacktestArgs) -> Result<()> {
    let text = std::fs::read_to_string(&a.strategy)
        .with_context(|| format!("--strategy {}", a.strategy.display()))?;
    let spec = StrategySpec::from_toml(&text)
        .with_context(|| format!("--strategy {}", a.strategy.display()))?;
    let data = load_data(
        &a.data,
        &PanelOptions {
            id_column: a.id_column.clone(),
            load: LoadOptions {
                time_col: a.time_col.clone(),
                required: vec![],
                missing: a.missing,
                ..Default::default()
            },
            wide: None,
        },
    )?;
    let frame = match data {
        Data::One(frame) => frame,
        Data::Panel(panel) => return backtest_panel(&a, &spec, &panel),
    };
    let bars = Bars::from_frame(&frame)?;
    let result =
        simulate(&spec, &bars).with_context(|| format!("--strategy {}", a.strategy.display()))?;
    let time = |bar: usize| -> serde_json::Value {
        match &bars.times {
            Some(t) => json!(format_timestamp(t[bar], frame.date_only)),
            None => json!(bar),
        }
    };
    let trade_json = |t: &Trade| trade_json(t, &time);
    let doc = json!({
        "stats": result.stats,
        "benchmark": result.benchmark,
        "trades": result.trades.iter().map(trade_json).collect::<Vec<_>>(),
        "open_trade": result.open_trade.as_ref().map(trade_json),
        "start": time(result.start),
        "end": time(bars.len() - 1),
        "bars": bars.len(),
    });
    if let Some(dir) = &a.out {
        write_out(dir, &doc, &result, &time)?;
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        print!("{}", table(&result));
        if let Some(dir) = &a.out {
            println!(
                "wrote {}/{{stats.json,trades.csv,equity.csv}}",
                dir.display()
            );
        }
    }
    Ok(())
}

/// A trade as the JSON output writes it (`time` gives a bar's timestamp, or its number).
fn trade_json(t: &Trade, time: &dyn Fn(usize) -> serde_json::Value) -> serde_json::Value {
    json!({
        "entry_time": time(t.entry_bar),
        "exit_time": time(t.exit_bar),
        "entry_bar": t.entry_bar,
        "exit_bar": t.exit_bar,
        "entry_price": t.entry_price,
        "exit_price": t.exit_price,
        "size": t.size,
        "pnl": t.pnl,
        "return_pct": t.return_pct,
        "commission": t.commission,
        "exit_reason": t.exit_reason,
    })
}

fn cell(v: f64) -> String {
    if v.is_finite() {
        if v.fract() == 0.0 && v.abs() < 1e12 {
            format!("{v:.0}")
        } else {
            format!("{v:.4}")
        }
    } else {
        "-".into()
    }
}

/// The statistics beside buy and hold, one per line.
fn table(r: &BacktestRun) -> String {
    columns(&[("strategy", &r.stats), ("buy & hold", &r.benchmark)])
}

/// A sweep's best parameters on the searched bars beside the held-out bars, each
/// with its buy and hold.
pub fn side_by_side(in_sample: &PartResult, held_out: &PartResult) -> String {
    let mut out = format!(
        "in-sample {} .. {} ({} bars), held out {} .. {} ({} bars, the first {} warming up the indicators)\n",
        plain(&in_sample.start),
        plain(&in_sample.end),
        in_sample.bars,
        plain(&held_out.start),
        plain(&held_out.end),
        held_out.bars,
        held_out.warmup,
    );
    out.push_str(&columns(&[
        ("in-sample", &in_sample.stats),
        ("held out", &held_out.stats),
        ("b&h in-sample", &in_sample.benchmark),
        ("b&h held out", &held_out.benchmark),
    ]));
    out
}

fn plain(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Statistics in named columns, one statistic per line.
fn columns(cols: &[(&str, &Stats)]) -> String {
    let mut out = format!("{:<22}", "");
    for (name, _) in cols {
        let _ = write!(out, " {name:>14}");
    }
    out.push('\n');
    let entries: Vec<_> = cols.iter().map(|(_, s)| s.entries()).collect();
    for (i, (k, _)) in entries[0].iter().enumerate() {
        let _ = write!(out, "{k:<22}");
        for e in &entries {
            let _ = write!(out, " {:>14}", cell(e[i].1));
        }
        out.push('\n');
    }
    out
}

fn write_out(
    dir: &Path,
    doc: &serde_json::Value,
    r: &BacktestRun,
    time: &dyn Fn(usize) -> serde_json::Value,
) -> Result<()> {
    let plain = |v: serde_json::Value| plain(&v);
    let mut trades = String::from(
        "entry_time,exit_time,entry_bar,exit_bar,entry_price,exit_price,size,pnl,return_pct,commission,exit_reason\n",
    );
    for t in &r.trades {
        let _ = writeln!(
            trades,
            "{},{},{},{},{},{},{},{},{},{},{}",
            plain(time(t.entry_bar)),
            plain(time(t.exit_bar)),
            t.entry_bar,
            t.exit_bar,
            t.entry_price,
            t.exit_price,
            t.size,
            t.pnl,
            t.return_pct,
            t.commission,
            t.exit_reason
        );
    }
    let mut equity = String::from("time,equity,buy_hold,drawdown_pct,signal\n");
    let mut peak = f64::NEG_INFINITY;
    for (i, (e, b)) in r.equity.iter().zip(&r.benchmark_equity).enumerate() {
        peak = peak.max(*e);
        let _ = writeln!(
            equity,
            "{},{e},{b},{},{}",
            plain(time(i)),
            (e / peak - 1.0) * 100.0,
            r.signal[i]
        );
    }
    let stats = serde_json::to_string_pretty(&json!({
        "stats": doc["stats"],
        "benchmark": doc["benchmark"],
        "open_trade": doc["open_trade"],
        "start": doc["start"],
        "end": doc["end"],
        "bars": doc["bars"],
    }))?;
    write_files(dir, &stats, &trades, &equity)
}

/// `--out DIR`: `stats.json`, `trades.csv` and `equity.csv`, one directory written
/// atomically.
fn write_files(dir: &Path, stats: &str, trades: &str, equity: &str) -> Result<()> {
    fsio::write_dir(dir, |tmp| {
        fsio::write_file(&tmp.join("stats.json"), stats.as_bytes())?;
        fsio::write_file(&tmp.join("trades.csv"), trades.as_bytes())?;
        fsio::write_file(&tmp.join("equity.csv"), equity.as_bytes())?;
        Ok(())
    })?;
    Ok(())
}

fn backtest_panel(
    a: &StrategyBacktestArgs,
    spec: &StrategySpec,
    panel: &forecast_core::data::Panel,
) -> Result<()> {
    let members = Bars::of_panel(panel)?;
    let r: PanelRun = run_panel(spec, &members)
        .with_context(|| format!("--strategy {}", a.strategy.display()))?;
    let date_only = panel.members.iter().all(|m| m.frame.date_only);
    let fmt = |t: chrono::NaiveDateTime| format_timestamp(t, date_only);
    let id_col = &panel.id_column;
    let series: Vec<serde_json::Value> = r
        .series
        .iter()
        .zip(&members)
        .map(|((id, run), (_, bars))| {
            let time = |bar: usize| json!(bars.times.as_ref().map(|t| fmt(t[bar])));
            json!({
                id_col.as_str(): id,
                "stats": run.stats,
                "benchmark": run.benchmark,
                "trades": run.trades.iter().map(|t| trade_json(t, &time)).collect::<Vec<_>>(),
            })
        })
        .collect();
    let doc = json!({
        "portfolio": {"stats": r.portfolio.stats, "benchmark": r.portfolio.benchmark},
        "series": series,
    });
    if let Some(dir) = &a.out {
        let mut trades = format!(
            "{id_col},entry_time,exit_time,entry_price,exit_price,size,pnl,return_pct,commission,exit_reason\n"
        );
        for s in &series {
            for t in s["trades"].as_array().into_iter().flatten() {
                let _ = writeln!(
                    trades,
                    "{},{},{},{},{},{},{},{},{},{}",
                    s[id_col.as_str()].as_str().unwrap_or_default(),
                    t["entry_time"].as_str().unwrap_or_default(),
                    t["exit_time"].as_str().unwrap_or_default(),
                    t["entry_price"],
                    t["exit_price"],
                    t["size"],
                    t["pnl"],
                    t["return_pct"],
                    t["commission"],
                    t["exit_reason"].as_str().unwrap_or_default()
                );
            }
        }
        let mut equity = String::from("time,equity,buy_hold\n");
        for ((t, e), h) in r
            .portfolio
            .times
            .iter()
            .zip(&r.portfolio.equity)
            .zip(&r.portfolio.benchmark_equity)
        {
            let _ = writeln!(equity, "{},{e},{h}", fmt(*t));
        }
        let stats = serde_json::to_string_pretty(&doc)?;
        write_files(dir, &stats, &trades, &equity)?;
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(());
    }
    let keys = [
        "return_pct",
        "buy_hold_return_pct",
        "sharpe",
        "max_drawdown_pct",
        "n_trades",
        "win_rate_pct",
        "exposure_pct",
    ];
    let mut out = format!("{:<12}", id_col);
    for k in keys {
        let _ = write!(out, " {k:>20}");
    }
    out.push('\n');
    let mut row = |name: &str, s: &Stats| {
        let _ = write!(out, "{name:<12}");
        let entries = s.entries();
        for k in keys {
            let v = entries
                .iter()
                .find(|(n, _)| *n == k)
                .map_or(f64::NAN, |e| e.1);
            let _ = write!(out, " {:>20}", cell(v));
        }
        out.push('\n');
    };
    for (id, run) in &r.series {
        row(id, &run.stats);
    }
    row("portfolio", &r.portfolio.stats);
    row("buy & hold", &r.portfolio.benchmark);
    print!("{out}");
    if let Some(dir) = &a.out {
        println!(
            "wrote {}/{{stats.json,trades.csv,equity.csv}}",
            dir.display()
        );
    }
    Ok(())
}
