"""statsforecast's side of benches/peers/m3_aicc_vs_statsforecast.sh: its AutoARIMA
(default settings, season length 12 / 4 / 1) on every series of an M3 training file, two
worker processes, writing the model chosen for each series to PICKS in the record of
sf_picks.py (case = the series' unique_id, fold 0). Prints the wall time.
Usage: m3_arima_picks.py TRAIN_CSV SEASON PICKS [--series N]."""
import argparse
import multiprocessing
import time

import numpy as np
import pandas as pd
from statsforecast.models import AutoARIMA

from sf_picks import pick_line

SEASON = None


def fit(item):
    uid, y = item
    try:
        model = AutoARIMA(season_length=SEASON).fit(np.asarray(y, float))
    except Exception:  # counted as a failed search by the comparison
        model = None
    return pick_line(uid, 0, model)


def init(season):
    global SEASON
    SEASON = season


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("train")
    ap.add_argument("season", type=int)
    ap.add_argument("picks")
    ap.add_argument("--series", type=int, default=None)
    a = ap.parse_args()
    df = pd.read_csv(a.train)
    ids = list(dict.fromkeys(df["unique_id"]))[: a.series]
    groups = {uid: g["y"].to_numpy(float) for uid, g in df.groupby("unique_id", sort=False)}
    items = [(uid, groups[uid]) for uid in ids]
    init(a.season)
    fit(items[0])  # numba compilation before the clock starts
    t = time.perf_counter()
    with multiprocessing.Pool(2, initializer=init, initargs=(a.season,)) as pool:
        lines = pool.map(fit, items, chunksize=8)
    wall = time.perf_counter() - t
    with open(a.picks, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"statsforecast AutoARIMA: {len(items)} series in {wall:.1f} s (2 workers)")


if __name__ == "__main__":
    main()
