//! A table rebuild against the same SQLite running the manual rebuild, the cost of progress,
//! O(1) steps on a big table, and peak memory.
//!
//! - **Rebuild**: `migrate` of a 1M-row table to a definition SQLite cannot ALTER into (a
//!   CHECK added to a column, NOT NULL) vs the same SQLite running the manual rebuild by hand
//!   (foreign keys off, `BEGIN IMMEDIATE`, create, `INSERT … SELECT`, drop, rename, index,
//!   `COMMIT`), whole call each, on a fresh copy of the file; where the rest goes (the steps'
//!   own time vs planning, checks and verification) from the progress events.
//! - **Progress**: the same `migrate` with an `on_progress` observer (the rows a rebuild has
//!   copied, from SQLite's update hook) vs without.
//! - **O(1)**: `ADD COLUMN`, `RENAME COLUMN`, `ALTER COLUMN … DROP NOT NULL` on the 1M-row
//!   table vs the same migration on the same schema with no rows.
//! - **Memory**: peak RSS (`VmHWM`) of a process that rebuilds the table, liteshift vs by hand;
//!   `LITESHIFT_BENCH_MB=1000` sizes the database (≈1 GB) for the memory figure.
//!
//! `cargo bench -p liteshift-tests --bench rebuild [-- ROWS]`

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use liteshift::{migrate, Options, Progress, ProgressObserver};
use rusqlite::Connection;

const BASE: &str =
    "CREATE TABLE item(id INTEGER PRIMARY KEY, name TEXT, price REAL NOT NULL, note TEXT);
CREATE INDEX item_name ON item(name);";
/// A CHECK on a column and NOT NULL: a rebuild on every SQLite.
const REBUILT: &str = "CREATE TABLE item(id INTEGER PRIMARY KEY, name TEXT NOT NULL, price REAL NOT NULL CHECK (price >= 0), note TEXT);
CREATE INDEX item_name ON item(name);";
/// The manual rebuild of `REBUILT`, as a careful person writes it.
const BY_HAND: &str = "PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;
CREATE TABLE item_new(id INTEGER PRIMARY KEY, name TEXT NOT NULL, price REAL NOT NULL CHECK (price >= 0), note TEXT);
INSERT INTO item_new (id, name, price, note) SELECT id, name, price, note FROM item;
DROP TABLE item;
ALTER TABLE item_new RENAME TO item;
CREATE INDEX item_name ON item(name);
PRAGMA foreign_key_check;
COMMIT;
PRAGMA foreign_keys = ON;";

/// A database file with `rows` rows of about `note_bytes` bytes of note each.
fn database(dir: &Path, rows: u64, note_bytes: u64) -> PathBuf {
    let path = dir.join(format!("base-{rows}-{note_bytes}.db"));
    let c = Connection::open(&path).unwrap();
    c.execute_batch(BASE).unwrap();
    c.execute_batch(&format!(
        "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {rows})
         INSERT INTO item SELECT i, 'item ' || i, i * 0.5, substr(hex(randomblob({half})), 1, {note_bytes}) FROM n;",
        half = note_bytes.div_ceil(2).max(1)
    ))
    .unwrap();
    drop(c);
    path
}

/// A fresh copy of `base` in `dir`, on disk (else the first commit's fsync writes the copy).
fn copy(base: &Path, dir: &Path) -> PathBuf {
    let p = dir.join("run.db");
    copy_to(base, &p);
    p
}

fn copy_to(base: &Path, p: &Path) {
    let _ = std::fs::remove_file(p);
    std::fs::copy(base, p).unwrap();
    std::fs::File::open(p).unwrap().sync_all().unwrap();
}

fn by_hand(path: &Path) -> Duration {
    let c = Connection::open(path).unwrap();
    let t = Instant::now();
    c.execute_batch(BY_HAND).unwrap();
    t.elapsed()
}

/// The manual rebuild with the one check liteshift adds that reads every row: the table's
/// `PRAGMA quick_check` before its rows are copied (never out of a damaged b-tree).
fn by_hand_checked(path: &Path) -> Duration {
    let c = Connection::open(path).unwrap();
    let t = Instant::now();
    let sql = BY_HAND.replace(
        "BEGIN IMMEDIATE;",
        "BEGIN IMMEDIATE;\nPRAGMA quick_check(\"item\");",
    );
    c.execute_batch(&sql).unwrap();
    t.elapsed()
}

/// One `migrate` call: its time, and the time its steps took (from progress events) when
/// observed.
fn liteshift(path: &Path, schema: &str, observed: bool, opts: &Options) -> (Duration, Duration) {
    let mut c = Connection::open(path).unwrap();
    let steps_ns = Arc::new(AtomicU64::new(0));
    let rows_seen = Arc::new(AtomicU64::new(0));
    let mut opts = opts.clone();
    if observed {
        let (ns, rows) = (steps_ns.clone(), rows_seen.clone());
        opts.on_progress = Some(ProgressObserver::new(move |p| match p {
            Progress::Rows { rows: r, .. } => rows.store(*r, Ordering::Relaxed),
            Progress::Finished { done, .. } => {
                ns.fetch_add(done.elapsed.as_nanos() as u64, Ordering::Relaxed);
            }
            Progress::Started { .. } => {}
        }));
    }
    let t = Instant::now();
    let r = migrate(&mut c, schema, &opts).unwrap();
    let total = t.elapsed();
    assert!(r.steps_applied > 0);
    (
        total,
        Duration::from_nanos(steps_ns.load(Ordering::Relaxed)),
    )
}

/// The CPU time this thread has run (Linux's schedstat, in ns): steadier than the wall clock
/// on a shared machine, since waiting for the disk or for another process does not count.
fn cpu_ns() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64()
}

fn rebuild_and_progress(base: &Path, dir: &Path, rows: u64, runs: usize) {
    let (mut hand, mut plain, mut observed, mut steps) = (vec![], vec![], vec![], vec![]);
    let mut checked = vec![];
    let mut cpu_pairs: Vec<f64> = vec![];
    // Interleaved, so that a noisy moment hurts all alike.
    for _ in 0..runs {
        hand.push(by_hand(&copy(base, dir)));
        checked.push(by_hand_checked(&copy(base, dir)));
        let c0 = cpu_ns();
        plain.push(liteshift(&copy(base, dir), REBUILT, false, &Options::default()).0);
        let c1 = cpu_ns();
        let (t, s) = liteshift(&copy(base, dir), REBUILT, true, &Options::default());
        let c2 = cpu_ns();
        observed.push(t);
        steps.push(s);
        if let (Some(a), Some(b), Some(c)) = (c0, c1, c2) {
            cpu_pairs.push((c - b) as f64 / (b - a) as f64);
        }
    }
    cpu_pairs.sort_by(f64::total_cmp);
    // The cost of progress: the median of each run's pair (adjacent, so drift cancels).
    let mut pairs: Vec<f64> = plain
        .iter()
        .zip(&observed)
        .map(|(p, o)| ratio(*o, *p))
        .collect();
    pairs.sort_by(f64::total_cmp);
    let progress = pairs[pairs.len() / 2];
    let (hand, plain, observed, steps) =
        (median(hand), median(plain), median(observed), median(steps));
    let checked = median(checked);
    println!("rebuild of {rows} rows (median of {runs}):");
    println!("  by hand (baseline)          {hand:>10.1?}");
    println!(
        "  by hand + quick_check       {checked:>10.1?}  {:.3}x by hand",
        ratio(checked, hand)
    );
    println!(
        "  liteshift migrate           {plain:>10.1?}  {:.3}x by hand, {:.3}x by hand + quick_check",
        ratio(plain, hand),
        ratio(plain, checked)
    );
    println!(
        "  ... with on_progress        {observed:>10.1?}  {progress:.3}x without, the median of {runs} adjacent pairs (progress costs {:+.1}%)",
        (progress - 1.0) * 100.0
    );
    if let Some(cpu) = cpu_pairs.get(cpu_pairs.len() / 2) {
        println!(
            "      in CPU time (the copy of each run included) {cpu:.3}x without (progress costs {:+.1}%)",
            (cpu - 1.0) * 100.0
        );
    }
    println!(
        "  ... of which the steps      {steps:>10.1?}  ({:.3}x by hand); planning, checks and verification {:.1?}",
        ratio(steps, hand),
        observed.saturating_sub(steps)
    );
}

fn constant_steps(base: &Path, dir: &Path, rows: u64, runs: usize) {
    let empty = dir.join("empty.db");
    let _ = std::fs::remove_file(&empty);
    Connection::open(&empty)
        .unwrap()
        .execute_batch(BASE)
        .unwrap();
    let cases: [(&str, String, Options, &str); 3] = [
        (
            "ADD COLUMN",
            BASE.replace("note TEXT)", "note TEXT, flag INTEGER NOT NULL DEFAULT 0)"),
            Options::default(),
            "ALTER TABLE item ADD COLUMN flag INTEGER NOT NULL DEFAULT 0",
        ),
        (
            "RENAME COLUMN",
            BASE.replace("note TEXT", "memo TEXT"),
            {
                let mut o = Options::default();
                o.hints.add_column_rename("item.note=memo").unwrap();
                o
            },
            "ALTER TABLE item RENAME COLUMN note TO memo",
        ),
        (
            "ALTER COLUMN DROP NOT NULL",
            BASE.replace("price REAL NOT NULL", "price REAL"),
            Options::default(),
            "ALTER TABLE item ALTER COLUMN price DROP NOT NULL",
        ),
    ];
    println!(
        "O(1) steps on {rows} rows vs the same migration with no rows (median of {runs}; a write"
    );
    println!(
        "transaction's journal and fsync, which an in-sync no-op never pays, are most of it):"
    );
    let noop = median(
        (0..runs)
            .map(|_| {
                let p = copy(base, dir);
                let mut c = Connection::open(&p).unwrap();
                let t = Instant::now();
                migrate(&mut c, BASE, &Options::default()).unwrap();
                t.elapsed()
            })
            .collect(),
    );
    println!("  in-sync no-op migrate       {noop:>9.2?}");
    for (name, schema, opts, alter) in cases {
        let (mut big, mut small, mut hand) = (vec![], vec![], vec![]);
        for _ in 0..runs {
            big.push(liteshift(&copy(base, dir), &schema, false, &opts).0);
            let c = Connection::open(copy(base, dir)).unwrap();
            let t = Instant::now();
            c.execute_batch(&format!("BEGIN IMMEDIATE; {alter}; COMMIT"))
                .unwrap();
            hand.push(t.elapsed());
            let p = dir.join("empty-run.db");
            copy_to(&empty, &p);
            small.push(liteshift(&p, &schema, false, &opts).0);
        }
        let (big, small, hand) = (median(big), median(small), median(hand));
        println!(
            "  {name:<27} {big:>9.2?}  {:.2}x with no rows ({small:.2?}); SQLite's ALTER by hand {hand:.2?}",
            ratio(big, small)
        );
    }
}

/// Peak RSS of a child process that rebuilds a copy of `base` (by hand or with liteshift).
fn peak_rss(base: &Path, dir: &Path, how: &str) -> u64 {
    let p = copy(base, dir);
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--rss", how, p.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

/// The child: rebuild `path` and print its peak RSS in kB.
fn rss_child(how: &str, path: &str) {
    if how == "hand" {
        by_hand(Path::new(path));
    } else {
        liteshift(
            Path::new(path),
            REBUILT,
            how == "observed",
            &Options::default(),
        );
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap();
    println!("{kb}");
}

fn memory(base: &Path, dir: &Path, label: &str) {
    let mb = |kb: u64| kb as f64 / 1024.0;
    let hand = peak_rss(base, dir, "hand");
    let ls = peak_rss(base, dir, "liteshift");
    let obs = peak_rss(base, dir, "observed");
    println!(
        "peak RSS rebuilding {label}: by hand {:.1} MB, liteshift {:.1} MB ({:.2}x), with progress {:.1} MB",
        mb(hand),
        mb(ls),
        ls as f64 / hand as f64,
        mb(obs)
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(i) = args.iter().position(|a| a == "--rss") {
        return rss_child(&args[i + 1], &args[i + 2]);
    }
    let rows: u64 = args
        .iter()
        .find_map(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().unwrap();
    let base = database(dir.path(), rows, 40);
    let size = std::fs::metadata(&base).unwrap().len();
    println!(
        "SQLite {}; {rows} rows, {:.1} MB",
        rusqlite::version(),
        size as f64 / 1e6
    );
    rebuild_and_progress(&base, dir.path(), rows, 9);
    constant_steps(&base, dir.path(), rows, 15);
    memory(&base, dir.path(), &format!("{:.0} MB", size as f64 / 1e6));
    if let Some(mb) = std::env::var("LITESHIFT_BENCH_MB")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        // Rows of about 500 bytes.
        let big = database(dir.path(), mb * 2000, 480);
        std::fs::remove_file(&base).ok();
        let size = std::fs::metadata(&big).unwrap().len();
        memory(&big, dir.path(), &format!("{:.0} MB", size as f64 / 1e6));
    }
}
