//! The one place that decides, for an altered table, between native `ALTER TABLE`
//! statements and a rebuild: [`table_strategy`]. It reads the change, both tables and the
//! target SQLite's capabilities, and never writes a rebuild itself (see `rebuild`).

use std::collections::BTreeSet;
use std::fmt;

use super::*;
use crate::diff::{ColumnChange, TableAlter, TableChange};
use crate::sqltext::quote_ident as q;

/// How one altered table is carried out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Strategy {
    /// Native `ALTER TABLE` statements.
    Native(Vec<Step>),
    /// A rebuild, for these reasons.
    Rebuild(Vec<RebuildReason>),
}

/// Why a table is rebuilt rather than altered natively. Its text (the rebuild steps' `reason`)
/// is for people; nothing decides from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RebuildReason {
    /// The table is virtual on either side and its definition changed.
    VirtualTable,
    /// A table-level difference only a rebuild carries out.
    Table(TableChange),
    /// Columns are renamed and `RENAME COLUMN` cannot be used.
    RenameColumn(Unavailable),
    /// A column is renamed from or to `rowid`, `oid` or `_rowid_`.
    RenamesRowidName,
    /// A declared value reads the row's columns by their old names, which a native
    /// `RENAME COLUMN` would have changed first.
    ValueReadsOldNames,
    /// A side's definition could not be parsed.
    Unparsed,
    /// A changed column is missing from a side's parsed definition.
    ColumnUnreadable { column: String },
    /// A kept column's definition changed; `target` is set when only its NOT NULL changed and
    /// the target SQLite predates the native form.
    Column {
        column: String,
        changes: Vec<ColumnChange>,
        target: Option<SqliteVersion>,
    },
    /// A dropped column SQLite's `DROP COLUMN` refuses.
    DropColumn {
        column: String,
        blockers: Vec<DropBlocker>,
    },
    /// An added column missing from the target's parsed definition.
    AddColumnUnreadable { column: String },
    /// An added column SQLite's `ADD COLUMN` refuses (or would not test against the rows).
    AddColumn {
        column: String,
        blockers: Vec<AddBlocker>,
    },
    /// A CHECK added (`added`) or dropped that has no name, so no `ADD/DROP CONSTRAINT`.
    UnnamedCheck { added: bool, sql: String },
    /// A named CHECK added or dropped on a SQLite (`target`) before `ADD/DROP CONSTRAINT`.
    CheckNeedsNewer {
        added: bool,
        sql: String,
        target: SqliteVersion,
    },
}

/// Why SQLite's `RENAME COLUMN` (3.25.0) or `DROP COLUMN` (3.35.0) is not used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unavailable {
    /// `DROP COLUMN` (true) or `RENAME COLUMN`.
    pub drop: bool,
    /// It would rewrite a table's double-quoted string literals
    /// ([`Capabilities::keeps_double_quoted_literals`]); else the target is too old.
    pub rewrites_literals: bool,
    pub target: SqliteVersion,
}

impl Unavailable {
    fn of(caps: Capabilities, drop: bool) -> Unavailable {
        Unavailable {
            drop,
            rewrites_literals: caps.keeps_double_quoted_literals,
            target: caps.version,
        }
    }
}

/// What makes SQLite refuse `DROP COLUMN` of a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropBlocker {
    Unavailable(Unavailable),
    PrimaryKey,
    Generated,
    RowidName,
    Unique,
    ForeignKey,
    TableCheck,
    UsedByGenerated,
    Indexed,
}

/// What makes SQLite refuse `ADD COLUMN` of a column, or run it untested (see
/// `add_column_blockers`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddBlocker {
    PrimaryKey,
    Unique,
    RowidName,
    NonConstantDefault,
    NotNullWithoutDefault,
    Stored,
    ReferencesWithDefault,
    RowsUntested,
}

/// " (native form needs SQLite 3.53.0, target …)".
fn needs_3_53(f: &mut fmt::Formatter<'_>, target: SqliteVersion) -> fmt::Result {
    write!(f, " (native form needs SQLite 3.53.0, target {target})")
}

/// `a, b, c`.
fn joined<T: fmt::Display>(f: &mut fmt::Formatter<'_>, items: &[T]) -> fmt::Result {
    for (i, x) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{x}")?;
    }
    Ok(())
}

impl fmt::Display for RebuildReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use RebuildReason as R;
        let verb = |added: bool| if added { "add" } else { "drop" };
        match self {
            R::VirtualTable => f.write_str("virtual table definition"),
            R::Table(change) => write!(f, "{change}"),
            R::RenameColumn(why) => write!(f, "{why}"),
            R::RenamesRowidName => f.write_str("a column renamed from or to a name of the rowid"),
            R::ValueReadsOldNames => {
                f.write_str("a declared value reads the columns by their old names")
            }
            R::Unparsed => f.write_str("definition could not be parsed"),
            R::ColumnUnreadable { column } => write!(f, "column {column} changed"),
            R::Column {
                column,
                changes,
                target,
            } => {
                write!(f, "column {column}: ")?;
                joined(f, changes)?;
                target.map_or(Ok(()), |v| needs_3_53(f, v))
            }
            R::DropColumn { column, blockers } => {
                write!(f, "drop column {column}: ")?;
                joined(f, blockers)
            }
            R::AddColumnUnreadable { column } => write!(f, "add column {column}"),
            R::AddColumn { column, blockers } => {
                write!(f, "add column {column}: ")?;
                joined(f, blockers)
            }
            R::UnnamedCheck { added, sql } => write!(f, "{} unnamed CHECK ({sql})", verb(*added)),
            R::CheckNeedsNewer { added, sql, target } => {
                write!(f, "{} CHECK ({sql})", verb(*added))?;
                needs_3_53(f, *target)
            }
        }
    }
}

impl fmt::Display for Unavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (what, since) = if self.drop {
            ("DROP COLUMN", "3.35.0")
        } else {
            ("RENAME COLUMN", "3.25.0")
        };
        if self.rewrites_literals {
            write!(f, "{what} would rewrite the double-quoted string literals of a table's CHECK or generated column into single-quoted ones")
        } else {
            write!(f, "{what} needs SQLite {since} (target {})", self.target)
        }
    }
}

impl fmt::Display for DropBlocker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DropBlocker::Unavailable(why) => return write!(f, "{why}"),
            DropBlocker::PrimaryKey => "part of the primary key",
            DropBlocker::Generated => "generated column",
            DropBlocker::RowidName => "named like the rowid",
            DropBlocker::Unique => "in a UNIQUE constraint",
            DropBlocker::ForeignKey => "in a foreign key",
            DropBlocker::TableCheck => "used by a table CHECK",
            DropBlocker::UsedByGenerated => "used by a generated column",
            DropBlocker::Indexed => "indexed",
        })
    }
}

impl fmt::Display for AddBlocker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AddBlocker::PrimaryKey => "part of the primary key",
            AddBlocker::Unique => "UNIQUE",
            AddBlocker::RowidName => "named like the rowid",
            AddBlocker::NonConstantDefault => "non-constant default",
            AddBlocker::NotNullWithoutDefault => "NOT NULL without a non-NULL default",
            AddBlocker::Stored => "STORED generated column",
            AddBlocker::ReferencesWithDefault => "REFERENCES with a non-NULL default",
            AddBlocker::RowsUntested => {
                "its CHECK or NOT NULL over existing rows (tested by ADD COLUMN from SQLite 3.37.0)"
            }
        })
    }
}

/// Whether a column's `DEFAULT` (normalised, from the parsed definition: PRAGMA `dflt_value`
/// drops the parentheses of `DEFAULT (expr)`) is allowed by `ADD COLUMN`.
fn constant_default(d: &Option<String>) -> bool {
    d.as_deref().is_none_or(crate::sqltext::is_constant_default)
}

fn default_is_null(d: &Option<String>) -> bool {
    crate::sqltext::default_is_null(d.as_deref())
}

/// A native step SQLite runs over every row to verify it (its table is filled in by the
/// planner, under the name the table has before the migration).
fn verifying(st: Step) -> Step {
    Step {
        cost: Cost::Scan(TableSize::of(String::new())),
        ..st
    }
}

/// Decide native vs rebuild for one altered table. `c` is the current table as it is after the
/// renames that run first (table `RENAME TO` always; `RENAME COLUMN` when supported).
pub fn table_strategy(
    a: &TableAlter,
    c: &Table,
    t: &Table,
    current: &Schema,
    caps: Capabilities,
    doomed_indexes: &BTreeSet<String>,
) -> Strategy {
    let mut why = Vec::new();
    if a.virtual_changed {
        return Strategy::Rebuild(vec![RebuildReason::VirtualTable]);
    }
    why.extend(a.other.iter().cloned().map(RebuildReason::Table));
    if !a.column_renames.is_empty() && !caps.rename_column() {
        why.push(RebuildReason::RenameColumn(Unavailable::of(caps, false)));
    } else if renames_rowid_name(a) {
        // "cannot rename from/to rowid alias" (3.54: `rowid`, `oid`, `_rowid_`).
        why.push(RebuildReason::RenamesRowidName);
    } else if !a.column_renames.is_empty() && !native_column_renames(a, caps) {
        why.push(RebuildReason::ValueReadsOldNames);
    }
    let (Some(cc), Some(tc)) = (c.canon(), t.canon()) else {
        why.push(RebuildReason::Unparsed);
        return Strategy::Rebuild(why);
    };
    let alter = Alter {
        a,
        c,
        t,
        cc,
        tc,
        caps,
        tname: q(&t.name),
    };
    let alters = alter.modified_columns(&mut why);
    let drops = alter.dropped_columns(current, doomed_indexes, &mut why);
    let adds = alter.added_columns(&mut why);
    let (drops_checks, adds_checks) = alter.checks(&mut why);
    if !why.is_empty() {
        return Strategy::Rebuild(why);
    }
    // Added columns go before dropped ones: SQLite cannot drop a table's last column.
    // Declared values are computed from each row as it was: after the new columns exist,
    // before any column goes and before new constraints hold.
    let mut steps = drops_checks;
    steps.extend(adds);
    steps.extend(values_update(a, t));
    steps.extend(drops);
    steps.extend(alters);
    steps.extend(adds_checks);
    Strategy::Native(steps)
}

/// One `UPDATE` that gives every existing row the declared values (all computed from the row
/// as it was), or nothing when the table has none.
fn values_update(a: &TableAlter, t: &Table) -> Option<Step> {
    if a.values.is_empty() {
        return None;
    }
    let sets: Vec<String> = t
        .columns
        .iter()
        .filter_map(|c| a.values.get(&c.key()).map(|v| (c, v)))
        .map(|(c, v)| format!("{} = ({})", q(&c.name), v.expr))
        .collect();
    let names: Vec<String> = a.values.keys().map(|k| format!("{}.{k}", t.name)).collect();
    Some(Step {
        sql: format!("UPDATE {} SET {}", q(&t.name), sets.join(", ")),
        reason: format!("declared values for existing rows of {}", names.join(", ")),
        destructive: false,
        rewrites_rows: true,
        cost: Cost::Constant,
        kind: StepKind::Other,
    })
}

/// One altered table's parts, for deciding each change: the native step, or a reason (pushed
/// onto `why`) that makes the whole table a rebuild.
struct Alter<'a> {
    a: &'a TableAlter,
    c: &'a Table,
    t: &'a Table,
    cc: &'a CanonTable,
    tc: &'a CanonTable,
    caps: Capabilities,
    tname: String,
}

impl Alter<'_> {
    /// Changed columns: only a NOT NULL change is native (3.53's `ALTER COLUMN`).
    fn modified_columns(&self, why: &mut Vec<RebuildReason>) -> Vec<Step> {
        let Alter {
            a,
            t,
            cc,
            tc,
            caps,
            tname,
            ..
        } = self;
        let mut alters = Vec::new();
        for (col, what) in &a.modified_columns {
            let only_nn = matches!(what[..], [ColumnChange::NotNull { .. }]);
            let (Some(ccol), Some(tcol)) = (
                cc.column(
                    &a.column_renames
                        .iter()
                        .find(|(_, n)| n == col)
                        .map(|(o, _)| o.clone())
                        .unwrap_or(col.clone()),
                ),
                tc.column(col),
            ) else {
                why.push(RebuildReason::ColumnUnreadable {
                    column: col.clone(),
                });
                continue;
            };
            let conflict_free = ccol.not_null.as_deref().unwrap_or("").is_empty()
                && tcol.not_null.as_deref().unwrap_or("").is_empty();
            let is_pk = t.column(col).map(|x| x.pk > 0).unwrap_or(false);
            if only_nn && caps.alter_constraints() && conflict_free && !is_pk {
                let verb = if tcol.not_null.is_some() {
                    "SET NOT NULL"
                } else {
                    "DROP NOT NULL"
                };
                let st = step(
                    format!("ALTER TABLE {tname} ALTER COLUMN {} {verb}", q(&tcol.name)),
                    format!("{} {}.{}", verb.to_lowercase(), t.name, tcol.name),
                );
                // SQLite reads every row for a NULL before it sets NOT NULL.
                alters.push(if tcol.not_null.is_some() {
                    verifying(st)
                } else {
                    st
                });
            } else if only_nn && !caps.alter_constraints() {
                why.push(RebuildReason::Column {
                    column: col.clone(),
                    changes: what.clone(),
                    target: Some(caps.version),
                });
            } else {
                why.push(RebuildReason::Column {
                    column: col.clone(),
                    changes: what.clone(),
                    target: None,
                });
            }
        }

        alters
    }

    /// Dropped columns: `DROP COLUMN` (3.35) unless SQLite refuses it for that column.
    fn dropped_columns(
        &self,
        current: &Schema,
        doomed_indexes: &BTreeSet<String>,
        why: &mut Vec<RebuildReason>,
    ) -> Vec<Step> {
        let Alter { a, c, t, tname, .. } = self;
        let mut drops = Vec::new();
        for col in &a.dropped_columns {
            let Some(ccol) = c.column(col) else { continue };
            let blockers = self.drop_column_blockers(col, ccol, current, doomed_indexes);
            if blockers.is_empty() {
                drops.push(Step {
                    sql: format!("ALTER TABLE {tname} DROP COLUMN {}", q(&ccol.name)),
                    reason: format!("drop column {}.{} (its values are lost)", t.name, ccol.name),
                    destructive: true,
                    rewrites_rows: true,
                    cost: Cost::Constant,
                    kind: StepKind::DropColumn,
                });
            } else {
                why.push(RebuildReason::DropColumn {
                    column: col.clone(),
                    blockers,
                });
            }
        }

        drops
    }

    /// What makes SQLite refuse `DROP COLUMN` of `col` (alter.c, `sqlite3AlterDropColumn`); an
    /// index counts unless the plan drops it first.
    fn drop_column_blockers(
        &self,
        col: &str,
        ccol: &Column,
        current: &Schema,
        doomed_indexes: &BTreeSet<String>,
    ) -> Vec<DropBlocker> {
        let Alter { c, cc, caps, .. } = self;
        let mentions = |s: &str| mentions(s, col);
        let mut blockers = Vec::new();
        if !caps.drop_column() {
            blockers.push(DropBlocker::Unavailable(Unavailable::of(*caps, true)));
        }
        if ccol.pk > 0 {
            blockers.push(DropBlocker::PrimaryKey);
        }
        if ccol.generated != Generated::No {
            blockers.push(DropBlocker::Generated);
        }
        // "cannot drop rowid alias" (3.54, a rowid table's `rowid`, `oid` or `_rowid_`).
        if c.has_rowid() && is_rowid_name(col) {
            blockers.push(DropBlocker::RowidName);
        }
        if cc.uniques.iter().any(|u| mentions(u)) {
            blockers.push(DropBlocker::Unique);
        }
        if cc
            .foreign_keys
            .iter()
            .any(|u| mentions(fk_child_columns(u)))
        {
            blockers.push(DropBlocker::ForeignKey);
        }
        let others_check = |k: &Check| k.column.as_deref() != Some(col) && mentions(&k.expr);
        if cc.checks.iter().any(others_check) {
            blockers.push(DropBlocker::TableCheck);
        }
        let generated_from =
            |x: &CanonColumn| x.key != col && x.generated.as_deref().is_some_and(mentions);
        if cc.columns.iter().any(generated_from) {
            blockers.push(DropBlocker::UsedByGenerated);
        }
        let ckey = c.name.to_ascii_lowercase();
        if current.indexes.iter().any(|(k, i)| {
            i.table.eq_ignore_ascii_case(&ckey) && !doomed_indexes.contains(k) && mentions(&i.norm)
        }) {
            blockers.push(DropBlocker::Indexed);
        }
        blockers
    }

    /// Added columns: `ADD COLUMN` with the declared definition, within SQLite's restrictions.
    fn added_columns(&self, why: &mut Vec<RebuildReason>) -> Vec<Step> {
        let Alter {
            a, t, tc, tname, ..
        } = self;
        let mut adds = Vec::new();
        for col in &a.added_columns {
            let (Some(tcol), Some(tcc), Some(def_sql)) =
                (t.column(col), tc.column(col), tc.column_sql.get(col))
            else {
                why.push(RebuildReason::AddColumnUnreadable {
                    column: col.clone(),
                });
                continue;
            };
            let blockers = self.add_column_blockers(col, tcol, tcc);
            if blockers.is_empty() {
                let st = step(
                    format!("ALTER TABLE {tname} ADD COLUMN {def_sql}"),
                    format!("add column {}.{}", t.name, tcol.name),
                );
                // SQLite checks every row (`pragma_quick_check`) when the table has a CHECK,
                // is STRICT, or the new column is a NOT NULL generated one.
                let checks_rows = !tc.checks.is_empty()
                    || t.strict
                    || (tcol.generated != Generated::No && tcc.not_null.is_some());
                adds.push(if checks_rows { verifying(st) } else { st });
            } else {
                why.push(RebuildReason::AddColumn {
                    column: col.clone(),
                    blockers,
                });
            }
        }

        adds
    }

    /// What makes SQLite refuse `ADD COLUMN` of `col` (alter.c, `sqlite3AlterFinishAddColumn`),
    /// or run it without checking the existing rows, under any connection setting. The plan
    /// never depends on the connection's `foreign_keys`: it is the same whether enforcement is
    /// on, off, or cannot be switched off (Cloudflare D1).
    fn add_column_blockers(&self, col: &str, tcol: &Column, tcc: &CanonColumn) -> Vec<AddBlocker> {
        let Alter { t, tc, caps, .. } = self;
        let generated = tcol.generated != Generated::No;
        let fk_columns = tc.foreign_keys.iter().map(|f| fk_child_columns(f));
        let mut blockers = Vec::new();
        // "Cannot add a PRIMARY KEY column".
        if tcol.pk > 0 {
            blockers.push(AddBlocker::PrimaryKey);
        }
        // "Cannot add a UNIQUE column" (any UNIQUE index the definition would create).
        if tc.uniques.iter().any(|u| mentions(u, col)) {
            blockers.push(AddBlocker::Unique);
        }
        // "cannot add rowid alias" (3.54 refuses `rowid`, `oid`, `_rowid_` in a rowid table).
        if t.has_rowid() && is_rowid_name(col) {
            blockers.push(AddBlocker::RowidName);
        }
        // "Cannot add a column with non-constant default" (sqlite3ValueFromExpr gives none).
        if !generated && !constant_default(&tcc.default) {
            blockers.push(AddBlocker::NonConstantDefault);
        }
        // "Cannot add a NOT NULL column with default value NULL".
        if !generated && tcc.not_null.is_some() && default_is_null(&tcc.default) {
            blockers.push(AddBlocker::NotNullWithoutDefault);
        }
        // "cannot add a STORED column".
        if tcol.generated == Generated::Stored {
            blockers.push(AddBlocker::Stored);
        }
        // "Cannot add a REFERENCES column with non-NULL default value" while foreign_keys is
        // on: refused whatever the connection's setting, so the plan runs under either.
        let references = tc.column_fks.get(col).is_some_and(|f| !f.is_empty())
            || fk_columns.into_iter().any(|f| mentions(f, col));
        if !generated && references && !default_is_null(&tcc.default) {
            blockers.push(AddBlocker::ReferencesWithDefault);
        }
        // Before 3.37.0 `ADD COLUMN` does not test a new CHECK, or the NOT NULL of a generated
        // column, against the existing rows: the rebuild's copy does.
        let verifies_rows = caps.version >= SqliteVersion(3, 37, 0);
        let column_check = tc.checks.iter().any(|k| k.column.as_deref() == Some(col));
        if !verifies_rows && (column_check || (generated && tcc.not_null.is_some())) {
            blockers.push(AddBlocker::RowsUntested);
        }
        blockers
    }

    /// Named CHECKs added and dropped: `ADD/DROP CONSTRAINT` (3.53). The steps that drop come
    /// first, those that add last.
    fn checks(&self, why: &mut Vec<RebuildReason>) -> (Vec<Step>, Vec<Step>) {
        let Alter {
            a, t, caps, tname, ..
        } = self;
        let (mut drops_checks, mut adds_checks) = (Vec::new(), Vec::new());
        for k in &a.checks_added {
            if k.column
                .as_ref()
                .map(|c| a.added_columns.contains(c))
                .unwrap_or(false)
            {
                continue; // comes with ADD COLUMN
            }
            match (&k.raw_name, caps.alter_constraints()) {
                (Some(name), true) => adds_checks.push(verifying(step(
                    format!(
                        "ALTER TABLE {tname} ADD CONSTRAINT {} CHECK ({})",
                        q(&crate::sqltext::unquote(name)),
                        k.sql
                    ),
                    format!("add CHECK {} on {}", crate::sqltext::unquote(name), t.name),
                ))),
                (None, _) => why.push(RebuildReason::UnnamedCheck {
                    added: true,
                    sql: k.sql.clone(),
                }),
                (Some(_), false) => why.push(RebuildReason::CheckNeedsNewer {
                    added: true,
                    sql: k.sql.clone(),
                    target: caps.version,
                }),
            }
        }
        for k in &a.checks_dropped {
            if k.column
                .as_ref()
                .map(|c| a.dropped_columns.contains(c))
                .unwrap_or(false)
            {
                continue; // goes with DROP COLUMN
            }
            match (&k.raw_name, caps.alter_constraints()) {
                (Some(name), true) => drops_checks.push(step(
                    format!(
                        "ALTER TABLE {tname} DROP CONSTRAINT {}",
                        q(&crate::sqltext::unquote(name))
                    ),
                    format!("drop CHECK {} on {}", crate::sqltext::unquote(name), t.name),
                )),
                (None, _) => why.push(RebuildReason::UnnamedCheck {
                    added: false,
                    sql: k.sql.clone(),
                }),
                (Some(_), false) => why.push(RebuildReason::CheckNeedsNewer {
                    added: false,
                    sql: k.sql.clone(),
                    target: caps.version,
                }),
            }
        }

        (drops_checks, adds_checks)
    }
}

/// Whether normalised text `s` names the column key `col` as a whole identifier (`(a, b)`,
/// `a != 'x'`, `( a , b )`).
fn mentions(s: &str, col: &str) -> bool {
    s.split(|ch: char| !(ch.is_alphanumeric() || ch == '_' || ch == '$' || !ch.is_ascii()))
        .any(|tok| tok == col)
}

/// The child columns of a normalised foreign key (`(a, b) references p ( x , y )` -> `(a, b)`).
fn fk_child_columns(fk: &str) -> &str {
    fk.split(" references ").next().unwrap_or(fk)
}

/// `rowid`, `oid` or `_rowid_` (a column key): SQLite 3.54 refuses to add, drop or rename
/// such a column of a rowid table.
pub(super) fn is_rowid_name(key: &str) -> bool {
    matches!(key, "rowid" | "oid" | "_rowid_")
}

/// Whether a column is renamed from or to `rowid`, `oid` or `_rowid_`.
pub(super) fn renames_rowid_name(a: &TableAlter) -> bool {
    a.column_renames
        .iter()
        .any(|(o, n)| is_rowid_name(o) || is_rowid_name(n))
}

// The schemas are loaded by liteshift's own SQLite.
#[cfg(all(test, feature = "rusqlite"))]
mod tests {
    use super::*;
    use crate::diff::testkit::hinted;
    use crate::diff::Hints;
    use insta::assert_snapshot;

    /// The strategy for table `t` from `before` to `after` (both loaded by SQLite), planned
    /// for `version`, with no index dropped before it.
    fn strategy(before: &str, after: &str, version: SqliteVersion) -> Strategy {
        strategy_dooming(before, after, version, &[])
    }

    /// [`strategy`], with the indexes `doomed` dropped before it.
    fn strategy_dooming(
        before: &str,
        after: &str,
        version: SqliteVersion,
        doomed: &[&str],
    ) -> Strategy {
        let load = crate::diff::testkit::schema;
        let (current, target) = (load(before), load(after));
        let changes = hinted(before, after, &Hints::default());
        let a = &changes.altered_tables[0];
        table_strategy(
            a,
            &current.tables["t"],
            &target.tables["t"],
            &current,
            Capabilities::new(version),
            &doomed.iter().map(|k| k.to_string()).collect(),
        )
    }

    const BEFORE: &str = "CREATE TABLE t(id INTEGER PRIMARY KEY, a TEXT)";
    const NEWEST: SqliteVersion = SqliteVersion(3, 53, 0);

    /// The strategy as text: each native step's SQL (with `[scan]` where SQLite reads every
    /// row), or `rebuild:` and each reason.
    fn outcome(before: &str, after: &str, version: SqliteVersion) -> String {
        match strategy(before, after, version) {
            Strategy::Native(steps) => steps
                .iter()
                .map(|st| match st.cost {
                    Cost::Scan(_) => format!("{} [scan]", st.sql),
                    _ => st.sql.clone(),
                })
                .collect::<Vec<_>>()
                .join("\n"),
            Strategy::Rebuild(why) => {
                let why: Vec<String> = why.iter().map(ToString::to_string).collect();
                format!("rebuild: {}", why.join("; "))
            }
        }
    }

    #[test]
    fn a_not_null_change_alone_is_native_from_3_53() {
        let after = "CREATE TABLE t(id INTEGER PRIMARY KEY, a TEXT NOT NULL)";
        match strategy(BEFORE, after, SqliteVersion(3, 53, 0)) {
            Strategy::Native(steps) => {
                let sql: Vec<&str> = steps.iter().map(|s| s.sql.as_str()).collect();
                assert_eq!(sql, ["ALTER TABLE \"t\" ALTER COLUMN \"a\" SET NOT NULL"]);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            strategy(BEFORE, after, SqliteVersion(3, 45, 0)),
            Strategy::Rebuild(vec![RebuildReason::Column {
                column: "a".into(),
                changes: vec![ColumnChange::NotNull { added: true }],
                target: Some(SqliteVersion(3, 45, 0)),
            }])
        );
    }

    #[test]
    fn a_not_null_change_with_another_is_a_rebuild_naming_both() {
        let after = "CREATE TABLE t(id INTEGER PRIMARY KEY, a TEXT NOT NULL DEFAULT 'x')";
        assert_eq!(
            strategy(BEFORE, after, SqliteVersion(3, 53, 0)),
            Strategy::Rebuild(vec![RebuildReason::Column {
                column: "a".into(),
                changes: vec![ColumnChange::NotNull { added: true }, ColumnChange::Default],
                target: None,
            }])
        );
    }

    #[test]
    fn a_type_change_is_a_rebuild_naming_the_types() {
        let after = "CREATE TABLE t(id INTEGER PRIMARY KEY, a INTEGER)";
        assert_eq!(
            strategy(BEFORE, after, SqliteVersion(3, 53, 0)),
            Strategy::Rebuild(vec![RebuildReason::Column {
                column: "a".into(),
                changes: vec![ColumnChange::Type {
                    from: "TEXT".into(),
                    to: "INTEGER".into()
                }],
                target: None,
            }])
        );
    }

    #[test]
    fn a_drop_column_is_native_from_3_35() {
        let after = "CREATE TABLE t(id INTEGER PRIMARY KEY)";
        assert_snapshot!(outcome(BEFORE, after, SqliteVersion(3, 35, 0)), @r#"ALTER TABLE "t" DROP COLUMN "a""#);
        assert_snapshot!(outcome(BEFORE, after, SqliteVersion(3, 34, 0)), @"rebuild: drop column a: DROP COLUMN needs SQLite 3.35.0 (target 3.34.0)");
    }

    #[test]
    fn a_drop_column_sqlite_refuses_is_a_rebuild_naming_each_blocker() {
        let t = |cols: &str| format!("CREATE TABLE t(id INTEGER PRIMARY KEY{cols})");
        let cases = [
            (t(", a INT UNIQUE"), t("")),
            (t(", a INT, CHECK (a < id)"), t("")),
            (t(", a INT, g INT AS (a + 1)"), t("")),
            (t(", a INT REFERENCES t(id)"), t("")),
            (format!("{}; CREATE INDEX i ON t(a)", t(", a INT")), t("")),
            (t(", rowid INT"), t("")),
            (t(", a INT AS (id)"), t("")),
        ];
        let out: Vec<String> = cases.iter().map(|(b, a)| outcome(b, a, NEWEST)).collect();
        assert_snapshot!(out.join("\n"), @r#"
            rebuild: UNIQUE constraints; drop column a: in a UNIQUE constraint
            rebuild: drop column a: used by a table CHECK; drop unnamed CHECK (a < id)
            rebuild: drop column a: used by a generated column; drop column g: generated column
            rebuild: foreign keys; drop column a: in a foreign key
            rebuild: drop column a: indexed
            rebuild: drop column rowid: named like the rowid
            rebuild: drop column a: generated column
        "#);
    }

    #[test]
    fn an_index_dropped_first_does_not_block_a_drop_column() {
        let before = "CREATE TABLE t(id INTEGER PRIMARY KEY, a INT); CREATE INDEX i ON t(a)";
        let after = "CREATE TABLE t(id INTEGER PRIMARY KEY)";
        let s = strategy_dooming(before, after, NEWEST, &["i"]);
        assert!(
            matches!(&s, Strategy::Native(st) if st[0].kind == StepKind::DropColumn),
            "{s:?}"
        );
    }

    #[test]
    fn an_add_column_is_native_and_scans_the_rows_when_sqlite_checks_them() {
        let plain = "CREATE TABLE t(id INTEGER PRIMARY KEY, a TEXT, b INT DEFAULT 0)";
        let checked =
            "CREATE TABLE t(id INTEGER PRIMARY KEY, a TEXT, b INT DEFAULT 0 CHECK (b >= 0))";
        assert_snapshot!(outcome(BEFORE, plain, NEWEST), @r#"ALTER TABLE "t" ADD COLUMN b INT DEFAULT 0"#);
        assert_snapshot!(outcome(BEFORE, checked, NEWEST), @r#"ALTER TABLE "t" ADD COLUMN b INT DEFAULT 0 CHECK (b >= 0) [scan]"#);
    }

    #[test]
    fn an_add_column_sqlite_refuses_is_a_rebuild_naming_each_blocker() {
        let after = |col: &str| format!("CREATE TABLE t(id INTEGER PRIMARY KEY, a TEXT, {col})");
        let cases = [
            "b INT UNIQUE",
            "b INT DEFAULT (random())",
            "b INT NOT NULL",
            "b INT AS (id * 2) STORED",
            "b INT DEFAULT 1 REFERENCES t(id)",
            "rowid INT",
        ];
        let out: Vec<String> = cases
            .iter()
            .map(|c| outcome(BEFORE, &after(c), NEWEST))
            .collect();
        assert_snapshot!(out.join("\n"), @r#"
            rebuild: UNIQUE constraints; add column b: UNIQUE
            rebuild: add column b: non-constant default
            rebuild: add column b: NOT NULL without a non-NULL default
            rebuild: add column b: STORED generated column
            rebuild: add column b: REFERENCES with a non-NULL default
            rebuild: add column rowid: named like the rowid
        "#);
    }

    #[test]
    fn an_add_column_with_a_check_before_3_37_is_a_rebuild() {
        let after = "CREATE TABLE t(id INTEGER PRIMARY KEY, a TEXT, b INT CHECK (b > 0))";
        assert_snapshot!(outcome(BEFORE, after, SqliteVersion(3, 36, 0)), @"rebuild: add column b: its CHECK or NOT NULL over existing rows (tested by ADD COLUMN from SQLite 3.37.0)");
    }

    #[test]
    fn a_named_check_is_native_from_3_53_and_an_unnamed_one_a_rebuild() {
        let named = "CREATE TABLE t(id INTEGER PRIMARY KEY, a TEXT, CONSTRAINT short CHECK (length(a) < 9))";
        let unnamed = "CREATE TABLE t(id INTEGER PRIMARY KEY, a TEXT, CHECK (length(a) < 9))";
        assert_snapshot!(outcome(BEFORE, named, NEWEST), @r#"ALTER TABLE "t" ADD CONSTRAINT "short" CHECK (length(a) < 9) [scan]"#);
        assert_snapshot!(outcome(named, BEFORE, NEWEST), @r#"ALTER TABLE "t" DROP CONSTRAINT "short""#);
        assert_snapshot!(outcome(BEFORE, named, SqliteVersion(3, 52, 0)), @"rebuild: add CHECK (length(a) < 9) (native form needs SQLite 3.53.0, target 3.52.0)");
        assert_snapshot!(outcome(BEFORE, unnamed, NEWEST), @"rebuild: add unnamed CHECK (length (a) < 9)");
        assert_snapshot!(outcome(unnamed, BEFORE, NEWEST), @"rebuild: drop unnamed CHECK (length (a) < 9)");
    }

    #[test]
    fn a_column_rename_needs_rename_column_and_no_rowid_name() {
        let after =
            "CREATE TABLE t(id INTEGER PRIMARY KEY, b TEXT);\n-- liteshift:rename-column t.a=b";
        assert_snapshot!(outcome(BEFORE, after, SqliteVersion(3, 24, 0)), @"rebuild: RENAME COLUMN needs SQLite 3.25.0 (target 3.24.0)");
        let to_rowid =
            "CREATE TABLE t(id INTEGER PRIMARY KEY, oid TEXT);\n-- liteshift:rename-column t.a=oid";
        assert_snapshot!(outcome(BEFORE, to_rowid, NEWEST), @"rebuild: a column renamed from or to a name of the rowid");
    }

    #[test]
    fn table_changes_and_virtual_tables_are_rebuilds() {
        let key = "CREATE TABLE t(id INTEGER PRIMARY KEY, a TEXT UNIQUE)";
        assert_snapshot!(outcome(BEFORE, key, NEWEST), @"rebuild: UNIQUE constraints");
        let (v, w) = (
            "CREATE VIRTUAL TABLE t USING fts5(a)",
            "CREATE VIRTUAL TABLE t USING fts5(a, b)",
        );
        assert_snapshot!(outcome(v, w, NEWEST), @"rebuild: virtual table definition");
    }

    #[test]
    fn native_steps_run_check_drops_adds_values_drops_alters_check_adds() {
        let before =
            "CREATE TABLE t(id INTEGER PRIMARY KEY, a TEXT, old INT, CONSTRAINT c1 CHECK (id > 0))";
        let after = "CREATE TABLE t(id INTEGER PRIMARY KEY, a TEXT NOT NULL, n INT, CONSTRAINT c2 CHECK (id > 1));\n-- liteshift:value t.n = old * 2";
        assert_snapshot!(outcome(before, after, NEWEST), @r#"
            ALTER TABLE "t" DROP CONSTRAINT "c1"
            ALTER TABLE "t" ADD COLUMN n INT [scan]
            UPDATE "t" SET "n" = (old * 2)
            ALTER TABLE "t" DROP COLUMN "old"
            ALTER TABLE "t" ALTER COLUMN "a" SET NOT NULL [scan]
            ALTER TABLE "t" ADD CONSTRAINT "c2" CHECK (id > 1) [scan]
        "#);
    }
}
