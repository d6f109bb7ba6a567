//! Migrations where foreign-key enforcement cannot be switched off (Cloudflare D1, rqlite
//! `-fk`, libSQL over HTTP), on a real SQLite connection that ignores `PRAGMA foreign_keys`
//! (`hosts::foreign_keys_always_on`): a rebuild keeps every row of every table that references
//! the rebuilt one — CASCADE, SET NULL, SET DEFAULT, RESTRICT, NO ACTION, grandchildren,
//! self-references, cycles — fires none of their triggers, and keeps rowids and AUTOINCREMENT
//! high-water marks. (The fixtures also all run in this mode: `fixtures.rs`.)

use liteshift::{migrate, plan_migration, Options};
use liteshift_tests::hosts::{
    durable_object_like, foreign_keys_always_on, transaction_sync, unrestricted,
};
use liteshift_tests::{fk_violations, integrity, table_rows};
use rusqlite::Connection;

const FAMILY: &str = "
CREATE TABLE parent(id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT, boss INTEGER REFERENCES parent(id) ON DELETE CASCADE);
CREATE TABLE cascade_child(id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent(id) ON DELETE CASCADE, note TEXT);
CREATE INDEX cascade_child_parent ON cascade_child(parent_id);
CREATE TABLE null_child(id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent(id) ON DELETE SET NULL);
CREATE TABLE default_child(id INTEGER PRIMARY KEY, parent_id INTEGER DEFAULT 0 REFERENCES parent(id) ON DELETE SET DEFAULT);
CREATE TABLE restrict_child(id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent(id) ON DELETE RESTRICT);
CREATE TABLE plain_child(id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent(id));
CREATE TABLE grandchild(id INTEGER PRIMARY KEY, child_id INTEGER REFERENCES cascade_child(id) ON DELETE CASCADE);
CREATE TABLE log(what TEXT);
CREATE TRIGGER cascade_child_deleted AFTER DELETE ON cascade_child BEGIN INSERT INTO log VALUES ('delete ' || old.id); END;
CREATE TRIGGER cascade_child_inserted AFTER INSERT ON cascade_child BEGIN INSERT INTO log VALUES ('insert ' || new.id); END;
CREATE TRIGGER null_child_updated AFTER UPDATE ON null_child BEGIN INSERT INTO log VALUES ('update ' || new.id); END;
CREATE VIEW family AS SELECT p.name, c.note FROM parent p JOIN cascade_child c ON c.parent_id = p.id;
";

const ROWS: &str = "
INSERT INTO parent(id, name, boss) VALUES (1, 'ada', NULL), (2, 'bob', 1), (5, 'cy', 2);
DELETE FROM parent WHERE id = 5; INSERT INTO parent(id, name, boss) VALUES (3, 'cy', 2);
INSERT INTO cascade_child VALUES (10, 1, 'a'), (11, 2, 'b'), (12, 3, 'c');
INSERT INTO null_child VALUES (20, 1), (21, 2);
INSERT INTO default_child VALUES (30, 2);
INSERT INTO restrict_child VALUES (40, 3);
INSERT INTO plain_child VALUES (50, 1);
INSERT INTO grandchild VALUES (60, 10), (61, 12);
DELETE FROM log;
";

/// A database with `FAMILY` and its rows on a connection that keeps enforcement on.
fn enforced_family() -> (tempfile::TempDir, Connection) {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = Connection::open(dir.path().join("db.sqlite")).unwrap();
    conn.execute_batch(FAMILY).unwrap();
    conn.execute_batch("PRAGMA foreign_keys = ON").unwrap();
    conn.execute_batch(ROWS).unwrap();
    foreign_keys_always_on(&mut conn);
    (dir, conn)
}

fn stored_sql(conn: &Connection) -> Vec<(String, String)> {
    // A platform's own tables (a Durable Object's `_cf_KV`) are not the schema's.
    conn.prepare("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\' ORDER BY name")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn count(conn: &Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

/// Every promise: the rows and rowids of every table, no trigger fired, the AUTOINCREMENT
/// mark, enforcement still on, a clean database, and the stored text exactly `schema`'s.
fn assert_kept(
    conn: &Connection,
    before: &std::collections::BTreeMap<String, (i64, Vec<i64>)>,
    schema: &str,
) {
    assert_eq!(&table_rows(conn), before, "rows and rowids of every table");
    assert_eq!(
        count(conn, "SELECT count(*) FROM log"),
        0,
        "a trigger fired"
    );
    assert_eq!(
        count(
            conn,
            "SELECT seq FROM sqlite_sequence WHERE name = 'parent'"
        ),
        5
    );
    assert_eq!(count(conn, "PRAGMA foreign_keys"), 1);
    assert_eq!(integrity(conn), "ok");
    assert_eq!(fk_violations(conn), 0);
    let fresh = Connection::open_in_memory().unwrap();
    fresh.execute_batch(schema).unwrap();
    assert_eq!(
        stored_sql(conn),
        stored_sql(&fresh),
        "stored text as declared"
    );
}

#[test]
fn a_parent_rebuild_keeps_every_child_and_fires_no_trigger() {
    let (_dir, mut conn) = enforced_family();
    let before = table_rows(&conn);
    // A type change: parent is rebuilt (no native ALTER for it).
    let schema = FAMILY.replace("name TEXT, boss", "name TEXT COLLATE NOCASE, boss");
    let planned = plan_migration(&conn, &schema, &Options::default()).unwrap();
    assert!(!planned.plan.foreign_keys_off);
    let rebuilt: Vec<&str> = planned
        .plan
        .changes
        .iter()
        .filter(|c| c.contains("foreign keys stay enforced"))
        .map(String::as_str)
        .collect();
    assert_eq!(
        rebuilt.len(),
        6,
        "every referencing table joins: {rebuilt:#?}"
    );
    let report = migrate(&mut conn, &schema, &Options::default()).unwrap();
    assert!(report.steps_applied > 0);
    assert!(!report.foreign_keys_toggled);
    assert_kept(&conn, &before, &schema);
    assert!(plan_migration(&conn, &schema, &Options::default())
        .unwrap()
        .plan
        .steps
        .is_empty());
}

#[test]
fn a_child_rebuild_keeps_its_own_children() {
    let (_dir, mut conn) = enforced_family();
    let before = table_rows(&conn);
    let schema = FAMILY.replace(
        "parent_id INTEGER REFERENCES parent(id) ON DELETE CASCADE, note TEXT",
        "parent_id INTEGER REFERENCES parent(id) ON DELETE CASCADE, note TEXT NOT NULL",
    );
    migrate(&mut conn, &schema, &Options::default()).unwrap();
    assert_kept(&conn, &before, &schema);
}

#[test]
fn a_cycle_of_references_is_rebuilt_whole() {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = Connection::open(dir.path().join("db.sqlite")).unwrap();
    let schema = "CREATE TABLE a(id INTEGER PRIMARY KEY, b_id INTEGER REFERENCES b(id) ON DELETE CASCADE, x TEXT);
CREATE TABLE b(id INTEGER PRIMARY KEY, a_id INTEGER REFERENCES a(id) ON DELETE SET NULL);
CREATE TABLE log(what TEXT);";
    conn.execute_batch(schema).unwrap();
    conn.execute_batch("PRAGMA foreign_keys = ON; PRAGMA defer_foreign_keys = ON; BEGIN; INSERT INTO a VALUES (1, 2, 'x'); INSERT INTO b VALUES (2, 1); COMMIT;")
        .unwrap();
    foreign_keys_always_on(&mut conn);
    let target = schema.replace("x TEXT", "x TEXT NOT NULL DEFAULT ''");
    migrate(&mut conn, &target, &Options::default()).unwrap();
    assert_eq!(
        count(
            &conn,
            "SELECT count(*) FROM a JOIN b ON b.a_id = a.id AND a.b_id = b.id"
        ),
        1
    );
    assert_eq!(fk_violations(&conn), 0);
}

#[test]
fn a_dropped_parent_takes_no_child_row_along() {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = Connection::open(dir.path().join("db.sqlite")).unwrap();
    conn.execute_batch(
        "PRAGMA foreign_keys = ON;
         CREATE TABLE team(id INTEGER PRIMARY KEY);
         CREATE TABLE member(id INTEGER PRIMARY KEY, team_id INTEGER REFERENCES team(id) ON DELETE CASCADE, name TEXT);
         INSERT INTO team VALUES (1); INSERT INTO member VALUES (1, 1, 'ada'), (2, 1, 'bob');",
    )
    .unwrap();
    foreign_keys_always_on(&mut conn);
    let opts = Options {
        allow_data_loss: true,
        ..Options::default()
    };
    // The team table goes, and the members no longer name it: they are rebuilt first, so
    // dropping it deletes none of them.
    let schema = "CREATE TABLE member(id INTEGER PRIMARY KEY, team_id INTEGER, name TEXT);";
    migrate(&mut conn, schema, &opts).unwrap();
    assert_eq!(count(&conn, "SELECT count(*) FROM member"), 2);
    assert_eq!(fk_violations(&conn), 0);
}

#[test]
fn the_same_migration_on_an_ordinary_connection_rebuilds_only_the_parent() {
    let dir = tempfile::tempdir().unwrap();
    let conn = Connection::open(dir.path().join("db.sqlite")).unwrap();
    conn.execute_batch(FAMILY).unwrap();
    let schema = FAMILY.replace("name TEXT, boss", "name TEXT COLLATE NOCASE, boss");
    let planned = plan_migration(&conn, &schema, &Options::default()).unwrap();
    assert!(planned.plan.foreign_keys_off);
    assert!(
        planned.plan.changes.iter().all(|c| !c.contains("enforced")),
        "{:?}",
        planned.plan.changes
    );
}

#[test]
fn on_a_d1_like_host_the_plan_is_the_closure_rebuild_for_the_version_its_features_show() {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = Connection::open(dir.path().join("db.sqlite")).unwrap();
    conn.execute_batch(FAMILY).unwrap();
    conn.execute_batch("PRAGMA foreign_keys = ON").unwrap();
    conn.execute_batch(ROWS).unwrap();
    liteshift_tests::hosts::d1_like(&mut conn);
    let schema = FAMILY.replace("name TEXT, boss", "name TEXT COLLATE NOCASE, boss");
    let planned = plan_migration(&conn, &schema, &Options::default()).unwrap();
    assert!(planned.plan.foreign_keys_enforced);
    assert!(!planned.plan.foreign_keys_off);
    assert_eq!(
        planned.plan.sqlite_version, "3.53.0",
        "sqlite_version() is refused there"
    );
    // Its transaction is a batch: migrate says so, and nothing changes.
    let before = table_rows(&conn);
    let err = migrate(&mut conn, &schema, &Options::default()).unwrap_err();
    assert!(matches!(err, liteshift::Error::NoTransaction), "{err}");
    assert!(err.to_string().contains("liteshift diff --for d1"), "{err}");
    assert_eq!(table_rows(&conn), before);
}

/// `FAMILY` with its rows on a connection that behaves like a Durable Object's storage.
fn durable_object_family() -> (tempfile::TempDir, Connection) {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = Connection::open(dir.path().join("db.sqlite")).unwrap();
    conn.execute_batch(FAMILY).unwrap();
    conn.execute_batch("PRAGMA foreign_keys = ON").unwrap();
    conn.execute_batch(ROWS).unwrap();
    durable_object_like(&mut conn);
    (dir, conn)
}

fn file_bytes(dir: &tempfile::TempDir) -> Vec<u8> {
    std::fs::read(dir.path().join("db.sqlite")).unwrap()
}

#[test]
fn inside_a_durable_objects_transaction_sync_a_parent_rebuild_keeps_every_row() {
    let (_dir, mut conn) = durable_object_family();
    unrestricted(&mut conn);
    let before = table_rows(&conn);
    durable_object_like(&mut conn);
    let schema = FAMILY.replace("name TEXT, boss", "name TEXT COLLATE NOCASE, boss");
    let report = transaction_sync(&mut conn, |host| {
        migrate(host, &schema, &Options::default())
    })
    .unwrap();
    // Enforcement cannot change inside the caller's transaction: the closure is rebuilt.
    assert!(!report.plan.foreign_keys_off);
    let closure = report.plan.changes.iter();
    assert_eq!(
        closure
            .filter(|c| c.contains("foreign keys stay enforced"))
            .count(),
        6,
        "{:#?}",
        report.plan.changes
    );
    unrestricted(&mut conn);
    assert_kept(&conn, &before, &schema);
    let again = transaction_sync(&mut conn, |host| {
        migrate(host, &schema, &Options::default())
    })
    .unwrap();
    assert_eq!(again.steps_applied, 0);
}

#[test]
fn inside_transaction_sync_a_refusal_and_a_failing_step_leave_the_file_byte_identical() {
    let (dir, mut conn) = durable_object_family();
    let original = file_bytes(&dir);
    // Rows the target rejects: refused by the data checks, before any step.
    let strict = FAMILY.replace(
        "name TEXT, boss",
        "name TEXT CHECK (length(name) > 2), boss",
    );
    let e = transaction_sync(&mut conn, |host| {
        migrate(host, &strict, &Options::default())
    })
    .unwrap_err();
    assert_eq!(e.code(), "data_violates_schema", "{e}");
    assert_eq!(file_bytes(&dir), original);
    // A step that fails after others ran (a declared value SQLite cannot compute): the
    // caller's transaction rolls all of them back.
    let schema = FAMILY.replace("name TEXT, boss", "name TEXT COLLATE NOCASE, boss");
    let mut opts = Options::default();
    opts.hints.add_value("parent.name=json('{')").unwrap();
    let e = transaction_sync(&mut conn, |host| migrate(host, &schema, &opts)).unwrap_err();
    assert_eq!(e.code(), "step_failed", "{e}");
    assert_eq!(file_bytes(&dir), original);
    // A dry run needs a transaction liteshift can roll back itself.
    let dry = Options {
        dry_run: true,
        ..Options::default()
    };
    let e = transaction_sync(&mut conn, |host| migrate(host, &schema, &dry)).unwrap_err();
    assert_eq!(e.code(), "invalid_option", "{e}");
    assert_eq!(file_bytes(&dir), original);
}
