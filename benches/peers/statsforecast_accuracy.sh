#!/usr/bin/env bash
# Accuracy of statsforecast (Naive, SeasonalNaive / drift, ARIMA, AutoARIMA) on the same
# rolling-origin folds as one of our quick studies, side by side with ours, with timing.
#
#   benches/peers/statsforecast_accuracy.sh [experiments/quick-airpassengers.toml]
#
# Installs statsforecast from PyPI into a virtual environment under
# ~/.cache/forecast/ (reused on later runs), builds our release binary, runs our study
# single-threaded (statsforecast runs with n_jobs=1), then the peers.
set -euo pipefail
cd "$(dirname "$0")/../.."
SPEC="${1:-experiments/quick-airpassengers.toml}"
VENV="${FORECAST_STATSFORECAST_VENV:-$HOME/.cache/forecast/statsforecast-accuracy}"
if ! "$VENV/bin/python" -c "import statsforecast, pandas" 2>/dev/null; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet "statsforecast>=2,<3" pandas
fi
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
if [ -z "${FORECAST_BIN:-}" ]; then
    cargo build --release -p forecast-cli --bin forecast
fi
BIN="${FORECAST_BIN:-$CARGO_TARGET_DIR/release/forecast}"
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT
"$BIN" experiment run "$SPEC" --threads 1 --out "$OUT" > /dev/null
NAME="$(basename "$SPEC" .toml)"
echo "statsforecast $("$VENV/bin/python" -c 'import statsforecast; print(statsforecast.__version__)'), forecast $(git describe --always --dirty --tags), $(date -u +%Y-%m-%d)"
"$VENV/bin/python" benches/peers/statsforecast_accuracy.py --spec "$SPEC" --ours "$OUT/$NAME.json"
