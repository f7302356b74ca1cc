#!/usr/bin/env python3
"""Strategy backtests: backtesting.py (PyPI, pinned in requirements-backtesting.txt) and
`forecast strategy backtest` on the same bars, signals, sizing and costs.

For each strategy file it builds the same strategy as a backtesting.py `Strategy`
(indicators from TA-Lib, the C library traders pair with backtesting.py, whose
conventions ours follow; pinned too), runs both, and compares every statistic and every
trade. TA-Lib rather than pandas' rolling mean because early MSFT closes repeat, so
averages of different windows tie exactly, and a tie's sign depends on the summation
order: the crossing bars would then differ by rounding, not by definition. Durations are compared in
bars: backtesting.py's own `compute_drawdown_duration_peaks` is applied to its drawdown
curve on a bar-number index, and trade lengths are its `ExitBar - EntryBar`.

    benches/peers/strategy_vs_backtesting.py --forecast target/debug/forecast \
        --data datasets/msft_daily.csv experiments/strategies/ma-cross.toml ...

Exit status 1 when any value differs by more than the tolerance (relative 1e-9, or
absolute 1e-9 near zero): the two simulations do the same floating-point operations on
the same fills, so anything beyond rounding is a difference in definitions.
"""

import argparse
import json
import math
import subprocess
import sys
import tomllib
import warnings

import numpy as np
import pandas as pd
import talib
from backtesting import Backtest, Strategy
from backtesting._stats import compute_drawdown_duration_peaks
from backtesting.lib import crossover

TOL = 1e-9

# Our key -> backtesting.py's statistic (durations are handled apart).
KEYS = {
    "exposure_pct": "Exposure Time [%]",
    "equity_final": "Equity Final [$]",
    "equity_peak": "Equity Peak [$]",
    "return_pct": "Return [%]",
    "buy_hold_return_pct": "Buy & Hold Return [%]",
    "return_ann_pct": "Return (Ann.) [%]",
    "volatility_ann_pct": "Volatility (Ann.) [%]",
    "cagr_pct": "CAGR [%]",
    "sharpe": "Sharpe Ratio",
    "sortino": "Sortino Ratio",
    "calmar": "Calmar Ratio",
    "alpha_pct": "Alpha [%]",
    "beta": "Beta",
    "max_drawdown_pct": "Max. Drawdown [%]",
    "avg_drawdown_pct": "Avg. Drawdown [%]",
    "n_trades": "# Trades",
    "win_rate_pct": "Win Rate [%]",
    "best_trade_pct": "Best Trade [%]",
    "worst_trade_pct": "Worst Trade [%]",
    "avg_trade_pct": "Avg. Trade [%]",
    "profit_factor": "Profit Factor",
    "expectancy_pct": "Expectancy [%]",
    "sqn": "SQN",
    "kelly": "Kelly Criterion",
}


def sma(x, n):
    return talib.SMA(x, timeperiod=n)


def ema(x, n):
    return talib.EMA(x, timeperiod=n)


def rsi(x, n):
    return talib.RSI(x, timeperiod=n)


def make_strategy(spec):
    sig = spec["signal"]
    ex = spec.get("execution", {})
    size = spec.get("sizing", {}).get("fraction", 1.0)
    long_only = ex.get("long_only", True)
    kind = sig["kind"]

    class Peer(Strategy):
        def init(self):
            close = np.asarray(self.data.Close, dtype=float)
            if kind in ("sma-cross", "ema-cross"):
                f = sma if kind == "sma-cross" else ema
                self.a = self.I(f, close, sig["fast"], name="fast")
                self.b = self.I(f, close, sig["slow"], name="slow")
            elif kind == "rsi":
                self.r = self.I(rsi, close, sig.get("period", 14), name="rsi")
            else:
                raise SystemExit(f"no peer for signal kind {kind!r}")

        def next(self):
            if kind in ("sma-cross", "ema-cross"):
                up, down = crossover(self.a, self.b), crossover(self.b, self.a)
            else:
                r = self.r[-1]
                up = r < sig.get("lower", 30.0) and not self.position.is_long
                down = r > sig.get("upper", 70.0)
                if long_only:
                    down = down and self.position.is_long
                else:
                    down = down and not self.position.is_short
            if up:
                self.position.close()
                self.buy(size=size)
            elif down:
                self.position.close()
                if not long_only:
                    self.sell(size=size)

    return Peer


def ours(binary, data, path):
    out = subprocess.run(
        [binary, "strategy", "backtest", "--data", data, "--strategy", path, "--json"],
        check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def peer(data, path):
    with open(path, "rb") as f:
        spec = tomllib.load(f)
    ex = spec.get("execution", {})
    if ex.get("slippage_bps", 0.0) or not ex.get("whole_units", False):
        raise SystemExit(f"{path}: parity runs need slippage_bps = 0 and whole_units = true")
    df = pd.read_csv(data, parse_dates=["date"], index_col="date")
    df = df.rename(columns=str.capitalize)
    bt = Backtest(df, make_strategy(spec), cash=ex.get("cash", 10000.0),
                  commission=ex.get("commission_bps", 0.0) / 1e4,
                  trade_on_close=ex.get("trade_on_close", False),
                  finalize_trades=ex.get("finalize_trades", False))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = bt.run()
    got = {k: float(s[v]) for k, v in KEYS.items()}
    dd = pd.Series(s["_equity_curve"]["DrawdownPct"].to_numpy())  # bar-number index
    dur, _ = compute_drawdown_duration_peaks(dd)
    got["max_drawdown_bars"] = float(dur.max())
    got["avg_drawdown_bars"] = float(dur.mean())
    t = s["_trades"]
    bars = (t["ExitBar"] - t["EntryBar"]).astype(float)
    got["max_trade_bars"] = float(bars.max()) if len(t) else math.nan
    got["avg_trade_bars"] = float(bars.mean()) if len(t) else math.nan
    trades = [{"entry_bar": int(r.EntryBar), "exit_bar": int(r.ExitBar), "size": float(r.Size),
               "entry_price": float(r.EntryPrice), "exit_price": float(r.ExitPrice),
               "pnl": float(r.PnL), "return_pct": float(r.ReturnPct) * 100}
              for r in t.itertuples()]
    return got, trades


def same(a, b):
    if a is None:
        a = math.nan
    if b is None:
        b = math.nan
    if math.isnan(a) or math.isnan(b) or math.isinf(a) or math.isinf(b):
        # Undefined on both sides (we write inf and NaN as null).
        return (math.isnan(a) or math.isinf(a)) and (math.isnan(b) or math.isinf(b))
    return abs(a - b) <= TOL * max(1.0, abs(a), abs(b))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--forecast", required=True, help="the forecast binary")
    ap.add_argument("--data", default="datasets/msft_daily.csv")
    ap.add_argument("strategies", nargs="+")
    a = ap.parse_args()
    failures = 0
    for path in a.strategies:
        mine = ours(a.forecast, a.data, path)
        theirs, their_trades = peer(a.data, path)
        print(f"\n{path}: {len(their_trades)} trades")
        print(f"{'statistic':<22} {'backtesting.py':>18} {'forecast':>18}  match")
        for k in list(KEYS) + ["max_drawdown_bars", "avg_drawdown_bars",
                               "max_trade_bars", "avg_trade_bars"]:
            ok = same(theirs[k], mine["stats"][k])
            failures += not ok
            m = mine["stats"][k]
            print(f"{k:<22} {theirs[k]:>18.10g} {m if m is not None else float('nan'):>18.10g}"
                  f"  {'yes' if ok else 'NO'}")
        if len(mine["trades"]) != len(their_trades):
            print(f"trades: backtesting.py {len(their_trades)}, forecast {len(mine['trades'])}  NO")
            failures += 1
            continue
        bad = 0
        for i, (p, q) in enumerate(zip(their_trades, mine["trades"])):
            for k, v in p.items():
                if not same(v, q[k]):
                    bad += 1
                    if bad <= 5:
                        print(f"trade {i} {k}: backtesting.py {v!r}, forecast {q[k]!r}  NO")
        print(f"trades: {len(their_trades)} compared field by field, {bad} differences")
        failures += bad
    if failures:
        print(f"\n{failures} differences beyond {TOL:g}")
        sys.exit(1)
    print(f"\nevery statistic and trade equal to {TOL:g}")


if __name__ == "__main__":
    main()
