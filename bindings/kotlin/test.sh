#!/usr/bin/env bash
# Build the UniFFI bindings (liteshift-ffi), generate their Kotlin and Swift sources, compile the
# Kotlin ones with JdbcHost and the test, and run the test on the JVM against sqlite-jdbc.
# Installs what it needs: as root, Debian's openjdk-17-jdk-headless, libjna-java and
# libxerial-sqlite-jdbc-java; the Kotlin compiler from npm (kotlin-compiler@2.4.20).
set -euo pipefail
cd "$(dirname "$0")"
root=$(cd ../.. && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
work="$target/bindings"
missing() { echo "kotlin test: MISSING: $*" >&2; exit 2; }

jars=(/usr/share/java/jna.jar /usr/share/java/sqlite-jdbc.jar)
if ! command -v javac >/dev/null || [ ! -f "${jars[0]}" ] || [ ! -f "${jars[1]}" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && apt-get install -y -qq openjdk-17-jdk-headless libjna-java libxerial-sqlite-jdbc-java >/dev/null
  else
    missing "a JDK 17, JNA and sqlite-jdbc (Debian: apt-get install openjdk-17-jdk-headless libjna-java libxerial-sqlite-jdbc-java)"
  fi
fi
kotlinc="$work/kotlin-compiler/package/bin/kotlinc-jvm"
if [ ! -x "$kotlinc" ]; then
  command -v npm >/dev/null || missing "npm (to fetch the Kotlin compiler, package kotlin-compiler)"
  mkdir -p "$work/kotlin-compiler"
  (cd "$work/kotlin-compiler" && npm pack -q kotlin-compiler@2.4.20 >/dev/null && tar xzf kotlin-compiler-2.4.20.tgz)
fi

# The library and UniFFI's generator, from the same build.
(cd "$root" && CARGO_TARGET_DIR="$target" cargo build -q -p liteshift-ffi --features bindgen)
lib="$target/debug/libliteshift_ffi.so"
rm -rf "$work/kotlin" "$work/swift"
"$target/debug/uniffi-bindgen" generate --library "$lib" --language kotlin --out-dir "$work/kotlin" --no-format >/dev/null
"$target/debug/uniffi-bindgen" generate --library "$lib" --language swift --out-dir "$work/swift" --no-format >/dev/null
echo "generated: $(cd "$work" && find kotlin swift -type f | sort | tr '\n' ' ')"

cp="${jars[0]}:${jars[1]}"
"$kotlinc" -nowarn "$work/kotlin/uniffi/liteshift/liteshift.kt" JdbcHost.kt test/LiteshiftTest.kt test/ContractTest.kt \
  -cp "$cp" -include-runtime -d "$work/liteshift-test.jar" 2>&1 | grep -v '^warning' || true
[ -f "$work/liteshift-test.jar" ] || { echo "kotlin test: compilation failed" >&2; exit 1; }
java -Djna.library.path="$(dirname "$lib")" -Dliteshift.contract="$root/tests/contract" -cp "$work/liteshift-test.jar:$cp" LiteshiftTestKt
