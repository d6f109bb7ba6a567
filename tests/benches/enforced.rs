//! The closure rebuild's cost: a parent table rebuilt where foreign-key enforcement stays on
//! (D1, rqlite `-fk`: every referencing table is rebuilt with it), against the ordinary
//! rebuild of the same data on a connection that can switch enforcement off (only the parent
//! is rebuilt). Realistic data: 100k parents, and children in three tables (CASCADE, SET
//! NULL, a grandchild) with an index on scattered parent ids and NULLs; the ratio is the
//! median of adjacent pairs, both measured in the same run.
//!
//! `cargo bench -p liteshift-tests --bench enforced [-- PARENTS]`

use std::time::{Duration, Instant};

use liteshift::{migrate, Options};
use liteshift_tests::hosts::foreign_keys_always_on;
use rusqlite::Connection;

const SCHEMA: &str = "
CREATE TABLE parent(id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT, created INTEGER);
CREATE TABLE child(id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent(id) ON DELETE CASCADE, body TEXT);
CREATE INDEX child_parent ON child(parent_id);
CREATE TABLE tag(id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent(id) ON DELETE SET NULL, label TEXT);
CREATE INDEX tag_parent ON tag(parent_id);
CREATE TABLE reply(id INTEGER PRIMARY KEY, child_id INTEGER REFERENCES child(id) ON DELETE CASCADE, body TEXT);
CREATE INDEX reply_child ON reply(child_id);
";

fn database(parents: usize) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let c = Connection::open(&path).unwrap();
    c.execute_batch(SCHEMA).unwrap();
    // Children point at scattered parents (a multiplicative hash), a tenth of tags at none.
    c.execute_batch(&format!(
        "BEGIN;
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {parents})
         INSERT INTO parent SELECT i, 'parent ' || i, 1700000000 + i FROM n;
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {children})
         INSERT INTO child SELECT i, (i * 7919) % {parents} + 1, 'child body ' || i FROM n;
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {parents})
         INSERT INTO tag SELECT i, CASE WHEN i % 10 = 0 THEN NULL ELSE (i * 104729) % {parents} + 1 END, 'tag' FROM n;
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {children})
         INSERT INTO reply SELECT i, (i * 31) % {children} + 1, 'reply' FROM n;
         COMMIT;",
        children = parents * 3
    ))
    .unwrap();
    drop(c);
    std::fs::read(&path).unwrap()
}

/// Wall time of migrating a fresh copy of `image` to `schema`, enforcement kept on or not,
/// and the steps it ran.
fn once(image: &[u8], schema: &str, enforced: bool) -> (Duration, usize) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    std::fs::write(&path, image).unwrap();
    let mut c = Connection::open(&path).unwrap();
    c.execute_batch("PRAGMA foreign_keys = ON").unwrap();
    if enforced {
        foreign_keys_always_on(&mut c);
    }
    let t = Instant::now();
    let r = migrate(&mut c, schema, &Options::default()).unwrap();
    let elapsed = t.elapsed();
    assert_eq!(r.plan.foreign_keys_enforced, enforced);
    let kept: i64 = c
        .query_row("SELECT count(*) FROM reply", [], |r| r.get(0))
        .unwrap();
    assert!(kept > 0, "rows kept");
    (elapsed, r.steps_applied)
}

fn main() {
    let parents: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(100_000);
    let image = database(parents);
    let target = SCHEMA.replace(
        "name TEXT, created",
        "name TEXT NOT NULL DEFAULT '', created",
    );
    let mut ratios = Vec::new();
    let (mut ordinary, mut closure) = (Vec::new(), Vec::new());
    let mut steps = (0, 0);
    for _ in 0..5 {
        let (o, so) = once(&image, &target, false);
        let (e, se) = once(&image, &target, true);
        ratios.push(e.as_secs_f64() / o.as_secs_f64());
        ordinary.push(o);
        closure.push(e);
        steps = (so, se);
    }
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    ratios.sort_by(f64::total_cmp);
    println!(
        "{parents} parents, {} children, {parents} tags, {} replies ({:.1} MB)",
        parents * 3,
        parents * 3,
        image.len() as f64 / 1e6
    );
    println!(
        "ordinary rebuild (enforcement off; the parent only): {:?}, {} steps",
        median(&mut ordinary),
        steps.0
    );
    println!(
        "closure rebuild (enforcement kept on; the parent and every table that references it): {:?}, {} steps",
        median(&mut closure),
        steps.1
    );
    println!(
        "closure / ordinary: median {:.2}x of 5 adjacent pairs (range {:.2}x-{:.2}x)",
        ratios[ratios.len() / 2],
        ratios[0],
        ratios[ratios.len() - 1]
    );
}
