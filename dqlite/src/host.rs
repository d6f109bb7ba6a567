//! `liteshift::Host` over a dqlite connection.

use std::time::{Duration, Instant};

use liteshift::{Host, HostError, Rows, Value};

use crate::client::{ConnectOptions, Connection, Error};
use crate::wire::WireValue;

/// The page cache limit set on a host's connection, in KiB (pages are allocated only as a
/// transaction uses them). dqlite 1.11 cannot read back pages that SQLite spilled from a
/// full cache in the middle of a transaction: a later read in the same transaction fails
/// with "disk I/O error" and the leader rolls the transaction back. A migration's
/// transaction must fit in this cache (it fails, changing nothing, when it does not).
pub const CACHE_KIB: u64 = 1 << 20;

/// Where a database lives: the nodes to ask for the leader, and the database's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub nodes: Vec<String>,
    pub database: String,
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "dqlite://{}/{}", self.nodes.join(","), self.database)
    }
}

/// Parse `dqlite://HOST:PORT[,HOST:PORT…]/NAME`.
pub fn parse_url(url: &str) -> Result<Target, String> {
    let rest = url
        .strip_prefix("dqlite://")
        .ok_or_else(|| format!("{url:?}: a dqlite URL starts with dqlite://"))?;
    let (nodes, database) = rest.split_once('/').ok_or_else(|| {
        format!("{url:?}: no database name (dqlite://HOST:PORT[,HOST:PORT…]/NAME)")
    })?;
    if database.is_empty() || database.contains('/') {
        return Err(format!(
            "{url:?}: the database name is one path segment (dqlite://HOST:PORT/NAME)"
        ));
    }
    let nodes: Vec<String> = nodes
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(String::from)
        .collect();
    if nodes.is_empty() {
        return Err(format!("{url:?}: no node (dqlite://HOST:PORT/NAME)"));
    }
    for n in &nodes {
        match n.rsplit_once(':') {
            Some((h, p)) if !h.is_empty() && p.parse::<u16>().is_ok() => {}
            _ => return Err(format!("{url:?}: node {n:?} is not HOST:PORT")),
        }
    }
    Ok(Target {
        nodes,
        database: database.to_string(),
    })
}

/// A liteshift host on a dqlite database: statements run on the leader; the declared schema
/// is loaded into liteshift's own SQLite (an in-memory rusqlite connection), and the plan is
/// made for the cluster's SQLite version (`sqlite_version()` on the leader).
#[derive(Debug)]
pub struct DqliteHost {
    conn: Connection,
    busy_timeout: std::cell::Cell<Duration>,
}

impl DqliteHost {
    /// A host on an open connection (an app that holds its own). Raises the connection's
    /// page cache limit to [`CACHE_KIB`] (see there); a lost connection shows at the next
    /// call.
    pub fn new(conn: Connection) -> Self {
        let _ = conn.exec(&format!("PRAGMA cache_size = -{CACHE_KIB}"));
        DqliteHost {
            conn,
            busy_timeout: std::cell::Cell::new(Duration::from_secs(5)),
        }
    }

    /// Connect to the leader of `target` and open its database.
    pub fn connect(target: &Target, opts: &ConnectOptions) -> Result<Self, Error> {
        Ok(Self::new(Connection::connect(
            &target.nodes,
            &target.database,
            opts,
        )?))
    }

    /// Connect with a `dqlite://HOST:PORT[,HOST:PORT…]/NAME` URL and the default options.
    pub fn connect_url(url: &str) -> Result<Self, Error> {
        let target = parse_url(url).map_err(Error::BadUrl)?;
        Self::connect(&target, &ConnectOptions::default())
    }

    /// The connection.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }
}

/// A dqlite error as a host error: SQLite's code and message once; a lost connection names
/// the node.
pub fn host_error(e: Error) -> HostError {
    match e {
        Error::Failure { code, message } => HostError {
            code: i32::try_from(code).ok(),
            message,
            offset: None,
        },
        other => HostError::new(other.to_string()),
    }
}

fn value(v: WireValue) -> Value {
    match v {
        WireValue::Integer(i) | WireValue::UnixTime(i) => Value::Integer(i),
        WireValue::Boolean(b) => Value::Integer(b as i64),
        WireValue::Float(f) => Value::Real(f),
        WireValue::Text(s) | WireValue::Iso8601(s) => Value::Text(s),
        WireValue::Blob(b) => Value::Blob(b),
        WireValue::Null => Value::Null,
    }
}

fn strip_comments(mut s: &str) -> &str {
    loop {
        s = s.trim_start();
        if let Some(rest) = s.strip_prefix("--") {
            s = rest.split_once('\n').map_or("", |(_, r)| r);
        } else if let Some(rest) = s.strip_prefix("/*") {
            s = rest.split_once("*/").map_or("", |(_, r)| r);
        } else {
            return s;
        }
    }
}

fn is_begin(sql: &str) -> bool {
    strip_comments(sql)
        .get(..5)
        .is_some_and(|w| w.eq_ignore_ascii_case("begin"))
}

impl Host for DqliteHost {
    /// `dqlite://LEADER/NAME`: messages name the cluster's database even when the connection
    /// is gone.
    fn describe(&self) -> Option<String> {
        Some(format!(
            "dqlite://{}/{}",
            self.conn.address(),
            self.conn.database()
        ))
    }

    fn execute(&self, sql: &str) -> Result<(), HostError> {
        if let Some(ms) = busy_timeout_setting(sql) {
            self.busy_timeout.set(Duration::from_millis(ms));
        }
        // dqlite serves one writer at a time and answers BEGIN IMMEDIATE with SQLITE_BUSY at
        // once while another connection writes: wait as a busy timeout would. Only BEGIN is
        // retried, and only on BUSY, when it did nothing.
        let started = Instant::now();
        loop {
            match self.conn.exec(sql) {
                Ok(_) => return Ok(()),
                // SQLITE_ROW: the statement ran to its first row (`PRAGMA busy_timeout = N`
                // answers with the new value); its rows are discarded, as `execute` says.
                Err(Error::Failure { code: 100, .. }) => return Ok(()),
                Err(Error::Failure { code, .. })
                    if code & 0xff == 5
                        && is_begin(sql)
                        && started.elapsed() < self.busy_timeout.get() =>
                {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => return Err(host_error(e)),
            }
        }
    }

    fn query(&self, sql: &str) -> Result<Rows, HostError> {
        // (QUERY_SQL refuses a statement without result columns, with SQLITE_ERROR "not an
        // error", before running it; the core queries none.)
        let r = self.conn.query(sql).map_err(host_error)?;
        Ok(r.rows
            .into_iter()
            .map(|row| row.into_iter().map(value).collect())
            .collect())
    }

    fn scratch(&self) -> Result<Box<dyn Host>, HostError> {
        rusqlite::Connection::open_in_memory()
            .map(|c| Box::new(c) as Box<dyn Host>)
            .map_err(liteshift::host_error)
    }
}

/// `PRAGMA busy_timeout = N` → N.
fn busy_timeout_setting(sql: &str) -> Option<u64> {
    let s = strip_comments(sql).to_ascii_lowercase();
    let rest = s.strip_prefix("pragma")?.trim_start();
    let rest = rest.strip_prefix("busy_timeout")?.trim_start();
    let rest = rest.strip_prefix('=')?.trim();
    rest.trim_end_matches(';').trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let t = parse_url("dqlite://127.0.0.1:9001,127.0.0.1:9002/app").unwrap();
        assert_eq!(t.nodes, vec!["127.0.0.1:9001", "127.0.0.1:9002"]);
        assert_eq!(t.database, "app");
        assert_eq!(t.to_string(), "dqlite://127.0.0.1:9001,127.0.0.1:9002/app");
        assert!(parse_url("dqlite://127.0.0.1:9001").is_err());
        assert!(parse_url("dqlite://127.0.0.1/app").is_err());
        assert!(parse_url("file.db").is_err());
    }

    #[test]
    fn statement_kinds() {
        assert!(is_begin("  -- x\n begin"));
        assert!(!is_begin("/* a */ select 1"));
        assert!(is_begin("BEGIN IMMEDIATE"));
        assert_eq!(busy_timeout_setting("PRAGMA busy_timeout = 250"), Some(250));
        assert_eq!(busy_timeout_setting("PRAGMA foreign_keys = 1"), None);
    }
}
