#!/usr/bin/env bash
# How long a report takes to open and draw in headless Chromium, and how large it is:
# the model report of a 10,000-row daily series and the results report of a
# 1,000-series panel (the first 1,000 M3 monthly series, Theta, scored on their test
# rows). Time is from navigation to the page's "all charts drawn" mark, measured by
# web/browser/check-page.mjs (Debian's Chromium, playwright-core). Prints a Markdown table.
#
#   eval "$(scripts/browser-deps.sh)"; benches/report_render.sh      # REPEAT=5 by default
#   FORECAST_BIN=path/to/forecast benches/report_render.sh           # a binary already built
# Goals (the pictures issue): under 2 s to open and draw, under 10 MB.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
if [ -z "${FORECAST_BIN:-}" ]; then
    cargo build --release -p forecast-cli >&2
fi
BIN="${FORECAST_BIN:-$CARGO_TARGET_DIR/release/forecast}"
REPEAT="${REPEAT:-5}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

# A 10,000-row daily random walk (seeded, so every run draws the same series).
python3 - "$WORK/walk.csv" <<'PY'
import random, sys, datetime
random.seed(7)
d, y = datetime.date(1990, 1, 1), 100.0
with open(sys.argv[1], "w") as f:
    f.write("date,y\n")
    for _ in range(10_000):
        y += random.gauss(0.01, 1.0)
        f.write(f"{d.isoformat()},{y:.4f}\n")
        d += datetime.timedelta(days=1)
PY
"$BIN" train --data "$WORK/walk.csv" --model arima --set order=1,1,1 --out "$WORK/walk-model" >/dev/null 2>&1
"$BIN" report --model "$WORK/walk-model" --out "$WORK/series-10000.html" 2>/dev/null

# The first 1,000 series of M3 monthly, train and test.
python3 - datasets/m3_monthly_train.csv datasets/m3_monthly_test.csv "$WORK" <<'PY'
import csv, sys, os
ids = []
for src, name in ((sys.argv[1], "train.csv"), (sys.argv[2], "test.csv")):
    with open(src) as f, open(os.path.join(sys.argv[3], name), "w", newline="") as g:
        r, w = csv.reader(f), csv.writer(g)
        w.writerow(next(r))
        for row in r:
            if name == "train.csv" and row[0] not in ids and len(ids) < 1000:
                ids.append(row[0])
            if row[0] in set(ids[:1000]):
                w.writerow(row)
PY
"$BIN" backtest --data "$WORK/train.csv" --test "$WORK/test.csv" --model theta --horizon 18 --json \
    > "$WORK/panel.json" 2>/dev/null
"$BIN" report --results "$WORK/panel.json" --out "$WORK/panel-1000.html" 2>/dev/null

echo "machine: $(nproc) vCPU, $(uname -sm); $(/usr/bin/chromium --version 2>/dev/null); commit $(git describe --always --dirty 2>/dev/null || echo unknown); $(date -u '+%Y-%m-%d %H:%M UTC')"
echo
echo "| report | size MB | open and draw ms (median of $REPEAT; min-max) | charts |"
echo "|---|---:|---:|---:|"
for page in series-10000 panel-1000; do
    file="$WORK/$page.html"
    times=()
    charts=0
    for _ in $(seq "$REPEAT"); do
        out=$(node web/browser/check-page.mjs --url "file://$file")
        t=$(printf '%s' "$out" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert not d.get("error") and not d["page_errors"], d; print(d["render_ms"])')
        charts=$(printf '%s' "$out" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["charts"]))')
        times+=("$t")
    done
    sorted=($(printf '%s\n' "${times[@]}" | sort -n))
    median=${sorted[$((REPEAT / 2))]}
    size=$(python3 -c "import os; print(f'{os.path.getsize(\"$file\") / 1e6:.2f}')")
    echo "| $page | $size | $median (${sorted[0]}-${sorted[-1]}) | $charts |"
done
