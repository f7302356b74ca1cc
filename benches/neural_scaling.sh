#!/usr/bin/env bash
# Neural scaling curves: training throughput (samples/s over the whole epoch loop, the
# figure `forecast train` reports as fit.samples_per_second) of the LSTM and the
# Transformer on the MSFT OHLCV features, (1) vs batch size at lookback 64 and (2) vs
# lookback at batch 64. Standard shapes otherwise: 2 layers, hidden 64 / d_model 64,
# 4 heads, ff 128, horizon 1. EPOCHS (default 1) epochs per point, THREADS (default 2);
# BATCHES and LOOKBACKS override the grids.
# Prints two Markdown tables.
#   benches/neural_scaling.sh
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
EPOCHS="${EPOCHS:-1}"
THREADS="${THREADS:-2}"
if [[ -z "${BIN:-}" ]]; then
  cargo build --release -p forecast-cli --bin forecast
  BIN="${CARGO_TARGET_DIR:-target}/release/forecast"
fi
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
export FORECAST_RUNS_DIR="$WORK/runs" # keep the benchmark's runs out of the user's list

# rate MODEL BATCH LOOKBACK -> samples/s
rate() {
  local extra
  if [[ $1 == lstm ]]; then
    extra=(--set num_layers=2 --set hidden_size=64)
  else
    extra=(--set num_layers=2 --set d_model=64 --set num_heads=4 --set ff_size=128)
  fi
  "$BIN" train --model "$1" --data datasets/msft_daily.csv --target close \
    --features open,high,low,close,volume --horizon 1 --seed 1 --threads "$THREADS" \
    --set "epochs=$EPOCHS" --set "batch_size=$2" --set "lookback=$3" "${extra[@]}" \
    --out "$WORK/m" --json 2>/dev/null |
    python3 -c 'import json,sys; print(round(json.load(sys.stdin)["fit"]["samples_per_second"]))'
}

echo "forecast $("$BIN" --version | awk '{print $2}'), $THREADS threads, $EPOCHS epoch(s) per point, $(date -u +%F)"
echo
echo "Training samples/s vs batch size (lookback 64)"
echo
echo "| batch | LSTM | Transformer |"
echo "|---:|---:|---:|"
for b in ${BATCHES:-16 32 64 128 256}; do
  echo "| $b | $(rate lstm "$b" 64) | $(rate transformer "$b" 64) |"
done
echo
echo "Training samples/s vs lookback (batch 64)"
echo
echo "| lookback | LSTM | Transformer |"
echo "|---:|---:|---:|"
for t in ${LOOKBACKS:-16 32 64 128}; do
  echo "| $t | $(rate lstm 64 "$t") | $(rate transformer 64 "$t") |"
done
