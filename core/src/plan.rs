//! `plan(current, target, changes, capabilities, policy) -> Plan`: how to carry the changes out.
//!
//! Architecture invariant: the planner is pure. It reads two [`Schema`] values and the
//! [`Changes`] between them, does no I/O, and iterates only ordered maps, so the same inputs
//! give a byte-identical plan. [`table_strategy`] is the one place that decides between native
//! `ALTER TABLE` statements and a table rebuild.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::diff::{Action, Changes, ObjectChange};
use crate::model::*;
use crate::sqltext::{mentioned_names, quote_ident as q};

mod checks;
mod rebuild;
mod renames;
mod strategy;

use checks::{data_checks, health_check};
use rebuild::rebuild_steps;
use renames::rename_steps;
pub use strategy::{table_strategy, Strategy};

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

fn step(sql: String, reason: String) -> Step {
    Step {
        sql,
        reason,
        destructive: false,
        rewrites_rows: false,
    }
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
