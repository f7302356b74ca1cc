"""Exponential smoothing (ETS) with statsforecast: the reference of forecast's `ets` and
`auto-ets` models.

For each series, every ETS model statsforecast fits by default (additive or
multiplicative error; no, additive or additive damped trend; no, additive or
multiplicative season, without the combinations its `restrict=True` forbids) is fitted
alone through `ets_f(y, m, model=..., damped=...)` -- what `AutoETS(model=...,
damped=...)` calls -- and the whole search through `ets_f(y, m)` -- what the default
`AutoETS(season_length=m)` calls; for positive series also the multiplicative trends
(MMN, MMdN, MMM, MMdM, fitted alone) and the search with `allow_multiplicative_trend=True`
(`auto_multiplicative_trend`). Recorded per fit: the smoothing parameters, the
initial states, the log-likelihood and information criteria (R's `forecast::ets`
convention: `loglik = -0.5 * (n log SSE + 2 sum log|yhat|)`, the latter for
multiplicative errors only), sigma2, the mean forecast and the 80% and 95% intervals
statsforecast gives; for damped trends also `mean_textbook`, the model's point forecast
by its definition from statsforecast's final states (see `textbook_mean`).

For models with a multiplicative error (whose forecast distribution is not Gaussian),
also `simulated`: the mean and variance per step of 20,000 paths of the fitted model
(statsforecast's own `etssimulate`, Gaussian errors of variance sigma2, seed 0) -- the
forecast distribution itself, which analytic intervals approximate -- and the quantiles
of those paths on a grid of probabilities around the interval bounds (QUANTILE_GRID) for
the multiplicative trend models, whose simulated intervals are checked against them. statsforecast's own intervals for those models
are not the fitted model's: with an undamped trend it simulates with phi = 0 (a growth of
b^0 = 1), and on airpassengers its 95% bounds are narrower than the paths' quantiles for
the damped ones too (MMdM, 6 steps ahead: 480.3 to 601.1 against 465.2 to 615.8).

    python ets_reference.py DATASETS_DIR OUT.json

Series: airpassengers and wineind (m = 12), 12 steps; M3 monthly (m = 12, 18 steps),
quarterly (m = 4, 8 steps) and yearly (m = 1, 6 steps) series at fixed positions of the
training files (see M3 below; the same series as the Theta reference).
"""

import json
import platform
import sys

import numpy as np
import pandas as pd
import scipy
import statsforecast
import statsmodels
from statsforecast.ets import ets_f, etssimulate, forecast_ets, switch

LEVELS = [80, 95]
N_PATHS = 20_000
# Probabilities at which the simulated paths' quantiles are recorded: around each bound
# of the 80% and 95% intervals, far enough either side for the reference test to place
# an interval bound of its own simulation within the distribution (see ets_reference.rs).
QUANTILE_GRID = [round(v, 4) for v in np.concatenate([
    np.arange(0.0, 0.0501, 0.005)[1:], np.arange(0.06, 0.1401, 0.01),
    np.arange(0.86, 0.9401, 0.01), np.arange(0.95, 0.9951, 0.005),
])]
SINGLE = [
    ("airpassengers", "airpassengers.csv", "passengers", 12, 12),
    ("wineind", "wineind.csv", "sales", 12, 12),
]
M3 = [
    ("monthly", [0, 300, 600, 900, 1200], 12, 18),
    ("quarterly", [0, 200, 400, 600], 4, 8),
    ("yearly", [0, 200, 400], 1, 6),
]


def codes(m, n, positive):
    """The model codes statsforecast's default search tries (errors A, M), and for
    positive series the multiplicative trends its `allow_multiplicative_trend=True`
    adds (those `restrict=True` allows: MMN, MMdN, MMM, MMdM)."""
    out = []
    seasons = ["N", "A", "M"] if m > 1 and n > m else ["N"]
    for e in ["A", "M"]:
        for t in ["N", "A", "Ad"]:
            for s in seasons:
                if e == "A" and s == "M":
                    continue
                out.append(f"{e}{t}{s}")
    if positive:
        out += [f"MM{d}{s}" for s in seasons if s != "A" for d in ["", "d"]]
    return out


def simulate(model, h):
    rng = np.random.default_rng(0)
    par = model["par"]
    # An undamped model has no phi (NaN): its trend is undamped, phi = 1.
    alpha, beta, gamma = (0.0 if np.isnan(v) else float(v) for v in par[:3])
    phi = 1.0 if np.isnan(par[3]) else float(par[3])
    comp = model["components"]
    paths = np.zeros((N_PATHS, h))
    sd = np.sqrt(model["sigma2"])
    for k in range(N_PATHS):
        e = rng.normal(0.0, sd, size=h)
        yhat = np.zeros(h)
        etssimulate(
            model["states"][-1],
            model["m"],
            switch(comp[0]),
            switch(comp[1]),
            switch(comp[2]),
            alpha,
            beta,
            gamma,
            phi,
            h,
            yhat,
            e,
        )
        paths[k] = yhat
    out = {
        "mean": [float(v) for v in paths.mean(axis=0)],
        "var": [float(v) for v in paths.var(axis=0, ddof=1)],
    }
    if comp[1] == "M":
        out["quantile_grid"] = {
            "p": QUANTILE_GRID,
            "q": [[float(v) for v in np.quantile(paths, p, axis=0)] for p in QUANTILE_GRID],
        }
    return out


def textbook_mean(model, h):
    """The damped trend models' point forecast by its definition (Hyndman et al. 2008,
    Table 2.1): l + (phi + ... + phi^k) b (l b^(phi + ... + phi^k) for a multiplicative
    trend), plus or times the seasonal value of step k, from
    statsforecast's final states. statsforecast's own forecast function accumulates
    phi + phi + phi^2 + ... instead, which differs from the second step on."""
    comp = model["components"]
    st = model["states"][-1]
    m = model["m"]
    phi = float(model["par"][3])
    out = []
    phi_h = 0.0
    for k in range(1, h + 1):
        phi_h += phi**k
        f = st[0] * st[1] ** phi_h if comp[1] == "M" else st[0] + phi_h * st[1]
        if comp[2] != "N":
            s = st[2 + (m - 1 - (k - 1) % m)]
            f = f + s if comp[2] == "A" else f * s
        out.append(float(f))
    return out


def record(model, h):
    fc = forecast_ets(model, h=h, level=LEVELS)
    par = model["par"]
    out = {
        "components": model["components"],
        "method": model.get("method"),
        "m": int(model["m"]),
        "alpha": float(par[0]),
        "beta": None if np.isnan(par[1]) else float(par[1]),
        "gamma": None if np.isnan(par[2]) else float(par[2]),
        "phi": None if np.isnan(par[3]) else float(par[3]),
        "initial_states": [float(v) for v in par[4:]],
        "loglik": float(model["loglik"]),
        "aic": float(model["aic"]),
        "aicc": float(model["aicc"]),
        "bic": float(model["bic"]),
        "sigma2": float(model["sigma2"]),
        "mse": float(model["mse"]),
        "n_params": int(model["n_params"]),
        "mean": [float(v) for v in fc["mean"]],
        "intervals": {
            str(lv): {
                "lower": [float(v) for v in fc[f"lo-{lv}"]],
                "upper": [float(v) for v in fc[f"hi-{lv}"]],
            }
            for lv in LEVELS
        },
    }
    if model["components"][3] == "D":
        out["mean_textbook"] = textbook_mean(model, h)
    if model["components"][0] == "M":
        out["simulated"] = simulate(model, h)
    return out


def main():
    data, out = sys.argv[1], sys.argv[2]
    series = []
    for name, file, col, m, h in SINGLE:
        y = pd.read_csv(f"{data}/{file}")[col].to_numpy(dtype=float)
        series.append((name, f"datasets/{file}", m, h, y))
    for freq, positions, m, h in M3:
        df = pd.read_csv(f"{data}/m3_{freq}_train.csv")
        ids = list(dict.fromkeys(df["unique_id"]))
        for p in positions:
            uid = ids[p]
            y = df.loc[df["unique_id"] == uid, "y"].to_numpy(dtype=float)
            series.append((f"m3_{freq}_{uid}", f"datasets/m3_{freq}_train.csv:{uid}", m, h, y))
    result = []
    for name, source, m, h, y in series:
        fits = {}
        for code in codes(m, len(y), bool(np.all(y > 0))):
            damped = "d" in code
            model = ets_f(y, m, model=code.replace("d", ""), damped=damped)
            fits[code] = record(model, h)
        fits["auto"] = record(ets_f(y, m), h)
        if np.all(y > 0):
            fits["auto_multiplicative_trend"] = record(
                ets_f(y, m, allow_multiplicative_trend=True), h
            )
        result.append(
            {
                "name": name,
                "source": source,
                "season_length": m,
                "horizon": h,
                "y": [float(v) for v in y],
                "fits": fits,
            }
        )
        print(f"{name}: auto chose {fits['auto']['method']}", file=sys.stderr)
    doc = {
        "generator": "benches/peers/ets_reference.py",
        "environment": {
            "python": platform.python_version(),
            "statsforecast": statsforecast.__version__,
            "statsmodels": statsmodels.__version__,
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "pandas": pd.__version__,
        },
        "levels": LEVELS,
        "simulated_paths": N_PATHS,
        "series": result,
    }
    with open(out, "w") as fh:
        json.dump(doc, fh, indent=1)
        fh.write("\n")


if __name__ == "__main__":
    main()
