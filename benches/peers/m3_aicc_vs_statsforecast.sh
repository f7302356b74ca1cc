#!/usr/bin/env bash
# AutoARIMA's search quality on M3, ours against statsforecast 2.x: both search every
# series of an M3 training file (default settings; ours also with confine_roots = true),
# two workers / two threads each, and the models chosen are compared series by series:
# on how many series our AICc is at most statsforecast's (theirs recomputed at its own
# coefficients with our exact likelihood; see benches/src/picks.rs). Wall times are
# printed beside the counts, but the speed comparison of record is m3_vs_statsforecast.sh.
#   benches/peers/m3_aicc_vs_statsforecast.sh [monthly|quarterly|yearly] [SERIES]
# SERIES: only the first so many series of the file.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
FREQ="${1:-monthly}"
SERIES="${2:-}"
case "$FREQ" in
  monthly) SEASON=12 ;;
  quarterly) SEASON=4 ;;
  yearly) SEASON=1 ;;
  *) echo "frequency: monthly, quarterly or yearly, not $FREQ" >&2; exit 2 ;;
esac
TRAIN="datasets/m3_${FREQ}_train.csv"
VENV="${ARIMA_PEERS_VENV:-$HOME/.cache/forecast/arima-peers}"
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import statsforecast' 2>/dev/null; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet statsforecast==2.1.1 statsmodels==0.15.0
fi
CORES="$(nproc)"  # before OMP_NUM_THREADS is set: GNU nproc honours it
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 NUMBA_NUM_THREADS=1
cargo build --release -p forecast-benches --bin m3_arima_aicc
BIN="${CARGO_TARGET_DIR:-target}/release/m3_arima_aicc"
PICKS="$(mktemp)"
trap 'rm -f "$PICKS"' EXIT
echo "forecast $(git describe --always --dirty --tags), statsforecast $("$VENV/bin/python" -c 'import statsforecast; print(statsforecast.__version__)'), $(date -u +%Y-%m-%dT%H:%MZ), $CORES cores, $TRAIN"
"$VENV/bin/python" benches/peers/m3_arima_picks.py "$TRAIN" "$SEASON" "$PICKS" ${SERIES:+--series "$SERIES"}
"$BIN" "$TRAIN" "$SEASON" "$PICKS" $SERIES
