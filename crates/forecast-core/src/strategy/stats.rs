//! Backtest statistics, each defined as backtesting.py (0.6) defines the statistic of
//! the same name, with durations counted in bars instead of wall-clock time.

use chrono::{Datelike, NaiveDateTime};
use serde::ser::{Serialize, SerializeMap, Serializer};

/// A closed trade.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Trade {
    /// Bar of the entry fill.
    pub entry_bar: usize,
    /// Bar of the exit fill.
    pub exit_bar: usize,
    /// Units, negative for a short trade.
    pub size: f64,
    /// Entry fill price (slippage included).
    pub entry_price: f64,
    /// Exit fill price (slippage included).
    pub exit_price: f64,
    /// Profit after both commissions.
    pub pnl: f64,
    /// Return on the entry value after both commissions, percent.
    pub return_pct: f64,
    /// Commissions paid on entry and exit.
    pub commission: f64,
    /// Why the trade closed: `signal`, `stop-loss`, `take-profit`, `end` (finalised
    /// after the last bar) or `ruin` (equity reached zero).
    pub exit_reason: &'static str,
}

/// The statistics of one equity curve and its trades (see the module docs). A
/// statistic that is undefined (no trades, no drawdown, no timestamps) is NaN and is
/// written as `null`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stats {
    /// Bars that held a position (entry to exit bar of closed trades), percent.
    pub exposure_pct: f64,
    /// Final equity.
    pub equity_final: f64,
    /// Highest equity.
    pub equity_peak: f64,
    /// Commissions paid over the closed trades.
    pub commissions: f64,
    /// Total return, percent.
    pub return_pct: f64,
    /// Buy and hold from the close of the first bar with the signal's indicators
    /// defined to the last close, percent.
    pub buy_hold_return_pct: f64,
    /// Annualised return from the geometric mean daily (weekly, monthly, yearly)
    /// return, percent.
    pub return_ann_pct: f64,
    /// Annualised volatility of compounded returns, percent.
    pub volatility_ann_pct: f64,
    /// Compound annual growth rate over the calendar span, percent.
    pub cagr_pct: f64,
    /// Annualised return over annualised volatility (risk-free rate 0).
    pub sharpe: f64,
    /// Annualised return over annualised downside deviation.
    pub sortino: f64,
    /// Annualised return over the maximum drawdown.
    pub calmar: f64,
    /// Return minus beta times the buy-and-hold return, percent.
    pub alpha_pct: f64,
    /// Covariance of the equity's and the close's log returns over the latter's
    /// variance.
    pub beta: f64,
    /// Deepest drawdown from a running peak, percent (negative).
    pub max_drawdown_pct: f64,
    /// Mean of each drawdown's depth, percent (negative).
    pub avg_drawdown_pct: f64,
    /// Longest drawdown, bars.
    pub max_drawdown_bars: f64,
    /// Mean drawdown length, bars.
    pub avg_drawdown_bars: f64,
    /// Closed trades.
    pub n_trades: f64,
    /// Trades with a positive profit, percent.
    pub win_rate_pct: f64,
    /// Best trade return, percent.
    pub best_trade_pct: f64,
    /// Worst trade return, percent.
    pub worst_trade_pct: f64,
    /// Geometric mean trade return, percent.
    pub avg_trade_pct: f64,
    /// Longest trade, bars from entry to exit.
    pub max_trade_bars: f64,
    /// Mean trade length, bars.
    pub avg_trade_bars: f64,
    /// Sum of winning trade returns over the absolute sum of losing ones.
    pub profit_factor: f64,
    /// Arithmetic mean trade return, percent.
    pub expectancy_pct: f64,
    /// System quality number: √n × mean profit / its standard deviation.
    pub sqn: f64,
    /// Kelly criterion from the win rate and the mean win / loss.
    pub kelly: f64,
}

impl Stats {
    /// Every statistic with its JSON key, in a fixed order.
    pub fn entries(&self) -> [(&'static str, f64); 29] {
        [
            ("return_pct", self.return_pct),
            ("buy_hold_return_pct", self.buy_hold_return_pct),
            ("return_ann_pct", self.return_ann_pct),
            ("volatility_ann_pct", self.volatility_ann_pct),
            ("cagr_pct", self.cagr_pct),
            ("sharpe", self.sharpe),
            ("sortino", self.sortino),
            ("calmar", self.calmar),
            ("alpha_pct", self.alpha_pct),
            ("beta", self.beta),
            ("max_drawdown_pct", self.max_drawdown_pct),
            ("avg_drawdown_pct", self.avg_drawdown_pct),
            ("max_drawdown_bars", self.max_drawdown_bars),
            ("avg_drawdown_bars", self.avg_drawdown_bars),
            ("n_trades", self.n_trades),
            ("win_rate_pct", self.win_rate_pct),
            ("best_trade_pct", self.best_trade_pct),
            ("worst_trade_pct", self.worst_trade_pct),
            ("avg_trade_pct", self.avg_trade_pct),
            ("max_trade_bars", self.max_trade_bars),
            ("avg_trade_bars", self.avg_trade_bars),
            ("profit_factor", self.profit_factor),
            ("expectancy_pct", self.expectancy_pct),
            ("sqn", self.sqn),
            ("kelly", self.kelly),
            ("exposure_pct", self.exposure_pct),
            ("equity_final", self.equity_final),
            ("equity_peak", self.equity_peak),
            ("commissions", self.commissions),
        ]
    }
}

impl Serialize for Stats {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let entries = self.entries();
        let mut map = s.serialize_map(Some(entries.len()))?;
        for (k, v) in entries {
            if v.is_finite() {
                map.serialize_entry(k, &v)?;
            } else {
                map.serialize_entry(k, &Option::<f64>::None)?;
            }
        }
        map.end()
    }
}

fn mean(x: &[f64]) -> f64 {
    if x.is_empty() {
        f64::NAN
    } else {
        x.iter().sum::<f64>() / x.len() as f64
    }
}

/// Sample variance (ddof = 1); NaN below two values.
fn var(x: &[f64]) -> f64 {
    if x.len() < 2 {
        return f64::NAN;
    }
    let m = mean(x);
    x.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / (x.len() - 1) as f64
}

fn max(x: impl IntoIterator<Item = f64>) -> f64 {
    x.into_iter().fold(f64::NAN, fold_max)
}

fn min(x: impl IntoIterator<Item = f64>) -> f64 {
    x.into_iter()
        .fold(f64::NAN, |a, b| if a.is_nan() || b < a { b } else { a })
}

/// `x or NaN`: NaN for zero (Python's `x or np.nan`).
fn or_nan(x: f64) -> f64 {
    if x == 0.0 {
        f64::NAN
    } else {
        x
    }
}

/// backtesting.py's `geometric_mean`: NaN counts as 0; 0 when any return is −100% or
/// worse; NaN for no returns.
pub(crate) fn geometric_mean(returns: &[f64]) -> f64 {
    let g = |r: &f64| if r.is_nan() { 1.0 } else { 1.0 + r };
    if returns.iter().any(|r| g(r) <= 0.0) {
        return 0.0;
    }
    if returns.is_empty() {
        return f64::NAN;
    }
    // ln(1) is exactly 0: flat periods (no position) skip the logarithm, same sum.
    let ln = |v: f64| if v == 1.0 { 0.0 } else { v.ln() };
    (returns.iter().map(|r| ln(g(r))).sum::<f64>() / returns.len() as f64).exp() - 1.0
}

/// Periods per year and the resampling period of the returns, from the median spacing
/// of the last 100 timestamps (backtesting.py's rule): 52 for weekly, 12 for monthly, 1
/// for yearly data, otherwise daily returns with 365 periods when weekends hold more
/// than 60% of their share of days, 252 when not.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Period {
    Day,
    Week,
    Month,
    Year,
}

pub(crate) fn annual_periods(times: &[NaiveDateTime]) -> (f64, Period) {
    let tail = &times[times.len().saturating_sub(100)..];
    let mut diffs: Vec<i64> = tail
        .windows(2)
        .map(|w| (w[1] - w[0]).num_seconds())
        .collect();
    diffs.sort_unstable();
    // pandas' median of timedeltas: the mean of the two middle values when even.
    let median_secs = match diffs.len() {
        0 => 0.0,
        k if k % 2 == 1 => diffs[k / 2] as f64,
        k => (diffs[k / 2 - 1] as f64 + diffs[k / 2] as f64) / 2.0,
    };
    let days = (median_secs / 86_400.0).floor() as i64;
    let weekend = times
        .iter()
        .filter(|t| t.weekday().num_days_from_monday() >= 5)
        .count() as f64
        / times.len().max(1) as f64;
    match days {
        7 => (52.0, Period::Week),
        31 => (12.0, Period::Month),
        365 => (1.0, Period::Year),
        _ if weekend > 2.0 / 7.0 * 0.6 => (365.0, Period::Day),
        _ => (252.0, Period::Day),
    }
}

/// The last bar of each calendar period with data, as pandas' `resample(period)
/// .last().dropna()` takes it (weeks end on Sunday, months and years at their end); the
/// equity there gives the period returns.
fn period_ends(times: &[NaiveDateTime], period: Period) -> Vec<usize> {
    let key = |t: &NaiveDateTime| -> (i32, u32, u32) {
        let d = t.date();
        match period {
            Period::Day => (d.year(), d.ordinal(), 0),
            Period::Week => {
                let to_sunday = 6 - d.weekday().num_days_from_monday();
                let end = d + chrono::Duration::days(to_sunday as i64);
                (end.year(), end.ordinal(), 0)
            }
            Period::Month => (d.year(), d.month(), 0),
            Period::Year => (d.year(), 0, 0),
        }
    };
    let mut ends: Vec<usize> = Vec::new();
    let mut prev_key = None;
    for (i, t) in times.iter().enumerate() {
        let k = key(t);
        if prev_key == Some(k) {
            if let Some(l) = ends.last_mut() {
                *l = i;
            }
        } else {
            ends.push(i);
            prev_key = Some(k);
        }
    }
    ends
}

/// `max`'s step: NaN only until the first number, then the larger (the first of equals).
fn fold_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b > a {
        b
    } else {
        a
    }
}

/// What the statistics take from the drawdown `1 − equity / running peak`, in one pass
/// over the equity (a sweep computes it for every trial).
struct Drawdowns {
    /// The largest equity (`max` of the equity).
    equity_peak: f64,
    /// The largest drawdown (`max` of the drawdowns).
    max: f64,
    /// backtesting.py's drawdown stretches: between bars at a running peak (drawdown 0,
    /// and the last bar), longer than one bar; their lengths in bars and their deepest
    /// drawdowns.
    lengths: Vec<f64>,
    depths: Vec<f64>,
    /// The non-zero drawdowns' sum and count (what backtesting.py averages when there
    /// is no stretch).
    nonzero_sum: f64,
    nonzero: usize,
}

impl Drawdowns {
    fn of(equity: &[f64]) -> Drawdowns {
        let n = equity.len();
        let mut dd = Drawdowns {
            equity_peak: f64::NAN,
            max: f64::NAN,
            lengths: Vec::new(),
            depths: Vec::new(),
            nonzero_sum: -0.0,
            nonzero: 0,
        };
        let mut peak = f64::NEG_INFINITY;
        // The last bar at a running peak, and the deepest drawdown since it (inclusive).
        let mut last_peak: Option<usize> = None;
        let mut deepest = f64::NAN;
        for (i, &e) in equity.iter().enumerate() {
            peak = peak.max(e);
            let d = 1.0 - e / peak;
            dd.equity_peak = fold_max(dd.equity_peak, e);
            dd.max = fold_max(dd.max, d);
            if d != 0.0 {
                dd.nonzero_sum += d;
                dd.nonzero += 1;
            }
            let at_peak = d == 0.0 || i + 1 == n;
            if let Some(p) = last_peak {
                deepest = fold_max(deepest, d);
                if at_peak && i > p + 1 {
                    dd.lengths.push((i - p) as f64);
                    dd.depths.push(deepest);
                }
            }
            if d == 0.0 {
                last_peak = Some(i);
                deepest = d;
            }
        }
        dd
    }
}

/// What the statistics of every run over the same bars share: the periods per year,
/// the last bar of each calendar period, the span in years and the closes' log returns
/// with their mean and variance (the market's side of beta). Computed once per set of
/// bars, so that a sweep's trials do not repeat it.
#[derive(Debug, Clone)]
pub struct BarsStats {
    /// Bars (closes) it was made from.
    n: usize,
    /// Periods per year; NaN without timestamps.
    annual: f64,
    /// Index of the last bar of each calendar period (empty without timestamps).
    period_ends: Vec<usize>,
    /// First to last timestamp in years (NaN without timestamps).
    years: f64,
    /// Log returns of the closes, their mean and sample variance.
    close_log_returns: Vec<f64>,
    close_mean: f64,
    close_var: f64,
    /// The first and last closes (to recognise the bars).
    first: Option<f64>,
    last: Option<f64>,
}

/// Log returns of `x`; ln(1) is exactly 0, so a flat stretch skips the logarithm.
fn log_returns(x: &[f64]) -> Vec<f64> {
    x.windows(2)
        .map(|w| {
            if w[1] == w[0] && w[0] != 0.0 {
                0.0
            } else {
                (w[1] / w[0]).ln()
            }
        })
        .collect()
}

impl BarsStats {
    /// Periods per year (NaN without timestamps).
    pub(crate) fn annual(&self) -> f64 {
        self.annual
    }

    /// Whether this was made from `close` (its length and its first and last values).
    pub(crate) fn is_of(&self, close: &[f64]) -> bool {
        self.n == close.len()
            && self.close_log_returns.len() == close.len().saturating_sub(1)
            && self.first == close.first().copied()
            && self.last == close.last().copied()
    }

    /// The shared part of the statistics of runs over `close` at `times`.
    pub(crate) fn new(close: &[f64], times: Option<&[NaiveDateTime]>) -> BarsStats {
        let n = close.len();
        let (annual, period_ends, years) = match times {
            Some(times) if !times.is_empty() => {
                let (a, period) = annual_periods(times);
                let span = times[times.len() - 1] - times[0];
                let years = span.num_seconds() as f64 / 86_400.0 / 365.25;
                (a, period_ends(times, period), years)
            }
            _ => (f64::NAN, Vec::new(), f64::NAN),
        };
        let close_log_returns = log_returns(close);
        let close_mean = mean(&close_log_returns);
        let close_var = var(&close_log_returns);
        BarsStats {
            n,
            first: close.first().copied(),
            last: close.last().copied(),
            annual,
            period_ends,
            years,
            close_log_returns,
            close_mean,
            close_var,
        }
    }
}

/// The statistics of `equity` (one value per bar of `close`), the closed `trades`, the
/// bars' `times` (`None` for row-indexed data: the annualised statistics are NaN) and
/// `first_bar`, the first bar with the signal's indicators defined (where buy and
/// hold starts).
pub fn compute(
    equity: &[f64],
    trades: &[Trade],
    close: &[f64],
    times: Option<&[NaiveDateTime]>,
    first_bar: usize,
) -> Stats {
    compute_with(
        equity,
        trades,
        close,
        times.is_some(),
        first_bar,
        &BarsStats::new(close, times),
    )
}

/// [`compute`] with the part shared by every run over the same bars already computed
/// (`shared` must be of `close`; `timed`: whether the bars have timestamps).
pub(crate) fn compute_with(
    equity: &[f64],
    trades: &[Trade],
    close: &[f64],
    timed: bool,
    first_bar: usize,
    shared: &BarsStats,
) -> Stats {
    debug_assert_eq!(shared.n, close.len());
    let n = equity.len();
    let mut s = Stats {
        n_trades: trades.len() as f64,
        ..Stats::default()
    };
    if n == 0 {
        return s;
    }
    let dd = Drawdowns::of(equity);

    let mut held = vec![false; n];
    for t in trades {
        for h in &mut held[t.entry_bar..=t.exit_bar.min(n - 1)] {
            *h = true;
        }
    }
    s.exposure_pct = held.iter().filter(|h| **h).count() as f64 / n as f64 * 100.0;
    s.equity_final = equity[n - 1];
    s.equity_peak = dd.equity_peak;
    s.commissions = trades.iter().map(|t| t.commission).sum();
    s.return_pct = (equity[n - 1] - equity[0]) / equity[0] * 100.0;
    let c0 = close[first_bar.min(n - 1)];
    s.buy_hold_return_pct = (close[n - 1] - c0) / c0 * 100.0;

    let (annual, returns) = if timed {
        let last: Vec<f64> = shared.period_ends.iter().map(|&i| equity[i]).collect();
        let returns: Vec<f64> = last.windows(2).map(|w| w[1] / w[0] - 1.0).collect();
        (shared.annual, returns)
    } else {
        (f64::NAN, Vec::new())
    };
    let g = if timed { geometric_mean(&returns) } else { 0.0 };
    let annualized = (1.0 + g).powf(annual) - 1.0;
    s.return_ann_pct = annualized * 100.0;
    s.volatility_ann_pct =
        ((var(&returns) + (1.0 + g).powi(2)).powf(annual) - (1.0 + g).powf(2.0 * annual)).sqrt()
            * 100.0;
    let years = shared.years;
    s.cagr_pct = if timed && years != 0.0 {
        ((s.equity_final / equity[0]).powf(1.0 / years) - 1.0) * 100.0
    } else {
        f64::NAN
    };
    s.sharpe = s.return_ann_pct / or_nan(s.volatility_ann_pct);
    let downside = if returns.is_empty() {
        f64::NAN
    } else {
        returns.iter().map(|r| r.min(0.0).powi(2)).sum::<f64>() / returns.len() as f64
    };
    s.sortino = annualized / (downside.sqrt() * annual.sqrt());
    let max_dd = if dd.max.is_nan() { 0.0 } else { dd.max };
    s.calmar = annualized / or_nan(max_dd);
    let (er, mr) = (log_returns(equity), &shared.close_log_returns);
    s.beta = if er.len() > 1 {
        let (me, mm) = (mean(&er), shared.close_mean);
        let cov = er
            .iter()
            .zip(mr)
            .map(|(a, b)| (a - me) * (b - mm))
            .sum::<f64>()
            / (er.len() - 1) as f64;
        cov / shared.close_var
    } else {
        f64::NAN
    };
    s.alpha_pct = s.return_pct - s.beta * s.buy_hold_return_pct;
    s.max_drawdown_pct = -max_dd * 100.0;
    if dd.lengths.is_empty() {
        // backtesting.py then averages the non-zero drawdowns; no stretch has a length.
        s.avg_drawdown_pct = if dd.nonzero == 0 {
            f64::NAN
        } else {
            -(dd.nonzero_sum / dd.nonzero as f64) * 100.0
        };
        s.max_drawdown_bars = f64::NAN;
        s.avg_drawdown_bars = f64::NAN;
    } else {
        s.avg_drawdown_pct = -mean(&dd.depths) * 100.0;
        s.max_drawdown_bars = max(dd.lengths.iter().copied());
        s.avg_drawdown_bars = mean(&dd.lengths);
    }

    let pl: Vec<f64> = trades.iter().map(|t| t.pnl).collect();
    let r: Vec<f64> = trades.iter().map(|t| t.return_pct / 100.0).collect();
    let bars: Vec<f64> = trades
        .iter()
        .map(|t| (t.exit_bar - t.entry_bar) as f64)
        .collect();
    let win_rate = if trades.is_empty() {
        f64::NAN
    } else {
        pl.iter().filter(|p| **p > 0.0).count() as f64 / pl.len() as f64
    };
    s.win_rate_pct = win_rate * 100.0;
    s.best_trade_pct = max(r.iter().copied()) * 100.0;
    s.worst_trade_pct = min(r.iter().copied()) * 100.0;
    s.avg_trade_pct = geometric_mean(&r) * 100.0;
    s.max_trade_bars = max(bars.iter().copied());
    s.avg_trade_bars = mean(&bars);
    let gains: f64 = r.iter().filter(|v| **v > 0.0).sum();
    let losses: f64 = r.iter().filter(|v| **v < 0.0).sum();
    s.profit_factor = gains / or_nan(losses.abs());
    s.expectancy_pct = mean(&r) * 100.0;
    s.sqn = (pl.len() as f64).sqrt() * mean(&pl) / or_nan(var(&pl).sqrt());
    let win: Vec<f64> = pl.iter().copied().filter(|p| *p > 0.0).collect();
    let loss: Vec<f64> = pl.iter().copied().filter(|p| *p < 0.0).collect();
    s.kelly = win_rate - (1.0 - win_rate) / (mean(&win) / -mean(&loss));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// backtesting.py's definitions written out pass by pass, as the one-pass
    /// [`Drawdowns`] must reproduce them: (equity peak, max drawdown, stretches'
    /// lengths and depths, the non-zero drawdowns).
    #[allow(clippy::type_complexity)]
    fn by_definition(equity: &[f64]) -> (f64, f64, Vec<f64>, Vec<f64>, Vec<f64>) {
        let mut peak = f64::NEG_INFINITY;
        let dd: Vec<f64> = equity
            .iter()
            .map(|e| {
                peak = peak.max(*e);
                1.0 - e / peak
            })
            .collect();
        let n = dd.len();
        let mut at_peak: Vec<usize> = (0..n).filter(|&i| dd[i] == 0.0).collect();
        if n > 0 && at_peak.last() != Some(&(n - 1)) {
            at_peak.push(n - 1);
        }
        let (mut len, mut depth) = (Vec::new(), Vec::new());
        for w in at_peak.windows(2) {
            if w[1] > w[0] + 1 {
                len.push((w[1] - w[0]) as f64);
                depth.push(max(dd[w[0]..=w[1]].iter().copied()));
            }
        }
        let nonzero = dd.iter().copied().filter(|d| *d != 0.0).collect();
        (
            max(equity.iter().copied()),
            max(dd.iter().copied()),
            len,
            depth,
            nonzero,
        )
    }

    #[test]
    fn one_pass_drawdowns_equal_the_definitions_bit_for_bit() {
        // A deterministic walk with flat stretches, new peaks, a NaN and ties.
        let mut x = 0x2545_f491_4f6c_dd1d_u64;
        let mut walk = vec![100.0];
        for i in 0..3000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let step = match x % 5 {
                0 => 0.0,
                _ => ((x >> 11) as f64 / (1u64 << 53) as f64 - 0.48) * 2.0,
            };
            let last: f64 = *walk.last().unwrap();
            walk.push(if i == 1500 {
                f64::NAN
            } else {
                (last + step).max(1.0)
            });
        }
        let cases: Vec<Vec<f64>> = vec![
            walk.clone(),
            walk[..1400].to_vec(),
            vec![100.0; 50],
            vec![100.0, 99.0, 98.0, 97.0],
            vec![100.0, 101.0, 102.0],
            vec![100.0, 90.0, 100.0, 90.0, 100.0, 100.0, 95.0],
            vec![100.0],
            vec![],
        ];
        let bits = |v: &[f64]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
        for (k, equity) in cases.iter().enumerate() {
            let got = Drawdowns::of(equity);
            let (peak, max_dd, len, depth, nonzero) = by_definition(equity);
            assert_eq!(got.equity_peak.to_bits(), peak.to_bits(), "case {k}");
            assert_eq!(got.max.to_bits(), max_dd.to_bits(), "case {k}");
            assert_eq!(bits(&got.lengths), bits(&len), "case {k}");
            assert_eq!(bits(&got.depths), bits(&depth), "case {k}");
            assert_eq!(got.nonzero, nonzero.len(), "case {k}");
            if !nonzero.is_empty() {
                let sum: f64 = nonzero.iter().sum();
                assert_eq!(got.nonzero_sum.to_bits(), sum.to_bits(), "case {k}");
            }
        }
        assert!(!Drawdowns::of(&walk).lengths.is_empty());
    }
}
