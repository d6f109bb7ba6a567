//! The host interface as a binding would implement it: only the three required calls (run a
//! statement, run a query, open a scratch database), over a real SQLite, recording every call.
//! The core's defaults do the rest (scripts split into statements, the transaction probe, no
//! backup), so these tests show what a JS, Python or Kotlin host sees.

use std::cell::RefCell;
use std::rc::Rc;

use liteshift::{migrate, Error, Host, HostError, Options, Rows};
use rusqlite::Connection;

/// A host with nothing but the required calls, logging `scratch:`/`main:` and the SQL.
struct Minimal {
    conn: Connection,
    tag: &'static str,
    log: Rc<RefCell<Vec<String>>>,
}

impl Minimal {
    fn new(conn: Connection) -> Self {
        Minimal {
            conn,
            tag: "main",
            log: Rc::default(),
        }
    }
    fn calls(&self) -> Vec<String> {
        self.log.borrow().clone()
    }
    fn main_calls(&self) -> Vec<String> {
        let calls = self.calls();
        calls
            .into_iter()
            .filter_map(|c| c.strip_prefix("main: ").map(str::to_string))
            .collect()
    }
}

impl Host for Minimal {
    fn execute(&self, sql: &str) -> Result<(), HostError> {
        self.log.borrow_mut().push(format!("{}: {sql}", self.tag));
        // One statement: SQLite's prepare/step, as a binding does it.
        let mut stmt = self.conn.prepare(sql).map_err(liteshift::host_error)?;
        let mut rows = stmt.raw_query();
        while rows.next().map_err(liteshift::host_error)?.is_some() {}
        Ok(())
    }
    fn query(&self, sql: &str) -> Result<Rows, HostError> {
        self.log.borrow_mut().push(format!("{}: {sql}", self.tag));
        let mut stmt = self.conn.prepare(sql).map_err(liteshift::host_error)?;
        let n = stmt.column_count();
        let rows = stmt
            .query_map([], |r| {
                (0..n)
                    .map(|i| {
                        Ok(match r.get_ref(i)? {
                            rusqlite::types::ValueRef::Null => liteshift::Value::Null,
                            rusqlite::types::ValueRef::Integer(v) => liteshift::Value::Integer(v),
                            rusqlite::types::ValueRef::Real(v) => liteshift::Value::Real(v),
                            rusqlite::types::ValueRef::Text(t) => {
                                liteshift::Value::Text(String::from_utf8_lossy(t).into())
                            }
                            rusqlite::types::ValueRef::Blob(b) => liteshift::Value::Blob(b.into()),
                        })
                    })
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .map_err(liteshift::host_error)?;
        rows.collect::<rusqlite::Result<Rows>>()
            .map_err(liteshift::host_error)
    }
    fn scratch(&self) -> Result<Box<dyn Host>, HostError> {
        Ok(Box::new(Minimal {
            conn: Connection::open_in_memory().map_err(liteshift::host_error)?,
            tag: "scratch",
            log: self.log.clone(),
        }))
    }
}

fn tables(n: usize) -> String {
    let mut s = String::new();
    for i in 0..n {
        s.push_str(&format!(
            "CREATE TABLE t{i}(id INTEGER PRIMARY KEY, name TEXT NOT NULL, parent INTEGER REFERENCES t0(id));\nCREATE INDEX t{i}_name ON t{i}(name);\n"
        ));
    }
    s.push_str("CREATE VIEW v AS SELECT id FROM t0;\nCREATE TRIGGER tr AFTER INSERT ON t0 BEGIN SELECT 1; END;\n");
    s
}

#[test]
fn a_no_op_migrate_makes_the_same_few_calls_for_10_and_100_tables() {
    let mut counts = Vec::new();
    for n in [10, 100] {
        let schema = tables(n);
        let mut host = Minimal::new(Connection::open_in_memory().unwrap());
        migrate(&mut host, &schema, &Options::default()).unwrap();
        host.log.borrow_mut().clear();
        let r = migrate(&mut host, &schema, &Options::default()).unwrap();
        assert_eq!(r.steps_applied, 0);
        let calls = host.calls();
        let main = host.main_calls();
        println!(
            "no-op migrate, {n} tables: {} host calls, all on the database (the stored schema is the declared text: no scratch database):\n  {}",
            calls.len(),
            main.join("\n  ")
        );
        assert_eq!(calls.len(), main.len(), "{calls:#?}");
        counts.push(main.len());

        // A schema that differs takes the full path: the declared schema is loaded into a
        // scratch database, and the calls besides its statements do not grow either.
        let changed = format!("{schema}CREATE TABLE extra(id INTEGER PRIMARY KEY);\n");
        host.log.borrow_mut().clear();
        liteshift::plan_migration(&host, &changed, &Options::default()).unwrap();
        let calls = host.calls();
        let main = host.main_calls().len();
        counts.push(main);
        counts.push(calls.len() - main - (2 * n + 3));
    }
    // Calls on the database, and calls on the scratch database other than the declared
    // statements themselves, do not grow with the number of tables.
    assert_eq!(counts[..3], counts[3..], "{counts:?}");
    assert!(counts[0] <= 8, "{counts:?}");
}

#[test]
fn a_rebuild_through_a_minimal_host_runs_the_documented_sequence() {
    let conn = Connection::open_in_memory().unwrap();
    conn.execute_batch(
        "PRAGMA foreign_keys = ON;
         CREATE TABLE p(id INTEGER PRIMARY KEY, name TEXT);
         CREATE TABLE c(id INTEGER PRIMARY KEY, p_id INTEGER REFERENCES p(id) ON DELETE CASCADE);
         INSERT INTO p VALUES (1, 'a'), (2, 'b'); INSERT INTO c VALUES (1, 1), (2, 2);",
    )
    .unwrap();
    let mut host = Minimal::new(conn);
    let target = "CREATE TABLE p(id INTEGER PRIMARY KEY, name TEXT COLLATE NOCASE NOT NULL);
CREATE TABLE c(id INTEGER PRIMARY KEY, p_id INTEGER REFERENCES p(id) ON DELETE CASCADE);";
    let r = migrate(&mut host, target, &Options::default()).unwrap();
    assert!(r.steps_applied > 0 && r.foreign_keys_toggled);
    let main = host.main_calls();
    let at = |prefix: &str| {
        main.iter()
            .position(|c| c.starts_with(prefix))
            .unwrap_or_else(|| panic!("no `{prefix}` in {main:#?}"))
    };
    // The last switch-off and the last switch-on: planning first asks whether enforcement can
    // be switched off at all (set, read back, put back).
    let last = |prefix: &str| main.iter().rposition(|c| c.starts_with(prefix)).unwrap();
    let off = last("PRAGMA foreign_keys = OFF");
    let begin = at("BEGIN IMMEDIATE");
    let create = at("CREATE TABLE p(");
    let check = main
        .iter()
        .rposition(|c| c.starts_with("PRAGMA foreign_key_check"))
        .unwrap();
    let commit = at("COMMIT");
    let on = last("PRAGMA foreign_keys = ON");
    assert!(off < begin && begin < create && create < check && check < commit && commit < on);
    // Each step's statements reach the host one by one.
    assert!(
        main.iter().all(|c| !c.trim_end().ends_with(';')),
        "{main:#?}"
    );
    let children: i64 = host
        .conn
        .query_row("SELECT count(*) FROM c", [], |r| r.get(0))
        .unwrap();
    assert_eq!(children, 2);
    let fk: i64 = host
        .conn
        .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
        .unwrap();
    assert_eq!(fk, 1);
    assert!(host.conn.is_autocommit());
}

#[test]
fn a_minimal_host_finds_the_callers_transaction_and_offers_no_backup() {
    let conn = Connection::open_in_memory().unwrap();
    conn.execute_batch(
        "PRAGMA foreign_keys = ON; CREATE TABLE p(id INTEGER PRIMARY KEY, name TEXT);
         CREATE TABLE c(id INTEGER PRIMARY KEY, p_id INTEGER REFERENCES p(id)); BEGIN;",
    )
    .unwrap();
    let mut host = Minimal::new(conn);
    // A rebuild of a parent: enforcement must go off, which it cannot inside a transaction.
    let target = "CREATE TABLE p(id INTEGER PRIMARY KEY, name TEXT COLLATE NOCASE);
CREATE TABLE c(id INTEGER PRIMARY KEY, p_id INTEGER REFERENCES p(id));";
    let err = migrate(&mut host, target, &Options::default()).unwrap_err();
    assert!(matches!(err, Error::InTransaction), "{err}");
    assert!(
        !host.conn.is_autocommit(),
        "the caller's transaction is still open"
    );
    host.conn.execute_batch("COMMIT").unwrap();

    let dir = tempfile::tempdir().unwrap();
    let opts = Options {
        backup: Some(dir.path().join("b.db")),
        ..Options::default()
    };
    let err = migrate(&mut host, target, &opts).unwrap_err();
    assert!(err.to_string().contains("cannot write the backup"), "{err}");
    assert!(
        err.to_string().contains("make a copy before migrating"),
        "{err}"
    );
    let sql: String = host
        .conn
        .query_row("SELECT sql FROM sqlite_master WHERE name = 'p'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(sql, "CREATE TABLE p(id INTEGER PRIMARY KEY, name TEXT)");
}

#[test]
fn a_schema_error_through_a_minimal_host_has_its_line_and_column() {
    let mut host = Minimal::new(Connection::open_in_memory().unwrap());
    let err = migrate(
        &mut host,
        "CREATE TABLE a(id);\nCREATE TABLE b(id INTEGER PRIMARY KEY,, x);\n",
        &Options::default(),
    )
    .unwrap_err();
    match err {
        Error::Schema { line, column, .. } => assert_eq!((line, column), (2, 39)),
        other => panic!("{other}"),
    }
    assert!(host.main_calls().iter().all(|c| !c.starts_with("CREATE")));
}

#[test]
fn an_in_sync_start_up_never_reads_the_rows() {
    // A foreign key whose parent column is not a key ("foreign key mismatch") is a warning of
    // `check` on both paths, found by compiling the check (EXPLAIN), never by running it over
    // the rows; an in-sync `migrate` (the start-up) reads the catalog and nothing else.
    let schema = "CREATE TABLE p(id INTEGER PRIMARY KEY, code TEXT);
CREATE TABLE c(id INTEGER PRIMARY KEY, p_id INTEGER REFERENCES p(id));
CREATE TABLE bad(id INTEGER PRIMARY KEY, code TEXT REFERENCES p(code));
";
    let conn = Connection::open_in_memory().unwrap();
    conn.execute_batch(schema).unwrap();
    conn.execute_batch(
        "INSERT INTO p VALUES (1, 'a');
         WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 1000)
         INSERT INTO c SELECT i, 1 FROM s;",
    )
    .unwrap();
    let mut host = Minimal::new(conn);
    let mismatch = |warnings: &[String]| {
        warnings
            .iter()
            .any(|w| w.contains("bad.code") || w.contains("PRIMARY KEY or have a UNIQUE index"))
    };
    let full = liteshift::plan_migration(
        &host,
        &format!("{schema}-- changed\nCREATE INDEX c_p ON c(p_id);"),
        &Options::default(),
    )
    .unwrap();
    assert!(mismatch(&full.plan.warnings), "{:?}", full.plan.warnings);

    host.log.borrow_mut().clear();
    let check = liteshift::plan_migration(&host, schema, &Options::default()).unwrap();
    assert!(check.plan.steps.is_empty());
    assert!(mismatch(&check.plan.warnings), "{:?}", check.plan.warnings);
    let calls = host.main_calls();
    assert!(
        calls
            .iter()
            .all(|c| !c.starts_with("PRAGMA foreign_key_check") && !c.contains("count(")),
        "no query over the rows: {calls:#?}"
    );
    assert!(
        calls
            .iter()
            .any(|c| c.starts_with("EXPLAIN PRAGMA foreign_key_check")),
        "{calls:#?}"
    );

    host.log.borrow_mut().clear();
    let report = migrate(&mut host, schema, &Options::default()).unwrap();
    assert_eq!(report.steps_applied, 0);
    assert_eq!(report.plan.fingerprint, check.plan.fingerprint);
    assert!(
        report.plan.warnings.is_empty(),
        "{:?}",
        report.plan.warnings
    );
    let calls = host.main_calls();
    assert!(
        calls
            .iter()
            .all(|c| !c.contains("PRAGMA") && !c.contains("count(")),
        "the catalog and nothing else: {calls:#?}"
    );
}
