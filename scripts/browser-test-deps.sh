#!/usr/bin/env bash
# Installs what the browser tests need, when missing: Node.js and npm,
# Debian's Chromium (never a browser download), and the npm packages pinned
# by the package-lock.json of each browser test (the quotes example's
# sign-in flow, the console). Idempotent and quiet when all is in place.
# Called by scripts/test.sh; the tests name it when something is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

CHROMIUM=${CHROMIUM:-/usr/bin/chromium}

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "Node.js not found: installing Debian's nodejs and npm"
    apt_install nodejs npm
fi
node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
    echo "error: the browser tests need Node.js 20 or later (oidc-provider 9); found $(node --version)" >&2
    exit 1
fi

if [ ! -x "$CHROMIUM" ]; then
    echo "Chromium not found at $CHROMIUM: installing Debian's chromium"
    apt_install chromium
fi

for dir in examples/quotes/e2e crates/idsync/tests/console; do
    stamp="$dir/node_modules/.installed-package-lock.json"
    if ! cmp -s "$dir/package-lock.json" "$stamp" 2>/dev/null; then
        echo "Installing the npm packages of $dir"
        PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error >/dev/null
        cp "$dir/package-lock.json" "$stamp"
    fi
done
