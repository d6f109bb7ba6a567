//! Data checks that wait for a failing step: a migration of valid data does not scan for
//! violations SQLite itself would stop at, and a migration of invalid data is refused exactly
//! as before — every violating row counted, examples named, the database unchanged. Where
//! SQLite would not stop (an `ON CONFLICT` clause, `PRAGMA ignore_check_constraints`), the
//! checks run first.

use liteshift::{migrate, plan_migration, Error, Options, Refusal};
use rusqlite::Connection;

fn db(sql: &str) -> Connection {
    let c = Connection::open_in_memory().unwrap();
    c.execute_batch(sql).unwrap();
    c
}

fn dump(c: &Connection) -> Vec<String> {
    let mut s = c
        .prepare("SELECT quote(id) || ',' || quote(name) || ',' || quote(n) FROM t ORDER BY id")
        .unwrap();
    s.query_map([], |r| r.get(0))
        .unwrap()
        .map(|r| r.unwrap())
        .collect()
}

const FROM: &str = "CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, n INTEGER);
INSERT INTO t VALUES (1, NULL, 5), (2, 'b', -1), (3, NULL, -2), (4, 'd', 4), (5, 'd', 6);";

fn refused(c: &mut Connection, schema: &str, opts: &Options) -> Vec<(String, u64)> {
    let before = dump(c);
    let err = migrate(c, schema, opts).unwrap_err();
    assert_eq!(dump(c), before, "unchanged");
    assert!(c.is_autocommit(), "no transaction or savepoint left open");
    match err {
        Error::Refused(Refusal::Violations { violations }) => violations
            .into_iter()
            .map(|v| (v.constraint, v.count))
            .collect(),
        other => panic!("expected a refusal, got {other}"),
    }
}

#[test]
fn a_step_that_stops_at_a_bad_row_is_reported_with_every_bad_row() {
    let mut c = db(FROM);
    let schema =
        "CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT NOT NULL, n INTEGER CHECK (n >= 0));";
    let plan = plan_migration(&c, schema, &Options::default())
        .unwrap()
        .plan;
    assert!(plan.checks.iter().all(|k| k.deferred), "{:?}", plan.checks);
    let v = refused(&mut c, schema, &Options::default());
    assert_eq!(
        v,
        vec![("NOT NULL".into(), 2), ("CHECK (n >= 0)".into(), 2)],
        "both constraints, every row"
    );
}

#[test]
fn unique_on_conflict_replace_is_checked_before_anything_runs() {
    // Copying into `UNIQUE ON CONFLICT REPLACE` would silently delete row 4: a refusal.
    let mut c = db(FROM);
    let schema =
        "CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT UNIQUE ON CONFLICT REPLACE, n INTEGER);";
    let plan = plan_migration(&c, schema, &Options::default())
        .unwrap()
        .plan;
    assert!(plan.checks.iter().all(|k| !k.deferred), "{:?}", plan.checks);
    let v = refused(&mut c, schema, &Options::default());
    assert_eq!(v.len(), 1, "{v:?}");
    assert!(v[0].0.starts_with("UNIQUE"), "{v:?}");
}

#[test]
fn not_null_on_conflict_ignore_is_checked_before_anything_runs() {
    let mut c = db(FROM);
    let schema =
        "CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT NOT NULL ON CONFLICT IGNORE, n INTEGER);";
    let v = refused(&mut c, schema, &Options::default());
    assert_eq!(v, vec![("NOT NULL".into(), 2)]);
}

#[test]
fn with_check_constraints_ignored_the_checks_run_first() {
    let mut c = db(FROM);
    c.execute_batch("PRAGMA ignore_check_constraints = ON")
        .unwrap();
    let schema = "CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, n INTEGER CHECK (n >= 0));";
    let v = refused(&mut c, schema, &Options::default());
    assert_eq!(v, vec![("CHECK (n >= 0)".into(), 2)]);
}

#[test]
fn inside_the_callers_transaction_the_refusal_leaves_it_open_and_unchanged() {
    let mut c = db(FROM);
    c.execute_batch("PRAGMA foreign_keys = OFF; BEGIN; INSERT INTO t VALUES (6, 'f', 1);")
        .unwrap();
    let schema = "CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, n INTEGER CHECK (n >= 0));";
    let before = dump(&c);
    let err = migrate(&mut c, schema, &Options::default()).unwrap_err();
    assert!(matches!(err, Error::Refused(_)), "{err}");
    assert!(!c.is_autocommit(), "the caller's transaction is still open");
    assert_eq!(dump(&c), before);
    c.execute_batch("COMMIT").unwrap();
}

#[test]
fn valid_data_migrates_with_the_checks_deferred() {
    let mut c = db(
        "CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, n INTEGER);
        INSERT INTO t VALUES (1, 'a', 1), (2, 'b', 2);",
    );
    let schema = "CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, n INTEGER CHECK (n >= 0));";
    let r = migrate(&mut c, schema, &Options::default()).unwrap();
    assert!(r.steps_applied > 0);
    assert_eq!(dump(&c), vec!["1,'a',1", "2,'b',2"]);
    assert!(c.is_autocommit());
}
