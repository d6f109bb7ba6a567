//! `plan(current, target, changes, capabilities, policy) -> Plan`: how to carry the changes out.
//!
//! Architecture invariant: the planner is pure. It reads two [`Schema`] values and the
//! [`Changes`] between them, does no I/O, and iterates only ordered maps, so the same inputs
//! give a byte-identical plan. [`table_strategy`] is the one place that decides between native
//! `ALTER TABLE` statements and a table rebuild.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::diff::{Action, Changes, ObjectChange, TableAlter};
use crate::model::*;
use crate::sqltext::{mentioned_names, quote_ident as q, quote_str, rename_create};

/// A SQLite version, `major.minor.patch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct SqliteVersion(pub u32, pub u32, pub u32);

impl SqliteVersion {
    /// Parse `3.45.1` (a missing patch is 0).
    pub fn parse(s: &str) -> Option<Self> {
        let mut it = s.trim().split('.').map(|p| p.parse::<u32>());
        let major = it.next()?.ok()?;
        let minor = it.next().unwrap_or(Ok(0)).ok()?;
        let patch = it.next().unwrap_or(Ok(0)).ok()?;
        if it.next().is_some() {
            return None;
        }
        Some(SqliteVersion(major, minor, patch))
    }
    /// The SQLite linked into this build.
    #[cfg(feature = "rusqlite")]
    pub fn bundled() -> Self {
        Self::parse(rusqlite::version()).unwrap_or(SqliteVersion(3, 0, 0))
    }
}

impl std::fmt::Display for SqliteVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.0, self.1, self.2)
    }
}

/// What the SQLite that will run the plan can do natively, for this migration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Capabilities {
    pub version: SqliteVersion,
    /// A table the migration keeps has a double-quoted string literal in a CHECK or a
    /// generated column, which any `RENAME COLUMN` or `DROP COLUMN` in the database would
    /// rewrite into a single-quoted one (so the table would no longer be as declared): the
    /// plan then uses neither. Set by [`plan`] from the target schema.
    #[serde(skip)]
    pub keeps_double_quoted_literals: bool,
}

impl Capabilities {
    pub fn new(version: SqliteVersion) -> Self {
        Capabilities {
            version,
            keeps_double_quoted_literals: false,
        }
    }
    /// `ALTER TABLE ... RENAME COLUMN` (3.25.0), when it rewrites nothing it must not.
    pub fn rename_column(&self) -> bool {
        self.version >= SqliteVersion(3, 25, 0) && !self.keeps_double_quoted_literals
    }
    /// `ALTER TABLE ... DROP COLUMN` (3.35.0), when it rewrites nothing it must not.
    pub fn drop_column(&self) -> bool {
        self.version >= SqliteVersion(3, 35, 0) && !self.keeps_double_quoted_literals
    }
    /// Why `RENAME COLUMN` or `DROP COLUMN` (`what`, first in `since`) is not used.
    fn why_not(&self, what: &str, since: &str) -> String {
        if self.keeps_double_quoted_literals {
            format!("{what} would rewrite the double-quoted string literals of a table's CHECK or generated column into single-quoted ones")
        } else {
            format!("{what} needs SQLite {since} (target {})", self.version)
        }
    }
    /// `ALTER COLUMN ... SET/DROP NOT NULL` and `ADD/DROP CONSTRAINT ... CHECK` (3.53.0).
    pub fn alter_constraints(&self) -> bool {
        self.version >= SqliteVersion(3, 53, 0)
    }
}

/// What the caller allows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Policy {
    /// Allow steps that lose data (drop table, drop column).
    pub allow_data_loss: bool,
    /// Column order is significant.
    pub exact_column_order: bool,
}

/// One statement (or a short group of statements) of the migration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    /// The SQL, exactly as apply runs it.
    pub sql: String,
    /// The change this step serves, for people.
    pub reason: String,
    /// Whether it loses data.
    pub destructive: bool,
    /// Whether it rewrites every row of a table (otherwise O(1) or an index/scan).
    pub rewrites_rows: bool,
}

/// A check of existing rows against a constraint of the target, run inside the transaction
/// before any step. `sql` selects one text column `example` per offending row (or group).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DataCheck {
    pub constraint: String,
    pub table: String,
    pub column: Option<String>,
    pub sql: String,
}

/// A `PRAGMA quick_check` of one table (and its indexes) before its rows are rewritten.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HealthCheck {
    pub table: String,
    /// `PRAGMA quick_check("t")` (SQLite 3.33.0 checks one table); the whole file before.
    pub sql: String,
}

fn health_check(table: &str, caps: Capabilities) -> HealthCheck {
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

/// The migration: ordered steps plus everything apply needs to run them safely.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// Fingerprint of the schema the plan was computed from.
    pub fingerprint: String,
    /// SQLite version the plan targets.
    pub sqlite_version: String,
    /// Whether foreign-key enforcement must be off while the steps run (a rebuild or a dropped
    /// table would otherwise cascade deletes). Done before `BEGIN` and restored after `COMMIT`.
    pub foreign_keys_off: bool,
    /// Tables whose rows a step rewrites: each must pass `PRAGMA quick_check` before anything
    /// runs, so rows are never copied out of a damaged b-tree.
    pub health_checks: Vec<HealthCheck>,
    pub checks: Vec<DataCheck>,
    pub steps: Vec<Step>,
    /// One line per change, for people.
    pub changes: Vec<String>,
    pub suggestions: Vec<String>,
    pub warnings: Vec<String>,
}

/// Statement that switches foreign-key enforcement off before the transaction.
pub const FK_OFF: &str = "PRAGMA foreign_keys = OFF";
/// Statement that restores it after the transaction.
pub const FK_ON: &str = "PRAGMA foreign_keys = ON";
/// Statement that opens the transaction.
pub const BEGIN: &str = "BEGIN IMMEDIATE";
/// The foreign-key verification run before COMMIT.
pub const FK_CHECK: &str = "PRAGMA foreign_key_check";
/// The first step of a plan that needs foreign-key enforcement off: it fails, before any
/// change, when enforcement is still on — as in a migration runner (Room, sqlx, Flyway…) that
/// wraps the script in its own transaction, where `PRAGMA foreign_keys = OFF` does nothing and
/// a rebuild's `DROP TABLE` would delete every child row through `ON DELETE CASCADE`.
pub const FK_GUARD: &str = "CREATE TEMP TABLE \"_liteshift_fk_guard\"(foreign_keys INTEGER CONSTRAINT \"liteshift: foreign-key enforcement must be off while this script runs (run PRAGMA foreign_keys = OFF before the transaction)\" CHECK (foreign_keys = 0));\nINSERT INTO temp.\"_liteshift_fk_guard\" SELECT foreign_keys FROM pragma_foreign_keys";
/// The same guard for SQLite before 3.16 (no `pragma_foreign_keys` to read in SQL): a row that
/// violates its own table's foreign key, which only goes in while enforcement is off.
pub const FK_GUARD_BEFORE_3_16: &str = "CREATE TEMP TABLE \"_liteshift_fk_guard\"(id INTEGER PRIMARY KEY, must_be_off_see_liteshift_plan INTEGER REFERENCES \"_liteshift_fk_guard\"(id));\nINSERT INTO temp.\"_liteshift_fk_guard\" VALUES (1, 2)";
/// The last step of such a plan: the guard goes.
pub const FK_GUARD_DROP: &str = "DROP TABLE temp.\"_liteshift_fk_guard\"";

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }
    /// Descriptions of the data-losing steps.
    pub fn destructive_steps(&self) -> Vec<String> {
        self.steps
            .iter()
            .filter(|s| s.destructive)
            .map(|s| s.reason.clone())
            .collect()
    }
}

/// How one altered table is carried out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Strategy {
    /// Native `ALTER TABLE` statements.
    Native(Vec<Step>),
    /// A rebuild, for these reasons.
    Rebuild(Vec<String>),
}

fn step(sql: String, reason: String) -> Step {
    Step {
        sql,
        reason,
        destructive: false,
        rewrites_rows: false,
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
        return Strategy::Rebuild(vec!["virtual table definition".into()]);
    }
    why.extend(a.other.iter().cloned());
    if !a.column_renames.is_empty() && !caps.rename_column() {
        why.push(caps.why_not("RENAME COLUMN", "3.25.0"));
    }
    let (Some(cc), Some(tc)) = (c.canon(), t.canon()) else {
        why.push("definition could not be parsed".into());
        return Strategy::Rebuild(why);
    };
    let tname = q(&t.name);
    let mut drops_checks = Vec::new();
    let mut drops = Vec::new();
    let mut adds = Vec::new();
    let mut alters = Vec::new();
    let mut adds_checks = Vec::new();

    for (col, what) in &a.modified_columns {
        let only_nn = what.len() == 1 && what[0].starts_with("NOT NULL");
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
            why.push(format!("column {col} changed"));
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
            alters.push(step(
                format!("ALTER TABLE {tname} ALTER COLUMN {} {verb}", q(&tcol.name)),
                format!("{} {}.{}", verb.to_lowercase(), t.name, tcol.name),
            ));
        } else if only_nn && !caps.alter_constraints() {
            why.push(format!(
                "column {col}: {} (native form needs SQLite 3.53.0, target {})",
                what.join(", "),
                caps.version
            ));
        } else {
            why.push(format!("column {col}: {}", what.join(", ")));
        }
    }

    // Dropped columns.
    for col in &a.dropped_columns {
        let Some(ccol) = c.column(col) else { continue };
        let mut blockers = Vec::new();
        if !caps.drop_column() {
            blockers.push(caps.why_not("DROP COLUMN", "3.35.0"));
        }
        if ccol.pk > 0 {
            blockers.push("part of the primary key".into());
        }
        if ccol.generated != Generated::No {
            blockers.push("generated column".into());
        }
        let mentions = |s: &str| s.split(' ').any(|tok| tok == col);
        if cc.uniques.iter().any(|u| mentions(u)) {
            blockers.push("in a UNIQUE constraint".into());
        }
        if cc.foreign_keys.iter().any(|u| mentions(u)) {
            blockers.push("in a foreign key".into());
        }
        if cc
            .checks
            .iter()
            .any(|k| k.column.as_deref() != Some(col.as_str()) && mentions(&k.expr))
        {
            blockers.push("used by a table CHECK".into());
        }
        if cc
            .columns
            .iter()
            .any(|x| x.key != *col && x.generated.as_deref().map(mentions).unwrap_or(false))
        {
            blockers.push("used by a generated column".into());
        }
        let ckey = c.name.to_ascii_lowercase();
        if current.indexes.iter().any(|(k, i)| {
            i.table.eq_ignore_ascii_case(&ckey) && !doomed_indexes.contains(k) && mentions(&i.norm)
        }) {
            blockers.push("indexed".into());
        }
        if blockers.is_empty() {
            drops.push(Step {
                sql: format!("ALTER TABLE {tname} DROP COLUMN {}", q(&ccol.name)),
                reason: format!("drop column {}.{} (its values are lost)", t.name, ccol.name),
                destructive: true,
                rewrites_rows: true,
            });
        } else {
            why.push(format!("drop column {col}: {}", blockers.join(", ")));
        }
    }

    // Added columns.
    for col in &a.added_columns {
        let (Some(tcol), Some(tcc), Some(def_sql)) =
            (t.column(col), tc.column(col), tc.column_sql.get(col))
        else {
            why.push(format!("add column {col}"));
            continue;
        };
        let mut blockers = Vec::new();
        let mentions = |s: &str| s.split(' ').any(|tok| tok == col);
        if tcol.pk > 0 {
            blockers.push("part of the primary key");
        }
        if tc.uniques.iter().any(|u| mentions(u)) {
            blockers.push("UNIQUE");
        }
        if !constant_default(&tcc.default) {
            blockers.push("non-constant default");
        }
        if tcc.not_null.is_some()
            && default_is_null(&tcc.default)
            && tcol.generated == Generated::No
        {
            blockers.push("NOT NULL without a non-NULL default");
        }
        if tcol.generated == Generated::Stored {
            blockers.push("STORED generated column");
        }
        if tc.foreign_keys.iter().any(|f| mentions(f)) && !default_is_null(&tcc.default) {
            blockers.push("REFERENCES with a non-NULL default");
        }
        if blockers.is_empty() {
            adds.push(step(
                format!("ALTER TABLE {tname} ADD COLUMN {def_sql}"),
                format!("add column {}.{}", t.name, tcol.name),
            ));
        } else {
            why.push(format!("add column {col}: {}", blockers.join(", ")));
        }
    }

    // CHECK constraints.
    for k in &a.checks_added {
        if k.column
            .as_ref()
            .map(|c| a.added_columns.contains(c))
            .unwrap_or(false)
        {
            continue; // comes with ADD COLUMN
        }
        match (&k.raw_name, caps.alter_constraints()) {
            (Some(name), true) => adds_checks.push(step(
                format!(
                    "ALTER TABLE {tname} ADD CONSTRAINT {} CHECK ({})",
                    q(&crate::sqltext::unquote(name)),
                    k.sql
                ),
                format!("add CHECK {} on {}", crate::sqltext::unquote(name), t.name),
            )),
            (None, _) => why.push(format!("add unnamed CHECK ({})", k.sql)),
            (Some(_), false) => why.push(format!(
                "add CHECK ({}) (native form needs SQLite 3.53.0, target {})",
                k.sql, caps.version
            )),
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
            (None, _) => why.push(format!("drop unnamed CHECK ({})", k.sql)),
            (Some(_), false) => why.push(format!(
                "drop CHECK ({}) (native form needs SQLite 3.53.0, target {})",
                k.sql, caps.version
            )),
        }
    }

    if !why.is_empty() {
        return Strategy::Rebuild(why);
    }
    // Added columns go before dropped ones: SQLite cannot drop a table's last column.
    let mut steps = drops_checks;
    steps.extend(adds);
    steps.extend(drops);
    steps.extend(alters);
    steps.extend(adds_checks);
    Strategy::Native(steps)
}

/// `steps` between the foreign-key guard (which stops the script before any change while
/// enforcement is on) and its removal.
fn guarded(steps: Vec<Step>, caps: Capabilities) -> Vec<Step> {
    let guard = if caps.version >= SqliteVersion(3, 16, 0) {
        FK_GUARD
    } else {
        FK_GUARD_BEFORE_3_16
    };
    let open = step(
        guard.into(),
        "guard: stop before any change if foreign-key enforcement is on (DROP TABLE would cascade deletes)".into(),
    );
    let close = step(FK_GUARD_DROP.into(), "guard: done".into());
    std::iter::once(open)
        .chain(steps)
        .chain(std::iter::once(close))
        .collect()
}

/// Table renames, then (where native) column renames. Chains and swaps are ordered, through
/// a temporary name where they form a cycle.
fn rename_steps(
    current: &Schema,
    target: &Schema,
    changes: &Changes,
    caps: Capabilities,
) -> Vec<Step> {
    let mut steps = Vec::new();
    let table_renames: Vec<(String, String)> = changes
        .altered_tables
        .iter()
        .filter(|a| a.renamed())
        .map(|a| {
            (
                current.tables[&a.from].name.clone(),
                target.tables[&a.to].name.clone(),
            )
        })
        .collect();
    let table_taken = |n: &str| {
        let k = n.to_ascii_lowercase();
        current.tables.contains_key(&k) || target.tables.contains_key(&k)
    };
    for (o, n) in sequence_renames(&table_renames, &table_taken) {
        steps.push(step(
            format!("ALTER TABLE {} RENAME TO {}", q(&o), q(&n)),
            format!("rename table {o} to {n}"),
        ));
    }
    if caps.rename_column() {
        for a in &changes.altered_tables {
            let (c, t) = (&current.tables[&a.from], &target.tables[&a.to]);
            let renames: Vec<(String, String)> = a
                .column_renames
                .iter()
                .map(|(o, n)| {
                    let oc = c.column(o).map(|x| x.name.clone()).unwrap_or(o.clone());
                    let nc = t.column(n).map(|x| x.name.clone()).unwrap_or(n.clone());
                    (oc, nc)
                })
                .collect();
            let taken = |n: &str| {
                let k = n.to_ascii_lowercase();
                c.column(&k).is_some() || t.column(&k).is_some()
            };
            for (oc, nc) in sequence_renames(&renames, &taken) {
                steps.push(step(
                    format!(
                        "ALTER TABLE {} RENAME COLUMN {} TO {}",
                        q(&t.name),
                        q(&oc),
                        q(&nc)
                    ),
                    format!("rename column {}.{} to {}", t.name, oc, nc),
                ));
            }
        }
    }
    steps
}

/// Order renames `(old, new)` so that each new name is free when its rename runs: a chain
/// (`a→b, b→c`) runs from its end, and a cycle (`a→b, b→a`) moves one name to a temporary
/// name first. `taken` says whether a name is in use on either side (temporaries avoid it).
fn sequence_renames(
    renames: &[(String, String)],
    taken: &dyn Fn(&str) -> bool,
) -> Vec<(String, String)> {
    let same = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
    let mut pending: Vec<(String, String)> = renames.to_vec();
    let mut out = Vec::new();
    while !pending.is_empty() {
        let free = pending
            .iter()
            .position(|(_, n)| !pending.iter().any(|(o, _)| same(o, n)));
        match free {
            Some(i) => out.push(pending.remove(i)),
            None => {
                let (o, n) = pending[0].clone();
                let mut tmp = format!("_liteshift_renaming_{o}");
                while taken(&tmp) || pending.iter().any(|(a, b)| same(a, &tmp) || same(b, &tmp)) {
                    tmp.push('_');
                }
                out.push((o, tmp.clone()));
                pending[0] = (tmp, n);
            }
        }
    }
    out
}

/// The name of the rowid column to use for `t` (`rowid`, `_rowid_` or `oid`, whichever is not
/// shadowed by a real column).
fn rowid_name(t: &Table) -> Option<&'static str> {
    ["rowid", "_rowid_", "oid"]
        .into_iter()
        .find(|n| t.column(n).is_none())
}

/// Build the migration plan.
pub fn plan(
    current: &Schema,
    target: &Schema,
    changes: &Changes,
    caps: Capabilities,
    _policy: Policy,
) -> Plan {
    let mut steps: Vec<Step> = Vec::new();
    let mut checks: Vec<DataCheck> = Vec::new();
    let mut fk_off = false;
    let mut healthy: Vec<HealthCheck> = Vec::new();
    let mut caps = caps;
    caps.keeps_double_quoted_literals = target
        .tables
        .keys()
        .any(|k| target.rewritten_by_alter.contains(k) && !changes.added_tables.contains(k));

    let doomed_indexes: BTreeSet<String> = changes
        .indexes
        .iter()
        .filter(|c| c.action != Action::Add)
        .map(|c| c.name.clone())
        .collect();

    // Decide strategies first: they determine which views/triggers must be dropped.
    let mut strategies: Vec<(usize, Strategy)> = Vec::new();
    for (i, a) in changes.altered_tables.iter().enumerate() {
        let c = &current.tables[&a.from];
        let t = &target.tables[&a.to];
        strategies.push((i, table_strategy(a, c, t, current, caps, &doomed_indexes)));
    }

    // Tables whose dependents (views, triggers) must be dropped and recreated.
    let mut affected: BTreeSet<String> = changes.dropped_tables.iter().cloned().collect();
    let mut rebuilt_targets: BTreeSet<String> = BTreeSet::new();
    for (i, s) in &strategies {
        let a = &changes.altered_tables[*i];
        let structural = a.renamed()
            || !a.column_renames.is_empty()
            || !a.dropped_columns.is_empty()
            || matches!(s, Strategy::Rebuild(_));
        if structural {
            affected.insert(a.from.clone());
            affected.insert(a.to.clone());
        }
        if matches!(s, Strategy::Rebuild(_)) {
            rebuilt_targets.insert(a.to.clone());
            fk_off = true;
        }
    }
    if !changes.dropped_tables.is_empty() {
        fk_off = true;
    }

    // A native RENAME COLUMN or DROP COLUMN rewrites the double-quoted string literals of
    // every index, view and trigger in the database: those are recreated from their declared
    // text after it.
    let rewrites = (caps.rename_column()
        && changes.altered_tables.iter().any(|a| !a.column_renames.is_empty()))
        || strategies.iter().any(|(_, s)| {
            matches!(s, Strategy::Native(st) if st.iter().any(|x| x.sql.contains(" DROP COLUMN ")))
        });
    let requoted = |k: &String| rewrites && target.rewritten_by_alter.contains(k);

    // Views and triggers to drop: changed/removed ones, rewritten ones, and those depending on
    // affected tables or on dropped views (to a fixed point).
    let mut drop_views: BTreeSet<String> = changes
        .views
        .iter()
        .filter(|c| c.action != Action::Add)
        .map(|c| c.name.clone())
        .chain(current.views.keys().filter(|k| requoted(k)).cloned())
        .collect();
    let mut drop_triggers: BTreeSet<String> = changes
        .triggers
        .iter()
        .filter(|c| c.action != Action::Add)
        .map(|c| c.name.clone())
        .chain(current.triggers.keys().filter(|k| requoted(k)).cloned())
        .collect();
    let requoted_indexes: BTreeSet<String> = current
        .indexes
        .keys()
        .filter(|k| requoted(k) && !doomed_indexes.contains(*k))
        .cloned()
        .collect();
    let depends = |sql: &str, on: &BTreeSet<String>| -> bool {
        match mentioned_names(sql) {
            Some(names) => names.iter().any(|n| on.contains(n)),
            // Text the tokenizer cannot read: a case-insensitive search for each name
            // (over-approximates, never misses a dependency).
            None => {
                let lower = sql.to_ascii_lowercase();
                on.iter().any(|n| lower.contains(n.as_str()))
            }
        }
    };
    loop {
        let mut on = affected.clone();
        on.extend(drop_views.iter().cloned());
        let before = drop_views.len();
        for (k, v) in &current.views {
            if !drop_views.contains(k) && depends(&v.sql, &on) {
                drop_views.insert(k.clone());
            }
        }
        if drop_views.len() == before {
            break;
        }
    }
    let mut on = affected.clone();
    on.extend(drop_views.iter().cloned());
    for (k, t) in &current.triggers {
        if !drop_triggers.contains(k) && depends(&t.sql, &on) {
            drop_triggers.insert(k.clone());
        }
    }

    // Phase A: drop triggers, views, indexes.
    for k in &drop_triggers {
        steps.push(step(
            format!("DROP TRIGGER {}", q(&current.triggers[k].name)),
            format!("drop trigger {}", current.triggers[k].name),
        ));
    }
    let mut views_by_seq: Vec<&View> = drop_views.iter().map(|k| &current.views[k]).collect();
    views_by_seq.sort_by_key(|v| std::cmp::Reverse(v.seq));
    for v in views_by_seq {
        steps.push(step(
            format!("DROP VIEW {}", q(&v.name)),
            format!("drop view {}", v.name),
        ));
    }
    let drop_indexes = doomed_indexes.iter().chain(&requoted_indexes);
    for i in drop_indexes.map(|k| &current.indexes[k]) {
        steps.push(step(
            format!("DROP INDEX {}", q(&i.name)),
            format!("drop index {}", i.name),
        ));
    }

    // Phase B: table renames; phase C: column renames (when native).
    steps.extend(rename_steps(current, target, changes, caps));

    // Phase D: new tables.
    for k in &changes.added_tables {
        let t = &target.tables[k];
        steps.push(step(t.sql.clone(), format!("create table {}", t.name)));
    }

    // Phase E: altered tables.
    for (i, s) in strategies {
        let a = &changes.altered_tables[i];
        let (c, t) = (&current.tables[&a.from], &target.tables[&a.to]);
        checks.extend(data_checks(a, c, t));
        let rewrites = match &s {
            Strategy::Native(native) => native.iter().any(|x| x.rewrites_rows),
            Strategy::Rebuild(_) => !c.is_virtual(),
        };
        if rewrites {
            healthy.push(health_check(&c.name, caps));
        }
        match s {
            Strategy::Native(native) => steps.extend(native),
            Strategy::Rebuild(why) => {
                steps.extend(rebuild_steps(a, c, t, current, target, caps, &why));
            }
        }
    }

    // Phase F: dropped tables.
    for k in &changes.dropped_tables {
        let t = &current.tables[k];
        steps.push(Step {
            sql: format!("DROP TABLE {}", q(&t.name)),
            reason: format!("drop table {} (all its rows are lost)", t.name),
            destructive: true,
            rewrites_rows: false,
        });
    }

    // Phase G: indexes (new, changed, and every index of a rebuilt table).
    let mut idx: Vec<&Index> = target
        .indexes
        .iter()
        .filter(|(k, i)| {
            changes
                .indexes
                .iter()
                .any(|c| &c.name == *k && c.action != Action::Drop)
                || requoted_indexes.contains(*k)
                || rebuilt_targets.contains(&i.table.to_ascii_lowercase())
        })
        .map(|(_, i)| i)
        .collect();
    idx.sort_by_key(|i| i.seq);
    for i in idx {
        steps.push(step(i.sql.clone(), format!("create index {}", i.name)));
    }

    // Phase H: views; phase I: triggers (target creation order).
    let recreate = |changes: &[ObjectChange], dropped: &BTreeSet<String>, k: &String| {
        dropped.contains(k)
            || changes
                .iter()
                .any(|c| &c.name == k && c.action == Action::Add)
    };
    let mut views: Vec<&View> = target
        .views
        .iter()
        .filter(|(k, _)| recreate(&changes.views, &drop_views, k))
        .map(|(_, v)| v)
        .collect();
    views.sort_by_key(|v| v.seq);
    for v in views {
        steps.push(step(v.sql.clone(), format!("create view {}", v.name)));
    }
    let mut trgs: Vec<&Trigger> = target
        .triggers
        .iter()
        .filter(|(k, _)| recreate(&changes.triggers, &drop_triggers, k))
        .map(|(_, v)| v)
        .collect();
    trgs.sort_by_key(|v| v.seq);
    for tr in trgs {
        steps.push(step(tr.sql.clone(), format!("create trigger {}", tr.name)));
    }

    if fk_off {
        steps = guarded(steps, caps);
    }
    Plan {
        fingerprint: current.fingerprint(),
        sqlite_version: caps.version.to_string(),
        foreign_keys_off: fk_off,
        health_checks: healthy,
        checks,
        steps,
        changes: changes.summary(),
        suggestions: changes.suggestions.clone(),
        warnings: changes.warnings.clone(),
    }
}

/// Name of the current column that feeds target column `tkey`, as it is named when the
/// rebuild runs (after native renames), or `None` for a new column.
fn source_column(a: &TableAlter, c: &Table, tkey: &str, caps: Capabilities) -> Option<String> {
    if let Some((o, _)) = a.column_renames.iter().find(|(_, n)| n == tkey) {
        return if caps.rename_column() {
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

fn rebuild_steps(
    a: &TableAlter,
    c: &Table,
    t: &Table,
    current: &Schema,
    target: &Schema,
    caps: Capabilities,
    why: &[String],
) -> Vec<Step> {
    let mut out = Vec::new();
    let why = why.join("; ");
    if t.is_virtual() || c.is_virtual() {
        out.push(Step {
            sql: format!("DROP TABLE {}", q(&t.name)),
            reason: format!(
                "drop virtual table {} to recreate it ({why}); its content must be rebuilt",
                t.name
            ),
            destructive: true,
            rewrites_rows: false,
        });
        out.push(step(
            t.sql.clone(),
            format!("create virtual table {}", t.name),
        ));
        return out;
    }
    let mut tmp = format!("_liteshift_new_{}", t.name);
    while current.tables.contains_key(&tmp.to_ascii_lowercase())
        || target.tables.contains_key(&tmp.to_ascii_lowercase())
    {
        tmp.push('_');
    }
    let create = rename_create(&t.sql, &tmp).unwrap_or_else(|| t.sql.clone());
    out.push(step(
        create,
        format!("rebuild {} ({why}): create the new table", t.name),
    ));

    let mut cols = Vec::new();
    let mut exprs = Vec::new();
    let alias = t.rowid_alias().map(|x| x.key());
    let mut alias_fed = false;
    for tc in &t.columns {
        if tc.generated != Generated::No {
            continue;
        }
        match source_column(a, c, &tc.key(), caps) {
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
    let src_name = &t.name; // after RENAME TO, the current table has the target name
    let src_name = if a.renamed() { src_name } else { &c.name };
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
    if !cols.is_empty() {
        out.push(Step {
            sql: format!(
                "INSERT INTO {} ({}) SELECT {} FROM {}",
                q(&tmp),
                cols.join(", "),
                exprs.join(", "),
                q(src_name)
            ),
            reason,
            destructive: !lost.is_empty() || !became_generated.is_empty(),
            rewrites_rows: true,
        });
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
    });
    out.push(step(
        format!("ALTER TABLE {} RENAME TO {}", q(&tmp), q(&t.name)),
        format!("rebuild {}: rename the new table into place", t.name),
    ));
    out
}

/// Checks of existing rows against the constraints the target adds to an altered table.
/// They read the current table as it is before any step runs.
fn data_checks(a: &TableAlter, c: &Table, t: &Table) -> Vec<DataCheck> {
    let mut out = Vec::new();
    if c.is_virtual() || t.is_virtual() {
        return out;
    }
    // Project current rows into the target's shape (target column names).
    let mut proj = Vec::new();
    let rid = if c.has_rowid() { rowid_name(c) } else { None };
    if let Some(r) = rid {
        proj.push(format!("{r} AS \"__liteshift_rowid\""));
    }
    let mut src_of: BTreeMap<String, Option<String>> = BTreeMap::new();
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
        let expr = match &src {
            Some(s) => q(s),
            None => tc
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
    let row_label = |cols: &[String]| -> String {
        let mut parts: Vec<String> = Vec::new();
        if rid.is_some() {
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
    };

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
        if was_nn || filled {
            continue;
        }
        out.push(DataCheck {
            constraint: "NOT NULL".into(),
            table: t.name.clone(),
            column: Some(tc.name.clone()),
            sql: format!(
                "SELECT {} AS example FROM {from} WHERE {} IS NULL",
                row_label(&[]),
                q(&tc.name)
            ),
        });
    }
    // A column that becomes the rowid (INTEGER PRIMARY KEY) must hold integers: SQLite fails
    // the copy with "datatype mismatch" otherwise.
    if let Some(alias) = t.rowid_alias() {
        let src = src_of.get(&alias.key()).cloned().flatten();
        let already = src
            .as_ref()
            .and_then(|s| c.rowid_alias().map(|ca| ca.name.eq_ignore_ascii_case(s)))
            .unwrap_or(false);
        if src.is_some() && !already {
            let x = q(&alias.name);
            out.push(DataCheck {
                constraint: "INTEGER PRIMARY KEY (values must be integers)".into(),
                table: t.name.clone(),
                column: Some(alias.name.clone()),
                sql: format!(
                    "SELECT {} AS example FROM {from} WHERE {x} IS NOT NULL AND NOT (typeof({x}) = 'integer' OR (typeof({x}) = 'real' AND {x} = CAST({x} AS INTEGER)) OR (typeof({x}) = 'text' AND CAST(CAST({x} AS INTEGER) AS TEXT) = trim({x})))",
                    row_label(std::slice::from_ref(&alias.name))
                ),
            });
        }
    }
    // CHECK constraints that are new (after renames).
    for k in &a.checks_added {
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
            column: k
                .column
                .as_ref()
                .and_then(|c| t.column(c))
                .map(|x| x.name.clone()),
            sql: format!(
                "SELECT {} AS example FROM {from} WHERE NOT ({})",
                row_label(&cols),
                k.sql
            ),
        });
    }
    // UNIQUE keys (and the primary key) that are new.
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
            if cur.contains(&key) {
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
