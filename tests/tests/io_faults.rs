//! An I/O error at every read, write and sync of a migration, as SQLite's own "I/O error
//! testing" does it: each scenario (a blocking rebuild, the same on a WAL database, an online
//! rebuild, `backup`, a fleet of three, a rehearsal) runs once for every k with the k-th call
//! of one kind failing (`liteshift_tests::faultvfs`, a VFS over the default one), until a run
//! makes fewer than k such calls. After each run: every file opens, `integrity_check` is ok,
//! each database holds the old schema with every row or the new one with every row, an error
//! names an I/O failure (never corruption), and a rerun completes. Transient faults (only the
//! k-th call fails) and persistent ones (every call from the k-th on: the disk went away).
//!
//! CI tries at most `LITESHIFT_IO_FAULT_MAX_K` (default 400) values of k per kind, then every
//! 7th up to the end; `LITESHIFT_IO_FAULT_MAX_K=0` tries every k:
//! `LITESHIFT_IO_FAULT_MAX_K=0 cargo test --release -p liteshift-tests --test io_faults -- --nocapture`

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use liteshift::fleet::{self, Mode, Outcome};
use liteshift::{Error, Options};
use liteshift_tests::faultvfs::{self, Kind};
use rusqlite::Connection;

const OLD: &str = "
CREATE TABLE parent(id INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE child(id INTEGER PRIMARY KEY, parent_id INTEGER NOT NULL REFERENCES parent(id) ON DELETE CASCADE, payload TEXT, n INTEGER);
CREATE INDEX child_parent ON child(parent_id);
CREATE VIEW sizes AS SELECT parent_id, count(*) AS n FROM child GROUP BY parent_id;
";

const NEW: &str = "
CREATE TABLE parent(id INTEGER PRIMARY KEY, name TEXT NOT NULL, note TEXT);
CREATE TABLE child(id INTEGER PRIMARY KEY, parent_id INTEGER NOT NULL REFERENCES parent(id) ON DELETE CASCADE, payload TEXT NOT NULL DEFAULT '' COLLATE NOCASE, n INTEGER);
CREATE INDEX child_parent ON child(parent_id);
CREATE INDEX child_n ON child(n);
CREATE VIEW sizes AS SELECT parent_id, count(*) AS n FROM child GROUP BY parent_id;
";

/// One scenario at a time: the VFS's state is the process's.
static SERIAL: Mutex<()> = Mutex::new(());

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scenario {
    Blocking,
    BlockingWal,
    Online,
    Backup,
    Fleet,
    Rehearse,
}

fn template(dir: &Path, wal: bool) -> PathBuf {
    let p = dir.join(if wal {
        "template-wal.db"
    } else {
        "template.db"
    });
    let c = Connection::open(&p).unwrap();
    if wal {
        c.execute_batch("PRAGMA journal_mode = WAL").unwrap();
    }
    c.execute_batch(OLD).unwrap();
    c.execute_batch(
        "BEGIN;
         WITH RECURSIVE i(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM i WHERE x < 20) INSERT INTO parent SELECT x, 'p' || x FROM i;
         WITH RECURSIVE i(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM i WHERE x < 600) INSERT INTO child SELECT x, 1 + x % 20, printf('%040d', x * 7919), x FROM i;
         COMMIT;",
    )
    .unwrap();
    if wal {
        c.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)").unwrap();
    }
    p
}

/// Every row, as text.
fn rows(c: &Connection) -> String {
    c.query_row(
        "SELECT (SELECT group_concat(id || ',' || name, ';') FROM (SELECT * FROM parent ORDER BY id))
             || '|' || (SELECT group_concat(id || ',' || parent_id || ',' || payload || ',' || n, ';') FROM (SELECT * FROM child ORDER BY id))",
        [],
        |r| r.get(0),
    )
    .unwrap()
}

struct Expect {
    old: String,
    new: String,
    rows: String,
}

/// The file opens, is intact, and holds the old or the new schema with every row; returns
/// whether it is the new one.
fn check_file(db: &Path, e: &Expect, what: &str) -> bool {
    let c = Connection::open(db).unwrap_or_else(|err| panic!("{what}: {db:?} opens: {err}"));
    let ok: String = c
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap_or_else(|err| panic!("{what}: integrity_check runs: {err}"));
    assert_eq!(ok, "ok", "{what}: integrity_check");
    let fp = liteshift::introspect(&c)
        .unwrap_or_else(|err| panic!("{what}: introspect: {err}"))
        .fingerprint();
    assert!(
        fp == e.old || fp == e.new,
        "{what}: {db:?} is neither the old schema nor the new one"
    );
    assert_eq!(rows(&c), e.rows, "{what}: every row is there");
    fp == e.new
}

fn copy_db(from: &Path, to: &Path) {
    for ext in ["", "-wal", "-shm", "-journal"] {
        let t = PathBuf::from(format!("{}{ext}", to.display()));
        let _ = fs::remove_file(&t);
        let f = PathBuf::from(format!("{}{ext}", from.display()));
        if f.exists() {
            fs::copy(&f, &t).unwrap();
        }
    }
}

/// An error must name an I/O failure, never corruption.
fn check_message(message: &str, what: &str) {
    assert!(
        message.contains("I/O error"),
        "{what}: the error names an I/O failure: {message}"
    );
    assert!(
        !message.contains("malformed") && !message.contains("file is corrupt"),
        "{what}: an I/O failure is not called corruption: {message}"
    );
}

fn options(s: Scenario) -> Options {
    Options {
        online: (s == Scenario::Online).then(|| liteshift::OnlineOptions {
            chunk_time: std::time::Duration::from_millis(1),
            pause: std::time::Duration::ZERO,
            first_chunk_rows: 100,
        }),
        ..Options::default()
    }
}

/// One run with the k-th call of `kind` failing; returns the number of such calls it made.
fn run_once(
    s: Scenario,
    tpl: &Path,
    dir: &Path,
    e: &Expect,
    fault: (Kind, u64, bool),
) -> (u64, u64, Option<String>) {
    let (kind, k, persistent) = fault;
    let what = format!(
        "{s:?}, {kind:?} #{k}{}",
        if persistent { " on" } else { "" }
    );
    let files: Vec<PathBuf> = match s {
        Scenario::Fleet => (1..=3).map(|i| dir.join(format!("f{i}.db"))).collect(),
        _ => vec![dir.join("app.db")],
    };
    for f in &files {
        copy_db(tpl, f);
    }
    let backup = dir.join("backup.db");
    let _ = fs::remove_file(&backup);
    let copy = dir.join("rehearsal.db");
    let _ = fs::remove_file(&copy);
    let mut opts = options(s);
    if s == Scenario::Backup {
        opts.backup = Some(backup.clone());
    }
    faultvfs::arm(kind, k, persistent);
    let error: Option<String> = match s {
        Scenario::Fleet => {
            let results = fleet::run(&files, NEW, &opts, Mode::Apply, 1, &|_| {});
            faultvfs::disarm();
            match results {
                Err(err) => Some(err.to_string()),
                Ok(results) => {
                    let failed: Vec<String> = results
                        .iter()
                        .filter_map(|r| match &r.outcome {
                            Outcome::Migrated { .. } | Outcome::InSync => None,
                            Outcome::Failed { message } | Outcome::Refused { message } => {
                                Some(message.clone())
                            }
                            Outcome::Differs { .. } => Some("differs".into()),
                        })
                        .collect();
                    assert!(
                        persistent || failed.len() <= 1,
                        "{what}: one fault fails one file: {failed:?}"
                    );
                    for m in &failed {
                        check_message(m, &what);
                    }
                    failed.into_iter().next()
                }
            }
        }
        Scenario::Rehearse => {
            let r = liteshift::rehearse::rehearse(
                &files[0],
                NEW,
                &opts,
                &liteshift::rehearse::RehearseOptions {
                    to: Some(copy.clone()),
                    keep: false,
                },
            );
            faultvfs::disarm();
            r.err().map(|err| err.to_string())
        }
        _ => {
            let r = Connection::open(&files[0])
                .map_err(Error::from)
                .and_then(|mut c| liteshift::migrate(&mut c, NEW, &opts));
            faultvfs::disarm();
            r.err().map(|err| err.to_string())
        }
    };
    let (calls, failed) = faultvfs::disarm();
    if let Some(m) = &error {
        assert!(failed > 0, "{what}: an error without a fault: {m}");
        check_message(m, &what);
    }
    for f in &files {
        let migrated = check_file(f, e, &what);
        if s == Scenario::Rehearse {
            assert!(!migrated, "{what}: a rehearsal only reads the database");
        } else if error.is_none() && s != Scenario::Fleet {
            assert!(migrated, "{what}: a run that reported success migrated");
        }
    }
    if s == Scenario::Rehearse {
        assert!(!copy.exists(), "{what}: the rehearsal copy is removed");
    }
    if s == Scenario::Backup && backup.exists() {
        // A backup that is there is the exact starting state.
        let migrated = check_file(&backup, e, &format!("{what}: backup"));
        assert!(!migrated, "{what}: the backup is the old database");
    }
    // A rerun completes.
    if s != Scenario::Rehearse {
        let _ = fs::remove_file(&backup);
        for f in &files {
            let mut c = Connection::open(f).unwrap();
            let r = liteshift::migrate(&mut c, NEW, &options(s));
            assert!(r.is_ok(), "{what}: the rerun completes: {:?}", r.err());
            drop(c);
            assert!(check_file(f, e, &format!("{what}: rerun")));
        }
    }
    (calls, failed, error)
}

fn max_k() -> u64 {
    std::env::var("LITESHIFT_IO_FAULT_MAX_K")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(400)
}

fn sweep(s: Scenario) {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    faultvfs::install();
    // On a memory filesystem where there is one: the calls are counted all the same, and a
    // sync costs nothing.
    let shm = Path::new("/dev/shm");
    let dir = if shm.is_dir() {
        tempfile::tempdir_in(shm).unwrap_or_else(|_| tempfile::tempdir().unwrap())
    } else {
        tempfile::tempdir().unwrap()
    };
    let tpl = template(dir.path(), s == Scenario::BlockingWal);
    let e = {
        let c = Connection::open(&tpl).unwrap();
        Expect {
            old: liteshift::introspect(&c).unwrap().fingerprint(),
            new: liteshift::load_declared(NEW, "new")
                .unwrap()
                .schema
                .fingerprint(),
            rows: rows(&c),
        }
    };
    let cap = max_k();
    for persistent in [false, true] {
        for kind in [Kind::Write, Kind::Sync, Kind::Read] {
            let started = Instant::now();
            let (mut tried, mut errors, mut k) = (0u64, 0u64, 1u64);
            let total = loop {
                let (calls, failed, error) =
                    run_once(s, &tpl, dir.path(), &e, (kind, k, persistent));
                if failed == 0 {
                    break calls;
                }
                tried += 1;
                errors += u64::from(error.is_some());
                k += if cap == 0 || k < cap { 1 } else { 7 };
            };
            println!(
                "{s:?}: {kind:?} {}: {tried} k tried (a run without a fault makes {total} calls), {errors} ended in an error, the others migrated anyway; {:.1} s",
                if persistent { "persistent" } else { "transient" },
                started.elapsed().as_secs_f64()
            );
        }
    }
}

#[test]
fn blocking_rebuild() {
    sweep(Scenario::Blocking);
}

#[test]
fn blocking_rebuild_wal() {
    sweep(Scenario::BlockingWal);
}

#[test]
fn online_rebuild() {
    sweep(Scenario::Online);
}

#[test]
fn backup() {
    sweep(Scenario::Backup);
}

#[test]
fn fleet_of_three() {
    sweep(Scenario::Fleet);
}

#[test]
fn rehearsal() {
    sweep(Scenario::Rehearse);
}
