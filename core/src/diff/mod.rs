//! `diff(current, target, hints) -> Changes`: what changed, with no SQL and no I/O.
//!
//! This module owns the entry points ([`diff`], [`diff_hinted`]) and the change types the
//! planner reads ([`Changes`], [`TableAlter`], [`ColumnChange`], [`TableChange`]); its parts
//! are the rename and value hints (`hints`, `values`), one table's comparison (`table`) and
//! the index, view and trigger comparison (`objects`).
//!
//! Architecture invariant: it only compares two [`Schema`] values. It must never decide how a
//! change is carried out (native `ALTER TABLE` or a rebuild: that is `plan`'s, in one place),
//! write SQL, or touch a database.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::model::*;

mod hints;
mod objects;
mod table;
#[cfg(all(test, feature = "rusqlite"))]
pub(crate) mod testkit;
mod values;

pub use hints::{Hints, ValueHint};

/// Everything that differs between two schemas.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Changes {
    /// Tables to create (target name keys), in target creation order.
    pub added_tables: Vec<String>,
    /// Tables to drop (current name keys).
    pub dropped_tables: Vec<String>,
    /// Tables that exist on both sides and differ (or are renamed).
    pub altered_tables: Vec<TableAlter>,
    pub indexes: Vec<ObjectChange>,
    pub views: Vec<ObjectChange>,
    pub triggers: Vec<ObjectChange>,
    /// Likely renames that were not hinted, as advice.
    pub suggestions: Vec<String>,
    /// Hints that did not apply, and similar notes.
    pub warnings: Vec<String>,
    /// Explicitly given rename hints that cannot apply (an error for the caller).
    pub hint_errors: Vec<String>,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.added_tables.is_empty()
            && self.dropped_tables.is_empty()
            && self.altered_tables.is_empty()
            && self.indexes.is_empty()
            && self.views.is_empty()
            && self.triggers.is_empty()
    }

    /// One line per change, for people.
    pub fn summary(&self) -> Vec<String> {
        let mut out = Vec::new();
        for t in &self.added_tables {
            out.push(format!("add table {t}"));
        }
        for t in &self.dropped_tables {
            out.push(format!("drop table {t}"));
        }
        for a in &self.altered_tables {
            out.extend(a.describe());
        }
        for (kind, list) in [
            ("index", &self.indexes),
            ("view", &self.views),
            ("trigger", &self.triggers),
        ] {
            for c in list {
                out.push(format!("{} {kind} {}", c.action.verb(), c.name));
            }
        }
        out
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Add,
    Drop,
    Replace,
}

impl Action {
    fn verb(self) -> &'static str {
        match self {
            Action::Add => "add",
            Action::Drop => "drop",
            Action::Replace => "change",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObjectChange {
    /// Name key.
    pub name: String,
    pub action: Action,
}

/// What changed in a kept column's definition. The planner decides from these (only a NOT NULL
/// change can be native), never from their text, which is for people (and the JSON).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColumnChange {
    /// The declared type, as written before and after.
    Type {
        from: String,
        to: String,
    },
    /// `NOT NULL` added (true) or dropped.
    NotNull {
        added: bool,
    },
    Default,
    Collation,
    GeneratedExpression,
}

impl std::fmt::Display for ColumnChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ColumnChange::Type { from, to } => write!(f, "type {from:?} -> {to:?}"),
            ColumnChange::NotNull { added: true } => f.write_str("NOT NULL added"),
            ColumnChange::NotNull { added: false } => f.write_str("NOT NULL dropped"),
            ColumnChange::Default => f.write_str("default"),
            ColumnChange::Collation => f.write_str("collation"),
            ColumnChange::GeneratedExpression => f.write_str("generated expression"),
        }
    }
}

/// As its text (the JSON shape `diff` and `plan` have always printed).
impl Serialize for ColumnChange {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// `changes` for people: "type \"INT\" -> \"TEXT\", default".
pub fn describe_column_changes(changes: &[ColumnChange]) -> String {
    changes
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// A table-level difference that only a rebuild carries out. The planner decides from the
/// variant, never from its text, which is for people (and the JSON).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TableChange {
    PrimaryKey,
    Uniques,
    ForeignKeys,
    /// The table options (`strict`, `without rowid`), normalised, before and after.
    Options {
        from: String,
        to: String,
    },
    /// The kept columns are in another order (with `DiffOptions::exact_column_order`).
    ColumnOrder,
    /// A side could not be parsed and the normalised texts differ.
    DefinitionText,
    /// The table references `parent`, which is rebuilt or dropped, on a host where foreign
    /// keys stay enforced (added by the planner, see `plan/enforced.rs`).
    ReferencesRebuilt {
        parent: String,
    },
}

impl std::fmt::Display for TableChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TableChange::PrimaryKey => f.write_str("primary key"),
            TableChange::Uniques => f.write_str("UNIQUE constraints"),
            TableChange::ForeignKeys => f.write_str("foreign keys"),
            TableChange::Options { from, to } => write!(f, "table options {from:?} -> {to:?}"),
            TableChange::ColumnOrder => f.write_str("column order"),
            TableChange::DefinitionText => f.write_str("definition (compared as text)"),
            TableChange::ReferencesRebuilt { parent } => write!(
                f,
                "it references {parent}, which is rebuilt or dropped, and foreign keys stay enforced on this host"
            ),
        }
    }
}

/// As its text (the JSON shape `diff` and `plan` have always printed).
impl Serialize for TableChange {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// How one table differs. Names are keys (lower-cased).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TableAlter {
    /// Current table key.
    pub from: String,
    /// Target table key.
    pub to: String,
    /// (old column key, new column key)
    pub column_renames: Vec<(String, String)>,
    /// Target column keys with no source column.
    pub added_columns: Vec<String>,
    /// Current column keys not carried over.
    pub dropped_columns: Vec<String>,
    /// Columns whose definition changed: (target key, what changed).
    pub modified_columns: Vec<(String, Vec<ColumnChange>)>,
    /// Table CHECK constraints (after renames) only in the target.
    pub checks_added: Vec<Check>,
    /// Table CHECK constraints only in the current table.
    pub checks_dropped: Vec<Check>,
    /// Other table-level differences, each needing a rebuild.
    pub other: Vec<TableChange>,
    /// The current table is a virtual table or the target is, and they differ.
    pub virtual_changed: bool,
    /// Declared values for existing rows of added or changed columns, by target column key.
    pub values: BTreeMap<String, ValueHint>,
}

impl TableAlter {
    pub fn renamed(&self) -> bool {
        self.from != self.to
    }
    pub fn is_empty(&self) -> bool {
        !self.renamed()
            && self.column_renames.is_empty()
            && self.added_columns.is_empty()
            && self.dropped_columns.is_empty()
            && self.modified_columns.is_empty()
            && self.checks_added.is_empty()
            && self.checks_dropped.is_empty()
            && self.other.is_empty()
            && !self.virtual_changed
    }
    pub fn describe(&self) -> Vec<String> {
        let t = &self.to;
        let mut out = Vec::new();
        if self.renamed() {
            out.push(format!("rename table {} to {t}", self.from));
        }
        for (o, n) in &self.column_renames {
            out.push(format!("rename column {t}.{o} to {n}"));
        }
        for c in &self.added_columns {
            out.push(format!("add column {t}.{c}"));
        }
        for c in &self.dropped_columns {
            out.push(format!("drop column {t}.{c}"));
        }
        for (c, what) in &self.modified_columns {
            out.push(format!(
                "change column {t}.{c}: {}",
                describe_column_changes(what)
            ));
        }
        for c in &self.checks_added {
            out.push(format!("add CHECK ({}) on {t}", c.sql));
        }
        for c in &self.checks_dropped {
            out.push(format!("drop CHECK ({}) on {t}", c.sql));
        }
        for o in &self.other {
            out.push(format!("change table {t}: {o}"));
        }
        if self.virtual_changed {
            out.push(format!("change virtual table {t}"));
        }
        for (c, v) in &self.values {
            out.push(format!(
                "existing rows of {t}.{c} take the declared value {}",
                v.expr
            ));
        }
        out
    }
}

/// Options that change what counts as a difference.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DiffOptions {
    /// Column order is significant (a reorder plans a rebuild).
    pub exact_column_order: bool,
}

/// Replace whole normalised tokens according to `map` (old key -> new key).
pub fn rename_tokens(text: &str, map: &BTreeMap<String, String>) -> String {
    if map.is_empty() {
        return text.to_string();
    }
    text.split(' ')
        .map(|tok| map.get(tok).map(String::as_str).unwrap_or(tok))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Compute the changes from `current` to `target`, with rename hints from annotations only
/// (`diff_hinted`, inside the crate).
pub fn diff(current: &Schema, target: &Schema, hints: &Hints, opts: DiffOptions) -> Changes {
    diff_hinted(current, target, hints, &Hints::default(), opts)
}

/// Compute the changes from `current` to `target`. `annotated` hints come from the schema
/// file (applied only while they can, see `hints::resolve_renames`); `explicit` hints from the
/// caller, which must each apply (else `Changes::hint_errors`).
pub fn diff_hinted(
    current: &Schema,
    target: &Schema,
    annotated: &Hints,
    explicit: &Hints,
    opts: DiffOptions,
) -> Changes {
    let mut ch = Changes::default();
    let explicit_values = &explicit.values;
    let by_new_names = hints::by_new_table_names(explicit);
    let explicit = &hints::already_applied_removed(current, target, annotated, &by_new_names, opts);
    let renames = hints::table_renames(current, target, annotated, explicit, &mut ch);
    let matched = compare_tables(
        &mut ch,
        current,
        target,
        (annotated, explicit),
        &renames,
        opts,
    );
    values::attach_values(&mut ch, current, target, annotated, explicit_values);
    hints::check_column_hints_matched(&mut ch, target, explicit, &renames, &matched);
    let dropped = unmatched_tables(current, &matched);
    ch.dropped_tables = dropped
        .iter()
        .map(|t| t.name.to_ascii_lowercase())
        .collect();
    ch.suggestions = hints::suggestions(&ch, current, target, &dropped);
    objects::object_changes(&mut ch, current, target, &renames);
    ch
}

/// Compare each target table (in creation order) with its source, by the table renames:
/// added when there is none, altered when they differ. Returns the current tables matched.
fn compare_tables(
    ch: &mut Changes,
    current: &Schema,
    target: &Schema,
    hints: (&Hints, &Hints),
    renames: &hints::TableRenames,
    opts: DiffOptions,
) -> BTreeSet<String> {
    let mut matched: BTreeSet<String> = BTreeSet::new();
    let mut targets: Vec<&Table> = target.tables.values().collect();
    targets.sort_by_key(|t| t.seq);
    for t in targets {
        let tk = t.name.to_ascii_lowercase();
        let ck = renames.source(&tk).to_string();
        let Some(c) = current.tables.get(&ck) else {
            ch.added_tables.push(tk);
            continue;
        };
        matched.insert(ck.clone());
        let alter = table::diff_table(
            c,
            t,
            (&ck, &tk),
            hints,
            &renames.map,
            opts,
            (&mut ch.warnings, &mut ch.hint_errors),
        );
        if !alter.is_empty() {
            ch.altered_tables.push(alter);
        }
    }
    matched
}

/// The current tables no target table matched (to drop), in creation order.
fn unmatched_tables<'a>(current: &'a Schema, matched: &BTreeSet<String>) -> Vec<&'a Table> {
    let mut dropped: Vec<&Table> = current
        .tables
        .iter()
        .filter(|(k, _)| !matched.contains(*k))
        .map(|(_, t)| t)
        .collect();
    dropped.sort_by_key(|t| t.seq);
    dropped
}

// The change types' text (for people and the JSON) and the token renaming every comparison
// after a rename uses.
#[cfg(test)]
mod tests {
    use super::*;
    use insta::assert_snapshot;

    #[test]
    fn rename_tokens_replaces_whole_tokens_only() {
        let map = BTreeMap::from([("a".to_string(), "b".to_string())]);
        assert_eq!(rename_tokens("a + ab + t . a", &map), "b + ab + t . b");
    }

    #[test]
    fn a_change_serializes_as_its_text() {
        let a = TableAlter {
            from: "t".into(),
            to: "t".into(),
            modified_columns: vec![(
                "a".into(),
                vec![
                    ColumnChange::NotNull { added: false },
                    ColumnChange::GeneratedExpression,
                ],
            )],
            other: vec![TableChange::ReferencesRebuilt { parent: "p".into() }],
            ..TableAlter::default()
        };
        let json = serde_json::to_value(&a).unwrap();
        assert_snapshot!(json["modified_columns"].to_string(), @r#"[["a",["NOT NULL dropped","generated expression"]]]"#);
        assert_snapshot!(json["other"].to_string(), @r#"["it references p, which is rebuilt or dropped, and foreign keys stay enforced on this host"]"#);
        assert_snapshot!(a.describe().join("\n"), @r#"
            change column t.a: NOT NULL dropped, generated expression
            change table t: it references p, which is rebuilt or dropped, and foreign keys stay enforced on this host
        "#);
    }
}
