"""Accuracy and time of statsforecast on the SAME rolling-origin folds as one of our
accuracy studies, printed side by side with our figures.

Usage (see statsforecast_accuracy.sh, which builds our binary, runs our study and sets
up the virtual environment):

    python statsforecast_accuracy.py --spec experiments/quick-airpassengers.toml \
        --ours /tmp/results/quick-airpassengers.json

The folds are statsforecast's `cross_validation(h=H, n_windows=K, step_size=S)`: K
origins S rows apart, the last window ending at the last row -- the same origins as our
`[evaluation] folds = K, step = S`. The metrics are computed here with our definitions
(crates/forecast-core/src/metrics.rs): errors pooled over all folds and steps; MASE is
the mean over folds of the fold's MAE scaled by the in-sample MAE of the seasonal naive
forecast (lag m, falling back to 1 when the training part is shorter than two seasons)
on that fold's training rows; directional accuracy counts steps whose forecast moves the
same way as the actual value from the last training value (a flat forecast makes no
call). A log-transformed model is fitted on log(y) and its forecasts exponentiated, as
ours does.
"""

import argparse
import json
import math
import sys
import time
import tomllib

import numpy as np
import pandas as pd
from statsforecast import StatsForecast
from statsforecast.models import ARIMA, AutoARIMA, Naive, RandomWalkWithDrift, SeasonalNaive


def mase_scale(train, m):
    m = max(m, 1) if len(train) > 2 * m else 1
    if len(train) <= m:
        return float("nan")
    return float(np.mean(np.abs(train[m:] - train[:-m])))


def metrics(windows):
    ae, se, ape, sape, hits, n = 0.0, 0.0, 0.0, 0.0, 0.0, 0
    mase = []
    for actual, fc, last, scale in windows:
        e = actual - fc
        n += len(e)
        ae += np.abs(e).sum()
        se += (e * e).sum()
        ape += np.abs(e / actual).sum()
        denom = np.abs(actual) + np.abs(fc)
        sape += np.where(denom > 0, 2 * np.abs(e) / np.where(denom > 0, denom, 1), 0).sum()
        df, dy = fc - last, actual - last
        hits += ((df != 0) & (dy != 0) & (np.sign(df) == np.sign(dy))).sum()
        mase.append(np.abs(e).mean() / scale)
    return {
        "mae": ae / n,
        "rmse": math.sqrt(se / n),
        "mape": 100 * ape / n,
        "smape": 100 * sape / n,
        "mase": float(np.mean(mase)),
        "directional_accuracy": hits / n,
    }


def peer_models(spec_name, m):
    """(name, statsforecast model, log?) to compare, by study."""
    models = [("Naive", Naive(), False)]
    if m > 1:
        models.append(("SeasonalNaive", SeasonalNaive(season_length=m), False))
        models.append(
            (
                "ARIMA(0,1,1)(0,1,1) log",
                ARIMA(order=(0, 1, 1), seasonal_order=(0, 1, 1), season_length=m),
                True,
            )
        )
        models.append(("AutoARIMA log", AutoARIMA(season_length=m), True))
    else:
        models.append(("RandomWalkWithDrift", RandomWalkWithDrift(), False))
        models.append(("ARIMA(1,1,1) log", ARIMA(order=(1, 1, 1)), True))
        models.append(("AutoARIMA log", AutoARIMA(), True))
    return models


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--spec", required=True)
    ap.add_argument("--ours", required=True, help="our results JSON for the same spec")
    ap.add_argument("--json", help="write the side-by-side table as JSON here")
    a = ap.parse_args()
    with open(a.spec, "rb") as f:
        spec = tomllib.load(f)
    with open(a.ours) as f:
        ours = json.load(f)
    data = spec["data"]
    df = pd.read_csv(data["path"])
    y = df[data["target"]].to_numpy(dtype=float)
    m = ours["season_length"]
    ev = spec["evaluation"]
    rows = []
    for h_res in ours["results"]:
        h = h_res["horizon"]
        k = h_res["folds"]
        step = h_res["step"]
        origins = [h_res["first_origin"] + i * step for i in range(k)]
        assert origins[-1] + h == len(y), "folds must end at the last row"
        for name, model, log in peer_models(spec["name"], m):
            series = np.log(y) if log else y
            sdf = pd.DataFrame(
                {"unique_id": "s", "ds": np.arange(len(y)), "y": series}
            )
            sf = StatsForecast(models=[model], freq=1, n_jobs=1)
            # Warm-up on a short prefix so numba's JIT compilation is not timed.
            sf.cross_validation(df=sdf.iloc[: max(4 * m, 60) + h], h=h, n_windows=1)
            t0 = time.perf_counter()
            cv = sf.cross_validation(df=sdf, h=h, n_windows=k, step_size=step)
            seconds = time.perf_counter() - t0
            col = [c for c in cv.columns if c not in ("unique_id", "ds", "cutoff", "y")][0]
            windows = []
            for origin in origins:
                part = cv[cv["cutoff"] == origin - 1].sort_values("ds")
                assert len(part) == h, f"fold at {origin}: {len(part)} rows"
                fc = part[col].to_numpy()
                if log:
                    fc = np.exp(fc)
                train = y[:origin]
                windows.append((y[origin : origin + h], fc, train[-1], mase_scale(train, m)))
            rows.append(
                {"horizon": h, "source": "statsforecast", "model": name,
                 **metrics(windows), "seconds": seconds}
            )
        for r in h_res["models"]:
            if r.get("metrics"):
                label = r["name"] + ("" if r["transform"] == "none" else f" {r['transform']}")
                rows.append(
                    {"horizon": h, "source": "forecast", "model": label,
                     **r["metrics"], "seconds": r["seconds"]}
                )
    print(f"## {spec['name']}: forecast vs statsforecast on the same folds\n")
    for h_res in ours["results"]:
        h = h_res["horizon"]
        print(f"### horizon {h} ({h_res['folds']} folds, step {h_res['step']})\n")
        print("| source | model | MAE | RMSE | MAPE % | sMAPE % | MASE | dir. acc. | seconds |")
        print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
        for r in rows:
            if r["horizon"] != h:
                continue
            mape = "-" if r["mape"] is None else f"{r['mape']:.3f}"
            print(
                f"| {r['source']} | {r['model']} | {r['mae']:.4f} | {r['rmse']:.4f} | {mape} | "
                f"{r['smape']:.3f} | {r['mase']:.3f} | {r['directional_accuracy']:.3f} | "
                f"{r['seconds']:.3f} |"
            )
        print()
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
