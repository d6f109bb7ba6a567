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
# clang compiles SQLite for wasm32. Debian's clang-19 makes smaller code than its default
# clang 14 (-2.5 KB gzipped); any clang works.
if ! command -v clang-19 >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  apt-get update -qq && { apt-get install -y -qq clang-19 >/dev/null || apt-get install -y -qq clang >/dev/null; }
fi
if command -v clang-19 >/dev/null; then
  export CC_wasm32_unknown_unknown=clang-19
elif ! command -v clang >/dev/null; then
  missing "clang (to compile SQLite for wasm32), e.g. 'sudo apt-get install clang-19' or 'clang'"
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

# SQLite inside the package only models schemas (the host runs `migrate`'s SQL) and runs
# `migrateBytes`. Left out, each measured in wasm/README.md ("Size"):
# - extensions a migration never uses (session, preupdate hook, dbstat/dbpage/bytecode/stmt
#   vtabs, unlock-notify, column metadata, sqlite_offset());
# - FTS5 and R*Tree: a host's virtual tables are modelled with stand-ins (core's `hostmod`),
#   so `plan`/`migrate` work with every module the host has (FTS3/4/5, R*Tree, ...);
#   `migrateBytes` refuses a database that uses a module this SQLite lacks;
# - API features liteshift does not call (UTF-16, authorizer, progress callback,
#   sqlite3_complete/get_table, decltype, memory statistics, API armour) and a few optimiser
#   special cases that cost code, not correctness (LIKE/OR/BETWEEN optimisations, quick balance,
#   the INSERT ... SELECT * transfer optimisation, which a rebuild's column-listed copy never
#   uses), tracing and incremental blob I/O (rusqlite's `trace`/`blob` features are off).
# JSON and the math functions stay: declared CHECKs, defaults and indexes may use them.
export SQLITE_WASM_RS_FLAGS="-USQLITE_ENABLE_SESSION -USQLITE_ENABLE_PREUPDATE_HOOK -USQLITE_ENABLE_DBSTAT_VTAB -USQLITE_ENABLE_DBPAGE_VTAB -USQLITE_ENABLE_BYTECODE_VTAB -USQLITE_ENABLE_STMTVTAB -USQLITE_ENABLE_UNLOCK_NOTIFY -USQLITE_ENABLE_COLUMN_METADATA -USQLITE_ENABLE_OFFSET_SQL_FUNC \
  -USQLITE_ENABLE_FTS5 -USQLITE_ENABLE_RTREE \
  -USQLITE_ENABLE_API_ARMOR -DSQLITE_OMIT_UTF16 -DSQLITE_OMIT_COMPLETE -DSQLITE_OMIT_GET_TABLE -DSQLITE_OMIT_PROGRESS_CALLBACK -DSQLITE_OMIT_DECLTYPE -DSQLITE_OMIT_AUTHORIZATION -DSQLITE_DEFAULT_MEMSTATUS=0 -DSQLITE_OMIT_TCL_VARIABLE -DSQLITE_UNTESTABLE -DSQLITE_MAX_EXPR_DEPTH=0 \
  -DSQLITE_OMIT_LIKE_OPTIMIZATION -DSQLITE_OMIT_OR_OPTIMIZATION -DSQLITE_OMIT_BETWEEN_OPTIMIZATION -DSQLITE_OMIT_QUICKBALANCE \
  -DSQLITE_OMIT_TRACE -DSQLITE_OMIT_INCRBLOB -DSQLITE_OMIT_XFER_OPT"

# Two modules: `liteshift_wasm` (the default entry) has no SQLite inside — plan and migrate run
# on the page's SQLite through its adapter; `liteshift_bytes` (the `liteshift/bytes` entry)
# carries liteshift's own SQLite for migrateBytes and host-less planning (feature `bundled`).
#
# The Rust standard library rebuilt for size (nightly's build-std with optimize_for_size,
# no panic locations): about 30 KB smaller gzipped. Without a nightly toolchain (or with
# LITESHIFT_WASM_STABLE=1), stable's prebuilt std.
target_dir=${CARGO_TARGET_DIR:-target}
nightly=0
if [ "${LITESHIFT_WASM_STABLE:-}" != 1 ] && rustup toolchain list | grep -q '^nightly' \
   && rustup component add rust-src --toolchain nightly >/dev/null 2>&1 \
   && rustup target add wasm32-unknown-unknown --toolchain nightly >/dev/null 2>&1; then
  nightly=1
else
  echo "wasm/build.sh: building with stable's prebuilt std (LITESHIFT_WASM_STABLE=1, or no nightly toolchain with rust-src): about 32 KB larger gzipped"
fi
out=wasm/pkg
rm -rf "$out" && mkdir -p "$out"
sizes=()
build_module() { # name, cargo feature arguments...
  local name=$1; shift
  local cargo_build=(build -p liteshift-wasm --target wasm32-unknown-unknown --profile wasm-release "$@")
  if [ "$nightly" = 1 ]; then
    RUSTFLAGS="-Zlocation-detail=none" cargo +nightly "${cargo_build[@]}" \
      -Zbuild-std=std,panic_abort -Zbuild-std-features=optimize_for_size
  else
    cargo "${cargo_build[@]}"
  fi
  wasm-bindgen --target web --out-dir "$out" --out-name "$name" \
    "$target_dir/wasm32-unknown-unknown/wasm-release/liteshift_wasm.wasm"
  local wasm="$out/${name}_bg.wasm"
  local before; before=$(stat -c %s "$wasm")
  # --low-memory-unused: Rust's stack is at the bottom of memory and reaching its lowest 1 KB
  # is already a stack overflow; --zero-filled-memory: the module defines its own memory.
  "$wasm_opt" -Oz --converge --low-memory-unused --zero-filled-memory --strip-debug --strip-producers \
    --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext --enable-mutable-globals \
    --enable-reference-types --enable-multivalue \
    "$wasm" -o "$wasm.opt"
  mv "$wasm.opt" "$wasm"
  # An undefined C symbol (an SQLITE_OMIT_* that a kept feature needs) links on stable as an
  # `env` import and the module fails to load: refuse such a build here.
  node -e '
  const m = new WebAssembly.Module(require("fs").readFileSync(process.argv[1]));
  const bad = WebAssembly.Module.imports(m).filter(i => i.module === "env");
  if (bad.length) { console.error("wasm/build.sh: the module imports undefined symbols: " + bad.map(i => i.name).join(", ")); process.exit(1); }
  ' "$wasm"
  local after; after=$(stat -c %s "$wasm")
  local gz; gz=$(gzip -9 -c "$wasm" | wc -c)
  sizes+=("wasm: $name: $before bytes from cargo+wasm-bindgen, $after after wasm-opt, $gz gzipped (-9)")
  gzipped[$name]=$gz
}
declare -A gzipped
build_module liteshift_wasm --no-default-features
build_module liteshift_bytes
cp wasm/js/*.js wasm/js/*.d.ts "$out"/
cp wasm/README.md "$out"/README.md
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
cat > "$out/package.json" <<JSON
{
  "name": "liteshift",
  "version": "$version",
  "description": "Declarative schema migrations for the SQLite in your page (sql.js, the official sqlite-wasm build, any SQLite through an adapter) and on Cloudflare D1 and Durable Objects, run on that SQLite; liteshift/bytes migrates database images in its own.",
  "license": "MIT OR Apache-2.0",
  "keywords": ["sqlite", "migration", "schema", "declarative", "wasm", "sql.js", "sqlite-wasm", "opfs", "cloudflare", "d1", "durable-objects"],
  "type": "module",
  "main": "./index.node.js",
  "types": "./index.d.ts",
  "exports": {
    ".": {
      "types": "./index.d.ts",
      "workerd": "./index.workerd.js",
      "node": "./index.node.js",
      "default": "./index.web.js"
    },
    "./bytes": {
      "types": "./bytes.d.ts",
      "node": "./bytes.node.js",
      "default": "./bytes.web.js"
    }
  },
  "files": ["index.node.js", "index.web.js", "index.workerd.js", "workers.js", "bytes.node.js", "bytes.web.js", "api.js", "index.d.ts", "bytes.d.ts", "types.d.ts", "liteshift_wasm.js", "liteshift_wasm_bg.wasm", "liteshift_bytes.js", "liteshift_bytes_bg.wasm", "README.md"],
  "sideEffects": false
}
JSON
printf '%s\n' "${sizes[@]}"
# Each figure beside its goal and baseline (issue 24; wasm/test/size.test.mjs holds the budgets).
sqljs=$(gzip -9 -c wasm/node_modules/sql.js/dist/sql-wasm.wasm | wc -c)
awk -v w="${gzipped[liteshift_wasm]}" -v b="${gzipped[liteshift_bytes]}" -v s="$sqljs" 'function left(x, goal) { return x <= goal ? "met" : (x - goal) " to go" }
BEGIN {
  printf "wasm: liteshift_wasm: %d gzipped; goal 150,000: %s (first shipped at 163,686; 234,899 before the 2026-12-07 size work)\n", w, left(w, 150000)
  printf "wasm: liteshift_bytes: %d gzipped, %.2fx sql.js 1.16.0'"'"'s sql-wasm.wasm (%d gzipped); goal 1.4x = %d: %s (555,585 = 1.65x before the 2026-12-07 size work)\n", b, b / s, s, int(1.4 * s), left(b, int(1.4 * s))
}'
