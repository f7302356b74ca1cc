#!/usr/bin/env bash
# Shared-study overhead, ours against Optuna's RDBStorage on the same PostgreSQL: see
# tuner_pg_vs_optuna.py. Installs Optuna and psycopg2 (pinned) into a virtual environment
# under ~/.cache/forecast/ (reused), builds the tuner's pg_overhead example, and runs
# both with 1, 2, 4 and 8 workers.
#   benches/peers/tuner_pg_vs_optuna.sh [TRIALS] [ADMIN_URL]
# ADMIN_URL: a database on the server to create the benchmark's databases from
# (default postgresql://postgres@127.0.0.1:5432/test).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
TRIALS="${1:-1000}"
ADMIN="${2:-postgresql://postgres@127.0.0.1:5432/test}"
VENV="${OPTUNA_RDB_VENV:-$HOME/.cache/forecast/optuna-rdb}"
if ! "$VENV/bin/python" -c 'import optuna, psycopg2' 2>/dev/null; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet -r benches/peers/requirements-optuna-rdb.txt
fi
cargo build --release -p tuner --example pg_overhead
BIN="${CARGO_TARGET_DIR:-target}/release/examples/pg_overhead"
echo "forecast $(git describe --always --dirty --tags), optuna $("$VENV/bin/python" -c 'import optuna; print(optuna.__version__)'), PostgreSQL $(psql "$ADMIN" -Atc 'SHOW server_version'), $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores"
"$VENV/bin/python" benches/peers/tuner_pg_vs_optuna.py --bin "$BIN" --admin "$ADMIN" --trials "$TRIALS"
