#!/usr/bin/env bash
# The project's test command. On a fresh machine it first installs what the
# tests need (PostgreSQL from the distribution's packages), then runs the
# whole suite. Every test starts its own throwaway Postgres; nothing has to
# be running beforehand.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

have_postgres() {
    command -v initdb >/dev/null 2>&1 || compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null
}

if ! have_postgres; then
    echo "PostgreSQL not found: installing it from the distribution's packages"
    apt_install postgresql
fi

# The admin API test validates the OpenAPI document with an independent tool.
if ! python3 -c 'import openapi_spec_validator' >/dev/null 2>&1; then
    echo "installing openapi-spec-validator (PyPI)"
    python3 -m pip install --quiet --disable-pip-version-check openapi-spec-validator
fi

# Browser tests: Debian's Chromium and the pinned npm packages.
scripts/browser-test-deps.sh

# Emulator SDK tests: the providers' official SDKs, pinned (npm and PyPI).
scripts/sdk-test-deps.sh

# One closing line for the whole run: cargo prints a result per test binary
# (and doc tests), the last of which is often an empty one.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --workspace --locked --no-fail-fast 2>&1 | tee "$log" || status=$?
awk '/^test result:/ { p += $4; f += $6 } END { printf "%d passed, %d failed\n", p, f }' "$log"
exit "$status"
