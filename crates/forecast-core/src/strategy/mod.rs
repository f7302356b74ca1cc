//! Trading strategies: signals from indicators, a bar-by-bar simulation without
//! look-ahead (a decision on bar t's close fills at bar t + 1's open by default), and
//! the statistics backtesting.py reports, defined as it defines them.
//!
//! ```
//! use forecast_core::strategy::{run, Bars, StrategySpec};
//! let spec = StrategySpec::from_toml("[signal]\nkind = \"sma-cross\"\nfast = 2\nslow = 4\n").unwrap();
//! let close: Vec<f64> = (0..60).map(|i| 100.0 + (i as f64 / 5.0).sin() * 10.0).collect();
//! let bars = Bars { open: close.clone(), high: close.clone(), low: close.clone(), close, ..Default::default() };
//! let result = run(&spec, &bars).unwrap();
//! assert!(result.stats.n_trades > 0.0);
//! ```

pub mod alert;
mod engine;
mod panel;
mod signal;
mod spec;
pub mod stats;

pub use engine::{run, run_stats, BacktestRun, Bars};
pub use panel::{run_panel, PanelRun, Portfolio};
pub use signal::{signal, signal_from};
pub use spec::{CrossMode, Execution, Exits, ForecastSignal, SignalSpec, Sizing, StrategySpec};
pub use stats::{BarsStats, Stats, Trade};

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic random walk of OHLC bars.
    fn walk(n: usize, seed: u64) -> Bars {
        let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        };
        let mut c = 100.0;
        let mut bars = Bars::default();
        for _ in 0..n {
            let o = c * (1.0 + 0.004 * next());
            c = o * (1.0 + 0.03 * next());
            let hi = o.max(c) * (1.0 + 0.01 * next().abs());
            let lo = o.min(c) * (1.0 - 0.01 * next().abs());
            bars.open.push(o);
            bars.high.push(hi);
            bars.low.push(lo);
            bars.close.push(c);
        }
        bars
    }

    fn spec(text: &str) -> StrategySpec {
        StrategySpec::from_toml(text).unwrap()
    }

    const SIGNALS: [&str; 7] = [
        "kind = \"forecast\"\nmodel = \"arima\"\nconfig = {order = [1, 1, 0]}\nmin_train = 60\nrefit_every = 25\nwindow = 80\nhorizon = 3\nthreshold_pct = 0.02",
        "kind = \"sma-cross\"\nfast = 5\nslow = 20",
        "kind = \"ema-cross\"\nfast = 5\nslow = 20\nmode = \"state\"",
        "kind = \"rsi\"\nperiod = 10\nlower = 40\nupper = 60",
        "kind = \"bbands\"\nperiod = 15\nk = 1.5",
        "kind = \"macd\"",
        "kind = \"any\"\nconfirm = 2\nsignals = [{kind = \"rsi\", lower = 45, upper = 55}, {kind = \"sma-cross\", fast = 3, slow = 8, mode = \"state\"}]",
    ];

    /// A sweep's statistics (`run_stats` with the bars' shared part made once) are
    /// `run`'s to the bit; a shared part of other bars is refused.
    #[test]
    fn run_stats_equals_run() {
        let mut bars = walk(400, 3);
        let day0 = chrono::NaiveDate::from_ymd_opt(2020, 1, 1).unwrap();
        bars.times = Some(
            (0..400)
                .map(|i| {
                    (day0 + chrono::Duration::days(i))
                        .and_hms_opt(0, 0, 0)
                        .unwrap()
                })
                .collect(),
        );
        let shared = BarsStats::of(&bars).unwrap();
        for sig in SIGNALS.iter().skip(1) {
            let s = spec(&format!(
                "[signal]\n{sig}\n[execution]\nlong_only = false\ncommission_bps = 5\n"
            ));
            let a = run(&s, &bars).unwrap().stats.entries();
            let b = run_stats(&s, &bars, &shared).unwrap().entries();
            for ((k, x), (_, y)) in a.iter().zip(&b) {
                assert!(
                    x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()),
                    "{sig}: {k} {x} vs {y}"
                );
            }
        }
        let other = BarsStats::of(&walk(400, 4)).unwrap();
        let s = spec("[signal]\nkind = \"macd\"\n");
        assert!(run_stats(&s, &bars, &other).is_err());
    }

    /// Changing any bar after t changes no signal, fill, trade or equity up to t.
    #[test]
    fn no_look_ahead() {
        let n = 300;
        let base = walk(n, 7);
        for sig in SIGNALS {
            for exec in [
                "trade_on_close = false\nlong_only = true",
                "trade_on_close = true\nlong_only = false\ncommission_bps = 7",
                "long_only = false\nwhole_units = true\nslippage_bps = 3",
            ] {
                let text = format!(
                    "[signal]\n{sig}\n[execution]\n{exec}\n[exits]\nstop_loss_pct = 4\ntake_profit_pct = 9\n"
                );
                let s = spec(&text);
                let a = run(&s, &base).unwrap();
                assert!(a.trades.len() > 2, "{text}: too few trades to test");
                for t in [60, 150, 250] {
                    let mut changed = walk(n, 99);
                    for col in [
                        (&mut changed.open, &base.open),
                        (&mut changed.high, &base.high),
                        (&mut changed.low, &base.low),
                        (&mut changed.close, &base.close),
                    ] {
                        col.0[..=t].copy_from_slice(&col.1[..=t]);
                    }
                    let b = run(&s, &changed).unwrap();
                    assert_eq!(a.signal[..=t], b.signal[..=t], "{text} t={t}");
                    assert_eq!(a.equity[..=t], b.equity[..=t], "{text} t={t}");
                    let done = |r: &BacktestRun| -> Vec<Trade> {
                        r.trades
                            .iter()
                            .filter(|x| x.exit_bar <= t)
                            .cloned()
                            .collect()
                    };
                    assert_eq!(done(&a), done(&b), "{text} t={t}");
                }
            }
        }
    }

    /// A crossing on bar t's close fills at bar t + 1's open; costs as documented.
    #[test]
    fn fills_and_costs_by_hand() {
        let close: [f64; 10] = [10.0, 9.0, 8.0, 9.0, 11.0, 12.0, 11.0, 9.0, 8.0, 8.5];
        let open: [f64; 10] = [10.0, 9.5, 8.5, 8.5, 9.5, 11.5, 12.5, 10.0, 8.5, 8.0];
        let bars = Bars {
            times: None,
            open: open.to_vec(),
            high: close.iter().zip(&open).map(|(c, o)| c.max(*o)).collect(),
            low: close.iter().zip(&open).map(|(c, o)| c.min(*o)).collect(),
            close: close.to_vec(),
            volume: None,
        };
        let s = spec(
            "[signal]\nkind = \"sma-cross\"\nfast = 1\nslow = 2\n[execution]\ncommission_bps = 100\ncash = 1000\n",
        );
        let r = run(&s, &bars).unwrap();
        // SMA(1) = close crosses above SMA(2) on bar 3 (9 > 8.5 after 8 < 8.5), below on
        // bar 6 (11 < 11.5 after 12 > 11.5).
        assert_eq!(r.signal[3], 1);
        assert_eq!(r.signal[6], -1);
        assert_eq!(r.trades.len(), 1);
        let t = &r.trades[0];
        assert_eq!((t.entry_bar, t.exit_bar), (4, 7));
        assert_eq!((t.entry_price, t.exit_price), (9.5, 10.0));
        // All cash at 9.5 plus 1%: 1000 / 9.595 units.
        let size = 1000.0 / (9.5 + 9.5 * 0.01);
        assert!((t.size - size).abs() < 1e-12);
        let commission = size * 9.5 * 0.01 + size * 10.0 * 0.01;
        assert!((t.commission - commission).abs() < 1e-9);
        assert!((t.pnl - (size * 0.5 - commission)).abs() < 1e-9);
        assert!((r.stats.equity_final - (1000.0 + t.pnl)).abs() < 1e-9);
        // Equity on bar 5: cash after the entry commission plus the position at 12.
        assert!((r.equity[5] - (1000.0 - size * 9.5 * 0.01 + size * (12.0 - 9.5))).abs() < 1e-9);
        // With trade_on_close the same decisions fill at the signal bars' closes.
        let s2 = spec(
            "[signal]\nkind = \"sma-cross\"\nfast = 1\nslow = 2\n[execution]\ntrade_on_close = true\ncash = 1000\n",
        );
        let r2 = run(&s2, &bars).unwrap();
        let t2 = &r2.trades[0];
        assert_eq!((t2.entry_bar, t2.exit_bar), (3, 6));
        assert_eq!((t2.entry_price, t2.exit_price), (9.0, 11.0));
    }

    #[test]
    fn bad_strategies_name_the_key() {
        let cases = [
            (
                "[signal]\nkind = \"sma-cros\"\nfast = 1\nslow = 2",
                "sma-cros",
            ),
            (
                "[signal]\nkind = \"sma-cross\"\nfast = 30\nslow = 10",
                "signal.fast",
            ),
            (
                "[signal]\nkind = \"sma-cross\"\nfast = 0\nslow = 10",
                "signal.fast",
            ),
            (
                "[signal]\nkind = \"sma-cross\"\nfast = 3\nslow = 10\nfsat = 2",
                "fsat",
            ),
            (
                "[signal]\nkind = \"rsi\"\nlower = 80\nupper = 70",
                "signal.lower",
            ),
            ("[signal]\nkind = \"bbands\"\nk = -1", "signal.k"),
            ("[signal]\nkind = \"all\"\nsignals = []", "signal.signals"),
            (
                "[signal]\nkind = \"any\"\nsignals = [{kind = \"macd\", fast = 30}]",
                "signal.signals[0].fast",
            ),
            (
                "[signal]\nkind = \"macd\"\n[execution]\ncash = 0",
                "execution.cash",
            ),
            (
                "[signal]\nkind = \"macd\"\n[execution]\ncommission = 1",
                "commission",
            ),
            (
                "[signal]\nkind = \"macd\"\n[sizing]\nkind = \"fraction\"\nfraction = 1.5",
                "sizing.fraction",
            ),
            (
                "[signal]\nkind = \"macd\"\n[exits]\nstop_loss_pct = 0",
                "exits.stop_loss_pct",
            ),
        ];
        for (text, key) in cases {
            let e = StrategySpec::from_toml(text).unwrap_err().to_string();
            assert!(e.contains(key), "{text}: {e}");
        }
        // A signal that needs more history than the data has.
        let s = spec("[signal]\nkind = \"sma-cross\"\nfast = 10\nslow = 200");
        let e = run(&s, &walk(150, 1)).unwrap_err().to_string();
        assert!(
            e.contains("signal.slow") && e.contains("202 bars") && e.contains("150"),
            "{e}"
        );
        // Non-positive prices are refused, naming the column and bar.
        let mut bars = walk(100, 2);
        bars.low[40] = 0.0;
        let e = run(&spec("[signal]\nkind = \"macd\""), &bars)
            .unwrap_err()
            .to_string();
        assert!(e.contains("low") && e.contains("bar 40"), "{e}");
    }
}
