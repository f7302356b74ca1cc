#!/usr/bin/env bash
# Build the CLI with the wgpu GPU backend and train each neural model for a few epochs on
# the GPU, then the same run on the CPU; prints both runs' samples/s. Run from the
# repository root on a machine with a GPU (Vulkan / Metal / DX12). Without a usable GPU the
# first train fails with `error: ... device: wgpu: no usable GPU adapter ...` (exit 1).
#   scripts/gpu-smoke.sh            # wgpu
#   FEATURE=cuda DEVICE=cuda scripts/gpu-smoke.sh   # CUDA (needs a toolchain that can fetch LLVM)
set -euo pipefail
cd "$(dirname "$0")/.."
FEATURE="${FEATURE:-wgpu}"
DEVICE="${DEVICE:-$FEATURE}"
OUT="${OUT:-$(mktemp -d)}"
cargo build --release -p forecast-cli --bin forecast --features "$FEATURE"
BIN="${CARGO_TARGET_DIR:-target}/release/forecast"
for model in lstm transformer; do
  "$BIN" train --model "$model" --data datasets/msft_daily.csv --target close \
    --features open,high,low,close,volume --horizon 5 --device "$DEVICE" --seed 1 \
    --set epochs=3 --set lookback=64 --set batch_size=64 --out "$OUT/$model" --json \
    | python3 -c 'import json,sys; f=json.load(sys.stdin)["fit"]; print("'"$model"' on", f["device"], round(f["samples_per_second"]), "samples/s")'
  "$BIN" predict --model "$OUT/$model" --horizon 5 --level 80,95
  # The same run on the CPU, for the throughput ratio.
  "$BIN" train --model "$model" --data datasets/msft_daily.csv --target close \
    --features open,high,low,close,volume --horizon 5 --device cpu --seed 1 \
    --set epochs=3 --set lookback=64 --set batch_size=64 --out "$OUT/$model-cpu" --json \
    | python3 -c 'import json,sys; f=json.load(sys.stdin)["fit"]; print("'"$model"' on", f["device"], round(f["samples_per_second"]), "samples/s")'
done
echo "gpu-smoke: OK ($OUT)"
