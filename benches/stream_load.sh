#!/usr/bin/env bash
# WebSocket streams under load: `forecast serve` with an ARIMA(1,1,1) on the last 500
# MSFT closes, STREAMS concurrent streams (default 1,000) from a second process on
# 127.0.0.1, each sending one bar per second for SECONDS (default 30) and timing each
# bar-to-forecast round trip; the server's memory before and with the streams open and
# idle gives the memory per idle stream. Prints the load generator's JSON line.
#
#   benches/stream_load.sh
#   STREAMS=2000 SECONDS_=60 benches/stream_load.sh
#   FORECAST_BIN=… STREAM_LOAD_BIN=… benches/stream_load.sh   # binaries already built
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
if [ -z "${FORECAST_BIN:-}" ] || [ -z "${STREAM_LOAD_BIN:-}" ]; then
    cargo build --release -p forecast-cli --bin forecast -p forecast-benches --example stream_load
fi
BIN="${FORECAST_BIN:-$CARGO_TARGET_DIR/release/forecast}"
LOAD="${STREAM_LOAD_BIN:-$CARGO_TARGET_DIR/release/examples/stream_load}"
STREAMS="${STREAMS:-1000}"
DURATION="${SECONDS_:-30}"
# Two sockets per stream on this machine (client and server side), plus slack.
ulimit -n "$(( STREAMS * 2 + 1024 ))"
WORK="$(mktemp -d)"
PID=""
trap '[ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"' EXIT
head -1 datasets/msft_daily.csv >"$WORK/msft.csv"
tail -500 datasets/msft_daily.csv >>"$WORK/msft.csv"
"$BIN" train --data "$WORK/msft.csv" --target close --model arima --order 1,1,1 \
    --out "$WORK/msft" >/dev/null 2>&1
FORECAST_LOG=warn "$BIN" serve --model "$WORK/msft" --port 0 2>"$WORK/serve.log" &
PID=$!
ADDR=""
for _ in $(seq 1 600); do
    ADDR="$(sed -n 's#^listening on http://##p' "$WORK/serve.log" | head -1)"
    [ -n "$ADDR" ] && break
    sleep 0.1
done
[ -n "$ADDR" ] || { cat "$WORK/serve.log" >&2; exit 1; }
echo "machine: $(nproc) vCPU, $(uname -sm); commit $(git describe --always --dirty); $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "$STREAMS streams x 1 bar/s for ${DURATION} s, h=5, levels 80/95, ARIMA(1,1,1) on MSFT"
"$LOAD" "ws://$ADDR/v1/models/msft/stream" --streams "$STREAMS" --seconds "$DURATION" \
    --h 5 --server-pid "$PID"
