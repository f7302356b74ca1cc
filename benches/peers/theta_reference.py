"""The Theta family with statsforecast: the reference of forecast's `theta` and
`auto-theta` models.

For each series, statsforecast's four Theta models of Fiorucci et al. (2016) -- the
standard (STM: theta = 2), optimised (OTM), dynamic standard (DSTM) and dynamic
optimised (DOTM) -- each through `AutoTheta(season_length=m, model=...)` (the public
`Theta`, `OptimizedTheta`, `DynamicTheta` and `DynamicOptimizedTheta` classes are that
call), and `AutoTheta(season_length=m)`, which picks among the four by its in-sample
criterion. Recorded per fit: the fitted parameters (initial level, alpha, theta), the
criterion statsforecast minimises and selects by (`mse`: the sum of squared one-step
errors after the first three, over the mean absolute value of the series), the
seasonal decomposition decision and indices, the mean forecast, and the 80% and 95%
intervals two ways:

- `intervals`: what `predict(h, level=[80, 95])` returns -- quantiles of 200 simulated
  paths of the state-space model (seed 0), so they carry Monte Carlo noise;
- `intervals_sampled`: the same simulation (statsforecast's own `compute_pi_samples`,
  the same sigma, the same reseasonalisation) with 100,000 paths, which pins the
  distribution those 200 paths sample down to about 0.01 standard deviations.

    python theta_reference.py DATASETS_DIR OUT.json

Series: airpassengers (m = 12) and wineind (m = 12), 12 steps; M3 monthly (m = 12, 18
steps), quarterly (m = 4, 8 steps) and yearly (m = 1, 6 steps) series at fixed
positions of the training files (see SERIES below).
"""

import json
import platform
import sys

import numpy as np
import pandas as pd
import scipy
import statsforecast
import statsmodels
from statsforecast.models import AutoTheta
from statsforecast.theta import compute_pi_samples
from statsforecast.utils import _repeat_val_seas

LEVELS = [80, 95]
VARIANTS = ["STM", "OTM", "DSTM", "DOTM"]
N_SAMPLES = 100_000
# (name, file, value column, m, h) for single series; (frequency, positions, m, h) for M3.
SINGLE = [
    ("airpassengers", "airpassengers.csv", "passengers", 12, 12),
    ("wineind", "wineind.csv", "sales", 12, 12),
]
M3 = [
    ("monthly", [0, 300, 600, 900, 1200], 12, 18),
    ("quarterly", [0, 200, 400, 600], 4, 8),
    ("yearly", [0, 200, 400], 1, 6),
]


def sampled_intervals(model, h):
    """statsforecast's interval simulation with N_SAMPLES paths instead of 200."""
    resid = model["residuals"][3:]
    sigma = np.std(resid, ddof=1) if len(resid) >= 2 else np.std(model["residuals"], ddof=1)
    samples = compute_pi_samples(
        n=model["n"],
        h=h,
        states=model["states"],
        sigma=sigma,
        alpha=model["par"]["alpha"],
        theta=model["par"]["theta"],
        mean_y=model["mean_y"],
        n_samples=N_SAMPLES,
    )
    out = {}
    for lv in LEVELS:
        lo_q = (100 - lv) / 200
        lo = np.quantile(samples, lo_q, axis=1)
        hi = np.quantile(samples, lo_q + lv / 100, axis=1)
        if model.get("decompose", False):
            seas = _repeat_val_seas(model["seas_forecast"]["mean"], h=h)
            if model["decomposition_type"] == "multiplicative":
                lo, hi = lo * seas, hi * seas
            else:
                lo, hi = lo + seas, hi + seas
        out[str(lv)] = {"lower": [float(v) for v in lo], "upper": [float(v) for v in hi]}
    return out, float(sigma)


def fit(y, m, h, variant):
    mod = AutoTheta(season_length=m, model=variant)
    mod.fit(y)
    fc = mod.predict(h, level=LEVELS)
    model = mod.model_
    decompose = bool(model.get("decompose", False))
    sampled, sigma = sampled_intervals(model, h)
    return {
        "model": model["modeltype"],
        "initial_level": float(model["par"]["initial_smoothed"]),
        "alpha": float(model["par"]["alpha"]),
        "theta": float(model["par"]["theta"]),
        "mse": float(model["mse"]),
        "sigma": sigma,
        "decompose": decompose,
        "decomposition_type": model["decomposition_type"] if decompose else None,
        "seasonal_forecast": (
            [float(v) for v in model["seas_forecast"]["mean"]] if decompose else None
        ),
        "mean": [float(v) for v in fc["mean"]],
        "intervals": {
            str(lv): {
                "lower": [float(v) for v in fc[f"lo-{lv}"]],
                "upper": [float(v) for v in fc[f"hi-{lv}"]],
            }
            for lv in LEVELS
        },
        "intervals_sampled": sampled,
    }


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
        fits = {v: fit(y, m, h, v) for v in VARIANTS}
        fits["auto"] = fit(y, m, h, None)
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
        print(f"{name}: auto chose {fits['auto']['model']}", file=sys.stderr)
    doc = {
        "generator": "benches/peers/theta_reference.py",
        "environment": {
            "python": platform.python_version(),
            "statsforecast": statsforecast.__version__,
            "statsmodels": statsmodels.__version__,
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "pandas": pd.__version__,
        },
        "levels": LEVELS,
        "interval_samples": {"intervals": 200, "intervals_sampled": N_SAMPLES},
        "series": result,
    }
    with open(out, "w") as fh:
        json.dump(doc, fh, indent=1)
        fh.write("\n")


if __name__ == "__main__":
    main()
