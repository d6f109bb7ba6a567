//! One table's comparison: column renames resolved, added and dropped columns, what changed
//! in each kept column (`ColumnChange`), CHECKs added and dropped, and the table-level changes
//! only a rebuild carries out (`TableChange`). It never decides native or rebuild, and never
//! reads text where the parsed definition can be compared (text only when a side is unparsed).

use std::collections::{BTreeMap, BTreeSet};

use super::hints::{column_hints, resolve_renames, Sides};
use super::{rename_tokens, ColumnChange, DiffOptions, Hints, TableAlter, TableChange};
use crate::model::*;

/// How table `c` (current key `ck`) differs from its target `t` (key `tk`).
pub(super) fn diff_table(
    c: &Table,
    t: &Table,
    (ck, tk): (&str, &str),
    (annotated, explicit): (&Hints, &Hints),
    table_map: &BTreeMap<String, String>,
    opts: DiffOptions,
    (warnings, errors): (&mut Vec<String>, &mut Vec<String>),
) -> TableAlter {
    let mut a = TableAlter {
        from: ck.to_string(),
        to: tk.to_string(),
        ..Default::default()
    };
    if c.is_virtual() || t.is_virtual() {
        a.virtual_changed = !same_virtual(c, t, (ck, tk), table_map);
        return a;
    }

    // Column renames: target key -> current key.
    a.column_renames = resolve_renames(
        &format!("column of table {}", t.name),
        &column_hints(explicit, ck, tk),
        &column_hints(annotated, ck, tk),
        &Sides {
            cur: &|k| c.column(k).is_some(),
            tgt: &|k| t.column(k).is_some(),
        },
        warnings,
        errors,
    );
    let col_src: BTreeMap<String, String> = a
        .column_renames
        .iter()
        .map(|(o, n)| (n.clone(), o.clone()))
        .collect();
    let col_map: BTreeMap<String, String> = a
        .column_renames
        .iter()
        .map(|(o, n)| (o.clone(), n.clone()))
        .collect();
    (a.added_columns, a.dropped_columns) = added_and_dropped(c, t, &col_src);

    let mut all_map = table_map.clone();
    all_map.insert(ck.to_string(), tk.to_string());
    all_map.extend(col_map.clone());

    match (c.canon(), t.canon()) {
        (Some(cc), Some(tc)) => {
            a.modified_columns = modified_columns(cc, tc, &col_src, &all_map);
            a.other.extend(key_changes(&a, cc, tc, &all_map));
            (a.checks_added, a.checks_dropped) = check_changes(cc, tc, &all_map);
            if opts.exact_column_order && column_order_changed(&a, cc, tc, &col_map) {
                a.other.push(TableChange::ColumnOrder);
            }
        }
        _ => {
            // At least one side is not parsed: compare normalised text.
            let cn = crate::sqltext::normalize_sql(&c.sql);
            let tn = crate::sqltext::normalize_sql(&t.sql);
            if rename_tokens(&cn, &all_map) != tn {
                a.other.push(TableChange::DefinitionText);
            }
        }
    }
    a
}

/// Whether a virtual table is unchanged: its normalised text, after the table renames.
fn same_virtual(
    c: &Table,
    t: &Table,
    (ck, tk): (&str, &str),
    table_map: &BTreeMap<String, String>,
) -> bool {
    match (&c.def, &t.def) {
        (TableDef::Text(x), TableDef::Text(y)) => {
            let mut m = table_map.clone();
            m.insert(ck.to_string(), tk.to_string());
            rename_tokens(x, &m) == *y
        }
        _ => false,
    }
}

/// The target's columns no current column feeds, and the current columns nothing keeps.
fn added_and_dropped(
    c: &Table,
    t: &Table,
    col_src: &BTreeMap<String, String>,
) -> (Vec<String>, Vec<String>) {
    let mut added = Vec::new();
    let mut used: BTreeSet<String> = BTreeSet::new();
    for tc in &t.columns {
        let key = tc.key();
        let src = col_src.get(&key).cloned().unwrap_or_else(|| key.clone());
        if c.column(&src).is_some() {
            used.insert(src);
        } else {
            added.push(key);
        }
    }
    let dropped = c
        .columns
        .iter()
        .map(|cc| cc.key())
        .filter(|k| !used.contains(k))
        .collect();
    (added, dropped)
}

/// Kept columns whose definition changed, each with what changed.
fn modified_columns(
    cc: &CanonTable,
    tc: &CanonTable,
    col_src: &BTreeMap<String, String>,
    all_map: &BTreeMap<String, String>,
) -> Vec<(String, Vec<ColumnChange>)> {
    let mut out = Vec::new();
    for tcol in &tc.columns {
        let src = col_src.get(&tcol.key).cloned().unwrap_or(tcol.key.clone());
        let Some(ccol) = cc.column(&src) else {
            continue;
        };
        let mut what = Vec::new();
        if ccol.decl_type != tcol.decl_type {
            what.push(ColumnChange::Type {
                from: ccol.decl_type.clone(),
                to: tcol.decl_type.clone(),
            });
        }
        if ccol.not_null != tcol.not_null {
            what.push(ColumnChange::NotNull {
                added: tcol.not_null.is_some(),
            });
        }
        if ccol.default != tcol.default {
            what.push(ColumnChange::Default);
        }
        if ccol.collate != tcol.collate {
            what.push(ColumnChange::Collation);
        }
        let cg = ccol.generated.as_ref().map(|g| rename_tokens(g, all_map));
        if cg != tcol.generated {
            what.push(ColumnChange::GeneratedExpression);
        }
        if !what.is_empty() {
            out.push((tcol.key.clone(), what));
        }
    }
    out
}

/// Changes of the primary key, UNIQUE constraints, foreign keys and table options (each a
/// reason to rebuild).
fn key_changes(
    a: &TableAlter,
    cc: &CanonTable,
    tc: &CanonTable,
    all_map: &BTreeMap<String, String>,
) -> Vec<TableChange> {
    let mut other = Vec::new();
    let rn = |v: &Option<PrimaryKey>| v.as_ref().map(|p| rename_tokens(&p.text, all_map));
    if rn(&cc.primary_key) != tc.primary_key.as_ref().map(|p| p.text.clone()) {
        other.push(TableChange::PrimaryKey);
    }
    let rs = |v: &[String]| -> BTreeSet<String> {
        v.iter().map(|s| rename_tokens(s, all_map)).collect()
    };
    if rs(&cc.uniques) != tc.uniques.iter().cloned().collect() {
        other.push(TableChange::Uniques);
    }
    // A foreign key declared on an added column comes with its ADD COLUMN.
    let with_added: BTreeSet<&String> = a
        .added_columns
        .iter()
        .filter_map(|c| tc.column_fks.get(c))
        .flatten()
        .collect();
    let target_fks: BTreeSet<String> = tc
        .foreign_keys
        .iter()
        .filter(|f| !with_added.contains(f))
        .cloned()
        .collect();
    if rs(&cc.foreign_keys) != target_fks {
        other.push(TableChange::ForeignKeys);
    }
    if cc.options != tc.options {
        other.push(TableChange::Options {
            from: cc.options.clone(),
            to: tc.options.clone(),
        });
    }
    other
}

/// CHECKs the target adds and those it drops (current ones compared after the renames).
fn check_changes(
    cc: &CanonTable,
    tc: &CanonTable,
    all_map: &BTreeMap<String, String>,
) -> (Vec<Check>, Vec<Check>) {
    let (mut added, mut dropped) = (Vec::new(), Vec::new());
    let cur_checks: Vec<Check> = cc
        .checks
        .iter()
        .map(|k| Check {
            expr: rename_tokens(&k.expr, all_map),
            ..k.clone()
        })
        .collect();
    for k in &tc.checks {
        if !cur_checks.contains(k) {
            added.push(k.clone());
        }
    }
    for (k, orig) in cur_checks.iter().zip(&cc.checks) {
        if !tc.checks.contains(k) {
            dropped.push(orig.clone());
        }
    }
    (added, dropped)
}

/// Whether the kept columns are in another order, or added ones are not at the end.
fn column_order_changed(
    a: &TableAlter,
    cc: &CanonTable,
    tc: &CanonTable,
    col_map: &BTreeMap<String, String>,
) -> bool {
    let cur_order: Vec<String> = cc
        .columns
        .iter()
        .map(|x| col_map.get(&x.key).cloned().unwrap_or(x.key.clone()))
        .filter(|k| tc.column(k).is_some())
        .collect();
    let tgt_kept: Vec<String> = tc
        .columns
        .iter()
        .map(|x| x.key.clone())
        .filter(|k| !a.added_columns.contains(k))
        .collect();
    let added_at_end = tc
        .columns
        .iter()
        .skip(tgt_kept.len())
        .all(|x| a.added_columns.contains(&x.key));
    cur_order != tgt_kept || !added_at_end
}

// One test per rule of a table's comparison; the schemas are loaded by SQLite.
#[cfg(all(test, feature = "rusqlite"))]
mod tests {
    use super::super::testkit::{changes, report};
    use super::*;
    use insta::assert_snapshot;

    const T: &str = "CREATE TABLE t(id INTEGER PRIMARY KEY, a TEXT)";

    #[test]
    fn a_column_change_is_each_part_that_changed() {
        let after =
            "CREATE TABLE t(id INTEGER PRIMARY KEY, a INT NOT NULL DEFAULT 0 COLLATE nocase)";
        let ch = changes(T, after);
        assert_eq!(
            ch.altered_tables[0].modified_columns,
            [(
                "a".to_string(),
                vec![
                    ColumnChange::Type {
                        from: "TEXT".into(),
                        to: "INT".into()
                    },
                    ColumnChange::NotNull { added: true },
                    ColumnChange::Default,
                    ColumnChange::Collation,
                ]
            )]
        );
        assert_snapshot!(report(&ch), @r#"change column t.a: type "TEXT" -> "INT", NOT NULL added, default, collation"#);
    }

    #[test]
    fn a_generated_expression_is_compared_after_the_column_renames() {
        let before = "CREATE TABLE t(a INT, b INT AS (a + 1))";
        let renamed = "CREATE TABLE t(x INT, b INT AS (x + 1));\n-- liteshift:rename-column t.a=x";
        assert!(changes(before, renamed).altered_tables[0]
            .modified_columns
            .is_empty());
        let changed = "CREATE TABLE t(a INT, b INT AS (a + 2))";
        assert_snapshot!(report(&changes(before, changed)), @"change column t.b: generated expression");
    }

    #[test]
    fn keys_and_options_are_table_changes() {
        let before = "CREATE TABLE p(id INTEGER PRIMARY KEY); CREATE TABLE t(a INT, b INT, c INT)";
        let after = "CREATE TABLE p(id INTEGER PRIMARY KEY); CREATE TABLE t(a INT PRIMARY KEY, b INT UNIQUE, c INT REFERENCES p(id)) WITHOUT ROWID";
        let ch = changes(before, after);
        assert_eq!(
            ch.altered_tables[0].other,
            [
                TableChange::PrimaryKey,
                TableChange::Uniques,
                TableChange::ForeignKeys,
                TableChange::Options {
                    from: String::new(),
                    to: "without rowid".into()
                },
            ]
        );
        assert_snapshot!(report(&ch), @r#"
            change table t: primary key
            change table t: UNIQUE constraints
            change table t: foreign keys
            change table t: table options "" -> "without rowid"
        "#);
    }

    #[test]
    fn a_foreign_key_declared_on_an_added_column_comes_with_it() {
        let p = "CREATE TABLE p(id INTEGER PRIMARY KEY);";
        let ch = changes(
            &format!("{p} {T}"),
            &format!(
                "{p} CREATE TABLE t(id INTEGER PRIMARY KEY, a TEXT, p_id INT REFERENCES p(id))"
            ),
        );
        let a = &ch.altered_tables[0];
        assert_eq!(a.added_columns, ["p_id"]);
        assert!(a.other.is_empty(), "{:?}", a.other);
    }

    #[test]
    fn checks_are_added_and_dropped_after_the_column_renames() {
        let before = "CREATE TABLE t(a INT CHECK (a > 0), b INT, CHECK (b < 10))";
        let after = "CREATE TABLE t(x INT CHECK (x > 0), b INT, CHECK (b < 20));\n-- liteshift:rename-column t.a=x";
        let a = &changes(before, after).altered_tables[0];
        assert_eq!(a.column_renames, [("a".to_string(), "x".to_string())]);
        let sql = |v: &[Check]| v.iter().map(|k| k.sql.clone()).collect::<Vec<_>>();
        assert_eq!(sql(&a.checks_added), ["b < 20"]);
        assert_eq!(sql(&a.checks_dropped), ["b < 10"]);
    }

    #[test]
    fn column_order_counts_only_when_asked_and_added_columns_go_last() {
        let before = "CREATE TABLE t(a INT, b INT)";
        let load = super::super::testkit::schema;
        let order = |after: &str, exact_column_order| {
            let (c, t) = (load(before), load(after));
            let opts = DiffOptions { exact_column_order };
            let ch = super::super::diff(&c, &t, &Hints::default(), opts);
            ch.altered_tables
                .first()
                .is_some_and(|a| a.other.contains(&TableChange::ColumnOrder))
        };
        assert!(!order("CREATE TABLE t(b INT, a INT)", false));
        assert!(order("CREATE TABLE t(b INT, a INT)", true));
        assert!(!order("CREATE TABLE t(a INT, b INT, c INT)", true));
        assert!(order("CREATE TABLE t(c INT, a INT, b INT)", true));
    }

    #[test]
    fn a_virtual_table_is_compared_as_text_after_the_table_renames() {
        let before = "CREATE VIRTUAL TABLE v USING fts5(body)";
        let renamed = "CREATE VIRTUAL TABLE w USING fts5(body);\n-- liteshift:rename-table v=w";
        let a = &changes(before, renamed).altered_tables[0];
        assert!(a.renamed() && !a.virtual_changed);
        let changed = "CREATE VIRTUAL TABLE v USING fts5(body, title)";
        assert_snapshot!(report(&changes(before, changed)), @"change virtual table v");
    }

    #[test]
    fn added_and_dropped_columns_follow_the_renames() {
        let before = "CREATE TABLE t(a INT, b INT, c INT)";
        let after = "CREATE TABLE t(x INT, b INT, d INT);\n-- liteshift:rename-column t.a=x";
        let a = &changes(before, after).altered_tables[0];
        assert_eq!(
            (&a.added_columns[..], &a.dropped_columns[..]),
            (&["d".to_string()][..], &["c".to_string()][..])
        );
    }
}
