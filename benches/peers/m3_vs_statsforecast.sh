#!/usr/bin/env bash
# M3 competition, side by side with statsforecast: AutoARIMA and SeasonalNaive (or, with
# --models, Theta, AutoTheta, AutoETS or the ensemble of AutoARIMA, AutoETS and AutoTheta) on the same train/test split (datasets/m3_*), 2 workers
# for statsforecast and 2 threads for
# us, in one run; prints wall time, peak memory, sMAPE and MASE and the ratios.
#
#   benches/peers/m3_vs_statsforecast.sh [monthly|quarterly|yearly] [extra args]
#     extra args go to m3_statsforecast.py, e.g. --series 200 --models seasonal-naive
#
# Installs statsforecast (pinned) from PyPI into a virtual environment under
# ~/.cache/forecast/ (reused on later runs) and builds our release binary.
set -euo pipefail
cd "$(dirname "$0")/../.."
FREQ="${1:-monthly}"
shift || true
VENV="${FORECAST_STATSFORECAST_M3_VENV:-$HOME/.cache/forecast/statsforecast-m3}"
if ! "$VENV/bin/python" -c "import statsforecast, pandas, psutil" 2>/dev/null; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet "statsforecast==2.0.3" pandas psutil
fi
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
if [ -z "${FORECAST_BIN:-}" ]; then
    cargo build --release -p forecast-cli --bin forecast
fi
BIN="${FORECAST_BIN:-$CARGO_TARGET_DIR/release/forecast}"
echo "forecast $(git describe --always --dirty --tags), $(date -u +%Y-%m-%d), $(nproc) cores"
"$VENV/bin/python" benches/peers/m3_statsforecast.py --bin "$BIN" --freq "$FREQ" "$@"
