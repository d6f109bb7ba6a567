//! `plan(current, target, changes, capabilities, policy) -> Plan`: how to carry the changes out.
//!
//! Architecture invariant: the planner is pure. It reads two [`Schema`] values and the
//! [`Changes`] between them, does no I/O, and iterates only ordered maps, so the same inputs
//! give a byte-identical plan. [`table_strategy`] is the one place that decides between native
//! `ALTER TABLE` statements and a table rebuild.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::diff::{Action, Changes};
use crate::model::*;
use crate::sqltext::quote_ident as q;

mod checks;
mod dependents;
mod enforced;
mod fkscope;
mod keyed;
mod online;
mod rebuild;
mod renames;
mod strategy;

use checks::{data_checks, health_check};
use dependents::Dependents;
pub use keyed::KeyedIndex;
pub use online::{abandon_sql, free_sql, Online, OnlineTable};
use rebuild::{enforced_old_drop, rebuild_steps, Swap};
use renames::rename_steps;
pub use strategy::{table_strategy, RebuildReason, Strategy};
// Where plans have always named it.
pub use crate::version::SqliteVersion;

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
    /// The connection may edit `sqlite_schema` (`PRAGMA writable_schema`, not blocked by
    /// `SQLITE_DBCONFIG_DEFENSIVE`; SQLite 3.40+, which reloads the schema on `RESET`): an
    /// online rebuild then builds the table's indexes during the copy under temporary names,
    /// and the swap renames them. Asked of the host when an online plan is made.
    #[serde(skip)]
    pub writable_schema: bool,
    /// `ALTER TABLE t RENAME TO …` under `PRAGMA legacy_alter_table = ON`, with foreign-key
    /// enforcement off, leaves every other table's `REFERENCES t`, view and trigger naming
    /// `t`: a blocking rebuild then renames the old table away and creates the new one under
    /// its declared name, so that SQLite stores the declared statement byte for byte
    /// (otherwise the new table is renamed into place, and stored as `CREATE TABLE "t"(…)`).
    /// By default from 3.25.0, where the pragma exists; false for a host that ignores it.
    #[serde(skip)]
    pub rename_keeps_references: bool,
    /// Foreign-key enforcement is on and cannot be switched off (Cloudflare D1, rqlite
    /// launched with `-fk`, libSQL over HTTP; probed on the host: `PRAGMA foreign_keys = OFF`
    /// read back). `DROP TABLE` of a parent then fires its children's `ON DELETE` actions, so
    /// a rebuild takes every table that references the rebuilt one along, transitively (see
    /// `enforced`), and the plan never asks for enforcement off.
    #[serde(skip)]
    pub foreign_keys_enforced: bool,
}

impl Capabilities {
    pub fn new(version: SqliteVersion) -> Self {
        Capabilities {
            version,
            keeps_double_quoted_literals: false,
            writable_schema: false,
            rename_keeps_references: version >= SqliteVersion(3, 25, 0),
            foreign_keys_enforced: false,
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
    /// Rebuild tables online where possible (see [`Online`]): other connections keep writing
    /// while the rows are copied.
    pub online: bool,
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
    /// What it costs in the size of the data: O(1), or the rows of a table it rewrites,
    /// reads or frees (with estimates when the plan was made from a database).
    pub cost: Cost,
    /// What it is, for the planner's later passes, which never read a step's SQL to tell.
    #[serde(skip)]
    pub kind: StepKind,
}

/// What a step is, where a later pass of the planner must know (see [`Step::kind`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum StepKind {
    #[default]
    Other,
    /// A rebuild's `CREATE TABLE` of the new table.
    RebuildCreate,
    /// A rebuild's copy of the rows into the new table.
    RebuildCopy,
    /// A rebuild's `DROP TABLE` of the old table.
    DropOldTable,
    /// `CREATE INDEX` of the target's index with this name key.
    CreateIndex(String),
    /// `ALTER TABLE … DROP COLUMN` (which re-quotes the double-quoted literals of every object
    /// in the database).
    DropColumn,
}

/// What a step costs, in the size of the database's data. Tables are named as they are
/// before the migration (where the estimate is read).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Cost {
    /// Changes the schema only: the same time on an empty table as on a billion rows.
    Constant,
    /// Writes every row of `table` again (a rebuild's copy, an `UPDATE`, `DROP COLUMN`).
    Rewrite(TableSize),
    /// Reads every row of `table` (an index build, a constraint SQLite verifies).
    Scan(TableSize),
    /// Frees every page of `table` (`DROP TABLE`).
    Free(TableSize),
}

/// The table a step's cost grows with, and its size when the plan was made from a database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableSize {
    pub table: String,
    /// Rows, estimated without scanning: `max(rowid)`, or `sqlite_stat1`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rows: Option<u64>,
    /// Bytes: `rows` times the average record of a few rows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
}

impl TableSize {
    pub fn of(table: impl Into<String>) -> TableSize {
        TableSize {
            table: table.into(),
            rows: None,
            bytes: None,
        }
    }
}

/// A table's estimated size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Estimate {
    pub rows: u64,
    pub bytes: u64,
}

impl Cost {
    fn sized(&self) -> Option<&TableSize> {
        match self {
            Cost::Constant => None,
            Cost::Rewrite(s) | Cost::Scan(s) | Cost::Free(s) => Some(s),
        }
    }
    /// The table whose size the step's time grows with.
    pub fn table(&self) -> Option<&str> {
        self.sized().map(|s| s.table.as_str())
    }
    pub fn estimate(&self) -> Option<Estimate> {
        let s = self.sized()?;
        Some(Estimate {
            rows: s.rows?,
            bytes: s.bytes?,
        })
    }
    pub(crate) fn set_estimate(&mut self, e: Estimate) {
        if let Cost::Rewrite(s) | Cost::Scan(s) | Cost::Free(s) = self {
            s.rows = Some(e.rows);
            s.bytes = Some(e.bytes);
        }
    }
}

/// A check of existing rows against a constraint of the target, run inside the transaction
/// before any step. `sql` selects one text column `example` per offending row (or group).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DataCheck {
    pub constraint: String,
    pub table: String,
    /// SQLite itself stops the step that would write a violating row (the table states no
    /// `ON CONFLICT` clause), so apply runs the check only if a step fails: the refusal still
    /// names every violating row, and a migration of valid data does not scan for them.
    pub deferred: bool,
    pub column: Option<String>,
    pub sql: String,
}

/// A table whose foreign keys the migration can break: `PRAGMA foreign_key_check` of it runs
/// before the steps (its violations then are not the migration's) and after (any new one is
/// refused).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FkCheck {
    /// The table's name before the migration (`None`: it is created by it, empty).
    pub before: Option<String>,
    /// Its name after.
    pub after: String,
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
    /// Fingerprint of the stored schema the plan was computed from
    /// ([`Schema::stored_fingerprint`]): apply refuses the plan when the database's differs.
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
    /// The tables whose foreign keys are checked before and after the steps; `None`: the
    /// whole database (when a definition could not be read).
    pub fk_checks: Option<Vec<FkCheck>>,
    /// The tables rebuilt online, and what runs before `steps` (which are then the swap).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub online: Option<Online>,
    pub steps: Vec<Step>,
    /// One line per change, for people.
    pub changes: Vec<String>,
    pub suggestions: Vec<String>,
    pub warnings: Vec<String>,
    /// For a script run as one batch (Cloudflare D1: [`crate::Wrapping::Batch`]): the catalog
    /// signatures its guards check before and after the steps (the `batch` module).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch: Option<crate::batch::BatchGuards>,
    /// Foreign-key enforcement stays on while the plan runs (the host cannot switch it off):
    /// the tables that reference a rebuilt or dropped table are rebuilt with it.
    pub foreign_keys_enforced: bool,
    /// What the database holds and the declaration does not, kept because the caller asked
    /// (`keep_undeclared`), one line each: "table extra", "column t.old", "index t_old".
    pub kept: Vec<String>,
}

/// Statement that switches foreign-key enforcement off before the transaction.
pub const FK_OFF: &str = "PRAGMA foreign_keys = OFF";
/// Statement that restores it after the transaction.
pub const FK_ON: &str = "PRAGMA foreign_keys = ON";
/// Statement that opens the transaction.
pub const BEGIN: &str = "BEGIN IMMEDIATE";
/// The foreign-key verification of the whole database (when the plan cannot name the
/// tables whose foreign keys it can break).
pub const FK_CHECK: &str = "PRAGMA foreign_key_check";

/// Before a rebuild renames its old table away: other tables' references stay as they are.
pub const LEGACY_ALTER_ON: &str = "PRAGMA legacy_alter_table = ON";
/// After it: SQLite's default again (apply restores the connection's own setting).
pub const LEGACY_ALTER_OFF: &str = "PRAGMA legacy_alter_table = OFF";

/// The foreign-key verification of one table.
pub fn fk_check_sql(table: &str) -> String {
    format!("{FK_CHECK}({})", q(table))
}
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
    /// Every step in the order it runs: an online rebuild's prepare steps and copies, then
    /// `steps`.
    pub fn all_steps(&self) -> impl Iterator<Item = &Step> {
        self.online
            .iter()
            .flat_map(|o| o.prepare.iter().chain(o.tables.iter().map(|t| &t.copy)))
            .chain(self.steps.iter())
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
        cost: Cost::Constant,
        kind: StepKind::Other,
    }
}

/// The name, before the migration, of the table the target's table `key` is made from; `None`
/// for a new table (empty when its steps run).
fn current_table_of(current: &Schema, changes: &Changes, key: &str) -> Option<String> {
    let key = key.to_ascii_lowercase();
    if changes.added_tables.contains(&key) {
        return None;
    }
    let from = changes
        .altered_tables
        .iter()
        .find(|a| a.to == key)
        .map_or(key.as_str(), |a| a.from.as_str());
    current.tables.get(from).map(|t| t.name.clone())
}

/// An altered table's step with its cost on `table` (its name before the migration, where the
/// estimate is read): a step that rewrites rows rewrites `table`'s; one its builder marked as
/// reading (a verification) or freeing (a rebuild's `DROP TABLE`) does that to `table`.
fn with_cost_on(st: Step, table: &str) -> Step {
    let size = TableSize::of(table);
    let cost = match st.cost {
        _ if st.rewrites_rows => Cost::Rewrite(size),
        Cost::Scan(_) => Cost::Scan(size),
        Cost::Free(_) => Cost::Free(size),
        Cost::Rewrite(_) | Cost::Constant => Cost::Constant,
    };
    Step { cost, ..st }
}

/// Whether `a`'s column renames run natively (`RENAME COLUMN`, before everything else): not
/// when a declared value must read the columns by their old names, nor for a column named like
/// the rowid, which SQLite 3.54 refuses to rename (the rebuild renames them).
fn native_column_renames(a: &crate::diff::TableAlter, caps: Capabilities) -> bool {
    caps.rename_column() && a.values.is_empty() && !strategy::renames_rowid_name(a)
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

/// A new table, from its declared text.
fn create_table(t: &Table) -> Step {
    step(t.sql.clone(), format!("create table {}", t.name))
}

impl Plan {
    /// The plan of a database already at the declared schema, told without reading either
    /// schema's model (the in-sync start-up, module `unchanged`): no steps, no checks, and none
    /// of what only a plan with steps needs (warnings, foreign-key scopes).
    pub fn in_sync(fingerprint: String, caps: Capabilities) -> Plan {
        Plan {
            fingerprint,
            sqlite_version: caps.version.to_string(),
            foreign_keys_off: false,
            health_checks: Vec::new(),
            checks: Vec::new(),
            fk_checks: Some(Vec::new()),
            online: None,
            steps: Vec::new(),
            changes: Vec::new(),
            suggestions: Vec::new(),
            warnings: Vec::new(),
            batch: None,
            foreign_keys_enforced: caps.foreign_keys_enforced,
            kept: Vec::new(),
        }
    }
}

/// Build the migration plan: the strategies decided first (they determine which views and
/// triggers must be dropped), then the steps in their phases (`Planner::steps`), the
/// online rebuild's phases, the summary, and the foreign-key guard where enforcement must be
/// off.
pub fn plan(
    current: &Schema,
    target: &Schema,
    changes: &Changes,
    caps: Capabilities,
    policy: Policy,
) -> Plan {
    let mut caps = caps;
    caps.keeps_double_quoted_literals = keeps_double_quoted_literals(target, changes);
    let doomed_indexes = doomed_indexes(changes);
    // Decide strategies first: they determine which views/triggers must be dropped.
    let strategies = strategies(current, target, changes, caps, &doomed_indexes);
    let mut warnings = changes.warnings.clone();
    let mut policy = policy;
    // Without the `online` feature no table is rebuilt online, and that code is left out.
    policy.online &= cfg!(feature = "online");
    // Where enforcement stays on, the tables that reference a rebuilt or dropped one are
    // rebuilt with it (see `enforced`).
    let joined;
    let (changes, strategies) = if caps.foreign_keys_enforced {
        if policy.online {
            policy.online = false;
            warnings.push("online: not on this host, where foreign-key enforcement stays on: every rebuild runs in the one transaction".into());
        }
        joined =
            enforced::with_referencing(current, target, changes, strategies, caps, &doomed_indexes);
        (&joined.0, joined.1)
    } else {
        (changes, strategies)
    };
    let mut deps = Dependents::find(current, target, changes, &strategies, caps, doomed_indexes);
    deps.fk_off &= !caps.foreign_keys_enforced;

    let mut planner = Planner::new(current, target, caps, policy.online);
    let mut steps = planner.steps(&deps, changes, strategies);
    let Planner {
        checks,
        healthy,
        warnings: altered_warnings,
        mut online_tables,
        mut online_prepare,
        ..
    } = planner;
    warnings.extend(altered_warnings);
    // The indexes of a table rebuilt online: built on the shadow during the copy where the
    // schema can be edited, else in the swap (holding the write lock while they read it).
    // (None without the `online` feature: that code is then left out of the build.)
    if cfg!(feature = "online") {
        online_indexes(
            &mut steps,
            target,
            caps,
            &mut online_tables,
            &mut online_prepare,
            &mut warnings,
        );
    }
    let online = online_phases(&mut steps, current, online_tables, online_prepare);
    let summary = summary(current, changes, online.as_ref());
    let fk_off = deps.fk_off;
    if fk_off {
        steps = guarded(steps, caps);
    }
    Plan {
        fingerprint: current.stored_fingerprint(),
        sqlite_version: caps.version.to_string(),
        foreign_keys_off: fk_off,
        health_checks: healthy,
        checks,
        fk_checks: fkscope::fk_scope(current, target, changes),
        online,
        steps,
        changes: summary,
        suggestions: changes.suggestions.clone(),
        warnings,
        batch: None,
        foreign_keys_enforced: caps.foreign_keys_enforced,
        kept: Vec::new(),
    }
}

/// Whether a table the migration keeps has a double-quoted literal that `RENAME COLUMN` or
/// `DROP COLUMN` would re-quote ([`Capabilities::keeps_double_quoted_literals`]). New tables
/// are created after the native RENAME COLUMNs (phase C) and, when SQLite would re-quote
/// them, after the native DROP COLUMNs (phase E2): only kept tables count.
fn keeps_double_quoted_literals(target: &Schema, changes: &Changes) -> bool {
    target
        .tables
        .keys()
        .any(|k| target.rewritten_by_alter.contains(k) && !changes.added_tables.contains(k))
}

/// The indexes the migration drops or changes.
fn doomed_indexes(changes: &Changes) -> BTreeSet<String> {
    changes
        .indexes
        .iter()
        .filter(|c| c.action != Action::Add)
        .map(|c| c.name.clone())
        .collect()
}

/// Each altered table's strategy, in the order of `changes.altered_tables`.
fn strategies(
    current: &Schema,
    target: &Schema,
    changes: &Changes,
    caps: Capabilities,
    doomed_indexes: &BTreeSet<String>,
) -> Vec<Strategy> {
    changes
        .altered_tables
        .iter()
        .map(|a| {
            let (c, t) = (&current.tables[&a.from], &target.tables[&a.to]);
            table_strategy(a, c, t, current, caps, doomed_indexes)
        })
        .collect()
}

/// One plan's making: its inputs, and what the phases gather beyond the steps (checks,
/// warnings, the tables rebuilt online, and under enforcement the steps that go first and
/// last).
struct Planner<'a> {
    current: &'a Schema,
    target: &'a Schema,
    caps: Capabilities,
    /// Rebuilds run online where they can (`Policy::online`, with the feature).
    online: bool,
    checks: Vec<DataCheck>,
    healthy: Vec<HealthCheck>,
    warnings: Vec<String>,
    /// The tables rebuilt online, and what the prepare phase runs for them.
    online_tables: Vec<OnlineTable>,
    online_prepare: Vec<Step>,
    /// Under enforcement, the old tables renamed away and the new ones created, before any
    /// copy (after the renames, phase B); and the old tables' drops, last (phase F).
    rename_aways: Vec<Step>,
    rename_aways_created: Vec<Step>,
    last_drops: Vec<(String, Step)>,
}

impl<'a> Planner<'a> {
    fn new(current: &'a Schema, target: &'a Schema, caps: Capabilities, online: bool) -> Self {
        Planner {
            current,
            target,
            caps,
            online,
            checks: Vec::new(),
            healthy: Vec::new(),
            warnings: Vec::new(),
            online_tables: Vec::new(),
            online_prepare: Vec::new(),
            rename_aways: Vec::new(),
            rename_aways_created: Vec::new(),
            last_drops: Vec::new(),
        }
    }

    /// The steps, in their phases: drop dependents (A), table and column renames (B, C), new
    /// tables (D), altered tables (E), new tables SQLite would re-quote (E2), dropped tables
    /// and the old tables left to drop last (F), recreate dependents (G, H, I).
    fn steps(
        &mut self,
        deps: &Dependents,
        changes: &Changes,
        strategies: Vec<Strategy>,
    ) -> Vec<Step> {
        let (current, target, caps) = (self.current, self.target, self.caps);
        // Phase A: drop triggers, views, indexes.
        let mut steps = deps.drop_steps(current);
        // Phase B: table renames; phase C: column renames (when native).
        steps.extend(rename_steps(current, target, changes, caps));
        // Where enforcement stays on, every rebuilt table is renamed away here, before any table
        // that names it is created (SQLite would point that name at the old table), and every new
        // one is created before any copy (a row's foreign key needs its parent table).
        let rename_aways_at = steps.len();
        // Phase D: new tables; those SQLite's native DROP COLUMN would re-quote come after the
        // altered tables (phase E2), as new views, triggers and indexes do.
        let drops_natively = dependents::drops_columns_natively(&strategies);
        let (requoted_new, new_tables): (Vec<&String>, Vec<&String>) = changes
            .added_tables
            .iter()
            .partition(|k| drops_natively && target.rewritten_by_alter.contains(*k));
        steps.extend(
            new_tables
                .into_iter()
                .map(|k| create_table(&target.tables[k])),
        );
        // Phase E: altered tables.
        for (a, s) in changes.altered_tables.iter().zip(strategies) {
            let table_steps = self.altered_table(a, s);
            steps.extend(table_steps);
        }
        let mut rename_aways = std::mem::take(&mut self.rename_aways);
        rename_aways.append(&mut self.rename_aways_created);
        steps.splice(rename_aways_at..rename_aways_at, rename_aways);
        // Phase E2: new tables with a double-quoted literal, after any native DROP COLUMN.
        steps.extend(
            requoted_new
                .into_iter()
                .map(|k| create_table(&target.tables[k])),
        );
        // Phase F: dropped tables, and the old tables of rebuilds under enforcement.
        let last_drops = std::mem::take(&mut self.last_drops);
        drops_last(&mut steps, current, changes, caps, last_drops);
        // Phases G, H, I: indexes, views, triggers.
        steps.extend(recreated_dependents(deps, current, target, changes));
        steps
    }

    /// Phase E for the altered table `a`, by its strategy `s`: its data checks, a health check
    /// where its rows are rewritten in the transaction, and its steps — native, the swap of an
    /// online rebuild, or a blocking rebuild.
    fn altered_table(&mut self, a: &crate::diff::TableAlter, s: Strategy) -> Vec<Step> {
        let (current, target, caps) = (self.current, self.target, self.caps);
        let (c, t) = (&current.tables[&a.from], &target.tables[&a.to]);
        self.checks.extend(data_checks(a, c, t));
        let rewrites = match &s {
            Strategy::Native(native) => native.iter().any(|x| x.rewrites_rows),
            Strategy::Rebuild(_) => !c.is_virtual(),
        };
        let online = match (&s, cfg!(feature = "online") && self.online) {
            (Strategy::Rebuild(_), true) => self.online_rebuild(a, c, t),
            _ => None,
        };
        if rewrites && online.is_none() {
            self.healthy.push(health_check(&c.name, caps));
        }
        let table_steps = match s {
            Strategy::Native(native) => native,
            Strategy::Rebuild(why) => match online {
                // The shadow is created and filled before the swap, which renames it in.
                Some((ot, prepare)) => {
                    let all = rebuild_steps(a, c, t, current, target, caps, &why, Swap::NewIn);
                    self.online_swap(all, ot, prepare, t)
                }
                None => {
                    let swap = Swap::blocking(c, current, caps);
                    let all = rebuild_steps(a, c, t, current, target, caps, &why, swap);
                    self.blocking_rebuild(all, swap, a, c, t)
                }
            },
        };
        table_steps
            .into_iter()
            .map(|st| with_cost_on(st, &c.name))
            .collect()
    }

    /// The online rebuild of `c` into `t` (its table and prepare step), or `None` with a
    /// warning saying why it is rebuilt in the final transaction.
    fn online_rebuild(
        &mut self,
        a: &crate::diff::TableAlter,
        c: &Table,
        t: &Table,
    ) -> Option<(OnlineTable, Step)> {
        match online::not_online(a, c, t, &self.checks) {
            None => Some(online::online_table(
                a,
                c,
                t,
                self.current,
                self.target,
                self.caps,
                self.online_tables.len() + 1,
            )),
            Some(why) => {
                self.warnings.push(format!(
                    "online: {} is rebuilt in the final transaction, holding the write lock while its rows are copied: {why}",
                    t.name
                ));
                None
            }
        }
    }

    /// The swap of an online rebuild, from the rebuild's steps `all`: the shadow was created
    /// and filled before, so the swap has neither step; the old table is renamed away rather
    /// than dropped, where it can be; and the declared text is stored over the one `RENAME`
    /// wrote.
    fn online_swap(
        &mut self,
        all: Vec<Step>,
        ot: OnlineTable,
        prepare: Step,
        t: &Table,
    ) -> Vec<Step> {
        // The old table renamed away rather than dropped, where it can be.
        let away = online::old_away(&ot, self.current);
        // The shadow was created and filled before: the swap has neither.
        let swap = all
            .into_iter()
            .filter(|st| !matches!(st.kind, StepKind::RebuildCreate | StepKind::RebuildCopy))
            .map(|st| match &away {
                Some(away) if st.kind == StepKind::DropOldTable => away.clone(),
                _ => st,
            });
        let swap = swap.chain(online::declared_text(t, self.caps)).collect();
        let mut ot = ot;
        if away.is_none() {
            ot.old = None;
        }
        self.online_tables.push(ot);
        self.online_prepare.push(prepare);
        swap
    }

    /// A blocking rebuild's steps `all`; where enforcement stays on (`OldAwayEnforced`), its
    /// rename-away and create go first, and the old table's drop last.
    fn blocking_rebuild(
        &mut self,
        mut all: Vec<Step>,
        swap: Swap,
        a: &crate::diff::TableAlter,
        c: &Table,
        t: &Table,
    ) -> Vec<Step> {
        if swap == Swap::OldAwayEnforced && !c.is_virtual() {
            let drop = enforced_old_drop(a, c, t, self.current, self.target, self.caps);
            self.last_drops
                .push((a.from.clone(), with_cost_on(drop, &c.name)));
            self.rename_aways.push(with_cost_on(all.remove(0), &c.name));
            self.rename_aways_created
                .push(with_cost_on(all.remove(0), &c.name));
        }
        all
    }
}

/// Phase F: the dropped tables; where enforcement stays on, with the old tables of the
/// rebuilds (`last_drops`), each before the tables it references, foreign keys deferred.
fn drops_last(
    steps: &mut Vec<Step>,
    current: &Schema,
    changes: &Changes,
    caps: Capabilities,
    mut last_drops: Vec<(String, Step)>,
) {
    for k in &changes.dropped_tables {
        let t = &current.tables[k];
        last_drops.push((
            k.clone(),
            Step {
                sql: format!("DROP TABLE {}", q(&t.name)),
                reason: format!("drop table {} (all its rows are lost)", t.name),
                destructive: true,
                rewrites_rows: false,
                cost: Cost::Free(TableSize::of(t.name.clone())),
                kind: StepKind::Other,
            },
        ));
    }
    if caps.foreign_keys_enforced && !last_drops.is_empty() {
        steps.insert(0, enforced::defer_step());
        steps.extend(enforced::children_first_drops(current, last_drops));
    } else {
        steps.extend(last_drops.into_iter().map(|(_, st)| st));
    }
}

/// Phases G, H, I: the indexes, views and triggers created or recreated, each costing a scan
/// of its table where it reads one that exists before the migration.
fn recreated_dependents(
    deps: &Dependents,
    current: &Schema,
    target: &Schema,
    changes: &Changes,
) -> Vec<Step> {
    deps.create_steps(target, changes)
        .into_iter()
        .map(|st| {
            let on = st
                .cost
                .table()
                .and_then(|t| current_table_of(current, changes, t));
            match on {
                Some(table) => Step {
                    cost: Cost::Scan(TableSize::of(table)),
                    ..st
                },
                None => Step {
                    cost: Cost::Constant,
                    ..st
                },
            }
        })
        .collect()
}

/// The indexes of the tables rebuilt online (`online_tables`): built in key order after the
/// copy, or on the shadow during the copy and renamed in the swap, where the schema can be
/// edited; otherwise in the swap, with a warning (it holds the write lock while it reads).
fn online_indexes(
    steps: &mut [Step],
    target: &Schema,
    caps: Capabilities,
    online_tables: &mut [OnlineTable],
    online_prepare: &mut Vec<Step>,
    warnings: &mut Vec<String>,
) {
    for st in steps.iter_mut() {
        let Cost::Scan(size) = &st.cost else { continue };
        let Some(n) = online_tables.iter().position(|o| o.table == size.table) else {
            continue;
        };
        let StepKind::CreateIndex(key) = &st.kind else {
            continue;
        };
        let Some(index) = target.indexes.get(key) else {
            continue;
        };
        let table = target
            .tables
            .values()
            .find(|t| t.name.eq_ignore_ascii_case(&index.table));
        let tmp = format!("_liteshift_online_{}_i{}", n + 1, online_prepare.len());
        let keyed = table
            .filter(|_| caps.writable_schema)
            .and_then(|t| keyed::keyed_index(index, t, &online_tables[n], &tmp));
        if let Some((k, prepare, relabel)) = keyed {
            online_tables[n].add_keyed(k);
            online_prepare.push(prepare);
            *st = relabel;
            continue;
        }
        let index = index.name.clone();
        match online::prebuilt_index(st, &index, &online_tables[n], n + 1, online_prepare.len(), caps) {
            Some((prepare, rename)) => {
                online_prepare.push(prepare);
                *st = rename;
            }
            None => warnings.push(format!(
                "online: index {index} is built in the final transaction, holding the write lock while it reads every row of {}{}",
                size.table,
                if caps.writable_schema { "" } else { " (this SQLite cannot rename an index built beforehand)" }
            )),
        }
    }
}

/// The online rebuild's phases around `steps`, which become its swap: the drains first, the
/// registry's drop (or its update, naming the old tables left to free) last; and the prepare
/// steps and copies, or, where an interrupted run of this same plan left them, its copy
/// continued. Without tables rebuilt online, `steps` start by removing any leftovers.
fn online_phases(
    steps: &mut Vec<Step>,
    current: &Schema,
    online_tables: Vec<OnlineTable>,
    online_prepare: Vec<Step>,
) -> Option<Online> {
    let cleanup = online::cleanup_steps(&current.leftovers);
    if !cfg!(feature = "online") || online_tables.is_empty() {
        steps.splice(0..0, cleanup);
        return None;
    }
    steps.splice(0..0, online::swap_steps(&online_tables));
    steps.push(
        online::registry_after_swap(&online_tables).unwrap_or_else(|| {
            step(
                format!("DROP TABLE {}", q(ONLINE_REGISTRY)),
                "online rebuild: done".into(),
            )
        }),
    );
    let prepare: Vec<Step> = std::iter::once(online::registry_step())
        .chain(online_prepare)
        .collect();
    // What an interrupted run of this same plan left: its copy continues.
    Some(match online::resumed(current, &prepare, &online_tables) {
        Some(tables) => Online {
            prepare: Vec::new(),
            tables,
            continues: current.leftovers.clone(),
        },
        None => Online {
            prepare: cleanup.into_iter().chain(prepare).collect(),
            tables: online_tables,
            continues: Vec::new(),
        },
    })
}

/// The plan's summary: the changes, after a first line for an interrupted online rebuild's
/// leftovers (its copy resumed, or what is removed).
fn summary(current: &Schema, changes: &Changes, online: Option<&Online>) -> Vec<String> {
    let mut summary = changes.summary();
    let resumes: Vec<&OnlineTable> = online
        .iter()
        .flat_map(|o| o.tables.iter().filter(|t| t.resumed.is_some()))
        .collect();
    if !resumes.is_empty() {
        summary.insert(
            0,
            format!(
                "resume the interrupted online rebuild of {} (its registry, triggers and copy are this plan's)",
                resumes
                    .iter()
                    .map(|t| match t.resumed.as_ref().and_then(|r| r.copied) {
                        Some(c) => format!("{} after rowid {c}", t.table),
                        None => format!("{} from its first row", t.table),
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
    } else if !current.leftovers.is_empty() {
        let theirs = if online.is_some() {
            " (not what this plan would create: it starts over)"
        } else {
            ""
        };
        summary.insert(
            0,
            format!(
                "remove what an interrupted online rebuild left{theirs}: {}",
                current
                    .leftovers
                    .iter()
                    .map(|l| format!("{} {}", l.kind, l.name))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
    }
    summary
}
