#!/usr/bin/env bash
# Property-based fuzzing of `forecast serve` against its own OpenAPI document, with
# schemathesis (PyPI, pinned): every generated request, valid or malformed, must get an
# answer that is not a 5xx (the `not_a_server_error` check).
#
#   scripts/fuzz-serve.sh                  # uses $CARGO_TARGET_DIR/debug/forecast (built if missing)
#   FORECAST_BIN=path/to/forecast scripts/fuzz-serve.sh
#   FUZZ_MAX_EXAMPLES=200 scripts/fuzz-serve.sh   # more cases per operation (default 60)
#
# The server serves a folder with a one-series model (`msft`, naive) and a panel model
# (`stocks`, seasonal naive); the path parameter `name` is left to the fuzzer, so unknown
# models (404) are exercised too. The venv lives under ~/.cache/forecast/schemathesis.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION="${FORECAST_SCHEMATHESIS_VERSION:-4.32.5}"
VENV="${FORECAST_SCHEMATHESIS_CACHE:-$HOME/.cache/forecast/schemathesis}/venv-$VERSION"
if [ "$(cat "$VENV/.complete" 2>/dev/null)" != "$VERSION" ]; then
    echo "fuzz-serve: installing schemathesis $VERSION into $VENV" >&2
    rm -rf "$VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$VERSION" >&2
    echo "$VERSION" >"$VENV/.complete"
fi
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
BIN="${FORECAST_BIN:-$CARGO_TARGET_DIR/debug/forecast}"
if [ -z "${FORECAST_BIN:-}" ]; then
    cargo build --quiet -p forecast-cli
fi
WORK="$(mktemp -d)"
SERVER_PID=""
cleanup() {
    if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT
mkdir "$WORK/models"
"$BIN" train --data datasets/msft_daily.csv --target close --model naive --out "$WORK/models/msft" >/dev/null
"$BIN" train --data datasets/techstocks_daily.csv --id-column ticker --target close \
    --model seasonal-naive --out "$WORK/models/stocks" >/dev/null
FORECAST_LOG=warn "$BIN" serve --model "$WORK/models" --port 0 --max-horizon 500 \
    2>"$WORK/serve.log" &
SERVER_PID=$!
URL=""
for _ in $(seq 1 600); do
    URL="$(sed -n 's/^listening on //p' "$WORK/serve.log" | head -1)"
    [ -n "$URL" ] && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/serve.log" >&2; exit 1; }
    sleep 0.1
done
[ -n "$URL" ] || { echo "fuzz-serve: the server did not start" >&2; cat "$WORK/serve.log" >&2; exit 1; }
echo "fuzz-serve: fuzzing $URL with schemathesis $VERSION" >&2
# Each operation runs twice: with the model names left to the fuzzer (unknown models,
# odd paths), then with `name` / `model` fixed to a served model so that the bodies reach
# the forecasting code: the panel, then the one-series model.
status=0
for model in "" stocks msft; do
    CONFIG=()
    if [ -n "$model" ]; then
        printf '[parameters]\n"path.name" = "%s"\n"query.model" = "%s"\n' "$model" "$model" >"$WORK/st-$model.toml"
        CONFIG=(--config-file "$WORK/st-$model.toml")
    fi
    echo "fuzz-serve: model name ${model:-left to the fuzzer}" >&2
    # A crash inside the fuzzer itself (a Python-side "Runtime Error", no failed check)
    # says nothing about the server: run that pass once more before giving up.
    for attempt in 1 2; do
        rc=0
        # From the scratch folder: schemathesis keeps a cache in its working directory.
        (cd "$WORK" && NO_COLOR=1 "$VENV/bin/schemathesis" "${CONFIG[@]}" run "$URL/openapi.json" \
            --checks not_a_server_error \
            --phases examples,coverage,fuzzing \
            --max-examples "${FUZZ_MAX_EXAMPLES:-60}" \
            --seed 20261201 \
            --request-timeout 30 \
            --workers 1) >"$WORK/st.out" 2>&1 || rc=$?
        cat "$WORK/st.out"
        if [ "$rc" -ne 0 ] && [ "$attempt" = 1 ] && grep -q "Runtime Error" "$WORK/st.out" \
            && ! grep -q "Server error" "$WORK/st.out"; then
            echo "fuzz-serve: the fuzzer crashed (not a server failure); running the pass again" >&2
            continue
        fi
        break
    done
    [ "$rc" -eq 0 ] || status=$rc
done
if grep -q "panicked" "$WORK/serve.log"; then
    echo "fuzz-serve: the server panicked:" >&2
    grep -A5 panicked "$WORK/serve.log" >&2
    status=1
fi
kill -0 "$SERVER_PID" 2>/dev/null || { echo "fuzz-serve: the server died" >&2; status=1; }
exit "$status"
