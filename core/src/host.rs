//! The host: the one way the core reaches SQLite.
//!
//! A host is any SQLite handle — a `rusqlite::Connection`, a browser page's sql.js or
//! `oo1.DB`, Python's `sqlite3.Connection`, a JDBC or Room connection — seen through three
//! calls: run SQL, run a query and get its rows, and open a fresh in-memory database on the
//! same SQLite (the *scratch* database the declared schema is loaded into, so that the host's
//! own SQLite validates it). Everything else — loading the declared schema, introspection,
//! planning, apply with its checks and verification — is built on these calls, once, in Rust.
//!
//! Architecture invariant: the rest of the core reaches SQLite only through [`Host`]; no
//! module but `host` and `hostmod` names a SQLite library (what the core needs of its own
//! SQLite — a scratch database, its version, its errors — is in `host/rusqlite_host.rs`), so
//! every host runs the same sequence; the exceptions are the `rusqlite`-feature sub-APIs whose
//! purpose is files liteshift opens itself (`fleet`, `rehearse`, `testing`). A host adapter
//! converts values and errors, and does nothing else.
//!
//! Architecture invariant: the core never assumes more of a host than these calls. What a
//! host's SQLite can do is found out with SQL (`sqlite_version()`), and older SQLites get the
//! older forms (see [`mod@crate::introspect`]).

use std::path::Path;

/// A SQLite value, as a query returns it.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

impl Value {
    /// The value as text: TEXT as is, an integer (or an integral REAL) in decimal; NULL, BLOB
    /// and other REALs as `None` (nothing the core reads as text is one, and leaving float
    /// formatting out keeps the npm module small).
    pub fn text(&self) -> Option<String> {
        match self {
            Value::Text(s) => Some(s.clone()),
            Value::Integer(i) => Some(i.to_string()),
            Value::Real(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Some((*f as i64).to_string()),
            Value::Real(_) | Value::Null | Value::Blob(_) => None,
        }
    }

    /// The value as an integer (TEXT that is an integer counts; NULL is `None`).
    pub fn int(&self) -> Option<i64> {
        match self {
            Value::Integer(i) => Some(*i),
            Value::Real(f) => Some(*f as i64),
            Value::Text(s) => s.trim().parse().ok(),
            Value::Null | Value::Blob(_) => None,
        }
    }

    /// The value as a truth value: a non-zero integer.
    pub fn truth(&self) -> bool {
        self.int().unwrap_or(0) != 0
    }
}

/// The rows of a query, each a list of values in column order.
pub type Rows = Vec<Vec<Value>>;

/// A value of a row being read, borrowed from the host for one call of the row callback of
/// [`Host::query_each`]. Text is SQLite's bytes (UTF-8 unchecked).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ValueRef<'a> {
    Null,
    Integer(i64),
    Real(f64),
    Text(&'a [u8]),
    Blob(&'a [u8]),
}

impl ValueRef<'_> {
    /// The bytes of a text or blob (`None` for any other).
    pub fn bytes(&self) -> Option<&[u8]> {
        match self {
            ValueRef::Text(b) | ValueRef::Blob(b) => Some(b),
            _ => None,
        }
    }
}

impl Value {
    /// This value, borrowed.
    pub fn as_ref(&self) -> ValueRef<'_> {
        match self {
            Value::Null => ValueRef::Null,
            Value::Integer(i) => ValueRef::Integer(*i),
            Value::Real(f) => ValueRef::Real(*f),
            Value::Text(s) => ValueRef::Text(s.as_bytes()),
            Value::Blob(b) => ValueRef::Blob(b),
        }
    }
}

/// An error a host's SQLite reported.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct HostError {
    /// SQLite's result code (primary or extended), when the host knows it.
    pub code: Option<i32>,
    /// SQLite's message, once.
    pub message: String,
    /// Where in the SQL text SQLite found the error (byte offset), when the host knows it.
    pub offset: Option<usize>,
}

impl HostError {
    /// An error with a message only (hosts that report no result code).
    pub fn new(message: impl Into<String>) -> Self {
        HostError {
            code: None,
            message: message.into(),
            offset: None,
        }
    }

    /// What kind of failure this is, from the result code or, for hosts that give none,
    /// from SQLite's message (its wording for these codes has been stable for decades; a
    /// message can quote user text, so the code decides wherever there is one).
    pub fn kind(&self) -> ErrorKind {
        let by_code = match self.code.map(|c| c & 0xff) {
            Some(5) | Some(6) => Some(ErrorKind::Busy),
            Some(8) => Some(ErrorKind::ReadOnly),
            Some(10) => Some(ErrorKind::IoErr),
            Some(11) => Some(ErrorKind::Corrupt),
            Some(13) => Some(ErrorKind::Full),
            Some(14) => Some(ErrorKind::CannotOpen),
            Some(19) => Some(ErrorKind::Constraint),
            Some(20) => Some(ErrorKind::Mismatch),
            Some(23) => Some(ErrorKind::Refused),
            Some(26) => Some(ErrorKind::NotADatabase),
            _ => None,
        };
        match (by_code, self.code) {
            (Some(k), _) => return k,
            (None, Some(_)) => return ErrorKind::Other,
            (None, None) => {}
        }
        let m = self.message.to_ascii_lowercase();
        let has = |s: &str| m.contains(s);
        if has("database is locked") || has("database table is locked") || has("sqlite_busy") {
            ErrorKind::Busy
        } else if has("database disk image is malformed") || has("sqlite_corrupt") {
            ErrorKind::Corrupt
        } else if has("disk i/o error") || has("sqlite_ioerr") {
            ErrorKind::IoErr
        } else if has("database or disk is full") || has("sqlite_full") {
            ErrorKind::Full
        } else if has("file is not a database") || has("file is encrypted") {
            ErrorKind::NotADatabase
        } else if has("readonly database") || has("read-only") {
            ErrorKind::ReadOnly
        } else if has("unable to open database") {
            ErrorKind::CannotOpen
        } else if has("constraint failed") || has("sqlite_constraint") {
            ErrorKind::Constraint
        } else if has("not authorized") {
            ErrorKind::Refused
        } else if has("datatype mismatch") {
            ErrorKind::Mismatch
        } else {
            ErrorKind::Other
        }
    }
}

/// The failures the core treats differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    Busy,
    ReadOnly,
    Corrupt,
    /// The operating system failed a read, write or sync (SQLITE_IOERR): the file may be
    /// intact; not to be called corruption.
    IoErr,
    Full,
    CannotOpen,
    Constraint,
    Mismatch,
    NotADatabase,
    /// The host's authorizer refused the statement (SQLITE_AUTH: "not authorized").
    Refused,
    Other,
}

/// A SQLite handle the core can drive. Implement the three required methods; the others
/// have defaults built on them.
pub trait Host {
    /// Run one complete SQL statement; rows it returns (`PRAGMA busy_timeout = 5000` returns
    /// one) are discarded.
    fn execute(&self, sql: &str) -> Result<(), HostError>;

    /// Run one query and return all its rows.
    fn query(&self, sql: &str) -> Result<Rows, HostError>;

    /// Run one query, calling `on_row` with each row's values, borrowed for that call. The
    /// default reads every row with [`Host::query`] first; a host that can lend its own
    /// buffers saves a copy of every value (the rusqlite host: an in-sync start-up is mostly
    /// this one read of `sqlite_schema`).
    fn query_each(
        &self,
        sql: &str,
        on_row: &mut dyn FnMut(&[ValueRef<'_>]),
    ) -> Result<(), HostError> {
        for row in self.query(sql)? {
            let refs: Vec<ValueRef<'_>> = row.iter().map(Value::as_ref).collect();
            on_row(&refs);
        }
        Ok(())
    }

    /// Open a fresh, empty in-memory database on the same SQLite library (same version, same
    /// compile options, same virtual-table modules). The declared schema is loaded there.
    fn scratch(&self) -> Result<Box<dyn Host>, HostError>;

    /// Run SQL text of several complete statements, in order, stopping at the first error.
    /// The default splits the text with SQLite's tokenizer and runs each statement with
    /// [`Host::execute`]; hosts with a multi-statement call (`sqlite3_exec`, sql.js's and
    /// `oo1.DB`'s `exec`) may use it instead, to save round trips.
    fn execute_script(&self, sql: &str) -> Result<(), HostError> {
        execute_statements(self, sql)
    }

    /// Run `sql` like [`Host::execute_script`], calling `on_rows` with the number of rows it
    /// has written so far every `every` rows (a progress bar's rows per second). The default
    /// cannot count and only runs the script; a host with an update hook counts with it, and
    /// removes it when the script ends (an update hook the app had set is replaced: SQLite
    /// keeps one per connection). `on_rows` must not use the connection.
    fn execute_counting_rows(
        &self,
        sql: &str,
        every: u64,
        on_rows: &mut dyn FnMut(u64),
    ) -> Result<(), HostError> {
        let _ = (every, on_rows);
        self.execute_script(sql)
    }

    /// Whether the connection is inside a transaction (or savepoint). The default asks SQLite:
    /// `BEGIN` fails inside a transaction, and is rolled back at once otherwise.
    fn in_transaction(&self) -> Result<bool, HostError> {
        in_transaction_by_begin(self)
    }

    /// What the database is called in messages where SQLite cannot say (`PRAGMA
    /// database_list` refused, or the connection gone): a URL, a binding's name. `None` by
    /// default: messages then name the file SQLite reports.
    fn describe(&self) -> Option<String> {
        None
    }

    /// The migration runs inside a transaction the caller opened through the host's own API
    /// (a Durable Object's `ctx.storage.transactionSync(fn)`), which the caller commits when
    /// liteshift returns a report and rolls back — everything, liteshift's steps included —
    /// when it returns an error. liteshift then opens no transaction or savepoint of its own
    /// (such a host refuses both), runs every data check before the first step, and plans a
    /// rebuild for the foreign-key enforcement it finds on (it cannot change inside the
    /// transaction). Defaults to false: liteshift's own `BEGIN`, or a savepoint inside the
    /// caller's transaction.
    fn caller_transaction(&self) -> bool {
        false
    }

    /// Write a consistent copy of the database to `dest` while the caller holds the write
    /// lock (inside the migration's transaction). Hosts without a backup API cannot: the
    /// default says so, and a migration asked for a backup then changes nothing.
    fn backup(&self, dest: &Path) -> Result<(), String> {
        let _ = dest;
        Err("this host cannot copy its database inside a transaction (only the rusqlite host has SQLite's backup API); make a copy before migrating".into())
    }
}

/// Whether `host` is inside a transaction, asked with SQL (the default of
/// [`Host::in_transaction`]): `BEGIN` fails inside one, and is rolled back at once otherwise.
pub fn in_transaction_by_begin<H: Host + ?Sized>(host: &H) -> Result<bool, HostError> {
    match host.execute("BEGIN") {
        Ok(()) => {
            host.execute("ROLLBACK")?;
            Ok(false)
        }
        Err(e) if e.message.contains("within a transaction") => Ok(true),
        Err(e) => Err(e),
    }
}

/// Run the statements of `sql` one by one with [`Host::execute`] (the default of
/// [`Host::execute_script`], for hosts that may choose per call).
pub fn execute_statements<H: Host + ?Sized>(host: &H, sql: &str) -> Result<(), HostError> {
    for range in crate::sqltext::split_statements(sql) {
        let stmt = &sql[range.clone()];
        host.execute(stmt).map_err(|e| HostError {
            offset: e.offset.map(|o| o + range.start),
            ..e
        })?;
    }
    Ok(())
}

/// One query's first row's first value.
pub(crate) fn query_value(host: &dyn Host, sql: &str) -> Result<Value, HostError> {
    Ok(host
        .query(sql)?
        .into_iter()
        .next()
        .and_then(|r| r.into_iter().next())
        .unwrap_or(Value::Null))
}

/// The host's own name for its database ([`Host::describe`]), or the file of its `main`
/// database (":memory:" when it has none), for messages; "main" where the host will not say
/// (Durable Objects and D1 refuse `PRAGMA database_list`).
pub(crate) fn database_path(host: &dyn Host) -> String {
    if let Some(name) = host.describe() {
        return name;
    }
    let Ok(rows) = host.query("PRAGMA database_list") else {
        return "main".to_string();
    };
    let file = rows
        .into_iter()
        .find(|r| r.get(1).and_then(Value::text).as_deref() == Some("main"))
        .and_then(|r| r.get(2).and_then(Value::text));
    match file {
        Some(f) if !f.is_empty() => f,
        _ => ":memory:".to_string(),
    }
}

#[cfg(feature = "rusqlite")]
mod rusqlite_host;
#[cfg(feature = "rusqlite")]
pub(crate) use rusqlite_host::clear_errno;
#[cfg(feature = "rusqlite")]
pub(crate) use rusqlite_host::own_scratch;
#[cfg(feature = "rusqlite")]
pub(crate) use rusqlite_host::StandIns;
#[cfg(feature = "rusqlite")]
pub use rusqlite_host::{host_error, host_error_on, sqlite_message};
