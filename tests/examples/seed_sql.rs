//! The statements that load a schema and the rows `liteshift_tests::seed_rows` puts in it on
//! another host (D1 in wasm/test/workers/corpus.test.mjs), as JSON:
//!
//! `cargo run -q -p liteshift-tests --example seed_sql -- SCHEMA.sql ROWS_PER_TABLE`
//!
//! prints `{"seeded": N, "tables": {table: rows}, "columns": {table: {column: declared type}},
//! "statements": [...]}`. The statements, in
//! order: the tables and indexes as SQLite stored them (`sqlite_schema` order; no shadow
//! table of a virtual table, no automatic index), one INSERT per row of every table (tables in
//! creation order as `seed_rows` filled them, rows in rowid order, the rowid kept; no generated
//! column), the AUTOINCREMENT high-water marks, then the views and triggers — created after the
//! rows so that no trigger fires twice (the rows its firing made during seeding are in the
//! dump). They are replayed here on a fresh database with foreign keys enforced (as D1 keeps
//! them) before they are printed; only when that order breaks a foreign key (a trigger's row
//! before its parent) does the list start with `PRAGMA defer_foreign_keys = ON` — not always,
//! since with deferred checks an INSERT into a parent whose child's foreign key is broken
//! (to columns that are not a key) fails with "foreign key mismatch".
use std::collections::BTreeMap;

use rusqlite::Connection;

fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// The statements on a fresh database with foreign keys enforced, in one transaction (as one
/// D1 batch runs them).
fn replay(statements: &[String]) -> Result<(), String> {
    let mut conn = Connection::open_in_memory().map_err(|e| e.to_string())?;
    conn.execute_batch("PRAGMA foreign_keys = ON")
        .map_err(|e| e.to_string())?;
    let tx = conn.transaction().map_err(|e| e.to_string())?;
    for s in statements {
        tx.execute_batch(s).map_err(|e| format!("{e} at: {s}"))?;
    }
    tx.commit().map_err(|e| e.to_string())
}

/// The objects with each table after the tables its foreign keys name (as the generator
/// filled them), so that the INSERTs replay with enforcement on; a cycle keeps creation order.
fn parents_first<'o>(
    conn: &Connection,
    objects: &'o [(String, String, String)],
) -> Vec<&'o (String, String, String)> {
    let parents = |t: &str| -> Vec<String> {
        conn.prepare("SELECT DISTINCT lower(\"table\") FROM pragma_foreign_key_list(?1)")
            .unwrap()
            .query_map([t], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    let known: Vec<String> = objects.iter().map(|o| o.1.to_lowercase()).collect();
    let mut left: Vec<&(String, String, String)> = objects.iter().collect();
    let mut out: Vec<&(String, String, String)> = Vec::new();
    while !left.is_empty() {
        let done: Vec<String> = out.iter().map(|o| o.1.to_lowercase()).collect();
        let ready = left.iter().position(|o| {
            parents(&o.1)
                .iter()
                .all(|p| *p == o.1.to_lowercase() || done.contains(p) || !known.contains(p))
        });
        out.push(left.remove(ready.unwrap_or(0)));
    }
    out
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [schema, per_table] = args.as_slice() else {
        eprintln!("usage: seed_sql SCHEMA.sql ROWS_PER_TABLE");
        std::process::exit(2);
    };
    let per_table: usize = per_table.parse().expect("ROWS_PER_TABLE is a number");
    let sql = std::fs::read_to_string(schema).expect("reading the schema");
    let conn = Connection::open_in_memory().unwrap();
    conn.execute_batch(&sql).expect("loading the schema");
    conn.execute_batch("PRAGMA foreign_keys = ON").unwrap();
    let seeded = liteshift_tests::seed_rows(&conn, per_table);

    let shadow: Vec<String> = conn
        .prepare("SELECT name FROM pragma_table_list WHERE schema = 'main' AND type = 'shadow'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let objects: Vec<(String, String, String)> = conn
        .prepare("SELECT type, name, sql FROM sqlite_schema WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY rowid")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let objects: Vec<_> = objects
        .into_iter()
        .filter(|(_, name, _)| !shadow.contains(name))
        .collect();

    let mut statements = Vec::new();
    let mut late = Vec::new();
    for (ty, _, sql) in &objects {
        if ty == "view" || ty == "trigger" {
            late.push(sql.clone());
        } else {
            statements.push(sql.clone());
        }
    }
    let mut tables = BTreeMap::new();
    let mut columns = BTreeMap::new();
    for (ty, name, sql) in parents_first(&conn, &objects) {
        if ty != "table" || sql.to_ascii_uppercase().starts_with("CREATE VIRTUAL") {
            continue;
        }
        let without_rowid: bool = conn
            .query_row(
                "SELECT wr FROM pragma_table_list WHERE schema = 'main' AND name = ?1",
                [name],
                |r| r.get(0),
            )
            .unwrap();
        // (name, declared type, pk) of every stored column.
        let cols: Vec<(String, String, i64)> = conn
            .prepare("SELECT name, upper(type), pk FROM pragma_table_xinfo(?1) WHERE hidden = 0")
            .unwrap()
            .query_map([name], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        columns.insert(
            name.clone(),
            cols.iter()
                .map(|c| (c.0.clone(), c.1.clone()))
                .collect::<BTreeMap<_, _>>(),
        );
        let pks: Vec<_> = cols.iter().filter(|c| c.2 > 0).collect();
        let rowid_alias = pks.len() == 1 && pks[0].1 == "INTEGER";
        let mut names: Vec<String> = cols.iter().map(|c| quote_ident(&c.0)).collect();
        if !without_rowid && !rowid_alias {
            names.insert(0, "rowid".to_string());
        }
        let select = format!(
            "SELECT {} FROM {}{}",
            names
                .iter()
                .map(|n| format!("quote({n})"))
                .collect::<Vec<_>>()
                .join(", "),
            quote_ident(name),
            if without_rowid { "" } else { " ORDER BY rowid" }
        );
        let mut stmt = conn.prepare(&select).unwrap();
        let rows: Vec<Vec<String>> = stmt
            .query_map([], |r| {
                (0..names.len())
                    .map(|i| r.get::<_, String>(i))
                    .collect::<Result<_, _>>()
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        tables.insert(name.clone(), rows.len());
        for row in rows {
            statements.push(format!(
                "INSERT INTO {} ({}) VALUES ({})",
                quote_ident(name),
                names.join(", "),
                row.join(", ")
            ));
        }
    }
    let has_sequence: bool = conn
        .query_row(
            "SELECT count(*) FROM sqlite_schema WHERE name = 'sqlite_sequence'",
            [],
            |r| r.get::<_, i64>(0),
        )
        .unwrap()
        > 0;
    if has_sequence {
        let seqs: Vec<(String, i64)> = conn
            .prepare("SELECT name, seq FROM sqlite_sequence ORDER BY name")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        if !seqs.is_empty() {
            statements.push("DELETE FROM sqlite_sequence".to_string());
            for (name, seq) in seqs {
                statements.push(format!(
                    "INSERT INTO sqlite_sequence (name, seq) VALUES ('{}', {seq})",
                    name.replace('\'', "''")
                ));
            }
        }
    }
    statements.extend(late);
    if let Err(e) = replay(&statements) {
        statements.insert(0, "PRAGMA defer_foreign_keys = ON".to_string());
        if let Err(e2) = replay(&statements) {
            panic!("the statements do not replay ({e}), nor with deferred foreign keys: {e2}");
        }
    }
    let out = serde_json::json!({
        "seeded": seeded,
        "tables": tables,
        "columns": columns,
        "statements": statements,
    });
    println!("{out}");
}
