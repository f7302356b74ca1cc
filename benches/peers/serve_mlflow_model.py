"""The peer side of benches/peers/serve_vs_mlflow.sh: MLflow pyfunc models wrapping
fitted statsforecast models, saved with `mlflow.pyfunc.save_model` for
`mlflow models serve`.

    python serve_mlflow_model.py --msft MSFT.csv --panel datasets/techstocks_daily.csv --out DIR

writes DIR/msft (ARIMA(1,1,1) on the file's `close`) and DIR/stocks (SeasonalNaive with a
5-day season on every ticker of the panel). Each input row is one request, the convention
of MLflow's forecasting flavours and of `forecast serve`'s /invocations: `h` (required),
`level` ("80;95"), `unique_id` (optional, panels). The answer has statsforecast's columns
(`unique_id, ds, <model>, <model>-lo-80, ...`).
"""

import argparse
from pathlib import Path

import mlflow.pyfunc
import pandas as pd
from statsforecast import StatsForecast
from statsforecast.models import ARIMA, SeasonalNaive


class Forecaster(mlflow.pyfunc.PythonModel):
    """A fitted StatsForecast object answering one forecast per input row."""

    def __init__(self, sf):
        self.sf = sf

    def predict(self, context, model_input, params=None):
        out = []
        for _, row in model_input.iterrows():
            h = int(row["h"])
            raw = row.get("level")
            levels = []
            if isinstance(raw, str):
                levels = [int(float(x)) for x in raw.replace(",", ";").split(";") if x.strip()]
            fc = self.sf.predict(h=h, level=levels or None)
            uid = row.get("unique_id")
            if isinstance(uid, str):
                fc = fc[fc["unique_id"] == uid]
            out.append(fc)
        return pd.concat(out, ignore_index=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--msft", required=True)
    ap.add_argument("--panel", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    out = Path(a.out)

    m = pd.read_csv(a.msft)
    df = pd.DataFrame({"unique_id": "msft", "ds": pd.to_datetime(m["date"]), "y": m["close"]})
    sf = StatsForecast(models=[ARIMA(order=(1, 1, 1))], freq="B", n_jobs=1)
    sf.fit(df)
    mlflow.pyfunc.save_model(path=str(out / "msft"), python_model=Forecaster(sf))

    p = pd.read_csv(a.panel)
    df = pd.DataFrame(
        {"unique_id": p["ticker"], "ds": pd.to_datetime(p["date"]), "y": p["close"]}
    )
    sf = StatsForecast(models=[SeasonalNaive(season_length=5)], freq="B", n_jobs=1)
    sf.fit(df)
    mlflow.pyfunc.save_model(path=str(out / "stocks"), python_model=Forecaster(sf))


if __name__ == "__main__":
    main()
