//! liteshift: declarative schema evolution for SQLite.
//!
//! Declare the schema you want as plain SQL; liteshift reads the live database, computes the
//! smallest safe migration, and applies it in one transaction, verified before it commits.
//!
//! ```
//! use liteshift::{migrate, Options};
//! use rusqlite::Connection;
//!
//! let mut conn = Connection::open_in_memory()?;
//! conn.execute_batch("CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT);
//!                     INSERT INTO users(name) VALUES ('ada');")?;
//!
//! let schema = "CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT);
//!               CREATE INDEX users_email ON users(email);";
//! let report = migrate(&mut conn, schema, &Options::default())?;
//! assert!(report.steps_applied > 0);
//!
//! // Already in sync: nothing to do.
//! assert_eq!(migrate(&mut conn, schema, &Options::default())?.steps_applied, 0);
//! let name: String = conn.query_row("SELECT name FROM users", [], |r| r.get(0))?;
//! assert_eq!(name, "ada");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The pipeline: [`introspect()`] both sides into a [`Schema`] → [`diff()`] → [`Changes`] →
//! [`plan()`] → [`Plan`] → [`apply()`] (or [`render_sql`]).

mod apply;
mod batch;
mod cost;
mod declared;
mod diff;
mod error;
#[cfg(feature = "rusqlite")]
pub mod fleet;
mod host;
#[cfg(feature = "rusqlite")]
mod hostmod;
mod introspect;
mod model;
mod plan;
mod platform;
pub mod probe;
#[cfg(feature = "rusqlite")]
pub mod rehearse;
mod render;
mod share;
mod sqltext;
#[cfg(feature = "testing")]
pub mod testing;
mod unchanged;
mod version;

use std::time::Duration;

// The crate's face: the modules above are private (but for the sub-APIs `fleet`, `probe`,
// `rehearse` and `testing`); what a front end, a binding or a test may use is exported here.
pub use apply::{
    apply, ApplyOptions, OnlineOptions, Progress, ProgressObserver, Report, ROWS_EVERY,
};
pub use batch::{failure as batch_failure, statements as batch_statements};
pub use cost::thousands;
#[cfg(feature = "rusqlite")]
pub use declared::{load_catalog, load_declared, load_declared_opts};
pub use declared::{load_catalog_on, load_declared_on, CatalogRow, Declared, LoadOptions};
pub use diff::{diff, Changes, DiffOptions, Hints, ValueHint};
pub use error::{database_error, Error, FrontEnd, Refusal, Result, Violation};
#[cfg(feature = "rusqlite")]
pub use host::host_error;
#[cfg(feature = "rusqlite")]
pub use host::sqlite_message;
pub use host::{
    execute_statements, in_transaction_by_begin, ErrorKind as HostErrorKind, Host, HostError, Rows,
    Value, ValueRef,
};
pub use introspect::{host_version, introspect};
pub use model::Schema;
pub use plan::{
    plan, Capabilities, Cost, Estimate, FkCheck, HealthCheck, Online, OnlineTable, Plan, Policy,
    Step,
};
pub use platform::CLOUDFLARE_D1;
pub use render::{render_script, render_sql, render_summary, Wrapping};
pub use sqltext::{normalize_sql, quote_ident};
pub use version::SqliteVersion;

/// Everything a migration can be told.
#[derive(Debug, Clone)]
pub struct Options {
    /// Allow steps that lose data (drop table, drop column).
    pub allow_data_loss: bool,
    /// Whose caller reads the messages liteshift writes itself (a fleet's outcomes): a
    /// refusal says what to do in that front end's options (see [`Error::message`]).
    pub front_end: FrontEnd,
    /// Column order is significant: a reorder plans a rebuild.
    pub exact_column_order: bool,
    /// Rename hints (added to those the schema's annotations carry).
    pub hints: Hints,
    /// Plan for this SQLite version instead of the connection's.
    pub sqlite_version: Option<SqliteVersion>,
    /// How long to wait for another connection's write lock.
    pub busy_timeout: Duration,
    /// Name of the schema source in error messages (a file path).
    pub source_name: String,
    /// Run the migration, its checks and its verification, then roll back.
    pub dry_run: bool,
    /// Write a consistent copy of the database here before changing anything.
    pub backup: Option<std::path::PathBuf>,
    /// Told when each step starts and finishes, and of the rows a long step has written so far
    /// (see [`apply::Progress`]).
    pub on_progress: Option<apply::ProgressObserver>,
    /// Make a declared foreign key to an undeclared table or column (or to parent columns
    /// that are not a key) an error. By default it is accepted, as SQLite accepts it, with a
    /// warning naming it; apply then refuses only foreign-key violations the migration
    /// itself creates.
    pub deny_dangling_foreign_keys: bool,
    /// The migration runs on another host (a browser page's SQLite) whose virtual-table
    /// modules this SQLite may lack: a declared `CREATE VIRTUAL TABLE` with a missing module
    /// is modelled with a stand-in instead of being an error. See `hostmod`.
    pub host_modules: bool,
    /// Rebuild large tables online: other connections keep writing while the rows are copied
    /// in short transactions (see [`plan::Online`]); `None`: every rebuild in one transaction.
    pub online: Option<apply::OnlineOptions>,
    /// Name patterns (GLOB: `*`, `?`, `[…]`; ignoring case) of objects that are not the
    /// schema's, added to the schema's `-- liteshift:ignore` annotations: left as they are,
    /// never compared or dropped (a table with its indexes and triggers; a view, index or
    /// trigger by its own name). Declaring one is an error. See ARCHITECTURE.md, `share.rs`.
    pub ignore: Vec<String>,
    /// Never drop what the declaration does not mention — a table, column, index, view or
    /// trigger — and apply everything else; the plan names what was kept ([`Plan::kept`]).
    pub keep_undeclared: bool,
    /// Plan as if foreign-key enforcement could not be switched off (Cloudflare D1, rqlite
    /// `-fk`): a rebuild takes every table that references the rebuilt one along. Found on
    /// the host by itself (see [`probe::foreign_keys_enforced`]); this is for planning
    /// without one (`diff`) and for tests.
    pub foreign_keys_enforced: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            allow_data_loss: false,
            exact_column_order: false,
            hints: Hints::default(),
            sqlite_version: None,
            busy_timeout: Duration::from_secs(5),
            source_name: "<schema>".into(),
            deny_dangling_foreign_keys: false,
            host_modules: false,
            dry_run: false,
            backup: None,
            on_progress: None,
            online: None,
            ignore: Vec::new(),
            keep_undeclared: false,
            foreign_keys_enforced: false,
            front_end: FrontEnd::Rust,
        }
    }
}

impl Options {
    fn policy(&self) -> Policy {
        Policy {
            allow_data_loss: self.allow_data_loss,
            exact_column_order: self.exact_column_order,
            online: self.online.is_some(),
        }
    }
    /// How declared schemas are loaded under these options.
    pub fn load_options(&self) -> declared::LoadOptions {
        declared::LoadOptions {
            deny_dangling_fks: self.deny_dangling_foreign_keys,
            host_modules: self.host_modules,
            ignore: self.ignore.clone(),
        }
    }
    fn diff_options(&self) -> DiffOptions {
        DiffOptions {
            exact_column_order: self.exact_column_order,
        }
    }
}

/// A plan together with the schemas it was computed from.
#[derive(Debug, Clone)]
pub struct Planned {
    pub current: Schema,
    pub target: Schema,
    pub changes: Changes,
    pub plan: Plan,
}

/// The schema as SQL usable as a declared schema: every user object's `CREATE` statement, in
/// creation order.
pub fn schema_sql(schema: &Schema) -> String {
    let mut objs: Vec<(i64, &str)> = Vec::new();
    objs.extend(schema.tables.values().map(|t| (t.seq, t.sql.as_str())));
    objs.extend(schema.indexes.values().map(|t| (t.seq, t.sql.as_str())));
    objs.extend(schema.views.values().map(|t| (t.seq, t.sql.as_str())));
    objs.extend(schema.triggers.values().map(|t| (t.seq, t.sql.as_str())));
    objs.sort_by_key(|o| o.0);
    let mut s = String::new();
    for (_, sql) in objs {
        s.push_str(sql);
        s.push_str(";\n");
    }
    s
}

/// The SQLite version of a host.
pub fn connection_version(host: &dyn Host) -> Result<SqliteVersion> {
    host_version(host).map_err(|e| as_database_error(host, e))
}

fn as_database_error(host: &dyn Host, e: Error) -> Error {
    match e {
        Error::Sqlite(se) => database_error(host, se),
        other => other,
    }
}

/// Asking for an online rebuild of a build without the `online` feature (the npm package).
const NO_ONLINE: &str =
    "online: this build of liteshift has no online rebuild (the core's `online` feature)";

/// Plan the migration of `current` to the declared schema `target`. An explicit rename hint
/// (`opts.hints`) that cannot apply is an error; the schema's own annotations apply only while
/// they can.
pub fn plan_schemas(
    current: Schema,
    target: &Declared,
    opts: &Options,
    caps: Capabilities,
) -> Result<Planned> {
    if opts.online.is_some() && !cfg!(feature = "online") {
        return Err(Error::InvalidOption(NO_ONLINE.into()));
    }
    let mut target_schema = target.schema.clone();
    let ignore = share::Ignore::new(target.ignore.iter().map(String::as_str))?;
    share::carry_ignored(&current, &mut target_schema, &ignore);
    let diff = |target_schema: &Schema| {
        diff::diff_hinted(
            &current,
            target_schema,
            &target.hints,
            &opts.hints,
            opts.diff_options(),
        )
    };
    let mut changes = diff(&target_schema);
    if !changes.hint_errors.is_empty() {
        return Err(Error::InvalidOption(changes.hint_errors.join("; ")));
    }
    let mut kept = Vec::new();
    if opts.keep_undeclared {
        kept = share::keep_undeclared(&current, &mut target_schema, &changes)?;
        if !kept.is_empty() {
            changes = diff(&target_schema);
        }
    }
    let mut plan = plan::plan(&current, &target_schema, &changes, caps, opts.policy());
    plan.warnings.extend(target.warnings.iter().cloned());
    plan.kept = kept;
    Ok(Planned {
        current,
        target: target_schema,
        changes,
        plan,
    })
}

/// Load the declared schema `sql` for a migration on `host`: into a scratch database of the
/// host's own SQLite, which validates it (its version, compile options and modules). With
/// [`Options::host_modules`], into liteshift's own SQLite with stand-in modules instead.
pub fn load_for(host: &dyn Host, sql: &str, source_name: &str, opts: &Options) -> Result<Declared> {
    #[cfg(feature = "rusqlite")]
    if opts.host_modules {
        return declared::load_declared_opts(sql, source_name, opts.load_options());
    }
    let scratch = host
        .scratch()
        .map_err(|e| as_database_error(host, e.into()))?;
    declared::load_declared_on(&*scratch, sql, source_name, opts.load_options())
}

/// Plan (without applying) the migration of `host`'s database to `schema_sql`.
pub fn plan_migration(host: &dyn Host, schema_sql: &str, opts: &Options) -> Result<Planned> {
    plan_migration_at(host, schema_sql, opts, connection_version(host)?)
}

/// [`plan_migration`] on a host whose SQLite is `version` (asked once per call: a host that
/// refuses `sqlite_version()` shows it through a few queries, each a round trip on D1).
fn plan_migration_at(
    host: &dyn Host,
    schema_sql: &str,
    opts: &Options,
    version: SqliteVersion,
) -> Result<Planned> {
    if let Some(planned) = plan_if_unchanged_at(host, schema_sql, opts, version)? {
        return Ok(planned);
    }
    let declared = load_for(host, schema_sql, &opts.source_name, opts)?;
    plan_declared(host, &declared, opts, capabilities_at(host, opts, version)?)
}

/// The in-sync plan, made without loading the declared schema, when the database's stored
/// schema is exactly the declared statements (module `unchanged`); `None` otherwise.
pub fn plan_if_unchanged(
    host: &dyn Host,
    schema_sql: &str,
    opts: &Options,
) -> Result<Option<Planned>> {
    plan_if_unchanged_at(host, schema_sql, opts, connection_version(host)?)
}

/// [`plan_if_unchanged`] on a host whose SQLite is `version`.
fn plan_if_unchanged_at(
    host: &dyn Host,
    schema_sql: &str,
    opts: &Options,
    version: SqliteVersion,
) -> Result<Option<Planned>> {
    // The host's own version decides which queries read it; the plan is for `caps`.
    let caps = Capabilities::new(opts.sqlite_version.unwrap_or(version));
    let introspected =
        || introspect::introspect_at(host, version).map_err(|e| as_database_error(host, e));
    let Some(declared) =
        unchanged::declared_as_stored(host, schema_sql, opts, version, introspected)
            .map_err(|e| as_database_error(host, e))?
    else {
        return Ok(None);
    };
    let planned = plan_schemas(declared.schema.clone(), &declared, opts, caps)?;
    Ok(planned.plan.steps.is_empty().then_some(planned))
}

/// The plan of an in-sync database, when it is one, told as cheaply as it can be: from the
/// stored text alone ([`unchanged::stored_in_sync`]), else from the database's model
/// ([`plan_if_unchanged`]); `None` when only the full path can tell.
fn in_sync_at(
    host: &dyn Host,
    schema_sql: &str,
    opts: &Options,
    version: SqliteVersion,
) -> Result<Option<Plan>> {
    let stored = unchanged::stored_in_sync(host, schema_sql, opts)
        .map_err(|e| as_database_error(host, e))?;
    if let Some(fingerprint) = stored {
        let mut caps = Capabilities::new(opts.sqlite_version.unwrap_or(version));
        caps.foreign_keys_enforced = opts.foreign_keys_enforced;
        return Ok(Some(Plan::in_sync(fingerprint, caps)));
    }
    Ok(plan_if_unchanged_at(host, schema_sql, opts, version)?.map(|p| p.plan))
}

/// The options a batch is planned with: enforcement on (a batch cannot switch it off inside
/// its transaction); `keep_undeclared` refused (the guards compare the whole schema).
fn batch_options(opts: &Options) -> Result<Options> {
    if opts.keep_undeclared {
        return Err(Error::InvalidOption("keep_undeclared cannot be checked inside a batch yet: the batch's guards compare the whole schema; migrate without it".into()));
    }
    Ok(Options {
        foreign_keys_enforced: true,
        ..opts.clone()
    })
}

/// [`plan_migration`] for a host whose transaction is a batch and whose foreign-key
/// enforcement stays on (Cloudflare D1's `batch()`): the database is read on `host` as for any
/// plan, the plan is made with enforcement on ([`Options::foreign_keys_enforced`]), and it
/// carries the catalog signatures ([`Plan::batch`]) of the database as read now and of the
/// declared schema, which the guards of [`render_script`]`(…, Wrapping::Batch)` check: that
/// batch yields the declared schema, or stops with nothing changed.
pub fn plan_migration_for_batch(
    host: &dyn Host,
    schema_sql: &str,
    opts: &Options,
) -> Result<Planned> {
    let opts = batch_options(opts)?;
    let connection = connection_version(host)?;
    let mut planned = plan_migration_at(host, schema_sql, &opts, connection)?;
    if planned.plan.steps.is_empty() {
        return Ok(planned);
    }
    // The declared signature from a fresh load of the declared text (the declared load leaves
    // its probe's rewrites behind): SQLite's catalog, not a model of it.
    let to = host
        .scratch()
        .map_err(|e| as_database_error(host, e.into()))?;
    to.execute_script(schema_sql)?;
    let version = opts.sqlite_version.unwrap_or(connection);
    let mut ignore = opts.ignore.clone();
    ignore.extend(declared::parse_annotations(schema_sql, &opts.source_name)?.ignore);
    planned.plan.batch = Some(batch::BatchGuards::read(
        host,
        &*to,
        version,
        &ignore,
        &planned.plan,
    )?);
    Ok(planned)
}

/// [`plan_migration`] for an already loaded declared schema (see [`migrate_declared`]).
pub fn plan_loaded(host: &dyn Host, declared: &Declared, opts: &Options) -> Result<Planned> {
    plan_declared(host, declared, opts, capabilities(host, opts)?)
}

/// What the SQLite that runs the plan can do: `opts.sqlite_version`'s, or the host's; for an
/// online plan, whether the connection may edit `sqlite_schema`.
fn capabilities(host: &dyn Host, opts: &Options) -> Result<Capabilities> {
    capabilities_at(host, opts, connection_version(host)?)
}

/// [`capabilities`] of a host whose SQLite is `connection`.
fn capabilities_at(
    host: &dyn Host,
    opts: &Options,
    connection: SqliteVersion,
) -> Result<Capabilities> {
    let version = opts.sqlite_version.unwrap_or(connection);
    let mut caps = Capabilities::new(version);
    caps.foreign_keys_enforced = opts.foreign_keys_enforced
        || probe::foreign_keys_enforced(host).map_err(|e| as_database_error(host, e))?;
    caps.writable_schema = cfg!(feature = "online")
        && opts.online.is_some()
        && version >= SqliteVersion(3, 40, 0)
        && connection >= SqliteVersion(3, 40, 0)
        && probe::schema_editable(host);
    Ok(caps)
}

/// What a SQLite of `version` can do, planning without its host (`diff`, catalog rows).
#[cfg(feature = "rusqlite")]
fn offline_capabilities(version: SqliteVersion, opts: &Options) -> Capabilities {
    let mut caps = Capabilities::new(version);
    caps.foreign_keys_enforced = opts.foreign_keys_enforced;
    caps
}

/// Plan the migration of `host`'s database to an already loaded declared schema.
fn plan_declared(
    host: &dyn Host,
    declared: &Declared,
    opts: &Options,
    caps: Capabilities,
) -> Result<Planned> {
    let current =
        introspect::introspect_at(host, caps.version).map_err(|e| as_database_error(host, e))?;
    let mut planned = plan_schemas(current, declared, opts, caps)?;
    check_values(host, &planned, &opts.source_name)?;
    cost::estimate(host, &planned.current, &mut planned.plan);
    Ok(planned)
}

/// Each declared value must compile against its table as it is (SQLite says), before anything
/// runs: an annotation's error points at its line and column.
fn check_values(host: &dyn Host, planned: &Planned, source_name: &str) -> Result<()> {
    for a in &planned.changes.altered_tables {
        let c = &planned.current.tables[&a.from];
        for v in a.values.values() {
            let probe = format!(
                "SELECT ({}) FROM {} LIMIT 0",
                v.expr,
                sqltext::quote_ident(&c.name)
            );
            let Err(e) = host.query(&probe) else { continue };
            let message = format!(
                "value {}.{} = {}: {}; the expression is computed from each existing row of {} as it was, by its current column names",
                v.table, v.column, v.expr, e.message, c.name
            );
            return Err(match v.at {
                Some((line, column)) => Error::Schema {
                    source_name: source_name.to_string(),
                    line,
                    column,
                    message,
                },
                None => Error::InvalidOption(message),
            });
        }
    }
    Ok(())
}

/// Schema-to-schema: the migration from the declared schema `from_sql` to `to_sql`, with no
/// database, on liteshift's own SQLite. Running the rendered plan on a database at `from_sql`
/// yields `to_sql`.
#[cfg(feature = "rusqlite")]
pub fn plan_diff(from_sql: &str, from_name: &str, to_sql: &str, opts: &Options) -> Result<Planned> {
    let scratch = crate::host::own_scratch(opts.host_modules)?;
    let from = declared::load_declared_on(&*scratch, from_sql, from_name, opts.load_options())?;
    let to = declared::load_declared_opts(to_sql, &opts.source_name, opts.load_options())?;
    let version = opts.sqlite_version.unwrap_or_else(SqliteVersion::bundled);
    let planned = plan_schemas(from.schema, &to, opts, offline_capabilities(version, opts))?;
    // Declared values compile against the `from` tables (empty, in the scratch database).
    check_values(&*scratch, &planned, &opts.source_name)?;
    Ok(planned)
}

/// [`plan_diff`] for a host whose transaction is a batch and whose foreign-key enforcement
/// stays on (Cloudflare D1): planned with [`Options::foreign_keys_enforced`], and carrying the
/// catalog signatures of both schemas ([`Plan::batch`]) that the guards of
/// [`render_script`]`(…, Wrapping::Batch)` check. Run on a database at `from_sql`, that script
/// yields `to_sql`, or stops unchanged.
#[cfg(feature = "rusqlite")]
pub fn plan_diff_for_batch(
    from_sql: &str,
    from_name: &str,
    to_sql: &str,
    opts: &Options,
) -> Result<Planned> {
    let opts = batch_options(opts)?;
    let (from_db, to_db) = (
        crate::host::own_scratch(opts.host_modules)?,
        crate::host::own_scratch(opts.host_modules)?,
    );
    let from = declared::load_declared_on(&*from_db, from_sql, from_name, opts.load_options())?;
    let to = declared::load_declared_on(&*to_db, to_sql, &opts.source_name, opts.load_options())?;
    let version = opts.sqlite_version.unwrap_or_else(SqliteVersion::bundled);
    let mut planned = plan_schemas(
        from.schema,
        &to,
        &opts,
        offline_capabilities(version, &opts),
    )?;
    check_values(&*from_db, &planned, &opts.source_name)?;
    // The declared load leaves its probe's rewrites behind: read the signatures from fresh
    // loads of both schemas (SQLite's catalog, not a model of it).
    let (from_db, to_db) = (
        crate::host::own_scratch(false)?,
        crate::host::own_scratch(false)?,
    );
    from_db.execute_script(from_sql)?;
    to_db.execute_script(to_sql)?;
    planned.plan.batch = Some(batch::BatchGuards::read(
        &*from_db,
        &*to_db,
        version,
        &to.ignore,
        &planned.plan,
    )?);
    Ok(planned)
}

/// Schema-to-schema on a host's SQLite: both schemas are loaded into scratch databases of
/// `host` (whose own database is not touched), and the plan is for `opts.sqlite_version` or
/// the host's version.
pub fn plan_diff_on(
    host: &dyn Host,
    from_sql: &str,
    from_name: &str,
    to_sql: &str,
    opts: &Options,
) -> Result<Planned> {
    let scratch = host
        .scratch()
        .map_err(|e| as_database_error(host, e.into()))?;
    let from = declared::load_declared_on(&*scratch, from_sql, from_name, opts.load_options())?;
    let to = load_for(host, to_sql, &opts.source_name, opts)?;
    let planned = plan_schemas(from.schema, &to, opts, capabilities(host, opts)?)?;
    check_values(&*scratch, &planned, &opts.source_name)?;
    Ok(planned)
}

/// Plan the migration of a database described by its catalog rows (read on another host) to
/// `schema_sql`. Plans for `opts.sqlite_version`, or the bundled SQLite's version.
#[cfg(feature = "rusqlite")]
pub fn plan_catalog(rows: &[CatalogRow], schema_sql: &str, opts: &Options) -> Result<Planned> {
    let current = load_catalog(rows)?;
    let declared =
        declared::load_declared_opts(schema_sql, &opts.source_name, opts.load_options())?;
    let version = opts.sqlite_version.unwrap_or_else(SqliteVersion::bundled);
    plan_schemas(
        current,
        &declared,
        opts,
        offline_capabilities(version, opts),
    )
}

/// Migrate `host`'s database to the declared schema `schema_sql`, in one transaction.
/// Does nothing when the database already matches. When another connection changes the
/// schema between planning and taking the write lock (two copies of an app starting at
/// once), the plan is made again under the lock.
pub fn migrate(host: &mut dyn Host, schema_sql: &str, opts: &Options) -> Result<Report> {
    migrate_with(host, schema_sql, opts, &mut |_| {})
}

/// Like [`migrate`], calling `on_plan` with the plan before applying it (the CLI prints it).
/// The plan actually applied (re-made if the schema moved) is the report's.
pub fn migrate_with(
    host: &mut dyn Host,
    schema_sql: &str,
    opts: &Options,
    on_plan: &mut dyn FnMut(&Plan),
) -> Result<Report> {
    let version = connection_version(host)?;
    if let Some(plan) = in_sync_at(host, schema_sql, opts, version)? {
        on_plan(&plan);
        return Ok(apply::Report {
            steps_applied: 0,
            foreign_keys_toggled: false,
            plan,
            backup: None,
        });
    }
    let declared = load_for(host, schema_sql, &opts.source_name, opts)?;
    let caps = capabilities_at(host, opts, version)?;
    migrate_planned(host, &declared, opts, caps, on_plan)
}

/// [`migrate_with`] for an already loaded declared schema (many databases migrated to one
/// schema load it once: see [`fleet`]). `declared` must have been loaded on the same SQLite
/// as `host`'s (or with [`Options::host_modules`]).
pub fn migrate_declared(
    host: &mut dyn Host,
    declared: &Declared,
    opts: &Options,
    on_plan: &mut dyn FnMut(&Plan),
) -> Result<Report> {
    let caps = capabilities(host, opts)?;
    migrate_planned(host, declared, opts, caps, on_plan)
}

/// [`migrate_declared`] for a host that can do what `caps` say.
fn migrate_planned(
    host: &mut dyn Host,
    declared: &Declared,
    opts: &Options,
    caps: Capabilities,
    on_plan: &mut dyn FnMut(&Plan),
) -> Result<Report> {
    let host: &dyn Host = host;
    let planned = plan_declared(host, declared, opts, caps)?;
    on_plan(&planned.plan);
    let replan = |current: Schema| {
        let mut p = plan_schemas(current, declared, opts, caps)?;
        // Apply verifies against the first target. Ignored and kept objects are carried from
        // the database into it: if another connection changed those meanwhile, the target
        // moved too, and this plan is refused as stale rather than verified against the old.
        if p.target != planned.target {
            return Err(Error::StalePlan {
                planned: planned.plan.fingerprint.clone(),
                actual: p.plan.fingerprint,
            });
        }
        cost::estimate(host, &p.current, &mut p.plan);
        Ok(p.plan)
    };
    apply::apply_replanning(
        host,
        &planned.plan,
        &planned.target,
        opts.policy(),
        ApplyOptions {
            busy_timeout: opts.busy_timeout,
            dry_run: opts.dry_run,
            backup: opts.backup.clone(),
            on_progress: opts.on_progress.clone(),
            online: opts.online.unwrap_or_default(),
        },
        Some(&replan),
    )
}
