"""statsforecast's side of benches/peers/arima_vs_statsforecast.sh: the same fits as
benches/src/bin/arima_timing.rs, one thread (the script sets OMP_NUM_THREADS=1 etc.),
after a warm-up fit (which also triggers numba compilation), median of the repeats;
prints the same `name value unit` lines. Usage: arima_statsforecast.py [REPEATS]."""
import sys
import time

import numpy as np
import pandas as pd
from statsforecast.models import ARIMA

repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 7
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
