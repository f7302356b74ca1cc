#!/usr/bin/env bash
# Vendors the pinned chart library into crates/report/vendor (embedded into the binary at
# build time; reports and the dashboard fetch nothing at view time).
#
#   scripts/vendor-js.sh          copy from web/node_modules (npm ci) into the vendor folder
#   scripts/vendor-js.sh --check  fail unless the vendored files equal the pinned package's
#
# The version is pinned in web/package.json and web/package-lock.json (with its integrity
# hash); the vendored copy keeps the package's LICENSE and NOTICE beside the script.
set -euo pipefail
cd "$(dirname "$0")/.."
src=web/node_modules/echarts
if [ "${1:-}" != "--check" ] || [ ! -f "$src/package.json" ]; then
    (cd web && npm ci --ignore-scripts --no-audit --no-fund >/dev/null)
fi
dst=crates/report/vendor/echarts
files=(dist/echarts.min.js LICENSE NOTICE licenses/LICENSE-d3)
version=$(node -p "require('./$src/package.json').version")
if [ "${1:-}" = "--check" ]; then
    for f in "${files[@]}"; do
        if ! cmp -s "$src/$f" "$dst/$(basename "$f")"; then
            echo "vendored $(basename "$f") differs from echarts $version in web/package-lock.json; run scripts/vendor-js.sh" >&2
            exit 1
        fi
    done
    grep -q "^echarts $version\$" "$dst/VERSION" || { echo "$dst/VERSION does not say echarts $version" >&2; exit 1; }
    echo "vendored echarts $version matches the pinned package"
    exit 0
fi
mkdir -p "$dst"
for f in "${files[@]}"; do cp "$src/$f" "$dst/$(basename "$f")"; done
echo "echarts $version" > "$dst/VERSION"
echo "vendored echarts $version into $dst"
