#!/usr/bin/env bash
# What the browser tests need: Debian's Chromium (apt; never a downloaded browser),
# Node.js, and playwright-core pinned in web/package-lock.json (npm ci, no install
# scripts). Prints the export lines for `eval`:
#
#   eval "$(scripts/browser-deps.sh)"   # CHROMIUM=/usr/bin/chromium FORECAST_REQUIRE_BROWSER=1
set -euo pipefail
cd "$(dirname "$0")/.."
apt_install() {
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo -n"; fi
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get install -y --no-install-recommends "$@" >&2 \
        || { $SUDO apt-get update >&2 && $SUDO apt-get install -y --no-install-recommends "$@" >&2; }
}
command -v node >/dev/null && command -v npm >/dev/null || apt_install nodejs npm
[ -x /usr/bin/chromium ] || apt_install chromium fonts-dejavu-core
# A lock-file install: the versions and integrity hashes of web/package-lock.json.
if [ "$(cat web/node_modules/.lock-sha 2>/dev/null)" != "$(sha256sum web/package-lock.json | cut -c1-64)" ]; then
    (cd web && npm ci --ignore-scripts --no-audit --no-fund >&2)
    sha256sum web/package-lock.json | cut -c1-64 > web/node_modules/.lock-sha
fi
echo "/usr/bin/chromium: $(/usr/bin/chromium --version 2>/dev/null)" >&2
echo "export CHROMIUM=/usr/bin/chromium"
echo "export FORECAST_REQUIRE_BROWSER=1"
