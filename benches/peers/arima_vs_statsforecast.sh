#!/usr/bin/env bash
# ARIMA fit speed, ours against statsforecast 2.x (its C++ core), one thread each, warmed
# up, median of REPEATS (default 7): MSFT ARIMA(1,1,1) on 7,983 closes, ARIMA(1,1,1) on 200
# windows of 250 MSFT closes, the airline model ARIMA(0,1,1)(0,1,1)[12] on airpassengers.
# Ours is timed by benches/src/bin/arima_timing.rs, which calls forecast-core directly (no
# process start, no CSV parsing inside the timing); statsforecast's by arima_statsforecast.py
# (model construction + .fit, data already in memory). Both with the default settings: ours
# multi-start exact ML, statsforecast CSS-ML.
# AutoARIMA (default settings on both sides, a full search at every fold of a rolling
# backtest, same windows): 100 folds of MSFT closes (origins at the last 100 days, a
# 250-close window before each) and 24 expanding folds of airpassengers (96..119 months,
# season length 12), as searches/s (median of min(REPEATS, 3) sweeps); ours timed by
# benches/src/bin/auto_arima_timing.rs, which then compares the models chosen at each
# fold: same model, and our AICc <= statsforecast's (theirs recomputed at its own
# coefficients with the exact likelihood, see that file). A last `#` block repeats the
# comparison with our `confine_roots = true` (one sweep each, searches/s beside it).
# Run from anywhere:  benches/peers/arima_vs_statsforecast.sh [REPEATS]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
REPEATS="${1:-7}"
VENV="${ARIMA_PEERS_VENV:-$HOME/.cache/forecast/arima-peers}"
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import statsforecast' 2>/dev/null; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet statsforecast==2.1.1 statsmodels==0.15.0
fi
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 NUMBA_NUM_THREADS=1 \
  RAYON_NUM_THREADS=1
cargo build --release -p forecast-benches --bin arima_timing --bin auto_arima_timing
BIN="${CARGO_TARGET_DIR:-target}/release"
PICKS="$(mktemp)"
trap 'rm -f "$PICKS"' EXIT
THEIRS="$("$VENV/bin/python" benches/peers/arima_statsforecast.py "$REPEATS" "$PICKS")"
OURS="$("$BIN/arima_timing" "$REPEATS"; "$BIN/auto_arima_timing" "$REPEATS" "$PICKS")"
echo "statsforecast $("$VENV/bin/python" -c 'import statsforecast; print(statsforecast.__version__)')"
python3 - "$OURS" "$THEIRS" <<'PY'
import sys
lines = sys.argv[1].splitlines()
ours = {l.split()[0]: (float(l.split()[1]), l.split()[2]) for l in lines
        if not l.startswith("#")}
theirs = {l.split()[0]: float(l.split()[1]) for l in sys.argv[2].splitlines()}
print(f"{'case':36} {'ours':>18} {'statsforecast':>20} {'speed-up':>9}")
for k, (o, unit) in ours.items():
    t = theirs[k]
    up = t / o if unit == "ms" else o / t
    print(f"{k:36} {o:9.2f} {unit:10} {t:9.2f} {unit:10} {up:8.2f}x")
print("\n".join(l for l in lines if l.startswith("#")))
PY
