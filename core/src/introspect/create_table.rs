//! The pure `CREATE TABLE` parser: a table's declared text into its canonical parts
//! ([`CanonTable`]), by `sqlite3-parser`'s AST. It owns the rules that make two definitions
//! equal when SQLite gives them one meaning: column-level PRIMARY KEY, UNIQUE, CHECK and
//! REFERENCES lifted to table level (`a INT UNIQUE` is `a INT, UNIQUE(a)`), identifiers and
//! keywords normalised, types upper-cased, CHECKs, UNIQUEs and foreign keys sorted; and the
//! declared text each column and named CHECK keeps for `ADD COLUMN`/`ADD CONSTRAINT`.
//!
//! It must never reach SQLite, a host or a `Schema`: it reads one statement's text and
//! nothing else, and says `None` when the parser cannot read it (the caller then compares
//! the table by its normalised text). What a column *is* (its affinity, hidden or generated
//! kind, primary-key position) is PRAGMA's to say, never this module's.

use std::collections::{BTreeMap, BTreeSet};

use sqlite3_parser::ast::{
    Cmd, ColumnConstraint, CreateTableBody, SortOrder, Stmt, TabFlags, TableConstraint,
};
use sqlite3_parser::lexer::sql::Parser;
use sqlite3_parser::{Bump, FallibleIterator};

use crate::model::{CanonColumn, CanonTable, Check, PrimaryKey};
use crate::sqltext::{ident_key, norm_node, unquote};

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
        let key = &col.key;
        match &nc.constraint {
            ColumnConstraint::PrimaryKey {
                order,
                conflict_clause,
                auto_increment,
            } => {
                let col = if matches!(order, Some(SortOrder::Desc)) {
                    format!("{key} desc")
                } else {
                    key.clone()
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
                let mut t = format!("({key})");
                if let Some(c) = conflict {
                    t.push_str(&format!(" on conflict {}", norm_node(c)));
                }
                self.uniques.insert(t);
            }
            ColumnConstraint::Check(expr) => {
                let cname = nc.name.as_ref().map(|n| n.0.to_string());
                self.checks.push(Check {
                    expr: norm_node(expr),
                    name: cname.as_deref().map(ident_key),
                    sql: check_text(sql, cname.as_deref(), expr),
                    raw_name: cname.clone(),
                    column: Some(key.clone()),
                });
            }
            ColumnConstraint::Default(expr) => col.default = Some(norm_node(expr)),
            ColumnConstraint::Defer(d) => self.defer_column_fk(d, last_fk),
            ColumnConstraint::Collate { collation_name } => {
                col.collate = Some(ident_key(collation_name.0))
            }
            ColumnConstraint::ForeignKey {
                clause,
                defer_clause,
            } => {
                let mut t = format!("({key}) references {}", norm_node(clause));
                if let Some(d) = defer_clause {
                    t.push_str(&format!(" {}", norm_node(d)));
                }
                self.fks.insert(t.clone());
                *last_fk = Some(t);
            }
            ColumnConstraint::Generated { expr, typ } => {
                col.generated = Some(generated_text(expr, typ.as_ref()));
            }
        }
    }

    /// A DEFERRABLE clause after a column's REFERENCES: it belongs to that foreign key
    /// (`last_fk`), whose text takes it; without one, it says nothing.
    fn defer_column_fk(
        &mut self,
        defer: &sqlite3_parser::ast::DeferSubclause,
        last_fk: &mut Option<String>,
    ) {
        if let Some(fk) = last_fk.take() {
            self.fks.remove(&fk);
            let fk2 = format!("{fk} {}", norm_node(defer));
            self.fks.insert(fk2.clone());
            *last_fk = Some(fk2);
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

/// A generated column's normalised expression and kind: `stored`, or `virtual` (the default).
fn generated_text(
    expr: &sqlite3_parser::ast::Expr<'_>,
    typ: Option<&sqlite3_parser::ast::Id<'_>>,
) -> String {
    let stored = typ.is_some_and(|t| t.0.eq_ignore_ascii_case("stored"));
    format!(
        "{} {}",
        norm_node(expr),
        if stored { "stored" } else { "virtual" }
    )
}

/// An indexed column's normalised text, with ` desc` when it is descending.
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

    /// Every kind of column and table constraint, in one table: the canonical parts as the
    /// diff compares them, and the declared text kept for `ADD COLUMN`.
    #[test]
    fn canonical_parts_of_every_constraint() {
        let t = parse_table(
            "CREATE TABLE \"Orders\"(\n\
             \x20 id INTEGER PRIMARY KEY DESC ON CONFLICT ABORT AUTOINCREMENT,\n\
             \x20 \"Customer\" integer NOT NULL ON CONFLICT FAIL REFERENCES customers(id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,\n\
             \x20 note text COLLATE nocase DEFAULT ('none') UNIQUE ON CONFLICT IGNORE,\n\
             \x20 total real CONSTRAINT positive CHECK (total >= 0) NULL,\n\
             \x20 doubled real GENERATED ALWAYS AS (total * 2) STORED,\n\
             \x20 halved real AS (total / 2),\n\
             \x20 UNIQUE (note, total DESC),\n\
             \x20 CONSTRAINT small CHECK(total < 1000) ON CONFLICT ROLLBACK,\n\
             \x20 FOREIGN KEY (note) REFERENCES notes(text) NOT DEFERRABLE\n\
             ) STRICT",
        )
        .unwrap();
        insta::assert_debug_snapshot!(t);
    }

    /// A table-level PRIMARY KEY is not column-level, and keeps its columns' order and
    /// direction; table options are sorted and comma-separated.
    #[test]
    fn table_level_primary_key_and_both_options() {
        let t = parse_table(
            "CREATE TABLE t(a TEXT, b INT, PRIMARY KEY (b DESC, a)) STRICT, WITHOUT ROWID",
        )
        .unwrap();
        let pk = t.primary_key.unwrap();
        assert_eq!(pk.text, "(b desc, a)");
        assert!(!pk.column_level);
        assert_eq!(t.options, "strict,without rowid");
    }

    /// CHECKs are sorted by expression and name, whatever order they are declared in; a named
    /// CHECK keeps its declared text (`ADD CONSTRAINT` writes it), an unnamed one the parser's.
    #[test]
    fn checks_sorted_and_their_text() {
        let t = parse_table(
            "CREATE TABLE t(b INT CHECK (b  >  1), a INT, CONSTRAINT \"Named\" CHECK ( a<>0 ))",
        )
        .unwrap();
        let checks: Vec<_> = t
            .checks
            .iter()
            .map(|c| {
                (
                    c.expr.as_str(),
                    c.name.as_deref(),
                    c.sql.as_str(),
                    c.column.as_deref(),
                )
            })
            .collect();
        insta::assert_debug_snapshot!(checks);
    }

    /// A DEFERRABLE clause after a column's REFERENCES belongs to that foreign key; the
    /// foreign keys declared on a column are listed under it for `ADD COLUMN`.
    #[test]
    fn deferrable_joins_the_column_foreign_key() {
        let t = parse_table(
            "CREATE TABLE t(a INT REFERENCES p(id) DEFERRABLE INITIALLY DEFERRED, b INT DEFERRABLE)",
        )
        .unwrap();
        assert_eq!(
            t.foreign_keys,
            ["(a) references p ( id ) deferrable initially deferred"]
        );
        assert_eq!(t.column_fks["a"], t.foreign_keys);
        assert!(!t.column_fks.contains_key("b"));
        let u = parse_table(
            "CREATE TABLE t(a INT, b INT, FOREIGN KEY(a) REFERENCES p(id) DEFERRABLE INITIALLY DEFERRED)",
        )
        .unwrap();
        assert_eq!(u.foreign_keys, t.foreign_keys);
        assert!(u.column_fks.is_empty(), "a table-level key is no column's");
    }

    /// Each column's definition as declared (comments and spacing as written), so an
    /// `ADD COLUMN` stores the type the user wrote.
    #[test]
    fn column_sql_is_the_declared_text() {
        let t = parse_table(
            "CREATE TABLE t(\n  id integer primary key, -- the key\n  \"Name\" varchar( 20 ) /* kept */ not null\n)",
        )
        .unwrap();
        insta::assert_debug_snapshot!(t.column_sql);
    }

    /// Generated columns: the expression normalised, with `stored` or (by default) `virtual`.
    #[test]
    fn generated_columns_say_their_kind() {
        let t = parse_table(
            "CREATE TABLE t(a INT, b INT AS (A+1), c INT GENERATED ALWAYS AS (a * 2) VIRTUAL, d INT AS (a) stored)",
        )
        .unwrap();
        let generated: Vec<_> = t.columns.iter().map(|c| c.generated.as_deref()).collect();
        assert_eq!(
            generated,
            [
                None,
                Some("a + 1 virtual"),
                Some("a * 2 virtual"),
                Some("a stored")
            ]
        );
    }

    /// What is not a `CREATE TABLE … (columns)` is not read: the caller compares its text.
    #[test]
    fn none_when_not_a_column_list() {
        for sql in [
            "CREATE TABLE t AS SELECT 1 AS a",
            "CREATE VIEW v AS SELECT 1",
            "CREATE VIRTUAL TABLE f USING fts5(a)",
            "CREATE TABLE t(a INT",
            "",
            "not sql at all",
        ] {
            assert_eq!(parse_table(sql), None, "{sql}");
        }
    }
}
