#!/usr/bin/env bash
# Build the Python package (an abi3 wheel, with maturin) and run its pytest suite in a fresh
# venv against Python's own sqlite3. Installs maturin and pytest from PyPI into a build venv.
# Needs python3 >= 3.9 with venv (Debian: apt-get install python3-venv).
set -euo pipefail
cd "$(dirname "$0")"
root=$(cd .. && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
work="$target/python"
py=${PYTHON:-python3}
command -v "$py" >/dev/null || { echo "python test: MISSING: python3 (>= 3.9, with venv)" >&2; exit 2; }
"$py" -c 'import sys, venv, sqlite3; assert sys.version_info >= (3, 9)' \
  || { echo "python test: MISSING: python3 >= 3.9 with the venv and sqlite3 modules" >&2; exit 2; }

# The build venv (kept between runs: maturin and pytest are downloaded once).
if [ ! -x "$work/build-venv/bin/maturin" ]; then
  "$py" -m venv "$work/build-venv"
  "$work/build-venv/bin/pip" install -q 'maturin>=1.9.4,<2' pytest
fi
rm -rf "$work/wheels"
CARGO_TARGET_DIR="$target" "$work/build-venv/bin/maturin" build --release -q -o "$work/wheels"
wheel=$(ls "$work/wheels"/liteshift-*.whl)
echo "built $(basename "$wheel") ($(stat -c %s "$wheel") bytes)"

# A fresh venv with only the wheel (and pytest): what a user's `pip install` gives.
rm -rf "$work/test-venv"
"$py" -m venv "$work/test-venv"
"$work/test-venv/bin/pip" install -q "$wheel"
cd tests  # not the source tree: the installed package is what is imported
"$work/test-venv/bin/python" -c 'import liteshift, sqlite3; print("import liteshift", liteshift.__version__, "on SQLite", sqlite3.sqlite_version)'
# pytest from the build venv's site-packages would import the source tree; install it here.
"$work/test-venv/bin/pip" install -q pytest
"$work/test-venv/bin/python" -m pytest -q -p no:cacheprovider "$@"
