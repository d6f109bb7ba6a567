#!/usr/bin/env bash
# Run a fuzz target for SECONDS (default 1800), seeded from fuzz/seeds/<target> and, when
# present, ../shared/corpus (every schema version, for declared_schema).
#   fuzz/run.sh declared_schema 1800
set -euo pipefail
cd "$(dirname "$0")"
target=${1:?target: declared_schema, plan_pairs or database_image}
secs=${2:-1800}
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz
rustup toolchain list | grep -q nightly || rustup toolchain install nightly
corpus=corpus/$target
mkdir -p "$corpus"
cp -n seeds/"$target"/* "$corpus"/ 2>/dev/null || true
if [ "$target" = declared_schema ] && [ -d ../../shared/corpus ]; then
  for f in ../../shared/corpus/*/v*.sql; do
    p=$(basename "$(dirname "$f")"); cp -n "$f" "$corpus/$p-$(basename "$f")"
  done
fi
# glibc's thread-local destructor list is not a leak of ours (see lsan.supp).
export LSAN_OPTIONS="suppressions=$PWD/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
cargo +nightly fuzz run "$target" "$corpus" -- -max_total_time="$secs" -print_final_stats=1
