#!/usr/bin/env bash
# Tuner scheduling overhead, ours against Ray Tune and Optuna in one run, same trivial
# objective (one report, no work) and the same 3-key search space:
#   ours:     crates/tuner/examples/overhead.rs (release), 10,000 trials;
#   Optuna:   benches/peers/optuna_overhead.py, 10,000 trials random, 1,000 TPE;
#   Ray Tune: benches/peers/ray_tune_overhead.py, RAY_TRIALS (default 100) trials, 2 CPUs.
# Installs the peers into a venv under ~/.cache/forecast/tune-peers from PyPI, then prints
# per-trial overhead and the ratios. Run from anywhere:
#   benches/peers/tuner_vs_peers.sh
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
VENV="${TUNE_PEERS_VENV:-$HOME/.cache/forecast/tune-peers}"
RAY_TRIALS="${RAY_TRIALS:-100}"
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import optuna, ray.tune' 2>/dev/null; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet "ray[tune]==2.60.0" optuna==4.6.0
fi
OURS="$(cargo run --quiet --release -p tuner --no-default-features --example overhead)"
OPTUNA="$("$VENV/bin/python" benches/peers/optuna_overhead.py 10000)"
RAY="$("$VENV/bin/python" benches/peers/ray_tune_overhead.py "$RAY_TRIALS" 2>/dev/null)"
printf '%s\n\n%s\n\n%s\n\n' "$OURS" "$OPTUNA" "$RAY"
python3 - "$OURS" "$OPTUNA" "$RAY" <<'PY'
import re, sys
def us(text, label, unit):
    for line in text.splitlines():
        if line.strip().startswith(label):
            v = float(re.findall(r"([\d.]+)\s*" + unit, line)[0])
            return v * 1000 if unit == "ms/trial" else v
    raise SystemExit(f"no line '{label}' in:\n{text}")
ours, optuna, ray = sys.argv[1:4]
rows = [
    ("random/FIFO, in memory, 1 at a time", us(ours, "fifo, in memory, 1 at a time", "us/trial"),
     "Optuna random", us(optuna, "random, in memory", "us/trial")),
    ("FIFO, 2 at a time", us(ours, "fifo, in memory, 2 at a time", "us/trial"),
     "Ray Tune FIFO, 2 at a time", us(ray, "fifo, 2 at a time", "ms/trial")),
    ("ASHA, 2 at a time", us(ours, "asha, in memory, 2 at a time", "us/trial"),
     "Ray Tune ASHA, 2 at a time", us(ray, "asha, 2 at a time", "ms/trial")),
]
print(f"| {'ours':38} | {'us/trial':>9} | {'peer':28} | {'us/trial':>10} | {'ours faster':>11} |")
print(f"|{'-'*40}|{'-'*11}:|{'-'*30}|{'-'*12}:|{'-'*13}:|")
for a, x, b, y in rows:
    print(f"| {a:38} | {x:9.1f} | {b:28} | {y:10.1f} | {y / x:10.0f}x |")
PY
