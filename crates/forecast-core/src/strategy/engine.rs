//! The bar-by-bar simulation: signals decided on a bar's close fill on the next bar's
//! open (or, with `trade_on_close`, at the signal bar's close), never earlier.

use super::signal::signal;
use super::spec::{Sizing, StrategySpec};
use super::stats::{self, BarsStats, Stats, Trade};
use crate::data::{Frame, Panel};
use crate::error::{Error, Result};
use chrono::NaiveDateTime;

/// Price bars: open, high, low and close (and volume, for `require_volume`), with
/// their timestamps when the data has a time column.
#[derive(Debug, Clone, Default)]
pub struct Bars {
    /// Timestamps, ascending (`None` for row-indexed data).
    pub times: Option<Vec<NaiveDateTime>>,
    /// Opening prices.
    pub open: Vec<f64>,
    /// Highs.
    pub high: Vec<f64>,
    /// Lows.
    pub low: Vec<f64>,
    /// Closes.
    pub close: Vec<f64>,
    /// Volumes, when the data has them.
    pub volume: Option<Vec<f64>>,
}

impl Bars {
    /// The bars of a loaded frame, from its columns named `open`, `high`, `low`,
    /// `close` and `volume` (any case). A frame with a close but none of open, high
    /// and low (closing prices only) takes all four from the close: orders then fill
    /// at the next close. A missing volume column is allowed unless `require_volume`.
    pub fn from_frame(frame: &Frame) -> Result<Bars> {
        let find = |name: &str| -> Option<&[f64]> {
            frame
                .columns
                .iter()
                .find(|c| c.name.eq_ignore_ascii_case(name))
                .map(|c| c.values.as_slice())
        };
        let missing = |name: &str| Error::ColumnNotFound {
            path: frame.source.clone(),
            column: name.to_string(),
            available: frame.column_names().join(", "),
        };
        let close = find("close").ok_or_else(|| missing("close"))?.to_vec();
        let (open, high, low) = match (find("open"), find("high"), find("low")) {
            (None, None, None) => (close.clone(), close.clone(), close.clone()),
            (Some(o), Some(h), Some(l)) => (o.to_vec(), h.to_vec(), l.to_vec()),
            (o, h, _) => {
                let name = if o.is_none() {
                    "open"
                } else if h.is_none() {
                    "high"
                } else {
                    "low"
                };
                return Err(missing(name));
            }
        };
        Ok(Bars {
            times: frame.times.clone(),
            open,
            high,
            low,
            close,
            volume: find("volume").map(|v| v.to_vec()),
        })
    }

    /// Each ticker's bars of a panel, with its id, in the panel's order.
    pub fn of_panel(panel: &Panel) -> Result<Vec<(String, Bars)>> {
        panel
            .members
            .iter()
            .map(|m| Ok((m.id.clone(), Bars::from_frame(&m.frame)?)))
            .collect()
    }

    /// Number of bars.
    pub fn len(&self) -> usize {
        self.close.len()
    }

    /// Whether there are no bars.
    pub fn is_empty(&self) -> bool {
        self.close.is_empty()
    }

    /// The bars in `range` (clamped to the bars held), for a backtest of one part of
    /// the data.
    pub fn window(&self, range: std::ops::Range<usize>) -> Bars {
        let end = range.end.min(self.len());
        let r = range.start.min(end)..end;
        let part = |v: &Vec<f64>| v.get(r.clone()).map(<[f64]>::to_vec).unwrap_or_default();
        Bars {
            times: self.times.as_ref().map(|t| {
                t.get(r.clone())
                    .map(<[NaiveDateTime]>::to_vec)
                    .unwrap_or_default()
            }),
            open: part(&self.open),
            high: part(&self.high),
            low: part(&self.low),
            close: part(&self.close),
            volume: self.volume.as_ref().map(part),
        }
    }

    fn check(&self, require_volume: bool) -> Result<()> {
        let n = self.len();
        for (name, col) in [
            ("open", &self.open),
            ("high", &self.high),
            ("low", &self.low),
        ] {
            if col.len() != n {
                return Err(Error::config(
                    name,
                    format!("{} values for {n} closes", col.len()),
                ));
            }
        }
        if self.volume.is_none() && require_volume {
            return Err(Error::config(
                "execution.require_volume",
                "the data has no volume column",
            ));
        }
        if let Some(v) = &self.volume {
            if v.len() != n {
                return Err(Error::config(
                    "volume",
                    format!("{} values for {n} closes", v.len()),
                ));
            }
        }
        if let Some(t) = &self.times {
            if t.len() != n {
                return Err(Error::config(
                    "time",
                    format!("{} timestamps for {n} closes", t.len()),
                ));
            }
        }
        for (name, col) in [
            ("open", &self.open),
            ("high", &self.high),
            ("low", &self.low),
            ("close", &self.close),
        ] {
            if let Some(i) = col.iter().position(|v| !(v.is_finite() && *v > 0.0)) {
                return Err(Error::config(
                    name,
                    format!(
                        "bar {i}: prices must be positive and finite, got {}",
                        col[i]
                    ),
                ));
            }
        }
        Ok(())
    }
}

impl BarsStats {
    /// The part of the statistics shared by every run over `bars`, after checking the
    /// bars once (columns of one length, prices positive and finite).
    pub fn of(bars: &Bars) -> Result<BarsStats> {
        bars.check(false)?;
        Ok(BarsStats::new(&bars.close, bars.times.as_deref()))
    }
}

/// What a backtest produced.
#[derive(Debug, Clone)]
pub struct BacktestRun {
    /// The strategy's statistics.
    pub stats: Stats,
    /// Buy and hold from the close of the first bar with the indicators defined, all
    /// cash, no costs, fractional units, held to the last close.
    pub benchmark: Stats,
    /// Closed trades, in the order they closed.
    pub trades: Vec<Trade>,
    /// Equity after each bar (cash plus the open position at the close).
    pub equity: Vec<f64>,
    /// Buy and hold's equity after each bar.
    pub benchmark_equity: Vec<f64>,
    /// The signal on each bar (+1, −1, 0).
    pub signal: Vec<i8>,
    /// First bar on which the strategy decides (the bar after the indicators' first
    /// value, as backtesting.py starts).
    pub start: usize,
    /// The position still open after the last bar, if any (not among `trades`).
    pub open_trade: Option<Trade>,
}

struct Open {
    size: f64,
    entry_price: f64,
    entry_bar: usize,
    entry_commission: f64,
}

/// Python's float floor division (`a // b`), which sizes whole units in
/// backtesting.py; it differs from `(a / b).floor()` when the quotient rounds up to a
/// whole number.
fn py_floordiv(a: f64, b: f64) -> f64 {
    let mut m = a % b;
    let mut div = (a - m) / b;
    if m != 0.0 {
        if (b < 0.0) != (m < 0.0) {
            m += b;
            div -= 1.0;
        }
    } else {
        m = 0.0_f64.copysign(b);
    }
    let _ = m;
    if div != 0.0 {
        let f = div.floor();
        if div - f > 0.5 {
            f + 1.0
        } else {
            f
        }
    } else {
        0.0_f64.copysign(a / b)
    }
}

/// Run `spec` over `bars`. Errors: malformed bars, or too few bars for the signal
/// (naming the signal's key).
pub fn run(spec: &StrategySpec, bars: &Bars) -> Result<BacktestRun> {
    bars.check(spec.execution.require_volume)?;
    let shared = BarsStats::new(&bars.close, bars.times.as_deref());
    simulate(spec, bars, true, &shared)
}

/// The strategy's statistics of [`run`] alone, without buy and hold beside, from the
/// statistics' shared part of `bars` made once ([`BarsStats::of`] the same bars):
/// what each trial of a sweep needs. Errors as [`run`]; shared parts of other bars are
/// refused.
pub fn run_stats(spec: &StrategySpec, bars: &Bars, shared: &BarsStats) -> Result<Stats> {
    // The prices were checked once by `BarsStats::of`.
    if spec.execution.require_volume && bars.volume.is_none() {
        return Err(Error::config(
            "execution.require_volume",
            "the data has no volume column",
        ));
    }
    if !shared.is_of(&bars.close) {
        return Err(Error::config(
            "bars",
            "the statistics' shared part was made from other bars",
        ));
    }
    simulate(spec, bars, false, shared).map(|r| r.stats)
}

/// [`run`], with buy and hold only when `benchmark` (else its statistics are the
/// defaults and its equity empty). The bars are checked.
fn simulate(
    spec: &StrategySpec,
    bars: &Bars,
    benchmark: bool,
    shared: &BarsStats,
) -> Result<BacktestRun> {
    spec.check()?;
    let n = bars.len();
    let (warmup, key) = spec.warmup();
    let start = warmup + 1;
    if n < start + 2 {
        return Err(Error::config(
            key,
            format!(
                "needs at least {} bars ({warmup} before the indicators' first value, that bar, one to decide on and one to fill on), the data has {n}",
                start + 2
            ),
        ));
    }
    let sig = signal(&spec.signal, &bars.close)?;
    let ex = &spec.execution;
    let c = ex.commission_bps / 1e4;
    let slip = ex.slippage_bps / 1e4;
    let annual = if bars.times.is_some() {
        shared.annual()
    } else {
        252.0
    };

    let mut cash = ex.cash;
    let mut open: Option<Open> = None;
    let mut pending: Option<i8> = None;
    let mut trades = Vec::new();
    let mut equity = vec![ex.cash; n];
    let traded = |i: usize| -> bool {
        !ex.require_volume || bars.volume.as_ref().is_none_or(|v| v[i] > 0.0)
    };
    // Close the open trade at `price` (before slippage) on bar `bar`.
    let close_trade =
        |o: Open, price: f64, bar: usize, cash: &mut f64, why: &'static str| -> Trade {
            let q = price * (1.0 - o.size.signum() * slip);
            let exit_commission = o.size.abs() * q * c;
            let gross = o.size * (q - o.entry_price);
            *cash += gross - exit_commission;
            let commission = exit_commission + o.entry_commission;
            Trade {
                entry_bar: o.entry_bar,
                exit_bar: bar,
                size: o.size,
                entry_price: o.entry_price,
                exit_price: q,
                pnl: gross - commission,
                return_pct: (o.size.signum() * (q / o.entry_price - 1.0)
                    - commission / (o.size.abs() * o.entry_price))
                    * 100.0,
                commission,
                exit_reason: why,
            }
        };
    // The fraction of equity a new position takes, decided on bar `at`.
    let fraction = |at: usize| -> f64 {
        match &spec.sizing {
            Sizing::Fraction { fraction } => *fraction,
            Sizing::Volatility {
                target_pct,
                lookback,
                max_fraction,
            } => {
                let r: Vec<f64> = (at + 1 - lookback..=at)
                    .map(|i| (bars.close[i] / bars.close[i - 1]).ln())
                    .collect();
                let m = r.iter().sum::<f64>() / r.len() as f64;
                let sd = (r.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / (r.len() - 1) as f64)
                    .sqrt()
                    * annual.sqrt();
                if sd > 0.0 {
                    (target_pct / 100.0 / sd).min(*max_fraction)
                } else {
                    *max_fraction
                }
            }
        }
    };

    let mut ruined = false;
    for i in start..n {
        // Orders decided on bar i - 1: at bar i's open, or at bar i - 1's close.
        let (price, fill_bar) = if ex.trade_on_close {
            (bars.close[i - 1], i - 1)
        } else {
            (bars.open[i], i)
        };
        if let Some(target) = pending {
            if traded(fill_bar) {
                pending = None;
                if let Some(o) = open.take_if(|o| o.size.signum() as i8 != target) {
                    trades.push(close_trade(o, price, fill_bar, &mut cash, "signal"));
                }
                if target != 0 && open.is_none() {
                    let dir = target as f64;
                    let p = price * (1.0 + dir * slip);
                    let f = fraction(i - 1);
                    // Operations in backtesting.py's order, for bit-equal sizes.
                    let per_unit = p + (f * p * c) / f;
                    let budget = cash.max(0.0) * f;
                    let size = if ex.whole_units {
                        py_floordiv(budget, per_unit)
                    } else {
                        budget / per_unit
                    };
                    if size > 0.0 {
                        let entry_commission = size * p * c;
                        cash -= entry_commission;
                        open = Some(Open {
                            size: dir * size,
                            entry_price: p,
                            entry_bar: fill_bar,
                            entry_commission,
                        });
                    }
                }
            }
        }
        // Stop-loss, then take-profit, within bar i (also on the bar a trade opened).
        if let Some(o) = &open {
            if traded(i) {
                let long = o.size > 0.0;
                let (op, hi, lo) = (bars.open[i], bars.high[i], bars.low[i]);
                let sl = spec.exits.stop_loss_pct.map(|p| {
                    o.entry_price
                        * if long {
                            1.0 - p / 100.0
                        } else {
                            1.0 + p / 100.0
                        }
                });
                let tp = spec.exits.take_profit_pct.map(|p| {
                    o.entry_price
                        * if long {
                            1.0 + p / 100.0
                        } else {
                            1.0 - p / 100.0
                        }
                });
                // Gapped through: the fill is the open when it is beyond the level.
                let from = op;
                let hit = match (sl, tp) {
                    (Some(s), _) if (long && lo <= s) || (!long && hi >= s) => {
                        Some((if long { from.min(s) } else { from.max(s) }, "stop-loss"))
                    }
                    (_, Some(t)) if (long && hi >= t) || (!long && lo <= t) => {
                        Some((if long { from.max(t) } else { from.min(t) }, "take-profit"))
                    }
                    _ => None,
                };
                if let Some((px, why)) = hit {
                    if let Some(o) = open.take() {
                        trades.push(close_trade(o, px, i, &mut cash, why));
                    }
                }
            }
        }
        let e = cash
            + open
                .as_ref()
                .map_or(0.0, |o| bars.close[i] * o.size - o.size * o.entry_price);
        equity[i] = e;
        if e <= 0.0 {
            if let Some(o) = open.take() {
                trades.push(close_trade(o, bars.close[i], i, &mut cash, "ruin"));
            }
            for v in &mut equity[i..] {
                *v = 0.0;
            }
            ruined = true;
            break;
        }
        // The decision on bar i.
        let long = open.as_ref().is_some_and(|o| o.size > 0.0);
        let short = open.as_ref().is_some_and(|o| o.size < 0.0);
        match sig[i] {
            1 if !long => pending = Some(1),
            -1 if ex.long_only && long => pending = Some(0),
            -1 if !ex.long_only && !short => pending = Some(-1),
            _ => {}
        }
    }
    if !ruined && ex.finalize_trades {
        if let Some(o) = open.take() {
            let (price, bar) = if ex.trade_on_close {
                (bars.close[n - 2], n - 2)
            } else {
                (bars.open[n - 1], n - 1)
            };
            trades.push(close_trade(o, price, bar, &mut cash, "end"));
            equity[n - 1] = cash;
        }
    }
    let open_trade = open.map(|o| {
        let mut scratch = cash;
        close_trade(o, bars.close[n - 1], n - 1, &mut scratch, "open")
    });

    let times = bars.times.as_deref();
    let timed = times.is_some();
    let stats = stats::compute_with(&equity, &trades, &bars.close, timed, warmup, shared);
    if !benchmark {
        return Ok(BacktestRun {
            stats,
            benchmark: Stats::default(),
            trades,
            equity,
            benchmark_equity: Vec::new(),
            signal: sig,
            start,
            open_trade,
        });
    }
    // Buy and hold: all cash at the close of bar `warmup`, held to the end.
    let c0 = bars.close[warmup];
    let benchmark_equity: Vec<f64> = (0..n)
        .map(|i| {
            if i < warmup {
                ex.cash
            } else {
                ex.cash * bars.close[i] / c0
            }
        })
        .collect();
    let hold = Trade {
        entry_bar: warmup,
        exit_bar: n - 1,
        size: ex.cash / c0,
        entry_price: c0,
        exit_price: bars.close[n - 1],
        pnl: ex.cash * (bars.close[n - 1] / c0 - 1.0),
        return_pct: (bars.close[n - 1] / c0 - 1.0) * 100.0,
        commission: 0.0,
        exit_reason: "end",
    };
    let benchmark = stats::compute_with(
        &benchmark_equity,
        &[hold],
        &bars.close,
        timed,
        warmup,
        shared,
    );
    Ok(BacktestRun {
        stats,
        benchmark,
        trades,
        equity,
        benchmark_equity,
        signal: sig,
        start,
        open_trade,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floor_division_is_pythons() {
        assert_eq!(py_floordiv(7.0, 2.0), 3.0);
        assert_eq!(py_floordiv(-7.0, 2.0), -4.0);
        assert_eq!(py_floordiv(6.0, 2.0), 3.0);
        // 1 // 0.1 is 9.0 in Python although 1 / 0.1 == 10.0.
        assert_eq!(py_floordiv(1.0, 0.1), 9.0);
        assert_eq!((1.0f64 / 0.1).floor(), 10.0);
    }
}
