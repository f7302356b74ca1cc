#!/usr/bin/env bash
# Real MLflow tracking servers for the tracking integration tests.
#
#   scripts/mlflow-test-server.sh install      # venvs for MLflow 3.x (with auth) and 2.x
#   eval "$(scripts/mlflow-test-server.sh up)"  # install if needed, start both servers,
#                                               # print `export FORECAST_MLFLOW_...=` lines
#   scripts/mlflow-test-server.sh down          # stop the servers started by `up`
#   scripts/mlflow-test-server.sh serve VENV DIR PORT [--auth]   # one server, foreground
#
# Variables the tests read:
#   FORECAST_MLFLOW_URI   a running MLflow 3.x server (no auth)
#   FORECAST_MLFLOW2_URI  a running MLflow 2.x server (no auth)
#   FORECAST_MLFLOW_BIN   the 3.x `mlflow` executable, for tests that start/stop their own
#                         server (server killed mid-run, basic-auth server)
# Venvs live under $FORECAST_MLFLOW_CACHE (default ~/.cache/forecast/mlflow) so several
# checkouts share one install; a fresh machine installs them (about 2-3 minutes).
set -euo pipefail

MLFLOW3_VERSION="${FORECAST_MLFLOW3_VERSION:-3.17.2}"
MLFLOW2_VERSION="${FORECAST_MLFLOW2_VERSION:-2.7.1}"
CACHE="${FORECAST_MLFLOW_CACHE:-$HOME/.cache/forecast/mlflow}"
VENV3="$CACHE/venv-$MLFLOW3_VERSION"
VENV2="$CACHE/venv-$MLFLOW2_VERSION"
STATE="${FORECAST_MLFLOW_STATE:-${TMPDIR:-/tmp}/forecast-mlflow-servers}"
PYTHON="${PYTHON:-python3}"

log() { echo "mlflow-test-server: $*" >&2; }

install_venv() { # DIR SPEC...
    local dir="$1"; shift
    if [ -x "$dir/bin/mlflow" ] && [ "$(cat "$dir/.complete" 2>/dev/null)" = "$*" ]; then return 0; fi
    log "installing $* into $dir"
    rm -rf "$dir"
    "$PYTHON" -m venv "$dir"
    "$dir/bin/pip" install --quiet --disable-pip-version-check "$@" >&2
    echo "$*" >"$dir/.complete"
}

install() {
    mkdir -p "$CACHE"
    install_venv "$VENV3" "mlflow[auth]==$MLFLOW3_VERSION"
    # 2.7 predates numpy 2, SQLAlchemy 2.1 and Werkzeug 3: pin what it was released with.
    install_venv "$VENV2" "mlflow==$MLFLOW2_VERSION" "numpy<2" "pandas<2.2" "pyarrow<14" \
        "setuptools<70" "sqlalchemy<2.1" "werkzeug<3"
}

free_port() {
    "$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# serve VENV DIR PORT [--auth]: run one server in the foreground (exec).
serve() {
    local venv="$1" dir="$2" port="$3" auth="${4:-}"
    mkdir -p "$dir/artifacts"
    cd "$dir"
    local extra=()
    if [ "$auth" = "--auth" ]; then extra=(--app-name basic-auth); fi
    local workers=(--workers 1)
    export MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false
    export PATH="$venv/bin:$PATH"
    exec "$venv/bin/mlflow" server --host 127.0.0.1 --port "$port" "${workers[@]}" \
        --backend-store-uri "sqlite:///$dir/mlflow.db" \
        --serve-artifacts --artifacts-destination "$dir/artifacts" "${extra[@]}"
}

wait_health() { # URI PID
    local uri="$1" pid="$2" i
    for i in $(seq 1 240); do
        if curl -fsS "$uri/health" >/dev/null 2>&1; then return 0; fi
        if ! kill -0 "$pid" 2>/dev/null; then log "server $uri died; see its log"; return 1; fi
        sleep 0.5
    done
    log "server $uri did not answer /health in 120 s"; return 1
}

start_bg() { # NAME VENV
    local name="$1" venv="$2" port dir pid
    port="$(free_port)"; dir="$STATE/$name"
    rm -rf "$dir"; mkdir -p "$dir"
    setsid "$0" serve "$venv" "$dir" "$port" >"$dir/server.log" 2>&1 &
    pid=$!
    echo "$pid" >"$dir/pid"
    echo "http://127.0.0.1:$port" >"$dir/uri"
}

up() {
    install
    mkdir -p "$STATE"
    start_bg v3 "$VENV3"
    start_bg v2 "$VENV2"
    wait_health "$(cat "$STATE/v3/uri")" "$(cat "$STATE/v3/pid")" || { tail -30 "$STATE/v3/server.log" >&2; exit 1; }
    wait_health "$(cat "$STATE/v2/uri")" "$(cat "$STATE/v2/pid")" || { tail -30 "$STATE/v2/server.log" >&2; exit 1; }
    echo "export FORECAST_MLFLOW_URI=$(cat "$STATE/v3/uri")"
    echo "export FORECAST_MLFLOW2_URI=$(cat "$STATE/v2/uri")"
    echo "export FORECAST_MLFLOW_BIN=$VENV3/bin/mlflow"
}

down() {
    local n pid
    for n in v3 v2; do
        [ -f "$STATE/$n/pid" ] || continue
        pid="$(cat "$STATE/$n/pid")"
        kill -TERM -- "-$pid" 2>/dev/null || true
        rm -f "$STATE/$n/pid"
    done
}

case "${1:-}" in
    install) install ;;
    up) up ;;
    down) down ;;
    serve) shift; serve "$@" ;;
    *) sed -n '2,20p' "$0" >&2; exit 2 ;;
esac
