//! Online rebuilds: another connection writes between the chunks of the copy (inserts,
//! updates, deletes that cascade, a rowid moved, a `REPLACE` that deletes a row for a UNIQUE
//! conflict without firing a trigger), and the result must equal the blocking rebuild of a
//! database that received the same writes first — rows, rowids, the AUTOINCREMENT counter,
//! the children's rows — with nothing of the online rebuild left behind.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use liteshift::apply::OnlineOptions;
use liteshift::{migrate, plan_migration, Error, Options, Progress, ProgressObserver};
use liteshift_tests::{fk_violations, integrity, table_rows};
use rusqlite::Connection;

const ROWS: i64 = 20_000;

const BEFORE: &str = "
CREATE TABLE parent(id INTEGER PRIMARY KEY, label TEXT);
CREATE TABLE t(id INTEGER PRIMARY KEY AUTOINCREMENT, email TEXT UNIQUE, n INTEGER, parent INTEGER REFERENCES parent(id) ON DELETE CASCADE);
CREATE TABLE child(id INTEGER PRIMARY KEY, t_id INTEGER REFERENCES t(id) ON DELETE CASCADE ON UPDATE CASCADE);
CREATE INDEX t_n ON t(n);
CREATE INDEX t_parent ON t(parent);
CREATE INDEX child_t ON child(t_id);
CREATE VIEW tv AS SELECT id, email FROM t;
CREATE TRIGGER t_touch AFTER UPDATE OF n ON t BEGIN UPDATE parent SET label = 'touched ' || new.id WHERE id = new.parent; END;
";

/// `n` becomes TEXT (a rebuild on every SQLite) and `note` is added; the rest is kept.
const AFTER: &str = "
CREATE TABLE parent(id INTEGER PRIMARY KEY, label TEXT);
CREATE TABLE t(id INTEGER PRIMARY KEY AUTOINCREMENT, email TEXT UNIQUE, n TEXT, parent INTEGER REFERENCES parent(id) ON DELETE CASCADE, note TEXT DEFAULT 'none');
CREATE TABLE child(id INTEGER PRIMARY KEY, t_id INTEGER REFERENCES t(id) ON DELETE CASCADE ON UPDATE CASCADE);
CREATE INDEX t_n ON t(n);
CREATE INDEX t_parent ON t(parent);
CREATE INDEX child_t ON child(t_id);
CREATE VIEW tv AS SELECT id, email FROM t;
CREATE TRIGGER t_touch AFTER UPDATE OF n ON t BEGIN UPDATE parent SET label = 'touched ' || new.id WHERE id = new.parent; END;
";

fn database(path: &Path) -> Connection {
    let conn = Connection::open(path).unwrap();
    conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;")
        .unwrap();
    conn.execute_batch(BEFORE).unwrap();
    conn.execute_batch(&format!(
        "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {ROWS})
         INSERT INTO parent SELECT i, 'p' || i FROM s WHERE i <= 100;
         WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {ROWS})
         INSERT INTO t(id, email, n, parent) SELECT i, 'u' || i || '@x', i % 97, 1 + i % 100 FROM s;
         WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {ROWS})
         INSERT INTO child SELECT i, i FROM s WHERE i % 3 = 0;"
    ))
    .unwrap();
    conn
}

/// The `k`-th batch of writes another connection makes: every kind of write, on rows
/// already copied (low rowids) and not yet copied (high ones).
fn write(conn: &Connection, k: i64) {
    let low = 1 + k * 7;
    let high = ROWS - k * 11;
    conn.execute_batch(&format!(
        "INSERT INTO t(email, n, parent) VALUES ('new{k}@x', {k}, 2);
         UPDATE t SET n = n + 1000, email = 'changed{k}.' || id || '@x' WHERE id IN ({low}, {high});
         DELETE FROM t WHERE id IN ({low} + 1, {high} - 1);
         UPDATE t SET id = id + 1000000 WHERE id = {low} + 2;
         INSERT OR REPLACE INTO t(email, n, parent) VALUES ('u{}@x', -{k}, 3);
         INSERT INTO t(id, email, n, parent) VALUES ({low} + 1, 'back{k}@x', 7, 4);
         DELETE FROM parent WHERE id = 50 + {k};",
        low + 5
    ))
    .unwrap();
}

fn online_opts(sink: Option<ProgressObserver>) -> Options {
    Options {
        online: Some(OnlineOptions {
            // Chunks shrink to 100 rows: many chunks, a write between each.
            chunk_time: Duration::ZERO,
            pause: Duration::ZERO,
            first_chunk_rows: 500,
        }),
        on_progress: sink,
        ..Options::default()
    }
}

fn leftovers(conn: &Connection) -> Vec<String> {
    conn.prepare("SELECT name FROM sqlite_master WHERE name LIKE '\\_liteshift%' ESCAPE '\\'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn everything(conn: &Connection) -> Vec<String> {
    let mut out = Vec::new();
    for table in ["parent", "t", "child", "sqlite_sequence"] {
        let mut st = conn
            .prepare(&format!("SELECT * FROM {table} ORDER BY 1"))
            .unwrap();
        let n = st.column_count();
        let rows = st
            .query_map([], |r| {
                let vals: Vec<String> = (0..n)
                    .map(|i| format!("{:?}", r.get_ref(i).unwrap()))
                    .collect();
                Ok(format!("{table}: {}", vals.join(" | ")))
            })
            .unwrap();
        out.extend(rows.map(Result::unwrap));
    }
    out
}

#[test]
fn writes_during_an_online_rebuild_are_all_in_the_result() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("online.db"), dir.path().join("blocking.db"));
    let mut conn = database(&a);
    let blocking = database(&b);

    let writer = Arc::new(Mutex::new(Connection::open(&a).unwrap()));
    writer
        .lock()
        .unwrap()
        .execute_batch("PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;")
        .unwrap();
    let batches = Arc::new(Mutex::new(0i64));
    let (w, count) = (writer.clone(), batches.clone());
    let observer = ProgressObserver::new(move |p| {
        if let Progress::Rows { .. } = p {
            let mut k = count.lock().unwrap();
            if *k < 40 {
                write(&w.lock().unwrap(), *k);
                *k += 1;
            }
        }
    });
    let planned = plan_migration(&conn, AFTER, &online_opts(None)).unwrap();
    let online = planned.plan.online.as_ref().expect("t is rebuilt online");
    assert_eq!(online.tables.len(), 1);
    assert_eq!(online.tables[0].table, "t");
    let report = migrate(&mut conn, AFTER, &online_opts(Some(observer))).unwrap();
    let k = *batches.lock().unwrap();
    assert_eq!(k, 40, "the writer wrote between chunks");
    assert!(report.steps_applied > 0);

    // The same writes, then the blocking rebuild.
    blocking.execute_batch("PRAGMA foreign_keys = ON").unwrap();
    for k in 0..k {
        write(&blocking, k);
    }
    let mut blocking = blocking;
    migrate(&mut blocking, AFTER, &Options::default()).unwrap();

    assert_eq!(everything(&conn), everything(&blocking));
    assert_eq!(table_rows(&conn), table_rows(&blocking));
    assert!(leftovers(&conn).is_empty(), "{:?}", leftovers(&conn));
    assert_eq!(integrity(&conn), "ok");
    assert_eq!(fk_violations(&conn), 0);
    let again = plan_migration(&conn, AFTER, &Options::default()).unwrap();
    assert!(again.plan.is_empty(), "{:?}", again.plan.steps);
    // The writer's connection sees the new table and keeps working.
    let w = writer.lock().unwrap();
    w.execute("INSERT INTO t(email, n) VALUES ('after@x', 'text')", [])
        .unwrap();
}
