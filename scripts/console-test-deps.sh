#!/usr/bin/env bash
# Installs what the console's browser test (crates/idsync/tests/console)
# needs: Debian's Chromium and Node.js from apt, and playwright-core from
# npm at the version pinned by package-lock.json. playwright-core never
# downloads a browser; the test drives /usr/bin/chromium. Idempotent and
# quiet: does nothing when everything is in place.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=crates/idsync/tests/console

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "error: ${missing[*]} missing; install with apt-get install ${missing[*]} (or run this script as root)" >&2
        exit 1
    fi
    echo "console test: installing ${missing[*]} from the distribution's packages"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Reinstall whenever the lock file changed since the last install.
stamp="$dir/node_modules/.installed-package-lock.json"
if ! cmp -s "$dir/package-lock.json" "$stamp" 2>/dev/null; then
    echo "console test: installing playwright-core (npm ci)"
    (cd "$dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    cp "$dir/package-lock.json" "$stamp"
fi
