//! `--db dqlite://HOST:PORT[,HOST:PORT…]/NAME`: databases on a dqlite cluster, reached through
//! `liteshift-dqlite` (the cluster's leader runs the migration; liteshift's own SQLite loads
//! the declared schema). Everything else about a command is the same as for a file.

use std::path::Path;
use std::time::Duration;

use anyhow::anyhow;
use liteshift::Host;
use liteshift_dqlite::{ConnectOptions, DqliteHost};

const SCHEME: &str = "dqlite://";

/// Whether a `--db` value names a dqlite database.
pub fn is_url(db: &str) -> bool {
    db.starts_with(SCHEME)
}

fn connect(url: &str) -> Result<DqliteHost, liteshift::Error> {
    let database = |message: String| liteshift::Error::Database {
        path: url.to_string(),
        message,
    };
    let target = liteshift_dqlite::parse_url(url).map_err(database)?;
    DqliteHost::connect(&target, &ConnectOptions::default()).map_err(|e| database(e.to_string()))
}

/// Open `--db`: a dqlite URL, or an existing database file (`write` for apply).
pub fn open(db: &Path, write: bool) -> anyhow::Result<Box<dyn Host>> {
    match db.to_str() {
        Some(url) if is_url(url) => Ok(Box::new(connect(url)?)),
        _ => Ok(Box::new(crate::open_db(db, write)?)),
    }
}

/// Open `--db` for `plan`: as [`open`], read-only; with `--online`, a file's connection may
/// edit its schema as `apply --online`'s does (see [`open_for_apply`]), so the plan shown is
/// the one apply runs — its indexes built during the copy, and whether it resumes an
/// interrupted copy, depend on it.
pub fn open_for_plan(db: &Path, online: bool) -> anyhow::Result<Box<dyn Host>> {
    match db.to_str() {
        Some(url) if is_url(url) => Ok(Box::new(connect(url)?)),
        _ => {
            let conn = crate::open_db(db, false)?;
            if online {
                liteshift::fleet::allow_schema_edits(&conn)?;
            }
            Ok(Box::new(conn))
        }
    }
}

/// Open `--db` for `apply`: as [`open`]; a file migrated online may edit its own schema (the
/// one setting of the hardened connection an online rebuild lifts: see
/// `liteshift::fleet::allow_schema_edits`).
pub fn open_for_apply(db: &Path, online: bool) -> anyhow::Result<Box<dyn Host>> {
    match db.to_str() {
        Some(url) if is_url(url) => Ok(Box::new(connect(url)?)),
        _ => {
            let conn = crate::open_db(db, true)?;
            if online {
                liteshift::fleet::allow_schema_edits(&conn)?;
            }
            Ok(Box::new(conn))
        }
    }
}

/// How a fleet opens each `--db`: files as `liteshift::fleet::run` does, URLs on the cluster.
pub fn fleet_opener(
    busy_timeout: Duration,
    online: bool,
) -> impl Fn(&Path, liteshift::fleet::Mode) -> liteshift::Result<Box<dyn Host>> + Sync {
    move |db, mode| match db.to_str() {
        Some(url) if is_url(url) => Ok(Box::new(connect(url)?) as Box<dyn Host>),
        _ => {
            let apply = mode == liteshift::fleet::Mode::Apply;
            let conn = liteshift::fleet::open_existing(db, apply, busy_timeout)?;
            if apply && online {
                liteshift::fleet::allow_schema_edits(&conn)?;
            }
            Ok(Box::new(conn))
        }
    }
}

/// A URL given where only files are taken (`rehearse` copies a file with SQLite's backup API).
pub fn refuse_url(db: &Path, what: &str) -> anyhow::Result<()> {
    match db.to_str() {
        Some(url) if is_url(url) => Err(anyhow!(
            "{what} works on a database file, not on a dqlite database ({url})"
        )),
        _ => Ok(()),
    }
}
