//! Whether a schema another host stores is exactly a declared one, as tests/tests/corpus.rs
//! judges it (used by wasm/test/workers/corpus.test.mjs for D1):
//!
//! `cargo run -q -p liteshift-tests --example schema_check -- GOT.json WANT.sql`
//!
//! GOT.json is a JSON array of the `sql` of the host's `sqlite_schema` rows in rowid order (the
//! catalog is that text: SQLite derives every pragma from it); a CREATE TABLE of a table that
//! already exists (the shadow tables a virtual table made) is skipped. Prints
//! `{"differences": [...], "replan": [...]}`: the differences of
//! `liteshift_tests::schema_facts` (columns, indexes and foreign keys per table as SQLite
//! reports them, the normalised SQL of views and triggers), and the changes liteshift plans
//! from that schema to WANT.sql; both empty when it is exactly the declared schema.
use liteshift::{plan_migration, Options};
use rusqlite::Connection;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [got, want] = args.as_slice() else {
        eprintln!("usage: schema_check GOT.json WANT.sql");
        std::process::exit(2);
    };
    let got: Vec<String> =
        serde_json::from_str(&std::fs::read_to_string(got).expect("reading GOT.json"))
            .expect("GOT.json is an array of strings");
    let want = std::fs::read_to_string(want).expect("reading WANT.sql");

    let host = Connection::open_in_memory().unwrap();
    for sql in &got {
        if let Err(e) = host.execute_batch(sql) {
            let exists = e.to_string().contains("already exists");
            assert!(
                exists && sql.to_ascii_uppercase().starts_with("CREATE TABLE"),
                "{sql}: {e}"
            );
        }
    }
    let declared = Connection::open_in_memory().unwrap();
    declared.execute_batch(&want).expect("loading WANT.sql");
    let differences = liteshift_tests::facts_diff(
        &liteshift_tests::schema_facts(&host, false),
        &liteshift_tests::schema_facts(&declared, false),
    );
    let again = plan_migration(&host, &want, &Options::default()).expect("planning again");
    let replan: Vec<String> = if again.plan.steps.is_empty() {
        Vec::new()
    } else {
        again.plan.changes.clone()
    };
    println!(
        "{}",
        serde_json::json!({ "differences": differences, "replan": replan })
    );
}
