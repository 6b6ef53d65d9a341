#!/usr/bin/env bash
# Installs the providers' official SDKs that the emulator SDK tests
# (crates/idsync-emulator/tests/sdks.rs) run, when missing or outdated:
# the npm packages pinned by tests/sdk/package-lock.json, and the PyPI
# packages pinned by tests/sdk/requirements.txt in a virtualenv at
# target/sdk-venv; into the same virtualenv, the SCIM compliance checker
# pinned by crates/idsync/tests/scim/requirements.txt. Idempotent and quiet
# when all is in place.
# Called by scripts/test.sh; the tests name it when something is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

dir=crates/idsync-emulator/tests/sdk
venv=target/sdk-venv

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "Node.js not found: installing Debian's nodejs and npm"
    apt_install nodejs npm
fi

stamp="$dir/node_modules/.installed-package-lock.json"
if ! cmp -s "$dir/package-lock.json" "$stamp" 2>/dev/null; then
    echo "Installing the SDK test npm packages ($dir)"
    npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error >/dev/null
    cp "$dir/package-lock.json" "$stamp"
fi

requirements=("$dir/requirements.txt" crates/idsync/tests/scim/requirements.txt)
stamp="$venv/.installed-requirements.txt"
if ! cat "${requirements[@]}" | cmp -s - "$stamp" 2>/dev/null; then
    # Debian ships venv (with its pip) separately from python3.
    if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' >/dev/null 2>&1; then
        echo "python3 venv support not found: installing Debian's python3-venv"
        apt_install python3-venv
    fi
    echo "Installing the SDK test and SCIM checker PyPI packages into $venv"
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
        "${requirements[@]/#/--requirement=}"
    cat "${requirements[@]}" > "$stamp"
fi
