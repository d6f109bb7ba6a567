//! Online rebuilds: another connection writes between the chunks of the copy (inserts,
//! updates, deletes that cascade, a rowid moved, a `REPLACE` that deletes a row for a UNIQUE
//! conflict without firing a trigger), and the result must equal the blocking rebuild of a
//! database that received the same writes first — rows, rowids, the AUTOINCREMENT counter,
//! the children's rows — with nothing of the online rebuild left behind.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use liteshift::OnlineOptions;
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
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
    )
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

fn catalog(conn: &Connection) -> Vec<(String, String, String, Option<String>)> {
    conn.prepare("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY name")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
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
    assert_eq!(
        catalog(&conn),
        catalog(&blocking),
        "indexes built during the copy, named as declared"
    );
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
    let n: i64 = w
        .query_row(
            "SELECT count(*) FROM t INDEXED BY t_n WHERE n = 'text'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        n, 1,
        "the writer's connection reloaded the schema with the renamed index"
    );
}

fn small(path: &Path, sql: &str) -> Connection {
    let conn = Connection::open(path).unwrap();
    conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;")
        .unwrap();
    conn.execute_batch(sql).unwrap();
    conn
}

#[test]
fn a_row_that_violates_the_new_definition_stops_the_copy_and_nothing_is_left() {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = small(
        &dir.path().join("a.db"),
        "CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, n INTEGER);
         WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 5000)
         INSERT INTO t SELECT i, CASE WHEN i IN (4000, 4500) THEN NULL ELSE 'n' || i END, i FROM s;",
    );
    let before = table_rows(&conn);
    let err = migrate(
        &mut conn,
        "CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT NOT NULL, n TEXT);",
        &online_opts(None),
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, Error::Refused(_)), "{text}");
    assert!(
        text.contains("NOT NULL") && text.contains("t.name") && text.contains("4000"),
        "{text}"
    );
    assert_eq!(table_rows(&conn), before);
    assert!(leftovers(&conn).is_empty(), "{:?}", leftovers(&conn));
    let sql: String = conn
        .query_row("SELECT sql FROM sqlite_master WHERE name = 't'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(
        sql,
        "CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, n INTEGER)"
    );
}

#[test]
fn what_cannot_be_copied_online_is_rebuilt_in_the_transaction_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = small(
        &dir.path().join("a.db"),
        "CREATE TABLE k(a TEXT PRIMARY KEY, b INTEGER) WITHOUT ROWID;
         CREATE TABLE r(id INTEGER PRIMARY KEY, v TEXT);
         INSERT INTO k VALUES ('x', 1), ('y', 2);
         INSERT INTO r VALUES (1, 'one');",
    );
    let after = "CREATE TABLE k(a TEXT PRIMARY KEY, b TEXT) WITHOUT ROWID;
CREATE TABLE r(id INTEGER PRIMARY KEY, v TEXT NOT NULL ON CONFLICT IGNORE);";
    let planned = plan_migration(&conn, after, &online_opts(None)).unwrap();
    assert!(planned.plan.online.is_none());
    let warnings = planned.plan.warnings.join("\n");
    assert!(
        warnings.contains("online: k is rebuilt in the final transaction")
            && warnings.contains("WITHOUT ROWID"),
        "{warnings}"
    );
    assert!(
        warnings.contains("online: r is rebuilt") && warnings.contains("ON CONFLICT"),
        "{warnings}"
    );
    migrate(&mut conn, after, &online_opts(None)).unwrap();
    assert!(plan_migration(&conn, after, &Options::default())
        .unwrap()
        .plan
        .is_empty());
}

#[test]
fn where_the_schema_cannot_be_edited_the_indexes_are_built_in_the_swap() {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = small(
        &dir.path().join("a.db"),
        "CREATE TABLE t(id INTEGER PRIMARY KEY, n INTEGER); CREATE INDEX t_n ON t(n);
         INSERT INTO t VALUES (1, 1), (2, 2);",
    );
    let after = "CREATE TABLE t(id INTEGER PRIMARY KEY, n TEXT); CREATE INDEX t_n ON t(n);";
    let prebuilt = plan_migration(&conn, after, &online_opts(None))
        .unwrap()
        .plan;
    assert!(prebuilt.warnings.is_empty(), "{:?}", prebuilt.warnings);
    conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_DEFENSIVE, true)
        .unwrap();
    let planned = plan_migration(&conn, after, &online_opts(None))
        .unwrap()
        .plan;
    let warnings = planned.warnings.join("\n");
    assert!(
        warnings.contains("online: index t_n is built in the final transaction")
            && warnings.contains("cannot rename an index"),
        "{warnings}"
    );
    assert!(planned
        .steps
        .iter()
        .any(|s| s.sql == "CREATE INDEX t_n ON t(n)"));
    migrate(&mut conn, after, &online_opts(None)).unwrap();
    assert_eq!(integrity(&conn), "ok");
    assert!(leftovers(&conn).is_empty());
}

#[test]
fn an_interrupted_online_rebuild_is_named_and_removed_by_the_next_plan() {
    let dir = tempfile::tempdir().unwrap();
    let before = "CREATE TABLE t(id INTEGER PRIMARY KEY, n INTEGER);\nCREATE INDEX t_n ON t(n);";
    let mut conn = small(
        &dir.path().join("a.db"),
        &format!("{before}\nINSERT INTO t VALUES (1, 10), (2, 20);"),
    );
    let after = "CREATE TABLE t(id INTEGER PRIMARY KEY, n TEXT);\nCREATE INDEX t_n ON t(n);";
    let planned = plan_migration(&conn, after, &online_opts(None)).unwrap();
    let online = planned.plan.online.unwrap();
    // What a crash after the prepare transaction leaves, and a write logged meanwhile.
    for step in &online.prepare {
        conn.execute_batch(&step.sql).unwrap();
    }
    conn.execute_batch("INSERT INTO t VALUES (3, 30)").unwrap();
    // The shadow, its index (built after the copy: a helper table and the list of rows with a
    // NULL key, the list of rows the drains copied), the log, three triggers, the registry.
    assert_eq!(leftovers(&conn).len(), 9, "{:?}", leftovers(&conn));

    let schema = liteshift::introspect(&conn).unwrap();
    assert_eq!(
        schema.tables.len(),
        1,
        "the shadow and the log are not the user's"
    );
    assert!(schema.triggers.is_empty(), "nor are the mirror triggers");
    assert_eq!(schema.indexes.len(), 1, "nor the shadow's index's helper");
    assert_eq!(schema.leftovers.len(), 9);

    // Against the old schema: in sync but for the leftovers, which the plan removes.
    let planned = plan_migration(&conn, before, &Options::default()).unwrap();
    assert_eq!(planned.plan.steps.len(), 1, "{:?}", planned.plan.steps);
    assert!(
        planned.plan.changes[0].starts_with("remove what an interrupted online rebuild left"),
        "{:?}",
        planned.plan.changes
    );
    // An online run of the same plan continues the copy (none of it committed: from the
    // first row) with them, and completes.
    let resumed = plan_migration(&conn, after, &online_opts(None)).unwrap();
    let online = resumed.plan.online.unwrap();
    assert!(online.prepare.is_empty());
    assert_eq!(online.tables[0].resumed.as_ref().unwrap().copied, None);
    migrate(&mut conn, after, &online_opts(None)).unwrap();
    assert!(leftovers(&conn).is_empty(), "{:?}", leftovers(&conn));
    let n: Vec<String> = conn
        .prepare("SELECT n FROM t ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(n, ["10", "20", "30"]);
    assert!(plan_migration(&conn, after, &Options::default())
        .unwrap()
        .plan
        .is_empty());
}

#[test]
fn a_writer_thread_keeps_inserting_while_the_rows_are_copied() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.db");
    let mut conn = small(
        &path,
        "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT);
         WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 100000)
         INSERT INTO t SELECT i, 'v' || i FROM s;",
    );
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (p, s) = (path.clone(), stop.clone());
    let writer = std::thread::spawn(move || {
        let w = Connection::open(p).unwrap();
        w.busy_timeout(Duration::from_secs(10)).unwrap();
        let mut written = 0i64;
        while !s.load(std::sync::atomic::Ordering::Relaxed) || written < 50 {
            w.execute("INSERT INTO t(v) VALUES ('written meanwhile')", [])
                .unwrap();
            written += 1;
            std::thread::sleep(Duration::from_millis(1));
        }
        written
    });
    let opts = Options {
        online: Some(OnlineOptions {
            chunk_time: Duration::from_millis(2),
            pause: Duration::from_millis(2),
            first_chunk_rows: 1000,
        }),
        ..Options::default()
    };
    migrate(
        &mut conn,
        "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT NOT NULL);",
        &opts,
    )
    .unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let written = writer.join().unwrap();
    let (count, meanwhile): (i64, i64) = conn
        .query_row(
            "SELECT count(*), count(*) FILTER (WHERE v = 'written meanwhile') FROM t",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(meanwhile, written);
    assert_eq!(count, 100_000 + written);
    assert!(leftovers(&conn).is_empty());
}

#[test]
fn the_swap_renames_the_old_table_away_and_its_pages_are_freed_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let before = "CREATE TABLE t(id INTEGER PRIMARY KEY AUTOINCREMENT, n INTEGER);\nCREATE INDEX t_n ON t(n);\nCREATE TABLE audit(n INTEGER);\nCREATE TRIGGER t_audit AFTER INSERT ON t BEGIN INSERT INTO audit VALUES (new.n); END;";
    let mut conn = small(
        &dir.path().join("a.db"),
        &format!("{before}\nWITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < 3000) INSERT INTO t SELECT i, (i * 7919) % 3001 FROM k;\nDELETE FROM audit;"),
    );
    let after = before.replace("n INTEGER);\nCREATE INDEX", "n TEXT);\nCREATE INDEX");
    let planned = plan_migration(&conn, &after, &online_opts(None)).unwrap();
    let online = planned.plan.online.as_ref().unwrap();
    assert_eq!(
        online.tables[0].old.as_deref(),
        Some("_liteshift_online_1_old")
    );
    assert!(
        planned
            .plan
            .steps
            .iter()
            .any(|s| s.sql.contains("RENAME TO \"_liteshift_online_1_old\"")),
        "{:#?}",
        planned.plan.steps
    );
    assert!(
        !planned
            .plan
            .steps
            .iter()
            .any(|s| s.sql == "DROP TABLE \"t\"" || s.sql == "DROP TABLE t"),
        "the swap drops no table of rows: {:#?}",
        planned.plan.steps
    );
    // A rendered script drops the old table after the swap, in its own transaction.
    let script = liteshift::render_sql(&planned.plan);
    let swap_end = script.find("COMMIT;\n-- liteshift frees").expect(&script);
    assert!(script[swap_end..].contains("DROP TABLE IF EXISTS \"_liteshift_online_1_old\""));
    migrate(&mut conn, &after, &online_opts(None)).unwrap();
    assert!(leftovers(&conn).is_empty(), "{:?}", leftovers(&conn));
    assert_eq!(integrity(&conn), "ok");
    let freelist: i64 = conn
        .query_row("PRAGMA freelist_count", [], |r| r.get(0))
        .unwrap();
    assert!(freelist > 0, "the old table's pages are free");
    let rows: i64 = conn
        .query_row("SELECT count(*) FROM t WHERE typeof(n) = 'text'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(rows, 3000);
    // The declared trigger is on the new table, the AUTOINCREMENT mark kept.
    conn.execute_batch("INSERT INTO t(n) VALUES (5)").unwrap();
    let (id, audited): (i64, i64) = conn
        .query_row(
            "SELECT (SELECT max(id) FROM t), (SELECT count(*) FROM audit)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((id, audited), (3001, 1));
    assert!(plan_migration(&conn, &after, &Options::default())
        .unwrap()
        .plan
        .is_empty());
}

#[test]
fn a_crash_between_the_swap_and_the_free_leaves_the_old_table_named_and_the_next_run_removes_it() {
    let dir = tempfile::tempdir().unwrap();
    let before =
        "CREATE TABLE t(id INTEGER PRIMARY KEY, n INTEGER UNIQUE);\nCREATE INDEX t_n ON t(n);";
    let mut conn = small(
        &dir.path().join("a.db"),
        &format!("{before}\nINSERT INTO t VALUES (1, 10), (2, 20);"),
    );
    let after = "CREATE TABLE t(id INTEGER PRIMARY KEY, n TEXT UNIQUE);\nCREATE INDEX t_n ON t(n);";
    let planned = plan_migration(&conn, after, &online_opts(None)).unwrap();
    let online = planned.plan.online.as_ref().unwrap();
    // What a crash after the swap's commit leaves: prepare, copy and swap, no free.
    conn.execute_batch("PRAGMA foreign_keys = OFF").unwrap();
    for step in &online.prepare {
        conn.execute_batch(&step.sql).unwrap();
    }
    conn.execute_batch(&online.tables[0].copy.sql).unwrap();
    conn.execute_batch("BEGIN").unwrap();
    for step in &planned.plan.steps {
        conn.execute_batch(&step.sql).unwrap();
    }
    conn.execute_batch("COMMIT").unwrap();
    let mut left = leftovers(&conn);
    left.sort();
    assert_eq!(
        left,
        [
            "_liteshift_online",
            "_liteshift_online_1_old",
            "_liteshift_online_1_old_i1"
        ],
        "the old table (its index renamed away with it; its UNIQUE index is sqlite_autoindex_…) and the registry"
    );
    // The new schema is in place; the leftovers are named, and the next plan removes them.
    let schema = liteshift::introspect(&conn).unwrap();
    assert_eq!(schema.tables.len(), 1, "{:?}", schema.tables.keys());
    assert_eq!(schema.indexes.len(), 1, "{:?}", schema.indexes.keys());
    assert_eq!(schema.leftovers.len(), 2, "{:?}", schema.leftovers);
    let planned = plan_migration(&conn, after, &Options::default()).unwrap();
    assert_eq!(planned.plan.steps.len(), 1, "{:?}", planned.plan.steps);
    assert!(
        planned.plan.changes[0].contains("_liteshift_online_1_old"),
        "{:?}",
        planned.plan.changes
    );
    migrate(&mut conn, after, &Options::default()).unwrap();
    assert!(leftovers(&conn).is_empty(), "{:?}", leftovers(&conn));
    assert_eq!(integrity(&conn), "ok");
    let n: Vec<String> = conn
        .prepare("SELECT n FROM t ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(n, ["10", "20"]);
}

/// A catalog row: type, name, table, text.
type CatalogRow = (String, String, String, Option<String>);

/// The rows of `t` in rowid order, every column as text, and its schema.
fn rows_and_schema(conn: &Connection) -> (Vec<String>, Vec<CatalogRow>) {
    let rows = conn
        .prepare("SELECT rowid, * FROM t ORDER BY rowid")
        .unwrap()
        .query_map([], |r| {
            Ok((0..3)
                .map(|i| format!("{:?}", r.get_ref(i).unwrap()))
                .collect::<Vec<_>>()
                .join(" | "))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    (rows, catalog(conn))
}

const RESUME_BEFORE: &str =
    "CREATE TABLE t(id INTEGER PRIMARY KEY, n INTEGER);\nCREATE INDEX t_n ON t(n);";
const RESUME_AFTER: &str =
    "CREATE TABLE t(id INTEGER PRIMARY KEY, n TEXT);\nCREATE INDEX t_n ON t(n);";
const RESUME_WRITES: &str = "UPDATE t SET n = -10 WHERE id = 10; UPDATE t SET n = -900 WHERE id = 900; DELETE FROM t WHERE id IN (20, 950); INSERT INTO t VALUES (2000, 2000); UPDATE t SET id = 3000 WHERE id = 30;";

fn resume_db(path: &Path) -> Connection {
    small(
        path,
        &format!("{RESUME_BEFORE}\nWITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 1000) INSERT INTO t SELECT i, i FROM s;"),
    )
}

/// The rows and schema of a run never interrupted, the same writes made before it.
fn uninterrupted(dir: &Path) -> (Vec<String>, Vec<CatalogRow>) {
    let mut reference = resume_db(&dir.join("reference.db"));
    reference.execute_batch(RESUME_WRITES).unwrap();
    migrate(&mut reference, RESUME_AFTER, &online_opts(None)).unwrap();
    rows_and_schema(&reference)
}

/// What an interrupted run leaves: the prepare transaction, then the chunks of `1..=upto`
/// as apply commits them (the log drained first).
fn interrupted_run(conn: &Connection, upto: i64) {
    let planned = plan_migration(conn, RESUME_AFTER, &online_opts(None)).unwrap();
    let online = planned.plan.online.unwrap();
    conn.execute_batch("PRAGMA foreign_keys = OFF; BEGIN")
        .unwrap();
    for step in &online.prepare {
        conn.execute_batch(&step.sql).unwrap();
    }
    conn.execute_batch("COMMIT").unwrap();
    let ot = &online.tables[0];
    for (lo, hi) in [(1, upto / 2), (upto / 2 + 1, upto)] {
        conn.execute_batch(&format!(
            "BEGIN; {}; {}; COMMIT",
            ot.drain,
            ot.chunk_sql(lo, hi)
        ))
        .unwrap();
    }
}

#[test]
fn an_interrupted_copy_is_resumed_from_its_last_chunk() {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = resume_db(&dir.path().join("a.db"));
    interrupted_run(&conn, 400);
    // Writes after the crash, to rows copied and not yet copied: the triggers log them.
    conn.execute_batch(RESUME_WRITES).unwrap();

    let planned = plan_migration(&conn, RESUME_AFTER, &online_opts(None)).unwrap();
    let online = planned.plan.online.as_ref().unwrap();
    assert!(online.prepare.is_empty(), "{:?}", online.prepare);
    let ot = &online.tables[0];
    assert_eq!(ot.resumed.as_ref().unwrap().copied, Some(400));
    assert_eq!(
        ot.keyed.len(),
        1,
        "t_n is built in key order after the copy"
    );
    assert_eq!(ot.resumed.as_ref().unwrap().range, Some((1, 1000)));
    assert!(ot.copy.sql.contains("BETWEEN 401 AND"), "{}", ot.copy.sql);
    assert!(
        planned.plan.changes[0]
            .starts_with("resume the interrupted online rebuild of t after rowid 400"),
        "{:?}",
        planned.plan.changes
    );
    // The script shows the same: no prepare, the copy from rowid 401.
    let script = liteshift::render_sql(&planned.plan);
    assert!(!script.contains("CREATE TRIGGER"), "{script}");
    assert!(script.contains(&ot.copy.sql), "{script}");

    let copied = Arc::new(Mutex::new(Vec::new()));
    let sink = copied.clone();
    let observer = ProgressObserver::new(move |p| {
        if let Progress::Finished { done, .. } = p {
            if done
                .step
                .reason
                .contains("resume the interrupted copy after rowid 400")
            {
                sink.lock().unwrap().push(done.rows_changed);
            }
        }
    });
    migrate(&mut conn, RESUME_AFTER, &online_opts(Some(observer))).unwrap();
    // Rows 401..=1000 but the one deleted: no row copied twice.
    assert_eq!(*copied.lock().unwrap(), [599]);
    assert!(leftovers(&conn).is_empty(), "{:?}", leftovers(&conn));
    assert_eq!(integrity(&conn), "ok");

    // The same as a run never interrupted, the same writes made before it.
    assert_eq!(rows_and_schema(&conn), uninterrupted(dir.path()));
}

#[test]
fn a_run_killed_while_it_fills_a_key_order_index_is_finished_by_the_next() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.db");
    let conn = resume_db(&path);
    let planned = plan_migration(&conn, RESUME_AFTER, &online_opts(None)).unwrap();
    let online = planned.plan.online.clone().unwrap();
    let (ot, k) = (&online.tables[0], &online.tables[0].keyed[0]);
    // The copy done, the snapshot taken and half of it filled: then the process dies (its
    // TEMP snapshot with it).
    interrupted_run(&conn, 1000);
    conn.execute_batch(&k.snapshot).unwrap();
    conn.execute_batch(&format!(
        "BEGIN; {}; {}; COMMIT",
        ot.drain,
        k.fill_sql(1, 500)
    ))
    .unwrap();
    drop(conn);
    let mut conn = Connection::open(&path).unwrap();
    conn.execute_batch(RESUME_WRITES).unwrap();

    let again = plan_migration(&conn, RESUME_AFTER, &online_opts(None)).unwrap();
    let resumed = &again.plan.online.as_ref().unwrap().tables[0];
    assert_eq!(resumed.resumed.as_ref().unwrap().copied, Some(1000));
    migrate(&mut conn, RESUME_AFTER, &online_opts(None)).unwrap();
    assert!(leftovers(&conn).is_empty(), "{:?}", leftovers(&conn));
    assert_eq!(integrity(&conn), "ok");
    assert_eq!(rows_and_schema(&conn), uninterrupted(dir.path()));
    // Every row is in the index, read through it.
    let through_index: i64 = conn
        .query_row(
            "SELECT count(*) FROM t INDEXED BY t_n WHERE n IS NOT NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let rows: i64 = conn
        .query_row(
            "SELECT count(*) FROM t NOT INDEXED WHERE n IS NOT NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(through_index, rows);
}

#[test]
fn leftovers_of_another_plan_are_removed_and_the_copy_starts_over() {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = resume_db(&dir.path().join("a.db"));
    interrupted_run(&conn, 400);
    // Another declared schema: the shadow it would create is not the one there.
    let other = "CREATE TABLE t(id INTEGER PRIMARY KEY, n REAL);\nCREATE INDEX t_n ON t(n);";
    let planned = plan_migration(&conn, other, &online_opts(None)).unwrap();
    let online = planned.plan.online.as_ref().unwrap();
    assert!(online.tables[0].resumed.is_none());
    assert!(
        online.prepare[0].sql.starts_with("DROP TRIGGER"),
        "{}",
        online.prepare[0].sql
    );
    assert!(
        planned.plan.changes[0].starts_with(
            "remove what an interrupted online rebuild left (not what this plan would create: it starts over)"
        ),
        "{:?}",
        planned.plan.changes
    );
    let copied = Arc::new(Mutex::new(0));
    let sink = copied.clone();
    let observer = ProgressObserver::new(move |p| {
        if let Progress::Finished { done, .. } = p {
            if done.step.rewrites_rows {
                *sink.lock().unwrap() += done.rows_changed;
            }
        }
    });
    migrate(&mut conn, other, &online_opts(Some(observer))).unwrap();
    assert_eq!(*copied.lock().unwrap(), 1000, "every row copied again");
    assert!(leftovers(&conn).is_empty(), "{:?}", leftovers(&conn));
    assert_eq!(integrity(&conn), "ok");
    let n: f64 = conn
        .query_row("SELECT n FROM t WHERE id = 7", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 7.0);
}

#[test]
fn a_missing_trigger_or_an_edited_leftover_makes_the_copy_start_over() {
    let dir = tempfile::tempdir().unwrap();
    for (k, edit) in [
        // A write made without it would be missing from the shadow.
        "DROP TRIGGER _liteshift_online_1_au",
        // Not the text this plan creates.
        "DROP TABLE _liteshift_online_1_log; CREATE TABLE _liteshift_online_1_log(k)",
    ]
    .into_iter()
    .enumerate()
    {
        let mut conn = resume_db(&dir.path().join(format!("{k}.db")));
        interrupted_run(&conn, 400);
        conn.execute_batch(edit).unwrap();
        conn.execute_batch(RESUME_WRITES).unwrap();
        let planned = plan_migration(&conn, RESUME_AFTER, &online_opts(None)).unwrap();
        let online = planned.plan.online.as_ref().unwrap();
        assert!(online.tables[0].resumed.is_none(), "{edit}");
        assert!(!online.prepare.is_empty(), "{edit}");
        migrate(&mut conn, RESUME_AFTER, &online_opts(None)).unwrap();
        assert!(
            leftovers(&conn).is_empty(),
            "{edit}: {:?}",
            leftovers(&conn)
        );
        let mut reference = resume_db(&dir.path().join(format!("{k}-ref.db")));
        reference.execute_batch(RESUME_WRITES).unwrap();
        migrate(&mut reference, RESUME_AFTER, &online_opts(None)).unwrap();
        assert_eq!(
            rows_and_schema(&conn),
            rows_and_schema(&reference),
            "{edit}"
        );
    }
}

#[test]
fn a_plan_made_before_another_run_moved_the_copy_on_is_made_again() {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = resume_db(&dir.path().join("a.db"));
    interrupted_run(&conn, 400);
    let planned = plan_migration(&conn, RESUME_AFTER, &online_opts(None)).unwrap();
    // Another run copies on, and is interrupted again, after the plan was made.
    let ot = &planned.plan.online.as_ref().unwrap().tables[0];
    conn.execute_batch(&format!(
        "BEGIN; {}; {}; COMMIT",
        ot.drain,
        ot.chunk_sql(401, 600)
    ))
    .unwrap();
    let err = liteshift::apply(
        &mut conn,
        &planned.plan,
        &planned.target,
        liteshift::Policy {
            online: true,
            ..Default::default()
        },
        liteshift::ApplyOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(err, Error::StalePlan { .. }), "{err}");
    // Made again, the plan continues from the new point.
    let planned = plan_migration(&conn, RESUME_AFTER, &online_opts(None)).unwrap();
    let ot = &planned.plan.online.as_ref().unwrap().tables[0];
    assert_eq!(ot.resumed.as_ref().unwrap().copied, Some(600));
    migrate(&mut conn, RESUME_AFTER, &online_opts(None)).unwrap();
    assert!(leftovers(&conn).is_empty());
    assert_eq!(integrity(&conn), "ok");
}

/// The scattered-index table: no UNIQUE key (its indexes are built in key order after the
/// copy), NULL keys, a DESC multi-column index; the index with another collation is built
/// on the shadow from the start.
const KEYED_BEFORE: &str = "
CREATE TABLE k(id INTEGER PRIMARY KEY, n INTEGER, s TEXT, w TEXT);
CREATE INDEX k_n ON k(n);
CREATE INDEX k_sn ON k(s DESC, n);
CREATE INDEX k_w ON k(w);
CREATE INDEX k_s ON k(s COLLATE NOCASE);
";
/// `n` becomes TEXT: the indexes hold the converted values.
const KEYED_AFTER: &str = "
CREATE TABLE k(id INTEGER PRIMARY KEY, n TEXT, s TEXT, w TEXT);
CREATE INDEX k_n ON k(n);
CREATE INDEX k_sn ON k(s DESC, n);
CREATE INDEX k_w ON k(w);
CREATE INDEX k_s ON k(s COLLATE NOCASE);
";

fn keyed_database(path: &Path) -> Connection {
    let conn = small(
        path,
        &format!(
            "{KEYED_BEFORE}
             WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {ROWS})
             INSERT INTO k SELECT i, CASE WHEN i % 13 = 0 THEN NULL ELSE (i * 2654435761) % 4294967291 END,
                CASE WHEN i % 5 = 0 THEN NULL WHEN i % 2 = 0 THEN 'Ab' || (i % 31) ELSE 'aB' || (i % 31) END, 'w' || i FROM s;"
        ),
    );
    conn.execute_batch("PRAGMA synchronous = NORMAL").unwrap();
    conn
}

/// The `j`-th write: keys set, set to NULL and from NULL, rows deleted, inserted, moved.
fn keyed_write(conn: &Connection, j: i64) {
    let low = 1 + (j * 37) % ROWS;
    let high = ROWS - (j * 53) % ROWS;
    conn.execute_batch(&format!(
        "INSERT INTO k(n, s, w) VALUES ({j} * 7919 % 1000, 'ab{j}', 'nw{j}'), (NULL, NULL, 'nn{j}');
         UPDATE k SET n = CASE WHEN n IS NULL THEN {j} ELSE NULL END, s = 'AB' || {j} WHERE id IN ({low}, {high});
         DELETE FROM k WHERE id IN ({low} + 1, {high} - 1);
         UPDATE k SET id = -id WHERE id = {low} + 2;"
    ))
    .unwrap();
}

#[test]
fn indexes_built_in_key_order_after_the_copy_equal_the_blocking_rebuilds_with_writes_meanwhile() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("online.db"), dir.path().join("blocking.db"));
    let mut conn = keyed_database(&a);
    let mut blocking = keyed_database(&b);
    let planned = plan_migration(&conn, KEYED_AFTER, &online_opts(None)).unwrap();
    let online = planned.plan.online.as_ref().expect("k is rebuilt online");
    let keyed: Vec<&str> = online.tables[0]
        .keyed
        .iter()
        .map(|k| k.index.as_str())
        .collect();
    assert_eq!(keyed, ["k_n", "k_sn", "k_w"], "k_s has another collation");

    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (p, s) = (a.clone(), stop.clone());
    let writer = std::thread::spawn(move || {
        let w = Connection::open(p).unwrap();
        w.busy_timeout(Duration::from_secs(10)).unwrap();
        let mut j = 0i64;
        while !s.load(std::sync::atomic::Ordering::Relaxed) || j < 20 {
            keyed_write(&w, j);
            j += 1;
            std::thread::sleep(Duration::from_millis(1));
        }
        j
    });
    let opts = Options {
        online: Some(OnlineOptions {
            chunk_time: Duration::from_millis(3),
            pause: Duration::from_millis(1),
            first_chunk_rows: 1000,
        }),
        ..Options::default()
    };
    migrate(&mut conn, KEYED_AFTER, &opts).unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let writes = writer.join().unwrap();

    for j in 0..writes {
        keyed_write(&blocking, j);
    }
    migrate(&mut blocking, KEYED_AFTER, &Options::default()).unwrap();
    let rows = |c: &Connection, index: &str| -> Vec<String> {
        let mut st = c
            .prepare(&format!(
                "SELECT id, quote(n), quote(s), w FROM k INDEXED BY {index} ORDER BY s DESC, n, id"
            ))
            .unwrap();
        st.query_map([], |r| {
            Ok(format!(
                "{}|{}|{}|{}",
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?
            ))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect()
    };
    for index in ["k_n", "k_sn", "k_w", "k_s"] {
        assert_eq!(rows(&conn, index), rows(&blocking, index), "{index}");
    }
    let nulls = |c: &Connection| -> i64 {
        c.query_row(
            "SELECT count(*) FROM k INDEXED BY k_n WHERE n IS NULL",
            [],
            |r| r.get(0),
        )
        .unwrap()
    };
    assert!(nulls(&conn) > 0);
    assert_eq!(
        nulls(&conn),
        nulls(&blocking),
        "rows with a NULL key are in the index"
    );
    assert_eq!(catalog(&conn), catalog(&blocking));
    assert_eq!(table_rows(&conn), table_rows(&blocking));
    assert_eq!(integrity(&conn), "ok");
    assert!(leftovers(&conn).is_empty(), "{:?}", leftovers(&conn));
    let temp: i64 = conn
        .query_row("SELECT count(*) FROM temp.sqlite_master", [], |r| r.get(0))
        .unwrap();
    assert_eq!(temp, 0, "the sorted snapshot is removed");
    let again = plan_migration(&conn, KEYED_AFTER, &Options::default()).unwrap();
    assert!(again.plan.is_empty(), "{:?}", again.plan.steps);
}

/// A table with one index of each kind: plain (scattered, with NULLs), UNIQUE, partial,
/// expression, `COLLATE NOCASE`, `DESC`.
const FREE_BEFORE: &str =
    "CREATE TABLE f(id INTEGER PRIMARY KEY, a INTEGER, b TEXT, c INTEGER, d TEXT);
CREATE INDEX f_a ON f(a);
CREATE UNIQUE INDEX f_c ON f(c);
CREATE INDEX f_part ON f(a, c) WHERE d IS NOT NULL;
CREATE INDEX f_expr ON f(lower(b), c DESC);
CREATE INDEX f_nocase ON f(b COLLATE NOCASE);
CREATE INDEX f_desc ON f(c DESC, a);";

fn free_database(path: &Path) -> Connection {
    small(
        path,
        &format!(
            "{FREE_BEFORE}
             WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 3000)
             INSERT INTO f SELECT i, CASE WHEN i % 10 = 0 THEN NULL ELSE (i * 7919) % 3001 END,
                CASE WHEN i % 7 = 0 THEN NULL WHEN i % 2 = 0 THEN 'X' || (i % 50) ELSE 'x' || (i % 50) END,
                CASE WHEN i % 13 = 0 THEN NULL ELSE i * 3 END, CASE WHEN i % 3 = 0 THEN NULL ELSE 'd' END FROM s;"
        ),
    )
}

fn free_after() -> String {
    FREE_BEFORE.replace("a INTEGER", "a TEXT")
}

/// A connection that records every statement it runs, and fails the ones beginning with
/// `fail` after the first `pass` of them (as a process killed there would stop).
struct Recording<'c> {
    conn: &'c Connection,
    log: std::cell::RefCell<Vec<String>>,
    fail: Option<(&'static str, usize)>,
}

impl liteshift::Host for Recording<'_> {
    fn execute(&self, sql: &str) -> Result<(), liteshift::HostError> {
        self.record(sql)?;
        liteshift::Host::execute(self.conn, sql)
    }
    fn query(&self, sql: &str) -> Result<liteshift::Rows, liteshift::HostError> {
        self.record(sql)?;
        liteshift::Host::query(self.conn, sql)
    }
    fn scratch(&self) -> Result<Box<dyn liteshift::Host>, liteshift::HostError> {
        liteshift::Host::scratch(self.conn)
    }
    fn in_transaction(&self) -> Result<bool, liteshift::HostError> {
        Ok(!self.conn.is_autocommit())
    }
}

impl Recording<'_> {
    fn record(&self, sql: &str) -> Result<(), liteshift::HostError> {
        let mut log = self.log.borrow_mut();
        if let Some((prefix, pass)) = self.fail {
            if sql.starts_with(prefix)
                && log.iter().filter(|s| s.starts_with(prefix)).count() >= pass
            {
                return Err(liteshift::HostError::new("killed here"));
            }
        }
        log.push(sql.to_string());
        Ok(())
    }
    fn count(&self, prefix: &str) -> usize {
        self.log
            .borrow()
            .iter()
            .filter(|s| s.starts_with(prefix))
            .count()
    }
}

#[test]
fn the_old_tables_indexes_of_every_kind_are_relabelled_and_freed_in_short_transactions() {
    let dir = tempfile::tempdir().unwrap();
    let conn = free_database(&dir.path().join("online.db"));
    let mut blocking = free_database(&dir.path().join("blocking.db"));
    let after = free_after();
    let mut host = Recording {
        conn: &conn,
        log: Default::default(),
        fail: None,
    };
    migrate(&mut host, &after, &online_opts(None)).unwrap();
    migrate(&mut blocking, &after, &Options::default()).unwrap();
    assert_eq!(integrity(&conn), "ok");
    assert!(leftovers(&conn).is_empty(), "{:?}", leftovers(&conn));
    assert_eq!(catalog(&conn), catalog(&blocking));
    assert_eq!(table_rows(&conn), table_rows(&blocking));
    // Each index of the old table became a table, emptied in many chunks; the rows with a
    // NULL key went first, through the indexes.
    let relabels = host
        .log
        .borrow()
        .iter()
        .filter(|s| s.starts_with("UPDATE sqlite_schema SET type = 'table'"))
        .count();
    assert_eq!(relabels, 6, "{:#?}", host.log.borrow());
    assert_eq!(
        host.count("CREATE TEMP TABLE \"_liteshift_online_1_old_null_keys\""),
        1
    );
    for k in 1..=6 {
        let chunks = host.count(&format!(
            "DELETE FROM \"_liteshift_online_1_old_i{k}\" WHERE"
        ));
        assert!(chunks > 3, "index {k}: {chunks} chunks");
    }
    assert_eq!(host.count("DROP INDEX"), 0);
    let temp: i64 = conn
        .query_row("SELECT count(*) FROM temp.sqlite_master", [], |r| r.get(0))
        .unwrap();
    assert_eq!(temp, 0, "the list of rows with a NULL key is removed");
}

#[test]
fn a_run_stopped_while_it_frees_a_relabelled_index_leaves_a_sound_file_that_the_next_run_cleans() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.db");
    let conn = free_database(&path);
    let mut blocking = free_database(&dir.path().join("blocking.db"));
    let after = free_after();
    // Stopped at the third chunk of the second index's free: the first is gone, the second
    // half freed, the others relabelled and whole.
    let mut host = Recording {
        conn: &conn,
        log: Default::default(),
        fail: Some(("DELETE FROM \"_liteshift_online_1_old_i2\" WHERE", 2)),
    };
    migrate(&mut host, &after, &online_opts(None)).unwrap();
    drop(host);
    drop(conn);
    let mut conn = Connection::open(&path).unwrap();
    assert_eq!(integrity(&conn), "ok");
    let mut left = leftovers(&conn);
    left.sort();
    assert_eq!(
        left,
        [
            "_liteshift_online",
            "_liteshift_online_1_old",
            "_liteshift_online_1_old_i2",
            "_liteshift_online_1_old_i3",
            "_liteshift_online_1_old_i4",
            "_liteshift_online_1_old_i5",
            "_liteshift_online_1_old_i6"
        ]
    );
    let kinds: Vec<String> = conn
        .prepare("SELECT DISTINCT type FROM sqlite_master WHERE name LIKE '\\_liteshift\\_online\\_1\\_old\\_i%' ESCAPE '\\'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(kinds, ["table"], "relabelled as tables");
    let count = |t: &str| -> i64 {
        conn.query_row(&format!("SELECT count(*) FROM \"{t}\""), [], |r| r.get(0))
            .unwrap()
    };
    // The rows with a NULL key in one of them are gone; the entries of each index are read
    // through its key (NOCASE, DESC, an expression).
    let rows = count("_liteshift_online_1_old");
    assert_eq!(rows, 2136, "3000 but those with i % 10, 7 or 13 = 0");
    for (k, entries) in [(3, rows), (4, rows), (5, rows), (6, 1424)] {
        assert_eq!(
            count(&format!("_liteshift_online_1_old_i{k}")),
            entries,
            "i{k}"
        );
    }
    assert!(count("_liteshift_online_1_old_i2") < rows, "half freed");
    // Each relabelled table finds its entries by its key (its collations and DESC are the
    // index's): a delete by key deletes what it names.
    for (k, keys) in [
        (3, "k1, k2, r"),
        (4, "k1, k2, r"),
        (5, "k1, r"),
        (6, "k1, k2, r"),
    ] {
        let h = format!("\"_liteshift_online_1_old_i{k}\"");
        let deleted = conn
            .execute(
                &format!("DELETE FROM {h} WHERE ({keys}) IN (SELECT {keys} FROM {h} ORDER BY random() LIMIT 100)"),
                [],
            )
            .unwrap();
        assert_eq!(deleted, 100, "i{k}");
    }
    assert_eq!(integrity(&conn), "ok");
    let schema = liteshift::introspect(&conn).unwrap();
    assert_eq!(schema.leftovers.len(), 7, "{:?}", schema.leftovers);
    // The new schema is in place; the next run removes what is left.
    migrate(&mut blocking, &after, &Options::default()).unwrap();
    let planned = plan_migration(&conn, &after, &Options::default()).unwrap();
    assert_eq!(planned.plan.steps.len(), 1, "{:?}", planned.plan.steps);
    migrate(&mut conn, &after, &Options::default()).unwrap();
    assert!(leftovers(&conn).is_empty(), "{:?}", leftovers(&conn));
    assert_eq!(integrity(&conn), "ok");
    assert_eq!(catalog(&conn), catalog(&blocking));
    assert_eq!(table_rows(&conn), table_rows(&blocking));
}

#[test]
fn where_the_rows_with_a_null_key_cannot_be_listed_the_indexes_that_may_hold_one_are_dropped_whole()
{
    let dir = tempfile::tempdir().unwrap();
    let conn = free_database(&dir.path().join("online.db"));
    let mut blocking = free_database(&dir.path().join("blocking.db"));
    let after = free_after();
    let mut host = Recording {
        conn: &conn,
        log: Default::default(),
        fail: Some(("CREATE TEMP TABLE \"_liteshift_online_1_old_null_keys\"", 0)),
    };
    migrate(&mut host, &after, &online_opts(None)).unwrap();
    migrate(&mut blocking, &after, &Options::default()).unwrap();
    assert_eq!(
        host.count("DROP INDEX IF EXISTS \"_liteshift_online_1_old_i"),
        6
    );
    assert_eq!(host.count("UPDATE sqlite_schema SET type = 'table'"), 0);
    assert!(host.count("DELETE FROM \"_liteshift_online_1_old\" WHERE") > 3);
    assert_eq!(integrity(&conn), "ok");
    assert!(leftovers(&conn).is_empty(), "{:?}", leftovers(&conn));
    assert_eq!(catalog(&conn), catalog(&blocking));
    assert_eq!(table_rows(&conn), table_rows(&blocking));
}
