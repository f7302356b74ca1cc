#!/usr/bin/env bash
# The M3 competition, scored the competition's way: `forecast experiment run` of
# experiments/m3-{monthly,quarterly,yearly}.toml and m3-monthly-neural.toml (global
# networks on the monthly series, kept apart from AutoARIMA's long run). Every series is forecast from the end
# of its training part over the held-out horizon (18 monthly, 8 quarterly, 6 yearly) by
# each model and scored by sMAPE and MASE (seasonal naive in-sample scale), the mean
# over series, beside the naive forecast (last value).
#
#   scripts/m3.sh                       # all of them
#   scripts/m3.sh experiments/m3-yearly.toml
#
# Writes experiments/results/m3-*.{json,md}; scripts/experiments-quick.sh copies the
# Markdown into experiments/RESULTS.md. Needs only the Rust toolchain.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
if [ -z "${FORECAST_BIN:-}" ]; then
    cargo build --release -p forecast-cli --bin forecast
fi
BIN="${FORECAST_BIN:-$CARGO_TARGET_DIR/release/forecast}"
if [ "$#" -gt 0 ]; then SPECS=("$@"); else SPECS=(experiments/m3-monthly.toml experiments/m3-monthly-neural.toml experiments/m3-quarterly.toml experiments/m3-yearly.toml); fi
THREADS="${M3_THREADS:-$(nproc)}"
export FORECAST_SOURCE_VERSION="${FORECAST_SOURCE_VERSION:-$(git describe --always --dirty --tags 2>/dev/null || echo unknown)}"
for spec in "${SPECS[@]}"; do
    echo "== $spec" >&2
    "$BIN" experiment run "$spec" --threads "$THREADS" > /dev/null
done
