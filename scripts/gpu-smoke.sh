#!/usr/bin/env bash
# Build the CLI with the wgpu GPU backend and train each neural model for a few epochs on
# the GPU, then the same run on the CPU; prints both runs' samples/s and the forecast of
# each. Uses the standard benchmark configuration of benches/peers/neural_vs_torch.sh
# (5 OHLCV features, lookback 64, batch 64, 2 layers, hidden 64 / d_model 64, 4 heads,
# ff 128, horizon 1). Run from the repository root on a machine with a GPU (Vulkan /
# Metal / DX12). Without a usable GPU the first train fails with
# `error: ... device: wgpu: no usable GPU adapter ...` (exit 1).
#   scripts/gpu-smoke.sh                            # build with wgpu, then run
#   BIN=path/to/forecast scripts/gpu-smoke.sh       # a binary built with --features wgpu
#   FEATURE=cuda DEVICE=cuda scripts/gpu-smoke.sh   # CUDA (needs a toolchain that can fetch LLVM)
# EPOCHS (default 3) and CPU_THREADS (default: all cores) tune the runs.
set -euo pipefail
cd "$(dirname "$0")/.."
FEATURE="${FEATURE:-wgpu}"
DEVICE="${DEVICE:-$FEATURE}"
EPOCHS="${EPOCHS:-3}"
OUT_DIR="${OUT_DIR:-$(mktemp -d)}"
if [[ -z "${BIN:-}" ]]; then
  cargo build --release -p forecast-cli --bin forecast --features "$FEATURE"
  BIN="${CARGO_TARGET_DIR:-target}/release/forecast"
fi
THREADS=()
[[ -n "${CPU_THREADS:-}" ]] && THREADS=(--threads "$CPU_THREADS")

std=(--data datasets/msft_daily.csv --target close --features open,high,low,close,volume
  --horizon 1 --seed 1 --set "epochs=$EPOCHS" --set patience=1000 --set lookback=64
  --set batch_size=64 --json)
summary='import json,sys; f=json.load(sys.stdin)["fit"]; print(sys.argv[1], "on", f["device"], "epochs", f.get("epochs"), round(f["samples_per_second"]), "samples/s")'
for model in lstm transformer; do
  if [[ $model == lstm ]]; then
    extra=(--set num_layers=2 --set hidden_size=64)
  else
    extra=(--set num_layers=2 --set d_model=64 --set num_heads=4 --set ff_size=128)
  fi
  "$BIN" train --model "$model" "${std[@]}" "${extra[@]}" --device "$DEVICE" \
    --out "$OUT_DIR/$model" | python3 -c "$summary" "$model"
  "$BIN" predict --model "$OUT_DIR/$model" --horizon 1 --level 80,95
  # The same run on the CPU, for the ratio.
  "$BIN" train "${THREADS[@]}" --model "$model" "${std[@]}" "${extra[@]}" --device cpu \
    --out "$OUT_DIR/$model-cpu" | python3 -c "$summary" "$model"
  "$BIN" predict --model "$OUT_DIR/$model-cpu" --horizon 1 --level 80,95
done
echo "gpu-smoke: OK ($OUT_DIR)"
