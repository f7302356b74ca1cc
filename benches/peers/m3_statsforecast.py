"""M3 side by side: statsforecast and forecast on the same train/test split, in one run.

Usage (see m3_vs_statsforecast.sh, which sets up the virtual environment and builds our
release binary):

    python m3_statsforecast.py --bin target/release/forecast --freq monthly [--workers 2]
        [--models auto-arima,seasonal-naive,theta,auto-theta,auto-ets,ensemble] [--series N]

For each model, statsforecast's `StatsForecast(models=[...], freq=..., n_jobs=W)
.forecast(df=train, h=H)` and our `forecast backtest --data TRAIN --test TEST --model
KIND --threads W --json` run one after the other on the same machine. Wall time and
peak memory are measured the same way for both: the resident set size of the process
and all its children, sampled every 20 ms (statsforecast's workers are child
processes). statsforecast's numba functions are compiled before its clock starts (a
warm-up on two series), so its figure is the steady state; ours includes reading the
CSV files and scoring.

Accuracy is scored here, for both, with the M-competition definitions our backtest
uses (crates/forecast-core/src/metrics.rs): per series, sMAPE = mean of
200 |y - f| / (|y| + |f|) over the horizon, MASE = MAE over the in-sample MAE of the
seasonal naive forecast (lag m; lag 1 when the series is shorter than two seasons);
the panel figure is the unweighted mean over series.

`ensemble` is, on statsforecast's side, the mean of AutoARIMA's, AutoETS's and
AutoTheta's forecasts from one `StatsForecast` call with the three models (its time is
that call's); on ours, `--model ensemble` (the same three members by default).
"""

import argparse
import json
import os
import subprocess
import sys
import threading
import time

import numpy as np
import pandas as pd
import psutil

FREQS = {
    "monthly": ("ME", 12, 18),
    "quarterly": ("QE", 4, 8),
    "yearly": ("YE", 1, 6),
}


class PeakRss:
    """Peak resident set size of a process tree, sampled in a thread."""

    def __init__(self, pid):
        self.proc = psutil.Process(pid)
        self.peak = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while not self.stop.is_set():
            try:
                procs = [self.proc] + self.proc.children(recursive=True)
                rss = 0
                for p in procs:
                    try:
                        rss += p.memory_info().rss
                    except psutil.Error:
                        pass
                self.peak = max(self.peak, rss)
            except psutil.Error:
                pass
            time.sleep(0.02)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()


def mase_scale(train, m):
    m = max(m, 1) if len(train) > 2 * m else 1
    if len(train) <= m:
        return float("nan")
    return float(np.mean(np.abs(train[m:] - train[:-m])))


def scores(train, test, fc, m):
    """Per-series sMAPE and MASE (index: unique_id)."""
    out = {}
    for uid, y in test.groupby("unique_id", sort=False)["y"]:
        y = y.to_numpy()
        f = fc[uid]
        e = np.abs(y - f)
        denom = np.abs(y) + np.abs(f)
        smape = float(np.mean(np.where(denom > 0, 200 * e / np.where(denom > 0, denom, 1), 0)))
        scale = mase_scale(train[uid], m)
        out[uid] = (smape, float(np.mean(e) / scale))
    return out


def run_statsforecast(train_df, h, freq, m, workers, models):
    from statsforecast import StatsForecast
    from statsforecast.models import AutoARIMA, AutoETS, AutoTheta, SeasonalNaive, Theta

    make = {
        "auto-arima": lambda: [AutoARIMA(season_length=m)],
        "seasonal-naive": lambda: [SeasonalNaive(season_length=m)],
        "theta": lambda: [Theta(season_length=m)],
        "auto-theta": lambda: [AutoTheta(season_length=m)],
        "auto-ets": lambda: [AutoETS(season_length=m)],
        "ensemble": lambda: [
            AutoARIMA(season_length=m),
            AutoETS(season_length=m),
            AutoTheta(season_length=m),
        ],
    }
    # numba compilation outside the clock: two short series.
    warm = train_df[train_df["unique_id"].isin(train_df["unique_id"].unique()[:2])]
    t0 = time.perf_counter()
    warm_models = {type(x).__name__: x for k in models for x in make[k]()}
    StatsForecast(models=list(warm_models.values()), freq=freq, n_jobs=1).forecast(df=warm, h=h)
    jit = time.perf_counter() - t0
    results = {}
    for kind in models:
        sf = StatsForecast(models=make[kind](), freq=freq, n_jobs=workers)
        with PeakRss(os.getpid()) as rss:
            t0 = time.perf_counter()
            fc = sf.forecast(df=train_df, h=h)
            wall = time.perf_counter() - t0
        fc = fc.reset_index() if "unique_id" not in fc.columns else fc
        cols = [c for c in fc.columns if c not in ("unique_id", "ds")]
        per = {
            uid: g[cols].to_numpy().mean(axis=1) for uid, g in fc.groupby("unique_id", sort=False)
        }
        results[kind] = (wall, rss.peak, per, list(fc.columns))
    return jit, results


def run_ours(binary, train_path, test_path, h, workers, kind):
    cmd = [
        binary, "backtest", "--data", train_path, "--test", test_path, "--model", kind,
        "--horizon", str(h), "--threads", str(workers), "--json",
    ]
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    with PeakRss(p.pid) as rss:
        out, err = p.communicate()
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed: {err.decode()}")
    doc = json.loads(out)
    per = {
        s["unique_id"]: (s["metrics"]["smape"], s["metrics"]["mase"]) for s in doc["per_series"]
    }
    return wall, rss.peak, per


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--freq", default="monthly", choices=FREQS)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--models", default="auto-arima,seasonal-naive")
    ap.add_argument("--series", type=int, default=0, help="first N series only (0: all)")
    ap.add_argument("--datasets", default="datasets")
    a = ap.parse_args()
    freq, m, h = FREQS[a.freq]
    models = a.models.split(",")
    train_path = os.path.join(a.datasets, f"m3_{a.freq}_train.csv")
    test_path = os.path.join(a.datasets, f"m3_{a.freq}_test.csv")
    train_df = pd.read_csv(train_path, parse_dates=["ds"])
    test_df = pd.read_csv(test_path, parse_dates=["ds"])
    if a.series:
        keep = train_df["unique_id"].unique()[: a.series]
        train_df = train_df[train_df["unique_id"].isin(keep)]
        test_df = test_df[test_df["unique_id"].isin(keep)]
        tmp = os.environ.get("TMPDIR", "/tmp")
        train_path = os.path.join(tmp, f"m3_{a.freq}_train_{a.series}.csv")
        test_path = os.path.join(tmp, f"m3_{a.freq}_test_{a.series}.csv")
        train_df.to_csv(train_path, index=False, date_format="%Y-%m-%d")
        test_df.to_csv(test_path, index=False, date_format="%Y-%m-%d")
    n = train_df["unique_id"].nunique()
    train = {uid: g["y"].to_numpy() for uid, g in train_df.groupby("unique_id", sort=False)}

    import statsforecast

    print(
        f"M3 {a.freq}: {n} series, {len(train_df)} training rows, h = {h}, m = {m}; "
        f"{a.workers} workers / threads; statsforecast {statsforecast.__version__}"
    )
    jit, sf = run_statsforecast(train_df, h, freq, m, a.workers, models)
    print(f"statsforecast numba warm-up (not timed below): {jit:.1f} s")
    print(
        f"{'model':<16} {'tool':<14} {'wall s':>8} {'peak MiB':>9} {'sMAPE':>8} {'MASE':>7}"
    )
    for kind in models:
        sf_wall, sf_rss, sf_fc, sf_cols = sf[kind]
        sf_scores = scores(train, test_df, sf_fc, m)
        ours_wall, ours_rss, ours_scores = run_ours(a.bin, train_path, test_path, h, a.workers, kind)
        for tool, wall, rss, sc in [
            ("statsforecast", sf_wall, sf_rss, sf_scores),
            ("forecast", ours_wall, ours_rss, ours_scores),
        ]:
            sm = np.mean([v[0] for v in sc.values()])
            ma = np.mean([v[1] for v in sc.values()])
            print(f"{kind:<16} {tool:<14} {wall:>8.2f} {rss / 2**20:>9.0f} {sm:>8.3f} {ma:>7.3f}")
        print(
            f"{kind:<16} ratio: statsforecast / forecast wall time = {sf_wall / ours_wall:.2f}x, "
            f"peak memory forecast / statsforecast = {ours_rss / sf_rss:.2f}"
        )
        worse = [
            (uid, ours_scores[uid][0] - sf_scores[uid][0])
            for uid in sf_scores
            if ours_scores[uid][0] > sf_scores[uid][0] + 1e-9
        ]
        better = sum(
            1 for uid in sf_scores if ours_scores[uid][0] < sf_scores[uid][0] - 1e-9
        )
        worse.sort(key=lambda x: -x[1])
        print(
            f"{kind:<16} per series sMAPE: forecast better on {better}, worse on {len(worse)}, "
            f"equal on {n - better - len(worse)}; largest gaps (ours - theirs): "
            + ", ".join(f"{u} {d:+.2f}" for u, d in worse[:5])
        )
        print(f"{kind:<16} statsforecast columns: {sf_cols}")


if __name__ == "__main__":
    main()
