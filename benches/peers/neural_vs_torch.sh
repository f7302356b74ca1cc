#!/usr/bin/env bash
# Training throughput of our LSTM and Transformer against PyTorch (CPU, 2 threads) on the
# standard config: batch 64, lookback 64, 5 input features, horizon 1, LSTM 2x64,
# Transformer d_model 64, 4 heads, 2 layers, ff 128. Prints samples/s and the ratio.
# Run from the repository root:  benches/peers/neural_vs_torch.sh
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
VENV="${VENV:-$ROOT/.venv-torch}"
REF="${TORCH_REF:-$ROOT/benches/peers/torch_reference.py}"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
  # torch 2.9.0 from PyPI (the Linux wheel runs on the CPU when no GPU is present).
  "$VENV/bin/pip" install --quiet torch==2.9.0
fi
cargo build --release -p forecast-cli
BIN="${CARGO_TARGET_DIR:-target}/release/forecast"
TORCH_OUT="$(THREADS=2 "$VENV/bin/python" "$REF")"
echo "$TORCH_OUT"
torch_rate() { echo "$TORCH_OUT" | grep "^$1" | sed -E 's/.*median=([0-9.]+).*/\1/'; }
TMP="$(mktemp -d)"
COMMON=(--data datasets/msft_daily.csv --target close --features open,high,low,close,volume
        --horizon 1 --seed 1 --set lookback=64 --set batch_size=64 --set num_layers=2
        --set hidden_size=64 --set epochs=3 --set patience=0 --set dropout=0 --json)
ours() {
  "$BIN" train --model "$1" "${COMMON[@]}" "${@:2}" --out "$TMP/$1" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["fit"]["samples_per_second"])'
}
L_OURS="$(RAYON_NUM_THREADS=2 ours lstm)"
T_OURS="$(RAYON_NUM_THREADS=2 ours transformer --set d_model=64 --set num_heads=4 --set ff_size=128)"
L_TORCH="$(torch_rate LSTM)"
T_TORCH="$(torch_rate TF)"
python3 - "$L_OURS" "$L_TORCH" "$T_OURS" "$T_TORCH" <<'PY'
import sys
lo, lt, to, tt = map(float, sys.argv[1:])
print(f"LSTM        ours {lo:8.0f} samples/s  torch {lt:8.0f}  ratio {lo/lt:.2f}")
print(f"Transformer ours {to:8.0f} samples/s  torch {tt:8.0f}  ratio {to/tt:.2f}")
PY
