//! `diff(current, target, hints) -> Changes`: what changed, with no SQL and no I/O.
//!
//! Architecture invariant: this module only compares two [`Schema`] values. How a change is
//! carried out (native `ALTER TABLE` or a rebuild) is decided in one place, `plan`.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::model::*;
use crate::sqltext::ident_key;

/// Rename hints: renames cannot be inferred safely, so they are declared.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Hints {
    /// (old table name, new table name)
    pub tables: Vec<(String, String)>,
    /// (table name — old or new, old column name, new column name)
    pub columns: Vec<(String, String, String)>,
    /// Declared values for existing rows (`--value t.c=EXPR`, `-- liteshift:value t.c = EXPR`).
    pub values: Vec<ValueHint>,
}

/// The value `table.column` takes in every existing row: `expr`, computed by SQLite from the
/// row as it was (it names the old row's columns as they were named before the migration).
/// It applies while the column is added or changed, and is a no-op once it is as declared.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ValueHint {
    /// The table, by its name in the declared schema.
    pub table: String,
    pub column: String,
    pub expr: String,
    /// Where the annotation is (line, column) in the declared schema; `None` for an option.
    #[serde(skip)]
    pub at: Option<(usize, usize)>,
}

impl Hints {
    /// No rename and no value.
    pub fn is_empty(&self) -> bool {
        self.tables.is_empty() && self.columns.is_empty() && self.values.is_empty()
    }

    /// Parse `old=new`.
    pub fn add_table_rename(&mut self, arg: &str) -> Result<(), String> {
        let (o, n) = arg
            .split_once('=')
            .map(|(a, b)| (a.trim(), b.trim()))
            .filter(|(a, b)| !a.is_empty() && !b.is_empty())
            .ok_or_else(|| format!("bad table rename `{arg}`: expected old=new"))?;
        self.tables.push((o.to_string(), n.to_string()));
        Ok(())
    }
    /// Parse `table.old=new`.
    pub fn add_column_rename(&mut self, arg: &str) -> Result<(), String> {
        let err = || format!("bad column rename `{arg}`: expected table.old=new");
        let (lhs, n) = arg.split_once('=').ok_or_else(err)?;
        let (t, o) = lhs.trim().rsplit_once('.').ok_or_else(err)?;
        let (t, o, n) = (t.trim(), o.trim(), n.trim());
        if t.is_empty() || o.is_empty() || n.is_empty() {
            return Err(err());
        }
        self.columns
            .push((t.to_string(), o.to_string(), n.to_string()));
        Ok(())
    }
    /// Parse `table.column=EXPR` (or `table.column = EXPR`).
    pub fn add_value(&mut self, arg: &str) -> Result<(), String> {
        self.add_value_at(arg, None)
    }
    /// [`Hints::add_value`] for an annotation at (line, column).
    pub fn add_value_at(&mut self, arg: &str, at: Option<(usize, usize)>) -> Result<(), String> {
        let err = || format!("bad value `{arg}`: expected table.column=EXPR");
        let (lhs, expr) = arg.split_once('=').ok_or_else(err)?;
        let (t, c) = lhs.trim().rsplit_once('.').ok_or_else(err)?;
        let (t, c, expr) = (t.trim(), c.trim(), expr.trim());
        if t.is_empty() || c.is_empty() || expr.is_empty() {
            return Err(err());
        }
        self.values.push(ValueHint {
            table: crate::sqltext::unquote(t),
            column: crate::sqltext::unquote(c),
            expr: expr.to_string(),
            at,
        });
        Ok(())
    }
    /// Add every hint of `other`.
    pub fn extend(&mut self, other: &Hints) {
        for t in &other.tables {
            if !self.tables.contains(t) {
                self.tables.push(t.clone());
            }
        }
        for c in &other.columns {
            if !self.columns.contains(c) {
                self.columns.push(c.clone());
            }
        }
        for v in &other.values {
            if !self.values.contains(v) {
                self.values.push(v.clone());
            }
        }
    }
}

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

/// One rename hint, by name keys, with its spelling for messages.
struct Rename {
    old: String,
    new: String,
    shown: String,
    explicit: bool,
}

/// Which renames apply, from explicit hints (options, flags) and annotations in the schema
/// file. `what` names the namespace in messages ("table", "column of table t"); `in_cur` and
/// `in_tgt` say whether a name key exists on each side.
///
/// An annotation applies only while the database has the old name and not the new one and
/// the declaration the new name and not the old one, so it can stay in the file after the
/// migration. Explicit hints apply as a set: a name may be freed by another rename of the set,
/// so swaps and chains (`a=b, b=a`; `a=b, b=c`) apply; one already carried out (the database
/// has the new name only) is satisfied; any other is an error, in `errors`.
fn resolve_renames(
    what: &str,
    explicit: &[(String, String)],
    annotated: &[(String, String)],
    in_cur: &dyn Fn(&str) -> bool,
    in_tgt: &dyn Fn(&str) -> bool,
    warnings: &mut Vec<String>,
    errors: &mut Vec<String>,
) -> Vec<(String, String)> {
    let mk = |(o, n): &(String, String), explicit| Rename {
        old: ident_key(o),
        new: ident_key(n),
        shown: format!("{o}={n}"),
        explicit,
    };
    let all: Vec<Rename> = explicit
        .iter()
        .map(|h| mk(h, true))
        .chain(annotated.iter().map(|h| mk(h, false)))
        .collect();
    let mut out: Vec<(String, String)> = Vec::new();
    // Annotations first, by the strict rule.
    for r in all.iter().filter(|r| !r.explicit) {
        if in_cur(&r.old) && !in_cur(&r.new) && in_tgt(&r.new) && !in_tgt(&r.old) {
            out.push((r.old.clone(), r.new.clone()));
        } else if !in_cur(&r.new) || in_cur(&r.old) {
            warnings.push(format!(
                "rename annotation {} ({what}) does not apply: the database needs `{}` and no `{}`, and the declared schema `{}` and no `{}`",
                r.shown, r.old, r.new, r.new, r.old
            ));
        }
    }
    let explicit: Vec<&Rename> = all
        .iter()
        .filter(|r| r.explicit && !out.iter().any(|(o, n)| *o == r.old && *n == r.new))
        .collect();
    let done = |r: &Rename| !in_cur(&r.old) && in_cur(&r.new) && in_tgt(&r.new) && !in_tgt(&r.old);
    let pending: Vec<&Rename> = explicit.iter().copied().filter(|r| !done(r)).collect();
    let olds: Vec<String> = out
        .iter()
        .map(|(o, _)| o.clone())
        .chain(pending.iter().map(|r| r.old.clone()))
        .collect();
    let news: Vec<String> = out
        .iter()
        .map(|(_, n)| n.clone())
        .chain(pending.iter().map(|r| r.new.clone()))
        .collect();
    let count = |v: &[String], k: &str| v.iter().filter(|x| *x == k).count();
    for r in &pending {
        let problem = if !in_cur(&r.old) {
            Some(format!("the database has no `{}`", r.old))
        } else if !in_tgt(&r.new) {
            Some(format!("the declared schema has no `{}`", r.new))
        } else if r.old == r.new {
            Some("the old and new names are the same".to_string())
        } else if count(&olds, &r.old) > 1 || count(&news, &r.new) > 1 {
            Some("another hint renames the same name".to_string())
        } else if in_cur(&r.new) && !olds.contains(&r.new) {
            Some(format!(
                "the database already has `{}` and no hint renames it away",
                r.new
            ))
        } else if in_tgt(&r.old) && !news.contains(&r.old) {
            Some(format!(
                "the declared schema still has `{}` and no hint renames another to it",
                r.old
            ))
        } else {
            None
        };
        match problem {
            Some(p) => errors.push(format!(
                "rename hint {} ({what}) cannot apply: {p}; fix or remove the hint",
                r.shown
            )),
            None => out.push((r.old.clone(), r.new.clone())),
        }
    }
    out
}

/// Compute the changes from `current` to `target`, with rename hints from annotations only
/// (see [`diff_hinted`]).
pub fn diff(current: &Schema, target: &Schema, hints: &Hints, opts: DiffOptions) -> Changes {
    diff_hinted(current, target, hints, &Hints::default(), opts)
}

/// Compute the changes from `current` to `target`. `annotated` hints come from the schema
/// file (applied only while they can, see `resolve_renames`); `explicit` hints from the
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
    let explicit = &already_applied_removed(
        current,
        target,
        annotated,
        &by_new_table_names(explicit),
        opts,
    );

    // Resolve table renames: target key -> current key.
    let table_src: BTreeMap<String, String> = resolve_renames(
        "table",
        &explicit.tables,
        &annotated.tables,
        &|k| current.tables.contains_key(k),
        &|k| target.tables.contains_key(k),
        &mut ch.warnings,
        &mut ch.hint_errors,
    )
    .into_iter()
    .map(|(o, n)| (n, o))
    .collect();
    let table_map: BTreeMap<String, String> = table_src
        .iter()
        .map(|(n, o)| (o.clone(), n.clone()))
        .collect();

    let mut matched_current: BTreeSet<String> = BTreeSet::new();
    let mut targets: Vec<&Table> = target.tables.values().collect();
    targets.sort_by_key(|t| t.seq);
    for t in targets {
        let tk = t.name.to_ascii_lowercase();
        let ck = table_src.get(&tk).cloned().unwrap_or_else(|| tk.clone());
        match current.tables.get(&ck) {
            None => ch.added_tables.push(tk),
            Some(c) => {
                matched_current.insert(ck.clone());
                let alter = diff_table(
                    c,
                    t,
                    (&ck, &tk),
                    (annotated, explicit),
                    &table_map,
                    opts,
                    (&mut ch.warnings, &mut ch.hint_errors),
                );
                if !alter.is_empty() {
                    ch.altered_tables.push(alter);
                }
            }
        }
    }
    attach_values(&mut ch, current, target, annotated, explicit_values);
    for (tn, o, n) in &explicit.columns {
        let k = ident_key(tn);
        let matched = target.tables.contains_key(&k)
            && matched_current.contains(table_src.get(&k).unwrap_or(&k))
            || table_src.values().any(|o| *o == k);
        if !matched {
            ch.hint_errors.push(format!(
                "rename hint {tn}.{o}={n} cannot apply: no table `{tn}` is in both the database and the declared schema; fix or remove the hint"
            ));
        }
    }
    let mut dropped: Vec<&Table> = current
        .tables
        .iter()
        .filter(|(k, _)| !matched_current.contains(*k))
        .map(|(_, t)| t)
        .collect();
    dropped.sort_by_key(|t| t.seq);
    ch.dropped_tables = dropped
        .iter()
        .map(|t| t.name.to_ascii_lowercase())
        .collect();

    // Rename suggestions.
    for d in &dropped {
        for a in &ch.added_tables {
            let at = &target.tables[a];
            if same_shape(d, at) {
                ch.suggestions.push(format!(
                    "table {} is dropped and {} added with the same columns: if it is a rename, pass --rename-table {}={} (or annotate `-- liteshift:rename-table {}={}`)",
                    d.name, at.name, d.name, at.name, d.name, at.name
                ));
            }
        }
    }
    for alter in &ch.altered_tables {
        let (c, t) = (&current.tables[&alter.from], &target.tables[&alter.to]);
        for dcol in &alter.dropped_columns {
            for acol in &alter.added_columns {
                let (Some(dc), Some(ac)) = (c.column(dcol), t.column(acol)) else {
                    continue;
                };
                if dc.decl_type.eq_ignore_ascii_case(&ac.decl_type)
                    && dc.not_null == ac.not_null
                    && dc.generated == ac.generated
                {
                    ch.suggestions.push(format!(
                        "column {}.{} is dropped and {}.{} added with the same type: if it is a rename, pass --rename-column {}.{}={}",
                        t.name, dc.name, t.name, ac.name, t.name, dc.name, ac.name
                    ));
                }
            }
        }
    }

    // Column renames per table (current table key -> old col -> new col), for comparing text.
    let mut rename_all: BTreeMap<String, String> = table_map.clone();
    for a in &ch.altered_tables {
        for (o, n) in &a.column_renames {
            rename_all.insert(o.clone(), n.clone());
        }
    }

    ch.indexes = diff_objects(
        current.indexes.iter().map(|(k, v)| (k, &v.norm, v.seq)),
        target.indexes.iter().map(|(k, v)| (k, &v.norm, v.seq)),
        &rename_all,
    );
    ch.views = diff_objects(
        current.views.iter().map(|(k, v)| (k, &v.norm, v.seq)),
        target.views.iter().map(|(k, v)| (k, &v.norm, v.seq)),
        &rename_all,
    );
    ch.triggers = diff_objects(
        current.triggers.iter().map(|(k, v)| (k, &v.norm, v.seq)),
        target.triggers.iter().map(|(k, v)| (k, &v.norm, v.seq)),
        &rename_all,
    );
    ch
}

fn same_shape(a: &Table, b: &Table) -> bool {
    a.columns.len() == b.columns.len()
        && !a.columns.is_empty()
        && a.columns.iter().zip(&b.columns).all(|(x, y)| {
            x.name.eq_ignore_ascii_case(&y.name) && x.decl_type.eq_ignore_ascii_case(&y.decl_type)
        })
}

fn diff_objects<'a>(
    cur: impl Iterator<Item = (&'a String, &'a String, i64)>,
    tgt: impl Iterator<Item = (&'a String, &'a String, i64)>,
    renames: &BTreeMap<String, String>,
) -> Vec<ObjectChange> {
    let cur: BTreeMap<&String, &String> = cur.map(|(k, n, _)| (k, n)).collect();
    let mut tgt: Vec<(&String, &String, i64)> = tgt.collect();
    tgt.sort_by_key(|x| x.2);
    let mut out = Vec::new();
    let tkeys: BTreeSet<&String> = tgt.iter().map(|x| x.0).collect();
    for (k, norm) in &cur {
        if !tkeys.contains(k) {
            out.push(ObjectChange {
                name: (*k).clone(),
                action: Action::Drop,
            });
        } else {
            let _ = norm;
        }
    }
    for (k, norm, _) in tgt {
        match cur.get(k) {
            None => out.push(ObjectChange {
                name: k.clone(),
                action: Action::Add,
            }),
            Some(cn) => {
                if *cn != norm && rename_tokens(cn, renames) != *norm {
                    out.push(ObjectChange {
                        name: k.clone(),
                        action: Action::Replace,
                    });
                }
            }
        }
    }
    out
}

/// `hints` with each column hint naming its table by the new name when a table hint renames
/// it, so that `t.a=b` with `t=u` means the same before and after the table rename.
/// Give each altered table the declared values of its added or changed columns (explicit ones
/// first). A value whose column is added, or whose definition changes in any way (its type,
/// NOT NULL, default, collation, generated expression, or a constraint declared on it: CHECK,
/// UNIQUE, REFERENCES), applies. Any other applies to nothing and says so in the warnings (an
/// annotation may stay in the file once carried out, but a typo must be visible); an explicit
/// one for a table or column the declared schema does not have is an error.
fn attach_values(
    ch: &mut Changes,
    current: &Schema,
    target: &Schema,
    annotated: &Hints,
    explicit: &[ValueHint],
) {
    for (v, is_explicit) in explicit
        .iter()
        .map(|v| (v, true))
        .chain(annotated.values.iter().map(|v| (v, false)))
    {
        let (tk, ck) = (ident_key(&v.table), ident_key(&v.column));
        let why_not = match target.tables.get(&tk) {
            None => Some(format!("the declared schema has no table `{}`", v.table)),
            Some(t) if t.column(&ck).is_none() => Some(format!(
                "table {} has no column `{}` in the declared schema",
                t.name, v.column
            )),
            Some(t) => attach_value(ch, current, t, &ck, v),
        };
        let Some(why) = why_not else { continue };
        match (is_explicit, target.tables.get(&tk)) {
            (true, None) => ch.hint_errors.push(format!(
                "value {}.{}: {why}; fix or remove it",
                v.table, v.column
            )),
            (true, Some(t)) if t.column(&ck).is_none() => ch.hint_errors.push(format!(
                "value {}.{}: {why}; fix or remove it",
                v.table, v.column
            )),
            _ => ch.warnings.push(format!(
                "value {}.{} = {} applies to nothing: {why}",
                v.table, v.column, v.expr
            )),
        }
    }
}

/// Attach `v` to the change of table `t`'s column `ck`, or say why it applies to nothing.
fn attach_value(
    ch: &mut Changes,
    current: &Schema,
    t: &Table,
    ck: &str,
    v: &ValueHint,
) -> Option<String> {
    let tk = t.name.to_ascii_lowercase();
    let unchanged = || {
        Some(format!(
            "column {}.{} is as declared (a value applies while its column is added or its definition changes)",
            t.name, v.column
        ))
    };
    let Some(a) = ch.altered_tables.iter_mut().find(|a| a.to == tk) else {
        return unchanged();
    };
    if !column_changes(a, &current.tables[&a.from], t, ck) {
        return unchanged();
    }
    if let Some(first) = a.values.get(ck) {
        return Some(format!(
            "an earlier value ({}) gives {}.{} its value",
            first.expr, t.name, v.column
        ));
    }
    a.values.insert(ck.to_string(), v.clone());
    None
}

/// Whether target column `ck` of `a` is added, or its definition changes in any way,
/// the constraints declared on it (lifted to table level in the model) included.
fn column_changes(a: &TableAlter, c: &Table, t: &Table, ck: &str) -> bool {
    if a.added_columns.iter().any(|k| k == ck) || a.modified_columns.iter().any(|(k, _)| k == ck) {
        return true;
    }
    let src = a
        .column_renames
        .iter()
        .find(|(_, n)| n == ck)
        .map_or(ck, |(o, _)| o.as_str());
    let own_check = |k: &Check, key: &str| k.column.as_deref() == Some(key);
    if a.checks_added.iter().any(|k| own_check(k, ck))
        || a.checks_dropped.iter().any(|k| own_check(k, src))
    {
        return true;
    }
    let (Some(cc), Some(tc)) = (c.canon(), t.canon()) else {
        return !a.other.is_empty();
    };
    let own_fks = |t: &CanonTable, key: &str| own(t.column_fks.get(key).into_iter().flatten(), key);
    own(cc.uniques.iter(), src) != own(tc.uniques.iter(), ck)
        || own_fks(cc, src) != own_fks(tc, ck)
        || own(cc.primary_key.iter().map(|p| &p.text), src)
            != own(tc.primary_key.iter().map(|p| &p.text), ck)
}

/// Of normalised key constraints (`(a, b) on conflict …`, `(a) references p ( x )`), those
/// over exactly the column `key`, as a column-level constraint declares them, without it.
fn own<'a>(constraints: impl Iterator<Item = &'a String>, key: &str) -> Vec<String> {
    let prefix = format!("({key})");
    let mut out: Vec<String> = constraints
        .filter_map(|x| x.strip_prefix(prefix.as_str()))
        .filter(|rest| rest.is_empty() || rest.starts_with(' '))
        .map(str::to_string)
        .collect();
    out.sort();
    out
}

fn by_new_table_names(hints: &Hints) -> Hints {
    let mut out = hints.clone();
    for (t, _, _) in &mut out.columns {
        if let Some((_, new)) = hints
            .tables
            .iter()
            .find(|(o, _)| ident_key(o) == ident_key(t))
        {
            *t = new.clone();
        }
    }
    out
}

/// `explicit` without the hints the database already reflects: those whose tables already
/// equal their declaration without them. An app passes the same hints at every start, so a
/// hint must be a no-op once carried out; for a swap or a chain no name test can tell (both
/// names exist before and after), the shape can. (Columns or tables of identical shape that
/// swap names cannot be told apart from no change at all, and are left as they are.)
fn already_applied_removed(
    current: &Schema,
    target: &Schema,
    annotated: &Hints,
    explicit: &Hints,
    opts: DiffOptions,
) -> Hints {
    if explicit.tables.is_empty() && explicit.columns.is_empty() {
        return Hints::default();
    }
    let without = diff_hinted(current, target, annotated, &Hints::default(), opts);
    let unchanged = |k: &str| {
        current.tables.contains_key(k)
            && target.tables.contains_key(k)
            && !without.added_tables.iter().any(|x| x == k)
            && !without.dropped_tables.iter().any(|x| x == k)
            && !without
                .altered_tables
                .iter()
                .any(|a| a.from == k || a.to == k)
    };
    let absent = |k: &str| !current.tables.contains_key(k) && !target.tables.contains_key(k);
    let mut kept = Hints::default();
    let tables_done = !explicit.tables.is_empty()
        && explicit.tables.iter().all(|(o, n)| {
            let (o, n) = (ident_key(o), ident_key(n));
            unchanged(&n) && (unchanged(&o) || absent(&o))
        });
    if !tables_done {
        kept.tables = explicit.tables.clone();
    }
    let tables_settled = tables_done || explicit.tables.is_empty();
    let column_done = |t: &str, n: &str| {
        let t = ident_key(t);
        tables_settled && unchanged(&t) && target.tables[&t].column(&ident_key(n)).is_some()
    };
    kept.columns = explicit
        .columns
        .iter()
        .filter(|(t, _, n)| !column_done(t, n))
        .cloned()
        .collect();
    kept
}

/// The column hints of `hints` that name this table (by its old or new name).
fn column_hints(hints: &Hints, ck: &str, tk: &str) -> Vec<(String, String)> {
    hints
        .columns
        .iter()
        .filter(|(t, _, _)| {
            let k = ident_key(t);
            k == ck || k == tk
        })
        .map(|(_, o, n)| (o.clone(), n.clone()))
        .collect()
}

fn diff_table(
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
        &|k| c.column(k).is_some(),
        &|k| t.column(k).is_some(),
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
