//! Rehearse a migration on a copy of the database: copy it with SQLite's backup API (next to
//! it, or where the caller says), apply the migration there with every check, time each step
//! and measure what it rewrote and how much journal it wrote, check the result, and delete the
//! copy (unless asked to keep it).
//!
//! Architecture invariant: the live database is only read (opened read-only, copied by the
//! backup API); the migration that runs on the copy is `migrate`'s, unchanged.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use rusqlite::{Connection, OpenFlags};
use serde::Serialize;

use crate::apply::{Progress, ProgressObserver};
use crate::error::{Error, Result};
use crate::host::host_error;
use crate::plan::Plan;
use crate::Options;

/// Where the copy goes and whether it stays.
#[derive(Debug, Clone, Default)]
pub struct RehearseOptions {
    /// The copy's path; by default `<database>.liteshift-rehearsal` next to the database.
    pub to: Option<PathBuf>,
    /// Keep the migrated copy (to inspect it, or to swap it in).
    pub keep: bool,
}

/// One step as it ran on the copy.
#[derive(Debug, Clone, Serialize)]
pub struct StepRun {
    pub number: usize,
    pub reason: String,
    pub milliseconds: f64,
    /// Rows the step's last statement changed (a rebuild's copy: every row of the table).
    pub rows_changed: u64,
    /// The rollback journal or WAL file's size after the step: what the transaction has
    /// written so far besides the database file.
    pub journal_bytes: u64,
}

/// What a rehearsal found.
#[derive(Debug, Clone, Serialize)]
pub struct Rehearsal {
    /// The copy's path (deleted unless kept).
    pub copy: String,
    pub kept: bool,
    pub database_bytes: u64,
    pub copy_milliseconds: f64,
    pub steps_applied: usize,
    pub steps: Vec<StepRun>,
    /// Wall time of the migration on the copy (planning, checks, steps, verification).
    pub migration_milliseconds: f64,
    /// `PRAGMA integrity_check` of the migrated copy (`ok`).
    pub integrity_check: String,
    /// Rows `PRAGMA foreign_key_check` reports in the migrated copy.
    pub foreign_key_violations: u64,
    pub plan: Plan,
}

/// `path` with `suffix` appended (`app.db` + `-wal`).
fn sidecar(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// The size of the rollback journal or WAL beside `path`.
fn journal_bytes(path: &Path) -> u64 {
    ["-journal", "-wal"]
        .iter()
        .filter_map(|s| std::fs::metadata(sidecar(path, s)).ok())
        .map(|m| m.len())
        .max()
        .unwrap_or(0)
}

/// Removes the rehearsal copy and its journal files when dropped, unless it is to be kept.
struct CopyFile {
    path: PathBuf,
    keep: bool,
}

impl Drop for CopyFile {
    fn drop(&mut self) {
        if !self.keep {
            for s in ["", "-journal", "-wal", "-shm"] {
                let _ = std::fs::remove_file(sidecar(&self.path, s));
            }
        }
    }
}

/// Rehearse the migration of the database file `db` to `schema_sql` on a copy.
pub fn rehearse(
    db: &Path,
    schema_sql: &str,
    opts: &Options,
    ro: &RehearseOptions,
) -> Result<Rehearsal> {
    let src = open_read_only(db)?;
    let size = database_bytes(&src).map_err(|e| crate::error::database_error(&src, e))?;
    let dest = ro
        .to
        .clone()
        .unwrap_or_else(|| sidecar(db, ".liteshift-rehearsal"));
    let (copy, copy_ms) = copy_database(src, &dest, size, ro.keep)?;

    let runs = Arc::new(Mutex::new(Vec::new()));
    let rehearsal_opts = rehearsal_options(opts, &runs, &dest);
    let mut conn = Connection::open(&dest)?;
    crate::fleet::harden(&conn)?;
    if opts.online.is_some() {
        crate::fleet::allow_schema_edits(&conn)?;
    }
    let started = Instant::now();
    let report = crate::migrate(&mut conn, schema_sql, &rehearsal_opts)?;
    let migration_ms = ms(started);
    let (integrity, fk) = result_checks(&conn)?;
    drop(conn);
    let steps = runs.lock().expect("step log").clone();
    Ok(Rehearsal {
        copy: copy.path.display().to_string(),
        kept: copy.keep,
        database_bytes: size,
        copy_milliseconds: copy_ms,
        steps_applied: report.steps_applied,
        steps,
        migration_milliseconds: migration_ms,
        integrity_check: integrity.join("; "),
        foreign_key_violations: fk,
        plan: report.plan,
    })
}

/// The live database, opened read-only (and hardened as every database liteshift opens).
fn open_read_only(db: &Path) -> Result<Connection> {
    let src = Connection::open_with_flags(
        db,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| Error::Database {
        path: db.display().to_string(),
        message: crate::host::sqlite_message(&e),
    })?;
    crate::fleet::harden(&src)?;
    Ok(src)
}

/// The copy of `src` (`size` bytes) at `dest`, by the backup API, and the milliseconds it
/// took: refused where a file is already there or the disk has too little room. The copy is
/// removed when its guard drops, unless `keep`.
fn copy_database(src: Connection, dest: &Path, size: u64, keep: bool) -> Result<(CopyFile, f64)> {
    if dest.exists() {
        return Err(Error::InvalidOption(format!(
            "the rehearsal copy {} already exists; remove it or choose another path (--to)",
            dest.display()
        )));
    }
    check_room(dest, size)?;
    let started = Instant::now();
    let copy = CopyFile {
        path: dest.to_path_buf(),
        keep,
    };
    src.backup(
        rusqlite::MAIN_DB,
        dest,
        None::<fn(rusqlite::backup::Progress)>,
    )
    .map_err(|e| Error::Database {
        path: dest.display().to_string(),
        message: format!(
            "cannot write the rehearsal copy: {}",
            crate::host::sqlite_message(&e)
        ),
    })?;
    drop(src);
    Ok((copy, ms(started)))
}

/// `opts` for the migration on the copy: no backup, no dry run, and an observer that logs
/// each finished step in `runs`, with the journal beside `dest` as it then is.
fn rehearsal_options(opts: &Options, runs: &Arc<Mutex<Vec<StepRun>>>, dest: &Path) -> Options {
    let mut rehearsal_opts = opts.clone();
    rehearsal_opts.backup = None;
    rehearsal_opts.dry_run = false;
    let (sink, journal_of) = (runs.clone(), dest.to_path_buf());
    rehearsal_opts.on_progress = Some(ProgressObserver::new(move |p| {
        let Progress::Finished { done: d, .. } = p else {
            return;
        };
        sink.lock().expect("step log").push(StepRun {
            number: d.number,
            reason: d.step.reason.clone(),
            milliseconds: d.elapsed.as_secs_f64() * 1000.0,
            rows_changed: d.rows_changed,
            journal_bytes: journal_bytes(&journal_of),
        });
    }));
    rehearsal_opts
}

/// The migrated copy's `PRAGMA integrity_check` rows, and how many rows `PRAGMA
/// foreign_key_check` reports.
fn result_checks(conn: &Connection) -> Result<(Vec<String>, u64)> {
    let integrity: Vec<String> = conn
        .prepare("PRAGMA integrity_check")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let fk: u64 = conn
        .prepare("PRAGMA foreign_key_check")?
        .query_map([], |_| Ok(()))?
        .count() as u64;
    Ok((integrity, fk))
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}

/// The database's size: its pages (and what its WAL holds that is not checkpointed yet).
fn database_bytes(conn: &Connection) -> std::result::Result<u64, crate::host::HostError> {
    let pages: i64 = conn
        .query_row("PRAGMA page_count", [], |r| r.get(0))
        .map_err(host_error)?;
    let page_size: i64 = conn
        .query_row("PRAGMA page_size", [], |r| r.get(0))
        .map_err(host_error)?;
    Ok((pages.max(0) * page_size.max(0)) as u64)
}

/// The copy needs the database's size, and the migration's journal on it up to as much again
/// (a rebuild of the largest table writes it twice): refuse when the disk has less.
fn check_room(dest: &Path, size: u64) -> Result<()> {
    let dir = dest
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let need = size.saturating_mul(2);
    match free_bytes(dir) {
        Some(free) if free < need => Err(Error::InvalidOption(format!(
            "not enough room for the rehearsal in {}: it needs about {need} bytes (a {size}-byte copy of the database, and as much again for the migration's journal) and {free} are free; free some space or choose a larger disk with --to",
            dir.display()
        ))),
        _ => Ok(()),
    }
}

/// Free bytes for an unprivileged writer on the file system holding `dir`.
#[cfg(unix)]
fn free_bytes(dir: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    // SAFETY: `path` is a valid C string and `stat` a plain struct statvfs fills in.
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::statvfs(path.as_ptr(), &mut stat) };
    (rc == 0).then(|| stat.f_bavail as u64 * stat.f_frsize as u64)
}

#[cfg(not(unix))]
fn free_bytes(_dir: &Path) -> Option<u64> {
    None
}
