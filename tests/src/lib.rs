//! Shared helpers for liteshift's integration, fixture, corpus and property tests.
//! Everything runs on real SQLite; nothing is mocked.

use std::collections::BTreeMap;
use std::path::PathBuf;

use rusqlite::Connection;

/// `../shared/corpus` (beside the checkout), when present.
pub fn corpus_dir() -> Option<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let p = root.join("../shared/corpus");
    p.is_dir().then_some(p)
}

/// Insert up to `per_table` rows in every ordinary table with the project's one row generator,
/// [`liteshift::testing::seed_rows`] (the one `liteshift test` uses): parents first, values of
/// each column's declared type, distinct per row, retried to fit defaults and CHECKs. Returns
/// the number of rows the tables hold.
pub fn seed_rows(conn: &Connection, per_table: usize) -> usize {
    liteshift::testing::seed_rows(
        conn,
        &liteshift::testing::SeedOptions {
            rows: per_table,
            seed: 0,
        },
    )
    .expect("seeding rows")
    .rows
}

/// Every ordinary user table of `main`, with whether it is WITHOUT ROWID.
pub fn user_tables(conn: &Connection) -> Vec<(String, bool)> {
    conn.prepare("SELECT name, wr FROM pragma_table_list WHERE schema='main' AND type='table' AND name NOT LIKE 'sqlite_%'")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// Row count and rowid list of every ordinary user table (rowid tables only for rowids).
pub fn table_rows(conn: &Connection) -> BTreeMap<String, (i64, Vec<i64>)> {
    let mut out = BTreeMap::new();
    for (t, wr) in user_tables(conn) {
        let n: i64 = conn
            .query_row(&format!("SELECT count(*) FROM \"{t}\""), [], |r| r.get(0))
            .unwrap();
        let rowids = if wr {
            Vec::new()
        } else {
            conn.prepare(&format!("SELECT rowid FROM \"{t}\" ORDER BY rowid"))
                .and_then(|mut s| {
                    s.query_map([], |r| r.get(0))?
                        .collect::<Result<Vec<i64>, _>>()
                })
                .unwrap_or_default()
        };
        out.insert(t.to_ascii_lowercase(), (n, rowids));
    }
    out
}

/// `PRAGMA integrity_check` result ("ok" when healthy).
pub fn integrity(conn: &Connection) -> String {
    conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap()
}

/// Number of `PRAGMA foreign_key_check` rows, table by table; a table whose foreign keys
/// SQLite cannot check ("foreign key mismatch": a dangling parent key, which SQLite accepts
/// in a schema) is skipped.
pub fn fk_violations(conn: &Connection) -> usize {
    user_tables(conn)
        .iter()
        .map(|(t, _)| {
            let sql = format!("PRAGMA foreign_key_check(\"{}\")", t.replace('"', "\"\""));
            conn.prepare(&sql)
                .and_then(|mut s| Ok(s.query_map([], |_| Ok(()))?.count()))
                .unwrap_or(0)
        })
        .sum()
}

pub mod check;
pub mod faultvfs;
pub mod gen;
pub mod hosts;

/// What SQLite itself reports about every user object, for comparing a migrated database with
/// a fresh one created from the declared SQL: per table the `PRAGMA table_xinfo` rows (name,
/// declared type byte for byte, NOT NULL, default text, primary-key position, hidden), sorted
/// by column name unless `exact_order`; its `index_list` and `index_xinfo` rows and its
/// `foreign_key_list` rows; and per index, view and trigger its stored SQL in normalised token
/// text (a `RENAME COLUMN` rewrites the names in it, and nothing else may differ).
pub fn schema_facts(conn: &Connection, exact_order: bool) -> BTreeMap<String, Vec<String>> {
    let rows = |sql: &str, arg: &str| -> Vec<String> {
        let mut stmt = conn.prepare(sql).unwrap();
        let n = stmt.column_count();
        stmt.query_map([arg], |r| {
            let mut v = Vec::with_capacity(n);
            for i in 0..n {
                v.push(match r.get_ref(i)? {
                    rusqlite::types::ValueRef::Text(t) => {
                        format!("{:?}", String::from_utf8_lossy(t))
                    }
                    other => format!("{other:?}"),
                });
            }
            Ok(v.join("|"))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
    };
    let objects: Vec<(String, String, Option<String>)> = conn
        .prepare("SELECT type, name, sql FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%' ORDER BY name")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let shadow: std::collections::BTreeSet<String> = conn
        .prepare("SELECT name FROM pragma_table_list WHERE type = 'shadow'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut out = BTreeMap::new();
    for (ty, name, sql) in objects {
        if shadow.contains(&name) {
            continue;
        }
        let mut facts = Vec::new();
        let virtual_table = sql
            .as_deref()
            .is_some_and(|s| s.to_ascii_uppercase().starts_with("CREATE VIRTUAL"));
        if ty == "table" && !virtual_table {
            let mut cols = rows(
                "SELECT name, type, \"notnull\", dflt_value, pk, hidden FROM pragma_table_xinfo(?1)",
                &name,
            );
            if !exact_order {
                cols.sort();
            }
            facts.extend(cols.into_iter().map(|c| format!("column {c}")));
            let mut idx = rows(
                "SELECT l.\"unique\", l.origin, l.partial, (SELECT group_concat(x.name || ' ' || x.desc || ' ' || x.coll, ', ') FROM pragma_index_xinfo(l.name) x WHERE x.key) FROM pragma_index_list(?1) l",
                &name,
            );
            idx.sort();
            facts.extend(idx.into_iter().map(|i| format!("index {i}")));
            let mut fks = rows(
                "SELECT \"table\", \"from\", \"to\", on_update, on_delete, \"match\" FROM pragma_foreign_key_list(?1)",
                &name,
            );
            fks.sort();
            facts.extend(fks.into_iter().map(|f| format!("foreign key {f}")));
        } else if let Some(sql) = &sql {
            facts.push(format!("{ty} {}", liteshift::normalize_sql(sql)));
        }
        out.insert(format!("{ty} {}", name.to_ascii_lowercase()), facts);
    }
    out
}

/// The differences between two [`schema_facts`] maps, one line each (empty when equal).
pub fn facts_diff(
    got: &BTreeMap<String, Vec<String>>,
    want: &BTreeMap<String, Vec<String>>,
) -> Vec<String> {
    let mut out = Vec::new();
    for (k, w) in want {
        match got.get(k) {
            None => out.push(format!("{k}: missing")),
            Some(g) if g != w => {
                for x in w.iter().filter(|x| !g.contains(x)) {
                    out.push(format!("{k}: expected {x}"));
                }
                for x in g.iter().filter(|x| !w.contains(x)) {
                    out.push(format!("{k}: unexpected {x}"));
                }
            }
            _ => {}
        }
    }
    for k in got.keys().filter(|k| !want.contains_key(*k)) {
        out.push(format!("{k}: not declared"));
    }
    out
}

/// Every value of every column of every ordinary user table: (table key, column key) ->
/// (declared type, `quote(value)` per row in rowid order, or sorted for WITHOUT ROWID tables).
pub fn column_values(conn: &Connection) -> BTreeMap<(String, String), (String, Vec<String>)> {
    let mut out = BTreeMap::new();
    for (t, wr) in user_tables(conn) {
        let cols: Vec<(String, String)> = conn
            .prepare("SELECT name, type FROM pragma_table_xinfo(?1) WHERE hidden = 0")
            .unwrap()
            .query_map([&t], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        for (c, ty) in cols {
            let order = if wr { "1" } else { "rowid" };
            let sql = format!(
                "SELECT quote(\"{}\") FROM \"{}\" ORDER BY {order}",
                c.replace('"', "\"\""),
                t.replace('"', "\"\"")
            );
            let Ok(mut stmt) = conn.prepare(&sql) else {
                continue;
            };
            let mut vals: Vec<String> = stmt
                .query_map([], |r| r.get(0))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            if wr {
                vals.sort();
            }
            out.insert((t.to_ascii_lowercase(), c.to_ascii_lowercase()), (ty, vals));
        }
    }
    out
}

/// A small filesystem to fill: `mount -t tmpfs` (root only; skipped where not permitted).
pub struct Tmpfs(pub std::path::PathBuf);

impl Tmpfs {
    pub fn mount(size: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().unwrap().keep();
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&dir)
            .stderr(std::process::Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        ok.then_some(Tmpfs(dir))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
