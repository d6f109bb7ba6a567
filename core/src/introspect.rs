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

use sqlite3_parser::ast::{
    Cmd, ColumnConstraint, CreateTableBody, SortOrder, Stmt, TabFlags, TableConstraint,
};
use sqlite3_parser::lexer::sql::Parser;
use sqlite3_parser::{Bump, FallibleIterator};

use crate::error::Result;
use crate::host::{Host, Value};
use crate::model::*;
use crate::share::{not_platform_sql, platform_of};
use crate::sqltext::{ident_key, norm_node, normalize_sql, quote_ident, unquote};
use crate::version::SqliteVersion;

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
    let rows: Vec<CatalogEntry> = host
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
        .collect();
    // Objects a platform owns are not the schema's, and some cannot even be read.
    let rows: Vec<CatalogEntry> = rows
        .into_iter()
        .filter(|(_, name, tbl, ..)| platform_of(name).is_none() && platform_of(tbl).is_none())
        .collect();
    let (leftovers, copies) = online_leftovers(host, &rows)?;
    let left: BTreeSet<String> = leftovers
        .iter()
        .map(|l| l.name.to_ascii_lowercase())
        .chain(std::iter::once(ONLINE_REGISTRY.to_string()))
        .collect();
    let rows: Vec<CatalogEntry> = if leftovers.is_empty() {
        rows
    } else {
        rows.into_iter()
            // An old table left to free keeps its own indexes (renamed away).
            .filter(|(_, name, tbl, ..)| {
                !left.contains(&name.to_ascii_lowercase())
                    && !left.contains(&tbl.to_ascii_lowercase())
            })
            .collect()
    };

    // Virtual tables and their shadow tables.
    let mut virtual_tables: BTreeMap<String, String> = BTreeMap::new();
    for (ty, name, _, sql, _) in &rows {
        if ty == "table" {
            if let Some(module) = sql.as_deref().and_then(virtual_module) {
                virtual_tables.insert(name.to_ascii_lowercase(), module);
            }
        }
    }
    let table_list = table_list(host, version);
    let is_shadow = |name: &str| -> bool {
        let key = name.to_ascii_lowercase();
        if let Some(info) = table_list.get(&key) {
            if info.0 == "shadow" {
                return true;
            }
        }
        // Fallback when the module is not loaded: `<vtab>_<suffix>` of a known module.
        virtual_tables.keys().any(|v| {
            key.strip_prefix(v.as_str())
                .and_then(|rest| rest.strip_prefix('_'))
                .map(|suffix| {
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
                .unwrap_or(false)
        })
    };
    let ordinary: Vec<&str> = rows
        .iter()
        .filter(|(ty, name, _, sql, _)| {
            ty == "table"
                && !name.to_ascii_lowercase().starts_with("sqlite_")
                && sql.as_deref().and_then(virtual_module).is_none()
        })
        .map(|(_, name, ..)| name.as_str())
        .collect();
    let mut columns = read_columns(host, version, &ordinary)?;

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
                if is_shadow(&name) {
                    continue;
                }
                let cols = columns.remove(&key).unwrap_or_default();
                let t = read_table(&name, &sql, seq, cols, table_list.get(&key));
                schema.tables.insert(key, t);
            }
            "index" => {
                if tbl_name.to_ascii_lowercase().starts_with("sqlite_") || is_shadow(&tbl_name) {
                    continue;
                }
                let norm = normalize_sql(&sql);
                let unique = norm.starts_with("create unique");
                schema.indexes.insert(
                    key,
                    Index {
                        name,
                        table: tbl_name,
                        sql,
                        seq,
                        unique,
                        norm,
                    },
                );
            }
            "view" => {
                let norm = normalize_sql(&sql);
                schema.views.insert(
                    key,
                    View {
                        name,
                        sql,
                        seq,
                        norm,
                    },
                );
            }
            "trigger" => {
                let norm = normalize_sql(&sql);
                schema.triggers.insert(
                    key,
                    Trigger {
                        name,
                        table: tbl_name,
                        sql,
                        seq,
                        norm,
                    },
                );
            }
            _ => {}
        }
    }
    Ok(schema)
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

/// Parse a `CREATE TABLE` statement into canonical parts. `None` when the parser cannot.
pub fn parse_table(sql: &str) -> Option<CanonTable> {
    let bump = Bump::new();
    let mut parser = Parser::new(&bump, sql.as_bytes());
    let cmd = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| parser.next()))
        .ok()?
        .ok()??;
    let Cmd::Stmt(Stmt::CreateTable { body, .. }) = cmd else {
        return None;
    };
    let CreateTableBody::ColumnsAndConstraints {
        columns: coldefs,
        constraints,
        flags,
    } = body
    else {
        return None;
    };

    // The declared text of each column definition, for ADD COLUMN (so the stored type is the
    // one written); the parser's rendering only when the text cannot be split.
    let declared_defs = crate::sqltext::column_definitions(sql)
        .filter(|defs| defs.len() == coldefs.len())
        .unwrap_or_default();
    let mut parts = Parts::default();
    for (i, cd) in coldefs.iter().enumerate() {
        parts.column(cd, sql, declared_defs.get(i).copied());
    }
    for nc in constraints.unwrap_or(&[]).iter() {
        parts.table_constraint(nc, sql);
    }
    Some(parts.finish(flags))
}

/// A `CREATE TABLE`'s parts as they are read: column-level constraints lifted to table level.
#[derive(Default)]
struct Parts {
    columns: Vec<CanonColumn>,
    primary_key: Option<PrimaryKey>,
    uniques: BTreeSet<String>,
    checks: Vec<Check>,
    fks: BTreeSet<String>,
    column_sql: BTreeMap<String, String>,
    column_fks: BTreeMap<String, Vec<String>>,
}

impl Parts {
    /// One column definition and its constraints; `declared` is its source text.
    fn column(
        &mut self,
        cd: &sqlite3_parser::ast::ColumnDefinition<'_>,
        sql: &str,
        declared: Option<&str>,
    ) {
        let name = unquote(cd.col_name.0);
        let key = name.to_ascii_lowercase();
        let decl_type = cd
            .col_type
            .as_ref()
            .map(|t| norm_node(t).to_ascii_uppercase())
            .unwrap_or_default();
        let mut col = CanonColumn {
            key: key.clone(),
            name: name.clone(),
            decl_type,
            not_null: None,
            default: None,
            collate: None,
            generated: None,
        };
        let mut last_fk: Option<String> = None;
        let fks_before = self.fks.clone();
        for nc in cd.constraints.iter() {
            self.column_constraint(&mut col, nc, sql, &mut last_fk);
        }
        let text = declared
            .map(str::to_string)
            .unwrap_or_else(|| crate::sqltext::sql_node(cd));
        self.column_sql.insert(key.clone(), text);
        let own: Vec<String> = self.fks.difference(&fks_before).cloned().collect();
        if !own.is_empty() {
            self.column_fks.insert(key.clone(), own);
        }
        self.columns.push(col);
    }

    /// One constraint of column `col`. `last_fk` is the column's foreign key so far (a
    /// following DEFERRABLE clause belongs to it).
    fn column_constraint(
        &mut self,
        col: &mut CanonColumn,
        nc: &sqlite3_parser::ast::NamedColumnConstraint<'_>,
        sql: &str,
        last_fk: &mut Option<String>,
    ) {
        let key = col.key.clone();
        let qkey = key.clone();
        let cname = nc.name.as_ref().map(|n| n.0.to_string());
        match &nc.constraint {
            ColumnConstraint::PrimaryKey {
                order,
                conflict_clause,
                auto_increment,
            } => {
                let col = if matches!(order, Some(SortOrder::Desc)) {
                    format!("{qkey} desc")
                } else {
                    qkey.clone()
                };
                self.primary_key = Some(PrimaryKey {
                    text: key_text(&[col], conflict_clause.as_ref(), *auto_increment),
                    column_level: true,
                });
            }
            ColumnConstraint::NotNull {
                nullable,
                conflict_clause,
            } => {
                if !nullable {
                    col.not_null =
                        Some(conflict_clause.as_ref().map(norm_node).unwrap_or_default());
                }
            }
            ColumnConstraint::Unique(conflict) => {
                let mut t = format!("({qkey})");
                if let Some(c) = conflict {
                    t.push_str(&format!(" on conflict {}", norm_node(c)));
                }
                self.uniques.insert(t);
            }
            ColumnConstraint::Check(expr) => {
                self.checks.push(Check {
                    expr: norm_node(expr),
                    name: cname.as_deref().map(ident_key),
                    sql: check_text(sql, cname.as_deref(), expr),
                    raw_name: cname.clone(),
                    column: Some(key.clone()),
                });
            }
            ColumnConstraint::Default(expr) => col.default = Some(norm_node(expr)),
            ColumnConstraint::Defer(d) => {
                if let Some(fk) = last_fk.take() {
                    self.fks.remove(&fk);
                    let fk2 = format!("{fk} {}", norm_node(d));
                    self.fks.insert(fk2.clone());
                    *last_fk = Some(fk2);
                }
            }
            ColumnConstraint::Collate { collation_name } => {
                col.collate = Some(ident_key(collation_name.0))
            }
            ColumnConstraint::ForeignKey {
                clause,
                defer_clause,
            } => {
                let mut t = format!("({qkey}) references {}", norm_node(clause));
                if let Some(d) = defer_clause {
                    t.push_str(&format!(" {}", norm_node(d)));
                }
                self.fks.insert(t.clone());
                *last_fk = Some(t);
            }
            ColumnConstraint::Generated { expr, typ } => {
                let stored = typ
                    .as_ref()
                    .map(|t| t.0.eq_ignore_ascii_case("stored"))
                    .unwrap_or(false);
                col.generated = Some(format!(
                    "{} {}",
                    norm_node(expr),
                    if stored { "stored" } else { "virtual" }
                ));
            }
        }
    }

    /// One table-level constraint.
    fn table_constraint(&mut self, nc: &sqlite3_parser::ast::NamedTableConstraint<'_>, sql: &str) {
        let cname = nc.name.as_ref().map(|n| n.0.to_string());
        match &nc.constraint {
            TableConstraint::PrimaryKey {
                columns,
                auto_increment,
                conflict_clause,
            } => {
                let cols: Vec<String> = columns.iter().map(sorted_column).collect();
                self.primary_key = Some(PrimaryKey {
                    text: key_text(&cols, conflict_clause.as_ref(), *auto_increment),
                    column_level: false,
                });
            }
            TableConstraint::Unique {
                columns,
                conflict_clause,
            } => {
                let cols: Vec<String> = columns.iter().map(sorted_column).collect();
                let mut t = format!("({})", cols.join(", "));
                if let Some(c) = conflict_clause {
                    t.push_str(&format!(" on conflict {}", norm_node(c)));
                }
                self.uniques.insert(t);
            }
            TableConstraint::Check(expr, conflict) => {
                let mut e = norm_node(expr);
                if let Some(c) = conflict {
                    e.push_str(&format!(" on conflict {}", norm_node(c)));
                }
                self.checks.push(Check {
                    expr: e,
                    name: cname.as_deref().map(ident_key),
                    sql: check_text(sql, cname.as_deref(), expr),
                    raw_name: cname.clone(),
                    column: None,
                });
            }
            TableConstraint::ForeignKey {
                columns,
                clause,
                defer_clause,
            } => {
                let cols: Vec<String> = columns.iter().map(norm_node).collect();
                let mut t = format!("({}) references {}", cols.join(", "), norm_node(clause));
                if let Some(d) = defer_clause {
                    t.push_str(&format!(" {}", norm_node(d)));
                }
                self.fks.insert(t);
            }
        }
    }

    fn finish(mut self, flags: TabFlags) -> CanonTable {
        self.checks.sort();
        let mut options = Vec::new();
        if flags.contains(TabFlags::Strict) {
            options.push("strict");
        }
        if flags.contains(TabFlags::WithoutRowid) {
            options.push("without rowid");
        }
        CanonTable {
            columns: self.columns,
            primary_key: self.primary_key,
            uniques: self.uniques.into_iter().collect(),
            checks: self.checks,
            foreign_keys: self.fks.into_iter().collect(),
            options: options.join(","),
            column_sql: self.column_sql,
            column_fks: self.column_fks,
        }
    }
}

/// A CHECK's expression as SQL: its declared text when it is named (`ADD CONSTRAINT` writes it
/// into the stored schema), the parser's rendering otherwise (used only in reads).
fn check_text(sql: &str, name: Option<&str>, expr: &sqlite3_parser::ast::Expr<'_>) -> String {
    name.and_then(|n| crate::sqltext::named_check_text(sql, &ident_key(n)))
        .map(str::to_string)
        .unwrap_or_else(|| crate::sqltext::sql_node(expr))
}

/// A primary key's normalised text: `(cols) on conflict … autoincrement`.
fn key_text(
    cols: &[String],
    conflict: Option<&sqlite3_parser::ast::ResolveType>,
    autoincrement: bool,
) -> String {
    let mut t = format!("({})", cols.join(", "));
    if let Some(c) = conflict {
        t.push_str(&format!(" on conflict {}", norm_node(c)));
    }
    if autoincrement {
        t.push_str(" autoincrement");
    }
    t
}

fn sorted_column(c: &sqlite3_parser::ast::SortedColumn<'_>) -> String {
    let mut t = norm_node(&c.expr);
    if matches!(c.order, Some(SortOrder::Desc)) {
        t.push_str(" desc");
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_level_and_table_level_constraints_are_equal() {
        let a =
            parse_table("CREATE TABLE t(a INTEGER UNIQUE CHECK (a > 0), b TEXT REFERENCES p(id))")
                .unwrap();
        let b = parse_table(
            "create table T(\"A\" integer, b text, unique(a), check(A>0), foreign key(b) references \"p\"(id))",
        )
        .unwrap();
        assert_eq!(a.uniques, b.uniques);
        assert_eq!(a.checks, b.checks);
        assert_eq!(a.foreign_keys, b.foreign_keys);
        assert_eq!(a.columns[0].decl_type, "INTEGER");
    }

    #[test]
    fn parses_odd_types_and_options() {
        let t = parse_table(
            "CREATE TABLE t(a UNSIGNED BIG INT, b VARCHAR( 10 ), PRIMARY KEY(a) ON CONFLICT REPLACE) WITHOUT ROWID",
        )
        .unwrap();
        assert_eq!(t.columns[0].decl_type, "UNSIGNED BIG INT");
        assert_eq!(t.options, "without rowid");
        assert!(t.primary_key.unwrap().text.contains("replace"));
    }
}
