"""statsforecast's side of benches/peers/arima_vs_statsforecast.sh: the same fits as
benches/src/bin/arima_timing.rs, one thread (the script sets OMP_NUM_THREADS=1 etc.),
after a warm-up fit (which also triggers numba compilation), median of the repeats;
prints the same `name value unit` lines; the AutoARIMA cases mirror
benches/src/bin/auto_arima_timing.rs (same folds, statsforecast's AutoARIMA defaults,
median of min(REPEATS, 3) sweeps after one warm-up search). With PICKS, writes the model
chosen at every fold there (`case fold p d q P D Q m constant aicc coefs...`, coefficients
in the order ar, ma, sar, sma) for the comparison of chosen models.
Usage: arima_statsforecast.py [REPEATS] [PICKS]."""
import sys
import time

import numpy as np
import pandas as pd
from statsforecast.models import ARIMA, AutoARIMA

from sf_picks import pick_line

repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 7
picks_path = sys.argv[2] if len(sys.argv) > 2 else None
msft = pd.read_csv("datasets/msft_daily.csv")["close"].to_numpy(float)
air = pd.read_csv("datasets/airpassengers.csv")["passengers"].to_numpy(float)


def timed(f, reps):
    f()
    out = []
    for _ in range(reps):
        t = time.perf_counter()
        f()
        out.append(time.perf_counter() - t)
    return float(np.median(out))


def arima111(y):
    return ARIMA(order=(1, 1, 1), include_mean=False).fit(y)


def airline(y):
    return ARIMA(order=(0, 1, 1), seasonal_order=(0, 1, 1), season_length=12,
                 include_mean=False).fit(y)


s = timed(lambda: arima111(msft), repeats)
print(f"msft_arima111_ms {s * 1e3:.3f} ms")
count, length = 200, 250
starts = [i * (len(msft) - length) // (count - 1) for i in range(count)]


def sweep():
    for a in starts:
        try:
            arima111(msft[a:a + length])
        except Exception:  # statsforecast fails on a window or two (see the reference)
            pass


s = timed(sweep, min(repeats, 3))
print(f"msft_window_arima111_fits_per_s {count / s:.1f} fits/s")
s = timed(lambda: airline(air), repeats)
print(f"airline_ms {s * 1e3:.3f} ms")


# AutoARIMA over rolling backtests, a full search at every fold (same windows as ours):
# MSFT, origins at the last 100 closes, each window the 250 closes before its origin;
# airpassengers, expanding windows of 96..119 months, season length 12.
msft_folds = [(o - 250, o) for o in range(len(msft) - 100, len(msft))]
air_folds = [(0, 96 + i) for i in range(24)]


def auto_sweep(case, y, folds, season):
    def one(a, b):
        try:
            return AutoARIMA(season_length=season).fit(y[a:b])
        except Exception:
            return None

    one(*folds[0])
    times, last = [], []
    for _ in range(min(repeats, 3)):
        last = []
        t = time.perf_counter()
        for a, b in folds:
            last.append(one(a, b))
        times.append(time.perf_counter() - t)
    lines = [pick_line(case, i, f) for i, f in enumerate(last)]
    return len(folds) / float(np.median(times)), lines


rate, msft_lines = auto_sweep("msft", msft, msft_folds, 1)
print(f"msft_autoarima_searches_per_s {rate:.2f} searches/s")
rate, air_lines = auto_sweep("air", air, air_folds, 12)
print(f"air_autoarima_searches_per_s {rate:.2f} searches/s")
if picks_path:
    with open(picks_path, "w") as f:
        f.write("\n".join(msft_lines + air_lines) + "\n")
