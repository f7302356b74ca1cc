#!/usr/bin/env bash
# Training throughput of our LSTM and Transformer against PyTorch (CPU, 2 threads) on the
# standard config: batch 64, lookback 64, 5 input features, horizon 1, LSTM 2x64,
# Transformer d_model 64, 4 heads, 2 layers, ff 128. Prints samples/s and the ratio.
# Run from anywhere:  benches/peers/neural_vs_torch.sh
#
# PyTorch (torch==2.9.0 from PyPI) is installed once into a venv cached under
# ~/.cache/forecast/ (override with VENV=...). Our side is the release CLI; its figure is
# `fit.samples_per_second` of `forecast train --json`: training windows per wall second of
# the whole epoch loop (batch assembly, forward, backward, optimiser, validation pass).
# PyTorch's figure is the reference script's: Adam steps on one fixed batch, no data
# loading and no validation, so the comparison is conservative for us.
# Environment: RUNS / STEPS (PyTorch timed runs, steps per run), EPOCHS (ours), THREADS.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
THREADS="${THREADS:-2}"
VENV="${VENV:-$HOME/.cache/forecast/torch-2.9.0}"
REF="${TORCH_REF:-$ROOT/benches/peers/torch_reference.py}"
if ! "$VENV/bin/python" -c 'import torch' 2>/dev/null; then
  python3 -m venv "$VENV"
  # torch 2.9.0 from PyPI (the Linux wheel runs on the CPU when no GPU is present).
  "$VENV/bin/pip" install --quiet --progress-bar off torch==2.9.0
fi
if [ -z "${BIN:-}" ]; then
  cargo build --release -p forecast-cli --bin forecast
  BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/forecast"
fi
TORCH_OUT="$(THREADS="$THREADS" RUNS="${RUNS:-7}" STEPS="${STEPS:-10}" "$VENV/bin/python" "$REF")"
echo "$TORCH_OUT"
torch_rate() { echo "$TORCH_OUT" | grep "^$1" | sed -E 's/.*median=([0-9.]+).*/\1/'; }
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
COMMON=(--data datasets/msft_daily.csv --target close --features open,high,low,close,volume
        --horizon 1 --seed 1 --set lookback=64 --set batch_size=64 --set num_layers=2
        --set hidden_size=64 --set "epochs=${EPOCHS:-3}" --set patience=0 --json)
ours() {
  RAYON_NUM_THREADS="$THREADS" "$BIN" train --model "$1" "${COMMON[@]}" "${@:2}" --out "$TMP/$1" \
    | python3 -c 'import json,sys; f=json.load(sys.stdin)["fit"]; print(f["samples_per_second"], f["train_windows"], f["epochs"], f["seconds"])'
}
read -r L_OURS L_N L_E L_S <<<"$(ours lstm)"
read -r T_OURS T_N T_E T_S <<<"$(ours transformer --set d_model=64 --set num_heads=4 --set ff_size=128)"
echo "ours: lstm ${L_N} windows x ${L_E} epochs in ${L_S} s; transformer ${T_N} x ${T_E} in ${T_S} s"
L_TORCH="$(torch_rate LSTM)"
T_TORCH="$(torch_rate TF)"
python3 - "$L_OURS" "$L_TORCH" "$T_OURS" "$T_TORCH" <<'PY'
import sys
lo, lt, to, tt = map(float, sys.argv[1:])
print(f"LSTM        ours {lo:8.0f} samples/s  torch {lt:8.0f}  ratio {lo/lt:.2f}")
print(f"Transformer ours {to:8.0f} samples/s  torch {tt:8.0f}  ratio {to/tt:.2f}")
PY
