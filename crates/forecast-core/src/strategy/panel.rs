//! A strategy over a panel of tickers: one backtest per ticker with an equal share of
//! the cash, and the portfolio of them all.

use super::engine::{run, BacktestRun, Bars};
use super::spec::StrategySpec;
use super::stats::{self, Stats, Trade};
use crate::error::{Error, Result};
use chrono::NaiveDateTime;
use rayon::prelude::*;

/// The portfolio of a panel backtest: the tickers' equities summed on the union of
/// their timestamps (a ticker's equity carried forward on days it has no bar, its
/// cash share before its first bar).
#[derive(Debug, Clone)]
pub struct Portfolio {
    /// Statistics of the summed equity; trades are every ticker's, on the union bars.
    pub stats: Stats,
    /// Statistics of the tickers' buy-and-hold equities summed (an equal-weight
    /// buy and hold), which also serves as the market for alpha and beta.
    pub benchmark: Stats,
    /// The union timestamps.
    pub times: Vec<NaiveDateTime>,
    /// Summed equity per union bar.
    pub equity: Vec<f64>,
    /// Summed buy-and-hold equity per union bar.
    pub benchmark_equity: Vec<f64>,
}

/// A panel backtest.
#[derive(Debug, Clone)]
pub struct PanelRun {
    /// Each ticker's backtest, in the panel's order.
    pub series: Vec<(String, BacktestRun)>,
    /// The portfolio (every ticker must have timestamps).
    pub portfolio: Portfolio,
}

/// Run `spec` on each ticker of `members` with `cash / N` each, in parallel, and sum
/// them into a portfolio. Errors name the ticker.
pub fn run_panel(spec: &StrategySpec, members: &[(String, Bars)]) -> Result<PanelRun> {
    if members.is_empty() {
        return Err(Error::config("data", "the panel has no series"));
    }
    let mut each = spec.clone();
    each.execution.cash = spec.execution.cash / members.len() as f64;
    let series: Vec<(String, BacktestRun)> = members
        .par_iter()
        .map(|(id, bars)| {
            if bars.times.is_none() {
                return Err(Error::config(
                    "data",
                    "a panel backtest needs a time column to line the series up",
                )
                .in_series(id));
            }
            run(&each, bars)
                .map(|r| (id.clone(), r))
                .map_err(|e| e.in_series(id))
        })
        .collect::<Result<_>>()?;

    let mut times: Vec<NaiveDateTime> = members
        .iter()
        .flat_map(|(_, b)| b.times.iter().flatten().copied())
        .collect();
    times.sort_unstable();
    times.dedup();
    let n = times.len();
    let share = each.execution.cash;
    let (mut equity, mut hold) = (vec![0.0; n], vec![0.0; n]);
    let mut trades: Vec<Trade> = Vec::new();
    let mut first_bar = n - 1;
    for ((_, bars), (_, r)) in members.iter().zip(&series) {
        let own = bars.times.as_deref().unwrap_or_default();
        // Union index of each of the ticker's bars.
        let at: Vec<usize> = own
            .iter()
            .map(|t| times.partition_point(|u| u < t))
            .collect();
        let (mut k, mut e, mut h) = (0, share, share);
        for i in 0..n {
            while k < own.len() && at[k] <= i {
                e = r.equity[k];
                h = r.benchmark_equity[k];
                k += 1;
            }
            equity[i] += e;
            hold[i] += h;
        }
        let warm = r.start.saturating_sub(1).min(at.len() - 1);
        first_bar = first_bar.min(at[warm]);
        trades.extend(r.trades.iter().map(|t| Trade {
            entry_bar: at[t.entry_bar],
            exit_bar: at[t.exit_bar],
            ..t.clone()
        }));
    }
    trades.sort_by_key(|t| (t.exit_bar, t.entry_bar));
    let stats = stats::compute(&equity, &trades, &hold, Some(&times), first_bar);
    let whole = Trade {
        entry_bar: first_bar,
        exit_bar: n - 1,
        size: 1.0,
        entry_price: hold[first_bar],
        exit_price: hold[n - 1],
        pnl: hold[n - 1] - hold[first_bar],
        return_pct: (hold[n - 1] / hold[first_bar] - 1.0) * 100.0,
        commission: 0.0,
        exit_reason: "end",
    };
    let benchmark = stats::compute(&hold, &[whole], &hold, Some(&times), first_bar);
    Ok(PanelRun {
        series,
        portfolio: Portfolio {
            stats,
            benchmark,
            times,
            equity,
            benchmark_equity: hold,
        },
    })
}
