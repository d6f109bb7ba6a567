//! A library caller keeps using its connection after `migrate` fails: after every kind of
//! failure the connection must be as it was — foreign-key enforcement, busy timeout, no open
//! transaction or savepoint of liteshift's, no temporary objects — and the database unchanged.

use std::path::Path;
use std::time::Duration;

use liteshift::{migrate, Error, Options};
use liteshift_tests::Tmpfs;
use rusqlite::Connection;

const FROM: &str = "CREATE TABLE p(id INTEGER PRIMARY KEY, name TEXT, doc TEXT);
CREATE TABLE c(id INTEGER PRIMARY KEY, p_id INTEGER REFERENCES p(id) ON DELETE CASCADE);";
/// Rebuilds `p` (foreign keys must be switched off around it).
const REBUILD: &str = "CREATE TABLE p(id INTEGER PRIMARY KEY, name TEXT COLLATE NOCASE, doc TEXT);
CREATE TABLE c(id INTEGER PRIMARY KEY, p_id INTEGER REFERENCES p(id) ON DELETE CASCADE);";
const BUSY_MS: u64 = 1234;

/// What must survive a failed migration.
#[derive(Debug, PartialEq)]
struct State {
    autocommit: bool,
    foreign_keys: bool,
    busy_timeout: i64,
    temp_objects: i64,
    schema: Vec<String>,
    rows: i64,
}

fn state(conn: &Connection) -> State {
    State {
        autocommit: conn.is_autocommit(),
        foreign_keys: conn
            .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
            .unwrap(),
        busy_timeout: conn
            .query_row("PRAGMA busy_timeout", [], |r| r.get(0))
            .unwrap(),
        temp_objects: conn
            .query_row("SELECT count(*) FROM temp.sqlite_schema", [], |r| r.get(0))
            .unwrap(),
        schema: conn
            .prepare("SELECT sql FROM main.sqlite_schema ORDER BY name")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap(),
        rows: conn
            .query_row(
                "SELECT (SELECT count(*) FROM p) + (SELECT count(*) FROM c)",
                [],
                |r| r.get(0),
            )
            .unwrap(),
    }
}

fn open(path: &Path) -> Connection {
    let conn = Connection::open(path).unwrap();
    conn.busy_timeout(Duration::from_millis(BUSY_MS)).unwrap();
    conn.execute_batch("PRAGMA foreign_keys = ON").unwrap();
    conn
}

fn setup(dir: &Path, rows: usize) -> Connection {
    let conn = open(&dir.join("app.db"));
    conn.execute_batch(FROM).unwrap();
    conn.execute_batch(&format!(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {rows})
         INSERT INTO p SELECT i, 'name ' || i, '{{\"a\": ' || i || '}}' FROM n;
         INSERT INTO c SELECT id, id FROM p;"
    ))
    .unwrap();
    conn
}

/// Migrate and expect an error; the connection must be exactly as before.
fn fails_cleanly(conn: &mut Connection, schema: &str, opts: &Options) -> Error {
    let before = state(conn);
    let err = migrate(conn, schema, opts).expect_err("the migration must fail");
    assert_eq!(state(conn), before, "after: {err}");
    err
}

#[test]
fn refusals_and_schema_errors_leave_the_connection_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = setup(dir.path(), 10);
    // Data loss refused.
    let err = fails_cleanly(
        &mut conn,
        "CREATE TABLE p(id INTEGER PRIMARY KEY, name TEXT COLLATE NOCASE);",
        &Options::default(),
    );
    assert!(matches!(err, Error::Refused(_)), "{err}");
    // Existing rows violate the target (found inside the transaction, after the FK switch).
    let err = fails_cleanly(
        &mut conn,
        &REBUILD.replace(
            "name TEXT COLLATE NOCASE",
            "name TEXT COLLATE NOCASE CHECK (length(name) < 3)",
        ),
        &Options::default(),
    );
    assert!(matches!(err, Error::Refused(_)), "{err}");
    // An invalid declared schema.
    let err = fails_cleanly(&mut conn, "CREATE TABLE p(", &Options::default());
    assert!(matches!(err, Error::Schema { .. }), "{err}");
    // A bad rename hint.
    let mut opts = Options::default();
    opts.hints.add_column_rename("p.nope=x").unwrap();
    let err = fails_cleanly(&mut conn, REBUILD, &opts);
    assert!(matches!(err, Error::InvalidOption(_)), "{err}");
}

#[test]
fn a_step_that_sqlite_fails_leaves_the_connection_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = setup(dir.path(), 10);
    conn.execute_batch("UPDATE p SET doc = 'not json' WHERE id = 5")
        .unwrap();
    // The new index's expression fails on a row: SQLite stops the step mid-way.
    let target = format!("{REBUILD}\nCREATE INDEX p_a ON p(json_extract(doc, '$.a'));");
    let err = fails_cleanly(&mut conn, &target, &Options::default());
    assert!(matches!(err, Error::StepFailed { .. }), "{err}");
    assert!(err.to_string().contains("malformed JSON"), "{err}");
}

#[test]
fn a_busy_database_leaves_the_connection_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = setup(dir.path(), 10);
    let other = Connection::open(dir.path().join("app.db")).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    let opts = Options {
        busy_timeout: Duration::from_millis(50),
        ..Options::default()
    };
    let err = fails_cleanly(&mut conn, REBUILD, &opts);
    assert!(err.to_string().contains("database is locked"), "{err}");
    other.execute_batch("ROLLBACK").unwrap();
}

#[test]
fn inside_the_callers_transaction_a_failure_keeps_that_transaction_and_no_savepoint() {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = setup(dir.path(), 10);
    conn.execute_batch("PRAGMA foreign_keys = OFF; BEGIN; INSERT INTO p(name) VALUES ('mine')")
        .unwrap();
    // Refused inside the caller's transaction (run in a savepoint, rolled back to it).
    let target = REBUILD.replace(
        "name TEXT COLLATE NOCASE",
        "name TEXT COLLATE NOCASE CHECK (length(name) < 3)",
    );
    let err = fails_cleanly(&mut conn, &target, &Options::default());
    assert!(matches!(err, Error::Refused(_)), "{err}");
    assert!(
        !conn.is_autocommit(),
        "the caller's transaction is still open"
    );
    let e = conn.execute_batch("RELEASE liteshift").unwrap_err();
    assert!(e.to_string().contains("no such savepoint"), "{e}");
    let mine: i64 = conn
        .query_row("SELECT count(*) FROM p WHERE name = 'mine'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(mine, 1, "the caller's own write is kept");
    conn.execute_batch("COMMIT").unwrap();
}

#[test]
fn a_full_disk_leaves_the_connection_and_the_file_as_they_were() {
    let Some(fs) = Tmpfs::mount("2m") else {
        eprintln!("SKIPPED: cannot mount a tmpfs here (needs root); disk-full test not run");
        return;
    };
    let mut conn = setup(&fs.0, 30_000);
    let size = std::fs::metadata(fs.0.join("app.db")).unwrap().len();
    assert!(
        size > 1_000_000,
        "the database fills most of the filesystem ({size} bytes)"
    );
    let err = fails_cleanly(&mut conn, REBUILD, &Options::default());
    assert!(
        err.to_string().contains("full") || err.to_string().contains("disk"),
        "{err}"
    );
    eprintln!("disk full: {err}");
    drop(conn);
}
