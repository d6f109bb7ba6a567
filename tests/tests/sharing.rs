//! Sharing the database (`core/src/share.rs`): platform tables, `--ignore`, `--keep-undeclared`
//! — what the fixtures cannot say: errors, warnings, the fingerprint, the start-up fast path,
//! and a host that refuses to read a platform's table.

use liteshift::{migrate, plan_if_unchanged, plan_migration, Error, Options};
use rusqlite::hooks::{AuthAction, AuthContext, Authorization};
use rusqlite::Connection;

const APP: &str = "CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT NOT NULL);\n\
CREATE INDEX users_name ON users(name);\n";

fn android_db() -> Connection {
    let conn = Connection::open_in_memory().unwrap();
    conn.execute_batch(APP).unwrap();
    conn.execute_batch(
        "CREATE TABLE android_metadata (locale TEXT); INSERT INTO android_metadata VALUES ('en_US');
         INSERT INTO users(name) VALUES ('ada');",
    )
    .unwrap();
    conn
}

fn ignoring(patterns: &[&str]) -> Options {
    Options {
        ignore: patterns.iter().map(|p| p.to_string()).collect(),
        ..Options::default()
    }
}

fn schema_error(e: Error) -> (usize, usize, String) {
    match e {
        Error::Schema {
            line,
            column,
            message,
            ..
        } => (line, column, message),
        other => panic!("expected a schema error, got {other}"),
    }
}

#[test]
fn an_android_database_is_in_sync_on_the_fast_path() {
    let mut conn = android_db();
    let fast = plan_if_unchanged(&conn, APP, &Options::default()).unwrap();
    assert!(
        fast.is_some(),
        "android_metadata must not defeat the fast path"
    );
    let report = migrate(&mut conn, APP, &Options::default()).unwrap();
    assert_eq!(report.steps_applied, 0);
    let locale: String = conn
        .query_row("SELECT locale FROM android_metadata", [], |r| r.get(0))
        .unwrap();
    assert_eq!(locale, "en_US");
}

#[test]
fn platform_objects_are_not_in_the_fingerprint_nor_inspected() {
    let conn = android_db();
    let before = liteshift::introspect(&conn).unwrap();
    conn.execute_batch(
        "CREATE TABLE _cf_METADATA (key INTEGER PRIMARY KEY, value BLOB);
         CREATE TABLE _litestream_seq (id INTEGER PRIMARY KEY, seq INTEGER);
         CREATE INDEX _litestream_by_seq ON _litestream_seq(seq);",
    )
    .unwrap();
    let after = liteshift::introspect(&conn).unwrap();
    assert_eq!(before.fingerprint(), after.fingerprint());
    let sql = liteshift::schema_sql(&after);
    assert!(
        !sql.contains("android_metadata") && !sql.contains("_cf_") && !sql.contains("_litestream"),
        "{sql}"
    );
}

#[test]
fn declaring_a_platform_object_is_an_error_naming_the_platform() {
    let mut conn = android_db();
    let schema = format!("{APP}CREATE TABLE _cf_KV (key TEXT PRIMARY KEY, value BLOB);\n");
    let (line, column, message) =
        schema_error(migrate(&mut conn, &schema, &Options::default()).unwrap_err());
    assert_eq!((line, column), (3, 1));
    assert!(message.contains("Cloudflare"), "{message}");
    let schema = format!("{APP}CREATE TABLE android_metadata (locale TEXT);\n");
    let (_, _, message) =
        schema_error(plan_migration(&conn, &schema, &Options::default()).unwrap_err());
    assert!(message.contains("Android"), "{message}");
}

#[test]
fn declaring_an_ignored_object_is_an_error_naming_the_pattern() {
    let conn = android_db();
    let (line, _, message) =
        schema_error(plan_migration(&conn, APP, &ignoring(&["user?"])).unwrap_err());
    assert_eq!(line, 1);
    assert!(
        message.contains("`users`") && message.contains("`user?`"),
        "{message}"
    );
    // An index on an ignored table cannot be declared either: the table is not declared.
    let schema = "-- liteshift:ignore audit\nCREATE TABLE t(a);\nCREATE INDEX t_a ON audit(a);\n";
    conn.execute_batch("CREATE TABLE audit(a)").unwrap();
    let (line, _, message) =
        schema_error(plan_migration(&conn, schema, &Options::default()).unwrap_err());
    assert_eq!(line, 3, "{message}");
    assert!(message.contains("audit"), "{message}");
}

#[test]
fn a_malformed_pattern_is_an_invalid_option_or_a_schema_error() {
    let conn = android_db();
    let err = plan_migration(&conn, APP, &ignoring(&["[abc"])).unwrap_err();
    assert!(matches!(err, Error::InvalidOption(_)), "{err}");
    let schema = format!("-- liteshift:ignore [abc\n{APP}");
    let (line, _, message) =
        schema_error(plan_migration(&conn, &schema, &Options::default()).unwrap_err());
    assert_eq!(line, 1, "{message}");
}

#[test]
fn a_foreign_key_to_an_ignored_or_platform_table_is_not_dangling() {
    let conn = android_db();
    conn.execute_batch("CREATE TABLE _sqlx_migrations(version BIGINT PRIMARY KEY)")
        .unwrap();
    let schema = format!(
        "{APP}CREATE TABLE runs(id INTEGER PRIMARY KEY, version BIGINT REFERENCES _sqlx_migrations(version), locale TEXT REFERENCES android_metadata(locale));\n"
    );
    let planned = plan_migration(&conn, &schema, &ignoring(&["_sqlx_*"])).unwrap();
    assert!(
        planned.plan.warnings.is_empty(),
        "{:?}",
        planned.plan.warnings
    );
    assert!(planned.plan.steps.iter().all(|s| !s.sql.contains("DROP")));
    // Without the pattern, the table is the schema's to drop, and the key dangles.
    let planned = plan_migration(&conn, &schema, &Options::default()).unwrap();
    assert!(planned
        .plan
        .warnings
        .iter()
        .any(|w| w.contains("_sqlx_migrations")));
    assert!(planned
        .plan
        .changes
        .iter()
        .any(|c| c == "drop table _sqlx_migrations"));
}

#[test]
fn check_is_in_sync_when_only_ignored_objects_differ() {
    let mut conn = android_db();
    conn.execute_batch(
        "CREATE TABLE grdb_migrations(identifier TEXT NOT NULL PRIMARY KEY);
         CREATE VIEW grdb_view AS SELECT * FROM users;
         CREATE TRIGGER grdb_trigger AFTER INSERT ON users BEGIN SELECT 1; END;
         CREATE INDEX grdb_index ON users(id, name);",
    )
    .unwrap();
    let planned = plan_migration(&conn, APP, &ignoring(&["grdb_*"])).unwrap();
    assert!(planned.plan.steps.is_empty(), "{:?}", planned.plan.changes);
    // The schema's own annotation does the same, on the fast path too.
    let schema = format!("-- liteshift:ignore grdb_*\n{APP}");
    assert!(plan_if_unchanged(&conn, &schema, &Options::default())
        .unwrap()
        .is_some());
    assert_eq!(
        migrate(&mut conn, &schema, &Options::default())
            .unwrap()
            .steps_applied,
        0
    );
    let planned = plan_migration(&conn, APP, &Options::default()).unwrap();
    assert_eq!(planned.plan.changes.len(), 4, "{:?}", planned.plan.changes);
}

#[test]
fn keep_undeclared_names_what_it_kept() {
    let mut conn = android_db();
    conn.execute_batch(
        "CREATE TABLE extra(x); INSERT INTO extra VALUES (1);
         ALTER TABLE users ADD COLUMN old TEXT DEFAULT 'o';
         CREATE INDEX users_old ON users(old);
         CREATE VIEW v AS SELECT old FROM users;
         CREATE TRIGGER g AFTER INSERT ON users BEGIN SELECT 1; END;",
    )
    .unwrap();
    let schema = format!("{APP}CREATE TABLE added(y);\n");
    let opts = Options {
        keep_undeclared: true,
        ..Options::default()
    };
    let report = migrate(&mut conn, &schema, &opts).unwrap();
    assert_eq!(
        report.plan.kept,
        [
            "table extra",
            "column users.old",
            "index users_old",
            "view v",
            "trigger g"
        ]
    );
    assert_eq!(report.steps_applied, 1, "{:?}", report.plan.steps);
    assert!(liteshift::render_summary(&report.plan)
        .contains("kept (undeclared): table extra, column users.old"));
    let old: String = conn
        .query_row("SELECT old FROM v", [], |r| r.get(0))
        .unwrap();
    assert_eq!(old, "o");
    // In sync with the option; without it, the kept objects are what differs.
    assert!(plan_migration(&conn, &schema, &opts)
        .unwrap()
        .plan
        .steps
        .is_empty());
    let planned = plan_migration(&conn, &schema, &Options::default()).unwrap();
    assert_eq!(planned.plan.changes.len(), 5, "{:?}", planned.plan.changes);
}

fn stored_sql(conn: &Connection) -> Vec<Option<String>> {
    conn.prepare("SELECT sql FROM sqlite_master")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn keep_undeclared_refuses_a_column_it_cannot_keep() {
    // `code` is the primary key the declaration replaces: it cannot stay as it is defined.
    let mut conn = Connection::open_in_memory().unwrap();
    conn.execute_batch(
        "CREATE TABLE pairs(code TEXT PRIMARY KEY, v INTEGER); INSERT INTO pairs VALUES ('x', 2);",
    )
    .unwrap();
    let bytes_before = stored_sql(&conn);
    let opts = Options {
        keep_undeclared: true,
        allow_data_loss: true,
        ..Options::default()
    };
    let err = migrate(
        &mut conn,
        "CREATE TABLE pairs(a INTEGER PRIMARY KEY);",
        &opts,
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("pairs.code") && text.contains("primary key"),
        "{text}"
    );
    let after = stored_sql(&conn);
    assert_eq!(after, bytes_before);
}

/// A host that, like Cloudflare's Durable Objects, refuses any access to its `_cf_KV` table —
/// its very `pragma_table_xinfo` included.
fn durable_object_like() -> Connection {
    let mut conn = android_db();
    conn.execute_batch("CREATE TABLE _cf_KV (key TEXT PRIMARY KEY, value BLOB) WITHOUT ROWID")
        .unwrap();
    let denied = |name: &str| name.len() >= 4 && name[..4].eq_ignore_ascii_case("_cf_");
    conn.authorizer(Some(move |ctx: AuthContext<'_>| match ctx.action {
        AuthAction::Read { table_name, .. } if denied(table_name) => Authorization::Deny,
        AuthAction::Pragma {
            pragma_value: Some(v),
            ..
        } if denied(v) => Authorization::Deny,
        _ => Authorization::Allow,
    }))
    .unwrap();
    conn
}

#[test]
fn a_host_that_refuses_to_read_its_platform_table_still_migrates() {
    let mut conn = durable_object_like();
    assert!(conn
        .query_row("SELECT count(*) FROM _cf_KV", [], |r| r.get::<_, i64>(0))
        .is_err());
    assert!(conn
        .prepare("SELECT * FROM pragma_table_xinfo('_cf_KV')")
        .and_then(|mut s| s.query([])?.next().map(|_| ()))
        .is_err());
    let schema = "CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT NOT NULL COLLATE NOCASE, email TEXT);\n";
    let report = migrate(&mut conn, schema, &Options::default()).unwrap();
    assert!(report.steps_applied > 0);
    assert!(plan_migration(&conn, schema, &Options::default())
        .unwrap()
        .plan
        .steps
        .is_empty());
}
