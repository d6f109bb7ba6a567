//! A migration as one batch that verifies itself (`core/src/batch.rs`, `liteshift diff --for
//! d1`), run the way Cloudflare D1 runs a batch: all its statements in one transaction that
//! any failing statement rolls back, on a connection that keeps foreign-key enforcement on
//! (`hosts::foreign_keys_always_on`). The real D1, through wrangler, is `wasm/test/workers/`.

use std::fs;

use liteshift::{plan_diff_for_batch, plan_migration_for_batch, render_script, Options, Wrapping};
use liteshift_tests::hosts::{d1_like, foreign_keys_always_on};
use liteshift_tests::{fk_violations, integrity, table_rows};
use rusqlite::Connection;

const FROM: &str = "CREATE TABLE parent(id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT);
CREATE TABLE child(id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent(id) ON DELETE CASCADE, note TEXT);
CREATE INDEX child_parent ON child(parent_id);
CREATE TABLE orphanable(id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent(id) ON DELETE SET NULL);
CREATE TABLE grandchild(id INTEGER PRIMARY KEY, child_id INTEGER REFERENCES child(id) ON DELETE CASCADE);
CREATE TABLE log(what TEXT);
CREATE TRIGGER child_deleted AFTER DELETE ON child BEGIN INSERT INTO log VALUES ('delete ' || old.id); END;
CREATE VIEW notes AS SELECT p.name, c.note FROM parent p JOIN child c ON c.parent_id = p.id;
";

fn to() -> String {
    FROM.replace("name TEXT)", "name TEXT NOT NULL COLLATE NOCASE)")
}

const ROWS: &str = "INSERT INTO parent(name) VALUES ('ada'), ('bob'), ('cy'); DELETE FROM parent WHERE id = 3;
INSERT INTO child VALUES (10, 1, 'a'), (11, 2, 'b');
INSERT INTO orphanable VALUES (20, 1), (21, 2);
INSERT INTO grandchild VALUES (30, 10), (31, 11);
CREATE TABLE d1_migrations(id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE, applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP);
INSERT INTO d1_migrations(name) VALUES ('0001_init.sql');
CREATE TABLE _cf_METADATA(key INTEGER PRIMARY KEY, value BLOB);";

/// A database file at `schema` with `ROWS`, on a connection that keeps enforcement on.
fn d1_database(dir: &tempfile::TempDir, schema: &str) -> (std::path::PathBuf, Connection) {
    let path = dir.path().join("d1.sqlite");
    let mut conn = Connection::open(&path).unwrap();
    conn.execute_batch(schema).unwrap();
    conn.execute_batch("PRAGMA foreign_keys = ON").unwrap();
    conn.execute_batch(ROWS).unwrap();
    foreign_keys_always_on(&mut conn);
    (path, conn)
}

/// Run `script` as D1 runs a batch: one transaction, rolled back by any failing statement.
fn run_batch(conn: &Connection, script: &str) -> Result<(), String> {
    conn.execute_batch("BEGIN").unwrap();
    match conn.execute_batch(script) {
        Ok(()) => conn.execute_batch("COMMIT").map_err(|e| e.to_string()),
        Err(e) => {
            conn.execute_batch("ROLLBACK").unwrap();
            Err(e.to_string())
        }
    }
}

fn batch_script(from: &str, to: &str) -> String {
    let planned = plan_diff_for_batch(from, "from.sql", to, &Options::default()).unwrap();
    render_script(&planned.plan, Wrapping::Batch)
}

#[test]
fn the_batch_rebuilds_a_parent_and_keeps_every_row() {
    let dir = tempfile::tempdir().unwrap();
    let (_, conn) = d1_database(&dir, FROM);
    let script = batch_script(FROM, &to());
    for forbidden in [
        "BEGIN",
        "COMMIT",
        "SAVEPOINT",
        "PRAGMA foreign_keys",
        "PRAGMA legacy",
    ] {
        let found: Vec<&str> = script
            .lines()
            .filter(|l| l.starts_with(forbidden))
            .collect();
        assert!(found.is_empty(), "{forbidden} in a D1 batch: {found:?}");
    }
    let before = table_rows(&conn);
    run_batch(&conn, &script).unwrap();
    assert_eq!(
        table_rows(&conn),
        before,
        "every row and rowid of every table"
    );
    let fired: i64 = conn
        .query_row("SELECT count(*) FROM log", [], |r| r.get(0))
        .unwrap();
    assert_eq!(fired, 0, "no trigger fired");
    let seq: i64 = conn
        .query_row(
            "SELECT seq FROM sqlite_sequence WHERE name = 'parent'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(seq, 3, "the AUTOINCREMENT high-water mark");
    assert_eq!(integrity(&conn), "ok");
    assert_eq!(fk_violations(&conn), 0);
    let stored: String = conn
        .query_row(
            "SELECT sql FROM sqlite_master WHERE name = 'parent'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(stored, "CREATE TABLE parent(id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL COLLATE NOCASE)");
    let guard: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE name = '_liteshift_guard'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(guard, 0, "the guard table is gone");
}

#[test]
fn a_database_not_at_from_stops_the_batch_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let drifted = FROM.replace("CREATE INDEX child_parent ON child(parent_id);\n", "");
    let (path, conn) = d1_database(&dir, &drifted);
    let bytes = fs::read(&path).unwrap();
    let err = run_batch(&conn, &batch_script(FROM, &to())).unwrap_err();
    assert!(
        err.contains("liteshift: the database is not at the schema this migration starts from"),
        "{err}"
    );
    drop(conn);
    assert_eq!(fs::read(&path).unwrap(), bytes, "unchanged");
}

#[test]
fn rows_that_violate_the_target_stop_the_batch_naming_the_constraint() {
    let dir = tempfile::tempdir().unwrap();
    let (path, conn) = d1_database(&dir, FROM);
    conn.execute_batch("INSERT INTO parent(name) VALUES (NULL)")
        .unwrap();
    let bytes = fs::read(&path).unwrap();
    let err = run_batch(&conn, &batch_script(FROM, &to())).unwrap_err();
    assert!(
        err.contains("liteshift: existing rows violate NOT NULL on parent.name"),
        "{err}"
    );
    drop(conn);
    assert_eq!(fs::read(&path).unwrap(), bytes, "unchanged");
}

#[test]
fn ignored_objects_are_outside_the_guards() {
    let dir = tempfile::tempdir().unwrap();
    let (_, conn) = d1_database(&dir, FROM);
    conn.execute_batch("CREATE TABLE kv_cache(k TEXT PRIMARY KEY, v BLOB)")
        .unwrap();
    // Without the pattern the extra table is drift; with it, the batch runs.
    assert!(run_batch(&conn, &batch_script(FROM, &to())).is_err());
    let to = format!("-- liteshift:ignore kv_*\n{}", to());
    run_batch(&conn, &batch_script(FROM, &to)).unwrap();
}

#[test]
fn the_batch_script_is_deterministic() {
    assert_eq!(batch_script(FROM, &to()), batch_script(FROM, &to()));
}

/// The batch planned from the live database (what the npm package does with a D1 binding):
/// read on the host like any plan, with the host's refusals, and checking itself the same way.
#[test]
fn a_batch_planned_from_a_d1_like_database_migrates_it_or_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (_, mut conn) = d1_database(&dir, FROM);
    d1_like(&mut conn);
    let planned = plan_migration_for_batch(&conn, &to(), &Options::default()).unwrap();
    assert!(
        planned.plan.batch.is_some(),
        "the plan carries both signatures"
    );
    assert!(!planned.plan.foreign_keys_off);
    let script = render_script(&planned.plan, Wrapping::Batch);
    // The database moves before the batch runs: the batch refuses it, unchanged.
    let before = table_rows(&conn);
    conn.execute_batch("CREATE TABLE sneaked_in(x)").unwrap();
    let moved = table_rows(&conn);
    let e = run_batch_d1(&mut conn, &script).unwrap_err();
    assert!(
        e.contains("not at the schema this migration starts from"),
        "{e}"
    );
    assert_eq!(table_rows(&conn), moved);
    conn.execute_batch("DROP TABLE sneaked_in").unwrap();
    run_batch_d1(&mut conn, &script).unwrap();
    assert_eq!(
        table_rows(&conn),
        before,
        "every row and rowid of every table"
    );
    assert_eq!(fk_violations(&conn), 0);
    let again = plan_migration_for_batch(&conn, &to(), &Options::default()).unwrap();
    assert!(again.plan.steps.is_empty(), "{:?}", again.plan.changes);
    assert!(again.plan.batch.is_none(), "nothing to guard");
}

/// [`run_batch`] on a connection that refuses `BEGIN` as D1 does: the batch's transaction is
/// the platform's, opened here with the restriction lifted for that statement.
fn run_batch_d1(conn: &mut Connection, script: &str) -> Result<(), String> {
    liteshift_tests::hosts::unrestricted(conn);
    let result = run_batch(conn, script);
    d1_like(conn);
    result
}

/// A table whose own foreign key SQLite cannot check ("foreign key mismatch": it names columns
/// that are not the parent's key, as zotero v0050's `itemAttachments` does) is altered: the
/// batch does not ask SQLite to check it (SQLite would raise the error, rows or not), as apply
/// does not, and the migration runs.
#[test]
fn a_table_whose_foreign_key_sqlite_cannot_check_does_not_stop_the_batch() {
    let from = "CREATE TABLE items(id INTEGER PRIMARY KEY, source INTEGER);
CREATE TABLE attachments(id INTEGER PRIMARY KEY, source INTEGER REFERENCES items(source));";
    let to = "CREATE TABLE items(id INTEGER PRIMARY KEY, source INTEGER);
CREATE TABLE attachments(id INTEGER PRIMARY KEY, source INTEGER REFERENCES items(source), note TEXT);
CREATE INDEX attachments_note ON attachments(note);";
    let planned = plan_diff_for_batch(from, "from.sql", to, &Options::default()).unwrap();
    let guards = planned.plan.batch.as_ref().unwrap();
    assert_eq!(guards.unchecked, ["attachments"]);
    let script = render_script(&planned.plan, Wrapping::Batch);
    assert!(
        !script.contains("pragma_foreign_key_check('attachments')"),
        "{script}"
    );
    let mut conn = Connection::open_in_memory().unwrap();
    conn.execute_batch(from).unwrap();
    conn.execute_batch("PRAGMA foreign_keys = ON; INSERT INTO items VALUES (1, NULL)")
        .unwrap();
    foreign_keys_always_on(&mut conn);
    run_batch(&conn, &script).unwrap();
    let columns: i64 = conn
        .query_row(
            "SELECT count(*) FROM pragma_table_info('attachments')",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(columns, 3);
}
