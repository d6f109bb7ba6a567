//! Load a declared schema (plain SQL) into a pristine in-memory SQLite, so that SQLite itself
//! validates it, then introspect it like any database.

use std::collections::{BTreeMap, BTreeSet};

use rusqlite::Connection;
use sqlite3_parser::FallibleIterator as _;

use crate::diff::Hints;
use crate::error::{Error, Result};
use crate::introspect::introspect;
use crate::model::Schema;
use crate::sqltext::{ident_key, line_col, skip_space_and_comments};

/// A declared schema: the objects it creates and the rename hints its annotations carry.
#[derive(Debug, Clone)]
pub struct Declared {
    pub schema: Schema,
    pub hints: Hints,
    /// Problems tolerated because the caller asked (dangling foreign keys).
    pub warnings: Vec<String>,
}

/// Load declared SQL. `source_name` names the input in error messages (a file path).
/// A foreign key to an undeclared table or column is accepted, as SQLite accepts it, with a
/// warning naming it (see [`LoadOptions::deny_dangling_fks`] for the strict mode).
pub fn load_declared(sql: &str, source_name: &str) -> Result<Declared> {
    load_declared_opts(sql, source_name, LoadOptions::default())
}

/// How a declared schema is loaded.
#[derive(Debug, Clone, Copy, Default)]
pub struct LoadOptions {
    /// A foreign key to an undeclared table or column (or one whose parent columns are not
    /// the parent's key) is an error. By default it is a warning, as SQLite accepts it.
    pub deny_dangling_fks: bool,
    /// A virtual table whose module this SQLite lacks is modelled with a stand-in (the
    /// migration runs on a host that has the module), not an error.
    pub host_modules: bool,
}

/// Load declared SQL with explicit [`LoadOptions`].
pub fn load_declared_opts(sql: &str, source_name: &str, opts: LoadOptions) -> Result<Declared> {
    let conn = Connection::open_in_memory()?;
    let hints = parse_annotations(sql, source_name)?;
    let mut warnings = Vec::new();
    let created_at = load_into(&conn, sql, source_name, opts.host_modules)?;
    let dangling = dangling_foreign_keys(&conn, sql, source_name, &created_at)?;
    if opts.deny_dangling_fks {
        if let Some(first) = dangling.into_iter().next() {
            return Err(first);
        }
    } else {
        warnings.extend(dangling.iter().map(|e| {
            format!("{e} (accepted, as SQLite accepts it; --deny-dangling-foreign-keys makes it an error)")
        }));
    }
    let mut schema = introspect(&conn)?;
    schema.rewritten_by_alter = rewritten_by_alter(&conn, &schema);
    if schema.object_count() == 0 {
        return Err(Error::Schema {
            source_name: source_name.to_string(),
            line: 1,
            column: 1,
            message: "the declared schema creates no objects; applying it would drop every table. Declare at least one CREATE statement".into(),
        });
    }
    Ok(Declared {
        schema,
        hints,
        warnings,
    })
}

/// The objects whose stored text SQLite rewrites when any `ALTER TABLE … RENAME COLUMN` or
/// `DROP COLUMN` runs in the database: SQLite then turns the double-quoted string literals of
/// every CHECK, generated column, index expression, view and trigger into single-quoted ones.
/// Found by doing both on a probe table in the loaded declared schema and seeing which texts
/// change (this SQLite's own rule, which differs between versions). When the probe cannot run,
/// every object with a double-quoted token is assumed to be rewritten. Leaves the probe's
/// rewrites in `conn`, which must not be introspected afterwards.
fn rewritten_by_alter(conn: &Connection, schema: &Schema) -> BTreeSet<String> {
    let stored = |conn: &Connection| -> rusqlite::Result<BTreeMap<String, String>> {
        conn.prepare("SELECT name, sql FROM sqlite_schema WHERE sql IS NOT NULL")?
            .query_map([], |r| {
                Ok((r.get::<_, String>(0)?.to_ascii_lowercase(), r.get(1)?))
            })?
            .collect()
    };
    // A double-quoted literal needs a double quote: without one, nothing is rewritten.
    let texts = || {
        let tables = schema.tables.iter().map(|(k, t)| (k, &t.sql));
        tables
            .chain(schema.indexes.iter().map(|(k, i)| (k, &i.sql)))
            .chain(schema.views.iter().map(|(k, v)| (k, &v.sql)))
            .chain(schema.triggers.iter().map(|(k, t)| (k, &t.sql)))
            .filter(|(_, sql)| sql.contains('"'))
            .map(|(k, _)| k.clone())
    };
    if texts().next().is_none() {
        return BTreeSet::new();
    }
    let probe = "\"_liteshift_quote_probe\"";
    let probed = stored(conn).and_then(|before| {
        conn.execute_batch(&format!(
            "CREATE TABLE {probe}(a, b, c); ALTER TABLE {probe} RENAME COLUMN a TO d; ALTER TABLE {probe} DROP COLUMN b; DROP TABLE {probe}"
        ))?;
        let after = stored(conn)?;
        Ok(before
            .into_iter()
            .filter(|(k, sql)| after.get(k) != Some(sql))
            .map(|(k, _)| k)
            .collect())
    });
    probed.unwrap_or_else(|_| texts().collect())
}

fn schema_error(sql: &str, source_name: &str, offset: usize, message: String) -> Error {
    let (line, column) = line_col(sql, offset);
    Error::Schema {
        source_name: source_name.to_string(),
        line,
        column,
        message,
    }
}

fn object_count(conn: &Connection) -> Result<i64> {
    Ok(conn.query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))?)
}

/// Run every statement of `sql` on `conn`, accepting only CREATE statements. Returns the
/// byte offset of the statement that created each object (by name key).
pub(crate) fn load_into(
    conn: &Connection,
    sql: &str,
    source_name: &str,
    host_modules: bool,
) -> Result<BTreeMap<String, usize>> {
    let mut batch = rusqlite::Batch::new(conn, sql);
    let mut search_from = 0usize;
    // name key -> byte offset of the statement that created it
    let mut created_at: BTreeMap<String, usize> = BTreeMap::new();
    loop {
        let stmt = match batch.next() {
            Ok(Some(s)) => s,
            Ok(None) => break,
            Err(rusqlite::Error::SqlInputError {
                msg,
                sql: tail,
                offset,
                ..
            }) => {
                let base = sql.len().saturating_sub(tail.len());
                let at = base + offset.max(0) as usize;
                return Err(schema_error(sql, source_name, at, msg));
            }
            Err(e) => {
                let at = skip_offset(sql, search_from);
                return Err(schema_error(sql, source_name, at, e.to_string()));
            }
        };
        let text = stmt.expanded_sql().unwrap_or_default();
        let start = sql[search_from..]
            .find(text.as_str())
            .map(|i| i + search_from)
            .unwrap_or(search_from);
        search_from = (start + text.len()).min(sql.len());
        let start = skip_offset(sql, start);
        let body = skip_space_and_comments(&text);
        let words: Vec<String> = body
            .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
            .filter(|w| !w.is_empty())
            .take(2)
            .map(|w| w.to_ascii_uppercase())
            .collect();
        if words.first().map(String::as_str) != Some("CREATE") {
            let first: String = body.chars().take(40).collect();
            return Err(schema_error(
                sql,
                source_name,
                start,
                format!(
                    "only CREATE TABLE/INDEX/VIEW/TRIGGER statements belong in a declared schema, found `{}`; move data changes and PRAGMAs elsewhere",
                    first.split_whitespace().collect::<Vec<_>>().join(" ")
                ),
            ));
        }
        if matches!(words.get(1).map(String::as_str), Some("TEMP" | "TEMPORARY")) {
            return Err(schema_error(
                sql,
                source_name,
                start,
                "TEMP objects live only as long as a connection and are not part of a database file's schema; remove TEMP".into(),
            ));
        }
        let before = object_count(conn)?;
        drop(stmt);
        let done = if host_modules {
            crate::hostmod::execute_with_stand_ins(conn, &text)
        } else {
            conn.execute_batch(&text)
        };
        if let Err(e) = done {
            let at = match &e {
                rusqlite::Error::SqlInputError { offset, .. } => start + (*offset).max(0) as usize,
                _ => start,
            };
            let msg = match e {
                rusqlite::Error::SqlInputError { msg, .. } => msg,
                rusqlite::Error::SqliteFailure(_, Some(m)) => m,
                other => other.to_string(),
            };
            return Err(schema_error(sql, source_name, at, msg));
        }
        let after = object_count(conn)?;
        let name = crate::sqltext::create_name_range(&text)
            .map(|r| ident_key(&text[r]))
            .unwrap_or_default();
        if after == before {
            return Err(schema_error(
                sql,
                source_name,
                start,
                format!("duplicate object name `{name}`: it is already declared earlier (IF NOT EXISTS hid the clash); every object needs a unique name"),
            ));
        }
        created_at.insert(name, start);
    }
    Ok(created_at)
}

fn skip_offset(sql: &str, from: usize) -> usize {
    let rest = skip_space_and_comments(&sql[from..]);
    sql.len() - rest.len()
}

/// The declared foreign keys that cannot work: to an undeclared table, to a missing column,
/// or to parent columns that are not the parent's PRIMARY KEY or UNIQUE ("foreign key
/// mismatch": with enforcement on, every write to the child fails). SQLite accepts all of
/// these, so the caller decides whether they are warnings or an error. One per foreign key.
fn dangling_foreign_keys(
    conn: &Connection,
    sql: &str,
    source_name: &str,
    created_at: &BTreeMap<String, usize>,
) -> Result<Vec<Error>> {
    let mut stmt = conn.prepare(
        "SELECT m.name, f.\"table\", f.\"from\", f.\"to\", \
         EXISTS (SELECT 1 FROM sqlite_schema p WHERE p.type = 'table' AND p.name = f.\"table\" COLLATE NOCASE), \
         f.\"to\" IS NULL OR EXISTS (SELECT 1 FROM pragma_table_xinfo(f.\"table\") c WHERE c.name = f.\"to\" COLLATE NOCASE) \
         FROM sqlite_schema m, pragma_foreign_key_list(m.name) f WHERE m.type = 'table' ORDER BY m.rowid, f.id, f.seq",
    )?;
    type Row = (String, String, String, Option<String>, bool, bool);
    let rows: Vec<Row> = stmt
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let at = |child: &str| {
        created_at
            .get(&child.to_ascii_lowercase())
            .copied()
            .unwrap_or(0)
    };
    let mut out = Vec::new();
    let mut reported = std::collections::BTreeSet::new();
    for (child, parent, from, to, parent_exists, column_exists) in rows {
        let message = if !parent_exists {
            format!("foreign key {child}.{from} references table `{parent}`, which the schema does not declare; declare it or remove the REFERENCES clause")
        } else if !column_exists {
            let to = to.unwrap_or_default();
            format!("foreign key {child}.{from} references column {parent}.{to}, which does not exist; declare it or fix the REFERENCES clause")
        } else {
            continue;
        };
        reported.insert(child.to_ascii_lowercase());
        out.push(schema_error(sql, source_name, at(&child), message));
    }
    // Parent columns that exist but are not a key: foreign_key_check fails on the child table
    // ("foreign key mismatch") even when it is empty.
    let children: Vec<String> = conn
        .prepare("SELECT DISTINCT m.name FROM sqlite_schema m, pragma_foreign_key_list(m.name) f WHERE m.type = 'table' ORDER BY m.rowid")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for child in children {
        if reported.contains(&child.to_ascii_lowercase()) {
            continue;
        }
        let check = format!(
            "PRAGMA foreign_key_check({})",
            crate::sqltext::quote_ident(&child)
        );
        match conn.query_row(&check, [], |_| Ok(())) {
            Ok(()) | Err(rusqlite::Error::QueryReturnedNoRows) => {}
            Err(e) => out.push(schema_error(
                sql,
                source_name,
                at(&child),
                format!(
                    "{}: a foreign key's parent columns must be the parent's PRIMARY KEY or have a UNIQUE index",
                    crate::error::sqlite_message(&e)
                ),
            )),
        }
    }
    Ok(out)
}

/// Parse `-- liteshift:rename-table old=new` and `-- liteshift:rename-column table.old=new`.
pub fn parse_annotations(sql: &str, source_name: &str) -> Result<Hints> {
    let mut hints = Hints::default();
    let mut offset = 0;
    for line in sql.split_inclusive('\n') {
        let trimmed = line.trim_start();
        if let Some(rest) = trimmed.strip_prefix("--") {
            let rest = rest.trim();
            if let Some(directive) = rest.strip_prefix("liteshift:") {
                let col = offset + (line.len() - trimmed.len());
                let directive = directive.trim();
                let (verb, arg) = directive
                    .split_once(char::is_whitespace)
                    .map(|(a, b)| (a, b.trim()))
                    .unwrap_or((directive, ""));
                let res = match verb {
                    "rename-table" => hints.add_table_rename(arg),
                    "rename-column" => hints.add_column_rename(arg),
                    _ => Err(format!(
                        "unknown liteshift annotation `{verb}`; known: rename-table old=new, rename-column table.old=new"
                    )),
                };
                if let Err(m) = res {
                    return Err(schema_error(sql, source_name, col, m));
                }
            }
        }
        offset += line.len();
    }
    Ok(hints)
}

/// One row of `SELECT type, name, tbl_name, sql FROM sqlite_schema` read on another host (a
/// browser's SQLite, say).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CatalogRow {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub tbl_name: String,
    pub sql: Option<String>,
}

/// Rebuild a host's schema from its catalog rows: replay the `CREATE` statements into a
/// pristine in-memory SQLite (tables first, then indexes, views — to a fixed point, since views
/// may use views — and triggers) and introspect it like any database. Internal objects
/// (`sqlite_%`, autoindexes) and tables a virtual table already created (its shadow tables)
/// are skipped. The rows come from a host that has every module its virtual tables use, so
/// a module this SQLite lacks is modelled with a stand-in (see `hostmod`).
pub fn load_catalog(rows: &[CatalogRow]) -> Result<Schema> {
    let conn = Connection::open_in_memory()?;
    let exists = |name: &str| -> Result<bool> {
        Ok(conn.query_row(
            "SELECT count(*) FROM sqlite_schema WHERE name = ?1 COLLATE NOCASE",
            [name],
            |r| r.get::<_, i64>(0),
        )? > 0)
    };
    let run = |r: &CatalogRow| -> Result<()> {
        let sql = r.sql.as_deref().unwrap_or_default();
        crate::hostmod::execute_with_stand_ins(&conn, sql).map_err(|e| Error::Schema {
            source_name: "<catalog>".into(),
            line: 1,
            column: 1,
            message: format!("{} {}: {e}", r.kind, r.name),
        })
    };
    let user: Vec<&CatalogRow> = rows
        .iter()
        .filter(|r| r.sql.is_some() && !r.name.to_ascii_lowercase().starts_with("sqlite_"))
        .collect();
    let of = |k: &str| {
        user.iter()
            .copied()
            .filter(|r| r.kind == k)
            .collect::<Vec<_>>()
    };
    // Virtual tables first, so their shadow tables exist and are skipped below.
    let (virt, plain): (Vec<&CatalogRow>, Vec<&CatalogRow>) = of("table")
        .into_iter()
        .partition(|r| crate::introspect::virtual_module(r.sql.as_deref().unwrap_or("")).is_some());
    for r in virt.into_iter().chain(plain) {
        if !exists(&r.name)? {
            run(r)?;
        }
    }
    for r in of("index") {
        run(r)?;
    }
    let mut pending = of("view");
    while !pending.is_empty() {
        let before = pending.len();
        let mut next = Vec::new();
        let mut last_err = None;
        for r in pending {
            match run(r) {
                Ok(()) => {}
                Err(e) => {
                    last_err = Some(e);
                    next.push(r);
                }
            }
        }
        if next.len() == before {
            return Err(last_err.expect("a failed view"));
        }
        pending = next;
    }
    for r in of("trigger") {
        run(r)?;
    }
    introspect(&conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_replay_equals_the_database_it_came_from() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE a(id INTEGER PRIMARY KEY, x TEXT UNIQUE);
             CREATE VIEW v2 AS SELECT * FROM v1;
             CREATE TABLE late(y);
             CREATE VIEW v1 AS SELECT x FROM a;
             CREATE INDEX ax ON a(x);
             CREATE TRIGGER t AFTER INSERT ON a BEGIN SELECT 1; END;
             CREATE VIRTUAL TABLE f USING fts5(body);",
        )
        .unwrap_or_else(|_| {
            // older SQLite refuses a view over a missing view; create in dependency order
            conn.execute_batch(
                "CREATE VIEW v1 AS SELECT x FROM a; CREATE VIEW v2 AS SELECT * FROM v1;",
            )
            .unwrap();
        });
        let rows: Vec<CatalogRow> = conn
            .prepare("SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY rowid")
            .unwrap()
            .query_map([], |r| {
                Ok(CatalogRow {
                    kind: r.get(0)?,
                    name: r.get(1)?,
                    tbl_name: r.get(2)?,
                    sql: r.get(3)?,
                })
            })
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        let replayed = load_catalog(&rows).unwrap();
        let live = introspect(&conn).unwrap();
        assert_eq!(replayed.fingerprint(), live.fingerprint());
        assert!(replayed.tables.contains_key("f"));
        assert!(!replayed.tables.contains_key("f_data"));
    }
}
