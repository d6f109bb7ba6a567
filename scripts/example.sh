#!/usr/bin/env bash
# Run liteshift's main job on the bundled example: plan, apply and check the migration of
# examples/todo/app.db (a copy, so the example can be run again) to examples/todo/schema.sql.
set -euo pipefail
cd "$(dirname "$0")/.."
work=target/example
mkdir -p "$work"
cp examples/todo/app.db "$work/app.db"
cargo build -q -p liteshift-cli
bin=target/debug/liteshift
echo "== liteshift plan --db $work/app.db examples/todo/schema.sql"
"$bin" plan --db "$work/app.db" examples/todo/schema.sql
echo
echo "== liteshift apply --db $work/app.db examples/todo/schema.sql"
"$bin" apply --db "$work/app.db" examples/todo/schema.sql
echo
echo "== liteshift check --db $work/app.db examples/todo/schema.sql"
"$bin" check --db "$work/app.db" examples/todo/schema.sql
echo
echo "== liteshift inspect --db $work/app.db"
"$bin" inspect --db "$work/app.db"
