//! Kotlin (JVM, Android) and Swift bindings of liteshift, with UniFFI (namespace `liteshift`:
//! Kotlin package `uniffi.liteshift`, Swift module `liteshift`).
//!
//! The app implements [`SqliteHost`] over the connection it already holds — Room's
//! `SupportSQLiteDatabase`, GRDB's `Database`, a JDBC `Connection` (`bindings/kotlin/` and
//! `bindings/swift/` ship those, small and documented) — and calls [`migrate`] with it; every
//! statement of the core's one migration sequence then runs on that connection and its SQLite.
//!
//! This crate owns the foreign interface and the conversion of values between it and the
//! front-end contract (`liteshift-contract`: the options, plan, report, error and progress
//! every binding presents, with one name and one unit for each).
//! It must never contain a SQLite (a second SQLite on the app's file is unsafe in one process
//! and would plan for the wrong version) nor decide anything about a migration.

use std::collections::BTreeMap;
use std::collections::HashMap;
use std::sync::Arc;

use liteshift_contract::{self as contract, Caller, Category, FrontEnd};

uniffi::setup_scaffolding!("liteshift");

// ---------------------------------------------------------------------------------------------
// The host the app implements

/// A SQLite value, as a query returns it.
#[derive(Debug, Clone, PartialEq, uniffi::Enum)]
pub enum SqlValue {
    Null,
    Integer { value: i64 },
    Real { value: f64 },
    Text { value: String },
    Blob { value: Vec<u8> },
}

/// What a host reports when its SQLite fails a statement.
#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum HostError {
    /// `code` is SQLite's (extended) result code when the driver gives it (`SQLiteException`'s
    /// `resultCode`, `DatabaseError.extendedResultCode`); `detail` is SQLite's message, once.
    #[error("{detail}")]
    Sqlite { code: Option<i32>, detail: String },
}

impl From<uniffi::UnexpectedUniFFICallbackError> for HostError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        HostError::Sqlite {
            code: None,
            detail: e.reason,
        }
    }
}

/// The app's SQLite connection, as liteshift drives it. Implement it over the connection the
/// app already holds; liteshift runs its own transaction on it and leaves it as it found it.
#[uniffi::export(with_foreign)]
pub trait SqliteHost: Send + Sync {
    /// Run one complete SQL statement; rows it returns are discarded.
    fn execute(&self, sql: String) -> Result<(), HostError>;
    /// Run one query and return all its rows, each a list of values in column order.
    fn query(&self, sql: String) -> Result<Vec<Vec<SqlValue>>, HostError>;
    /// Open a fresh, empty in-memory database on the same SQLite library (the declared schema
    /// is loaded there, so the app's SQLite validates it). liteshift calls `release` on it
    /// when done.
    fn scratch(&self) -> Result<Arc<dyn SqliteHost>, HostError>;
    /// Whether the connection is inside a transaction.
    fn in_transaction(&self) -> Result<bool, HostError>;
    /// Close the connection: called only on connections `scratch` returned. (Not `close`,
    /// which the generated Kotlin class has already, from `AutoCloseable`.)
    fn release(&self);
}

/// A foreign host as the core's [`liteshift::Host`].
struct Foreign {
    host: Arc<dyn SqliteHost>,
    scratch: bool,
}

fn to_core(e: HostError) -> liteshift::HostError {
    let HostError::Sqlite { code, detail } = e;
    liteshift::HostError {
        code,
        message: detail,
        offset: None,
    }
}

impl liteshift::Host for Foreign {
    fn execute(&self, sql: &str) -> Result<(), liteshift::HostError> {
        self.host.execute(sql.to_string()).map_err(to_core)
    }

    fn query(&self, sql: &str) -> Result<liteshift::Rows, liteshift::HostError> {
        let rows = self.host.query(sql.to_string()).map_err(to_core)?;
        Ok(rows
            .into_iter()
            .map(|r| r.into_iter().map(value).collect())
            .collect())
    }

    fn scratch(&self) -> Result<Box<dyn liteshift::Host>, liteshift::HostError> {
        let host = self.host.scratch().map_err(to_core)?;
        Ok(Box::new(Foreign {
            host,
            scratch: true,
        }))
    }

    fn in_transaction(&self) -> Result<bool, liteshift::HostError> {
        self.host.in_transaction().map_err(to_core)
    }
}

impl Drop for Foreign {
    fn drop(&mut self) {
        if self.scratch {
            self.host.release();
        }
    }
}

fn value(v: SqlValue) -> liteshift::Value {
    match v {
        SqlValue::Null => liteshift::Value::Null,
        SqlValue::Integer { value } => liteshift::Value::Integer(value),
        SqlValue::Real { value } => liteshift::Value::Real(value),
        SqlValue::Text { value } => liteshift::Value::Text(value),
        SqlValue::Blob { value } => liteshift::Value::Blob(value),
    }
}

// ---------------------------------------------------------------------------------------------
// Values in

/// Everything a migration can be told. Every field has a default (`MigrateOptions()`).
#[derive(Debug, Clone, Default, uniffi::Record)]
pub struct MigrateOptions {
    /// Allow steps that drop a table or a column.
    #[uniffi(default = false)]
    pub allow_data_loss: bool,
    /// `{"old": "new"}`: a table renamed, not dropped and created.
    #[uniffi(default)]
    pub rename_tables: HashMap<String, String>,
    /// `{"table.old": "new"}`.
    #[uniffi(default)]
    pub rename_columns: HashMap<String, String>,
    /// `{"table.column": "EXPR"}`: the value each existing row takes, computed by SQLite from
    /// the row as it was.
    #[uniffi(default)]
    pub values: HashMap<String, String>,
    /// A column order change plans a rebuild.
    #[uniffi(default = false)]
    pub exact_column_order: bool,
    /// Run every step, check and verification, then roll back.
    #[uniffi(default = false)]
    pub dry_run: bool,
    /// Plan for this SQLite instead of the connection's: `3.40.1`, `android-26`, `ios-15`.
    #[uniffi(default = None)]
    pub sqlite_version: Option<String>,
    /// A declared foreign key to an undeclared table is an error.
    #[uniffi(default = false)]
    pub deny_dangling_foreign_keys: bool,
    /// The schema's file name, for error messages.
    #[uniffi(default = None)]
    pub source_name: Option<String>,
    /// Name patterns (GLOB: `*`, `?`, `[...]`; ignoring case) of objects that are not the
    /// schema's, e.g. `listOf("grdb_*")`: never compared or dropped (a table with its indexes
    /// and triggers). Declaring one is a `Schema` error; a malformed pattern, `InvalidOption`.
    /// Tables a platform owns (`android_metadata`, `_cf_*`, `_litestream_*`) are always left
    /// alone.
    #[uniffi(default)]
    pub ignore: Vec<String>,
    /// Never drop a table, column, index, view or trigger the schema does not declare;
    /// `Plan.kept` names what was kept.
    #[uniffi(default = false)]
    pub keep_undeclared: bool,
    /// How long to wait for another connection's write lock, in milliseconds (5,000 when
    /// absent).
    #[uniffi(default = None)]
    pub busy_timeout_ms: Option<u64>,
    /// Rebuild tables online: other connections keep writing while the rows are copied in
    /// short transactions, each holding the write lock about `onlineChunkMs`, then a swap in
    /// one transaction; the result is the blocking rebuild's (`Plan.online` says whether
    /// tables are rebuilt so). It commits as it copies: with `dryRun`, or inside the app's
    /// open transaction, it is an `InvalidOption` error.
    #[uniffi(default = false)]
    pub online: bool,
    /// With `online`: about how long one chunk of the copy holds the write lock, in
    /// milliseconds (50 when absent). Without `online`: an `InvalidOption` error.
    #[uniffi(default = None)]
    pub online_chunk_ms: Option<u64>,
    /// With `online`: at most how long the write lock is left to other connections after each
    /// chunk, in milliseconds (25 when absent). Without `online`: an `InvalidOption` error.
    #[uniffi(default = None)]
    pub online_pause_ms: Option<u64>,
}

/// Map entries in key order: the plan must not depend on a hash map's order.
fn sorted(m: &HashMap<String, String>) -> Vec<(String, String)> {
    m.iter()
        .collect::<BTreeMap<_, _>>()
        .into_iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

impl From<&MigrateOptions> for contract::Options {
    fn from(o: &MigrateOptions) -> Self {
        contract::Options {
            allow_data_loss: o.allow_data_loss,
            exact_column_order: o.exact_column_order,
            dry_run: o.dry_run,
            deny_dangling_foreign_keys: o.deny_dangling_foreign_keys,
            keep_undeclared: o.keep_undeclared,
            rename_tables: sorted(&o.rename_tables),
            rename_columns: sorted(&o.rename_columns),
            values: sorted(&o.values),
            ignore: o.ignore.clone(),
            sqlite_version: o.sqlite_version.clone(),
            source_name: o.source_name.clone(),
            busy_timeout_ms: o.busy_timeout_ms,
            online: o.online,
            online_chunk_ms: o.online_chunk_ms,
            online_pause_ms: o.online_pause_ms,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Values out

/// One step of a plan.
#[derive(Debug, Clone, uniffi::Record)]
pub struct Step {
    /// The SQL, exactly as `migrate` runs it.
    pub sql: String,
    /// The change this step serves, for people.
    pub reason: String,
    /// Whether it loses data.
    pub destructive: bool,
    /// Whether it rewrites every row of a table (otherwise O(1), or an index build).
    pub rewrites_rows: bool,
    /// What it costs in the size of the data.
    pub cost: Cost,
}

/// How a step's time grows with the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum CostKind {
    /// The schema only: O(1).
    Constant,
    /// Writes every row of `table` again.
    Rewrite,
    /// Reads every row of `table` (an index build, a constraint SQLite verifies).
    Scan,
    /// Frees the pages of `table` (`DROP TABLE`).
    Free,
}

/// What a step costs: its kind, and the table with its size estimated without scanning
/// (`max(rowid)`, or `sqlite_stat1`; bytes from a few records) when known.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Cost {
    pub kind: CostKind,
    pub table: Option<String>,
    pub rows: Option<u64>,
    pub bytes: Option<u64>,
}

impl From<contract::Cost> for Cost {
    fn from(c: contract::Cost) -> Self {
        Cost {
            kind: match c.kind {
                contract::CostKind::Constant => CostKind::Constant,
                contract::CostKind::Rewrite => CostKind::Rewrite,
                contract::CostKind::Scan => CostKind::Scan,
                contract::CostKind::Free => CostKind::Free,
            },
            table: c.table,
            rows: c.rows,
            bytes: c.bytes,
        }
    }
}

/// What a running migration tells its listener. Steps are numbered from 1 of `total`.
#[derive(Debug, Clone, uniffi::Enum)]
pub enum ProgressEvent {
    StepStarted {
        step: u64,
        total: u64,
        reason: String,
        rewrites_rows: bool,
        cost: Cost,
    },
    /// Rows the step has written so far (on hosts that count them; the JDBC and Android hosts
    /// do not).
    Rows { step: u64, total: u64, rows: u64 },
    StepFinished {
        step: u64,
        total: u64,
        reason: String,
        milliseconds: f64,
        rows_changed: u64,
    },
}

impl From<contract::ProgressEvent> for ProgressEvent {
    fn from(e: contract::ProgressEvent) -> Self {
        use contract::ProgressEvent as E;
        match e {
            E::StepStarted {
                step,
                total,
                reason,
                rewrites_rows,
                cost,
            } => ProgressEvent::StepStarted {
                step,
                total,
                reason,
                rewrites_rows,
                cost: cost.into(),
            },
            E::Rows { step, total, rows } => ProgressEvent::Rows { step, total, rows },
            E::StepFinished {
                step,
                total,
                reason,
                milliseconds,
                rows_changed,
            } => ProgressEvent::StepFinished {
                step,
                total,
                reason,
                milliseconds,
                rows_changed,
            },
        }
    }
}

/// The app's listener for [`migrate_with_progress`]: called on the migrating thread, between
/// statements; it must not use the connection, and should return quickly (post to the UI
/// thread). What it throws is ignored: a progress display does not decide the migration.
#[uniffi::export(with_foreign)]
pub trait ProgressListener: Send + Sync {
    fn on_progress(&self, event: ProgressEvent) -> Result<(), HostError>;
}

fn caller(listener: Option<Arc<dyn ProgressListener>>) -> Caller {
    Caller {
        front: FrontEnd::KotlinSwift,
        on_progress: listener.map(|l| -> contract::OnProgress {
            Arc::new(move |e| {
                let _ = l.on_progress(e.into());
            })
        }),
    }
}

/// A check of existing rows against a constraint of the target, run before any step.
#[derive(Debug, Clone, uniffi::Record)]
pub struct Check {
    pub constraint: String,
    pub table: String,
    pub column: Option<String>,
    /// Selects one `example` text per offending row.
    pub sql: String,
    /// Run only if a step stops at a violating row (SQLite enforces the constraint itself).
    pub deferred: bool,
}

/// `PRAGMA quick_check` of a table whose rows are rewritten: it must say `ok` first.
#[derive(Debug, Clone, uniffi::Record)]
pub struct HealthCheck {
    pub table: String,
    pub sql: String,
}

/// A table whose `PRAGMA foreign_key_check` runs before and after the steps, by its name
/// before (`null`: created by the migration) and after.
#[derive(Debug, Clone, uniffi::Record)]
pub struct FkCheck {
    pub before: Option<String>,
    pub after: String,
}

/// A migration: what `migrate` would run, and why.
#[derive(Debug, Clone, uniffi::Record)]
pub struct Plan {
    pub in_sync: bool,
    pub steps: Vec<Step>,
    /// The whole script, exactly what `migrate` runs.
    pub sql: String,
    pub sqlite_version: String,
    pub fingerprint: String,
    pub foreign_keys_off: bool,
    pub changes: Vec<String>,
    pub warnings: Vec<String>,
    pub suggestions: Vec<String>,
    /// What the database holds and the declaration does not, kept because of
    /// `keepUndeclared`: "table extra", "column t.old", "index t_old".
    pub kept: Vec<String>,
    pub destructive_steps: Vec<String>,
    /// The checks of existing rows run before the steps.
    pub checks: Vec<Check>,
    /// `PRAGMA quick_check` of each table whose rows are rewritten.
    pub health_checks: Vec<HealthCheck>,
    /// The tables whose foreign keys are checked before and after the steps; `null`: the
    /// whole database.
    pub fk_checks: Option<Vec<FkCheck>>,
    /// Whether tables are rebuilt online (`MigrateOptions.online`, for the tables that can
    /// be): `steps` then begin with its preparation and each table's copy (run in short
    /// transactions), and go on with the swap.
    pub online: bool,
}

impl From<contract::Plan> for Plan {
    fn from(p: contract::Plan) -> Self {
        Plan {
            in_sync: p.in_sync,
            steps: p
                .steps
                .into_iter()
                .map(|s| Step {
                    sql: s.sql,
                    reason: s.reason,
                    destructive: s.destructive,
                    rewrites_rows: s.rewrites_rows,
                    cost: s.cost.into(),
                })
                .collect(),
            sql: p.sql,
            sqlite_version: p.sqlite_version,
            fingerprint: p.fingerprint,
            foreign_keys_off: p.foreign_keys_off,
            changes: p.changes,
            warnings: p.warnings,
            suggestions: p.suggestions,
            kept: p.kept,
            destructive_steps: p.destructive_steps,
            checks: p
                .checks
                .into_iter()
                .map(|c| Check {
                    constraint: c.constraint,
                    table: c.table,
                    column: c.column,
                    sql: c.sql,
                    deferred: c.deferred,
                })
                .collect(),
            health_checks: p
                .health_checks
                .into_iter()
                .map(|h| HealthCheck {
                    table: h.table,
                    sql: h.sql,
                })
                .collect(),
            fk_checks: p.fk_checks.map(|checks| {
                checks
                    .into_iter()
                    .map(|c| FkCheck {
                        before: c.before,
                        after: c.after,
                    })
                    .collect()
            }),
            online: p.online,
        }
    }
}

/// What `migrate` did.
#[derive(Debug, Clone, uniffi::Record)]
pub struct Report {
    /// Steps run (0 when the database was already in sync).
    pub steps_applied: u64,
    /// Whether foreign-key enforcement was switched off around the transaction (and restored).
    pub foreign_keys_toggled: bool,
    pub plan: Plan,
}

/// Existing rows that violate a declared constraint.
#[derive(Debug, Clone, uniffi::Record)]
pub struct Violation {
    pub constraint: String,
    pub table: String,
    pub column: Option<String>,
    pub count: u64,
    pub examples: Vec<String>,
}

/// Why a call failed. `detail` is the whole message: what went wrong, where, and what to do.
/// A refusal, and any error before the commit, leaves the database unchanged.
#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum LiteshiftError {
    /// A step would lose data and `allowDataLoss` is off; `steps` names each.
    #[error("{detail}")]
    DataLossRefused { detail: String, steps: Vec<String> },
    /// Existing rows violate the declared schema.
    #[error("{detail}")]
    DataViolatesSchema {
        detail: String,
        violations: Vec<Violation>,
    },
    /// The declared schema is invalid, at `line`:`column` (1-based) of `sourceName`.
    #[error("{detail}")]
    Schema {
        detail: String,
        source_name: String,
        line: u32,
        column: u32,
    },
    /// The connection is in a transaction and the migration must switch foreign-key
    /// enforcement off first: commit or roll back, then migrate.
    #[error("{detail}")]
    InTransaction { detail: String },
    /// A malformed rename, value, ignore pattern or SQLite version.
    #[error("{detail}")]
    InvalidOption { detail: String },
    /// The database cannot be used (locked, read-only, corrupt...) or SQLite failed; `code`
    /// says which (`database_error`, `sqlite_error`).
    #[error("{detail}")]
    Database { code: String, detail: String },
    /// A step failed, verification failed, or the plan went stale; `code` says which
    /// (`step_failed`, `verification_failed`, `stale_plan`). Rolled back.
    #[error("{detail}")]
    Failed { code: String, detail: String },
}

impl From<contract::Report> for Report {
    fn from(r: contract::Report) -> Self {
        Report {
            steps_applied: r.steps_applied,
            foreign_keys_toggled: r.foreign_keys_toggled,
            plan: r.plan.into(),
        }
    }
}

impl From<contract::Error> for LiteshiftError {
    fn from(e: contract::Error) -> Self {
        let detail = e.message;
        match e.code.category() {
            Category::Schema => LiteshiftError::Schema {
                detail,
                source_name: e.source_name.unwrap_or_default(),
                line: e.line.unwrap_or_default() as u32,
                column: e.column.unwrap_or_default() as u32,
            },
            Category::DataLossRefused => LiteshiftError::DataLossRefused {
                detail,
                steps: e.steps.unwrap_or_default(),
            },
            Category::DataViolatesSchema => LiteshiftError::DataViolatesSchema {
                detail,
                violations: e
                    .violations
                    .unwrap_or_default()
                    .into_iter()
                    .map(|v| Violation {
                        constraint: v.constraint,
                        table: v.table,
                        column: v.column,
                        count: v.count,
                        examples: v.examples,
                    })
                    .collect(),
            },
            Category::InTransaction => LiteshiftError::InTransaction { detail },
            Category::InvalidOption => LiteshiftError::InvalidOption { detail },
            Category::Database => LiteshiftError::Database {
                code: e.code.as_str().to_string(),
                detail,
            },
            Category::Failed => LiteshiftError::Failed {
                code: e.code.as_str().to_string(),
                detail,
            },
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The functions

fn foreign(host: Arc<dyn SqliteHost>) -> Foreign {
    Foreign {
        host,
        scratch: false,
    }
}

/// Migrate the host's database to the declared schema `schema_sql`, in one transaction on the
/// host's connection. Does nothing when it already matches.
#[uniffi::export]
pub fn migrate(
    host: Arc<dyn SqliteHost>,
    schema_sql: String,
    options: MigrateOptions,
) -> Result<Report, LiteshiftError> {
    let report = contract::migrate(
        &mut foreign(host),
        &schema_sql,
        &(&options).into(),
        &caller(None),
    )?;
    Ok(report.into())
}

/// [`migrate`], telling `listener` as each step starts and finishes (a splash screen's
/// progress on a long upgrade).
#[uniffi::export]
pub fn migrate_with_progress(
    host: Arc<dyn SqliteHost>,
    schema_sql: String,
    options: MigrateOptions,
    listener: Arc<dyn ProgressListener>,
) -> Result<Report, LiteshiftError> {
    let report = contract::migrate(
        &mut foreign(host),
        &schema_sql,
        &(&options).into(),
        &caller(Some(listener)),
    )?;
    Ok(report.into())
}

/// The migration of the host's database to `schema_sql`, without running it.
#[uniffi::export]
pub fn plan(
    host: Arc<dyn SqliteHost>,
    schema_sql: String,
    options: MigrateOptions,
) -> Result<Plan, LiteshiftError> {
    let plan = contract::plan(
        &foreign(host),
        &schema_sql,
        &(&options).into(),
        &caller(None),
    )?;
    Ok(plan.into())
}

/// Whether the host's database already matches `schema_sql`.
#[uniffi::export]
pub fn check(
    host: Arc<dyn SqliteHost>,
    schema_sql: String,
    options: MigrateOptions,
) -> Result<bool, LiteshiftError> {
    Ok(contract::check(
        &foreign(host),
        &schema_sql,
        &(&options).into(),
        &caller(None),
    )?)
}

/// Schema to schema, with no database (for generating migration files): both are loaded into
/// scratch databases of `host`'s SQLite (its own database is not touched); the plan is for
/// `options.sqliteVersion` (`android-26`, `ios-15`, `3.40.1`) or the host's SQLite.
#[uniffi::export]
pub fn diff(
    host: Arc<dyn SqliteHost>,
    from_sql: String,
    to_sql: String,
    options: MigrateOptions,
) -> Result<Plan, LiteshiftError> {
    let plan = contract::diff(
        &foreign(host),
        &from_sql,
        &to_sql,
        &(&options).into(),
        &caller(None),
    )?;
    Ok(plan.into())
}

/// The SQLite version a name stands for: `3.40.1` itself, or the SQLite a platform release
/// ships (`android-26` → `3.18.0`, `ios-15` → `3.36.0`).
#[uniffi::export]
pub fn sqlite_version_of(name: String) -> Result<String, LiteshiftError> {
    Ok(contract::sqlite_version_of(&name)?)
}
