//! Fleets: many database files (one per tenant, one per user) brought to one declared schema,
//! in parallel, each in its own transaction, one bad file never stopping the others.
//!
//! This module owns opening existing database files (never creating one), the worker pool
//! and the per-file outcome. It must never plan or apply anything itself: each file goes
//! through [`crate::migrate_declared`] (or is planned with [`crate::plan_loaded`]) exactly as a
//! single database would. The declared schema is loaded once, into liteshift's own SQLite —
//! the same SQLite that opens every file.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags};
use serde::Serialize;

use crate::{Declared, Error, Host, Options, Result};

/// What to do with each database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Migrate it (`liteshift apply`).
    Apply,
    /// Only tell whether it matches (`liteshift check`); opened read-only.
    Check,
}

/// What happened to one database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// Migrated (or, on a dry run, migrated and rolled back) in `steps` steps.
    Migrated { steps: usize },
    /// Already matched the schema: nothing ran.
    InSync,
    /// Differs from the schema (check): `steps` steps would migrate it.
    Differs { steps: usize },
    /// The migration was refused (data loss, rows violating the schema); unchanged.
    Refused { message: String },
    /// The file could not be migrated (missing, not SQLite, corrupt, locked...); unchanged.
    Failed { message: String },
}

impl Outcome {
    /// How bad it is, for the fleet's exit code: 0 fine, 1 differs or refused, 2 failed.
    pub fn severity(&self) -> u8 {
        match self {
            Outcome::Migrated { .. } | Outcome::InSync => 0,
            Outcome::Differs { .. } | Outcome::Refused { .. } => 1,
            Outcome::Failed { .. } => 2,
        }
    }

    fn of_error(e: Error, opts: &Options) -> Outcome {
        let message = e.message(opts.front_end);
        if e.is_refusal() {
            Outcome::Refused { message }
        } else {
            Outcome::Failed { message }
        }
    }
}

/// One database's result.
#[derive(Debug, Clone, Serialize)]
pub struct FleetResult {
    pub path: PathBuf,
    #[serde(flatten)]
    pub outcome: Outcome,
    pub milliseconds: f64,
}

/// Counts by outcome.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub databases: usize,
    pub migrated: usize,
    pub in_sync: usize,
    pub differs: usize,
    pub refused: usize,
    pub failed: usize,
}

impl Summary {
    pub fn of(results: &[FleetResult]) -> Summary {
        let mut s = Summary {
            databases: results.len(),
            ..Summary::default()
        };
        for r in results {
            match r.outcome {
                Outcome::Migrated { .. } => s.migrated += 1,
                Outcome::InSync => s.in_sync += 1,
                Outcome::Differs { .. } => s.differs += 1,
                Outcome::Refused { .. } => s.refused += 1,
                Outcome::Failed { .. } => s.failed += 1,
            }
        }
        s
    }
}

/// The number of workers to use by default: the machine's cores.
pub fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Bring every file of `paths` to the declared schema `schema_sql` (or check each), with
/// `jobs` workers. The schema is loaded once; an invalid schema is an error before any file
/// is opened. Each finished file is passed to `on_done` (from its worker's thread) as it
/// completes; the results come back in the order of `paths`.
pub fn run(
    paths: &[PathBuf],
    schema_sql: &str,
    opts: &Options,
    mode: Mode,
    jobs: usize,
    on_done: &(dyn Fn(&FleetResult) + Sync),
) -> Result<Vec<FleetResult>> {
    let open = |path: &Path, mode: Mode| -> Result<Box<dyn Host>> {
        let conn = open_existing(path, mode == Mode::Apply, opts.busy_timeout)?;
        if mode == Mode::Apply && opts.online.is_some() {
            allow_schema_edits(&conn)?;
        }
        Ok(Box::new(conn))
    };
    run_opening(paths, schema_sql, opts, mode, jobs, &open, on_done)
}

/// How a fleet opens one of its databases (in the worker that migrates it): [`run`] opens
/// files with [`open_existing`]; a front end that reaches other hosts (the CLI's `dqlite://`
/// URLs) passes its own. The declared schema is loaded into liteshift's own SQLite, so every
/// host opened must take a declared schema loaded there (a host whose `scratch` is
/// liteshift's SQLite).
pub type Opener<'a> = dyn Fn(&Path, Mode) -> Result<Box<dyn Host>> + Sync + 'a;

/// [`run`] with the databases opened by `open`.
pub fn run_opening(
    paths: &[PathBuf],
    schema_sql: &str,
    opts: &Options,
    mode: Mode,
    jobs: usize,
    open: &Opener<'_>,
    on_done: &(dyn Fn(&FleetResult) + Sync),
) -> Result<Vec<FleetResult>> {
    let declared =
        crate::declared::load_declared_opts(schema_sql, &opts.source_name, opts.load_options())?;
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<FleetResult>>> = Mutex::new(vec![None; paths.len()]);
    std::thread::scope(|scope| {
        for _ in 0..jobs.clamp(1, paths.len().max(1)) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(path) = paths.get(i) else { break };
                let started = Instant::now();
                let outcome = one(path, &declared, opts, mode, open);
                let r = FleetResult {
                    path: path.clone(),
                    outcome,
                    milliseconds: started.elapsed().as_secs_f64() * 1000.0,
                };
                on_done(&r);
                results.lock().expect("fleet results")[i] = Some(r);
            });
        }
    });
    Ok(results
        .into_inner()
        .expect("fleet results")
        .into_iter()
        .map(|r| r.expect("every path was taken by a worker"))
        .collect())
}

fn one(path: &Path, declared: &Declared, opts: &Options, mode: Mode, open: &Opener<'_>) -> Outcome {
    let mut conn = match open(path, mode) {
        Ok(c) => c,
        Err(e) => return Outcome::of_error(e, opts),
    };
    match mode {
        Mode::Apply => match crate::migrate_declared(&mut *conn, declared, opts, &mut |_| {}) {
            Ok(r) if r.steps_applied == 0 => Outcome::InSync,
            Ok(r) => Outcome::Migrated {
                steps: r.steps_applied,
            },
            Err(e) => Outcome::of_error(e, opts),
        },
        Mode::Check => match crate::plan_loaded(&*conn, declared, opts) {
            Ok(p) if p.plan.steps.is_empty() => Outcome::InSync,
            Ok(p) => Outcome::Differs {
                steps: p.plan.steps.len(),
            },
            Err(e) => Outcome::of_error(e, opts),
        },
    }
}

/// Open an existing SQLite database file, for writing or read-only; never creates one, and
/// tells a SQLite file from anything else (by reading its schema) before returning.
pub fn open_existing(path: &Path, write: bool, busy_timeout: Duration) -> Result<Connection> {
    let shown = path.display().to_string();
    let database = |message: String| Error::Database {
        path: shown.clone(),
        message,
    };
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => database("no such file (liteshift does not create databases; create it first, e.g. with sqlite3)".into()),
        _ => database(e.to_string()),
    })?;
    if meta.is_dir() {
        return Err(database(
            "is a directory, not a SQLite database file".into(),
        ));
    }
    let flags = if write {
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX
    } else {
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
    };
    let conn = Connection::open_with_flags(path, flags)
        .map_err(|e| database(format!("cannot open: {}", crate::host::sqlite_message(&e))))?;
    conn.busy_timeout(busy_timeout)?;
    harden(&conn)?;
    crate::host::clear_errno();
    if let Err(e) = conn.query_row("SELECT count(*) FROM sqlite_schema", [], |r| {
        r.get::<_, i64>(0)
    }) {
        return Err(crate::error::database_error(
            &conn,
            crate::host::host_error_on(&conn, e),
        ));
    }
    Ok(conn)
}

/// The longest SQL text a hardened connection prepares: 100 MB (SQLite's default is 1 GB).
/// A declared statement is run as it is written, so this bounds the largest one too.
pub const MAX_SQL_LENGTH: i32 = 100_000_000;
/// The deepest expression a hardened connection parses (SQLite's default, made explicit).
pub const MAX_EXPR_DEPTH: i32 = 1000;

/// Settings for a connection to a database file liteshift did not make (the CLI's, a fleet's,
/// a rehearsal's; never a caller's own connection): `SQLITE_DBCONFIG_DEFENSIVE` (no
/// `writable_schema`, no writes to virtual tables' shadow tables, no `journal_mode = OFF`),
/// `trusted_schema` off (a view, trigger, CHECK, DEFAULT, generated column or index in the
/// file cannot call a function that is not innocuous, nor use a virtual table that is not),
/// no extension loading, and limits on the length of SQL and the depth of expressions. What
/// the file's schema says can then make liteshift neither run code nor damage the file while
/// it reads, plans or migrates.
pub fn harden(conn: &Connection) -> rusqlite::Result<()> {
    use rusqlite::config::DbConfig;
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_DEFENSIVE, true)?;
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_TRUSTED_SCHEMA, false)?;
    // SAFETY: a valid handle, owned by `conn` for the call; SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION
    // takes an int and an int* (which may be NULL); sqlite3_limit takes a handle and two ints.
    unsafe {
        let db = conn.handle();
        let rc = rusqlite::ffi::sqlite3_db_config(
            db,
            rusqlite::ffi::SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION,
            0 as std::os::raw::c_int,
            std::ptr::null_mut::<std::os::raw::c_int>(),
        );
        if rc != rusqlite::ffi::SQLITE_OK {
            return Err(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rc),
                Some("cannot switch extension loading off".into()),
            ));
        }
        rusqlite::ffi::sqlite3_limit(db, rusqlite::ffi::SQLITE_LIMIT_SQL_LENGTH, MAX_SQL_LENGTH);
        rusqlite::ffi::sqlite3_limit(db, rusqlite::ffi::SQLITE_LIMIT_EXPR_DEPTH, MAX_EXPR_DEPTH);
    }
    Ok(())
}

/// Lift `SQLITE_DBCONFIG_DEFENSIVE` (only that) on a [`harden`]ed connection for an online
/// rebuild, which edits `sqlite_schema` under `writable_schema` to store the declared text
/// of the table it swaps in and its prebuilt indexes (without it, the indexes are built in
/// the swap, under the write lock). `trusted_schema` stays off.
pub fn allow_schema_edits(conn: &Connection) -> rusqlite::Result<()> {
    conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_DEFENSIVE, false)?;
    Ok(())
}
