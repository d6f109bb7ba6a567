//! Fleets: databases per second for `liteshift::fleet::run` over N small files (default 1,000:
//! three tables, 20 rows each), in sync and needing one ADD COLUMN, against baselines from the
//! same run: opening each file and reading `sqlite_schema` (the least a stateless check does),
//! and running the same `ALTER TABLE … ADD COLUMN` by hand in each file, both on as many
//! threads as the fleet.
//!
//! `cargo bench -p liteshift-tests --bench fleet [-- FILES]`

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use liteshift::fleet::{self, Mode, Outcome};
use liteshift::Options;
use rusqlite::Connection;

const V1: &str = "CREATE TABLE account(id INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE note(id INTEGER PRIMARY KEY, account INTEGER REFERENCES account(id), body TEXT);
CREATE INDEX note_account ON note(account);
CREATE TABLE tag(id INTEGER PRIMARY KEY, label TEXT UNIQUE);";

fn v2() -> String {
    V1.replace(
        "body TEXT)",
        "body TEXT, pinned INTEGER NOT NULL DEFAULT 0)",
    )
}

fn make(dir: &Path, n: usize) -> Vec<PathBuf> {
    (0..n)
        .map(|i| {
            let p = dir.join(format!("t{i:05}.db"));
            let c = Connection::open(&p).unwrap();
            c.execute_batch(V1).unwrap();
            c.execute_batch(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20)
                 INSERT INTO account SELECT i, 'a' || i FROM n;
                 INSERT INTO note SELECT id, id, 'b' || id FROM account;
                 INSERT INTO tag SELECT id, 'c' || id FROM account;",
            )
            .unwrap();
            p
        })
        .collect()
}

/// Run `f` on every path with `jobs` threads; the wall time in seconds.
fn by_hand(paths: &[PathBuf], jobs: usize, f: &(dyn Fn(&Path) + Sync)) -> f64 {
    let next = AtomicUsize::new(0);
    let t = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..jobs {
            s.spawn(|| {
                while let Some(p) = paths.get(next.fetch_add(1, Ordering::Relaxed)) {
                    f(p);
                }
            });
        }
    });
    t.elapsed().as_secs_f64()
}

fn fleet_run(paths: &[PathBuf], schema: &str, mode: Mode, jobs: usize) -> f64 {
    let t = Instant::now();
    let results = fleet::run(paths, schema, &Options::default(), mode, jobs, &|_| {}).unwrap();
    let secs = t.elapsed().as_secs_f64();
    for r in &results {
        assert!(
            matches!(r.outcome, Outcome::InSync | Outcome::Migrated { .. }),
            "{r:?}"
        );
    }
    secs
}

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(1000);
    let jobs = fleet::default_jobs();
    let dir = tempfile::tempdir().unwrap();
    let paths = make(dir.path(), n);
    let read_schema = |p: &Path| {
        let c = Connection::open(p).unwrap();
        let _: i64 = c
            .query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))
            .unwrap();
    };
    let _ = by_hand(&paths, jobs, &read_schema); // warm the page cache
    let base_read = by_hand(&paths, jobs, &read_schema);
    let check = fleet_run(&paths, V1, Mode::Check, jobs);
    let apply_noop = fleet_run(&paths, V1, Mode::Apply, jobs);

    let v2 = v2();
    let apply_add = fleet_run(&paths, &v2, Mode::Apply, jobs);
    // Back to V1 by hand is a rebuild; fresh files for the by-hand ADD COLUMN instead.
    let dir2 = tempfile::tempdir().unwrap();
    let paths2 = make(dir2.path(), n);
    let base_alter = by_hand(&paths2, jobs, &|p| {
        let c = Connection::open(p).unwrap();
        c.execute_batch(
            "BEGIN IMMEDIATE; ALTER TABLE note ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0; COMMIT",
        )
        .unwrap();
    });
    let rate = |s: f64| n as f64 / s;
    println!("fleet of {n} small databases, {jobs} job(s); databases per second (ratio to its baseline, same run):");
    println!(
        "  baseline: open + read sqlite_schema        {:>8.0}/s",
        rate(base_read)
    );
    println!(
        "  check, in sync                             {:>8.0}/s  ({:.2}x the baseline's time)",
        rate(check),
        check / base_read
    );
    println!(
        "  apply, in sync                             {:>8.0}/s  ({:.2}x)",
        rate(apply_noop),
        apply_noop / base_read
    );
    println!(
        "  baseline: ADD COLUMN by hand in each file  {:>8.0}/s",
        rate(base_alter)
    );
    println!(
        "  apply, one ADD COLUMN                      {:>8.0}/s  ({:.2}x the by-hand ALTER's time)",
        rate(apply_add),
        apply_add / base_alter
    );
}
