//! Read a host's database into a [`Schema`]. Both sides of every diff come through here:
//! the live database, and the scratch database loaded with the declared SQL.
//!
//! PRAGMAs are the source of truth for columns; the `CREATE TABLE` text is parsed with
//! `sqlite3-parser` for what PRAGMAs do not say. When the parser cannot read a table, the
//! table is described by its normalised text instead (see [`TableDef::Text`]).
//!
//! Architecture invariant: the number of queries does not grow with the number of tables
//! where the host's SQLite has table-valued pragma functions (3.16): one over the catalog, one
//! over every table's columns, one for `table_list` (3.37). A host call may cross into JS,
//! Python or the JVM. Older SQLites get one `PRAGMA table_info` per table, and `table_info`
//! stands in for `table_xinfo` before 3.26 (there are no generated columns then).

use std::collections::{BTreeMap, BTreeSet};

use crate::error::Result;
use crate::host::{Host, Value};
use crate::model::*;
use crate::share::{not_platform_sql, platform_of};
use crate::sqltext::{normalize_sql, quote_ident, unquote};
use crate::version::SqliteVersion;

mod create_table;

pub use create_table::parse_table;

/// The SQLite version of a host: `sqlite_version()`, or where the host refuses it (D1,
/// Durable Objects) the release of the newest feature it compiles (see
/// [`crate::probe::version_by_features`]).
pub fn host_version(host: &dyn Host) -> Result<SqliteVersion> {
    Ok(crate::probe::version(host)?.0)
}

/// Introspect the `main` database of `host`.
pub fn introspect(host: &dyn Host) -> Result<Schema> {
    let version = host_version(host)?;
    introspect_at(host, version)
}

/// One row of the catalog: type, name, tbl_name, sql, rowid.
type CatalogEntry = (String, String, String, Option<String>, i64);

/// Introspect the `main` database of `host`, whose SQLite is `version`.
pub fn introspect_at(host: &dyn Host, version: SqliteVersion) -> Result<Schema> {
    let rows = catalog(host)?;
    let (leftovers, copies) = online_leftovers(host, &rows)?;
    let rows = without_leftovers(rows, &leftovers);
    let table_list = table_list(host, version);
    let shadows = Shadows::of(&rows, &table_list);
    let mut columns = read_columns(host, version, &ordinary_tables(&rows))?;

    let mut schema = Schema {
        leftovers,
        copies,
        ..Schema::default()
    };
    for (ty, name, tbl_name, sql, seq) in rows {
        let key = name.to_ascii_lowercase();
        if key.starts_with("sqlite_") {
            continue;
        }
        let Some(sql) = sql else { continue }; // autoindexes
        match ty.as_str() {
            "table" => {
                if shadows.contains(&name) {
                    continue;
                }
                let cols = columns.remove(&key).unwrap_or_default();
                let t = read_table(&name, &sql, seq, cols, table_list.get(&key));
                schema.tables.insert(key, t);
            }
            "index" => {
                if tbl_name.to_ascii_lowercase().starts_with("sqlite_")
                    || shadows.contains(&tbl_name)
                {
                    continue;
                }
                schema.indexes.insert(key, index(name, tbl_name, sql, seq));
            }
            "view" => {
                let norm = normalize_sql(&sql);
                let view = View {
                    name,
                    sql,
                    seq,
                    norm,
                };
                schema.views.insert(key, view);
            }
            "trigger" => {
                let norm = normalize_sql(&sql);
                let trigger = Trigger {
                    name,
                    table: tbl_name,
                    sql,
                    seq,
                    norm,
                };
                schema.triggers.insert(key, trigger);
            }
            _ => {}
        }
    }
    Ok(schema)
}

/// The catalog's rows in rowid order, less the objects a platform owns (they are not the
/// schema's, and some cannot even be read).
fn catalog(host: &dyn Host) -> Result<Vec<CatalogEntry>> {
    Ok(host
        .query("SELECT type, name, tbl_name, sql, rowid FROM main.sqlite_master ORDER BY rowid")?
        .into_iter()
        .map(|r| {
            let text = |i: usize| r.get(i).and_then(Value::text);
            (
                text(0).unwrap_or_default(),
                text(1).unwrap_or_default(),
                text(2).unwrap_or_default(),
                text(3),
                r.get(4).and_then(Value::int).unwrap_or(0),
            )
        })
        .filter(|(_, name, tbl, ..)| platform_of(name).is_none() && platform_of(tbl).is_none())
        .collect())
}

/// The catalog less what an interrupted online rebuild left, and its registry. An old table
/// left to free keeps its own indexes (renamed away): they go with it.
fn without_leftovers(rows: Vec<CatalogEntry>, leftovers: &[Leftover]) -> Vec<CatalogEntry> {
    if leftovers.is_empty() {
        return rows;
    }
    let left: BTreeSet<String> = leftovers
        .iter()
        .map(|l| l.name.to_ascii_lowercase())
        .chain(std::iter::once(ONLINE_REGISTRY.to_string()))
        .collect();
    rows.into_iter()
        .filter(|(_, name, tbl, ..)| {
            !left.contains(&name.to_ascii_lowercase()) && !left.contains(&tbl.to_ascii_lowercase())
        })
        .collect()
}

/// The tables whose columns PRAGMA describes: neither SQLite's own nor virtual.
fn ordinary_tables(rows: &[CatalogEntry]) -> Vec<&str> {
    rows.iter()
        .filter(|(ty, name, _, sql, _)| {
            ty == "table"
                && !name.to_ascii_lowercase().starts_with("sqlite_")
                && sql.as_deref().and_then(virtual_module).is_none()
        })
        .map(|(_, name, ..)| name.as_str())
        .collect()
}

/// An index from its catalog row.
fn index(name: String, table: String, sql: String, seq: i64) -> Index {
    let norm = normalize_sql(&sql);
    let unique = norm.starts_with("create unique");
    Index {
        name,
        table,
        sql,
        seq,
        unique,
        norm,
    }
}

/// The shadow tables of the virtual tables (`fts5`'s `_content`, `rtree`'s `_node`, …): a
/// virtual table's module owns them, so they are not the schema's.
struct Shadows<'a> {
    /// `PRAGMA table_list`, which says `shadow` where the module is loaded (3.37+).
    table_list: &'a BTreeMap<String, (String, bool, bool)>,
    /// The name keys of the virtual tables.
    virtual_tables: BTreeSet<String>,
}

impl<'a> Shadows<'a> {
    fn of(rows: &[CatalogEntry], table_list: &'a BTreeMap<String, (String, bool, bool)>) -> Self {
        let virtual_tables = rows
            .iter()
            .filter(|(ty, _, _, sql, _)| {
                ty == "table" && sql.as_deref().and_then(virtual_module).is_some()
            })
            .map(|(_, name, ..)| name.to_ascii_lowercase())
            .collect();
        Shadows {
            table_list,
            virtual_tables,
        }
    }

    /// Whether the table `name` is a shadow table: so says `table_list`, or, when the module
    /// is not loaded, it is `<vtab>_<suffix>` of a known module's suffix.
    fn contains(&self, name: &str) -> bool {
        let key = name.to_ascii_lowercase();
        if self
            .table_list
            .get(&key)
            .is_some_and(|info| info.0 == "shadow")
        {
            return true;
        }
        self.virtual_tables.iter().any(|v| {
            key.strip_prefix(v.as_str())
                .and_then(|rest| rest.strip_prefix('_'))
                .is_some_and(|suffix| {
                    matches!(
                        suffix,
                        "content"
                            | "data"
                            | "idx"
                            | "docsize"
                            | "config"
                            | "segments"
                            | "segdir"
                            | "stat"
                            | "node"
                            | "parent"
                            | "rowid"
                    )
                })
        })
    }
}

/// The objects an interrupted online rebuild left, from its registry (when the catalog has
/// one): each named object that still exists, with its text, and the registry itself; and
/// the progress of its copies (the registry's `copy` rows, in a registry that has the
/// columns for them).
fn online_leftovers(
    host: &dyn Host,
    rows: &[CatalogEntry],
) -> Result<(Vec<Leftover>, Vec<CopyProgress>)> {
    let find = |kind: &str, name: &str| {
        rows.iter()
            .find(|(ty, n, ..)| ty == kind && n.eq_ignore_ascii_case(name))
    };
    let Some(registry) = find("table", ONLINE_REGISTRY) else {
        return Ok((Vec::new(), Vec::new()));
    };
    let registry_sql = registry.3.clone();
    let registered = host.query(&format!(
        "SELECT * FROM main.{}",
        quote_ident(ONLINE_REGISTRY)
    ))?;
    let mut out = Vec::new();
    let mut copies = Vec::new();
    for r in &registered {
        let (Some(kind), Some(name)) = (
            r.first().and_then(Value::text),
            r.get(1).and_then(Value::text),
        ) else {
            continue;
        };
        if kind == "copy" {
            let int = |i: usize| r.get(i).and_then(Value::int);
            copies.push(CopyProgress {
                shadow: name,
                range: int(2).zip(int(3)),
                copied: int(4),
            });
        } else if let Some(found) = find(&kind, &name) {
            out.push(Leftover {
                kind,
                name,
                sql: found.3.clone(),
            });
        }
    }
    out.push(Leftover {
        kind: "table".into(),
        name: ONLINE_REGISTRY.into(),
        sql: registry_sql,
    });
    Ok((out, copies))
}

/// `PRAGMA table_list` (SQLite 3.37+): name key -> (type, strict, without rowid). Empty before.
fn table_list(host: &dyn Host, version: SqliteVersion) -> BTreeMap<String, (String, bool, bool)> {
    let mut out = BTreeMap::new();
    if version < SqliteVersion(3, 37, 0) {
        return out;
    }
    let Ok(rows) =
        host.query("SELECT name, type, wr, strict FROM pragma_table_list WHERE schema = 'main'")
    else {
        return out;
    };
    for r in rows {
        let text = |i: usize| r.get(i).and_then(Value::text).unwrap_or_default();
        let truth = |i: usize| r.get(i).is_some_and(Value::truth);
        out.insert(text(0).to_ascii_lowercase(), (text(1), truth(3), truth(2)));
    }
    out
}

/// The columns of every table in `tables` (name key -> columns in order), in one query where
/// the host's SQLite has table-valued pragma functions, one per table otherwise (or when that
/// query fails, say for a table SQLite cannot describe).
fn read_columns(
    host: &dyn Host,
    version: SqliteVersion,
    tables: &[&str],
) -> Result<BTreeMap<String, Vec<Column>>> {
    let mut out: BTreeMap<String, Vec<Column>> = BTreeMap::new();
    if tables.is_empty() {
        return Ok(out);
    }
    let xinfo = version >= SqliteVersion(3, 26, 0);
    let (pragma, hidden) = if xinfo {
        ("table_xinfo", "c.hidden")
    } else {
        ("table_info", "0")
    };
    if version >= SqliteVersion(3, 16, 0) {
        let sql = format!(
            "SELECT m.name, c.name, c.type, c.\"notnull\", c.dflt_value, c.pk, {hidden} \
             FROM main.sqlite_master m, pragma_{pragma}(m.name, 'main') c \
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\' \
             AND {} AND m.sql NOT LIKE 'CREATE VIRTUAL%' ORDER BY m.rowid, c.cid",
            not_platform_sql("m.name")
        );
        if let Ok(rows) = host.query(&sql) {
            for r in rows {
                let table = r.first().and_then(Value::text).unwrap_or_default();
                out.entry(table.to_ascii_lowercase())
                    .or_default()
                    .push(column(&r[1..]));
            }
            return Ok(out);
        }
    }
    for table in tables {
        let rows = host.query(&format!("PRAGMA main.{pragma}({})", quote_ident(table)))?;
        // cid, name, type, notnull, dflt_value, pk[, hidden]
        let cols = rows
            .iter()
            .map(|r| {
                let mut r = r[1..].to_vec();
                if !xinfo {
                    r.push(Value::Integer(0));
                }
                column(&r)
            })
            .collect();
        out.insert(table.to_ascii_lowercase(), cols);
    }
    Ok(out)
}

/// A column from name, type, notnull, dflt_value, pk, hidden.
fn column(r: &[Value]) -> Column {
    let get = |i: usize| r.get(i).cloned().unwrap_or(Value::Null);
    Column {
        name: get(0).text().unwrap_or_default(),
        decl_type: get(1).text().unwrap_or_default(),
        not_null: get(2).truth(),
        default: get(3).text(),
        pk: get(4).int().unwrap_or(0).max(0) as u32,
        generated: match get(5).int() {
            Some(2) => Generated::Virtual,
            Some(3) => Generated::Stored,
            _ => Generated::No,
        },
    }
}

/// The module name of a `CREATE VIRTUAL TABLE` statement, if it is one.
pub(crate) fn virtual_module(sql: &str) -> Option<String> {
    // Most tables are not virtual: a byte scan for the word rules them out before tokenizing.
    if !sql
        .as_bytes()
        .windows(7)
        .any(|w| w.eq_ignore_ascii_case(b"virtual"))
    {
        return None;
    }
    let toks = crate::sqltext::tokens(sql)?;
    let words: Vec<String> = toks
        .iter()
        .take(3)
        .map(|(_, r)| sql[r.clone()].to_ascii_lowercase())
        .collect();
    if words.len() < 2 || words[0] != "create" || words[1] != "virtual" {
        return None;
    }
    let pos = toks
        .iter()
        .position(|(_, r)| sql[r.clone()].eq_ignore_ascii_case("using"))?;
    toks.get(pos + 1)
        .map(|(_, r)| unquote(&sql[r.clone()]).to_ascii_lowercase())
}

fn read_table(
    name: &str,
    sql: &str,
    seq: i64,
    columns: Vec<Column>,
    info: Option<&(String, bool, bool)>,
) -> Table {
    if let Some(module) = virtual_module(sql) {
        return Table {
            name: name.to_string(),
            sql: sql.to_string(),
            seq,
            virtual_module: Some(module),
            columns: Vec::new(),
            without_rowid: false,
            strict: false,
            autoincrement: false,
            def: TableDef::Text(normalize_sql(sql)),
        };
    }
    let parsed = parse_table(sql);
    let (strict, without_rowid) = match (info, &parsed) {
        (Some(i), _) => (i.1, i.2),
        (None, Some(p)) => (
            p.options.contains("strict"),
            p.options.contains("without rowid"),
        ),
        (None, None) => (false, false),
    };
    let autoincrement = match &parsed {
        Some(p) => p
            .primary_key
            .as_ref()
            .map(|pk| pk.text.contains("autoincrement"))
            .unwrap_or(false),
        None => normalize_sql(sql).contains(" autoincrement"),
    };
    Table {
        name: name.to_string(),
        sql: sql.to_string(),
        seq,
        virtual_module: None,
        columns,
        without_rowid,
        strict,
        autoincrement,
        def: match parsed {
            Some(p) => TableDef::Parsed(p),
            None => TableDef::Text(normalize_sql(sql)),
        },
    }
}
