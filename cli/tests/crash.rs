//! Crash safety: run `liteshift apply` as a child process on a database with over 100k rows
//! whose migration rebuilds several tables (foreign keys, a view, a trigger, AUTOINCREMENT),
//! SIGKILL it at random moments, and check after each kill that `integrity_check` is ok, the
//! schema is exactly the old or exactly the new one, every row is there, and no temporary
//! objects are left. Both rollback-journal and WAL databases. The same with `apply --online`,
//! which commits as it copies: after a kill its shadow tables and triggers may be there, and
//! then `check` names them and the next `apply` continues the copy (or removes them after the
//! swap) and completes the migration; `resume.rs` measures the rows a resumed copy copies.
//!
//! CI runs 20 kills. The long mode runs more:
//! `LITESHIFT_CRASH_KILLS=200 cargo test --release -p liteshift-cli --test crash -- --nocapture`

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rusqlite::Connection;

const OLD: &str = "
CREATE TABLE parent(id INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE child(id INTEGER PRIMARY KEY, parent_id INTEGER NOT NULL REFERENCES parent(id) ON DELETE CASCADE, payload TEXT, n INTEGER);
CREATE INDEX child_parent ON child(parent_id);
CREATE TABLE events(id INTEGER PRIMARY KEY AUTOINCREMENT, child_id INTEGER REFERENCES child(id) ON DELETE CASCADE, what TEXT);
CREATE VIEW parent_sizes AS SELECT p.id, p.name, count(c.id) AS n FROM parent p LEFT JOIN child c ON c.parent_id = p.id GROUP BY p.id;
CREATE TRIGGER child_event AFTER INSERT ON child BEGIN INSERT INTO events(child_id, what) VALUES (new.id, 'created'); END;
";

const NEW: &str = "
CREATE TABLE parent(id INTEGER PRIMARY KEY, name TEXT NOT NULL COLLATE NOCASE, created TEXT DEFAULT CURRENT_TIMESTAMP);
CREATE TABLE child(id INTEGER PRIMARY KEY, parent_id INTEGER NOT NULL REFERENCES parent(id) ON DELETE CASCADE, payload BLOB, n REAL NOT NULL DEFAULT 0);
CREATE INDEX child_parent ON child(parent_id);
CREATE INDEX child_n ON child(n);
CREATE TABLE events(id INTEGER PRIMARY KEY AUTOINCREMENT, child_id INTEGER REFERENCES child(id) ON DELETE CASCADE, what TEXT NOT NULL DEFAULT 'created');
CREATE VIEW parent_sizes AS SELECT p.id, p.name, count(c.id) AS n FROM parent p LEFT JOIN child c ON c.parent_id = p.id GROUP BY p.id;
CREATE TRIGGER child_event AFTER INSERT ON child BEGIN INSERT INTO events(child_id, what) VALUES (new.id, 'created'); END;
";

const CHILD_ROWS: i64 = 100_000;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn build_template(path: &Path, wal: bool) {
    let c = Connection::open(path).unwrap();
    if wal {
        c.execute_batch("PRAGMA journal_mode = WAL").unwrap();
    }
    c.execute_batch(OLD).unwrap();
    c.execute_batch(&format!(
        "BEGIN;
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 1000) INSERT INTO parent SELECT i, 'parent ' || i FROM n;
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < {CHILD_ROWS}) INSERT INTO child SELECT i, 1 + i % 1000, hex(randomblob(16)), i FROM n;
         INSERT INTO events(id, child_id, what) VALUES (500000, 1, 'high-water');
         DELETE FROM events WHERE id = 500000;
         COMMIT;"
    ))
    .unwrap();
}

struct State {
    fingerprint: String,
    counts: (i64, i64, i64),
    seq: i64,
    leftovers: i64,
    integrity: String,
}

fn state(path: &Path) -> State {
    let c = Connection::open(path).unwrap();
    let integrity: String = c
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    let count = |t: &str| -> i64 {
        c.query_row(&format!("SELECT count(*) FROM {t}"), [], |r| r.get(0))
            .unwrap()
    };
    let counts = (count("parent"), count("child"), count("events"));
    let seq: i64 = c
        .query_row(
            "SELECT seq FROM sqlite_sequence WHERE name = 'events'",
            [],
            |r| r.get(0),
        )
        .unwrap_or(-1);
    let leftovers: i64 = c
        .query_row(
            "SELECT count(*) FROM sqlite_schema WHERE name LIKE '%liteshift%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let fingerprint = liteshift::introspect(&c).unwrap().fingerprint();
    State {
        fingerprint,
        counts,
        seq,
        leftovers,
        integrity,
    }
}

fn declared_fingerprint(sql: &str) -> String {
    liteshift::load_declared(sql, "x")
        .unwrap()
        .schema
        .fingerprint()
}

/// Kills `kills` runs; counts those that left the old schema, the new one, and (online) the
/// old or new one with the online rebuild's objects, which the next run removed.
fn run_kills(wal: bool, online: bool, kills: usize, rng: &mut Rng) -> (usize, usize, usize) {
    let dir = tempfile::tempdir().unwrap();
    let template = dir.path().join("template.db");
    build_template(&template, wal);
    let schema = dir.path().join("schema.sql");
    fs::write(&schema, NEW).unwrap();
    let (old_fp, new_fp) = (declared_fingerprint(OLD), declared_fingerprint(NEW));
    let before = state(&template);
    assert_eq!(before.fingerprint, old_fp);
    let work = dir.path().join("work.db");
    let copy = |to: &Path| {
        for ext in ["", "-wal", "-shm", "-journal"] {
            let _ = fs::remove_file(format!("{}{ext}", to.display()));
            let from = format!("{}{ext}", template.display());
            if Path::new(&from).exists() {
                fs::copy(&from, format!("{}{ext}", to.display())).unwrap();
            }
        }
    };
    let cli = |command: &str, db: &Path| {
        let mut args = vec![
            command,
            "--db",
            db.to_str().unwrap(),
            schema.to_str().unwrap(),
        ];
        if online {
            // Many short chunks: a kill lands in the copy most of the time.
            args.extend([
                "--online",
                "--online-chunk-ms",
                "2",
                "--online-pause-ms",
                "1",
            ]);
        }
        Command::new(env!("CARGO_BIN_EXE_liteshift"))
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let apply = |db: &Path| cli("apply", db);

    // How long an uninterrupted migration takes.
    copy(&work);
    let t0 = Instant::now();
    let out = apply(&work).wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let full = t0.elapsed();
    let done = state(&work);
    assert_eq!(done.fingerprint, new_fp);
    assert_eq!(done.counts, before.counts);
    assert_eq!(done.seq, before.seq, "AUTOINCREMENT high-water mark kept");

    let (mut old, mut new, mut left) = (0, 0, 0);
    for k in 0..kills {
        copy(&work);
        let delay = Duration::from_micros(rng.next() % (full.as_micros() as u64 * 6 / 5 + 1));
        let mut child = apply(&work);
        std::thread::sleep(delay);
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        let s = state(&work);
        let label = format!(
            "kill {k} ({}{}, after {delay:?} of {full:?})",
            if wal { "WAL" } else { "rollback journal" },
            if online { ", online" } else { "" }
        );
        assert_eq!(s.integrity, "ok", "{label}");
        if online && s.leftovers > 0 {
            // The old schema with the copy's objects, or (killed after the swap, while the
            // old table's pages were freed) the new one with the old table renamed away.
            assert!(
                s.fingerprint == old_fp || s.fingerprint == new_fp,
                "{label}: leftovers with neither schema"
            );
            assert_eq!(s.counts, before.counts, "{label}: rows lost");
            // `check` names them; the next apply continues the copy (the same online plan) or
            // removes them, and migrates.
            let checked = Command::new(env!("CARGO_BIN_EXE_liteshift"))
                .args([
                    "check",
                    "--db",
                    work.to_str().unwrap(),
                    schema.to_str().unwrap(),
                ])
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&checked.stdout);
            assert_eq!(checked.status.code(), Some(1), "{label}: check says {text}");
            assert!(
                text.contains("interrupted online rebuild"),
                "{label}: check says {text}"
            );
            let out = apply(&work).wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "{label}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let s = state(&work);
            assert_eq!(s.leftovers, 0, "{label}: leftovers after the next apply");
            assert_eq!(s.fingerprint, new_fp, "{label}: the next apply migrates");
            assert_eq!(s.counts, before.counts, "{label}: rows lost");
            assert_eq!(s.seq, before.seq, "{label}: AUTOINCREMENT high-water mark");
            assert_eq!(s.integrity, "ok", "{label}");
            left += 1;
            continue;
        }
        assert_eq!(s.leftovers, 0, "{label}: temporary objects left");
        assert_eq!(s.counts, before.counts, "{label}: rows lost");
        assert_eq!(s.seq, before.seq, "{label}: AUTOINCREMENT high-water mark");
        if s.fingerprint == old_fp {
            old += 1;
        } else if s.fingerprint == new_fp {
            new += 1;
        } else {
            panic!("{label}: schema is neither the old nor the new one");
        }
    }
    (old, new, left)
}

/// How many kills (`LITESHIFT_CRASH_KILLS`, default 20), and a seed from the clock.
fn kills_and_seed() -> (usize, u64) {
    let kills = std::env::var("LITESHIFT_CRASH_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    (kills, seed)
}

#[test]
fn sigkill_at_random_moments_leaves_old_or_new_never_half() {
    let (kills, seed) = kills_and_seed();
    let mut rng = Rng(seed);
    let (o1, n1, _) = run_kills(false, false, kills / 2, &mut rng);
    let (o2, n2, _) = run_kills(true, false, kills - kills / 2, &mut rng);
    eprintln!(
        "crash test (seed {seed}): {kills} kills; rollback journal: {o1} old / {n1} new; WAL: {o2} old / {n2} new; all intact"
    );
}

#[test]
fn sigkill_during_an_online_rebuild_leaves_the_old_schema_or_the_new_one() {
    let (kills, seed) = kills_and_seed();
    let mut rng = Rng(seed);
    let (o1, n1, l1) = run_kills(false, true, kills / 2, &mut rng);
    let (o2, n2, l2) = run_kills(true, true, kills - kills / 2, &mut rng);
    eprintln!(
        "online crash test (seed {seed}): {kills} kills; rollback journal: {o1} old / {l1} old or new with leftovers (continued or removed by the next run) / {n1} new; WAL: {o2} old / {l2} with leftovers / {n2} new; all intact"
    );
}
