//! Every condition under which SQLite refuses an `ALTER TABLE` (or runs it without testing the
//! existing rows), each migrated on a database with rows under every connection setting that
//! changes what SQLite allows: foreign-key enforcement on and off, `legacy_alter_table` on,
//! and `SQLITE_DBCONFIG_DEFENSIVE` on. The plan is the same under each and runs under each.

use liteshift::{migrate, plan_migration, Error, Options, Refusal, SqliteVersion};
use liteshift_tests::{
    column_values, facts_diff, fk_violations, integrity, schema_facts, table_rows,
};
use rusqlite::config::DbConfig;
use rusqlite::Connection;

/// A connection setting the migration runs under.
#[derive(Debug, Clone, Copy)]
enum Setting {
    ForeignKeysOn,
    ForeignKeysOff,
    /// `PRAGMA legacy_alter_table = ON` (with enforcement on).
    LegacyAlter,
    /// `SQLITE_DBCONFIG_DEFENSIVE` (with enforcement on).
    Defensive,
}

const SETTINGS: [Setting; 4] = [
    Setting::ForeignKeysOn,
    Setting::ForeignKeysOff,
    Setting::LegacyAlter,
    Setting::Defensive,
];

/// A fresh database at `before` (with its rows), under `setting`.
fn open(before: &str, setting: Setting) -> Connection {
    let conn = Connection::open_in_memory().unwrap();
    conn.execute_batch(before).unwrap();
    let fk = !matches!(setting, Setting::ForeignKeysOff);
    conn.pragma_update(None, "foreign_keys", fk).unwrap();
    match setting {
        Setting::LegacyAlter => conn
            .pragma_update(None, "legacy_alter_table", true)
            .unwrap(),
        Setting::Defensive => {
            conn.set_db_config(DbConfig::SQLITE_DBCONFIG_DEFENSIVE, true)
                .unwrap();
        }
        _ => {}
    }
    conn
}

fn fk_setting(conn: &Connection) -> bool {
    conn.pragma_query_value(None, "foreign_keys", |r| r.get(0))
        .unwrap()
}

/// A database created from the declared SQL, to compare the migrated one with.
fn declared_facts(after: &str) -> std::collections::BTreeMap<String, Vec<String>> {
    let fresh = Connection::open_in_memory().unwrap();
    fresh.execute_batch(after).unwrap();
    schema_facts(&fresh, false)
}

/// Migrates `before` to `after` under every setting with `opts`: every row is kept (same
/// rowids), the database equals the declaration, a second plan is empty, and the
/// connection's foreign-key setting is as it was. Returns the plan's SQL (the same under each).
fn migrates_with(before: &str, after: &str, opts: &Options) -> String {
    let mut sql: Option<String> = None;
    for setting in SETTINGS {
        let mut conn = open(before, setting);
        let fk = fk_setting(&conn);
        let rows = table_rows(&conn);
        let planned = plan_migration(&conn, after, opts).unwrap();
        let rendered = liteshift::render_sql(&planned.plan);
        assert_eq!(
            sql.get_or_insert_with(|| rendered.clone()),
            &rendered,
            "{setting:?}: the plan depends on the connection"
        );
        if let Err(e) = migrate(&mut conn, after, opts) {
            panic!("{setting:?}: {e}\nplan:\n{rendered}");
        }
        let kept = table_rows(&conn);
        for (t, (n, rowids)) in &rows {
            if let Some((m, r)) = kept.get(t) {
                assert_eq!(n, m, "{setting:?}: rows of {t}");
                // (A column named `rowid` hides the rowid: `rowid_renamed` checks its keys.)
                if !r.is_empty() {
                    assert_eq!(rowids, r, "{setting:?}: rowids of {t}");
                }
            }
        }
        let diff = facts_diff(&schema_facts(&conn, false), &declared_facts(after));
        assert!(diff.is_empty(), "{setting:?}: {diff:#?}");
        let again = plan_migration(&conn, after, opts).unwrap();
        assert!(again.plan.is_empty(), "{setting:?}: {:?}", again.plan.steps);
        assert_eq!(fk_setting(&conn), fk, "{setting:?}: enforcement restored");
        assert_eq!(integrity(&conn), "ok");
        assert_eq!(fk_violations(&conn), 0, "{setting:?}");
    }
    sql.unwrap()
}

fn migrates(before: &str, after: &str) -> String {
    migrates_with(before, after, &Options::default())
}

/// Under every setting the migration is refused because existing rows violate the
/// declaration, naming them; the database is as it was.
fn refused(before: &str, after: &str, constraint: &str) {
    for setting in SETTINGS {
        let mut conn = open(before, setting);
        let (facts, values) = (schema_facts(&conn, true), column_values(&conn));
        let err = migrate(&mut conn, after, &Options::default()).unwrap_err();
        let Error::Refused(Refusal::Violations { violations }) = &err else {
            panic!("{setting:?}: expected a refusal naming rows, got {err}");
        };
        assert!(
            violations
                .iter()
                .any(|v| v.constraint.contains(constraint) && !v.examples.is_empty()),
            "{setting:?}: {err}"
        );
        assert_eq!(schema_facts(&conn, true), facts, "{setting:?}");
        assert_eq!(column_values(&conn), values, "{setting:?}");
    }
}

fn is_rebuild(sql: &str) -> bool {
    sql.contains("INSERT INTO")
}

const OWNERS: &str = "CREATE TABLE owners(id INTEGER PRIMARY KEY, name TEXT);";

fn with_t(columns: &str) -> String {
    format!("{OWNERS}\nCREATE TABLE t(id INTEGER PRIMARY KEY, x TEXT{columns});")
}

fn before_t() -> String {
    format!(
        "{}\nINSERT INTO owners VALUES (1, 'a'), (2, 'b');\nINSERT INTO t VALUES (1, 'one'), (2, 'two'), (5, 'five');",
        with_t("")
    )
}

// "Cannot add a REFERENCES column with non-NULL default value" (while enforcement is on).
#[test]
fn references_with_a_non_null_default_is_rebuilt_under_either_setting() {
    let sql = migrates(
        &before_t(),
        &with_t(", owner_id INTEGER NOT NULL DEFAULT 1 REFERENCES owners(id)"),
    );
    assert!(is_rebuild(&sql), "{sql}");
}

#[test]
fn references_with_a_non_null_default_as_a_table_constraint_is_rebuilt() {
    let sql = migrates(
        &before_t(),
        &with_t(", owner_id INTEGER DEFAULT 2, FOREIGN KEY (owner_id) REFERENCES owners(id)"),
    );
    assert!(is_rebuild(&sql), "{sql}");
}

#[test]
fn references_with_a_null_default_stays_native() {
    let sql = migrates(
        &before_t(),
        &with_t(", owner_id INTEGER REFERENCES owners(id)"),
    );
    assert!(
        sql.contains("ADD COLUMN owner_id") && !is_rebuild(&sql),
        "{sql}"
    );
}

// "Cannot add a PRIMARY KEY column" / "Cannot add a UNIQUE column".
#[test]
fn unique_column_is_rebuilt() {
    let sql = migrates(&before_t(), &with_t(", code TEXT UNIQUE"));
    assert!(is_rebuild(&sql), "{sql}");
}

#[test]
fn primary_key_column_is_rebuilt() {
    let before = "CREATE TABLE k(x TEXT); INSERT INTO k VALUES ('a'), ('b');";
    let sql = migrates(before, "CREATE TABLE k(x TEXT, id INTEGER PRIMARY KEY);");
    assert!(is_rebuild(&sql), "{sql}");
}

// "Cannot add a column with non-constant default".
#[test]
fn non_constant_defaults_are_rebuilt() {
    for def in [
        "created TEXT DEFAULT CURRENT_TIMESTAMP",
        "n INTEGER DEFAULT (1 + 1)",
        "r TEXT DEFAULT (lower('A'))",
    ] {
        let sql = migrates(&before_t(), &with_t(&format!(", {def}")));
        assert!(is_rebuild(&sql), "{def}: {sql}");
    }
}

#[test]
fn constant_defaults_stay_native() {
    for def in [
        "n INTEGER DEFAULT -1",
        "s TEXT DEFAULT ('x')",
        "b BLOB DEFAULT x'00'",
    ] {
        let sql = migrates(&before_t(), &with_t(&format!(", {def}")));
        assert!(!is_rebuild(&sql), "{def}: {sql}");
    }
}

// "Cannot add a NOT NULL column with default value NULL".
#[test]
fn not_null_without_a_default_takes_a_declared_value() {
    let after = format!(
        "{}\n-- liteshift:value t.n = length(x)",
        with_t(", n INTEGER NOT NULL")
    );
    let sql = migrates(&before_t(), &after);
    assert!(is_rebuild(&sql), "{sql}");
}

#[test]
fn not_null_without_a_default_and_no_value_is_refused_naming_rows() {
    refused(&before_t(), &with_t(", n INTEGER NOT NULL"), "NOT NULL");
}

// "cannot add a STORED column".
#[test]
fn stored_generated_column_is_rebuilt() {
    let sql = migrates(
        &before_t(),
        &with_t(", twice INTEGER GENERATED ALWAYS AS (id * 2) STORED"),
    );
    assert!(is_rebuild(&sql), "{sql}");
}

#[test]
fn virtual_generated_column_stays_native() {
    let sql = migrates(
        &before_t(),
        &with_t(", twice INTEGER GENERATED ALWAYS AS (id * 2) VIRTUAL NOT NULL"),
    );
    assert!(!is_rebuild(&sql), "{sql}");
}

// ADD COLUMN tests a new CHECK, or a generated column's NOT NULL, against the existing rows
// (3.37.0+): a violation is refused and named.
#[test]
fn check_on_an_added_column_over_existing_rows() {
    let sql = migrates(&before_t(), &with_t(", c INTEGER DEFAULT 5 CHECK (c < 10)"));
    assert!(!is_rebuild(&sql), "{sql}");
    refused(
        &before_t(),
        &with_t(", c INTEGER DEFAULT 5 CHECK (c < 3)"),
        "CHECK",
    );
}

#[test]
fn not_null_generated_column_over_existing_rows_is_refused() {
    let before = format!("{}\nINSERT INTO t VALUES (7, NULL);", before_t());
    for setting in SETTINGS {
        let mut conn = open(&before, setting);
        let facts = schema_facts(&conn, true);
        let after = with_t(", up TEXT GENERATED ALWAYS AS (upper(x)) VIRTUAL NOT NULL");
        let err = migrate(&mut conn, &after, &Options::default()).unwrap_err();
        assert!(matches!(err, Error::Refused(_)), "{setting:?}: {err}");
        assert!(err.to_string().contains("NOT NULL"), "{err}");
        assert_eq!(schema_facts(&conn, true), facts, "{setting:?}");
    }
}

// Before 3.37.0 ADD COLUMN does not test them: a plan for such a SQLite rebuilds (the copy
// tests every row), and a violation is still refused and named.
#[test]
fn before_3_37_a_check_on_an_added_column_is_rebuilt() {
    let opts = Options {
        sqlite_version: Some(SqliteVersion(3, 36, 0)),
        ..Options::default()
    };
    let sql = migrates_with(
        &before_t(),
        &with_t(", c INTEGER DEFAULT 5 CHECK (c < 10)"),
        &opts,
    );
    assert!(is_rebuild(&sql), "{sql}");
    let sql = migrates_with(
        &before_t(),
        &with_t(", up TEXT GENERATED ALWAYS AS (upper(x)) VIRTUAL NOT NULL"),
        &opts,
    );
    assert!(is_rebuild(&sql), "{sql}");
    let mut conn = open(&before_t(), Setting::ForeignKeysOn);
    let err = migrate(
        &mut conn,
        &with_t(", c INTEGER DEFAULT 5 CHECK (c < 3)"),
        &opts,
    )
    .unwrap_err();
    assert!(
        matches!(err, Error::Refused(Refusal::Violations { .. })),
        "{err}"
    );
}

// STRICT: ADD COLUMN tests the existing rows against the column's type (3.37.0+).
#[test]
fn strict_table_gains_a_column() {
    let before = "CREATE TABLE s(id INTEGER PRIMARY KEY, x TEXT) STRICT;
INSERT INTO s VALUES (1, 'a'), (2, 'b');";
    let sql = migrates(
        before,
        "CREATE TABLE s(id INTEGER PRIMARY KEY, x TEXT, n INTEGER DEFAULT 3) STRICT;",
    );
    assert!(!is_rebuild(&sql), "{sql}");
}

// "cannot add/drop/rename rowid alias" (3.54): a column named rowid, oid or _rowid_.
#[test]
fn columns_named_like_the_rowid_are_rebuilt() {
    let sql = migrates(&before_t(), &with_t(", oid TEXT"));
    assert!(is_rebuild(&sql), "add: {sql}");
    let before = format!(
        "{}\nINSERT INTO t VALUES (1, 'one', 'a'), (3, 'three', 'b');",
        with_t(", _rowid_ TEXT")
    );
    let sql = migrates_with(
        &before,
        &with_t(""),
        &Options {
            allow_data_loss: true,
            ..Options::default()
        },
    );
    assert!(is_rebuild(&sql), "drop: {sql}");
    let mut opts = Options::default();
    opts.hints.add_column_rename("t.x=rowid").unwrap();
    let after = format!("{OWNERS}\nCREATE TABLE t(id INTEGER PRIMARY KEY, rowid TEXT);");
    let sql = migrates_with(&before_t(), &after, &opts);
    assert!(is_rebuild(&sql), "rename: {sql}");
    let mut conn = open(&before_t(), Setting::ForeignKeysOn);
    migrate(&mut conn, &after, &opts).unwrap();
    let kept: Vec<(i64, String)> = conn
        .prepare("SELECT id, rowid FROM t ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        kept,
        [(1, "one".into()), (2, "two".into()), (5, "five".into())]
    );
}

// Renames, drops, a rebuild of a parent and new constraints under every setting, with a
// child, a view and a trigger that name the tables: `legacy_alter_table` changes what
// `RENAME` rewrites, defensive mode forbids writing the schema table.
#[test]
fn renames_and_rebuilds_with_dependents() {
    let before = "CREATE TABLE p(id INTEGER PRIMARY KEY, name TEXT, old TEXT);
CREATE TABLE c(id INTEGER PRIMARY KEY, p_id INTEGER REFERENCES p(id) ON DELETE CASCADE, note TEXT);
CREATE VIEW pv AS SELECT id, name FROM p;
CREATE TRIGGER ct AFTER INSERT ON c BEGIN UPDATE p SET name = name WHERE id = new.p_id; END;
INSERT INTO p VALUES (1, 'a', 'x'), (2, 'b', 'y');
INSERT INTO c VALUES (1, 1, 'n'), (2, 2, 'm'), (3, 1, NULL);";
    let renamed = "CREATE TABLE parent(id INTEGER PRIMARY KEY, title TEXT, old TEXT);
CREATE TABLE c(id INTEGER PRIMARY KEY, p_id INTEGER REFERENCES parent(id) ON DELETE CASCADE, note TEXT);
CREATE VIEW pv AS SELECT id, title FROM parent;
CREATE TRIGGER ct AFTER INSERT ON c BEGIN UPDATE parent SET title = title WHERE id = new.p_id; END;";
    let mut opts = Options::default();
    opts.hints.add_table_rename("p=parent").unwrap();
    opts.hints.add_column_rename("p.name=title").unwrap();
    migrates_with(before, renamed, &opts);
    let rebuilt = "CREATE TABLE p(id INTEGER PRIMARY KEY, name TEXT COLLATE NOCASE, old TEXT);
CREATE TABLE c(id INTEGER PRIMARY KEY, p_id INTEGER REFERENCES p(id) ON DELETE CASCADE, note TEXT);
CREATE VIEW pv AS SELECT id, name FROM p;
CREATE TRIGGER ct AFTER INSERT ON c BEGIN UPDATE p SET name = name WHERE id = new.p_id; END;";
    assert!(is_rebuild(&migrates(before, rebuilt)));
    let dropped = "CREATE TABLE p(id INTEGER PRIMARY KEY, name TEXT);
CREATE TABLE c(id INTEGER PRIMARY KEY, p_id INTEGER REFERENCES p(id) ON DELETE CASCADE, note TEXT NOT NULL DEFAULT '');
CREATE VIEW pv AS SELECT id, name FROM p;
CREATE TRIGGER ct AFTER INSERT ON c BEGIN UPDATE p SET name = name WHERE id = new.p_id; END;
-- liteshift:value c.note = coalesce(note, '')";
    migrates_with(
        before,
        dropped,
        &Options {
            allow_data_loss: true,
            ..Options::default()
        },
    );
}
