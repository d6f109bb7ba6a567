//! Library API behaviour: transactions, stale plans, determinism, schema errors.

use liteshift::{apply, migrate, plan_diff, plan_migration, ApplyOptions, Error, Options, Policy};
use rusqlite::Connection;

const PARENT_CHILD: &str = "CREATE TABLE p(id INTEGER PRIMARY KEY, name TEXT);
CREATE TABLE c(id INTEGER PRIMARY KEY, p_id INTEGER REFERENCES p(id) ON DELETE CASCADE);
INSERT INTO p VALUES (1,'a'); INSERT INTO c VALUES (1,1),(2,1);";
const REBUILD_P: &str = "CREATE TABLE p(id INTEGER PRIMARY KEY, name TEXT COLLATE NOCASE);
CREATE TABLE c(id INTEGER PRIMARY KEY, p_id INTEGER REFERENCES p(id) ON DELETE CASCADE);";

fn schema_sql(conn: &Connection) -> Vec<String> {
    column_values(conn, "SELECT sql FROM sqlite_schema ORDER BY name")
}

#[test]
fn refuses_inside_a_transaction_when_foreign_keys_must_be_switched_off() {
    let mut conn = Connection::open_in_memory().unwrap();
    conn.execute_batch(PARENT_CHILD).unwrap();
    conn.execute_batch("PRAGMA foreign_keys = ON; BEGIN;")
        .unwrap();
    let before = schema_sql(&conn);
    let err = migrate(&mut conn, REBUILD_P, &Options::default()).unwrap_err();
    assert!(matches!(err, Error::InTransaction), "{err}");
    assert!(err.to_string().contains("inside a transaction"));
    assert_eq!(schema_sql(&conn), before);
    conn.execute_batch("COMMIT").unwrap();
    // Outside the transaction it works, and the children survive the parent's rebuild.
    let r = migrate(&mut conn, REBUILD_P, &Options::default()).unwrap();
    assert!(r.foreign_keys_toggled);
    let n: i64 = conn
        .query_row("SELECT count(*) FROM c", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 2);
    let fk: bool = conn
        .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
        .unwrap();
    assert!(fk, "foreign keys restored");
}

#[test]
fn runs_inside_the_callers_transaction_with_a_savepoint_when_it_can() {
    let mut conn = Connection::open_in_memory().unwrap();
    conn.execute_batch(PARENT_CHILD).unwrap();
    conn.execute_batch("BEGIN;").unwrap();
    let schema = "CREATE TABLE p(id INTEGER PRIMARY KEY, name TEXT, extra TEXT);
CREATE TABLE c(id INTEGER PRIMARY KEY, p_id INTEGER REFERENCES p(id) ON DELETE CASCADE);";
    migrate(&mut conn, schema, &Options::default()).unwrap();
    assert!(
        !conn.is_autocommit(),
        "the caller's transaction is still open"
    );
    conn.execute_batch("ROLLBACK").unwrap();
    // The caller rolled back: so is the migration.
    assert!(!schema_sql(&conn).iter().any(|s| s.contains("extra")));
}

#[test]
fn a_plan_for_another_schema_is_refused() {
    let mut conn = Connection::open_in_memory().unwrap();
    conn.execute_batch(PARENT_CHILD).unwrap();
    let planned = plan_migration(&conn, REBUILD_P, &Options::default()).unwrap();
    conn.execute_batch("CREATE TABLE sneaky(x)").unwrap();
    let err = apply(
        &mut conn,
        &planned.plan,
        &planned.target,
        Policy::default(),
        ApplyOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(err, Error::StalePlan { .. }), "{err}");
}

#[test]
fn planning_is_deterministic() {
    let from = "CREATE TABLE a(id INTEGER PRIMARY KEY, x TEXT, y TEXT); CREATE TABLE b(id INTEGER PRIMARY KEY, a_id REFERENCES a(id));
CREATE INDEX bi ON b(a_id); CREATE VIEW v AS SELECT * FROM a JOIN b ON b.a_id = a.id;
CREATE TRIGGER t AFTER INSERT ON a BEGIN SELECT 1; END;";
    let to = "CREATE TABLE a(id INTEGER PRIMARY KEY, x INTEGER, z TEXT); CREATE TABLE d(q);
CREATE TABLE b(id INTEGER PRIMARY KEY, a_id REFERENCES a(id), w DEFAULT 3);
CREATE VIEW v AS SELECT a.id FROM a JOIN b ON b.a_id = a.id;";
    let opts = Options {
        allow_data_loss: true,
        ..Options::default()
    };
    let first = liteshift::render_sql(&plan_diff(from, "from", to, &opts).unwrap().plan);
    for _ in 0..5 {
        let again = liteshift::render_sql(&plan_diff(from, "from", to, &opts).unwrap().plan);
        assert_eq!(first, again);
    }
}

#[test]
fn identical_schemas_plan_nothing() {
    let s = "CREATE TABLE a(id INTEGER PRIMARY KEY, x TEXT CHECK (x <> ''), y REAL DEFAULT 1.5 NOT NULL) STRICT;
CREATE TABLE b(k TEXT PRIMARY KEY, a_id INTEGER REFERENCES a(id) ON DELETE SET NULL DEFERRABLE INITIALLY DEFERRED) WITHOUT ROWID;
CREATE UNIQUE INDEX ax ON a(lower(x)) WHERE x IS NOT NULL;
CREATE VIEW v AS SELECT * FROM a;
CREATE VIRTUAL TABLE f USING fts5(body, tokenize = 'porter');";
    let p = plan_diff(s, "a", s, &Options::default()).unwrap();
    assert!(p.plan.steps.is_empty(), "{:?}", p.plan.changes);
}

fn schema_error(sql: &str) -> (usize, usize, String) {
    match liteshift::load_declared(sql, "schema.sql") {
        Err(Error::Schema {
            line,
            column,
            message,
            ..
        }) => (line, column, message),
        other => panic!("expected a schema error, got {other:?}"),
    }
}

#[test]
fn schema_errors_point_at_line_and_column() {
    let (l, c, m) =
        schema_error("CREATE TABLE a(id);\n\nCREATE TABLE b(id INTEGER PRIMARY KEY,, x);\n");
    assert_eq!((l, c), (3, 39), "{m}");
    let (l, _, m) = schema_error("CREATE TABLE a(id);\nCREATE INDEX ai ON a(nope);\n");
    assert_eq!(l, 2);
    assert!(m.contains("nope"), "{m}");
    let (l, c, m) = schema_error("CREATE TABLE a(id);\n  UPDATE a SET id = 1;\n");
    assert_eq!((l, c), (2, 3));
    assert!(m.contains("only CREATE"), "{m}");
    let (l, _, m) = schema_error("CREATE TABLE a(id);\nCREATE TABLE IF NOT EXISTS A(x);\n");
    assert_eq!(l, 2);
    assert!(m.contains("duplicate"), "{m}");
    let (l, _, m) = schema_error("CREATE TABLE a(id);\nCREATE TABLE a(x);\n");
    assert_eq!(l, 2);
    assert!(m.contains("already exists"), "{m}");
    let (l, _, m) = schema_error("CREATE TABLE a(id);\nCREATE TABLE b(x DEFAULT 'oops);\n");
    assert_eq!(l, 2, "{m}");
    assert!(m.contains("unrecognized token"), "{m}");
    let (_, _, m) = schema_error("-- nothing here\n");
    assert!(m.contains("no objects"), "{m}");
    let (l, _, m) =
        schema_error("CREATE TABLE a(id);\nCREATE VIRTUAL TABLE v USING nosuchmodule(x);\n");
    assert_eq!(l, 2);
    assert!(m.contains("no such module"), "{m}");
    let (l, _, m) = schema_error("CREATE TEMP TABLE a(id);\n");
    assert_eq!(l, 1);
    assert!(m.contains("TEMP"), "{m}");
    let (l, _, m) = schema_error("CREATE TABLE a(id);\n-- liteshift:rename-tabel x=y\n");
    assert_eq!(l, 2);
    assert!(m.contains("unknown liteshift annotation"), "{m}");
}

#[test]
fn data_loss_refusal_names_every_step() {
    let mut conn = Connection::open_in_memory().unwrap();
    conn.execute_batch(
        "CREATE TABLE a(id INTEGER PRIMARY KEY, x, y); CREATE TABLE b(id); CREATE TABLE c(id);",
    )
    .unwrap();
    let err = migrate(
        &mut conn,
        "CREATE TABLE a(id INTEGER PRIMARY KEY); CREATE TABLE c(id);",
        &Options::default(),
    )
    .unwrap_err();
    let Error::Refused(liteshift::Refusal::DataLoss { steps }) = &err else {
        panic!("{err}")
    };
    assert_eq!(steps.len(), 3, "{steps:?}");
    let text = err.to_string();
    for needle in ["a.x", "a.y", "drop table b"] {
        assert!(text.contains(needle), "{text}");
    }
}

/// A browser host (sql.js, the official sqlite-wasm build) has virtual-table modules the
/// model's SQLite may lack. Catalog rows and, with `host_modules`, declared SQL model them
/// with stand-ins: the plan touches only what changed, never the virtual table or its shadow
/// tables.
#[test]
fn host_only_virtual_table_modules_are_modelled_not_refused() {
    let vt = "CREATE VIRTUAL TABLE docs USING hostfts(title, body, tokenize=porter)";
    let base = "CREATE TABLE notes(id INTEGER PRIMARY KEY, title TEXT, body TEXT);
CREATE VIEW doc_titles AS SELECT title FROM docs;
CREATE TRIGGER notes_ai AFTER INSERT ON notes BEGIN INSERT INTO docs(rowid, title, body) VALUES (new.id, new.title, new.body); END;";
    let row = |kind: &str, name: &str, tbl: &str, sql: &str| liteshift::CatalogRow {
        kind: kind.into(),
        name: name.into(),
        tbl_name: tbl.into(),
        sql: Some(sql.into()),
    };
    // What the host's sqlite_schema holds, shadow tables included.
    let rows = vec![
        row("table", "notes", "notes", "CREATE TABLE notes(id INTEGER PRIMARY KEY, title TEXT, body TEXT)"),
        row("table", "docs", "docs", vt),
        row("table", "docs_content", "docs_content", "CREATE TABLE 'docs_content'(docid INTEGER PRIMARY KEY, 'c0title', 'c1body')"),
        row("table", "docs_segdir", "docs_segdir", "CREATE TABLE 'docs_segdir'(level INTEGER,idx INTEGER,start_block INTEGER,leaves_end_block INTEGER,end_block INTEGER,root BLOB,PRIMARY KEY(level, idx))"),
        row("view", "doc_titles", "doc_titles", "CREATE VIEW doc_titles AS SELECT title FROM docs"),
        row("trigger", "notes_ai", "notes", "CREATE TRIGGER notes_ai AFTER INSERT ON notes BEGIN INSERT INTO docs(rowid, title, body) VALUES (new.id, new.title, new.body); END"),
    ];
    let target = format!("{vt};\n{base}\nCREATE INDEX notes_title ON notes(title);");
    let mut opts = Options {
        host_modules: true,
        ..Options::default()
    };
    let planned = liteshift::plan_catalog(&rows, &target, &opts).unwrap();
    let sql: Vec<&str> = planned.plan.steps.iter().map(|s| s.sql.as_str()).collect();
    assert_eq!(sql, ["CREATE INDEX notes_title ON notes(title)"], "{sql:?}");
    // In sync: nothing to do.
    let same = format!("{vt};\n{base}");
    let planned = liteshift::plan_catalog(&rows, &same, &opts).unwrap();
    assert!(planned.plan.steps.is_empty(), "{:?}", planned.plan.steps);
    // A changed virtual table is recreated from its text.
    let changed = same.replace("tokenize=porter", "tokenize=simple");
    let planned = liteshift::plan_catalog(&rows, &changed, &opts).unwrap();
    let sql = liteshift::render_sql(&planned.plan);
    assert!(
        sql.contains("DROP TABLE \"docs\"") || sql.contains("DROP TABLE docs"),
        "{sql}"
    );
    assert!(sql.contains("tokenize=simple"), "{sql}");
    assert!(!sql.contains("docs_content"), "{sql}");
    // Schema to schema works the same way.
    let planned = plan_diff(&same, "a.sql", &target, &opts).unwrap();
    assert_eq!(planned.plan.steps.len(), 1);
    // Without host_modules, declared SQL must be runnable here: a clear error.
    opts.host_modules = false;
    let err = plan_diff(&same, "a.sql", &target, &opts).unwrap_err();
    assert!(err.to_string().contains("no such module: hostfts"), "{err}");
}

fn column_values(conn: &Connection, sql: &str) -> Vec<String> {
    conn.prepare(sql)
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn explicit_rename_hints_apply_once_and_a_bad_one_is_an_error() {
    let mut conn = Connection::open_in_memory().unwrap();
    conn.execute_batch(
        "CREATE TABLE t(id INTEGER PRIMARY KEY, a TEXT, b INTEGER NOT NULL DEFAULT 0);
         INSERT INTO t VALUES (1, 'one', 10), (2, 'two', 20);",
    )
    .unwrap();
    let swapped = "CREATE TABLE t(id INTEGER PRIMARY KEY, b TEXT, a INTEGER NOT NULL DEFAULT 0);";
    let mut opts = Options::default();
    opts.hints.add_column_rename("t.a=b").unwrap();
    opts.hints.add_column_rename("t.b=a").unwrap();
    let r = migrate(&mut conn, swapped, &opts).unwrap();
    assert!(r.steps_applied > 0);
    let got = column_values(&conn, "SELECT b || ':' || a FROM t ORDER BY id");
    assert_eq!(got, ["one:10", "two:20"]);
    // An app passes the same hints at its next start: nothing happens (no swap back).
    assert_eq!(migrate(&mut conn, swapped, &opts).unwrap().steps_applied, 0);
    assert_eq!(
        column_values(&conn, "SELECT b || ':' || a FROM t ORDER BY id"),
        got
    );
    // A hint that names nothing is an error, and changes nothing.
    // A table rename with a column rename (naming the table by its old name) also applies once.
    let moved = "CREATE TABLE u(id INTEGER PRIMARY KEY, bee TEXT, a INTEGER NOT NULL DEFAULT 0);";
    let mut both = Options::default();
    both.hints.add_table_rename("t=u").unwrap();
    both.hints.add_column_rename("t.b=bee").unwrap();
    assert!(migrate(&mut conn, moved, &both).unwrap().steps_applied > 0);
    assert_eq!(migrate(&mut conn, moved, &both).unwrap().steps_applied, 0);
    assert_eq!(
        column_values(&conn, "SELECT bee || ':' || a FROM u ORDER BY id"),
        got
    );
    migrate(&mut conn, swapped, &{
        let mut back = Options::default();
        back.hints.add_table_rename("u=t").unwrap();
        back.hints.add_column_rename("u.bee=b").unwrap();
        back
    })
    .unwrap();
    let mut typo = Options::default();
    typo.hints.add_column_rename("t.nope=x").unwrap();
    let err = migrate(&mut conn, swapped, &typo).unwrap_err();
    assert!(matches!(err, Error::InvalidOption(_)), "{err}");
    assert!(
        err.to_string().contains(
            "rename hint nope=x (column of table t) cannot apply: the database has no `nope`"
        ),
        "{err}"
    );
    let mut typo = Options::default();
    typo.hints.add_column_rename("nosuch.a=b").unwrap();
    let err = migrate(&mut conn, swapped, &typo).unwrap_err();
    assert!(err.to_string().contains("no table `nosuch`"), "{err}");
    let mut typo = Options::default();
    typo.hints.add_table_rename("t=u").unwrap();
    let err = migrate(&mut conn, swapped, &typo).unwrap_err();
    assert!(
        err.to_string().contains("the declared schema has no `u`"),
        "{err}"
    );
    assert_eq!(
        column_values(&conn, "SELECT b || ':' || a FROM t ORDER BY id"),
        got
    );
}

#[test]
fn a_schema_migrated_meanwhile_by_another_connection_is_planned_again_under_the_lock() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.db");
    let mut conn = Connection::open(&path).unwrap();
    conn.execute_batch(PARENT_CHILD).unwrap();
    conn.execute_batch("PRAGMA foreign_keys = ON").unwrap();
    // Between our planning and our write lock, another connection migrates the file.
    let mut raced = false;
    let report = liteshift::migrate_with(&mut conn, REBUILD_P, &Options::default(), &mut |plan| {
        assert!(!plan.steps.is_empty());
        let mut other = Connection::open(&path).unwrap();
        other.execute_batch("PRAGMA foreign_keys = ON").unwrap();
        let r = migrate(&mut other, REBUILD_P, &Options::default()).unwrap();
        raced = r.steps_applied > 0;
    })
    .unwrap();
    assert!(raced);
    assert_eq!(report.steps_applied, 0, "planned again: already in sync");
    assert!(report.plan.steps.is_empty());
    let n: i64 = conn
        .query_row("SELECT count(*) FROM c", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 2);
    // (A plan the caller saved is still refused as stale: a_plan_for_another_schema_is_refused.)
}

#[test]
fn declared_values_are_checked_by_sqlite_first_and_stay_harmless_in_the_file() {
    let mut conn = Connection::open_in_memory().unwrap();
    conn.execute_batch(
        "CREATE TABLE t(id INTEGER PRIMARY KEY, a TEXT); INSERT INTO t VALUES (1, 'x'), (2, 'yy');",
    )
    .unwrap();
    let before = schema_sql(&conn);
    // An expression SQLite cannot compile against the table: the annotation's line and column.
    let bad = "CREATE TABLE t(id INTEGER PRIMARY KEY, a TEXT, n INTEGER NOT NULL);\n  -- liteshift:value t.n = length(nope)\n";
    match migrate(&mut conn, bad, &Options::default()).unwrap_err() {
        Error::Schema {
            line,
            column,
            message,
            ..
        } => {
            assert_eq!((line, column), (2, 3), "{message}");
            assert!(message.contains("no such column: nope"), "{message}");
        }
        other => panic!("expected a schema error, got {other}"),
    }
    // An explicit value for a column the declared schema lacks is an error (exit 2 in the CLI).
    let target = "CREATE TABLE t(id INTEGER PRIMARY KEY, a TEXT, n INTEGER NOT NULL);";
    let mut opts = Options::default();
    opts.hints.add_value("t.m=1").unwrap();
    let err = migrate(&mut conn, target, &opts).unwrap_err();
    assert!(matches!(err, Error::InvalidOption(_)), "{err}");
    assert_eq!(schema_sql(&conn), before);
    // The value is computed from each row; afterwards the annotation does nothing.
    let good = format!("{target}\n-- liteshift:value t.n = length(a) * 10\n");
    assert!(
        migrate(&mut conn, &good, &Options::default())
            .unwrap()
            .steps_applied
            > 0
    );
    assert_eq!(
        column_values(&conn, "SELECT CAST(n AS TEXT) FROM t ORDER BY id"),
        vec!["10".to_string(), "20".to_string()]
    );
    assert_eq!(
        migrate(&mut conn, &good, &Options::default())
            .unwrap()
            .steps_applied,
        0
    );
    // A value for a column that is already as declared is a no-op, explicit or not.
    let mut opts = Options::default();
    opts.hints.add_value("t.n=0").unwrap();
    assert_eq!(migrate(&mut conn, target, &opts).unwrap().steps_applied, 0);
    assert_eq!(
        column_values(&conn, "SELECT CAST(sum(n) AS TEXT) FROM t"),
        vec!["30".to_string()]
    );
}
