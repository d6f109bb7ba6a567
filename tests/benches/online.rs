//! Online rebuild vs the blocking rebuild, with a writer: while `migrate` rebuilds a table of
//! N rows (a CHECK and NOT NULL added: a rebuild on every SQLite), another *process* inserts
//! a row into it every 10 ms and records how long each insert took (its wait for the write
//! lock included; busy timeout 60 s). Reported for each mode: the migration's wall time, the
//! writer's worst and 99th-percentile insert, and how many inserts it made; when the new
//! schema was in place (the last step done: after it, the online rebuild frees the old
//! table's pages in short transactions) and the worst insert begun after that (the free's);
//! the phases (when the copy finished, when the next step began: online, after the indexes
//! built in key order), each run's on stderr; and the online
//! rebuild's time as a ratio of the blocking one, measured in the same run on copies of the
//! same file. WAL mode, `synchronous = NORMAL` (what a server sets).
//!
//! `cargo bench -p liteshift-tests --bench online [-- ROWS...]` (default 1000000; the README
//! reports 1000000 and 10000000). Each size runs `LITESHIFT_BENCH_RUNS` pairs (default 3,
//! blocking then online, each on a fresh copy): the times are the medians, the worst wait the
//! worst of all runs. `LITESHIFT_BENCH_INDEX=1` adds an index on the table (on `name`, whose
//! values follow the rowids); `LITESHIFT_BENCH_INDEX=scattered` an index on a column `n` whose
//! values are scattered (not in rowid order: every chunk of the copy inserts keys all over the
//! index).

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use liteshift::OnlineOptions;
use liteshift::{migrate, Options, Progress, ProgressObserver};
use rusqlite::Connection;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Index {
    None,
    /// On `name`, in rowid order.
    Ordered,
    /// On `n`, scattered.
    Scattered,
}

fn schemas(index: Index) -> (String, String) {
    let (n, idx) = match index {
        Index::None => ("", ""),
        Index::Ordered => ("", "\nCREATE INDEX item_name ON item(name);"),
        Index::Scattered => (", n INTEGER", "\nCREATE INDEX item_n ON item(n);"),
    };
    (
        format!("CREATE TABLE item(id INTEGER PRIMARY KEY, name TEXT, price REAL NOT NULL, note TEXT{n});{idx}"),
        format!("CREATE TABLE item(id INTEGER PRIMARY KEY, name TEXT NOT NULL, price REAL NOT NULL CHECK (price >= 0), note TEXT{n});{idx}"),
    )
}

fn database(dir: &Path, rows: u64, before: &str, index: Index) -> PathBuf {
    let path = dir.join(format!("base-{rows}.db"));
    let c = Connection::open(&path).unwrap();
    c.execute_batch("PRAGMA journal_mode = WAL;").unwrap();
    c.execute_batch(before).unwrap();
    // n: a permutation-like scatter of the rowids (golden-ratio steps modulo a prime: consecutive rowids land far apart).
    let n = if index == Index::Scattered {
        ", (i * 2654435761) % 4294967291"
    } else {
        ""
    };
    c.execute_batch(&format!(
        "BEGIN;
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {rows})
         INSERT INTO item SELECT i, 'item ' || i, i * 0.5, hex(randomblob(8)){n} FROM n;
         COMMIT;
         PRAGMA wal_checkpoint(TRUNCATE);"
    ))
    .unwrap();
    path
}

fn copy_db(from: &Path, to: &Path) {
    for ext in ["", "-wal", "-shm"] {
        let f = format!("{}{ext}", from.display());
        let t = format!("{}{ext}", to.display());
        let _ = std::fs::remove_file(&t);
        if Path::new(&f).exists() {
            std::fs::copy(&f, &t).unwrap();
        }
    }
}

/// The writer process: an insert every 10 ms until `stop` exists; each insert's time, in
/// microseconds, one per line, into `out`.
fn writer(db: &str, stop: &str, out: &str) {
    let c = Connection::open(db).unwrap();
    c.busy_timeout(Duration::from_secs(60)).unwrap();
    c.execute_batch("PRAGMA synchronous = NORMAL").unwrap();
    let mut times = Vec::new();
    let start = Instant::now();
    let mut k: u64 = 0;
    while !Path::new(stop).exists() {
        let at = epoch_us();
        let t = Instant::now();
        c.execute(
            "INSERT INTO item(name, price, note) VALUES ('written meanwhile', 1.0, 'w')",
            [],
        )
        .unwrap();
        times.push((t.elapsed().as_micros() as u64, at));
        k += 1;
        let next = start + Duration::from_millis(10 * k);
        if let Some(wait) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
    let text: Vec<String> = times.iter().map(|(t, at)| format!("{t} {at}")).collect();
    std::fs::write(out, text.join("\n")).unwrap();
}

fn epoch_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64
}

struct Run {
    total: Duration,
    /// When the copy's step finished (its rows copied, in either mode), and when the next
    /// step began (online: after the indexes built in key order, the swap's first step).
    copied: Duration,
    next: Duration,
    /// When the last step (the swap's last) finished: the new schema in place; the rest of
    /// `total` is the old table's pages freed.
    swapped: Duration,
    worst_ms: f64,
    /// When the worst insert began, from the start of `migrate`.
    worst_at: f64,
    p99_ms: f64,
    /// The worst insert that began after the new schema was in place (online: while the
    /// old table's pages are freed).
    worst_free_ms: f64,
    writes: usize,
}

fn spawn_writer(db: &Path, stop: &Path, out: &Path) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--writer",
            db.to_str().unwrap(),
            stop.to_str().unwrap(),
            out.to_str().unwrap(),
        ])
        .spawn()
        .unwrap()
}

/// The defaults, or `LITESHIFT_ONLINE_CHUNK_MS` / `LITESHIFT_ONLINE_PAUSE_MS` to try others.
fn online_options() -> OnlineOptions {
    let ms = |var: &str| {
        std::env::var(var)
            .ok()
            .and_then(|v| v.parse().ok())
            .map(Duration::from_millis)
    };
    let d = OnlineOptions::default();
    OnlineOptions {
        chunk_time: ms("LITESHIFT_ONLINE_CHUNK_MS").unwrap_or(d.chunk_time),
        pause: ms("LITESHIFT_ONLINE_PAUSE_MS").unwrap_or(d.pause),
        ..d
    }
}

fn run(base: &Path, dir: &Path, after: &str, online: bool) -> Run {
    let work = dir.join("work.db");
    copy_db(base, &work);
    let (stop, out) = (dir.join("stop"), dir.join("times"));
    let _ = std::fs::remove_file(&stop);
    let mut child = spawn_writer(&work, &stop, &out);
    std::thread::sleep(Duration::from_millis(300));
    let mut conn = Connection::open(&work).unwrap();
    conn.execute_batch("PRAGMA synchronous = NORMAL").unwrap();
    let t = Instant::now();
    let last_step = std::sync::Arc::new(std::sync::Mutex::new(Duration::ZERO));
    let seen = last_step.clone();
    // (copy finished, next step started)
    let phases = std::sync::Arc::new(std::sync::Mutex::new((Duration::ZERO, Duration::ZERO)));
    let at = phases.clone();
    let opts = Options {
        on_progress: Some(ProgressObserver::new(move |p| match p {
            Progress::Finished { total, done } => {
                if done.number == *total {
                    *seen.lock().unwrap() = t.elapsed();
                }
                if done.step.rewrites_rows {
                    at.lock().unwrap().0 = t.elapsed();
                }
            }
            Progress::Started { .. } => {
                let mut a = at.lock().unwrap();
                if a.0 > Duration::ZERO && a.1 < a.0 {
                    a.1 = t.elapsed();
                }
            }
            _ => {}
        })),
        online: online.then(online_options),
        busy_timeout: Duration::from_secs(60),
        ..Options::default()
    };
    let started = epoch_us();
    let report = migrate(&mut conn, after, &opts).unwrap();
    let total = t.elapsed();
    let swapped = *last_step.lock().unwrap();
    let (copied, next) = *phases.lock().unwrap();
    assert!(report.steps_applied > 0);
    assert_eq!(report.plan.online.is_some(), online);
    std::thread::sleep(Duration::from_millis(300));
    std::fs::write(&stop, "").unwrap();
    child.wait().unwrap();
    let mut times: Vec<(u64, u64)> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .filter_map(|l| {
            let (t, at) = l.split_once(' ')?;
            Some((t.parse().ok()?, at.parse().ok()?))
        })
        .collect();
    let written: i64 = conn
        .query_row(
            "SELECT count(*) FROM item WHERE name = 'written meanwhile'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        written as usize,
        times.len(),
        "every write is in the result"
    );
    let swapped_at = started + swapped.as_micros() as u64;
    let worst_free = times
        .iter()
        .filter(|(_, at)| *at >= swapped_at)
        .map(|(t, _)| *t)
        .max()
        .unwrap_or(0);
    times.sort_unstable();
    let p99 = times[(times.len() * 99 / 100).min(times.len() - 1)].0;
    let worst = *times.last().unwrap();
    Run {
        total,
        copied,
        next,
        swapped,
        worst_ms: worst.0 as f64 / 1000.0,
        worst_at: (worst.1 as f64 - started as f64) / 1e6,
        p99_ms: p99 as f64 / 1000.0,
        worst_free_ms: worst_free as f64 / 1000.0,
        writes: times.len(),
    }
}

/// The median time and p99, the worst wait of all runs.
fn summary(mut runs: Vec<Run>) -> Run {
    let worst = runs
        .iter()
        .map(|r| (r.worst_ms, r.worst_at))
        .fold((0.0, 0.0), |a, b| if b.0 > a.0 { b } else { a });
    runs.sort_by_key(|r| r.total);
    let mid = runs.len() / 2;
    let m = runs.swap_remove(mid);
    let worst_free_ms = runs.iter().map(|r| r.worst_free_ms).fold(0.0, f64::max);
    Run {
        worst_ms: worst.0,
        worst_at: worst.1,
        worst_free_ms: worst_free_ms.max(m.worst_free_ms),
        ..m
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--writer") {
        return writer(&args[i + 1], &args[i + 2], &args[i + 3]);
    }
    let sizes: Vec<u64> = args
        .iter()
        .skip(1)
        .filter_map(|a| a.replace('_', "").parse().ok())
        .collect();
    let sizes = if sizes.is_empty() {
        vec![1_000_000]
    } else {
        sizes
    };
    let index = match std::env::var("LITESHIFT_BENCH_INDEX").as_deref() {
        Ok("1") => Index::Ordered,
        Ok("scattered") => Index::Scattered,
        _ => Index::None,
    };
    let (before, after) = schemas(index);
    println!(
        "online rebuild vs blocking, a writer inserting every 10 ms{}:",
        match index {
            Index::None => "",
            Index::Ordered => " (table with an index in rowid order)",
            Index::Scattered => " (table with an index on scattered values)",
        }
    );
    for rows in sizes {
        let dir = tempfile::tempdir_in(".").unwrap();
        let base = database(dir.path(), rows, &before, index);
        let runs: usize = std::env::var("LITESHIFT_BENCH_RUNS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(3)
            .max(1);
        let (mut b, mut o) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            b.push(run(&base, dir.path(), &after, false));
            o.push(run(&base, dir.path(), &after, true));
            for (name, r) in [
                ("blocking", b.last().unwrap()),
                ("online", o.last().unwrap()),
            ] {
                eprintln!(
                    "    (run: {name} {:.2} s, copy to {:.2} s, next step at {:.2} s, new schema at {:.2} s, worst wait {:.1} ms at {:+.2} s, after the new schema {:.1} ms)",
                    r.total.as_secs_f64(),
                    r.copied.as_secs_f64(),
                    r.next.as_secs_f64(),
                    r.swapped.as_secs_f64(),
                    r.worst_ms,
                    r.worst_at,
                    r.worst_free_ms
                );
            }
        }
        let (blocking, online) = (summary(b), summary(o));
        for (name, r) in [("blocking", &blocking), ("online", &online)] {
            println!(
                "  {rows:>9} rows  {name:<8}  {:>7.2} s (new schema at {:.2} s)   writer worst {:>8.1} ms (at {:+.2} s)  p99 {:>6.1} ms  ({} writes)",
                r.total.as_secs_f64(),
                r.swapped.as_secs_f64(),
                r.worst_ms,
                r.worst_at,
                r.p99_ms,
                r.writes
            );
        }
        println!(
            "  {rows:>9} rows  online phases: copy to {:.2} s, indexes in key order to {:.2} s, swap to {:.2} s, free to {:.2} s, worst wait during the free {:.1} ms (blocking: copy to {:.2} s)",
            online.copied.as_secs_f64(),
            online.next.as_secs_f64(),
            online.swapped.as_secs_f64(),
            online.total.as_secs_f64(),
            online.worst_free_ms,
            blocking.copied.as_secs_f64(),
        );
        println!(
            "  {rows:>9} rows  online / blocking time: {:.2}x (to the new schema in place: {:.2}x)",
            online.total.as_secs_f64() / blocking.total.as_secs_f64(),
            online.swapped.as_secs_f64() / blocking.swapped.as_secs_f64()
        );
    }
}
