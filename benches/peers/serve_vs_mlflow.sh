#!/usr/bin/env bash
# HTTP serving beside MLflow's: the same kind of model served by `mlflow models serve`
# (MLflow 3.17.2, a pyfunc wrapping statsforecast 2.0.3) and by `forecast serve`, both
# loaded by wrk (Debian) from a second process on 127.0.0.1 with the same request, one
# server at a time. Prints requests/s and p50/p99 latency side by side, and the ratios.
#
#   benches/peers/serve_vs_mlflow.sh
#   DURATION=30 CONNECTIONS=16 benches/peers/serve_vs_mlflow.sh
#   FORECAST_BIN=path/to/release/forecast benches/peers/serve_vs_mlflow.sh
#
# Models: ARIMA(1,1,1) on the last 500 MSFT closes; seasonal naive (5-day season) on the
# tech-stocks panel (3 tickers, all forecast per request). Request: MLflow's scoring
# protocol, `{"dataframe_records": [{"h": 5, "level": "80;95"}]}` to /invocations.
# MLflow serves with 2 workers (uvicorn), ours with its default runtime, 2 cores.
# Installs mlflow and statsforecast (pinned) into a venv under ~/.cache/forecast/.
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV="${FORECAST_SERVE_PEER_VENV:-$HOME/.cache/forecast/serve-peer}"
if ! "$VENV/bin/python" -c "import mlflow, statsforecast, pandas" 2>/dev/null; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check \
        "mlflow==3.17.2" "statsforecast==2.0.3" pandas psutil
fi
command -v wrk >/dev/null || { echo "needs wrk: apt-get install wrk" >&2; exit 1; }
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
if [ -z "${FORECAST_BIN:-}" ]; then
    cargo build --release -p forecast-cli --bin forecast
fi
BIN="${FORECAST_BIN:-$CARGO_TARGET_DIR/release/forecast}"
DURATION="${DURATION:-15}"
CONNECTIONS="${CONNECTIONS:-8}"
WORK="$(mktemp -d)"
PID=""
stop() {
    if [ -n "$PID" ]; then
        kill "$PID" 2>/dev/null || true
        wait "$PID" 2>/dev/null || true
        PID=""
    fi
}
trap 'stop; rm -rf "$WORK"' EXIT

head -1 datasets/msft_daily.csv >"$WORK/msft.csv"
tail -500 datasets/msft_daily.csv >>"$WORK/msft.csv"
"$BIN" train --data "$WORK/msft.csv" --target close --model arima --order 1,1,1 \
    --out "$WORK/ours/msft" >/dev/null 2>&1
"$BIN" train --data datasets/techstocks_daily.csv --id-column ticker --target close \
    --model seasonal-naive --season-length 5 --out "$WORK/ours/stocks" >/dev/null 2>&1
"$VENV/bin/python" benches/peers/serve_mlflow_model.py --msft "$WORK/msft.csv" \
    --panel datasets/techstocks_daily.csv --out "$WORK/mlflow" >"$WORK/mlflow-save.log" 2>&1

BODY='{"dataframe_records": [{"h": 5, "level": "80;95"}]}'
cat >"$WORK/post.lua" <<LUA
wrk.method = "POST"
wrk.body = '$BODY'
wrk.headers["Content-Type"] = "application/json"
LUA

wait_ping() { # PORT
    for _ in $(seq 1 1200); do
        curl -fsS "http://127.0.0.1:$1/ping" >/dev/null 2>&1 && return 0
        kill -0 "$PID" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

# load NAME PORT: one wrk run; prints "req/s p50_ms p99_ms non2xx"
load() {
    curl -fsS -H 'content-type: application/json' -d "$BODY" \
        "http://127.0.0.1:$2/invocations" >"$WORK/$1.answer"
    wrk -t2 -c"$CONNECTIONS" -d3s -s "$WORK/post.lua" "http://127.0.0.1:$2/invocations" >/dev/null
    wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$WORK/post.lua" \
        "http://127.0.0.1:$2/invocations" >"$WORK/$1.wrk"
    python3 - "$WORK/$1.wrk" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
def ms(s):
    m = re.match(r"([\d.]+)(us|ms|s|m)$", s)
    if m is None:
        sys.exit(f"cannot read the latency {s!r} in:\n{t}")
    v, u = m.groups()
    return float(v) * {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}[u]
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
p50 = ms(re.search(r"50%\s+(\S+)", t).group(1))
p99 = ms(re.search(r"99%\s+(\S+)", t).group(1))
bad = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
print(f"{rps:.1f} {p50:.3f} {p99:.3f} {bad.group(1) if bad else 0}")
PY
}

echo "machine: $(nproc) vCPU, $(uname -sm); commit $(git describe --always --dirty); $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "wrk -t2 -c$CONNECTIONS -d${DURATION}s (after a 3 s warm-up), POST /invocations $BODY"
echo
declare -A R
for case in msft stocks; do
    FORECAST_LOG=warn "$BIN" serve --model "$WORK/ours/$case" --port 18080 2>"$WORK/ours-$case.log" &
    PID=$!
    wait_ping 18080 || { cat "$WORK/ours-$case.log" >&2; exit 1; }
    R[ours-$case]="$(load "ours-$case" 18080)"
    stop
    PATH="$VENV/bin:$PATH" "$VENV/bin/mlflow" models serve -m "$WORK/mlflow/$case" --host 127.0.0.1 -p 18081 \
        --env-manager local -w 2 >"$WORK/mlflow-$case.log" 2>&1 &
    PID=$!
    wait_ping 18081 || { tail -30 "$WORK/mlflow-$case.log" >&2; exit 1; }
    R[mlflow-$case]="$(load "mlflow-$case" 18081)"
    stop
    echo "$case, first answer row: ours $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["predictions"][0])' "$WORK/ours-$case.answer")"
    echo "$case, first answer row: mlflow $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["predictions"][0])' "$WORK/mlflow-$case.answer")"
done
echo
echo "| model | server | requests/s | p50 ms | p99 ms | non-2xx | requests/s ratio | p99 ratio (MLflow / ours) |"
echo "|---|---|---:|---:|---:|---:|---:|---:|"
for case in msft stocks; do
    read -r o_rps o_p50 o_p99 o_bad <<<"${R[ours-$case]}"
    read -r m_rps m_p50 m_p99 m_bad <<<"${R[mlflow-$case]}"
    label="ARIMA(1,1,1), MSFT"
    [ "$case" = stocks ] && label="seasonal naive, 3-ticker panel"
    ratio="$(python3 -c "print(f'{$o_rps/$m_rps:.1f}×')")"
    p99r="$(python3 -c "print(f'{$m_p99/$o_p99:.1f}×')")"
    echo "| $label | forecast serve | $o_rps | $o_p50 | $o_p99 | $o_bad | $ratio | $p99r |"
    echo "| $label | mlflow models serve | $m_rps | $m_p50 | $m_p99 | $m_bad | 1 | 1 |"
done
