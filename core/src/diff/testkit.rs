//! Helpers for the unit tests of the pure rules (diff, strategy, dependents, renames, rebuild, online):
//! schemas loaded from SQL by liteshift's own SQLite, as every schema the core compares is,
//! and their changes. Test-only; it never builds a model by hand.

use super::{diff_hinted, Changes, DiffOptions, Hints};
use crate::model::Schema;

/// `sql` loaded by SQLite.
pub(crate) fn schema(sql: &str) -> Schema {
    crate::load_declared(sql, "<test>").unwrap().schema
}

/// The changes from `before` to `after`, with the annotations of `after` and no other hint.
pub(crate) fn changes(before: &str, after: &str) -> Changes {
    hinted(before, after, &Hints::default())
}

/// The changes from `before` to `after`, with the annotations of `after` and `explicit`.
pub(crate) fn hinted(before: &str, after: &str, explicit: &Hints) -> Changes {
    let annotated = crate::load_declared(after, "<test>").unwrap().hints;
    diff_hinted(
        &schema(before),
        &schema(after),
        &annotated,
        explicit,
        DiffOptions::default(),
    )
}

/// Hints from `old=new` table renames and `t.old=new` column renames.
pub(crate) fn renames(tables: &[&str], columns: &[&str]) -> Hints {
    let mut h = Hints::default();
    for t in tables {
        h.add_table_rename(t).unwrap();
    }
    for c in columns {
        h.add_column_rename(c).unwrap();
    }
    h
}

/// What `ch` says for people, its warnings and errors: one line each, for a snapshot.
pub(crate) fn report(ch: &Changes) -> String {
    let mut out = ch.summary();
    out.extend(ch.suggestions.iter().map(|s| format!("suggestion: {s}")));
    out.extend(ch.warnings.iter().map(|s| format!("warning: {s}")));
    out.extend(ch.hint_errors.iter().map(|s| format!("error: {s}")));
    out.join("\n")
}
