#!/usr/bin/env bash
# A Python venv with a peer's pinned packages, for the tests and benchmarks that run
# the peer beside us. Prints the export line of its interpreter for `eval`:
#
#   eval "$(scripts/peer-venv.sh backtesting)"   # FORECAST_BACKTESTING_PYTHON=…
#
# The venv is built once per requirements file's content, under
# ~/.cache/forecast/peers/NAME-<hash> (FORECAST_PEER_CACHE overrides the folder).
set -euo pipefail
cd "$(dirname "$0")/.."
NAME="${1:?usage: scripts/peer-venv.sh NAME (benches/peers/requirements-NAME.txt)}"
REQ="benches/peers/requirements-$NAME.txt"
[ -f "$REQ" ] || { echo "peer-venv: no $REQ" >&2; exit 2; }
HASH="$(sha256sum "$REQ" | cut -c1-12)"
VENV="${FORECAST_PEER_CACHE:-$HOME/.cache/forecast/peers}/$NAME-$HASH"
if [ "$(cat "$VENV/.complete" 2>/dev/null)" != "$HASH" ]; then
    echo "peer-venv: installing $REQ into $VENV" >&2
    rm -rf "$VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$REQ" >&2
    echo "$HASH" >"$VENV/.complete"
fi
VAR="FORECAST_$(echo "$NAME" | tr '[:lower:]-' '[:upper:]_')_PYTHON"
echo "export $VAR=$VENV/bin/python"
