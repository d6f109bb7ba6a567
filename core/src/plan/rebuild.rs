//! The steps of a table rebuild: create the new table under a temporary name, copy every row
//! (rowids and the AUTOINCREMENT high-water mark kept), drop the old one, rename the new one.
//! Whether to rebuild is `strategy`'s decision, never this module's.

use super::*;
use crate::diff::TableAlter;
use crate::sqltext::{quote_ident as q, quote_str, rename_create};

/// The name of the rowid column to use for `t` (`rowid`, `_rowid_` or `oid`, whichever is not
/// shadowed by a real column).
pub(super) fn rowid_name(t: &Table) -> Option<&'static str> {
    ["rowid", "_rowid_", "oid"]
        .into_iter()
        .find(|n| t.column(n).is_none())
}

/// Name of the current column that feeds target column `tkey`, as it is named when the
/// rebuild runs (after native renames), or `None` for a new column.
pub(super) fn source_column(
    a: &TableAlter,
    c: &Table,
    tkey: &str,
    caps: Capabilities,
) -> Option<String> {
    source_column_named(a, c, tkey, native_column_renames(a, caps))
}

/// [`source_column`], with the current table's columns already renamed (`renamed`) or not.
fn source_column_named(a: &TableAlter, c: &Table, tkey: &str, renamed: bool) -> Option<String> {
    if let Some((o, _)) = a.column_renames.iter().find(|(_, n)| n == tkey) {
        return if renamed {
            Some(tkey.to_string())
        } else {
            c.column(o).map(|x| x.name.clone())
        };
    }
    if a.added_columns.iter().any(|x| x == tkey) {
        return None;
    }
    c.column(tkey).map(|x| x.name.clone())
}

pub(super) fn rebuild_steps(
    a: &TableAlter,
    c: &Table,
    t: &Table,
    current: &Schema,
    target: &Schema,
    caps: Capabilities,
    why: &[String],
) -> Vec<Step> {
    let why = why.join("; ");
    if t.is_virtual() || c.is_virtual() {
        return recreate_virtual(t, &why);
    }
    let mut out = Vec::new();
    let tmp = shadow_name(t, current, target);
    let create = rename_create(&t.sql, &tmp).unwrap_or_else(|| t.sql.clone());
    out.push(step(
        create,
        format!("rebuild {} ({why}): create the new table", t.name),
    ));

    let (cols, exprs) = copied_columns(a, c, t, caps);
    let src_name = &t.name; // after RENAME TO, the current table has the target name
    let src_name = if a.renamed() { src_name } else { &c.name };
    if !cols.is_empty() {
        out.push(copy_step(a, c, t, caps, &tmp, src_name, &cols, &exprs));
    }
    // With nothing to copy (no column carries over and no rowid to keep), dropping the old
    // table loses its rows.
    let nothing_copied = cols.is_empty();
    if c.autoincrement && t.autoincrement {
        out.push(step(
            format!(
                "DELETE FROM sqlite_sequence WHERE name = {tmpq};\nINSERT INTO sqlite_sequence (name, seq) SELECT {tmpq}, seq FROM sqlite_sequence WHERE name = {srcq}",
                tmpq = quote_str(&tmp),
                srcq = quote_str(src_name)
            ),
            format!("rebuild {}: keep the AUTOINCREMENT high-water mark", t.name),
        ));
    }
    out.push(Step {
        sql: format!("DROP TABLE {}", q(src_name)),
        reason: if nothing_copied {
            format!(
                "rebuild {}: drop the old table (no column carries over: all its rows are lost)",
                t.name
            )
        } else {
            format!("rebuild {}: drop the old table", t.name)
        },
        destructive: nothing_copied,
        rewrites_rows: false,
        cost: Cost::Free(TableSize::of(src_name)),
    });
    out.push(step(
        format!("ALTER TABLE {} RENAME TO {}", q(&tmp), q(&t.name)),
        format!("rebuild {}: rename the new table into place", t.name),
    ));
    out
}

/// The temporary name a rebuilt table is created under: one no table has, before or after.
pub(super) fn shadow_name(t: &Table, current: &Schema, target: &Schema) -> String {
    let mut tmp = format!("_liteshift_new_{}", t.name);
    while current.tables.contains_key(&tmp.to_ascii_lowercase())
        || target.tables.contains_key(&tmp.to_ascii_lowercase())
    {
        tmp.push('_');
    }
    tmp
}

/// A changed virtual table is dropped and created again from its declaration (its module
/// rebuilds its content).
fn recreate_virtual(t: &Table, why: &str) -> Vec<Step> {
    vec![
        Step {
            sql: format!("DROP TABLE {}", q(&t.name)),
            reason: format!(
                "drop virtual table {} to recreate it ({why}); its content must be rebuilt",
                t.name
            ),
            destructive: true,
            rewrites_rows: false,
            cost: Cost::Free(TableSize::of(t.name.clone())),
        },
        step(t.sql.clone(), format!("create virtual table {}", t.name)),
    ]
}

/// The new table's columns the copy fills, and the expressions over the old table that fill
/// them: every carried-over stored column, and the rowid (through an INTEGER PRIMARY KEY
/// alias, or the hidden rowid itself) so that rowids survive.
fn copied_columns(
    a: &TableAlter,
    c: &Table,
    t: &Table,
    caps: Capabilities,
) -> (Vec<String>, Vec<String>) {
    copied_columns_named(a, c, t, native_column_renames(a, caps))
}

/// [`copied_columns`], reading the current table's columns by their names after native
/// renames (`renamed`) or before any step.
pub(super) fn copied_columns_named(
    a: &TableAlter,
    c: &Table,
    t: &Table,
    renamed: bool,
) -> (Vec<String>, Vec<String>) {
    let mut cols = Vec::new();
    let mut exprs = Vec::new();
    let alias = t.rowid_alias().map(|x| x.key());
    let mut alias_fed = false;
    for tc in &t.columns {
        if tc.generated != Generated::No {
            continue;
        }
        if let Some(v) = a.values.get(&tc.key()) {
            alias_fed |= Some(tc.key()) == alias;
            cols.push(q(&tc.name));
            exprs.push(format!("({})", v.expr));
            continue;
        }
        match source_column_named(a, c, &tc.key(), renamed) {
            Some(src) => {
                if Some(tc.key()) == alias {
                    alias_fed = true;
                }
                cols.push(q(&tc.name));
                exprs.push(q(&src));
            }
            None => {
                if Some(tc.key()) == alias && c.has_rowid() {
                    if let Some(r) = rowid_name(c) {
                        alias_fed = true;
                        cols.push(q(&tc.name));
                        exprs.push(r.to_string());
                    }
                }
            }
        }
    }
    if t.has_rowid() && c.has_rowid() && !alias_fed && alias.is_none() {
        if let (Some(rt), Some(rc)) = (rowid_name(t), rowid_name(c)) {
            cols.insert(0, rt.to_string());
            exprs.insert(0, rc.to_string());
        }
    }
    (cols, exprs)
}

/// The `INSERT … SELECT` that copies every row, destructive when values of dropped columns
/// are lost or stored values become generated ones.
#[allow(clippy::too_many_arguments)]
fn copy_step(
    a: &TableAlter,
    c: &Table,
    t: &Table,
    caps: Capabilities,
    tmp: &str,
    src_name: &str,
    cols: &[String],
    exprs: &[String],
) -> Step {
    let lost: Vec<String> = a
        .dropped_columns
        .iter()
        .filter_map(|k| c.column(k).map(|x| x.name.clone()))
        .collect();
    let became_generated: Vec<String> = t
        .columns
        .iter()
        .filter(|tc| tc.generated != Generated::No)
        .filter_map(|tc| {
            source_column(a, c, &tc.key(), caps)
                .and_then(|s| c.column(&s.to_ascii_lowercase()).cloned())
                .filter(|cc| cc.generated == Generated::No)
                .map(|_| tc.name.clone())
        })
        .collect();
    let mut reason = format!("rebuild {}: copy every row", t.name);
    if !lost.is_empty() {
        reason.push_str(&format!(
            " (the values of dropped column(s) {} are lost)",
            lost.join(", ")
        ));
    }
    if !became_generated.is_empty() {
        reason.push_str(&format!(
            " (stored values of column(s) {} are replaced by generated ones)",
            became_generated.join(", ")
        ));
    }
    Step {
        sql: format!(
            "INSERT INTO {} ({}) SELECT {} FROM {}",
            q(tmp),
            cols.join(", "),
            exprs.join(", "),
            q(src_name)
        ),
        reason,
        destructive: !lost.is_empty() || !became_generated.is_empty(),
        rewrites_rows: true,
        cost: Cost::Constant,
    }
}
