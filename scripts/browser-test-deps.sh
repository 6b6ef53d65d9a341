#!/usr/bin/env bash
# Installs what the browser test of examples/quotes needs, when missing:
# Node.js and npm, Debian's Chromium (never a browser download), and the
# npm packages pinned in examples/quotes/e2e/package-lock.json. Called by
# scripts/test.sh, and by the test itself when something is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

E2E=examples/quotes/e2e
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}

apt_install() {
    if [ "$(id -u)" -ne 0 ]; then
        echo "error: $* missing; install it (sudo apt-get install $*) or run this script as root" >&2
        exit 1
    fi
    if [ -z "${APT_UPDATED:-}" ]; then
        apt-get update -qq
        APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "Node.js not found: installing Debian's nodejs and npm"
    apt_install nodejs npm
fi
node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
    echo "error: the browser test needs Node.js 20 or later (oidc-provider 9); found $(node --version)" >&2
    exit 1
fi

if [ ! -x "$CHROMIUM" ]; then
    echo "Chromium not found at $CHROMIUM: installing Debian's chromium"
    apt_install chromium
fi

if [ ! -d "$E2E/node_modules/oidc-provider" ] || [ ! -d "$E2E/node_modules/playwright-core" ] \
    || [ "$E2E/package-lock.json" -nt "$E2E/node_modules/.package-lock.json" ]; then
    echo "Installing the browser test's npm packages into $E2E/node_modules"
    npm ci --prefix "$E2E" --no-audit --no-fund --loglevel=error
fi
