#!/usr/bin/env bash
# Throughput of local models over many series (1,000 to 100,000 synthetic series of
# 100-1,000 points), one process per figure, and the load time of a 10,000-series panel
# model directory. Prints a Markdown table.
#
#   benches/panel_scaling.sh                     # the full curve (about 15 minutes on 2 cores)
#   SIZES="1000 10000" MODELS=naive benches/panel_scaling.sh
#   PANEL_SCALING_BIN=path/to/panel_scaling benches/panel_scaling.sh   # a binary already built
#   REPEAT=7 (default): timed fits per figure for the baselines, median reported (ARIMA: one)
#   WARMUP=1 (default): seconds of untimed fits before them (baselines only)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
if [ -z "${PANEL_SCALING_BIN:-}" ]; then
    cargo build --release -p forecast-benches --example panel_scaling
fi
BIN="${PANEL_SCALING_BIN:-$CARGO_TARGET_DIR/release/examples/panel_scaling}"
SIZES="${SIZES:-1000 10000 100000}"
MODELS="${MODELS:-naive seasonal-naive drift arima}"
echo "machine: $(nproc) vCPU, $(uname -sm); commit $(git describe --always --dirty 2>/dev/null || echo unknown); $(date -u '+%Y-%m-%d %H:%M UTC')"
echo
REPEAT="${REPEAT:-7}"
WARMUP="${WARMUP:-1}"
echo "baselines: first fit of the process, then ${WARMUP} s of untimed warm-up fits, then the median of ${REPEAT} fits; ARIMA: one fit"
echo
echo "| model | series | rows | first fit s | fits | fit s (median; min-max) | fit rows/s | forecast s (h=12, 2 levels) | peak RSS MiB | failed |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for m in $MODELS; do
    r=$REPEAT
    w=$WARMUP
    if [ "$m" = arima ]; then r=0; w=0; fi
    for n in $SIZES; do
        "$BIN" "$n" "$m" --warmup "$w" --repeat "$r" | python3 -c '
import json, sys
r = json.loads(sys.stdin.read())
print("| {model} | {series:,} | {rows:,} | {fit_s_first:.3f} | {fit_runs} | {fit_s:.3f} ({fit_s_min:.3f}-{fit_s_max:.3f}) | {fit_rows_per_s:,.0f} | {predict_s:.3f} | {peak_rss_mib:.0f} | {failed} |".format(**r))'
    done
done
echo
echo "| panel model directory | series | size MiB | load s (median of 5) |"
echo "|---|---:|---:|---:|"
for m in naive arima; do
    "$BIN" 10000 "$m" --artifact | python3 -c '
import json, sys
r = json.loads(sys.stdin.read())
r["mib"] = r["artifact_bytes"] / 2**20
print("| {model} | {series:,} | {mib:.1f} | {artifact_load_s:.3f} |".format(**r))'
done
