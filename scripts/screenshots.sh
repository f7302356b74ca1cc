#!/usr/bin/env bash
# Remakes docs/img/: a screenshot of every report kind and of the live dashboard, taken by
# the browser tests in Debian's headless Chromium, and the README's static chart.
#
#   eval "$(scripts/browser-deps.sh)"; scripts/screenshots.sh
#   FORECAST_BIN=path/to/forecast scripts/screenshots.sh   # a binary already built
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
export FORECAST_SCREENSHOTS="$PWD/docs/img"
export FORECAST_REQUIRE_BROWSER=1
mkdir -p docs/img
cargo test --workspace --test browser_reports --test browser_dashboard
if [ -z "${FORECAST_BIN:-}" ]; then
    cargo build --release -p forecast-cli
fi
bin="${FORECAST_BIN:-$CARGO_TARGET_DIR/release/forecast}"
"$bin" train --data datasets/msft_daily.csv --target close --model drift --out models/msft
"$bin" report --model models/msft --horizon 20 --out docs/img/msft-forecast.png
ls -l docs/img
