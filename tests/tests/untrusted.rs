//! Database files nobody trusted: where liteshift opens a file itself (`fleet::open_existing`,
//! which the CLI and fleets use, and a rehearsal), the connection is hardened
//! (`fleet::harden`): what the file's schema says — views, triggers, CHECKs, defaults — can
//! neither call a function with side effects nor damage the file while liteshift reads, plans
//! or migrates. A caller's own connection is left as the caller set it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use liteshift::fleet::open_existing;
use liteshift::Options;
use rusqlite::{ffi, Connection};

unsafe extern "C" fn bump(
    ctx: *mut ffi::sqlite3_context,
    _argc: std::os::raw::c_int,
    _argv: *mut *mut ffi::sqlite3_value,
) {
    let calls = &*(ffi::sqlite3_user_data(ctx) as *const AtomicUsize);
    let bt = std::backtrace::Backtrace::force_capture().to_string();
    eprintln!(
        "BUMP {}",
        bt.lines()
            .filter(|l| l.contains("liteshift::"))
            .take(6)
            .collect::<Vec<_>>()
            .join("\n")
    );
    ffi::sqlite3_result_int64(ctx, calls.fetch_add(1, Ordering::SeqCst) as i64 + 1);
}

/// A function with a side effect (it counts its calls), as an application or an extension
/// might register: not innocuous.
fn register_bump(c: &Connection, calls: &Arc<AtomicUsize>) {
    // The counter lives as long as the test process (one leaked Arc per registration).
    let data = Arc::into_raw(calls.clone()) as *mut std::os::raw::c_void;
    // SAFETY: a valid handle; `bump` reads `data`, which is never freed.
    let rc = unsafe {
        ffi::sqlite3_create_function_v2(
            c.handle(),
            c"bump".as_ptr(),
            0,
            ffi::SQLITE_UTF8,
            data,
            Some(bump),
            None,
            None,
            None,
        )
    };
    assert_eq!(rc, ffi::SQLITE_OK);
}

const FILE: &str = "
CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT, CHECK (bump() > 0));
CREATE TABLE u(id INTEGER PRIMARY KEY, v TEXT);
CREATE TABLE log(x);
CREATE TRIGGER u_updated AFTER UPDATE ON u BEGIN INSERT INTO log VALUES (bump()); END;
CREATE VIEW counted AS SELECT bump() AS n, v FROM t;
INSERT INTO t VALUES (1, 'a'), (2, 'b');
INSERT INTO u VALUES (1, 'a'), (2, 'b');
";

/// `t` rebuilt (its CHECK, which calls bump(), dropped: the health check reads the old
/// table), `u` given a column whose value an `UPDATE` sets (the file's trigger on `u` fires),
/// the view recreated. (A declared CHECK or view cannot name bump(): the scratch database
/// that validates the declaration has no such function.)
const DECLARED: &str = "
CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT COLLATE NOCASE);
CREATE TABLE u(id INTEGER PRIMARY KEY, v TEXT, w TEXT);
CREATE TABLE log(x);
CREATE TRIGGER u_updated AFTER UPDATE ON u BEGIN INSERT INTO log VALUES (bump()); END;
CREATE VIEW counted AS SELECT v FROM t;
-- liteshift:value u.w = upper(v)
";

fn make(dir: &std::path::Path) -> std::path::PathBuf {
    let p = dir.join("sent.db");
    let c = Connection::open(&p).unwrap();
    register_bump(&c, &Arc::new(AtomicUsize::new(0)));
    c.execute_batch(FILE).unwrap();
    p
}

#[test]
fn a_files_schema_cannot_call_functions_with_side_effects() {
    let dir = tempfile::tempdir().unwrap();
    let path = make(dir.path());
    let calls = Arc::new(AtomicUsize::new(0));
    let mut conn = open_existing(&path, true, Duration::from_secs(5)).unwrap();
    register_bump(&conn, &calls);
    // The declared schema names bump() too: liteshift loads it into its own scratch database,
    // which has no such function — a view or CHECK only names it until it runs.
    let opts = Options::default();
    liteshift::introspect(&conn).unwrap();
    let planned = liteshift::plan_migration(&conn, DECLARED, &opts).unwrap();
    assert!(!planned.plan.steps.is_empty());
    assert_eq!(calls.load(Ordering::SeqCst), 0, "reading and planning");
    // The rebuild's copy would evaluate the CHECK for every row: SQLite refuses instead.
    let e = liteshift::migrate(&mut conn, DECLARED, &opts).unwrap_err();
    assert!(e.to_string().contains("unsafe use of bump()"), "{e}");
    assert_eq!(calls.load(Ordering::SeqCst), 0, "migrating");
    // The file is as it was (read on a fresh connection: SQLite reloads the schema of this
    // one after the rolled-back rename, and refuses the CHECK that names bump() now that the
    // function exists and the schema is not trusted).
    let fresh = Connection::open(&path).unwrap();
    let v: String = fresh
        .query_row("SELECT sql FROM sqlite_schema WHERE name = 't'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert!(!v.contains("NOCASE"), "nothing was changed");
    let w: i64 = fresh
        .query_row(
            "SELECT count(*) FROM pragma_table_info('u') WHERE name = 'w'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(w, 0, "nothing was changed");
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

#[test]
fn a_callers_own_connection_is_left_as_the_caller_set_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = make(dir.path());
    let calls = Arc::new(AtomicUsize::new(0));
    let mut conn = Connection::open(&path).unwrap();
    register_bump(&conn, &calls);
    // The library does not harden an application's connection: its schema is the
    // application's own, and its functions are there to be used.
    let r = liteshift::migrate(&mut conn, DECLARED, &Options::default()).unwrap();
    assert!(r.steps_applied > 0);
    // The application's trigger still calls its function on its connection.
    let before = calls.load(Ordering::SeqCst);
    conn.execute_batch("UPDATE u SET v = v").unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), before + 2);
    let trusted: i64 = conn
        .query_row("PRAGMA trusted_schema", [], |r| r.get(0))
        .unwrap();
    assert_eq!(trusted, 1);
}

#[test]
fn a_hardened_connection_is_defensive() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fts.db");
    Connection::open(&path)
        .unwrap()
        .execute_batch(
            "CREATE VIRTUAL TABLE docs USING fts5(body);
             INSERT INTO docs VALUES ('hello world'), ('more words');",
        )
        .unwrap();
    let conn = open_existing(&path, true, Duration::from_secs(5)).unwrap();
    conn.execute_batch("PRAGMA writable_schema = ON").unwrap();
    let on: i64 = conn
        .query_row("PRAGMA writable_schema", [], |r| r.get(0))
        .unwrap();
    assert_eq!(on, 0, "writable_schema cannot be switched on");
    let e = conn.execute_batch("DELETE FROM docs_data").unwrap_err();
    assert!(e.to_string().contains("may not be modified"), "{e}");
    let trusted: i64 = conn
        .query_row("PRAGMA trusted_schema", [], |r| r.get(0))
        .unwrap();
    assert_eq!(trusted, 0);
    let e = conn
        .query_row("SELECT load_extension('/nonexistent/x.so')", [], |r| {
            r.get::<_, Option<String>>(0)
        })
        .unwrap_err();
    assert!(e.to_string().contains("not authorized"), "{e}");
}

/// An online rebuild on a hardened connection: `writable_schema` is refused, so the probe says
/// no and the rebuild falls back to building the indexes in the swap; it still completes and
/// verifies. With `allow_schema_edits` (what the CLI does for `--online`) it edits the
/// schema as before.
#[test]
fn online_rebuild_on_a_hardened_connection() {
    for allow in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.db");
        Connection::open(&path)
            .unwrap()
            .execute_batch(
                "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT);
                 CREATE INDEX t_v ON t(v);
                 WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 500)
                   INSERT INTO t SELECT i, 'v' || i FROM n;",
            )
            .unwrap();
        let mut conn = open_existing(&path, true, Duration::from_secs(5)).unwrap();
        if allow {
            liteshift::fleet::allow_schema_edits(&conn).unwrap();
        }
        let declared = "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT NOT NULL DEFAULT '' COLLATE NOCASE);\nCREATE INDEX t_v ON t(v);";
        let opts = Options {
            online: Some(liteshift::OnlineOptions::default()),
            ..Options::default()
        };
        let r = liteshift::migrate(&mut conn, declared, &opts).unwrap();
        assert!(r.plan.online.is_some());
        let n: i64 = conn
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 500);
        let stored: String = conn
            .query_row("SELECT sql FROM sqlite_schema WHERE name = 't'", [], |r| {
                r.get(0)
            })
            .unwrap();
        let index_in_prepare = r
            .plan
            .online
            .as_ref()
            .unwrap()
            .prepare
            .iter()
            .any(|s| s.sql.contains("CREATE INDEX"));
        assert_eq!(
            index_in_prepare, allow,
            "indexes prebuilt only with schema edits"
        );
        if allow {
            assert_eq!(
                stored,
                "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT NOT NULL DEFAULT '' COLLATE NOCASE)"
            );
        }
    }
}
