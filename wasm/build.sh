#!/usr/bin/env bash
# Build the npm package `liteshift` into wasm/pkg/: the .wasm (size-optimised), the
# wasm-bindgen glue, liteshift's JS API and its TypeScript types. Installs what it needs when
# missing: the wasm32 target, clang (apt-get, as root), the exact wasm-bindgen-cli version of
# Cargo.lock, and the npm dev dependencies (binaryen's wasm-opt among them).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
missing() { echo "wasm/build.sh: MISSING: $*" >&2; exit 2; }

rustup target list --installed | grep -q '^wasm32-unknown-unknown$' || rustup target add wasm32-unknown-unknown
if ! command -v clang >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && apt-get install -y -qq clang >/dev/null
  else
    missing "clang (to compile SQLite for wasm32), e.g. 'sudo apt-get install clang'"
  fi
fi
want=$(grep -A1 '^name = "wasm-bindgen"$' Cargo.lock | sed -n 's/^version = "\(.*\)"/\1/p')
have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if [ "$have" != "$want" ]; then
  echo "installing wasm-bindgen-cli $want (found: ${have:-none})"
  cargo install wasm-bindgen-cli --version "$want"
fi
# wasm-opt: binaryen from npm (version 132; Debian's 108 predates externref, which
# wasm-bindgen now needs, and produces a module that fails to load). Also installs the test
# dependencies (sql.js, @sqlite.org/sqlite-wasm, playwright-core).
command -v node >/dev/null || missing "Node.js >= 20 and npm"
(cd wasm && npm install --no-audit --no-fund --loglevel=error)
wasm_opt=wasm/node_modules/.bin/wasm-opt

# SQLite extensions a migration never uses (sqlite-wasm-rs compiles them in by default).
# FTS5, R*Tree, JSON and the math functions stay: declared schemas may use them.
export SQLITE_WASM_RS_FLAGS="-USQLITE_ENABLE_SESSION -USQLITE_ENABLE_PREUPDATE_HOOK -USQLITE_ENABLE_DBSTAT_VTAB -USQLITE_ENABLE_DBPAGE_VTAB -USQLITE_ENABLE_BYTECODE_VTAB -USQLITE_ENABLE_STMTVTAB -USQLITE_ENABLE_UNLOCK_NOTIFY -USQLITE_ENABLE_COLUMN_METADATA"
cargo build -p liteshift-wasm --target wasm32-unknown-unknown --profile wasm-release
out=wasm/pkg
rm -rf "$out" && mkdir -p "$out"
wasm-bindgen --target web --out-dir "$out" --out-name liteshift_wasm \
  target/wasm32-unknown-unknown/wasm-release/liteshift_wasm.wasm
wasm="$out/liteshift_wasm_bg.wasm"
before=$(stat -c %s "$wasm")
"$wasm_opt" -Oz --strip-debug --strip-producers \
  --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext --enable-mutable-globals \
  --enable-reference-types --enable-multivalue \
  "$wasm" -o "$wasm.opt"
mv "$wasm.opt" "$wasm"
cp wasm/js/*.js wasm/js/*.d.ts "$out"/
cp wasm/README.md "$out"/README.md
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
cat > "$out/package.json" <<JSON
{
  "name": "liteshift",
  "version": "$version",
  "description": "Declarative schema migrations for the SQLite in your page: sql.js, the official sqlite-wasm build, or bytes.",
  "license": "MIT OR Apache-2.0",
  "type": "module",
  "main": "./index.node.js",
  "types": "./index.d.ts",
  "exports": {
    ".": {
      "types": "./index.d.ts",
      "node": "./index.node.js",
      "default": "./index.web.js"
    }
  },
  "files": ["index.node.js", "index.web.js", "api.js", "index.d.ts", "liteshift_wasm.js", "liteshift_wasm_bg.wasm", "README.md"],
  "sideEffects": false
}
JSON
after=$(stat -c %s "$wasm")
gz=$(gzip -9 -c "$wasm" | wc -c)
echo "wasm: $before bytes from cargo+wasm-bindgen, $after after wasm-opt, $gz gzipped (-9)"
