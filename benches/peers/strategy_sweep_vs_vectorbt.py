#!/usr/bin/env python3
"""A 1,000-pair moving-average crossover sweep: vectorbt (PyPI, pinned in
requirements-vectorbt.txt) and `forecast tune` with a strategy sweep, on the same bars.

The pairs: fast 5, 10, ..., 50 and slow 60, 62, ..., 258 (10 x 100, every fast below
every slow). Both sides simulate each pair over the sweep's in-sample bars (the first
75% of MSFT, as `forecast tune` searches them; the held-out quarter is run once, for the
best pair, by ours only) with the base strategy's execution: a decision on a bar's close
fills at the next bar's open, long only, 10 bp commission per side.

- ours: `forecast tune --spec <generated grid spec> --json`, the whole command timed
  (process start, CSV load, 1,000 trials on 2 workers, the experiment store, the local
  run spool, the held-out run); every trial computes all 29 statistics. Twice: with the
  default tracking (a child run per trial in the local spool: 1,000 run directories)
  and with `[tracking] trial_runs = false` (the experiment's run only), as vectorbt
  records nothing.
- vectorbt: the idiomatic vectorised sweep (`vbt.MA.run` for both windows, crossings,
  `Portfolio.from_signals` with `price=open` and the signals shifted one bar), then
  total return, Sharpe ratio, max drawdown, trade count and win rate of every column.
  Timed warm (in the same process after a first call that compiles its numba kernels);
  the first call and the import are reported apart.

Statistics are not compared here (vectorbt sizes and annualises differently; parity of
definitions is checked against backtesting.py in strategy_vs_backtesting.py). The
ratios printed are vectorbt's warm time over our whole command's time.

    scripts/peer-venv.sh vectorbt   # prints FORECAST_VECTORBT_PYTHON=...
    $FORECAST_VECTORBT_PYTHON benches/peers/strategy_sweep_vs_vectorbt.py \
        --forecast target/release/forecast --data datasets/msft_daily.csv \
        --strategy experiments/strategies/ma-cross.toml
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

FAST = list(range(5, 51, 5))
SLOW = list(range(60, 260, 2))
HOLDOUT = 0.25


def ours(args, tmp, repeat, trial_runs):
    spec = os.path.join(tmp, f"sweep-{trial_runs}.toml")
    with open(spec, "w") as f:
        f.write(
            f"""name = "ma-cross-1000"
[data]
path = "{os.path.abspath(args.data)}"
[strategy]
file = "{os.path.abspath(args.strategy)}"
holdout = {HOLDOUT}
[space.signal]
fast = {{ grid = {FAST} }}
slow = {{ grid = {SLOW} }}
[tune]
metric = "sharpe"
mode = "max"
search = "grid"
max_concurrent = 2
[tracking]
trial_runs = {str(trial_runs).lower()}
"""
        )
    env = dict(os.environ, FORECAST_RUNS_DIR=os.path.join(tmp, "runs"))
    times = []
    out = None
    for i in range(repeat):
        t0 = time.perf_counter()
        r = subprocess.run(
            [args.forecast, "tune", "--spec", spec, "--json", "--out", os.path.join(tmp, f"out-{trial_runs}-{i}")],
            capture_output=True,
            text=True,
            env=env,
        )
        times.append(time.perf_counter() - t0)
        if r.returncode != 0:
            sys.exit(f"forecast tune failed:\n{r.stderr}")
        out = json.loads(r.stdout)
    if out["trials"] != len(FAST) * len(SLOW):
        sys.exit(f"forecast ran {out['trials']} trials, not {len(FAST) * len(SLOW)}")
    return times, out


def run_vectorbt(args, repeat):
    t0 = time.perf_counter()
    import numpy as np
    import pandas as pd
    import vectorbt as vbt

    t_import = time.perf_counter() - t0
    df = pd.read_csv(args.data, parse_dates=["date"], index_col="date")
    n = len(df)
    split = n - round(n * HOLDOUT)
    df = df.iloc[:split]
    close, open_ = df["close"], df["open"]
    fast = [f for f in FAST for _ in SLOW]
    slow = [s for _ in FAST for s in SLOW]

    def sweep():
        f = vbt.MA.run(close, window=fast, short_name="fast")
        s = vbt.MA.run(close, window=slow, short_name="slow")
        entries = f.ma_crossed_above(s).vbt.fshift(1)
        exits = f.ma_crossed_below(s).vbt.fshift(1)
        pf = vbt.Portfolio.from_signals(
            close, entries, exits, price=open_, fees=0.001, init_cash=10000.0, freq="1D"
        )
        return pd.DataFrame(
            {
                "total_return": pf.total_return(),
                "sharpe": pf.sharpe_ratio(),
                "max_drawdown": pf.max_drawdown(),
                "trades": pf.trades.count(),
                "win_rate": pf.trades.win_rate(),
            }
        )

    t0 = time.perf_counter()
    first = sweep()
    t_first = time.perf_counter() - t0
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        table = sweep()
        times.append(time.perf_counter() - t0)
    if len(table) != len(FAST) * len(SLOW) or not np.isfinite(first["total_return"]).all():
        sys.exit("vectorbt's sweep did not give one finite result per pair")
    best = table["sharpe"].idxmax()
    return times, t_import, t_first, best, len(df)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--forecast", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--strategy", required=True)
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args()
    import vectorbt

    with tempfile.TemporaryDirectory() as tmp:
        o_times, o = ours(args, tmp, args.repeat, True)
        q_times, _ = ours(args, tmp, args.repeat, False)
    v_times, v_import, v_first, v_best, bars = run_vectorbt(args, args.repeat)
    o_med, v_med = statistics.median(o_times), statistics.median(v_times)
    q_med = statistics.median(q_times)
    print(f"bars in the sweep: {bars}; pairs: {len(FAST) * len(SLOW)}; cores: {os.cpu_count()}")
    print(f"vectorbt {vectorbt.__version__}: import {v_import:.2f} s, first call (numba compiling) {v_first:.2f} s")
    print(f"vectorbt warm sweep: median {v_med:.3f} s of {[round(t, 3) for t in v_times]}; best Sharpe pair {v_best}")
    print(f"forecast tune (whole command): median {o_med:.3f} s of {[round(t, 3) for t in o_times]}; best {o['best']['params']} sharpe {o['best']['metric']:.4f}")
    print(f"held out (ours): sharpe {o['held_out']['stats']['sharpe']:.4f}, return {o['held_out']['stats']['return_pct']:.2f}% "
          f"vs in-sample sharpe {o['in_sample']['stats']['sharpe']:.4f}")
    print(f"forecast tune, [tracking] trial_runs = false: median {q_med:.3f} s of {[round(t, 3) for t in q_times]}")
    print(f"ratio (vectorbt warm / ours, a child run per trial): {v_med / o_med:.1f}x")
    print(f"ratio (vectorbt warm / ours, trial_runs = false): {v_med / q_med:.1f}x")
    print(f"ratio (vectorbt import + first call / ours, a child run per trial): {(v_import + v_first) / o_med:.1f}x")


if __name__ == "__main__":
    main()
