"""Independent check of fits that come out ABOVE the best-known exact log-likelihood of
the ARIMA reference: evaluate our coefficients with statsmodels' exact-diffuse
likelihood and with statsforecast's (both at fixed coefficients, sigma2 profiled out),
in the R convention of the reference (statsmodels' value + 0.5*d*log(2*pi)).

    ~/.cache/forecast/arima-peers/bin/python benches/peers/arima_check_optima.py

(the venv is the one benches/peers/arima_vs_statsforecast.sh creates).
"""
import warnings

import numpy as np
import pandas as pd
from statsforecast.arima import arima
from statsmodels.tsa.statespace.sarimax import SARIMAX

warnings.simplefilter("ignore")

# (label, csv, column, log?, order, our coefficients [ar.., ma..], our loglik, best known)
CASES = [
    ("airpassengers_log ARIMA(2,1,2)", "datasets/airpassengers.csv", "passengers", True,
     (2, 1, 2),
     [1.6808871015436562, -0.9451445749615915, -1.8248245112176171, 0.97936123142927],
     144.9848, 128.8898),
    ("msft_logclose ARIMA(2,1,2)", "datasets/msft_daily.csv", "close", True, (2, 1, 2),
     [1.6682443241395737, -0.757850513941946, -1.7150592685107677, 0.7986502229177191],
     18816.5320, 18815.9879),
    ("wineind ARIMA(2,1,2)", "datasets/wineind.csv", "sales", False, (2, 1, 2),
     [0.9768164295231164, -0.25921309964140116, -1.964079308414794, 0.9865193857261731],
     -1733.1053, -1740.0908),
]

for label, path, col, log, order, coefs, ours, best in CASES:
    y = pd.read_csv(path)[col].to_numpy(float)
    if log:
        y = np.log(y)
    # enforce_stationarity (the default) makes statsmodels initialise the ARMA state from
    # its stationary distribution, as R and we do; only the d differencing states are
    # diffuse.
    m = SARIMAX(y, order=order, trend="n", concentrate_scale=True, use_exact_diffuse=True)
    sm = m.loglike(np.asarray(coefs)) + 0.5 * order[1] * np.log(2 * np.pi)
    # Polish from our point: a genuine optimum does not move.
    r = m.fit(start_params=coefs, disp=0, method="bfgs", maxiter=1000)
    sf = arima(y, order=order, fixed=np.asarray(coefs), method="ML",
               include_mean=False, transform_pars=False)["loglik"]
    print(f"{label}: ours {ours:.4f}  statsmodels at ours {sm:.6f}  statsforecast at ours "
          f"{sf:.6f}  best known {best:.4f}  statsmodels polished from ours "
          f"{r.llf + 0.5 * order[1] * np.log(2 * np.pi):.6f} at {np.round(r.params, 6)}")
