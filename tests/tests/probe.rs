//! `probe`: what a host allows, found by asking it — on an ordinary connection, on connections
//! that behave like Cloudflare D1 and Durable Objects (`liteshift_tests::hosts`), inside a
//! transaction, when a statement fails midway, and on the system's SQLite shell. Every probe
//! must leave the database and the connection's settings as they were.

use std::process::Command;

use liteshift::probe::{probe, version_by_features, HostTraits, VersionSource, VERSION_MARKERS};
use liteshift::SqliteVersion;
use liteshift::{Host, HostError, Rows, Value};
use liteshift_tests::hosts::{d1_like, durable_object_like};
use rusqlite::Connection;

/// A database with a parent, a child, an index, a view and rows, in a file.
fn database(dir: &tempfile::TempDir) -> Connection {
    let conn = Connection::open(dir.path().join("app.db")).unwrap();
    conn.execute_batch(
        "PRAGMA foreign_keys = ON;
         CREATE TABLE authors(id INTEGER PRIMARY KEY, name TEXT NOT NULL);
         CREATE TABLE books(id INTEGER PRIMARY KEY, author_id INTEGER REFERENCES authors(id) ON DELETE CASCADE, title TEXT);
         CREATE INDEX books_author ON books(author_id);
         CREATE VIEW titles AS SELECT title FROM books;
         INSERT INTO authors VALUES (1, 'ada');
         INSERT INTO books VALUES (1, 1, 'notes');",
    )
    .unwrap();
    conn
}

/// What a probe must not change: the schema, the rows, the temp schema, the settings it
/// touches, and whether a transaction is open.
#[derive(Debug, PartialEq)]
struct State {
    schema: Vec<(String, String, Option<String>)>,
    rows: i64,
    temp_objects: i64,
    foreign_keys: i64,
    legacy_alter_table: i64,
    writable_schema: Option<i64>,
    autocommit: bool,
}

fn state(conn: &Connection) -> State {
    let mut stmt = conn
        .prepare("SELECT type, name, sql FROM main.sqlite_master ORDER BY rowid")
        .unwrap();
    let schema = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    let int = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0));
    State {
        schema,
        rows: int("SELECT (SELECT count(*) FROM authors) + (SELECT count(*) FROM books)").unwrap(),
        temp_objects: int("SELECT count(*) FROM temp.sqlite_master").unwrap(),
        foreign_keys: int("PRAGMA foreign_keys").unwrap(),
        legacy_alter_table: int("PRAGMA legacy_alter_table").unwrap(),
        writable_schema: int("PRAGMA writable_schema").ok(),
        autocommit: conn.is_autocommit(),
    }
}

/// Probe `conn`, and check that it is as it was.
fn probed(conn: &Connection) -> HostTraits {
    let before = state(conn);
    let traits = probe(conn).unwrap();
    assert_eq!(
        state(conn),
        before,
        "the probe changed the database or the connection"
    );
    traits
}

const NEWEST: &str = "ALTER TABLE … ALTER COLUMN … SET NOT NULL";

#[test]
fn an_ordinary_connection_allows_everything() {
    let dir = tempfile::tempdir().unwrap();
    let conn = database(&dir);
    let t = probed(&conn);
    assert_eq!(t.version, SqliteVersion::bundled());
    assert_eq!(t.version, SqliteVersion(3, 54, 1));
    assert_eq!(t.version_source, VersionSource::SqliteVersion);
    assert_eq!(t.in_transaction, Some(false));
    assert!(t.foreign_keys && t.foreign_keys_can_be_off);
    assert!(t.interactive_transactions && t.savepoints && t.temp_tables);
    assert!(t.writable_schema && t.legacy_alter_table);
    let shown = t.to_string();
    assert!(shown.starts_with("SQLite 3.54.1\nforeign-key enforcement: on, can be switched off\n"));

    let json = serde_json::to_value(&t).unwrap();
    assert_eq!(json["version_source"]["from"], "sqlite_version");
    assert_eq!(json["foreign_keys_can_be_off"], true);
}

#[test]
fn settings_already_changed_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let conn = database(&dir);
    conn.execute_batch(
        "PRAGMA foreign_keys = OFF; PRAGMA legacy_alter_table = ON; PRAGMA writable_schema = ON",
    )
    .unwrap();
    let t = probed(&conn);
    assert!(!t.foreign_keys && t.foreign_keys_can_be_off);
    assert!(t.writable_schema && t.legacy_alter_table);
}

#[test]
fn a_d1_like_connection() {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = database(&dir);
    d1_like(&mut conn);
    // The emulation holds what was measured on D1.
    conn.execute_batch("PRAGMA foreign_keys = OFF").unwrap();
    let fk: i64 = conn
        .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
        .unwrap();
    assert_eq!(fk, 1);
    for refused in [
        "BEGIN",
        "SAVEPOINT s",
        "SELECT sqlite_version()",
        "PRAGMA compile_options",
    ] {
        let e = conn.execute_batch(refused).unwrap_err();
        let m = e.to_string();
        assert!(
            m.contains("not authorized") || m.contains("prohibited"),
            "{refused}: {m}"
        );
    }

    let t = probed(&conn);
    assert!(t.version >= SqliteVersion(3, 53, 0) && t.version <= SqliteVersion::bundled());
    assert_eq!(
        t.version_source,
        VersionSource::Features { feature: NEWEST }
    );
    assert_eq!(t.in_transaction, Some(false)); // the rusqlite host knows without BEGIN
    assert!(t.foreign_keys && !t.foreign_keys_can_be_off);
    assert!(!t.interactive_transactions && !t.savepoints);
    assert!(t.temp_tables && t.writable_schema);
    assert!(
        !t.legacy_alter_table,
        "enforcement is on, so a rename rewrites REFERENCES"
    );
    let shown = t.to_string();
    assert!(shown.starts_with("SQLite 3.53.0 or later (sqlite_version() refused; the newest feature found: ALTER TABLE … ALTER COLUMN … SET NOT NULL)\nforeign-key enforcement: on, cannot be switched off\n"), "{shown}");
}

/// D1's measured `legacy_alter_table` behaviour is SQLite's own while enforcement is on: the
/// d1-like connection needs no rule for it.
#[test]
fn with_enforcement_on_legacy_mode_still_rewrites_references() {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = database(&dir);
    d1_like(&mut conn);
    conn.execute_batch("PRAGMA legacy_alter_table = ON; ALTER TABLE authors RENAME TO writers")
        .unwrap();
    let books: String = conn
        .query_row(
            "SELECT sql FROM sqlite_master WHERE name = 'books'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(books.contains("\"writers\""), "{books}");
}

#[test]
fn a_durable_object_like_connection() {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = database(&dir);
    durable_object_like(&mut conn);
    for refused in [
        "BEGIN",
        "SAVEPOINT s",
        "SELECT sqlite_version()",
        "CREATE TEMP TABLE t(x)",
        "CREATE TABLE temp.t(x)",
        "PRAGMA writable_schema",
        "SELECT * FROM _cf_KV",
    ] {
        let e = conn.execute_batch(refused).unwrap_err();
        let m = e.to_string();
        assert!(
            m.contains("not authorized") || m.contains("prohibited"),
            "{refused}: {m}"
        );
    }

    let t = probed(&conn);
    assert!(t.version >= SqliteVersion(3, 53, 0) && t.version <= SqliteVersion::bundled());
    assert_eq!(
        t.version_source,
        VersionSource::Features { feature: NEWEST }
    );
    assert!(t.foreign_keys && t.foreign_keys_can_be_off);
    assert!(!t.interactive_transactions && !t.savepoints && !t.temp_tables);
    assert!(!t.writable_schema);
    assert!(
        !t.legacy_alter_table,
        "not shown: nowhere to rename without leaving tables"
    );
}

#[test]
fn inside_a_transaction() {
    let dir = tempfile::tempdir().unwrap();
    let conn = database(&dir);
    conn.execute_batch("BEGIN; INSERT INTO authors VALUES (2, 'grace')")
        .unwrap();
    let t = probed(&conn);
    assert_eq!(t.in_transaction, Some(true));
    assert!(t.interactive_transactions && t.savepoints && t.temp_tables);
    assert!(t.foreign_keys && !t.foreign_keys_can_be_off);
    assert!(
        !t.legacy_alter_table,
        "enforcement stays on inside a transaction"
    );
    assert!(t
        .to_string()
        .contains("on, cannot be switched off inside a transaction"));
    // The caller's transaction and its write are still there.
    assert!(!conn.is_autocommit());
    conn.execute_batch("ROLLBACK").unwrap();
    let authors: i64 = conn
        .query_row("SELECT count(*) FROM authors", [], |r| r.get(0))
        .unwrap();
    assert_eq!(authors, 1);

    conn.execute_batch("PRAGMA foreign_keys = OFF; BEGIN")
        .unwrap();
    let t = probed(&conn);
    assert!(!t.foreign_keys && t.foreign_keys_can_be_off && t.legacy_alter_table);
    conn.execute_batch("ROLLBACK").unwrap();
}

/// Where temp tables are refused and savepoints are not, the rename experiment runs in `main`
/// inside a savepoint, rolled back.
#[test]
fn without_temp_tables_the_experiment_runs_in_a_rolled_back_savepoint() {
    use rusqlite::hooks::{AuthAction, AuthContext, Authorization};
    let dir = tempfile::tempdir().unwrap();
    let mut conn = database(&dir);
    conn.authorizer(Some(|ctx: AuthContext<'_>| match ctx.action {
        AuthAction::CreateTempTable { .. } => Authorization::Deny,
        _ => Authorization::Allow,
    }))
    .unwrap();
    let t = probed(&conn);
    assert!(
        !t.temp_tables && t.savepoints && t.legacy_alter_table,
        "{t:?}"
    );
}

/// A connection whose statements beginning with `prefix` fail: as a busy database (`busy`),
/// or as a refusal.
struct Failing<'c> {
    conn: &'c Connection,
    prefix: &'static str,
    busy: bool,
}

impl Host for Failing<'_> {
    fn execute(&self, sql: &str) -> Result<(), HostError> {
        self.fail(sql)?;
        Host::execute(self.conn, sql)
    }
    fn query(&self, sql: &str) -> Result<Rows, HostError> {
        self.fail(sql)?;
        Host::query(self.conn, sql)
    }
    fn scratch(&self) -> Result<Box<dyn Host>, HostError> {
        Host::scratch(self.conn)
    }
    fn in_transaction(&self) -> Result<bool, HostError> {
        Ok(!self.conn.is_autocommit())
    }
}

impl Failing<'_> {
    fn fail(&self, sql: &str) -> Result<(), HostError> {
        if !sql.trim_start().starts_with(self.prefix) {
            return Ok(());
        }
        Err(HostError {
            code: Some(if self.busy { 5 } else { 23 }),
            message: if self.busy {
                "database is locked".into()
            } else {
                "not authorized".into()
            },
            offset: None,
        })
    }
}

#[test]
fn a_statement_failing_midway_leaves_everything_as_it_was() {
    let prefixes = [
        "SELECT sqlite_version()",
        "EXPLAIN ALTER TABLE",
        "SELECT * FROM pragma_",
        "BEGIN",
        "ROLLBACK",
        "PRAGMA foreign_keys = OFF",
        "PRAGMA legacy_alter_table = ON",
        "PRAGMA writable_schema = ON",
        "EXPLAIN UPDATE sqlite_master",
        "SAVEPOINT",
        "CREATE TEMP TABLE",
        "CREATE TABLE main.",
        "ALTER TABLE",
        "SELECT sql FROM",
        "PRAGMA legacy_alter_table",
        "PRAGMA writable_schema",
    ];
    for prefix in prefixes {
        for busy in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let conn = database(&dir);
            let before = state(&conn);
            let host = Failing {
                conn: &conn,
                prefix,
                busy,
            };
            let result = probe(&host);
            if prefix == "ROLLBACK" {
                // The probe's own BEGIN cannot be ended: the error says so.
                let m = result.unwrap_err().to_string();
                assert!(m.contains("roll back the connection's transaction"), "{m}");
                continue;
            }
            assert_eq!(state(&conn), before, "{prefix} (busy: {busy}): {result:?}");
            if busy {
                if let Err(e) = &result {
                    let m = e.to_string();
                    assert!(m.contains("database is locked"), "{prefix}: {m}");
                }
            } else {
                assert!(
                    result.is_ok(),
                    "{prefix}: a refusal is an answer: {result:?}"
                );
            }
        }
    }
}

/// When enforcement cannot be put back, the error says so and what to do.
#[test]
fn a_setting_that_cannot_be_put_back_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let conn = database(&dir);
    let host = Failing {
        conn: &conn,
        prefix: "PRAGMA foreign_keys = ON",
        busy: false,
    };
    let e = probe(&host).unwrap_err().to_string();
    assert!(
        e.contains("PRAGMA foreign_keys = ON") && e.contains("before using this connection"),
        "{e}"
    );
    conn.execute_batch("PRAGMA foreign_keys = ON").unwrap();
    assert!(conn.is_autocommit());
}

/// The system's `sqlite3` shell as a host, one process per statement: enough for statements
/// that need no state (the version markers), nothing else.
struct Shell;

impl Host for Shell {
    fn execute(&self, sql: &str) -> Result<(), HostError> {
        self.query(sql).map(drop)
    }
    fn query(&self, sql: &str) -> Result<Rows, HostError> {
        let out = Command::new("sqlite3")
            .arg(":memory:")
            .arg(sql)
            .output()
            .map_err(|e| HostError::new(e.to_string()))?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() || !stderr.trim().is_empty() {
            return Err(HostError::new(stderr.trim()));
        }
        let stdout = String::from_utf8_lossy(&out.stdout);
        Ok(stdout
            .lines()
            .map(|l| vec![Value::Text(l.to_string())])
            .collect())
    }
    fn scratch(&self) -> Result<Box<dyn Host>, HostError> {
        Err(HostError::new("the shell host has no scratch database"))
    }
}

/// On an older SQLite (the system's shell: 3.40.1 here), the features found give the newest
/// marker at or below its version.
#[test]
fn an_older_sqlite_shows_the_floor_of_its_version() {
    let Ok(rows) = Shell.query("SELECT sqlite_version()") else {
        eprintln!("skipped: no sqlite3 shell on PATH");
        return;
    };
    let reported = SqliteVersion::parse(&rows[0][0].text().unwrap()).unwrap();
    let expected = VERSION_MARKERS
        .iter()
        .find(|m| m.since <= reported)
        .unwrap();
    let (found, source) = version_by_features(&Shell).unwrap();
    assert_eq!(found, expected.since, "the shell reports {reported}");
    assert_eq!(
        source,
        VersionSource::Features {
            feature: expected.feature
        }
    );
    if reported == SqliteVersion(3, 40, 1) {
        assert_eq!(found, SqliteVersion(3, 38, 0));
    }
}

/// A connection that counts the host calls made on it.
struct Counting<'c> {
    conn: &'c Connection,
    calls: std::cell::Cell<usize>,
}

impl Host for Counting<'_> {
    fn execute(&self, sql: &str) -> Result<(), HostError> {
        self.calls.set(self.calls.get() + 1);
        Host::execute(self.conn, sql)
    }
    fn query(&self, sql: &str) -> Result<Rows, HostError> {
        self.calls.set(self.calls.get() + 1);
        Host::query(self.conn, sql)
    }
    fn scratch(&self) -> Result<Box<dyn Host>, HostError> {
        Host::scratch(self.conn)
    }
    /// One call, as for hosts with a multi-statement call (rusqlite, sql.js, `oo1.DB`).
    fn execute_script(&self, sql: &str) -> Result<(), HostError> {
        self.calls.set(self.calls.get() + 1);
        Host::execute_script(self.conn, sql)
    }
    fn in_transaction(&self) -> Result<bool, HostError> {
        Ok(!self.conn.is_autocommit())
    }
}

/// Each host call may cross into JavaScript: the probe makes a few, however many tables the
/// database holds.
#[test]
fn a_probe_makes_a_few_host_calls() {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = database(&dir);
    let counted = |conn: &Connection| {
        let host = Counting {
            conn,
            calls: Default::default(),
        };
        probe(&host).unwrap();
        host.calls.get()
    };
    let ordinary = counted(&conn);
    for i in 0..50 {
        conn.execute_batch(&format!("CREATE TABLE t{i}(x REFERENCES authors(id))"))
            .unwrap();
    }
    assert_eq!(counted(&conn), ordinary);
    d1_like(&mut conn);
    let d1 = counted(&conn);
    eprintln!("host calls: ordinary {ordinary}, d1-like {d1}");
    assert!(
        ordinary <= 18 && d1 <= 18,
        "ordinary {ordinary}, d1-like {d1}"
    );
    let dir = tempfile::tempdir().unwrap();
    let mut conn = database(&dir);
    durable_object_like(&mut conn);
    let durable_object = counted(&conn);
    assert!(durable_object <= 18, "durable-object-like {durable_object}");
}
