//! The foreign-key check's scope: only tables whose foreign keys the migration can break are
//! checked (an O(1) step elsewhere must not read every child row), and within it every new
//! violation is still refused while old ones are not blamed on the migration.

use liteshift::FkCheck;
use liteshift::{migrate, plan_migration, Error, Options, Refusal};
use rusqlite::Connection;

const BASE: &str = "CREATE TABLE p(id INTEGER PRIMARY KEY, name TEXT);
CREATE TABLE c(id INTEGER PRIMARY KEY, p_id INTEGER REFERENCES p(id));
CREATE TABLE other(id INTEGER PRIMARY KEY, x TEXT);
";

fn db() -> Connection {
    let c = Connection::open_in_memory().unwrap();
    c.execute_batch(BASE).unwrap();
    c.execute_batch(
        "INSERT INTO p VALUES (1, 'a'), (2, 'b');
         INSERT INTO c VALUES (1, 1), (2, 2), (3, 1);
         INSERT INTO other VALUES (1, 'x');",
    )
    .unwrap();
    c
}

fn scope(conn: &Connection, schema: &str) -> Option<Vec<FkCheck>> {
    plan_migration(conn, schema, &Options::default())
        .unwrap()
        .plan
        .fk_checks
}

fn check(before: Option<&str>, after: &str) -> FkCheck {
    FkCheck {
        before: before.map(str::to_string),
        after: after.to_string(),
    }
}

#[test]
fn a_change_to_an_unrelated_table_checks_no_foreign_keys() {
    let mut conn = db();
    let schema = BASE.replace("x TEXT)", "x TEXT, y TEXT)");
    assert_eq!(scope(&conn, &schema), Some(vec![]));
    let report = migrate(&mut conn, &schema, &Options::default()).unwrap();
    assert!(report.steps_applied > 0);
    assert!(!liteshift::render_sql(&report.plan).contains("foreign_key_check"));
}

#[test]
fn a_rebuilt_parent_checks_its_children() {
    let conn = db();
    let schema = BASE.replace("name TEXT)", "name TEXT NOT NULL)");
    assert_eq!(scope(&conn, &schema), Some(vec![check(Some("c"), "c")]));
}

#[test]
fn a_renamed_child_is_checked_under_both_names() {
    let conn = db();
    let schema = BASE.replace("TABLE c(", "TABLE kids(");
    let mut opts = Options::default();
    opts.hints.add_table_rename("c=kids").unwrap();
    let plan = plan_migration(&conn, &schema, &opts).unwrap().plan;
    assert_eq!(plan.fk_checks, Some(vec![check(Some("c"), "kids")]));
}

#[test]
fn a_new_foreign_key_with_orphan_rows_is_refused() {
    let mut conn = db();
    conn.execute_batch("INSERT INTO other VALUES (2, 'y')")
        .unwrap();
    let schema = BASE
        .replace("x TEXT)", "x TEXT REFERENCES p(name))")
        .replace("name TEXT)", "name TEXT UNIQUE)");
    let before: i64 = conn
        .query_row("SELECT count(*) FROM other", [], |r| r.get(0))
        .unwrap();
    let err = migrate(&mut conn, &schema, &Options::default()).unwrap_err();
    let Error::Refused(Refusal::Violations { violations }) = err else {
        panic!("expected a refusal: {err}")
    };
    assert_eq!(violations.len(), 1, "{violations:?}");
    assert_eq!(
        (violations[0].table.as_str(), violations[0].count),
        ("other", 2)
    );
    let after: i64 = conn
        .query_row("SELECT count(*) FROM other", [], |r| r.get(0))
        .unwrap();
    assert_eq!(before, after);
    assert!(conn.prepare("SELECT x FROM other").is_ok());
}

#[test]
fn dropping_a_parent_its_child_still_references_is_refused() {
    let mut conn = db();
    let schema = "CREATE TABLE c(id INTEGER PRIMARY KEY, p_id INTEGER REFERENCES p(id));
CREATE TABLE other(id INTEGER PRIMARY KEY, x TEXT);";
    assert_eq!(scope(&conn, schema), Some(vec![check(Some("c"), "c")]));
    let opts = Options {
        allow_data_loss: true,
        ..Options::default()
    };
    let err = migrate(&mut conn, schema, &opts).unwrap_err();
    assert!(
        matches!(err, Error::Refused(Refusal::Violations { .. })),
        "{err}"
    );
    let parents: i64 = conn
        .query_row("SELECT count(*) FROM p", [], |r| r.get(0))
        .unwrap();
    assert_eq!(parents, 2, "nothing changed");
}

#[test]
fn orphans_that_were_there_before_are_not_the_migrations() {
    let mut conn = db();
    conn.execute_batch(
        "PRAGMA foreign_keys = OFF; INSERT INTO c VALUES (4, 99); PRAGMA foreign_keys = ON;",
    )
    .unwrap();
    let schema = BASE.replace("name TEXT)", "name TEXT NOT NULL)");
    let report = migrate(&mut conn, &schema, &Options::default()).unwrap();
    assert!(report.steps_applied > 0);
    let orphans: i64 = conn
        .query_row(
            "SELECT count(*) FROM pragma_foreign_key_check('c')",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(orphans, 1, "the old orphan is still there, and only it");
}
