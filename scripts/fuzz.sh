#!/usr/bin/env bash
# Runs every fuzz target for SECONDS seconds each (default 60), from the
# seed corpus in fuzz/corpus/<target>. cargo-fuzz needs nightly features;
# the stable toolchain allows them with RUSTC_BOOTSTRAP=1.
#   scripts/fuzz.sh            # every target, 60 s each
#   SECONDS_PER_TARGET=600 scripts/fuzz.sh okta_hook
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
seconds=${SECONDS_PER_TARGET:-60}
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(RUSTC_BOOTSTRAP=1 cargo fuzz list)
fi
for t in "${targets[@]}"; do
    echo "== $t: ${seconds}s"
    mkdir -p "corpus/$t" "artifacts/$t"
    # Work on a copy so the committed seed corpus stays small.
    work=$(mktemp -d)
    cp -r "corpus/$t/." "$work/"
    RUSTC_BOOTSTRAP=1 cargo fuzz run "$t" "$work" -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
        2>&1 | grep -E '^(stat::|Done )|ERROR|panicked|SUMMARY' || true
    rm -rf "$work"
    if compgen -G "artifacts/$t/*" >/dev/null; then
        echo "$t: crash artifacts in fuzz/artifacts/$t"; exit 1
    fi
done
