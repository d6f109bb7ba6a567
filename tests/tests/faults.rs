//! Faults a host reports: an I/O error (SQLITE_IOERR) is named as one — never as corruption —
//! at every point of a migration where a read can fail, and nothing is changed.

use liteshift::{Error, Host, HostError, Options, Rows};
use rusqlite::Connection;

/// A connection whose statements beginning with `prefix` fail with SQLITE_IOERR_READ, as a
/// failing disk makes SQLite report them.
struct FailingReads<'c> {
    conn: &'c Connection,
    prefix: &'static str,
}

impl FailingReads<'_> {
    fn fail(&self, sql: &str) -> Result<(), HostError> {
        if sql.trim_start().starts_with(self.prefix) {
            return Err(HostError {
                code: Some(266), // SQLITE_IOERR_READ
                message: "disk I/O error".into(),
                offset: None,
            });
        }
        Ok(())
    }
}

impl Host for FailingReads<'_> {
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

#[test]
fn io_errors_are_kinds_of_their_own() {
    use liteshift::HostErrorKind as ErrorKind;
    for code in [10, 266, 778, 1034, 3338] {
        let e = HostError {
            code: Some(code),
            message: "disk I/O error".into(),
            offset: None,
        };
        assert_eq!(e.kind(), ErrorKind::IoErr, "code {code}");
    }
    assert_eq!(HostError::new("disk I/O error").kind(), ErrorKind::IoErr);
    assert_eq!(
        HostError::new("database disk image is malformed").kind(),
        ErrorKind::Corrupt
    );
}

#[test]
fn a_read_failing_during_the_checks_is_an_io_error_not_corruption() {
    let schema = "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT NOT NULL COLLATE NOCASE, w);";
    // Each read that apply makes before its first step: the quick_check of a rebuilt table,
    // the read of every table's first page, the catalog.
    for prefix in ["PRAGMA quick_check", "SELECT (SELECT 1 FROM", "SELECT"] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.db");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT);
             INSERT INTO t VALUES (1, 'a'), (2, 'b');",
        )
        .unwrap();
        let mut host = FailingReads {
            conn: &conn,
            prefix,
        };
        let e = liteshift::migrate(&mut host, schema, &Options::default()).unwrap_err();
        let text = e.to_string();
        assert!(matches!(e, Error::Database { .. }), "{prefix}: {e:?}");
        assert!(text.contains("I/O error"), "{prefix}: {text}");
        assert!(
            !text.contains("malformed") && !text.contains("is corrupt"),
            "{prefix}: {text}"
        );
        let sql: String = conn
            .query_row("SELECT sql FROM sqlite_schema WHERE name = 't'", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(sql, "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)");
        assert!(conn.is_autocommit());
    }
}
