//! The front-end contract: the values every binding of liteshift presents — [`Options`],
//! [`Plan`] and its [`Step`]s, [`Report`], [`Error`], [`ProgressEvent`] — and the calls they
//! make ([`plan`], [`check`], [`diff`], [`migrate`], [`sqlite_version_of`]), decided once for
//! the npm package (`wasm/`), the Python package (`python/`) and the Kotlin/Swift bindings
//! (`bindings/`). Each binding only converts its language's values to and from these; none
//! maps a core type by itself.
//!
//! This crate owns serializable counterparts of the core's types and the conversions from
//! them (the core's own types are never part of a binding's contract, so renaming a core field
//! cannot silently change a package's API). It must never decide anything about a migration:
//! the calls run the core's one sequence on the binding's [`liteshift::Host`].
//!
//! # One name and one unit for each thing
//!
//! - Names: the serialized form (`serde`, JSON) spells fields **camelCase**; that is what the
//!   npm package returns and what UniFFI generates for Kotlin and Swift. Python spells the same
//!   names **snake_case** (`rewritesRows` → `rewrites_rows`), mechanically, and nothing else
//!   differs. A progress event's name (`event`) is spelled the same way (`stepStarted` /
//!   `step_started`; the Kotlin/Swift enum case `StepStarted`). Values — error codes, cost
//!   kinds — are the same strings in every language (`data_loss_refused`, `rewrite`).
//! - Durations: **milliseconds, as a float** (`ProgressEvent::StepFinished::milliseconds`,
//!   [`Options::busy_timeout_ms`], [`Options::online_chunk_ms`] and
//!   [`Options::online_pause_ms`] as whole numbers). Python's keyword `busy_timeout` keeps
//!   the `sqlite3` module's seconds and converts; its `ProgressEvent.seconds` is derived.
//! - Counts (steps, rows, bytes): unsigned 64-bit integers.
//! - The default schema name in messages: [`DEFAULT_SOURCE_NAME`] (`<schema>`); the
//!   `from` schema of [`diff`]: [`DIFF_FROM_NAME`] (`<from>`).
//! - Absent values: a [`Cost`]'s `table`, `rows` and `bytes` and an [`Error`]'s optional
//!   fields are left out when unknown (JSON) or `None`/`null`; a [`Violation`]'s or
//!   [`Check`]'s `column` and an [`FkCheck`]'s `before` are `null` when there is none.
//! - Errors: one [`ErrorCode`] for every front end, grouped into the [`Category`] each
//!   language turns into its exception class or error case; the message is the core's
//!   [`liteshift::Error::message`] for the binding's [`FrontEnd`] (a refusal's remedy in that
//!   language's option names).
//!
//! The contract test (`tests/contract/cases.json`, with the outputs of this crate checked in
//! as `tests/contract/expected.json`) runs the same cases through this crate and through each
//! binding's own API.

// The contract's `Error` is a plain value handed to another language once per call, with
// every field a binding presents: boxing it would only add a conversion to each binding.
#![allow(clippy::result_large_err)]

use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use liteshift::FrontEnd;

/// The schema's name in messages when the caller gives none.
pub const DEFAULT_SOURCE_NAME: &str = "<schema>";
/// The name of [`diff`]'s `from` schema in messages.
pub const DIFF_FROM_NAME: &str = "<from>";

// ---------------------------------------------------------------------------------------------
// Values in

/// Everything a call can be told. Every field has a default (`Options::default()`, or the
/// field left out).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Options {
    /// Allow steps that drop a table or a column.
    pub allow_data_loss: bool,
    /// A column order change plans a rebuild.
    pub exact_column_order: bool,
    /// Run every step, check and verification, then roll back.
    pub dry_run: bool,
    /// A declared foreign key to an undeclared table is an error.
    pub deny_dangling_foreign_keys: bool,
    /// Never drop a table, column, index, view or trigger the schema does not declare.
    pub keep_undeclared: bool,
    /// `("old", "new")`: a table renamed, not dropped and created.
    pub rename_tables: Vec<(String, String)>,
    /// `("table.old", "new")`.
    pub rename_columns: Vec<(String, String)>,
    /// `("table.column", "EXPR")`: the value each existing row takes.
    pub values: Vec<(String, String)>,
    /// Name patterns (GLOB, ignoring case) of objects that are not the schema's.
    pub ignore: Vec<String>,
    /// Plan for this SQLite instead of the connection's: `3.40.1`, `android-26`, `ios-15`.
    pub sqlite_version: Option<String>,
    /// The schema's name in messages ([`DEFAULT_SOURCE_NAME`] when absent).
    pub source_name: Option<String>,
    /// How long to wait for another connection's write lock, in milliseconds (the core's
    /// default, 5,000, when absent).
    pub busy_timeout_ms: Option<u64>,
    /// Rebuild large tables online: other connections keep writing while the rows are copied
    /// in short transactions (the core's [`liteshift::Options::online`]). The npm package's
    /// modules are built without online rebuilds: there it is an `invalid_option` error.
    pub online: bool,
    /// With `online`: about how long one chunk of the copy holds the write lock, in
    /// milliseconds (the core's default, 50, when absent).
    pub online_chunk_ms: Option<u64>,
    /// With `online`: at most how long the write lock is left to other connections after each
    /// chunk, in milliseconds (the core's default, 25, when absent).
    pub online_pause_ms: Option<u64>,
}

/// Why the npm package refuses `online`, `onlineChunkMs` and `onlinePauseMs`.
pub const NPM_NO_ONLINE: &str = "the npm package has no online rebuilds (the CLI and the Python and Kotlin/Swift packages have them): omit it to rebuild in one transaction";

/// An option's name as `front`'s caller spells it: `name` is `(camelCase, snake_case)`, both
/// written out (the npm module carries no conversion between them).
pub fn option_name(front: FrontEnd, name: (&'static str, &'static str)) -> &'static str {
    if front == FrontEnd::Python {
        name.1
    } else {
        name.0
    }
}

/// `rewritesRows` → `rewrites_rows`: how Python spells the contract's names.
pub fn snake_case(camel: &str) -> String {
    let mut out = String::with_capacity(camel.len() + 4);
    for c in camel.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

impl Options {
    /// The core's options for a call from `front`.
    pub fn to_core(&self, front: FrontEnd) -> Result<liteshift::Options, liteshift::Error> {
        let invalid = |name, m: String| {
            liteshift::Error::InvalidOption(format!("{}: {m}", option_name(front, name)))
        };
        let mut o = liteshift::Options {
            allow_data_loss: self.allow_data_loss,
            exact_column_order: self.exact_column_order,
            dry_run: self.dry_run,
            deny_dangling_foreign_keys: self.deny_dangling_foreign_keys,
            keep_undeclared: self.keep_undeclared,
            ignore: self.ignore.clone(),
            source_name: self
                .source_name
                .clone()
                .unwrap_or_else(|| DEFAULT_SOURCE_NAME.into()),
            front_end: front,
            ..liteshift::Options::default()
        };
        for (old, new) in &self.rename_tables {
            o.hints
                .add_table_rename(&format!("{old}={new}"))
                .map_err(|m| invalid(("renameTables", "rename_tables"), m))?;
        }
        for (old, new) in &self.rename_columns {
            o.hints
                .add_column_rename(&format!("{old}={new}"))
                .map_err(|m| invalid(("renameColumns", "rename_columns"), m))?;
        }
        for (column, expr) in &self.values {
            o.hints
                .add_value(&format!("{column}={expr}"))
                .map_err(|m| invalid(("values", "values"), m))?;
        }
        if let Some(v) = &self.sqlite_version {
            o.sqlite_version = Some(
                liteshift::SqliteVersion::from_option(v)
                    .map_err(|m| invalid(("sqliteVersion", "sqlite_version"), m))?,
            );
        }
        if let Some(ms) = self.busy_timeout_ms {
            o.busy_timeout = std::time::Duration::from_millis(ms);
        }
        o.online = self.online_options(front)?;
        Ok(o)
    }

    /// The core's online options: `None` without `online`, where `onlineChunkMs` and
    /// `onlinePauseMs` are an error (they would silently do nothing). The npm package
    /// ([`FrontEnd::JavaScript`]) has no online rebuilds: any of the three is an error there.
    /// Without this crate's `online` feature (the npm package's modules) that is so for every
    /// caller, and the core's `online` is never set: the core's code for it is left out of
    /// the module (setting it costs the default module about 570 bytes gzipped).
    fn online_options(
        &self,
        front: FrontEnd,
    ) -> Result<Option<liteshift::OnlineOptions>, liteshift::Error> {
        use std::time::Duration;
        let given = [
            (("online", "online"), self.online.then_some(0)),
            (("onlineChunkMs", "online_chunk_ms"), self.online_chunk_ms),
            (("onlinePauseMs", "online_pause_ms"), self.online_pause_ms),
        ];
        let first = given.into_iter().find(|(_, v)| v.is_some());
        if front == FrontEnd::JavaScript || !cfg!(feature = "online") {
            return match first {
                Some((name, _)) => Err(liteshift::Error::InvalidOption(format!(
                    "{}: {NPM_NO_ONLINE}",
                    name.0
                ))),
                None => Ok(None),
            };
        }
        if !self.online {
            return match first {
                Some((name, _)) => Err(liteshift::Error::InvalidOption(format!(
                    "{n}: it sets an online rebuild's chunks, and online is off: set online as well, or leave {n} out",
                    n = option_name(front, name)
                ))),
                None => Ok(None),
            };
        }
        let d = liteshift::OnlineOptions::default();
        Ok(Some(liteshift::OnlineOptions {
            chunk_time: self
                .online_chunk_ms
                .map_or(d.chunk_time, Duration::from_millis),
            pause: self.online_pause_ms.map_or(d.pause, Duration::from_millis),
            ..d
        }))
    }
}

// ---------------------------------------------------------------------------------------------
// Values out

/// What a step costs in the size of the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
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

impl CostKind {
    /// The kind as it serializes: `constant`, `rewrite`, `scan`, `free`.
    pub fn as_str(self) -> &'static str {
        match self {
            CostKind::Constant => "constant",
            CostKind::Rewrite => "rewrite",
            CostKind::Scan => "scan",
            CostKind::Free => "free",
        }
    }
}

/// What a step costs: its kind, and the table with its size estimated without scanning
/// (`max(rowid)`, or `sqlite_stat1`; bytes from a few records) when known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cost {
    pub kind: CostKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
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

/// One step of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Step {
    /// The SQL, exactly as `migrate` runs it.
    pub sql: String,
    /// The change this step serves, for people.
    pub reason: String,
    /// Whether it loses data.
    pub destructive: bool,
    /// Whether it rewrites every row of a table.
    pub rewrites_rows: bool,
    pub cost: Cost,
}

impl From<liteshift::Step> for Step {
    fn from(s: liteshift::Step) -> Self {
        Step {
            cost: Cost::from(&s.cost),
            sql: s.sql,
            reason: s.reason,
            destructive: s.destructive,
            rewrites_rows: s.rewrites_rows,
        }
    }
}

/// A check of existing rows against a constraint of the target, run before any step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthCheck {
    pub table: String,
    pub sql: String,
}

/// A table whose `PRAGMA foreign_key_check` runs before and after the steps, by its name
/// before (`None`: created by the migration) and after.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FkCheck {
    pub before: Option<String>,
    pub after: String,
}

/// A migration: what `migrate` would run, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    /// Whether the database already matches the declared schema.
    pub in_sync: bool,
    /// Every step, in the order `migrate` runs them (numbered from 1 in its progress events).
    pub steps: Vec<Step>,
    /// The whole script, exactly what `migrate` runs.
    pub sql: String,
    pub checks: Vec<Check>,
    pub health_checks: Vec<HealthCheck>,
    /// `None`: the whole database's foreign keys are checked.
    pub fk_checks: Option<Vec<FkCheck>>,
    pub foreign_keys_off: bool,
    pub fingerprint: String,
    pub sqlite_version: String,
    pub changes: Vec<String>,
    pub warnings: Vec<String>,
    pub suggestions: Vec<String>,
    /// What the database holds and the declaration does not, kept (`keepUndeclared`).
    pub kept: Vec<String>,
    /// The reasons of the steps that lose data.
    pub destructive_steps: Vec<String>,
    /// Whether tables are rebuilt online (asked with [`Options::online`], for the tables that
    /// can be): `steps` then begin with the online rebuild's preparation and each table's copy
    /// (run in short transactions), and go on with the swap.
    pub online: bool,
}

/// By value: the core's plan is moved into the contract's, never cloned (the npm module
/// carries the conversion; a clone of each field would be code of its own).
impl From<liteshift::Plan> for Plan {
    fn from(mut p: liteshift::Plan) -> Self {
        let sql = liteshift::render_sql(&p);
        let destructive_steps = p.destructive_steps();
        let in_sync = p.steps.is_empty();
        let online = p.online.is_some();
        let steps = steps_in_order(&mut p);
        Plan {
            online,
            in_sync,
            steps,
            sql,
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
            foreign_keys_off: p.foreign_keys_off,
            fingerprint: p.fingerprint,
            sqlite_version: p.sqlite_version,
            changes: p.changes,
            warnings: p.warnings,
            suggestions: p.suggestions,
            kept: p.kept,
            destructive_steps,
        }
    }
}

/// Every step of `p` in the order it runs (the core's `Plan::all_steps`), moved out of it, so
/// that a plan's `steps` match `Report::steps_applied` and the progress events' numbers: an
/// online rebuild's preparation and copies first.
#[cfg(feature = "online")]
fn steps_in_order(p: &mut liteshift::Plan) -> Vec<Step> {
    let mut steps = Vec::new();
    if let Some(o) = p.online.take() {
        steps.extend(o.prepare.into_iter().map(Step::from));
        steps.extend(o.tables.into_iter().map(|t| Step::from(t.copy)));
    }
    steps.extend(std::mem::take(&mut p.steps).into_iter().map(Step::from));
    steps
}

/// Without online rebuilds (the npm package's modules) a plan has no online steps: the
/// module carries no code for them.
#[cfg(not(feature = "online"))]
fn steps_in_order(p: &mut liteshift::Plan) -> Vec<Step> {
    std::mem::take(&mut p.steps)
        .into_iter()
        .map(Step::from)
        .collect()
}

/// What `migrate` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// Steps run (0 when the database was already in sync).
    pub steps_applied: u64,
    /// Whether foreign-key enforcement was switched off around the transaction (and restored).
    pub foreign_keys_toggled: bool,
    pub plan: Plan,
}

impl From<liteshift::Report> for Report {
    fn from(r: liteshift::Report) -> Self {
        Report {
            steps_applied: r.steps_applied as u64,
            foreign_keys_toggled: r.foreign_keys_toggled,
            plan: Plan::from(r.plan),
        }
    }
}

/// What a running migration tells its listener. Steps are numbered from 1 of `total`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "camelCase")]
pub enum ProgressEvent {
    #[serde(rename_all = "camelCase")]
    StepStarted {
        step: u64,
        total: u64,
        reason: String,
        rewrites_rows: bool,
        cost: Cost,
    },
    /// Rows the step has written so far (on hosts that count them).
    #[serde(rename_all = "camelCase")]
    Rows { step: u64, total: u64, rows: u64 },
    #[serde(rename_all = "camelCase")]
    StepFinished {
        step: u64,
        total: u64,
        reason: String,
        /// How long the step took (a host without a clock, wasm32, measures it itself).
        milliseconds: f64,
        /// Rows its last statement changed.
        rows_changed: u64,
    },
}

impl From<&liteshift::Progress<'_>> for ProgressEvent {
    fn from(p: &liteshift::Progress<'_>) -> Self {
        match p {
            liteshift::Progress::Started {
                number,
                total,
                step,
            } => ProgressEvent::StepStarted {
                step: *number as u64,
                total: *total as u64,
                reason: step.reason.clone(),
                rewrites_rows: step.rewrites_rows,
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
                reason: done.step.reason.clone(),
                milliseconds: done.elapsed.as_secs_f64() * 1000.0,
                rows_changed: done.rows_changed,
            },
        }
    }
}

/// The binding's listener for a migration's [`ProgressEvent`]s. It runs on the migrating
/// thread, between statements: it must not use the connection, and should return quickly.
pub type OnProgress = Arc<dyn Fn(ProgressEvent) + Send + Sync>;

/// Existing rows that violate a declared constraint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    /// `NOT NULL`, `CHECK (price > 0)`, `UNIQUE (email)`, `FOREIGN KEY`.
    pub constraint: String,
    pub table: String,
    pub column: Option<String>,
    /// How many rows violate it.
    pub count: u64,
    /// A few of them, as text (rowid and values).
    pub examples: Vec<String>,
}

/// Every error's stable code, the same string in every language ([`ErrorCode::as_str`]; it
/// serializes as that string).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    SchemaError,
    DatabaseError,
    SqliteError,
    DataLossRefused,
    DataViolatesSchema,
    StalePlan,
    InTransaction,
    NoTransaction,
    VerificationFailed,
    StepFailed,
    InvalidOption,
    /// The binding cannot use what it was given as a connection.
    UnsupportedHost,
    /// A bug: the binding's native code failed (a Rust panic).
    InternalError,
}

// By hand, from the one table of names (a derive would carry a second one in every module).
impl Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let code = String::deserialize(d)?;
        ErrorCode::parse(&code)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown error code `{code}`")))
    }
}

/// What an error's caller can do about it: each language's exception class (Python) or error
/// case (Kotlin/Swift) is one category.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    /// The declared schema is invalid, at `line`:`column`.
    Schema,
    /// A step would lose data; `steps` names each.
    DataLossRefused,
    /// Existing rows violate the declared schema; `violations` names them.
    DataViolatesSchema,
    /// Commit or roll back, then migrate.
    InTransaction,
    /// A malformed rename, value, ignore pattern or SQLite version.
    InvalidOption,
    /// The database (or the connection given) cannot be used, or SQLite failed.
    Database,
    /// A step or the verification failed, the plan went stale, or the host has no
    /// transactions: rolled back; the code says which.
    Failed,
}

impl ErrorCode {
    /// Every code.
    pub const ALL: [ErrorCode; 13] = [
        ErrorCode::SchemaError,
        ErrorCode::DatabaseError,
        ErrorCode::SqliteError,
        ErrorCode::DataLossRefused,
        ErrorCode::DataViolatesSchema,
        ErrorCode::StalePlan,
        ErrorCode::InTransaction,
        ErrorCode::NoTransaction,
        ErrorCode::VerificationFailed,
        ErrorCode::StepFailed,
        ErrorCode::InvalidOption,
        ErrorCode::UnsupportedHost,
        ErrorCode::InternalError,
    ];

    /// The code a string names (as the core's `Error::code` and `batch::failure` give it).
    pub fn parse(code: &str) -> Option<ErrorCode> {
        ErrorCode::ALL.into_iter().find(|c| c.as_str() == code)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::SchemaError => "schema_error",
            ErrorCode::DatabaseError => "database_error",
            ErrorCode::SqliteError => "sqlite_error",
            ErrorCode::DataLossRefused => "data_loss_refused",
            ErrorCode::DataViolatesSchema => "data_violates_schema",
            ErrorCode::StalePlan => "stale_plan",
            ErrorCode::InTransaction => "in_transaction",
            ErrorCode::NoTransaction => "no_transaction",
            ErrorCode::VerificationFailed => "verification_failed",
            ErrorCode::StepFailed => "step_failed",
            ErrorCode::InvalidOption => "invalid_option",
            ErrorCode::UnsupportedHost => "unsupported_host",
            ErrorCode::InternalError => "internal_error",
        }
    }

    pub fn category(self) -> Category {
        match self {
            ErrorCode::SchemaError => Category::Schema,
            ErrorCode::DataLossRefused => Category::DataLossRefused,
            ErrorCode::DataViolatesSchema => Category::DataViolatesSchema,
            ErrorCode::InTransaction => Category::InTransaction,
            ErrorCode::InvalidOption => Category::InvalidOption,
            ErrorCode::DatabaseError | ErrorCode::SqliteError | ErrorCode::UnsupportedHost => {
                Category::Database
            }
            ErrorCode::StalePlan
            | ErrorCode::NoTransaction
            | ErrorCode::VerificationFailed
            | ErrorCode::StepFailed
            | ErrorCode::InternalError => Category::Failed,
        }
    }
}

/// Why a call failed: `{ code, message, sourceName?, line?, column?, path?, violations?,
/// steps? }`. `message` is the whole message: what went wrong, where, and what to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Error {
    pub code: ErrorCode,
    pub message: String,
    /// A schema error: the schema's name, and the 1-based line and column in it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<u64>,
    /// A database error: the database file, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// `data_violates_schema`: the violated constraints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub violations: Option<Vec<Violation>>,
    /// `data_loss_refused`: the steps that would lose data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps: Option<Vec<String>>,
}

impl Error {
    /// An error with a code and a message only.
    pub fn plain(code: ErrorCode, message: String) -> Error {
        Error {
            code,
            message,
            source_name: None,
            line: None,
            column: None,
            path: None,
            violations: None,
            steps: None,
        }
    }

    /// The core's error as `front`'s caller reads it.
    pub fn from_core(e: liteshift::Error, front: FrontEnd) -> Error {
        use liteshift::{Error as E, Refusal};
        let code = match e {
            E::Schema { .. } => ErrorCode::SchemaError,
            E::Database { .. } => ErrorCode::DatabaseError,
            E::Refused(Refusal::DataLoss { .. }) => ErrorCode::DataLossRefused,
            E::Refused(Refusal::Violations { .. }) => ErrorCode::DataViolatesSchema,
            E::StalePlan { .. } => ErrorCode::StalePlan,
            E::InTransaction => ErrorCode::InTransaction,
            E::NoTransaction => ErrorCode::NoTransaction,
            E::Verification(_) => ErrorCode::VerificationFailed,
            E::StepFailed { .. } => ErrorCode::StepFailed,
            E::InvalidOption(_) => ErrorCode::InvalidOption,
            E::Sqlite(_) => ErrorCode::SqliteError,
        };
        let mut out = Error::plain(code, e.message(front));
        match e {
            E::Schema {
                source_name,
                line,
                column,
                ..
            } => {
                out.source_name = Some(source_name);
                out.line = Some(line as u64);
                out.column = Some(column as u64);
            }
            E::Database { path, .. } => out.path = Some(path),
            E::Refused(Refusal::DataLoss { steps }) => out.steps = Some(steps),
            E::Refused(Refusal::Violations { violations }) => {
                out.violations = Some(
                    violations
                        .into_iter()
                        .map(|v| Violation {
                            constraint: v.constraint,
                            table: v.table,
                            column: v.column,
                            count: v.count,
                            examples: v.examples,
                        })
                        .collect(),
                )
            }
            _ => {}
        }
        out
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

// ---------------------------------------------------------------------------------------------
// The calls

/// The front end a call comes from, and what it is told while a migration runs.
#[derive(Clone, Default)]
pub struct Caller {
    /// Whose option names a refusal's remedy uses (see [`liteshift::Error::message`]).
    pub front: FrontEnd,
    /// [`migrate`]'s listener.
    pub on_progress: Option<OnProgress>,
}

impl Caller {
    pub fn new(front: FrontEnd) -> Caller {
        Caller {
            front,
            on_progress: None,
        }
    }

    /// The core's options for this caller's call.
    pub fn core_options(&self, options: &Options) -> Result<liteshift::Options, Error> {
        let mut o = options.to_core(self.front).map_err(|e| self.error(e))?;
        if let Some(f) = self.on_progress.clone() {
            o.on_progress = Some(liteshift::ProgressObserver::new(move |p| {
                f(ProgressEvent::from(p))
            }));
        }
        Ok(o)
    }

    /// The core's error as this caller reads it.
    pub fn error(&self, e: liteshift::Error) -> Error {
        Error::from_core(e, self.front)
    }
}

impl std::fmt::Debug for Caller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Caller")
            .field("front", &self.front)
            .field("on_progress", &self.on_progress.is_some())
            .finish()
    }
}

/// The migration of `host`'s database to `schema_sql`, without running it. Reads only.
pub fn plan(
    host: &dyn liteshift::Host,
    schema_sql: &str,
    options: &Options,
    caller: &Caller,
) -> Result<Plan, Error> {
    let o = caller.core_options(options)?;
    liteshift::plan_migration(host, schema_sql, &o)
        .map(|p| Plan::from(p.plan))
        .map_err(|e| caller.error(e))
}

/// Whether `host`'s database already matches `schema_sql`.
pub fn check(
    host: &dyn liteshift::Host,
    schema_sql: &str,
    options: &Options,
    caller: &Caller,
) -> Result<bool, Error> {
    Ok(plan(host, schema_sql, options, caller)?.in_sync)
}

/// The plan from the declared schema `from_sql` to `to_sql`, both loaded into scratch
/// databases of `host`'s SQLite (its own database is not touched).
pub fn diff(
    host: &dyn liteshift::Host,
    from_sql: &str,
    to_sql: &str,
    options: &Options,
    caller: &Caller,
) -> Result<Plan, Error> {
    let o = caller.core_options(options)?;
    liteshift::plan_diff_on(host, from_sql, DIFF_FROM_NAME, to_sql, &o)
        .map(|p| Plan::from(p.plan))
        .map_err(|e| caller.error(e))
}

/// Migrate `host`'s database to `schema_sql`: the core's sequence, verified before commit;
/// `caller.on_progress` is told as each step starts and finishes.
pub fn migrate(
    host: &mut dyn liteshift::Host,
    schema_sql: &str,
    options: &Options,
    caller: &Caller,
) -> Result<Report, Error> {
    let o = caller.core_options(options)?;
    liteshift::migrate(host, schema_sql, &o)
        .map(Report::from)
        .map_err(|e| caller.error(e))
}

/// The SQLite version a name stands for: `3.40.1` itself, or the SQLite a platform release
/// ships (`android-26` → `3.18.0`, `ios-15` → `3.36.0`).
pub fn sqlite_version_of(name: &str) -> Result<String, Error> {
    liteshift::SqliteVersion::from_option(name)
        .map(|v| v.to_string())
        .map_err(|m| Error::plain(ErrorCode::InvalidOption, m))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn option_names_are_spelled_for_the_caller() {
        let name = ("renameTables", "rename_tables");
        assert_eq!(option_name(FrontEnd::Python, name), snake_case(name.0));
        assert_eq!(option_name(FrontEnd::JavaScript, name), "renameTables");
        let bad = Options {
            rename_tables: vec![("a".into(), "".into())],
            ..Options::default()
        };
        let e = Caller::new(FrontEnd::Python)
            .core_options(&bad)
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidOption);
        assert!(e.message.starts_with("rename_tables: "), "{}", e.message);
    }

    #[test]
    #[cfg(feature = "online")]
    fn online_options_become_the_cores_and_need_online() {
        let core = |o: &Options| o.to_core(FrontEnd::KotlinSwift).map(|c| c.online);
        assert_eq!(core(&Options::default()).unwrap(), None);
        let online = Options {
            online: true,
            ..Options::default()
        };
        assert_eq!(
            core(&online).unwrap(),
            Some(liteshift::OnlineOptions::default())
        );
        let tuned = core(&Options {
            online_chunk_ms: Some(10),
            online_pause_ms: Some(0),
            ..online
        })
        .unwrap()
        .unwrap();
        assert_eq!(tuned.chunk_time, std::time::Duration::from_millis(10));
        assert_eq!(tuned.pause, std::time::Duration::ZERO);
        assert_eq!(
            tuned.first_chunk_rows,
            liteshift::OnlineOptions::default().first_chunk_rows
        );
        for (front, name) in [
            (FrontEnd::Python, "online_pause_ms"),
            (FrontEnd::JavaScript, "onlinePauseMs"),
        ] {
            let without = Options {
                online_pause_ms: Some(5),
                ..Options::default()
            };
            let e = Caller::new(front).core_options(&without).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidOption);
            assert!(e.message.starts_with(&format!("{name}: ")), "{}", e.message);
        }
    }

    #[test]
    fn the_npm_package_refuses_every_online_option_by_its_name() {
        let online = Options {
            online: true,
            ..Options::default()
        };
        let npm = Caller::new(FrontEnd::JavaScript);
        let e = npm.core_options(&online).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidOption);
        assert_eq!(e.message, format!("online: {NPM_NO_ONLINE}"));
        let chunk = Options {
            online_chunk_ms: Some(10),
            ..online
        };
        assert_eq!(npm.core_options(&chunk).unwrap_err().message, e.message);
        let pause = Options {
            online_pause_ms: Some(0),
            ..Options::default()
        };
        let e = npm.core_options(&pause).unwrap_err();
        assert!(
            e.message.starts_with("onlinePauseMs: the npm package"),
            "{}",
            e.message
        );
        assert!(npm
            .core_options(&Options::default())
            .unwrap()
            .online
            .is_none());
    }

    #[test]
    fn every_cost_kind_serializes_as_its_string() {
        use CostKind::*;
        for kind in [Constant, Rewrite, Scan, Free] {
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
        }
    }

    #[test]
    fn every_code_serializes_as_its_string() {
        for code in ErrorCode::ALL {
            let json = serde_json::to_value(code).unwrap();
            assert_eq!(json, code.as_str());
            assert_eq!(ErrorCode::parse(code.as_str()), Some(code));
        }
    }

    #[test]
    fn every_core_error_has_its_own_code() {
        use liteshift::{Error as E, HostError, Refusal};
        let host = HostError {
            code: None,
            message: "x".into(),
            offset: None,
        };
        let all = [
            E::Schema {
                source_name: "s".into(),
                line: 1,
                column: 2,
                message: "m".into(),
            },
            E::Database {
                path: "p".into(),
                message: "m".into(),
            },
            E::Refused(Refusal::DataLoss { steps: vec![] }),
            E::Refused(Refusal::Violations { violations: vec![] }),
            E::StalePlan {
                planned: "a".into(),
                actual: "b".into(),
            },
            E::InTransaction,
            E::NoTransaction,
            E::Verification("v".into()),
            E::StepFailed {
                step: 1,
                reason: "r".into(),
                message: "m".into(),
            },
            E::InvalidOption("o".into()),
            E::Sqlite(host),
        ];
        for e in all {
            let code = e.code();
            let c = Error::from_core(e, FrontEnd::JavaScript);
            assert_eq!(c.code.as_str(), code);
        }
    }
}
