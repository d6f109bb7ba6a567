//! Inputs at the edge: each works in bounded time and memory, or is refused with a clear
//! error before anything changes. Timings are printed (`-- --nocapture`); the bounds are loose
//! enough for a debug build on a busy CI machine.

use std::time::{Duration, Instant};

use liteshift::{Error, Options};
use rusqlite::Connection;

fn fresh() -> (tempfile::TempDir, Connection) {
    let dir = tempfile::tempdir().unwrap();
    let conn = Connection::open(dir.path().join("edge.db")).unwrap();
    (dir, conn)
}

/// Migrate an empty database to `sql`, then again (in sync); the time of each.
fn twice(sql: &str) -> (Duration, Duration, usize) {
    let (_dir, mut conn) = fresh();
    let started = Instant::now();
    let r = liteshift::migrate(&mut conn, sql, &Options::default()).unwrap();
    let first = started.elapsed();
    let started = Instant::now();
    let again = liteshift::migrate(&mut conn, sql, &Options::default()).unwrap();
    assert_eq!(again.steps_applied, 0, "in sync");
    (first, started.elapsed(), r.steps_applied)
}

#[test]
fn ten_thousand_tables() {
    let sql: String = (0..10_000)
        .map(|i| format!("CREATE TABLE t{i}(id INTEGER PRIMARY KEY, v TEXT, n INTEGER);\n"))
        .collect();
    let (first, again, steps) = twice(&sql);
    println!("10,000 tables: migrated in {first:?}, in sync in {again:?}");
    assert_eq!(steps, 10_000);
    assert!(first < Duration::from_secs(120) && again < Duration::from_secs(60));
}

#[test]
fn a_five_megabyte_create_statement() {
    let sql = format!(
        "CREATE TABLE big(id INTEGER PRIMARY KEY, v TEXT DEFAULT '{}');",
        "x".repeat(5_000_000)
    );
    let (first, again, steps) = twice(&sql);
    println!("a 5 MB CREATE TABLE: migrated in {first:?}, in sync in {again:?}");
    assert_eq!(steps, 1);
    assert!(first < Duration::from_secs(60) && again < Duration::from_secs(60));
}

#[test]
fn two_thousand_columns_and_one_too_many() {
    let table = |n: usize| {
        format!(
            "CREATE TABLE wide({});",
            (0..n)
                .map(|i| format!("c{i} TEXT"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let (first, again, steps) = twice(&table(2000));
    println!("2,000 columns: migrated in {first:?}, in sync in {again:?}");
    assert_eq!(steps, 1);
    let (_dir, mut conn) = fresh();
    let e = liteshift::migrate(&mut conn, &table(2001), &Options::default()).unwrap_err();
    assert!(
        matches!(&e, Error::Schema { message, .. } if message.contains("too many columns on wide")),
        "{e}"
    );
}

#[test]
fn expressions_nested_ten_thousand_deep_are_refused() {
    for (open, close) in [("(", ")"), ("x + (", ")")] {
        let sql = format!(
            "CREATE TABLE d(x INTEGER CHECK ({}x{} > 0));",
            open.repeat(10_000),
            close.repeat(10_000)
        );
        let (_dir, mut conn) = fresh();
        let started = Instant::now();
        let e = liteshift::migrate(&mut conn, &sql, &Options::default()).unwrap_err();
        println!(
            "nested 10,000 deep ({open}…): refused in {:?}",
            started.elapsed()
        );
        assert!(
            matches!(&e, Error::Schema { message, .. } if message.contains("nests too deeply")),
            "{e}"
        );
        let n: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 0, "nothing was created");
    }
    // As deep as SQLite's parser goes: it works, on a fleet's worker thread too.
    let sql = format!(
        "CREATE TABLE d(x INTEGER CHECK ({}x{} > 0));",
        "(".repeat(1000),
        ")".repeat(1000)
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.db");
    Connection::open(&path)
        .unwrap()
        .execute_batch("PRAGMA user_version = 1")
        .unwrap();
    let results = liteshift::fleet::run(
        &[path],
        &sql,
        &Options::default(),
        liteshift::fleet::Mode::Apply,
        2,
        &|_| {},
    )
    .unwrap();
    assert!(
        matches!(
            results[0].outcome,
            liteshift::fleet::Outcome::Migrated { .. }
        ),
        "{:?}",
        results[0].outcome
    );
}
