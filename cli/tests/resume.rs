//! An online copy that resumes: `liteshift apply --online --progress json` is SIGKILLed when
//! its progress says about half the rows are copied, while another connection keeps writing;
//! the rerun continues the copy from the last chunk the killed run committed (its registry
//! records it), and the result is the one an uninterrupted run gives with the same writes.
//! And a run SIGKILLed after the swap, while it frees the old table's index (made a table):
//! the file passes `integrity_check`, and the next run removes what is left.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rusqlite::Connection;

const ROWS: i64 = 200_000;
/// The writes the other connection makes, one after another, during both runs (and after,
/// until they are all made).
const WRITES: i64 = 2_000;

const OLD: &str = "CREATE TABLE items(id INTEGER PRIMARY KEY, a TEXT NOT NULL, b INTEGER);\nCREATE INDEX items_b ON items(b);";
/// `b` becomes TEXT: a rebuild on every SQLite.
const NEW: &str = "CREATE TABLE items(id INTEGER PRIMARY KEY, a TEXT NOT NULL, b TEXT);\nCREATE INDEX items_b ON items(b);";

fn build(path: &Path) {
    let c = Connection::open(path).unwrap();
    c.execute_batch(&format!(
        "PRAGMA journal_mode = WAL;
         {OLD}
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {ROWS})
         INSERT INTO items SELECT i, printf('%08x', (i * 2654435761) % 4294967296), i % 1000 FROM n;"
    ))
    .unwrap();
}

/// The `k`-th write: valid under both schemas, so the result does not depend on when the
/// migration happened among them.
fn write(c: &Connection, k: i64) {
    let sql = match k % 3 {
        0 => format!(
            "INSERT INTO items(id, a, b) VALUES ({}, 'new {k}', {k})",
            ROWS + 1 + k
        ),
        1 => format!(
            "UPDATE items SET a = 'changed {k}', b = -{k} WHERE id = {}",
            (k * 7919) % ROWS + 1
        ),
        _ => format!("DELETE FROM items WHERE id = {}", (k * 104_729) % ROWS + 1),
    };
    c.execute_batch(&sql).unwrap();
}

/// Makes the writes on its own connection, a millisecond apart, counting them in `made`.
fn writer(path: &Path, made: Arc<AtomicI64>) -> std::thread::JoinHandle<()> {
    let path = path.to_path_buf();
    std::thread::spawn(move || {
        let c = Connection::open(&path).unwrap();
        c.busy_timeout(Duration::from_secs(30)).unwrap();
        for k in 0..WRITES {
            write(&c, k);
            made.store(k + 1, Ordering::Relaxed);
            std::thread::sleep(Duration::from_millis(1));
        }
    })
}

/// A child process killed (SIGKILL) and reaped when dropped, on every path out of the test.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn apply(db: &Path, schema: &Path) -> Killed {
    apply_with(db, schema, &[])
}

/// [`apply`] with more arguments.
fn apply_with(db: &Path, schema: &Path, extra: &[&str]) -> Killed {
    let (db, schema) = (db.to_str().unwrap(), schema.to_str().unwrap());
    let mut args = vec!["apply", "--db", db, schema, "--online"];
    args.extend_from_slice(extra);
    args.extend(["--progress", "json"]);
    Killed(
        Command::new(env!("CARGO_BIN_EXE_liteshift"))
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    )
}

/// [`apply`] with chunks of about 5 ms: the copy's progress comes in small steps, so a kill
/// at half lands near half.
fn apply_in_chunks(db: &Path, schema: &Path) -> Killed {
    apply_with(db, schema, &["--online-chunk-ms", "5"])
}

/// The JSON progress lines of `child` as they come; `until` says when to stop reading.
fn follow(
    child: &mut Killed,
    mut until: impl FnMut(&serde_json::Value) -> bool,
) -> Vec<serde_json::Value> {
    let stderr = child.0.stderr.take().unwrap();
    let mut seen = Vec::new();
    for line in BufReader::new(stderr).lines() {
        let line = line.unwrap();
        let Ok(event) = serde_json::from_str::<serde_json::Value>(&line) else {
            panic!("not a progress line: {line}");
        };
        let stop = until(&event);
        seen.push(event);
        if stop {
            break;
        }
    }
    seen
}

/// The copy step's `step_finished` event.
fn copy_finished(events: &[serde_json::Value]) -> &serde_json::Value {
    let started = events
        .iter()
        .find(|e| {
            e["event"] == "step_started"
                && e["reason"].as_str().is_some_and(|r| {
                    r.contains("copy every row") || r.contains("resume the interrupted copy")
                })
        })
        .expect("the copy started");
    events
        .iter()
        .find(|e| e["event"] == "step_finished" && e["step"] == started["step"])
        .expect("the copy finished")
}

type Rows = Vec<(i64, String, Option<String>)>;
/// The catalog: type, name, text.
type Objects = Vec<(String, String, Option<String>)>;

/// `integrity_check`, the rows of `items` with their rowids, and the catalog.
fn result(db: &Path) -> (String, Rows, Objects) {
    let c = Connection::open(db).unwrap();
    let integrity: String = c
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    let rows = c
        .prepare("SELECT rowid, a, b FROM items ORDER BY rowid")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let schema = c
        .prepare("SELECT type, name, sql FROM sqlite_schema ORDER BY name")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    (integrity, rows, schema)
}

#[test]
fn an_online_copy_killed_at_half_resumes_and_copies_each_row_about_once() {
    let dir = tempfile::tempdir().unwrap();
    let schema = dir.path().join("schema.sql");
    std::fs::write(&schema, NEW).unwrap();

    // The reference: an uninterrupted run, then the same writes.
    let reference = dir.path().join("reference.db");
    build(&reference);
    let mut run = apply(&reference, &schema);
    let events = follow(&mut run, |_| false);
    assert!(run.0.wait().unwrap().success());
    let uninterrupted = copy_finished(&events)["rows_changed"].as_u64().unwrap();
    assert_eq!(uninterrupted, ROWS as u64);
    let c = Connection::open(&reference).unwrap();
    c.execute_batch("BEGIN").unwrap();
    (0..WRITES).for_each(|k| write(&c, k));
    c.execute_batch("COMMIT").unwrap();
    drop(c);

    // Killed at about half, with another connection writing. Where the kill lands depends on
    // how fast this machine copies against how fast the test reads the progress: a kill that
    // lands outside 30–90% of the copy is tried again on a fresh file (at most three times).
    let mut attempt = 0;
    let (db, made, writing, killed_at, made_at_kill, copied) = loop {
        attempt += 1;
        let db = dir.path().join(format!("work-{attempt}.db"));
        build(&db);
        let made = Arc::new(AtomicI64::new(0));
        let writing = writer(&db, made.clone());
        let mut run = apply_in_chunks(&db, &schema);
        let seen = follow(&mut run, |e| {
            e["event"] == "rows" && e["rows"].as_u64().unwrap() >= ROWS as u64 / 2
        });
        drop(run); // SIGKILL
        let made_at_kill = made.load(Ordering::Relaxed);
        let killed_at = seen.last().unwrap()["rows"].as_u64().unwrap();
        assert!(
            killed_at >= ROWS as u64 / 2,
            "the run ended before half its copy: {seen:?}"
        );
        // What the killed run committed: the registry's last copied rowid (the ids are
        // 1..ROWS, so at most that many rows).
        let c = Connection::open(&db).unwrap();
        let (copied, hi): (i64, i64) = c
            .query_row(
                "SELECT copied, hi FROM _liteshift_online WHERE kind = 'copy'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        drop(c);
        assert!(
            hi >= ROWS,
            "the rows there when the triggers were created: {hi}"
        );
        if (ROWS * 3 / 10..ROWS * 9 / 10).contains(&copied) {
            break (db, made, writing, killed_at, made_at_kill, copied);
        }
        eprintln!("attempt {attempt}: the kill landed at {copied} of {ROWS} rows copied, not about half; again");
        writing.join().unwrap();
        assert!(
            attempt < 3,
            "killed at about half: {copied} of {ROWS}, three times"
        );
    };

    // The rerun continues from there, the writer still writing.
    let mut run = apply(&db, &schema);
    let events = follow(&mut run, |_| false);
    assert!(run.0.wait().unwrap().success(), "{events:?}");
    let made_at_rerun = made.load(Ordering::Relaxed);
    let resumed = events
        .iter()
        .find(|e| e["event"] == "step_started")
        .and_then(|e| e["reason"].as_str())
        .unwrap()
        .to_string();
    assert!(
        resumed.contains(&format!("resume the interrupted copy after rowid {copied}")),
        "{resumed}"
    );
    let rerun = copy_finished(&events)["rows_changed"].as_u64().unwrap();
    let both = copied as u64 + rerun;
    eprintln!(
        "killed at {killed_at} rows reported ({copied} committed) of {ROWS}; the rerun copied {rerun}: {both} in both runs ({:.3}x the table; an uninterrupted run copied {uninterrupted}); the other connection had made {made_at_kill} writes at the kill, {made_at_rerun} when the rerun finished, {WRITES} in all",
        both as f64 / ROWS as f64
    );
    assert!(
        both as f64 <= 1.1 * ROWS as f64,
        "{both} rows copied over both runs"
    );

    // The rest of the writes, then the same result as the uninterrupted run.
    writing.join().unwrap();
    let (integrity, rows, objects) = result(&db);
    assert_eq!(integrity, "ok");
    let (_, ref_rows, ref_objects) = result(&reference);
    assert_eq!(objects, ref_objects, "the same schema, nothing left");
    assert_eq!(rows.len(), ref_rows.len());
    let diff: Vec<_> = rows
        .iter()
        .zip(&ref_rows)
        .filter(|(a, b)| a != b)
        .take(5)
        .collect();
    assert!(diff.is_empty(), "the same rows and rowids: {diff:?}");
}

/// The old table's index, made a table by the free, while its entries are being deleted.
const RELABELLED: &str = "_liteshift_online_1_old_i1";

#[test]
fn a_run_killed_while_it_frees_the_old_index_leaves_a_sound_file_and_the_next_run_removes_the_rest()
{
    let dir = tempfile::tempdir().unwrap();
    let schema = dir.path().join("schema.sql");
    std::fs::write(&schema, NEW).unwrap();
    let reference = dir.path().join("reference.db");
    build(&reference);
    assert!(apply(&reference, &schema).0.wait().unwrap().success());

    // Killed once the free has made the old index a table (its entries then go in chunks of
    // about 1 ms, a pause after each): tried again on a fresh file when the free ends first.
    let db = dir.path().join("a.db");
    let killed = (1..=3).any(|attempt| {
        let _ = std::fs::remove_file(&db);
        build(&db);
        let mut run = apply_with(&db, &schema, &["--online-chunk-ms", "2"]);
        follow(&mut run, |e| {
            e["event"] == "step_finished" && e["step"] == e["total"]
        });
        let c = Connection::open(&db).unwrap();
        c.busy_timeout(Duration::from_secs(10)).unwrap();
        loop {
            let kind: Option<String> = c
                .query_row(
                    "SELECT type FROM sqlite_schema WHERE name = ?1",
                    [RELABELLED],
                    |r| r.get(0),
                )
                .ok();
            if kind.as_deref() == Some("table") {
                drop(run);
                return true;
            }
            // (Before the swap commits, the name is not there yet.)
            if run.0.try_wait().unwrap().is_some() {
                eprintln!("attempt {attempt}: the free ended before the kill; again");
                return false;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
    });
    assert!(killed, "the free ended before the kill, three times");
    let (integrity, ..) = result(&db);
    assert_eq!(integrity, "ok", "every state the free commits is sound");
    let c = Connection::open(&db).unwrap();
    let left: Vec<String> = c
        .prepare("SELECT name FROM \"_liteshift_online\" ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(left.iter().any(|n| n == RELABELLED), "{left:?}");
    drop(c);

    // The next run (blocking: nothing to rebuild) removes what is left.
    let rerun = Command::new(env!("CARGO_BIN_EXE_liteshift"))
        .args([
            "apply",
            "--db",
            db.to_str().unwrap(),
            schema.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(rerun.status.success(), "{rerun:?}");
    let (integrity, rows, objects) = result(&db);
    let (_, ref_rows, ref_objects) = result(&reference);
    assert_eq!(integrity, "ok");
    assert_eq!(
        objects, ref_objects,
        "nothing of the online rebuild is left"
    );
    assert_eq!(rows, ref_rows);
}
