"""Naive 2 forecasts of M3 series, the M4 competition's way, with statsmodels: the
reference of forecast's `naive2` model.

The M4 benchmark code's Naive 2: a series is seasonally adjusted when the
autocorrelation at lag m exceeds 1.645 * sqrt((1 + 2 s) / n) in absolute value, where
s = r_1 + sum_{k=2}^{m-1} r_k^2 (as the M4 code computes it), using the multiplicative
seasonal indices of statsmodels' classical decomposition (`seasonal_decompose`,
`model="multiplicative"`, `period=m`); the naive forecast of the adjusted series is then
multiplied by the indices that continue the series. Only series of positive values at
least three seasons long are adjusted (as forecast does; every M3 series qualifies).

    python naive2_reference.py DATASETS_DIR OUT.csv [STRIDE]

Writes `unique_id,frequency,step,seasonal,naive2` for every STRIDE-th series (default
10: series 1, 11, 21, ... in file order) of the monthly (m = 12, 18 steps) and
quarterly (m = 4, 8 steps) M3 training files.
"""

import sys

import numpy as np
import pandas as pd
from statsmodels.tsa.seasonal import seasonal_decompose


def acf(y, k):
    m = y.mean()
    return float(np.sum((y[: len(y) - k] - m) * (y[k:] - m)) / np.sum((y - m) ** 2))


def seasonal(y, m):
    s = acf(y, 1)
    for k in range(2, m):
        s += acf(y, k) ** 2
    return abs(acf(y, m)) > 1.645 * np.sqrt((1 + 2 * s) / len(y))


def naive2(y, m, h):
    n = len(y)
    adjust = m > 1 and n >= 3 * m and (y > 0).all() and seasonal(y, m)
    if adjust:
        si = seasonal_decompose(y, model="multiplicative", period=m).seasonal
    else:
        si = np.ones(n)
    last = y[-1] / si[-1]
    # The in-sample indices repeat with period m: step i continues at row n + i.
    future = np.array([si[n - m + (i % m)] for i in range(h)])
    return adjust, last * future


def main():
    data, out = sys.argv[1], sys.argv[2]
    stride = int(sys.argv[3]) if len(sys.argv) > 3 else 10
    rows = []
    for freq, m, h in (("monthly", 12, 18), ("quarterly", 4, 8)):
        df = pd.read_csv(f"{data}/m3_{freq}_train.csv")
        ids = list(dict.fromkeys(df["unique_id"]))[::stride]
        for uid in ids:
            y = df.loc[df["unique_id"] == uid, "y"].to_numpy(dtype=float)
            adjusted, f = naive2(y, m, h)
            for i, v in enumerate(f):
                rows.append((uid, freq, i + 1, int(adjusted), repr(float(v))))
    with open(out, "w") as fh:
        fh.write("unique_id,frequency,step,seasonal,naive2\n")
        for r in rows:
            fh.write(",".join(str(x) for x in r) + "\n")


if __name__ == "__main__":
    main()
