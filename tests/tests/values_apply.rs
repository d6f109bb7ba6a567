//! A declared value is never silently ignored: it applies to a column whose definition changes
//! in any way (the constraints declared on the column included), and one that applies to
//! nothing says so in the plan's warnings.

use liteshift::{migrate, plan_migration, Error, Options, Refusal};
use rusqlite::Connection;

fn db(sql: &str) -> Connection {
    let conn = Connection::open_in_memory().unwrap();
    conn.execute_batch(sql).unwrap();
    conn
}

fn ints(conn: &Connection, sql: &str) -> Vec<i64> {
    conn.prepare(sql)
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn texts(conn: &Connection, sql: &str) -> Vec<String> {
    conn.prepare(sql)
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

const T: &str = "CREATE TABLE t(id INTEGER PRIMARY KEY, n INTEGER);";

fn migrated_and_in_sync(conn: &mut Connection, schema: &str) {
    migrate(conn, schema, &Options::default()).unwrap();
    let again = plan_migration(conn, schema, &Options::default()).unwrap();
    assert!(again.plan.is_empty(), "{:?}", again.plan.steps);
}

#[test]
fn a_value_applies_when_its_column_gains_a_check_and_the_check_refuses_it() {
    let mut conn = db(&format!("{T} INSERT INTO t VALUES (1, 1), (2, 2);"));
    let schema = "CREATE TABLE t(id INTEGER PRIMARY KEY, n INTEGER CHECK (n < 15));
-- liteshift:value t.n = n * 10";
    let err = migrate(&mut conn, schema, &Options::default()).unwrap_err();
    let Error::Refused(Refusal::Violations { violations }) = &err else {
        panic!("expected the CHECK to refuse the declared values: {err}");
    };
    let v = &violations[0];
    assert!(v.constraint.contains("n < 15"), "{err}");
    assert_eq!(v.count, 1, "{err}");
    assert!(
        v.examples[0].contains("rowid 2") && v.examples[0].contains("n=20"),
        "{err}"
    );
    assert_eq!(
        ints(&conn, "SELECT n FROM t ORDER BY id"),
        [1, 2],
        "untouched"
    );
}

#[test]
fn a_value_applies_when_its_column_gains_a_check() {
    let mut conn = db(&format!("{T} INSERT INTO t VALUES (1, 1), (2, 1);"));
    let schema = "CREATE TABLE t(id INTEGER PRIMARY KEY, n INTEGER CHECK (n < 15));
-- liteshift:value t.n = n * 10";
    migrated_and_in_sync(&mut conn, schema);
    assert_eq!(ints(&conn, "SELECT n FROM t ORDER BY id"), [10, 10]);
}

#[test]
fn a_value_applies_when_its_column_loses_a_check() {
    let mut conn = db(
        "CREATE TABLE t(id INTEGER PRIMARY KEY, n INTEGER CHECK (n < 15)); INSERT INTO t VALUES (1, 3);",
    );
    let schema = "CREATE TABLE t(id INTEGER PRIMARY KEY, n INTEGER);
-- liteshift:value t.n = n * 10";
    migrated_and_in_sync(&mut conn, schema);
    assert_eq!(ints(&conn, "SELECT n FROM t"), [30]);
}

#[test]
fn a_value_applies_when_its_column_gains_unique() {
    let mut conn = db(
        "CREATE TABLE u(id INTEGER PRIMARY KEY, code TEXT); INSERT INTO u VALUES (1, 'A'), (2, 'b');",
    );
    let schema = "CREATE TABLE u(id INTEGER PRIMARY KEY, code TEXT UNIQUE);
-- liteshift:value u.code = lower(code)";
    migrated_and_in_sync(&mut conn, schema);
    assert_eq!(texts(&conn, "SELECT code FROM u ORDER BY id"), ["a", "b"]);
}

#[test]
fn a_value_that_makes_a_new_unique_column_collide_is_refused() {
    let mut conn = db(
        "CREATE TABLE u(id INTEGER PRIMARY KEY, code TEXT); INSERT INTO u VALUES (1, 'A'), (2, 'a');",
    );
    let schema = "CREATE TABLE u(id INTEGER PRIMARY KEY, code TEXT UNIQUE);
-- liteshift:value u.code = lower(code)";
    let err = migrate(&mut conn, schema, &Options::default()).unwrap_err();
    assert!(
        matches!(&err, Error::Refused(Refusal::Violations { violations }) if violations[0].constraint.contains("UNIQUE")),
        "{err}"
    );
}

#[test]
fn a_value_applies_when_its_column_gains_references() {
    let mut conn = db(
        "CREATE TABLE o(id INTEGER PRIMARY KEY); INSERT INTO o VALUES (1), (2);
CREATE TABLE t(id INTEGER PRIMARY KEY, n INTEGER); INSERT INTO t VALUES (1, 10), (2, 20);",
    );
    let schema = "CREATE TABLE o(id INTEGER PRIMARY KEY);
CREATE TABLE t(id INTEGER PRIMARY KEY, n INTEGER REFERENCES o(id));
-- liteshift:value t.n = n / 10";
    migrated_and_in_sync(&mut conn, schema);
    assert_eq!(ints(&conn, "SELECT n FROM t ORDER BY id"), [1, 2]);
}

#[test]
fn a_value_applies_when_its_column_changes_collation() {
    let mut conn =
        db("CREATE TABLE u(id INTEGER PRIMARY KEY, code TEXT); INSERT INTO u VALUES (1, ' a ');");
    let schema = "CREATE TABLE u(id INTEGER PRIMARY KEY, code TEXT COLLATE NOCASE);
-- liteshift:value u.code = trim(code)";
    migrated_and_in_sync(&mut conn, schema);
    assert_eq!(texts(&conn, "SELECT code FROM u"), ["a"]);
}

/// The plan's warnings for `schema` on a database at `before`.
fn warnings(before: &str, schema: &str, opts: &Options) -> Vec<String> {
    let conn = db(before);
    plan_migration(&conn, schema, opts).unwrap().plan.warnings
}

#[test]
fn a_value_for_an_unchanged_column_is_a_note() {
    let before = format!("{T} CREATE TABLE other(x); INSERT INTO t VALUES (1, 1);");
    let schema = "CREATE TABLE t(id INTEGER PRIMARY KEY, n INTEGER);
CREATE TABLE other(x, y);
-- liteshift:value t.n = n * 10";
    let w = warnings(&before, schema, &Options::default());
    assert!(
        w.iter()
            .any(|w| w
                .starts_with("value t.n = n * 10 applies to nothing: column t.n is as declared")),
        "{w:?}"
    );
    // Even when nothing else changes in its table, or at all (the full path).
    let w = warnings(
        &before,
        &schema.replace("other(x, y)", "other(x)"),
        &Options::default(),
    );
    assert!(w.iter().any(|w| w.contains("applies to nothing")), "{w:?}");
}

#[test]
fn a_value_naming_no_table_or_column_is_a_note() {
    let before = format!("{T} INSERT INTO t VALUES (1, 1);");
    let schema = "CREATE TABLE t(id INTEGER PRIMARY KEY, n INTEGER NOT NULL DEFAULT 0);
-- liteshift:value tt.n = 1
-- liteshift:value t.nn = 1";
    let w = warnings(&before, schema, &Options::default());
    assert!(
        w.iter().any(
            |w| w == "value tt.n = 1 applies to nothing: the declared schema has no table `tt`"
        ),
        "{w:?}"
    );
    assert!(
        w.iter().any(|w| w == "value t.nn = 1 applies to nothing: table t has no column `nn` in the declared schema"),
        "{w:?}"
    );
}

#[test]
fn an_explicit_value_for_an_unchanged_column_is_a_note_and_a_typo_an_error() {
    let before = format!("{T} INSERT INTO t VALUES (1, 1);");
    let schema = "CREATE TABLE t(id INTEGER PRIMARY KEY, n INTEGER, m INTEGER);";
    let mut opts = Options::default();
    opts.hints.add_value("t.n=n * 10").unwrap();
    let w = warnings(&before, schema, &opts);
    assert!(
        w.iter()
            .any(|w| w.contains("value t.n = n * 10 applies to nothing")),
        "{w:?}"
    );
    let mut opts = Options::default();
    opts.hints.add_value("t.nn=1").unwrap();
    let conn = db(&before);
    let err = plan_migration(&conn, schema, &opts).unwrap_err();
    assert!(err.to_string().contains("no column `nn`"), "{err}");
}

#[test]
fn a_second_value_for_the_same_column_is_a_note() {
    let before = format!("{T} INSERT INTO t VALUES (1, 1);");
    let schema = "CREATE TABLE t(id INTEGER PRIMARY KEY, n TEXT);
-- liteshift:value t.n = n * 10
-- liteshift:value t.n = n * 20";
    let w = warnings(&before, schema, &Options::default());
    assert!(
        w.iter()
            .any(|w| w
                .starts_with("value t.n = n * 20 applies to nothing: an earlier value (n * 10)")),
        "{w:?}"
    );
}

#[test]
fn the_note_is_in_the_plan_summary() {
    let conn = db(&format!("{T} CREATE TABLE other(x);"));
    let schema = "CREATE TABLE t(id INTEGER PRIMARY KEY, n INTEGER); CREATE TABLE other(x, y);
-- liteshift:value t.nn = 1";
    let planned = plan_migration(&conn, schema, &Options::default()).unwrap();
    let text = liteshift::render_summary(&planned.plan);
    assert!(
        text.contains("warning: value t.nn = 1 applies to nothing"),
        "{text}"
    );
}
