//! What is checked before any step runs: `PRAGMA quick_check` of each table whose rows are
//! rewritten, and queries that find existing rows violating a constraint the target adds
//! (NOT NULL, INTEGER PRIMARY KEY, CHECK, UNIQUE). They only read.

use std::collections::{BTreeMap, BTreeSet};

use super::rebuild::rowid_name;
use super::*;
use crate::diff::TableAlter;
use crate::sqltext::quote_ident as q;

pub(super) fn health_check(table: &str, caps: Capabilities) -> HealthCheck {
    let sql = if caps.version >= SqliteVersion(3, 33, 0) {
        format!("PRAGMA quick_check({})", q(table))
    } else {
        "PRAGMA quick_check".to_string()
    };
    HealthCheck {
        table: table.to_string(),
        sql,
    }
}

/// Checks of existing rows against the constraints the target adds to an altered table.
/// They read the current table as it is before any step runs.
pub(super) fn data_checks(a: &TableAlter, c: &Table, t: &Table) -> Vec<DataCheck> {
    if c.is_virtual() || t.is_virtual() {
        return Vec::new();
    }
    let rows = Rows::of(a, c, t);
    let mut out = not_null_checks(&rows, c, t);
    out.extend(integer_key_check(&rows, c, t));
    out.extend(check_checks(&rows, a, t));
    out.extend(unique_checks(&rows, a, c, t));
    let deferred = !has_conflict_clause(t);
    for check in &mut out {
        check.deferred = deferred;
    }
    out
}

/// Whether the table states an `ON CONFLICT` clause (`NOT NULL ON CONFLICT REPLACE`, `UNIQUE
/// ON CONFLICT IGNORE`…): then writing a violating row can succeed by replacing or skipping
/// rows, and the checks must run before any step. Any `CONFLICT` token counts (a column of
/// that name only costs the early checks).
fn has_conflict_clause(t: &Table) -> bool {
    match crate::sqltext::tokens(&t.sql) {
        Some(toks) => toks
            .iter()
            .any(|(_, r)| t.sql[r.clone()].eq_ignore_ascii_case("conflict")),
        None => true,
    }
}

/// The current table's rows in the target's shape (target column names): the `FROM` of every
/// data check.
struct Rows {
    /// `(SELECT … FROM "current") AS "target"`.
    from: String,
    /// The rowid's name in the current table, when it has one.
    rid: Option<&'static str>,
    /// Target column key -> the current column that feeds it (`None`: a new column).
    src_of: BTreeMap<String, Option<String>>,
    /// Target column keys that take a declared value (every constraint on them is checked).
    valued: BTreeSet<String>,
}

impl Rows {
    /// Whether `expr` (normalised) names a column that takes a declared value.
    fn mentions_valued(&self, expr: &str) -> bool {
        expr.split(|c: char| !c.is_alphanumeric() && c != '_')
            .any(|tok| self.valued.contains(tok))
    }
}

impl Rows {
    fn of(a: &TableAlter, c: &Table, t: &Table) -> Rows {
        let mut proj = Vec::new();
        let rid = if c.has_rowid() { rowid_name(c) } else { None };
        if let Some(r) = rid {
            proj.push(format!("{r} AS \"__liteshift_rowid\""));
        }
        let mut src_of: BTreeMap<String, Option<String>> = BTreeMap::new();
        let mut valued = BTreeSet::new();
        for tc in &t.columns {
            if tc.generated != Generated::No {
                continue;
            }
            let key = tc.key();
            let src = if let Some((o, _)) = a.column_renames.iter().find(|(_, n)| *n == key) {
                c.column(o).map(|x| x.name.clone())
            } else if a.added_columns.contains(&key) {
                None
            } else {
                c.column(&key).map(|x| x.name.clone())
            };
            let value = a.values.get(&key).map(|v| format!("({})", v.expr));
            if value.is_some() {
                valued.insert(key.clone());
            }
            let expr = match (&value, &src) {
                (Some(v), _) => v.clone(),
                (None, Some(s)) => q(s),
                (None, None) => tc
                    .default
                    .as_deref()
                    .map_or_else(|| "NULL".into(), crate::sqltext::default_as_value),
            };
            proj.push(format!("{expr} AS {}", q(&tc.name)));
            src_of.insert(key, src);
        }
        let from = format!(
            "(SELECT {} FROM {}) AS {}",
            proj.join(", "),
            q(&c.name),
            q(&t.name)
        );
        Rows {
            from,
            rid,
            src_of,
            valued,
        }
    }

    /// An `example` expression naming an offending row: its rowid and `cols`' values.
    fn label(&self, cols: &[String]) -> String {
        let mut parts: Vec<String> = Vec::new();
        if self.rid.is_some() {
            parts.push("'rowid ' || \"__liteshift_rowid\"".into());
        }
        for col in cols {
            parts.push(format!(
                "'{}=' || quote({})",
                col.replace('\'', "''"),
                q(col)
            ));
        }
        if parts.is_empty() {
            "'row'".into()
        } else {
            parts.join(" || ', ' || ")
        }
    }
}

/// NOT NULL on columns that could hold NULL before.
fn not_null_checks(rows: &Rows, c: &Table, t: &Table) -> Vec<DataCheck> {
    let Rows { from, src_of, .. } = rows;
    let mut out = Vec::new();
    // NOT NULL.
    for tc in &t.columns {
        if !tc.not_null || tc.generated != Generated::No {
            continue;
        }
        let key = tc.key();
        let was_nn = src_of
            .get(&key)
            .cloned()
            .flatten()
            .and_then(|s| c.column(&s.to_ascii_lowercase()).map(|x| x.not_null))
            .unwrap_or(false);
        // A new column with a non-NULL default cannot hold NULL.
        let filled = src_of.get(&key).is_some_and(|s| s.is_none())
            && !crate::sqltext::default_is_null(tc.default.as_deref());
        if (was_nn || filled) && !rows.valued.contains(&key) {
            continue;
        }
        out.push(DataCheck {
            constraint: "NOT NULL".into(),
            table: t.name.clone(),
            deferred: false,
            column: Some(tc.name.clone()),
            sql: format!(
                "SELECT {} AS example FROM {from} WHERE {} IS NULL",
                rows.label(&[]),
                q(&tc.name)
            ),
        });
    }
    out
}

/// A column that becomes the rowid (INTEGER PRIMARY KEY) must hold integers: SQLite fails the
/// copy with "datatype mismatch" otherwise.
fn integer_key_check(rows: &Rows, c: &Table, t: &Table) -> Option<DataCheck> {
    let Rows { from, src_of, .. } = rows;
    if let Some(alias) = t.rowid_alias() {
        let src = src_of.get(&alias.key()).cloned().flatten();
        let already = src
            .as_ref()
            .and_then(|s| c.rowid_alias().map(|ca| ca.name.eq_ignore_ascii_case(s)))
            .unwrap_or(false);
        if (src.is_some() && !already) || rows.valued.contains(&alias.key()) {
            let x = q(&alias.name);
            return Some(DataCheck {
                constraint: "INTEGER PRIMARY KEY (values must be integers)".into(),
                table: t.name.clone(),
                deferred: false,
                column: Some(alias.name.clone()),
                sql: format!(
                    "SELECT {} AS example FROM {from} WHERE {x} IS NOT NULL AND NOT (typeof({x}) = 'integer' OR (typeof({x}) = 'real' AND {x} = CAST({x} AS INTEGER)) OR (typeof({x}) = 'text' AND CAST(CAST({x} AS INTEGER) AS TEXT) = trim({x})))",
                    rows.label(std::slice::from_ref(&alias.name))
                ),
            });
        }
    }
    None
}

/// CHECK constraints that are new (after renames).
fn check_checks(rows: &Rows, a: &TableAlter, t: &Table) -> Vec<DataCheck> {
    let from = &rows.from;
    let mut out = Vec::new();
    // New CHECKs, and kept ones over a column that takes a declared value.
    let kept_over_values = t
        .canon()
        .map(|tc| tc.checks.as_slice())
        .unwrap_or_default()
        .iter()
        .filter(|k| !a.checks_added.contains(k) && rows.mentions_valued(&k.expr));
    for k in a.checks_added.iter().chain(kept_over_values) {
        let cols: Vec<String> = t
            .columns
            .iter()
            .filter(|x| k.expr.split(' ').any(|tok| tok == x.key()) && x.generated == Generated::No)
            .map(|x| x.name.clone())
            .collect();
        let generated_ref = t
            .columns
            .iter()
            .any(|x| x.generated != Generated::No && k.expr.split(' ').any(|tok| tok == x.key()));
        if generated_ref {
            continue; // checked by SQLite when the rows are copied
        }
        out.push(DataCheck {
            constraint: format!("CHECK ({})", k.sql),
            table: t.name.clone(),
            deferred: false,
            column: k
                .column
                .as_ref()
                .and_then(|c| t.column(c))
                .map(|x| x.name.clone()),
            sql: format!(
                "SELECT {} AS example FROM {from} WHERE NOT ({})",
                rows.label(&cols),
                k.sql
            ),
        });
    }
    out
}

/// UNIQUE keys (and the primary key) that are new.
fn unique_checks(rows: &Rows, a: &TableAlter, c: &Table, t: &Table) -> Vec<DataCheck> {
    let from = &rows.from;
    let mut out = Vec::new();
    if let (Some(cc), Some(tc)) = (c.canon(), t.canon()) {
        let mut map: BTreeMap<String, String> = a.column_renames.iter().cloned().collect();
        map.insert(a.from.clone(), a.to.clone());
        let cur: BTreeSet<String> = cc
            .uniques
            .iter()
            .chain(cc.primary_key.as_ref().map(|p| &p.text))
            .map(|u| crate::diff::rename_tokens(&strip_conflict(u), &map))
            .collect();
        let tgt = tc
            .uniques
            .iter()
            .chain(tc.primary_key.as_ref().map(|p| &p.text));
        for u in tgt {
            let key = strip_conflict(u);
            if cur.contains(&key) && !rows.mentions_valued(&key) {
                continue;
            }
            let names: Vec<String> = key
                .trim_start_matches('(')
                .trim_end_matches(')')
                .split(", ")
                .map(|s| s.trim_end_matches(" desc").to_string())
                .collect();
            let cols: Option<Vec<String>> = names
                .iter()
                .map(|n| t.column(n).map(|x| x.name.clone()))
                .collect();
            let Some(cols) = cols else { continue }; // expressions: SQLite checks on copy
            let list = cols.iter().map(|x| q(x)).collect::<Vec<_>>().join(", ");
            let nn = cols
                .iter()
                .map(|x| format!("{} IS NOT NULL", q(x)))
                .collect::<Vec<_>>()
                .join(" AND ");
            let label = cols
                .iter()
                .map(|x| format!("'{}=' || quote({})", x.replace('\'', "''"), q(x)))
                .collect::<Vec<_>>()
                .join(" || ', ' || ");
            out.push(DataCheck {
                constraint: format!("UNIQUE ({})", cols.join(", ")),
                table: t.name.clone(),
                deferred: false,
                column: if cols.len() == 1 { Some(cols[0].clone()) } else { None },
                sql: format!(
                    "SELECT {label} || ' (' || count(*) || ' rows)' AS example FROM {from} WHERE {nn} GROUP BY {list} HAVING count(*) > 1"
                ),
            });
        }
    }
    out
}

fn strip_conflict(u: &str) -> String {
    let u = u.split(" on conflict ").next().unwrap_or(u);
    u.trim_end_matches(" autoincrement").to_string()
}
