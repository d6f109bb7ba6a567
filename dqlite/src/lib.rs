//! liteshift over [dqlite](https://dqlite.io), Canonical's replicated SQLite.
//!
//! [`client`] is a small client for dqlite's wire protocol (protocol version 1): leader
//! discovery, `OPEN`, `EXEC_SQL` and `QUERY_SQL`, every value type, failures with dqlite's
//! code and message. [`DqliteHost`] is a `liteshift::Host` on it, so the whole liteshift
//! sequence (introspection, plan, apply with its checks and verification) runs on the
//! cluster's leader, in one interactive transaction, and Raft replicates the commit.
//!
//! A lost connection (the leader died, or lost its leadership) is an error, and the
//! connection is never used again: a statement that may have run is never retried. The
//! migration's transaction dies with the leader, so the cluster keeps the database as it was
//! or, when the commit was replicated first, as migrated.
//!
//! ```no_run
//! let mut host = liteshift_dqlite::DqliteHost::connect_url("dqlite://127.0.0.1:9001,127.0.0.1:9002/app")?;
//! let report = liteshift::migrate(&mut host, "CREATE TABLE t(id INTEGER PRIMARY KEY);", &liteshift::Options::default())?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod client;
mod host;
#[cfg(feature = "testing")]
pub mod testing;
pub mod wire;

pub use client::{ConnectOptions, Connection, Error};
pub use host::{host_error, parse_url, DqliteHost, Target, CACHE_KIB};
