//! What a migration tells its observer, and what its plan says each step costs: a step's
//! start, the rows a rebuild has copied so far, its end; estimates from the table's size.

use std::sync::{Arc, Mutex};

use liteshift::{migrate, plan_migration, Options, Progress, ProgressObserver};
use liteshift::{Cost, Estimate};
use rusqlite::Connection;

const ROWS: u64 = 20_000;

fn database() -> Connection {
    let conn = Connection::open_in_memory().unwrap();
    conn.execute_batch(
        "CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, n INTEGER);
         CREATE INDEX t_n ON t(n);
         CREATE TABLE k(a TEXT PRIMARY KEY, b TEXT) WITHOUT ROWID;",
    )
    .unwrap();
    conn.execute_batch(&format!(
        "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {ROWS})
         INSERT INTO t SELECT i, printf('name %08d', i), i % 10 FROM s;"
    ))
    .unwrap();
    conn
}

/// `name` becomes NOT NULL and `n` gets a CHECK: a rebuild of `t`.
const REBUILT: &str =
    "CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT NOT NULL, n INTEGER CHECK (n >= 0));
CREATE INDEX t_n ON t(n);
CREATE TABLE k(a TEXT PRIMARY KEY, b TEXT) WITHOUT ROWID;";

#[derive(Debug, PartialEq)]
enum Event {
    Started(usize, usize),
    Rows(usize, u64),
    Finished(usize, u64),
}

fn observed(conn: &mut Connection, schema: &str) -> Vec<Event> {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    let opts = Options {
        on_progress: Some(ProgressObserver::new(move |p| {
            let e = match p {
                Progress::Started { number, total, .. } => Event::Started(*number, *total),
                Progress::Rows { number, rows, .. } => Event::Rows(*number, *rows),
                Progress::Finished { done, .. } => Event::Finished(done.number, done.rows_changed),
            };
            sink.lock().unwrap().push(e);
        })),
        ..Options::default()
    };
    migrate(conn, schema, &opts).unwrap();
    let out = std::mem::take(&mut *events.lock().unwrap());
    out
}

#[test]
fn a_rebuild_reports_each_step_and_the_rows_it_has_copied() {
    let mut conn = database();
    let plan = plan_migration(&conn, REBUILT, &Options::default())
        .unwrap()
        .plan;
    let total = plan.steps.len();
    let copy = plan
        .steps
        .iter()
        .position(|s| s.rewrites_rows)
        .expect("a copy step")
        + 1;
    let events = observed(&mut conn, REBUILT);

    // Every step starts, then finishes, in order; the copy reports rows in between.
    let mut expected_number = 1;
    let mut rows_seen = Vec::new();
    for e in &events {
        match *e {
            Event::Started(n, t) => {
                assert_eq!((n, t), (expected_number, total), "{events:?}");
            }
            Event::Rows(n, rows) => {
                assert_eq!(n, copy);
                rows_seen.push(rows);
            }
            Event::Finished(n, changed) => {
                assert_eq!(n, expected_number);
                if n == copy {
                    assert_eq!(changed, ROWS);
                }
                expected_number += 1;
            }
        }
    }
    assert_eq!(
        expected_number,
        total + 1,
        "every step finished: {events:?}"
    );
    let every = liteshift::ROWS_EVERY;
    let expected: Vec<u64> = (1..=ROWS / every).map(|k| k * every).collect();
    assert_eq!(rows_seen, expected, "rows copied so far, every {every}");
    let name_nulls: i64 = conn
        .query_row("SELECT count(*) FROM t WHERE name IS NULL", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(name_nulls, 0);
}

#[test]
fn without_an_observer_nothing_watches_the_rows() {
    // The update hook is only set while an observed step runs: an app's connection keeps
    // working (and a second, observed migration counts again from zero).
    let mut conn = database();
    migrate(&mut conn, REBUILT, &Options::default()).unwrap();
    let again = REBUILT.replace("n INTEGER CHECK (n >= 0)", "n INTEGER CHECK (n >= -1)");
    let events = observed(&mut conn, &again);
    let rows: Vec<u64> = events
        .iter()
        .filter_map(|e| match e {
            Event::Rows(_, r) => Some(*r),
            _ => None,
        })
        .collect();
    assert_eq!(rows.first(), Some(&liteshift::ROWS_EVERY));
    conn.execute("INSERT INTO t(name, n) VALUES ('after', 1)", [])
        .unwrap();
}

#[test]
fn the_plan_says_what_each_step_costs() {
    let conn = database();
    let plan = plan_migration(&conn, REBUILT, &Options::default())
        .unwrap()
        .plan;
    let copy = plan.steps.iter().find(|s| s.rewrites_rows).unwrap();
    let (Cost::Rewrite(size), Some(Estimate { rows, bytes })) = (&copy.cost, copy.cost.estimate())
    else {
        panic!("the copy's cost: {:?}", copy.cost)
    };
    assert_eq!((size.table.as_str(), rows), ("t", ROWS));
    // Each row: an 8-byte-ish id, 13 bytes of name, one digit.
    assert!((ROWS * 15..ROWS * 30).contains(&bytes), "{bytes} bytes");
    let index = plan
        .steps
        .iter()
        .find(|s| s.sql.starts_with("CREATE INDEX"))
        .unwrap();
    assert!(matches!(&index.cost, Cost::Scan(s) if s.table == "t" && s.rows == Some(ROWS)));
    let drop = plan
        .steps
        .iter()
        .find(|s| s.sql.starts_with("DROP TABLE"))
        .unwrap();
    assert!(matches!(&drop.cost, Cost::Free(s) if s.table == "t"));
    let rename = plan
        .steps
        .iter()
        .find(|s| s.sql.contains("RENAME TO"))
        .unwrap();
    assert_eq!(rename.cost, Cost::Constant);

    let text = liteshift::render_sql(&plan);
    assert!(
        text.contains("[rewrites ~20,000 rows (~"),
        "the script's comment says it:\n{text}"
    );
    assert!(text.contains("[O(1)]"), "{text}");
    let json = serde_json::to_value(&plan).unwrap();
    let cost = &json["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["rewrites_rows"] == true)
        .unwrap()["cost"];
    assert_eq!(cost["kind"], "rewrite");
    assert_eq!(cost["table"], "t");
    assert_eq!(cost["rows"], ROWS);
}

#[test]
fn a_without_rowid_table_is_sized_by_analyze_or_not_at_all() {
    let conn = database();
    conn.execute_batch(
        "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 500)
         INSERT INTO k SELECT printf('%05d', i), 'b' FROM s;",
    )
    .unwrap();
    let schema = REBUILT.replace(
        "b TEXT) WITHOUT ROWID",
        "b TEXT COLLATE NOCASE) WITHOUT ROWID",
    );
    let cost_of_k = |conn: &Connection| {
        let plan = plan_migration(conn, &schema, &Options::default())
            .unwrap()
            .plan;
        plan.steps
            .iter()
            .find(|s| s.rewrites_rows && s.sql.starts_with("INSERT INTO \"k\""))
            .unwrap()
            .cost
            .clone()
    };
    assert_eq!(cost_of_k(&conn).estimate(), None, "no count(*) scan");
    conn.execute_batch("ANALYZE").unwrap();
    assert_eq!(cost_of_k(&conn).estimate().map(|e| e.rows), Some(500));
}
