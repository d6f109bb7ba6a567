//! A connection to a dqlite cluster's leader, with one database open on it.

use std::cell::RefCell;
use std::fmt;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use crate::wire::{self, request, response, Body, Reader, WireValue};

/// SQLite's `SQLITE_IOERR_NOT_LEADER` (dqlite's extended code): the node is not the leader.
pub const SQLITE_IOERR_NOT_LEADER: u64 = 10 | (40 << 8);
/// SQLite's `SQLITE_IOERR_LEADERSHIP_LOST`: the node lost leadership while the statement ran.
pub const SQLITE_IOERR_LEADERSHIP_LOST: u64 = 10 | (41 << 8);

/// What can go wrong talking to dqlite.
#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    /// The node answered with a failure: SQLite's (or dqlite's) code and message.
    Failure { code: u64, message: String },
    /// The connection broke (the node died, the network failed, or the node lost its
    /// leadership): a statement sent on it may or may not have run, so nothing is retried and
    /// the connection is not used again.
    Lost { address: String, detail: String },
    /// No node of the list could say which node leads (none reachable, or an election that
    /// did not end within the connect timeout).
    NoLeader { tried: Vec<String> },
    /// The node sent something this client cannot read.
    Protocol { address: String, detail: String },
    /// A `dqlite://` URL that does not parse.
    BadUrl(String),
}

impl Error {
    /// Whether the connection is gone (lost, or leadership lost).
    pub fn is_lost(&self) -> bool {
        matches!(self, Error::Lost { .. })
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Failure { message, .. } => write!(f, "{message}"),
            Error::Lost { address, detail } => write!(
                f,
                "lost the connection to the dqlite leader {address} ({detail}); what was sent on it may or may not have run and was not retried"
            ),
            Error::NoLeader { tried } => write!(
                f,
                "no dqlite leader found ({}); is the cluster up and has it a quorum?",
                tried.join("; ")
            ),
            Error::Protocol { address, detail } => {
                write!(f, "dqlite node {address} sent an unreadable message: {detail}")
            }
            Error::BadUrl(m) => write!(f, "{m}"),
        }
    }
}

impl std::error::Error for Error {}

/// How to connect.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// How long to keep looking for a leader (an election takes a few seconds) before giving
    /// up. Looking is safe to repeat: nothing has been sent but questions.
    pub leader_timeout: Duration,
    /// The longest wait for one response before the connection counts as lost (a long copy
    /// is one statement: keep this above the longest step).
    pub response_timeout: Option<Duration>,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            leader_timeout: Duration::from_secs(15),
            response_timeout: Some(Duration::from_secs(600)),
        }
    }
}

/// The result of EXEC_SQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExecResult {
    pub last_insert_id: u64,
    pub rows_affected: u64,
}

/// A query's result: column names and rows.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct QueryResult {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<WireValue>>,
}

/// One open database on the leader. Requests go one at a time (dqlite serves one request per
/// connection at a time). After a lost connection every call fails with [`Error::Lost`].
pub struct Connection {
    stream: RefCell<Option<TcpStream>>,
    address: String,
    database: String,
    db_id: u32,
    lost: RefCell<Option<String>>,
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("address", &self.address)
            .field("database", &self.database)
            .finish()
    }
}

/// A raw protocol session with one node (before a database is open).
struct Session {
    stream: TcpStream,
    address: String,
}

fn resolve(address: &str) -> std::io::Result<SocketAddr> {
    address.to_socket_addrs()?.next().ok_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::NotFound, "address resolves to nothing")
    })
}

impl Session {
    fn open(address: &str, response_timeout: Option<Duration>) -> std::io::Result<Session> {
        let addr = resolve(address)?;
        let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(3))?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(response_timeout)?;
        stream.write_all(&wire::PROTOCOL_VERSION.to_le_bytes())?;
        Ok(Session {
            stream,
            address: address.to_string(),
        })
    }

    fn lost(&self, e: impl fmt::Display) -> Error {
        Error::Lost {
            address: self.address.clone(),
            detail: e.to_string(),
        }
    }

    fn send(&mut self, message: &[u8]) -> Result<(), Error> {
        self.stream.write_all(message).map_err(|e| self.lost(e))
    }

    /// Read one response: its type and body. A failure response becomes [`Error::Failure`].
    fn recv(&mut self) -> Result<(u8, Vec<u8>), Error> {
        let mut header = [0u8; 8];
        self.stream
            .read_exact(&mut header)
            .map_err(|e| self.lost(describe_read(e)))?;
        let (len, kind, _schema) = wire::parse_header(header);
        let mut body = vec![0u8; len];
        self.stream
            .read_exact(&mut body)
            .map_err(|e| self.lost(describe_read(e)))?;
        if kind == response::FAILURE {
            let (code, message) = failure(&body)
                .ok_or_else(|| self.protocol("a failure response with no code and message"))?;
            return Err(Error::Failure { code, message });
        }
        Ok((kind, body))
    }

    fn protocol(&self, detail: impl Into<String>) -> Error {
        Error::Protocol {
            address: self.address.clone(),
            detail: detail.into(),
        }
    }

    fn expect(&mut self, want: u8) -> Result<Vec<u8>, Error> {
        let (kind, body) = self.recv()?;
        if kind != want {
            return Err(self.protocol(format!("response type {kind} where {want} was expected")));
        }
        Ok(body)
    }

    /// The leader's address as this node knows it ("" when it knows none).
    fn leader(&mut self) -> Result<String, Error> {
        self.send(&Body::default().u64(0).message(request::LEADER, 0))?;
        let body = self.expect(response::NODE)?;
        let mut r = Reader::new(&body);
        let _id = r.u64().map_err(|d| self.protocol(d))?;
        r.string().map_err(|d| self.protocol(d))
    }
}

/// A failure response's code and message. dqlite 1.11 sends a query that fails while its
/// first rows are encoded with the column header still in front (seen: the columns of
/// `PRAGMA foreign_key_check`, then `522, "disk I/O error"`): the failure is then the last
/// code and message in the body, at a word boundary, ending the body.
pub(crate) fn failure(body: &[u8]) -> Option<(u64, String)> {
    (0..body.len()).step_by(8).find_map(|at| {
        let mut r = Reader::new(&body[at..]);
        let code = r.u64().ok()?;
        let message = r.string().ok()?;
        (r.remaining() == 0 && (at == 0 || (1..1 << 20).contains(&code))).then_some((code, message))
    })
}

fn describe_read(e: std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::UnexpectedEof => "the node closed the connection".into(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => {
            "no response within the response timeout".into()
        }
        _ => e.to_string(),
    }
}

impl Connection {
    /// Find the leader through any of `nodes` (`host:port`), connect to it and open
    /// `database` (dqlite creates it when missing). Keeps asking until `leader_timeout`: a
    /// cluster whose leader just died elects another within seconds.
    pub fn connect(nodes: &[String], database: &str, opts: &ConnectOptions) -> Result<Self, Error> {
        if nodes.is_empty() {
            return Err(Error::NoLeader {
                tried: vec!["no node given".into()],
            });
        }
        let started = Instant::now();
        let mut tried: Vec<String>;
        loop {
            tried = Vec::new();
            for node in nodes {
                match Self::through(node, database, opts) {
                    Ok(c) => return Ok(c),
                    Err(e) => tried.push(format!("{node}: {e}")),
                }
            }
            if started.elapsed() >= opts.leader_timeout {
                return Err(Error::NoLeader { tried });
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Ask `node` for the leader, connect there, check it leads, open the database.
    fn through(node: &str, database: &str, opts: &ConnectOptions) -> Result<Self, String> {
        let mut s = Session::open(node, opts.response_timeout).map_err(|e| e.to_string())?;
        let leader = s.leader().map_err(|e| e.to_string())?;
        if leader.is_empty() {
            return Err("knows no leader".into());
        }
        if leader != node {
            s = Session::open(&leader, opts.response_timeout)
                .map_err(|e| format!("leader {leader}: {e}"))?;
            let again = s.leader().map_err(|e| e.to_string())?;
            if again != leader {
                return Err(format!("{leader} no longer leads"));
            }
        }
        s.send(
            &Body::default()
                .string(database)
                .u64(0)
                .string("")
                .message(request::OPEN, 0),
        )
        .map_err(|e| e.to_string())?;
        let body = s.expect(response::DB).map_err(|e| e.to_string())?;
        let db_id = Reader::new(&body).u32().map_err(|e| e.to_string())?;
        Ok(Connection {
            address: s.address.clone(),
            stream: RefCell::new(Some(s.stream)),
            database: database.to_string(),
            db_id,
            lost: RefCell::new(None),
        })
    }

    /// The leader's address this connection talks to.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The database's name.
    pub fn database(&self) -> &str {
        &self.database
    }

    /// Whether the connection was lost (every later call fails).
    pub fn is_lost(&self) -> bool {
        self.lost.borrow().is_some()
    }

    /// Send one request and run `read` on the session; any lost connection (or lost
    /// leadership) poisons the connection for good.
    fn call<T>(
        &self,
        message: Vec<u8>,
        read: impl FnOnce(&mut Session) -> Result<T, Error>,
    ) -> Result<T, Error> {
        if let Some(detail) = self.lost.borrow().clone() {
            return Err(Error::Lost {
                address: self.address.clone(),
                detail,
            });
        }
        let stream = self.stream.borrow_mut().take().expect("stream present");
        let mut s = Session {
            stream,
            address: self.address.clone(),
        };
        let out = s.send(&message).and_then(|_| read(&mut s));
        let poisoned = match &out {
            Err(Error::Lost { detail, .. }) => Some(detail.clone()),
            Err(Error::Protocol { detail, .. }) => Some(format!("unreadable message: {detail}")),
            Err(Error::Failure { code, message })
                if *code == SQLITE_IOERR_NOT_LEADER || *code == SQLITE_IOERR_LEADERSHIP_LOST =>
            {
                Some(format!("the node lost its leadership: {message}"))
            }
            _ => None,
        };
        *self.stream.borrow_mut() = Some(s.stream);
        if let Some(detail) = poisoned {
            if let Some(stream) = self.stream.borrow_mut().take() {
                let _ = stream.shutdown(std::net::Shutdown::Both);
            }
            *self.lost.borrow_mut() = Some(detail.clone());
            return Err(Error::Lost {
                address: self.address.clone(),
                detail,
            });
        }
        out
    }

    fn check_sql(sql: &str) -> Result<(), Error> {
        if sql.contains('\0') {
            return Err(Error::Failure {
                code: 1,
                message: "SQL text contains a NUL character".into(),
            });
        }
        Ok(())
    }

    /// Run SQL text (every statement of it) with EXEC_SQL.
    pub fn exec(&self, sql: &str) -> Result<ExecResult, Error> {
        Self::check_sql(sql)?;
        let msg = Body::default()
            .u64(self.db_id as u64)
            .string(sql)
            .message(request::EXEC_SQL, 0);
        self.call(msg, |s| {
            let body = s.expect(response::RESULT)?;
            let mut r = Reader::new(&body);
            let last_insert_id = r.u64().map_err(|d| s.protocol(d))?;
            let rows_affected = r.u64().map_err(|d| s.protocol(d))?;
            Ok(ExecResult {
                last_insert_id,
                rows_affected,
            })
        })
    }

    /// Run one query with QUERY_SQL and read every row (across ROWS parts).
    pub fn query(&self, sql: &str) -> Result<QueryResult, Error> {
        Self::check_sql(sql)?;
        let msg = Body::default()
            .u64(self.db_id as u64)
            .string(sql)
            .message(request::QUERY_SQL, 0);
        self.call(msg, |s| {
            let mut out = QueryResult::default();
            loop {
                let (kind, body) = s.recv()?;
                if kind == response::EMPTY {
                    return Ok(out);
                }
                if kind != response::ROWS {
                    return Err(s.protocol(format!("response type {kind} to a query")));
                }
                let mut r = Reader::new(&body);
                let n = r.u64().map_err(|d| s.protocol(d))? as usize;
                let mut columns = Vec::with_capacity(n.min(4096));
                for _ in 0..n {
                    columns.push(r.string().map_err(|d| s.protocol(d))?);
                }
                out.columns = columns;
                let more = loop {
                    if r.remaining() == 0 {
                        break false; // a result set with no end marker: take it as done
                    }
                    match r.peek_u64().map_err(|d| s.protocol(d))? {
                        wire::ROWS_DONE => break false,
                        wire::ROWS_PART => break true,
                        _ => {}
                    }
                    if n == 0 {
                        return Err(s.protocol("a row of zero columns"));
                    }
                    out.rows.push(r.row(n).map_err(|d| s.protocol(d))?);
                };
                if !more {
                    return Ok(out);
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::failure;

    #[test]
    fn failures_after_a_column_header() {
        let mut body = Vec::new();
        body.extend_from_slice(&1u64.to_le_bytes());
        body.extend_from_slice(b"no such table: t\0\0\0\0\0\0\0\0");
        assert_eq!(failure(&body), Some((1, "no such table: t".into())));
        let mut body = Vec::new();
        body.extend_from_slice(&2u64.to_le_bytes());
        body.extend_from_slice(b"table\0\0\0rowid\0\0\0");
        body.extend_from_slice(&522u64.to_le_bytes());
        body.extend_from_slice(b"disk I/O error\0\0");
        assert_eq!(failure(&body), Some((522, "disk I/O error".into())));
    }
}
