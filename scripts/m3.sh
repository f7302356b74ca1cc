#!/usr/bin/env bash
# The M3 competition, scored the competition's way: every series of each frequency is
# forecast from the end of its training part over the held-out horizon (18 monthly,
# 8 quarterly, 6 yearly) by each model, with `forecast backtest --data TRAIN --test
# TEST`, and scored by sMAPE and MASE (seasonal naive in-sample scale), the mean over
# series; the naive forecast (last value) is scored beside every model.
#
#   scripts/m3.sh                 # all frequencies, models naive, seasonal-naive, drift, auto-arima
#   M3_FREQS=monthly M3_MODELS=seasonal-naive scripts/m3.sh
#
# Writes experiments/results/full-m3.{json,md}; scripts/experiments-quick.sh copies the
# Markdown into experiments/RESULTS.md. Needs only the Rust toolchain and jq.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
if [ -z "${FORECAST_BIN:-}" ]; then
    cargo build --release -p forecast-cli --bin forecast
fi
BIN="${FORECAST_BIN:-$CARGO_TARGET_DIR/release/forecast}"
FREQS="${M3_FREQS:-monthly quarterly yearly}"
MODELS="${M3_MODELS:-naive seasonal-naive drift auto-arima}"
THREADS="${M3_THREADS:-$(nproc)}"
VERSION="$(git describe --always --dirty --tags 2>/dev/null || echo unknown)"
OUT=experiments/results/full-m3
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
declare -A H=([monthly]=18 [quarterly]=8 [yearly]=6)
rows=()
for f in $FREQS; do
    for m in $MODELS; do
        echo "== M3 $f, $m" >&2
        start=$(date +%s.%N)
        "$BIN" backtest --data "datasets/m3_${f}_train.csv" --test "datasets/m3_${f}_test.csv" \
            --model "$m" --horizon "${H[$f]}" --threads "$THREADS" --json > "$TMP/$f-$m.json"
        wall=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.3f", b - a }')
        jq --arg f "$f" --arg wall "$wall" \
            '{frequency: $f, model, series, rows, wall_s: ($wall | tonumber), metrics, naive: .baseline.naive, skipped: (.skipped | length), failed: (.failed | length)}' \
            "$TMP/$f-$m.json" > "$TMP/$f-$m.row.json"
        rows+=("$TMP/$f-$m.row.json")
    done
done
jq -s --arg v "$VERSION" '{version: $v, runs: .}' "${rows[@]}" > "$OUT.json.tmp"
mv "$OUT.json.tmp" "$OUT.json"
{
    echo "## full-m3"
    echo
    echo "The M3 competition (1,428 monthly, 756 quarterly, 645 yearly series; \`datasets/m3_*\`),"
    echo "scored the competition's way: one forecast per series from the end of its training part"
    echo "over the held-out horizon (18 / 8 / 6), sMAPE and MASE (in-sample seasonal naive scale,"
    echo "m = 12 / 4 / 1) averaged over series; naive = last value carried forward. The M4 OWA"
    echo "against Naive-2 is not computed."
    echo
    echo "- command: \`scripts/m3.sh\` (each row: \`forecast backtest --data datasets/m3_F_train.csv --test datasets/m3_F_test.csv --model M --horizon H --threads $THREADS --json\`)"
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "- machine: $(nproc) vCPU, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sm), release build"
    echo "- version: ${VERSION}"
    echo
    echo "| frequency | model | series | sMAPE | MASE | naive sMAPE | naive MASE | skipped | failed | wall s |"
    echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    jq -r '.runs[] | "| \(.frequency) | \(.model) | \(.series) | \(.metrics.smape * 1000 | round / 1000) | \(.metrics.mase * 1000 | round / 1000) | \(.naive.smape * 1000 | round / 1000) | \(.naive.mase * 1000 | round / 1000) | \(.skipped) | \(.failed) | \(.wall_s * 100 | round / 100) |"' "$OUT.json"
} > "$OUT.md.tmp"
mv "$OUT.md.tmp" "$OUT.md"
echo "wrote $OUT.json and $OUT.md" >&2
