//! Adding a column with a constant parenthesised default (`DEFAULT (-1)`, `('x')`, `(NULL)`)
//! to a 1M-row table: SQLite's native `ADD COLUMN` takes it, so the migration must cost about
//! what SQLite's own `ADD COLUMN` costs by hand, not a rebuild. Baselines measured in the same
//! run: the no-op `migrate` (in sync), the same `ALTER TABLE … ADD COLUMN` run by hand, and a
//! default SQLite's `ADD COLUMN` refuses (`(1 + 2)`: a rebuild; its by-hand figure is SQLite
//! refusing it, so it is not comparable).
//!
//! `cargo bench -p liteshift-tests --bench add_column [-- ROWS]`

use std::time::{Duration, Instant};

use liteshift::{migrate, Options};
use rusqlite::Connection;

const BASE: &str = "CREATE TABLE item(id INTEGER PRIMARY KEY, name TEXT, price REAL);";

fn database(rows: usize) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let c = Connection::open(&path).unwrap();
    c.execute_batch(BASE).unwrap();
    c.execute_batch(&format!(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {rows})
         INSERT INTO item SELECT i, 'item ' || i, i * 0.5 FROM n;"
    ))
    .unwrap();
    drop(c);
    std::fs::read(&path).unwrap()
}

/// Median wall time of migrating a fresh copy of `image` to `schema`, and the plan's steps.
fn time(image: &[u8], schema: &str, runs: usize) -> (Duration, usize) {
    let mut times = Vec::new();
    let mut steps = 0;
    for _ in 0..runs {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        std::fs::write(&path, image).unwrap();
        let mut c = Connection::open(&path).unwrap();
        let t = Instant::now();
        let r = migrate(&mut c, schema, &Options::default()).unwrap();
        times.push(t.elapsed());
        steps = r.steps_applied;
    }
    times.sort();
    (times[times.len() / 2], steps)
}

/// Median wall time of the same SQLite running `sql` by hand on a fresh copy of `image`.
fn time_by_hand(image: &[u8], sql: &str, runs: usize) -> Result<Duration, String> {
    let mut times = Vec::new();
    for _ in 0..runs {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        std::fs::write(&path, image).unwrap();
        let c = Connection::open(&path).unwrap();
        let t = Instant::now();
        c.execute_batch(&format!("BEGIN IMMEDIATE; {sql}; COMMIT"))
            .map_err(|e| liteshift::sqlite_message(&e))?;
        times.push(t.elapsed());
    }
    times.sort();
    Ok(times[times.len() / 2])
}

fn main() {
    let rows: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let image = database(rows);
    let with = |d: &str| {
        format!("CREATE TABLE item(id INTEGER PRIMARY KEY, name TEXT, price REAL, flag INTEGER NOT NULL DEFAULT {d});")
    };
    let (noop, _) = time(&image, BASE, 7);
    println!("{rows} rows; no-op migrate (baseline): {noop:?}");
    for d in ["(-1)", "('x')", "(NULL)", "0", "(1 + 2)"] {
        let schema = if d == "(NULL)" {
            with(d).replace(" NOT NULL", "")
        } else {
            with(d)
        };
        let (t, steps) = time(&image, &schema, 5);
        let def = schema
            .split("price REAL, ")
            .nth(1)
            .unwrap()
            .trim_end_matches(");");
        let by_hand = match time_by_hand(&image, &format!("ALTER TABLE item ADD COLUMN {def}"), 5) {
            Ok(h) => format!(
                "{:>5.2}x SQLite's own ADD COLUMN by hand ({h:?})",
                t.as_secs_f64() / h.as_secs_f64()
            ),
            Err(e) => format!("SQLite's ADD COLUMN refuses it: {e}"),
        };
        println!(
            "ADD flag DEFAULT {d:<8} {t:>12?}  {:>7.1}x the no-op, {by_hand}  ({steps} steps)",
            t.as_secs_f64() / noop.as_secs_f64()
        );
    }
}
