"""The exact ARIMA log-likelihood at coefficients near the boundary of the stationary
and invertible region, computed independently of any state-space filter: the reference
of `crates/forecast-core/tests/arima_boundary.rs`.

Series: the daily log close of `datasets/msft_daily.csv` (7,983 rows), differenced once
(ARIMA(p,1,q) without constant). For each coefficient vector, the exact Gaussian
log-likelihood of the differenced series with sigma2 concentrated out (R's `arima` and
statsforecast's convention, `-n/2 (log(2 pi s2) + 1) - 1/2 sum log r_t`) is computed in
extended precision (numpy's longdouble, 64-bit mantissa on x86-64) by the
Durbin-Levinson algorithm on the ARMA autocovariances, which are summed from psi weights
long enough for the omitted tail to be below 1e-17 of the first. This is the textbook
definition (Brockwell & Davis, "Time Series: Theory and Methods", 5.2 and 8.7) with no
stationary-covariance solve and no steady-state switch, so it checks both. statsmodels'
`SARIMAX(..., concentrate_scale=True, simple_differencing=True).loglike` at the same
coefficients is recorded beside it.

    python arima_boundary_reference.py DATASETS_DIR OUT.json
"""

import json
import platform
import sys

import numpy as np
import pandas as pd
import statsmodels
from statsmodels.tsa.statespace.sarimax import SARIMAX

L = np.longdouble
# (label, ar, ma): the near-cancelling pair at frequency pi (AR roots of
# modulus 1.005, MA 1.010), a pair closer to the boundary (1.0025, 1.0076), a
# non-cancelling near-unit AR root, and an ordinary point.
POINTS = [
    ("near-cancelling pair, moduli 1.005 / 1.010", [-1.9858, -0.9900], [1.9749, 0.9795]),
    ("near-cancelling pair, moduli 1.0025 / 1.0076", [-1.99, -0.995], [1.98, 0.985]),
    ("near-unit AR root 1.004, MA far", [1.992, -0.99202], [-0.4, 0.05]),
    ("ordinary", [0.5, -0.2], [-0.3, 0.1]),
]


def psi_weights(ar, ma, n_min):
    psi = [L(1)]
    j = 1
    while True:
        v = L(ma[j - 1]) if j - 1 < len(ma) else L(0)
        for k, p in enumerate(ar, 1):
            if j - k >= 0:
                v += L(p) * psi[j - k]
        psi.append(v)
        j += 1
        if j > n_min and max(abs(x) for x in psi[-len(ar) - 2 :]) < L(1e-17):
            return np.array(psi, dtype=L)


def exact_loglik(w, ar, ma):
    n = len(w)
    psi = psi_weights(ar, ma, n)
    J = len(psi)
    gam = np.array([np.dot(psi[: J - k], psi[k:]) for k in range(n)], dtype=L)
    v = gam[0]
    a = np.zeros(0, dtype=L)
    e = np.zeros(n, dtype=L)
    r = np.zeros(n, dtype=L)
    e[0] = w[0]
    r[0] = v
    for t in range(1, n):
        if t == 1:
            k = gam[1] / v
            a = np.array([k], dtype=L)
        else:
            k = (gam[t] - np.dot(a, gam[t - 1 : 0 : -1])) / v
            a = np.concatenate([a - k * a[::-1], [k]])
        v = v * (1 - k * k)
        e[t] = w[t] - np.dot(a, w[t - 1 :: -1][:t])
        r[t] = v
    s2 = np.sum(e * e / r) / n
    return float(-0.5 * n * (np.log(2 * np.pi * s2) + 1) - 0.5 * np.sum(np.log(r))), J


def main():
    data, out = sys.argv[1], sys.argv[2]
    y = np.log(pd.read_csv(f"{data}/msft_daily.csv")["close"].to_numpy(dtype=float))
    w = np.diff(y).astype(L)
    points = []
    for label, ar, ma in POINTS:
        exact, J = exact_loglik(w, ar, ma)
        sm = SARIMAX(
            y, order=(len(ar), 1, len(ma)), trend="n", concentrate_scale=True,
            simple_differencing=True,
        ).loglike(np.array(ar + ma))
        points.append(
            {"label": label, "ar": ar, "ma": ma, "exact": exact, "psi_terms": J,
             "statsmodels": float(sm)}
        )
        print(f"{label}: exact {exact!r}, statsmodels {float(sm)!r}", file=sys.stderr)
    doc = {
        "generator": "benches/peers/arima_boundary_reference.py",
        "environment": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "pandas": pd.__version__,
            "statsmodels": statsmodels.__version__,
            "longdouble_mantissa_bits": int(np.finfo(L).nmant),
        },
        "series": "datasets/msft_daily.csv: log(close), differenced once",
        "points": points,
    }
    with open(out, "w") as fh:
        json.dump(doc, fh, indent=1)
        fh.write("\n")


if __name__ == "__main__":
    main()
