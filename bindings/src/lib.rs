//! Kotlin (JVM, Android) and Swift bindings of liteshift, with UniFFI (namespace `liteshift`:
//! Kotlin package `uniffi.liteshift`, Swift module `liteshift`).
//!
//! The app implements [`SqliteHost`] over the connection it already holds — Room's
//! `SupportSQLiteDatabase`, GRDB's `Database`, a JDBC `Connection` (`bindings/kotlin/` and
//! `bindings/swift/` ship those, small and documented) — and calls [`migrate`] with it; every
//! statement of the core's one migration sequence then runs on that connection and its SQLite.
//!
//! This crate owns the foreign interface and the conversion of values between it and the core.
//! It must never contain a SQLite (a second SQLite on the app's file is unsafe in one process
//! and would plan for the wrong version) nor decide anything about a migration.

use std::collections::BTreeMap;
use std::collections::HashMap;
use std::sync::Arc;

use liteshift::{Error, Options, Refusal, SqliteVersion};

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
}

/// Map entries in key order: the plan must not depend on a hash map's order.
fn sorted(m: &HashMap<String, String>) -> BTreeMap<&String, &String> {
    m.iter().collect()
}

impl MigrateOptions {
    fn to_options(&self) -> Result<Options, LiteshiftError> {
        let invalid = |detail: String| LiteshiftError::InvalidOption { detail };
        let mut o = Options {
            allow_data_loss: self.allow_data_loss,
            exact_column_order: self.exact_column_order,
            dry_run: self.dry_run,
            deny_dangling_foreign_keys: self.deny_dangling_foreign_keys,
            ignore: self.ignore.clone(),
            keep_undeclared: self.keep_undeclared,
            source_name: self
                .source_name
                .clone()
                .unwrap_or_else(|| "<schema>".into()),
            ..Options::default()
        };
        for (old, new) in sorted(&self.rename_tables) {
            o.hints
                .add_table_rename(&format!("{old}={new}"))
                .map_err(|m| invalid(format!("renameTables: {m}")))?;
        }
        for (old, new) in sorted(&self.rename_columns) {
            o.hints
                .add_column_rename(&format!("{old}={new}"))
                .map_err(|m| invalid(format!("renameColumns: {m}")))?;
        }
        for (column, expr) in sorted(&self.values) {
            o.hints
                .add_value(&format!("{column}={expr}"))
                .map_err(|m| invalid(format!("values: {m}")))?;
        }
        if let Some(v) = &self.sqlite_version {
            o.sqlite_version = Some(
                SqliteVersion::from_option(v).map_err(|m| invalid(format!("sqliteVersion {m}")))?,
            );
        }
        Ok(o)
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

impl From<&liteshift::Cost> for Cost {
    fn from(c: &liteshift::Cost) -> Self {
        use liteshift::Cost as C;
        let (kind, size) = match c {
            C::Constant => (CostKind::Constant, None),
            C::Rewrite(s) => (CostKind::Rewrite, Some(s)),
            C::Scan(s) => (CostKind::Scan, Some(s)),
            C::Free(s) => (CostKind::Free, Some(s)),
        };
        Cost {
            kind,
            table: size.map(|s| s.table.clone()),
            rows: size.and_then(|s| s.rows),
            bytes: size.and_then(|s| s.bytes),
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
        cost: Cost,
    },
    /// Rows the step has written so far (on hosts that count them; the JDBC and Android hosts
    /// do not).
    Rows { step: u64, total: u64, rows: u64 },
    StepFinished {
        step: u64,
        total: u64,
        milliseconds: f64,
        rows_changed: u64,
    },
}

/// The app's listener for [`migrate_with_progress`]: called on the migrating thread, between
/// statements; it must not use the connection, and should return quickly (post to the UI
/// thread). What it throws is ignored: a progress display does not decide the migration.
#[uniffi::export(with_foreign)]
pub trait ProgressListener: Send + Sync {
    fn on_progress(&self, event: ProgressEvent) -> Result<(), HostError>;
}

fn observer(listener: Arc<dyn ProgressListener>) -> liteshift::ProgressObserver {
    liteshift::ProgressObserver::new(move |p| {
        let event = match p {
            liteshift::Progress::Started {
                number,
                total,
                step,
            } => ProgressEvent::StepStarted {
                step: *number as u64,
                total: *total as u64,
                reason: step.reason.clone(),
                cost: Cost::from(&step.cost),
            },
            liteshift::Progress::Rows {
                number,
                total,
                rows,
            } => ProgressEvent::Rows {
                step: *number as u64,
                total: *total as u64,
                rows: *rows,
            },
            liteshift::Progress::Finished { total, done } => ProgressEvent::StepFinished {
                step: done.number as u64,
                total: *total as u64,
                milliseconds: done.elapsed.as_secs_f64() * 1000.0,
                rows_changed: done.rows_changed,
            },
        };
        let _ = listener.on_progress(event);
    })
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
}

impl From<&liteshift::Plan> for Plan {
    fn from(p: &liteshift::Plan) -> Self {
        Plan {
            in_sync: p.steps.is_empty(),
            steps: p
                .steps
                .iter()
                .map(|s| Step {
                    sql: s.sql.clone(),
                    reason: s.reason.clone(),
                    destructive: s.destructive,
                    rewrites_rows: s.rewrites_rows,
                    cost: Cost::from(&s.cost),
                })
                .collect(),
            sql: liteshift::render_sql(p),
            sqlite_version: p.sqlite_version.clone(),
            fingerprint: p.fingerprint.clone(),
            foreign_keys_off: p.foreign_keys_off,
            changes: p.changes.clone(),
            warnings: p.warnings.clone(),
            suggestions: p.suggestions.clone(),
            kept: p.kept.clone(),
            destructive_steps: p.destructive_steps(),
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
    /// The database cannot be used (locked, read-only, corrupt...) or SQLite failed.
    #[error("{detail}")]
    Database { detail: String },
    /// A step failed, verification failed, or the plan went stale; `code` says which
    /// (`step_failed`, `verification_failed`, `stale_plan`). Rolled back.
    #[error("{detail}")]
    Failed { code: String, detail: String },
}

impl From<Error> for LiteshiftError {
    fn from(e: Error) -> Self {
        let detail = e.message(liteshift::FrontEnd::KotlinSwift);
        match e {
            Error::Schema {
                source_name,
                line,
                column,
                ..
            } => LiteshiftError::Schema {
                detail,
                source_name,
                line: line as u32,
                column: column as u32,
            },
            Error::Refused(Refusal::DataLoss { steps }) => {
                LiteshiftError::DataLossRefused { detail, steps }
            }
            Error::Refused(Refusal::Violations { violations }) => {
                LiteshiftError::DataViolatesSchema {
                    detail,
                    violations: violations
                        .into_iter()
                        .map(|v| Violation {
                            constraint: v.constraint,
                            table: v.table,
                            column: v.column,
                            count: v.count,
                            examples: v.examples,
                        })
                        .collect(),
                }
            }
            Error::InTransaction => LiteshiftError::InTransaction { detail },
            Error::InvalidOption(_) => LiteshiftError::InvalidOption { detail },
            Error::Database { .. } | Error::Sqlite(_) => LiteshiftError::Database { detail },
            Error::StalePlan { .. }
            | Error::Verification(_)
            | Error::StepFailed { .. }
            | Error::NoTransaction => LiteshiftError::Failed {
                code: e.code().to_string(),
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
    let opts = options.to_options()?;
    run_migrate(host, &schema_sql, &opts)
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
    let mut opts = options.to_options()?;
    opts.on_progress = Some(observer(listener));
    run_migrate(host, &schema_sql, &opts)
}

fn run_migrate(
    host: Arc<dyn SqliteHost>,
    schema_sql: &str,
    opts: &Options,
) -> Result<Report, LiteshiftError> {
    let r = liteshift::migrate(&mut foreign(host), schema_sql, opts)?;
    Ok(Report {
        steps_applied: r.steps_applied as u64,
        foreign_keys_toggled: r.foreign_keys_toggled,
        plan: Plan::from(&r.plan),
    })
}

/// The migration of the host's database to `schema_sql`, without running it.
#[uniffi::export]
pub fn plan(
    host: Arc<dyn SqliteHost>,
    schema_sql: String,
    options: MigrateOptions,
) -> Result<Plan, LiteshiftError> {
    let opts = options.to_options()?;
    let planned = liteshift::plan_migration(&foreign(host), &schema_sql, &opts)?;
    Ok(Plan::from(&planned.plan))
}

/// Whether the host's database already matches `schema_sql`.
#[uniffi::export]
pub fn check(
    host: Arc<dyn SqliteHost>,
    schema_sql: String,
    options: MigrateOptions,
) -> Result<bool, LiteshiftError> {
    Ok(plan(host, schema_sql, options)?.in_sync)
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
    let opts = options.to_options()?;
    let planned = liteshift::plan_diff_on(&foreign(host), &from_sql, "<from>", &to_sql, &opts)?;
    Ok(Plan::from(&planned.plan))
}

/// The SQLite version a name stands for: `3.40.1` itself, or the SQLite a platform release
/// ships (`android-26` → `3.18.0`, `ios-15` → `3.36.0`).
#[uniffi::export]
pub fn sqlite_version_of(name: String) -> Result<String, LiteshiftError> {
    SqliteVersion::from_option(&name)
        .map(|v| v.to_string())
        .map_err(|detail| LiteshiftError::InvalidOption { detail })
}
