//! Read a SQLite connection into a [`Schema`]. Both sides of every diff come through here:
//! the live database, and the in-memory database loaded with the declared SQL.
//!
//! PRAGMAs are the source of truth for columns; the `CREATE TABLE` text is parsed with
//! `sqlite3-parser` for what PRAGMAs do not say. When the parser cannot read a table, the
//! table is described by its normalised text instead (see [`TableDef::Text`]).

use std::collections::{BTreeMap, BTreeSet};

use rusqlite::Connection;
use sqlite3_parser::ast::fmt::ToTokens;
use sqlite3_parser::ast::{
    Cmd, ColumnConstraint, CreateTableBody, SortOrder, Stmt, TabFlags, TableConstraint,
};
use sqlite3_parser::lexer::sql::Parser;
use sqlite3_parser::{Bump, FallibleIterator};

use crate::error::Result;
use crate::model::*;
use crate::sqltext::{ident_key, norm_node, normalize_sql, unquote};

/// Introspect the `main` database of `conn`.
pub fn introspect(conn: &Connection) -> Result<Schema> {
    let mut rows: Vec<(String, String, String, Option<String>, i64)> = Vec::new();
    {
        let mut stmt = conn.prepare(
            "SELECT type, name, tbl_name, sql, rowid FROM main.sqlite_schema ORDER BY rowid",
        )?;
        let mut q = stmt.query([])?;
        while let Some(r) = q.next()? {
            rows.push((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?));
        }
    }

    // Virtual tables and their shadow tables.
    let mut virtual_tables: BTreeMap<String, String> = BTreeMap::new();
    for (ty, name, _, sql, _) in &rows {
        if ty == "table" {
            if let Some(module) = sql.as_deref().and_then(virtual_module) {
                virtual_tables.insert(name.to_ascii_lowercase(), module);
            }
        }
    }
    let table_list = table_list(conn);
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

    let mut schema = Schema::default();
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
                let t = read_table(conn, &name, &sql, seq, table_list.get(&key))?;
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

/// `PRAGMA table_list` (SQLite 3.37+): name key -> (type, strict, without rowid).
fn table_list(conn: &Connection) -> BTreeMap<String, (String, bool, bool)> {
    let mut out = BTreeMap::new();
    let Ok(mut stmt) =
        conn.prepare("SELECT name, type, wr, strict FROM pragma_table_list WHERE schema = 'main'")
    else {
        return out;
    };
    let Ok(mut q) = stmt.query([]) else {
        return out;
    };
    while let Ok(Some(r)) = q.next() {
        let name: String = r.get(0).unwrap_or_default();
        let ty: String = r.get(1).unwrap_or_default();
        let wr: bool = r.get(2).unwrap_or(false);
        let strict: bool = r.get(3).unwrap_or(false);
        out.insert(name.to_ascii_lowercase(), (ty, strict, wr));
    }
    out
}

/// The module name of a `CREATE VIRTUAL TABLE` statement, if it is one.
pub(crate) fn virtual_module(sql: &str) -> Option<String> {
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
    conn: &Connection,
    name: &str,
    sql: &str,
    seq: i64,
    info: Option<&(String, bool, bool)>,
) -> Result<Table> {
    if let Some(module) = virtual_module(sql) {
        return Ok(Table {
            name: name.to_string(),
            sql: sql.to_string(),
            seq,
            virtual_module: Some(module),
            columns: Vec::new(),
            without_rowid: false,
            strict: false,
            autoincrement: false,
            def: TableDef::Text(normalize_sql(sql)),
        });
    }
    let mut columns = Vec::new();
    {
        let mut stmt = conn.prepare(
            "SELECT name, type, \"notnull\", dflt_value, pk, hidden FROM pragma_table_xinfo(?1, 'main') ORDER BY cid",
        )?;
        let mut q = stmt.query([name])?;
        while let Some(r) = q.next()? {
            let hidden: i64 = r.get(5)?;
            columns.push(Column {
                name: r.get(0)?,
                decl_type: r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                not_null: r.get::<_, i64>(2)? != 0,
                default: r.get(3)?,
                pk: r.get::<_, i64>(4)? as u32,
                generated: match hidden {
                    2 => Generated::Virtual,
                    3 => Generated::Stored,
                    _ => Generated::No,
                },
            });
        }
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
    Ok(Table {
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
    })
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

    let mut columns = Vec::new();
    let mut primary_key = None;
    let mut uniques = BTreeSet::new();
    let mut checks = Vec::new();
    let mut fks = BTreeSet::new();
    let mut column_sql = BTreeMap::new();
    let mut column_fks = BTreeMap::new();
    // The declared text of each column definition, for ADD COLUMN (so the stored type is the
    // one written); the parser's rendering only when the text cannot be split.
    let declared_defs = crate::sqltext::column_definitions(sql)
        .filter(|defs| defs.len() == coldefs.len())
        .unwrap_or_default();

    for (i, cd) in coldefs.iter().enumerate() {
        let name = unquote(cd.col_name.0);
        let key = name.to_ascii_lowercase();
        let qkey = key.clone();
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
        let fks_before = fks.clone();
        for nc in cd.constraints.iter() {
            let cname = nc.name.as_ref().map(|n| n.0.to_string());
            match &nc.constraint {
                ColumnConstraint::PrimaryKey {
                    order,
                    conflict_clause,
                    auto_increment,
                } => {
                    let mut t = format!("({qkey}");
                    if matches!(order, Some(SortOrder::Desc)) {
                        t.push_str(" desc");
                    }
                    t.push(')');
                    if let Some(c) = conflict_clause {
                        t.push_str(&format!(" on conflict {}", norm_node(c)));
                    }
                    if *auto_increment {
                        t.push_str(" autoincrement");
                    }
                    primary_key = Some(PrimaryKey {
                        text: t,
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
                    uniques.insert(t);
                }
                ColumnConstraint::Check(expr) => {
                    checks.push(Check {
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
                        fks.remove(&fk);
                        let fk2 = format!("{fk} {}", norm_node(d));
                        fks.insert(fk2.clone());
                        last_fk = Some(fk2);
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
                    fks.insert(t.clone());
                    last_fk = Some(t);
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
        let text = declared_defs
            .get(i)
            .map(|d| d.to_string())
            .unwrap_or_else(|| Sql(cd).to_string());
        column_sql.insert(key.clone(), text);
        let own: Vec<String> = fks.difference(&fks_before).cloned().collect();
        if !own.is_empty() {
            column_fks.insert(key.clone(), own);
        }
        columns.push(col);
    }

    for nc in constraints.unwrap_or(&[]).iter() {
        let cname = nc.name.as_ref().map(|n| n.0.to_string());
        match &nc.constraint {
            TableConstraint::PrimaryKey {
                columns,
                auto_increment,
                conflict_clause,
            } => {
                let cols: Vec<String> = columns.iter().map(sorted_column).collect();
                let mut t = format!("({})", cols.join(", "));
                if let Some(c) = conflict_clause {
                    t.push_str(&format!(" on conflict {}", norm_node(c)));
                }
                if *auto_increment {
                    t.push_str(" autoincrement");
                }
                primary_key = Some(PrimaryKey {
                    text: t,
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
                uniques.insert(t);
            }
            TableConstraint::Check(expr, conflict) => {
                let mut e = norm_node(expr);
                if let Some(c) = conflict {
                    e.push_str(&format!(" on conflict {}", norm_node(c)));
                }
                checks.push(Check {
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
                fks.insert(t);
            }
        }
    }
    checks.sort();
    let mut options = Vec::new();
    if flags.contains(TabFlags::Strict) {
        options.push("strict");
    }
    if flags.contains(TabFlags::WithoutRowid) {
        options.push("without rowid");
    }
    Some(CanonTable {
        columns,
        primary_key,
        uniques: uniques.into_iter().collect(),
        checks,
        foreign_keys: fks.into_iter().collect(),
        options: options.join(","),
        column_sql,
        column_fks,
    })
}

/// A CHECK's expression as SQL: its declared text when it is named (`ADD CONSTRAINT` writes it
/// into the stored schema), the parser's rendering otherwise (used only in reads).
fn check_text(sql: &str, name: Option<&str>, expr: &sqlite3_parser::ast::Expr<'_>) -> String {
    name.and_then(|n| crate::sqltext::named_check_text(sql, &ident_key(n)))
        .map(str::to_string)
        .unwrap_or_else(|| expr.to_string())
}

/// Display an AST node as SQL.
struct Sql<'a, T: ToTokens>(&'a T);
impl<T: ToTokens> std::fmt::Display for Sql<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.to_fmt(f)
    }
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
