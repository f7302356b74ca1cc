#!/usr/bin/env bash
# What experiment tracking costs (issue 6, "Speed"), against a local MLflow server:
#   1. crates/tuner/examples/tracking_bench.rs: log_metrics per epoch (spool only and with
#      the shipper live), log-batch throughput (points/s), a 500-trial tuning experiment
#      with and without its runs recorded;
#   2. `forecast train` of an LSTM, REPS times without and REPS times with
#      --tracking-uri (alternating), wall-clock medians and the difference.
# Run from anywhere:  benches/peers/tracking_overhead.sh
# Settings: PROFILE=release|debug (the forecast binary timed; default release),
#           REPS (default 5), EPOCHS (default 5). Uses the server at FORECAST_MLFLOW_URI
#           when one answers there, else starts its own (scripts/mlflow-test-server.sh).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/forecast-target}"
PROFILE="${PROFILE:-release}"
REPS="${REPS:-5}"
EPOCHS="${EPOCHS:-5}"
TMP="$(mktemp -d)"
if [ -n "${FORECAST_MLFLOW_URI:-}" ] && curl -fsS "$FORECAST_MLFLOW_URI/health" >/dev/null 2>&1; then
  trap 'rm -rf "$TMP"' EXIT   # a server already running (eval "$(scripts/mlflow-test-server.sh up)")
else
  export FORECAST_MLFLOW_STATE="$TMP/servers"
  eval "$(scripts/mlflow-test-server.sh up)"
  trap 'scripts/mlflow-test-server.sh down; rm -rf "$TMP"' EXIT
fi
URI="$FORECAST_MLFLOW_URI"
echo "MLflow server: $URI ($(curl -fsS "$URI/version" 2>/dev/null || echo "version unknown"))"

if [ "${SKIP_EXAMPLE:-0}" != 1 ]; then
  echo "== 1. tracking_bench (release)"
  cargo run --quiet --release -p tuner --no-default-features --example tracking_bench -- "$URI"
fi

echo "== 2. forecast train --model lstm, with and without --tracking-uri ($PROFILE build)"
if [ -n "${BIN:-}" ]; then
  : # a forecast binary given
elif [ "$PROFILE" = release ]; then
  cargo build --quiet --release -p forecast-cli --bin forecast
  BIN="$CARGO_TARGET_DIR/release/forecast"
else
  cargo build --quiet -p forecast-cli --bin forecast
  BIN="$CARGO_TARGET_DIR/debug/forecast"
fi
export FORECAST_RUNS_DIR="$TMP/runs"
unset MLFLOW_TRACKING_URI MLFLOW_EXPERIMENT_NAME
ARGS=(train --model lstm --data datasets/msft_daily.csv --target close --horizon 5
      --valid-fraction 0.1 --seed 1 --set epochs="$EPOCHS" --set patience=0
      --set hidden_size=32 --set lookback=32 --json)
run_once() { # LABEL [extra args]: prints "wall_seconds epoch_loop_seconds"
  local s e fit
  s=$(date +%s.%N)
  "$BIN" "${ARGS[@]}" --out "$TMP/model-$1" "${@:2}" >"$TMP/out-$1" 2>"$TMP/err-$1"
  e=$(date +%s.%N)
  fit=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["fit"]["seconds"])' "$TMP/out-$1")
  python3 -c "print(f'{$e - $s:.3f} {$fit:.3f}')"
}
plain=(); tracked=()
for i in $(seq 1 "$REPS"); do
  plain+=("$(run_once plain)")
  tracked+=("$(run_once tracked --tracking-uri "$URI" --experiment "overhead-$$")")
done
python3 - "$(printf '%s\n' "${plain[@]}")" "$(printf '%s\n' "${tracked[@]}")" "$EPOCHS" <<'PY'
import statistics, sys
def rows(text):
    return [tuple(float(x) for x in line.split()) for line in text.strip().splitlines()]
p, t = rows(sys.argv[1]), rows(sys.argv[2])
for i, label in ((0, "command wall clock"), (1, "epoch loop (fit.seconds)")):
    a = [r[i] for r in p]; b = [r[i] for r in t]
    ma, mb = statistics.median(a), statistics.median(b)
    print(f"{label}: untracked {a} median {ma:.3f} s; tracked {b} median {mb:.3f} s; "
          f"difference {mb - ma:+.3f} s ({(mb - ma) / ma * 100:+.2f}%), {sys.argv[3]} epochs")
PY
grep -h "logged to\|warning" "$TMP"/err-tracked || true

KEYS="${KEYS:-4}"; STEPS="${STEPS:-25000}"
echo "== 3. forecast runs sync of one run of $((KEYS * STEPS)) metric points (log-batch, 1000 per request)"

SPOOL="$TMP/sync-spool"
RID="$(python3 - "$SPOOL" "$KEYS" "$STEPS" <<'PY'
import json, math, os, sys, time
root, keys, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rid = time.strftime("%Y%m%d-%H%M%S-") + os.urandom(4).hex()
d = os.path.join(root, rid); os.makedirs(os.path.join(d, "artifacts"))
now = int(time.time() * 1000)
json.dump({"format": 1, "id": rid, "name": "throughput", "experiment": f"sync-bench-{os.getpid()}",
           "parent": None, "tracking_uri": None, "status": "FINISHED", "start_time": now,
           "end_time": now, "params": {}, "tags": {}, "artifacts": [], "register_model": None,
           "revision": 0}, open(os.path.join(d, "run.json"), "w"))
with open(os.path.join(d, "metrics.jsonl"), "w") as f:
    for s in range(steps):
        for k in range(keys):
            f.write(json.dumps({"key": f"m{k}", "value": math.sin(s) + k, "timestamp": now + s, "step": s}) + "\n")
print(rid)
PY
)"
s=$(date +%s.%N)
FORECAST_RUNS_DIR="$SPOOL" "$BIN" runs sync --tracking-uri "$URI" --run "$RID" 2>"$TMP/sync-err"
e=$(date +%s.%N)
cat "$TMP/sync-err"
python3 -c "n=$KEYS*$STEPS; t=$e-$s; print(f'runs sync: {n} points in {t:.2f} s = {n/t:.0f} points/s')"
