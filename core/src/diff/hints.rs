//! Rename hints and declared values as given (`Hints`, `ValueHint`), and which rename hints
//! apply: annotations by their strict rule, explicit hints as a set (swaps, chains), those
//! already carried out dropped, impossible ones errors; and the rename suggestions for likely
//! renames no hint names. It must never compare table definitions itself (it asks `diff`
//! for the changes without the hints) nor decide how a rename is carried out.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::{diff_hinted, Changes, DiffOptions};
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

/// One rename hint, by name keys, with its spelling for messages.
struct Rename {
    old: String,
    new: String,
    shown: String,
}

impl Rename {
    fn of((o, n): &(String, String)) -> Rename {
        Rename {
            old: ident_key(o),
            new: ident_key(n),
            shown: format!("{o}={n}"),
        }
    }
    fn pair(&self) -> (String, String) {
        (self.old.clone(), self.new.clone())
    }
}

/// Whether a name key exists in the database (`cur`) and in the declared schema (`tgt`).
pub(super) struct Sides<'a> {
    pub(super) cur: &'a dyn Fn(&str) -> bool,
    pub(super) tgt: &'a dyn Fn(&str) -> bool,
}

impl Sides<'_> {
    /// The database has `old` and not `new`, the declaration `new` and not `old`.
    fn pending(&self, old: &str, new: &str) -> bool {
        (self.cur)(old) && !(self.cur)(new) && (self.tgt)(new) && !(self.tgt)(old)
    }
    /// Both sides already have `new` and not `old`: the rename was carried out.
    fn done(&self, old: &str, new: &str) -> bool {
        !(self.cur)(old) && (self.cur)(new) && (self.tgt)(new) && !(self.tgt)(old)
    }
}

/// Which renames apply, from explicit hints (options, flags) and annotations in the schema
/// file. `what` names the namespace in messages ("table", "column of table t"); `sides` says
/// whether a name key exists on each side.
///
/// An annotation applies only while the database has the old name and not the new one and
/// the declaration the new name and not the old one, so it can stay in the file after the
/// migration. Explicit hints apply as a set: a name may be freed by another rename of the set,
/// so swaps and chains (`a=b, b=a`; `a=b, b=c`) apply; one already carried out (the database
/// has the new name only) is satisfied; any other is an error, in `errors`.
pub(super) fn resolve_renames(
    what: &str,
    explicit: &[(String, String)],
    annotated: &[(String, String)],
    sides: &Sides,
    warnings: &mut Vec<String>,
    errors: &mut Vec<String>,
) -> Vec<(String, String)> {
    let mut out = annotated_renames(what, annotated, sides, warnings);
    let pending: Vec<Rename> = explicit
        .iter()
        .map(Rename::of)
        .filter(|r| !out.contains(&r.pair()) && !sides.done(&r.old, &r.new))
        .collect();
    let set = RenameSet::new(&out, &pending);
    for r in &pending {
        match set.problem(r, sides) {
            Some(p) => errors.push(format!(
                "rename hint {} ({what}) cannot apply: {p}; fix or remove the hint",
                r.shown
            )),
            None => out.push(r.pair()),
        }
    }
    out
}

/// The annotations that apply, by the strict rule; a warning for each that does not and is
/// not already carried out.
fn annotated_renames(
    what: &str,
    annotated: &[(String, String)],
    sides: &Sides,
    warnings: &mut Vec<String>,
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for r in annotated.iter().map(Rename::of) {
        if sides.pending(&r.old, &r.new) {
            out.push(r.pair());
        } else if !(sides.cur)(&r.new) || (sides.cur)(&r.old) {
            warnings.push(format!(
                "rename annotation {} ({what}) does not apply: the database needs `{}` and no `{}`, and the declared schema `{}` and no `{}`",
                r.shown, r.old, r.new, r.new, r.old
            ));
        }
    }
    out
}

/// The old and new names of every rename that may apply (annotations that apply and explicit
/// hints not yet carried out), which an explicit hint is judged against as a set.
struct RenameSet {
    olds: Vec<String>,
    news: Vec<String>,
}

impl RenameSet {
    fn new(applied: &[(String, String)], pending: &[Rename]) -> RenameSet {
        let pairs = || {
            applied
                .iter()
                .cloned()
                .chain(pending.iter().map(Rename::pair))
        };
        RenameSet {
            olds: pairs().map(|(o, _)| o).collect(),
            news: pairs().map(|(_, n)| n).collect(),
        }
    }

    /// Why explicit hint `r` cannot apply, if it cannot.
    fn problem(&self, r: &Rename, sides: &Sides) -> Option<String> {
        let count = |v: &[String], k: &str| v.iter().filter(|x| *x == k).count();
        if !(sides.cur)(&r.old) {
            Some(format!("the database has no `{}`", r.old))
        } else if !(sides.tgt)(&r.new) {
            Some(format!("the declared schema has no `{}`", r.new))
        } else if r.old == r.new {
            Some("the old and new names are the same".to_string())
        } else if count(&self.olds, &r.old) > 1 || count(&self.news, &r.new) > 1 {
            Some("another hint renames the same name".to_string())
        } else if (sides.cur)(&r.new) && !self.olds.contains(&r.new) {
            Some(format!(
                "the database already has `{}` and no hint renames it away",
                r.new
            ))
        } else if (sides.tgt)(&r.old) && !self.news.contains(&r.old) {
            Some(format!(
                "the declared schema still has `{}` and no hint renames another to it",
                r.old
            ))
        } else {
            None
        }
    }
}

/// The table renames that apply, both ways.
pub(super) struct TableRenames {
    /// Target key -> current key.
    src: BTreeMap<String, String>,
    /// Current key -> target key.
    pub(super) map: BTreeMap<String, String>,
}

impl TableRenames {
    /// The current key of target table `tk`.
    pub(super) fn source<'a>(&'a self, tk: &'a str) -> &'a str {
        self.src.get(tk).map_or(tk, String::as_str)
    }
}

/// Resolve the table renames of `annotated` and `explicit` (warnings and errors into `ch`).
pub(super) fn table_renames(
    current: &Schema,
    target: &Schema,
    annotated: &Hints,
    explicit: &Hints,
    ch: &mut Changes,
) -> TableRenames {
    let sides = Sides {
        cur: &|k| current.tables.contains_key(k),
        tgt: &|k| target.tables.contains_key(k),
    };
    let pairs = resolve_renames(
        "table",
        &explicit.tables,
        &annotated.tables,
        &sides,
        &mut ch.warnings,
        &mut ch.hint_errors,
    );
    TableRenames {
        src: pairs.iter().map(|(o, n)| (n.clone(), o.clone())).collect(),
        map: pairs.into_iter().collect(),
    }
}

/// An error for each explicit column hint whose table is in neither the matched tables nor
/// the table renames.
pub(super) fn check_column_hints_matched(
    ch: &mut Changes,
    target: &Schema,
    explicit: &Hints,
    renames: &TableRenames,
    matched: &BTreeSet<String>,
) {
    for (tn, o, n) in &explicit.columns {
        let k = ident_key(tn);
        let matched = target.tables.contains_key(&k) && matched.contains(renames.source(&k))
            || renames.map.contains_key(&k);
        if !matched {
            ch.hint_errors.push(format!(
                "rename hint {tn}.{o}={n} cannot apply: no table `{tn}` is in both the database and the declared schema; fix or remove the hint"
            ));
        }
    }
}

/// Advice for likely renames no hint names: a dropped and an added table of the same shape,
/// a dropped and an added column of the same type.
pub(super) fn suggestions(
    ch: &Changes,
    current: &Schema,
    target: &Schema,
    dropped: &[&Table],
) -> Vec<String> {
    let mut out = Vec::new();
    for d in dropped {
        for a in &ch.added_tables {
            let at = &target.tables[a];
            if same_shape(d, at) {
                out.push(format!(
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
                    out.push(format!(
                        "column {}.{} is dropped and {}.{} added with the same type: if it is a rename, pass --rename-column {}.{}={}",
                        t.name, dc.name, t.name, ac.name, t.name, dc.name, ac.name
                    ));
                }
            }
        }
    }
    out
}

/// `hints` with each column hint naming its table by the new name when a table hint renames
/// it, so that `t.a=b` with `t=u` means the same before and after the table rename.
pub(super) fn by_new_table_names(hints: &Hints) -> Hints {
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
pub(super) fn already_applied_removed(
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
pub(super) fn column_hints(hints: &Hints, ck: &str, tk: &str) -> Vec<(String, String)> {
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

fn same_shape(a: &Table, b: &Table) -> bool {
    a.columns.len() == b.columns.len()
        && !a.columns.is_empty()
        && a.columns.iter().zip(&b.columns).all(|(x, y)| {
            x.name.eq_ignore_ascii_case(&y.name) && x.decl_type.eq_ignore_ascii_case(&y.decl_type)
        })
}

// One test per rule of rename resolution: `resolve_renames` over name sets, and the hints'
// effect on `diff` over schemas loaded by SQLite.
#[cfg(test)]
mod tests {
    use super::*;
    use insta::assert_snapshot;

    /// `resolve_renames` of column hints between name sets `cur` and `tgt`: what applies, then
    /// each warning and error.
    fn resolve(cur: &[&str], tgt: &[&str], explicit: &[&str], annotated: &[&str]) -> String {
        let pairs = |v: &[&str]| -> Vec<(String, String)> {
            let split = |h: &&str| h.split_once('=').map(|(o, n)| (o.into(), n.into()));
            v.iter().filter_map(split).collect()
        };
        let (mut warnings, mut errors) = (Vec::new(), Vec::new());
        let sides = Sides {
            cur: &|k| cur.contains(&k),
            tgt: &|k| tgt.contains(&k),
        };
        let out = resolve_renames(
            "column of table t",
            &pairs(explicit),
            &pairs(annotated),
            &sides,
            &mut warnings,
            &mut errors,
        );
        let mut lines: Vec<String> = out.iter().map(|(o, n)| format!("{o} -> {n}")).collect();
        lines.extend(warnings.iter().map(|w| format!("warning: {w}")));
        lines.extend(errors.iter().map(|e| format!("error: {e}")));
        lines.join("\n")
    }

    #[test]
    fn an_annotation_applies_only_before_it_is_carried_out() {
        assert_snapshot!(resolve(&["a"], &["b"], &[], &["a=b"]), @"a -> b");
        // Carried out: no longer applies, silently.
        assert_snapshot!(resolve(&["b"], &["b"], &[], &["a=b"]), @"");
        assert_snapshot!(resolve(&["a", "b"], &["b"], &[], &["a=b"]), @"warning: rename annotation a=b (column of table t) does not apply: the database needs `a` and no `b`, and the declared schema `b` and no `a`");
    }

    #[test]
    fn an_explicit_swap_and_chain_apply_as_a_set() {
        assert_snapshot!(resolve(&["a", "b"], &["a", "b"], &["a=b", "b=a"], &[]), @r#"
            a -> b
            b -> a
        "#);
        assert_snapshot!(resolve(&["a", "b"], &["b", "c"], &["a=b", "b=c"], &[]), @r#"
            a -> b
            b -> c
        "#);
    }

    #[test]
    fn an_explicit_hint_carried_out_is_satisfied() {
        assert_snapshot!(resolve(&["b"], &["b"], &["a=b"], &[]), @"");
    }

    #[test]
    fn an_explicit_hint_that_cannot_apply_is_an_error_saying_why() {
        assert_snapshot!(resolve(&["x"], &["b"], &["a=b"], &[]), @"error: rename hint a=b (column of table t) cannot apply: the database has no `a`; fix or remove the hint");
        assert_snapshot!(resolve(&["a"], &["x"], &["a=b"], &[]), @"error: rename hint a=b (column of table t) cannot apply: the declared schema has no `b`; fix or remove the hint");
        assert_snapshot!(resolve(&["a"], &["a"], &["a=a"], &[]), @"error: rename hint a=a (column of table t) cannot apply: the old and new names are the same; fix or remove the hint");
        assert_snapshot!(resolve(&["a", "c"], &["b"], &["a=b", "c=b"], &[]), @r#"
            error: rename hint a=b (column of table t) cannot apply: another hint renames the same name; fix or remove the hint
            error: rename hint c=b (column of table t) cannot apply: another hint renames the same name; fix or remove the hint
        "#);
        assert_snapshot!(resolve(&["a", "b"], &["b"], &["a=b"], &[]), @"error: rename hint a=b (column of table t) cannot apply: the database already has `b` and no hint renames it away; fix or remove the hint");
        assert_snapshot!(resolve(&["a"], &["a", "b"], &["a=b"], &[]), @"error: rename hint a=b (column of table t) cannot apply: the declared schema still has `a` and no hint renames another to it; fix or remove the hint");
    }

    #[cfg(feature = "rusqlite")]
    mod on_schemas {
        use super::super::super::testkit::{changes, hinted, renames, report};
        use insta::assert_snapshot;

        #[test]
        fn a_column_hint_names_its_table_by_either_name() {
            let before = "CREATE TABLE t(a INT)";
            let after = "CREATE TABLE u(b INT)";
            let ch = hinted(before, after, &renames(&["t=u"], &["t.a=b"]));
            assert_snapshot!(report(&ch), @r#"
                rename table t to u
                rename column u.a to b
            "#);
            let ch = hinted(before, after, &renames(&["t=u"], &["u.a=b"]));
            assert_snapshot!(report(&ch), @r#"
                rename table t to u
                rename column u.a to b
            "#);
        }

        #[test]
        fn explicit_hints_the_database_already_reflects_are_dropped() {
            let s = "CREATE TABLE a(x INT); CREATE TABLE b(y TEXT)";
            let ch = hinted(s, s, &renames(&["a=b", "b=a"], &["a.x=y"]));
            assert!(
                ch.is_empty() && ch.hint_errors.is_empty(),
                "{}",
                report(&ch)
            );
        }

        #[test]
        fn a_column_hint_for_a_table_on_one_side_only_is_an_error() {
            let ch = hinted(
                "CREATE TABLE t(a INT)",
                "CREATE TABLE t(a INT)",
                &renames(&[], &["nope.a=b"]),
            );
            assert_snapshot!(report(&ch), @"error: rename hint nope.a=b cannot apply: no table `nope` is in both the database and the declared schema; fix or remove the hint");
        }

        #[test]
        fn a_dropped_and_an_added_table_or_column_of_the_same_shape_are_suggested() {
            let ch = changes(
                "CREATE TABLE t(id INTEGER PRIMARY KEY, a TEXT)",
                "CREATE TABLE u(id INTEGER PRIMARY KEY, a TEXT)",
            );
            assert_snapshot!(report(&ch), @r#"
                add table u
                drop table t
                suggestion: table t is dropped and u added with the same columns: if it is a rename, pass --rename-table t=u (or annotate `-- liteshift:rename-table t=u`)
            "#);
            let ch = changes(
                "CREATE TABLE t(a TEXT, n INT)",
                "CREATE TABLE t(b TEXT, n INT)",
            );
            assert_snapshot!(report(&ch), @r#"
                add column t.b
                drop column t.a
                suggestion: column t.a is dropped and t.b added with the same type: if it is a rename, pass --rename-column t.a=b
            "#);
        }
    }
}
