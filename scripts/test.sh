#!/usr/bin/env bash
# Run every check and test of liteshift. Installs what it needs when it can (clang for the
# wasm32 build of SQLite, the wasm32 target, rustfmt and clippy), and says exactly what is
# missing when it cannot.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }
apt_updated=
apt_install() {  # apt_install PACKAGE: as root with apt-get; returns 1 when it cannot
  [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null || return 1
  [ -n "$apt_updated" ] || { apt-get update -qq && apt_updated=1; }
  apt-get install -y -qq "$1" >/dev/null
}
missing() { echo "liteshift test: MISSING: $*" >&2; exit 2; }

step "toolchain"
command -v cargo >/dev/null || missing "cargo (install Rust with rustup: https://rustup.rs)"
if command -v rustup >/dev/null; then
  rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
  rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
  rustup target list --installed | grep -q '^wasm32-unknown-unknown$' || rustup target add wasm32-unknown-unknown
else
  echo "rustup not found: assuming rustfmt, clippy and the wasm32-unknown-unknown target are installed"
fi
if ! command -v clang >/dev/null; then
  apt_install clang || missing "clang (needed to build SQLite for wasm32): install it, e.g. 'sudo apt-get install clang'"
fi
if [ ! -x /usr/bin/chromium ]; then
  apt_install chromium || echo "no /usr/bin/chromium and cannot install it: the browser test will say SKIPPED (apt-get install chromium)"
fi
if ! command -v fiu-run >/dev/null; then
  apt_install fiu-utils || echo "no fiu-run and cannot install it: the libfiu test will say SKIPPED (apt-get install fiu-utils)"
fi
command -v node >/dev/null || missing "Node.js >= 20 and npm (for the wasm package's tests)"
cargo --version; rustc --version; clang --version | head -1; node --version

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

if ! command -v dqlite-demo >/dev/null; then
  apt_install go-dqlite || echo "no dqlite-demo and cannot install it: the dqlite cluster tests will say SKIPPED (apt-get install go-dqlite)"
fi

step "cargo test (unit, doc, fixture, corpus, CLI tests; the dqlite cluster tests, cli/tests/dqlite.rs)"
# insta: never write snapshots here; a changed plan is a failure to review.
INSTA_UPDATE=no cargo test --workspace

step "core without SQLite (feature rusqlite off): clippy, and wasm32 builds with and without it"
cargo clippy -p liteshift --no-default-features --all-targets -- -D warnings
cargo build -p liteshift --no-default-features --target wasm32-unknown-unknown
cargo build -p liteshift --target wasm32-unknown-unknown

step "wasm package: build (wasm/build.sh); Node tests against sql.js and sqlite-wasm; browser test"
./wasm/build.sh
(cd wasm && node --test test/)
echo "npm pack (dry run) of wasm/pkg:"
(cd wasm/pkg && npm pack --dry-run 2>&1 | grep -E 'name:|version:|package size|total files')

step "packages: cargo package of liteshift, liteshift-dqlite and liteshift-cli (built from the packaged sources), docs as docs.rs builds them"
# Cargo unpacks the packaged liteshift into its registry cache to verify liteshift-cli against
# it, and reuses an unpacked copy of the same version from an earlier run: remove those so the
# verification sees these sources.
rm -rf "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/liteshift-[0-9]* "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/liteshift-cli-[0-9]* "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/liteshift-dqlite-[0-9]*
cargo package -q -p liteshift -p liteshift-dqlite -p liteshift-cli --allow-dirty
RUSTDOCFLAGS="-D warnings" cargo doc -q -p liteshift --all-features --no-deps

step "Python package: abi3 wheel (maturin) and pytest in a fresh venv (python/test.sh)"
./python/test.sh

step "Kotlin/Swift bindings (UniFFI): generate both, run the Kotlin test on the JVM with sqlite-jdbc (bindings/kotlin/test.sh)"
./bindings/kotlin/test.sh

step "example"
./scripts/example.sh >/dev/null && echo "example ran"

echo
echo "all checks passed"
