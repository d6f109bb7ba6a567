//! Run a [`Plan`] on a connection: one transaction, verified before it commits.
//!
//! Architecture invariant: apply runs the plan's SQL exactly as [`crate::render::render_sql`]
//! prints it (foreign-key switch, `BEGIN IMMEDIATE`, the steps, `PRAGMA foreign_key_check` of
//! the plan's tables, `COMMIT`), and in between only reads — the health and data checks and
//! the re-introspection that must diff empty against the target — plus, when
//! data checks wait for a failing step, one savepoint around the steps to return to before
//! they run. Anything else rolls everything back. A plan with an online rebuild runs its
//! prepare transaction and its copy first, chunk by chunk (`online`), then its steps here as
//! the swap.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use crate::diff::{diff, DiffOptions, Hints};
use crate::error::{database_error, io_error_message, Error, Refusal, Result, Violation};
use crate::host::{database_path, query_value, ErrorKind, Host, HostError, Value};
use crate::introspect::introspect;
use crate::model::Schema;
use crate::plan::{DataCheck, FkCheck, Plan, Policy, BEGIN, FK_CHECK, FK_OFF, FK_ON};

mod online;
pub use online::OnlineOptions;

/// What apply did.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Steps run (0 when the database was already in sync).
    pub steps_applied: usize,
    /// Whether foreign-key enforcement was switched off around the transaction (and restored).
    pub foreign_keys_toggled: bool,
    /// The plan that was applied.
    pub plan: Plan,
    /// Where the pre-migration backup was written, if one was asked for and needed.
    pub backup: Option<String>,
}

/// Apply options.
#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// How long to wait for another connection's lock before giving up.
    pub busy_timeout: Duration,
    /// Run everything, including the checks and the verification, then roll back.
    pub dry_run: bool,
    /// Write a consistent copy of the database here before changing anything. Taken with
    /// SQLite's backup API under the migration's write lock, so it is exactly the state the
    /// migration starts from (WAL content included). The file must not exist yet.
    pub backup: Option<PathBuf>,
    /// Told when each step starts and finishes, and of the rows a long step has written so
    /// far (a rehearsal times the steps; the CLI draws a progress bar).
    pub on_progress: Option<ProgressObserver>,
    /// How an online rebuild copies (used when the plan has one: see [`crate::plan::Online`]).
    pub online: OnlineOptions,
}

/// A step that ran: its number (1-based), the step, how long it took (zero where there is no
/// clock: wasm32-unknown-unknown), and the rows its last statement changed (SQLite's
/// `changes()`).
#[derive(Debug, Clone)]
pub struct StepDone<'a> {
    pub number: usize,
    pub step: &'a crate::plan::Step,
    pub elapsed: Duration,
    pub rows_changed: u64,
}

/// What a running migration reports, in order: for each step `Started`, then (for a step that
/// writes rows, on a host that can count them) `Rows` every [`ROWS_EVERY`] rows, then
/// `Finished`. Steps are numbered from 1 of `total`.
#[derive(Debug, Clone)]
pub enum Progress<'a> {
    Started {
        number: usize,
        total: usize,
        step: &'a crate::plan::Step,
    },
    /// Rows the step has written so far (its estimate, if any, is in `step.cost`).
    Rows {
        number: usize,
        total: usize,
        rows: u64,
    },
    Finished {
        total: usize,
        done: StepDone<'a>,
    },
}

/// How often a step that writes rows reports them.
pub const ROWS_EVERY: u64 = 4096;

/// A callback for a migration's progress (`Send + Sync`, so that options can be shared by the
/// threads of a [`crate::fleet`]). It runs on the migrating thread, between SQLite's row
/// writes: it must not use the connection, and should return quickly.
#[derive(Clone)]
pub struct ProgressObserver(pub std::sync::Arc<dyn Fn(&Progress<'_>) + Send + Sync>);

impl ProgressObserver {
    pub fn new(f: impl Fn(&Progress<'_>) + Send + Sync + 'static) -> Self {
        ProgressObserver(std::sync::Arc::new(f))
    }
}

impl std::fmt::Debug for ProgressObserver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProgressObserver")
    }
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions {
            busy_timeout: Duration::from_secs(5),
            dry_run: false,
            backup: None,
            on_progress: None,
            online: OnlineOptions::default(),
        }
    }
}

/// Apply `plan` to `host`, whose result must equal `target`. The plan is the caller's: if the
/// database's schema changed since it was made, it is refused as stale.
pub fn apply(
    host: &mut dyn Host,
    plan: &Plan,
    target: &Schema,
    policy: Policy,
    opts: ApplyOptions,
) -> Result<Report> {
    apply_replanning(&*host, plan, target, policy, opts, None)
}

/// Makes a new plan from the schema read under the write lock (for a plan liteshift made
/// itself, whose schema another connection changed meanwhile).
pub type Replan<'a> = &'a dyn Fn(Schema) -> Result<Plan>;

/// Like [`apply`]; when the schema changed since `plan` was made and `replan` is given, the
/// plan is made again under the write lock (usually finding the database in sync: another
/// process migrated it first) instead of being refused.
pub fn apply_replanning(
    host: &dyn Host,
    plan: &Plan,
    target: &Schema,
    policy: Policy,
    opts: ApplyOptions,
    replan: Option<Replan>,
) -> Result<Report> {
    if host.caller_transaction() {
        refuse_in_caller_transaction(plan, &opts)?;
    }
    let mut plan = plan.clone();
    // A re-made plan that needs foreign-key enforcement off, which cannot change inside the
    // transaction, is run again from here: a few times at most, as other writers allow.
    for _ in 0..4 {
        let ran = match &plan.online {
            Some(online) if cfg!(feature = "online") => {
                online::apply_online(host, &plan, online, target, policy, &opts, replan)?
            }
            Some(_) => return Err(Error::InvalidOption(crate::NO_ONLINE.into())),
            None => apply_once(host, &plan, target, policy, &opts, replan)?,
        };
        match ran {
            Ran::Done(report) => return Ok(report),
            Ran::Again(next) => plan = next,
        }
    }
    let actual = introspect(host)?.stored_fingerprint();
    Err(Error::StalePlan {
        planned: plan.fingerprint,
        actual,
    })
}

/// In the caller's transaction ([`Host::caller_transaction`]) liteshift cannot roll back on
/// its own, nor commit chunk by chunk: a dry run and an online rebuild are refused up front.
fn refuse_in_caller_transaction(plan: &Plan, opts: &ApplyOptions) -> Result<()> {
    if opts.dry_run {
        return Err(Error::InvalidOption("a dry run needs a transaction liteshift can roll back, and this host's transaction is the caller's: ask for the plan instead (plan(), liteshift plan)".into()));
    }
    if plan.online.is_some() {
        return Err(Error::InvalidOption("an online rebuild commits chunk by chunk, and this host's transaction is the caller's, which commits once: migrate without the online option".into()));
    }
    Ok(())
}

/// What one attempt did.
pub(crate) enum Ran {
    Done(Report),
    /// Rolled back: run this plan instead, outside the transaction first.
    Again(Plan),
}

fn refuse_data_loss(plan: &Plan, policy: Policy) -> Result<()> {
    let lost = plan.destructive_steps();
    if !policy.allow_data_loss && !lost.is_empty() {
        return Err(Error::Refused(Refusal::DataLoss { steps: lost }));
    }
    Ok(())
}

fn apply_once(
    host: &dyn Host,
    plan: &Plan,
    target: &Schema,
    policy: Policy,
    opts: &ApplyOptions,
    replan: Option<Replan>,
) -> Result<Ran> {
    let report = |plan: Plan, n: usize, toggled: bool| Report {
        steps_applied: n,
        foreign_keys_toggled: toggled,
        plan,
        backup: if n > 0 {
            opts.backup.as_ref().map(|p| p.display().to_string())
        } else {
            None
        },
    };
    if plan.steps.is_empty() {
        return Ok(Ran::Done(report(plan.clone(), 0, false)));
    }
    if let Some(b) = &opts.backup {
        if b.exists() {
            return Err(Error::InvalidOption(format!(
                "backup file {} already exists; choose a new path (liteshift never overwrites a backup)",
                b.display()
            )));
        }
    }
    refuse_data_loss(plan, policy)?;
    let in_tx =
        host.caller_transaction() || host.in_transaction().map_err(|e| database_error(host, e))?;
    let fk_on = foreign_keys_on(host)?;
    let toggle = plan.foreign_keys_off && fk_on;
    if toggle && in_tx {
        return Err(Error::InTransaction);
    }
    let result = with_settings(host, opts.busy_timeout, toggle, || {
        run(host, plan, target, policy, in_tx, opts, replan)
    });
    match result? {
        Ran::Done(r) => Ok(Ran::Done(Report {
            foreign_keys_toggled: toggle && r.steps_applied > 0,
            ..r
        })),
        again => Ok(again),
    }
}

/// `f` with the connection's busy timeout set to `timeout` and, when `fk_off`, foreign-key
/// enforcement off; whatever happens, the connection gets both back, and its
/// `legacy_alter_table` (which a rebuild's step switches on for one rename, then to the
/// default) as it was, where the SQLite has that setting.
fn with_settings(
    host: &dyn Host,
    timeout: Duration,
    fk_off: bool,
    f: impl FnOnce() -> Result<Ran>,
) -> Result<Ran> {
    // In the caller's transaction the lock is held already (and Durable Objects refuse the
    // PRAGMA): no timeout to set.
    let old_timeout = if host.caller_transaction() {
        None
    } else {
        Some(
            query_value(host, "PRAGMA busy_timeout")
                .map_err(|e| database_error(host, e))?
                .int()
                .unwrap_or(0),
        )
    };
    let old_legacy = query_value(host, "PRAGMA legacy_alter_table")
        .map_err(|e| database_error(host, e))?
        .int();
    let set_timeout = |ms: i64| host.execute(&format!("PRAGMA busy_timeout = {ms}"));
    let result = (|| -> Result<Ran> {
        if old_timeout.is_some() {
            set_timeout(timeout.as_millis().min(i64::MAX as u128) as i64)?;
        }
        if fk_off {
            host.execute(FK_OFF)?;
        }
        f()
    })();
    if fk_off {
        let _ = host.execute(FK_ON);
    }
    if let Some(old) = old_timeout {
        let _ = set_timeout(old.max(0));
    }
    if let Some(legacy) = old_legacy {
        let _ = host.execute(&format!("PRAGMA legacy_alter_table = {legacy}"));
    }
    result
}

fn foreign_keys_on(host: &dyn Host) -> Result<bool> {
    Ok(query_value(host, "PRAGMA foreign_keys")
        .map_err(|e| database_error(host, e))?
        .truth())
}

/// The transaction: fingerprint (or re-plan) under the write lock, backup, data checks, steps,
/// foreign-key check, verification; commit, or roll back on any failure and on a dry run.
fn run(
    host: &dyn Host,
    plan: &Plan,
    target: &Schema,
    policy: Policy,
    in_tx: bool,
    opts: &ApplyOptions,
    replan: Option<Replan>,
) -> Result<Ran> {
    let dry_run = opts.dry_run;
    let (begin, commit, rollback) = transaction_sql(host, in_tx);
    let end = |sql: &str| match sql {
        "" => Ok(()),
        sql => host.execute_script(sql),
    };
    end(begin).map_err(|e| match e.kind() {
        ErrorKind::Refused => Error::NoTransaction,
        _ => database_error(host, e),
    })?;
    let outcome = migrate_in_transaction(host, plan, target, policy, opts, replan);
    match outcome {
        Ok(Ran::Done(r)) if !dry_run => {
            end(commit).map_err(|e| database_error(host, e))?;
            Ok(Ran::Done(r))
        }
        Ok(ran) => {
            end(rollback).map_err(|e| database_error(host, e))?;
            Ok(ran)
        }
        Err(e) => {
            let _ = end(rollback);
            Err(rolled_back(host, e))
        }
    }
}

/// The statements that begin, commit and roll back the migration's transaction: none in the
/// caller's transaction (the caller rolls back on an error), a savepoint inside the
/// connection's own (`in_tx`), `BEGIN IMMEDIATE` otherwise.
fn transaction_sql(host: &dyn Host, in_tx: bool) -> (&'static str, &'static str, &'static str) {
    if host.caller_transaction() {
        ("", "", "")
    } else if in_tx {
        (
            "SAVEPOINT liteshift",
            "RELEASE liteshift",
            "ROLLBACK TO liteshift; RELEASE liteshift",
        )
    } else {
        (BEGIN, "COMMIT", "ROLLBACK")
    }
}

/// Inside the transaction: the database still as planned (or re-planned: `Ran::Again` when the
/// new plan has nothing to do or needs enforcement off), health checks, backup, the data checks
/// that cannot wait, the steps, the foreign-key check and the verification.
fn migrate_in_transaction(
    host: &dyn Host,
    plan: &Plan,
    target: &Schema,
    policy: Policy,
    opts: &ApplyOptions,
    replan: Option<Replan>,
) -> Result<Ran> {
    let current = introspect(host).map_err(|e| as_database_error(host, e))?;
    check_readable(host, &current)?;
    let actual = current.stored_fingerprint();
    let mut remade = None;
    if actual != plan.fingerprint {
        let Some(replan) = replan else {
            return Err(Error::StalePlan {
                planned: plan.fingerprint.clone(),
                actual,
            });
        };
        let next = replan(current)?;
        if next.steps.is_empty() || (next.foreign_keys_off && foreign_keys_on(host)?) {
            return Ok(Ran::Again(next));
        }
        refuse_data_loss(&next, policy)?;
        remade = Some(next);
    }
    let plan = remade.as_ref().unwrap_or(plan);
    check_health(host, &plan.health_checks)?;
    if let Some(path) = &opts.backup {
        write_backup(host, path)?;
    }
    let (first, later) = split_checks(host, plan)?;
    check_data(host, &first)?;
    let fk_before = fk_violations(host, fk_tables(plan, |c| c.before.as_deref()).as_deref())?;
    still_in_transaction(host)?;
    run_steps(host, plan, &later, opts)?;
    check_no_new_fk_violations(host, plan, &fk_before)?;
    verify(host, plan, target, policy)?;
    still_in_transaction(host)?;
    Ok(Ran::Done(Report {
        steps_applied: plan.steps.len(),
        foreign_keys_toggled: false,
        plan: plan.clone(),
        backup: opts.backup.as_ref().map(|p| p.display().to_string()),
    }))
}

/// An error inside the transaction, after the rollback: one of liteshift's reads that failed
/// on the host (a check, a PRAGMA) says that nothing was changed.
fn rolled_back(host: &dyn Host, e: Error) -> Error {
    match e {
        Error::Sqlite(se) => match database_error(host, se) {
            Error::Database { path, message } if !message.contains("nothing was changed") => {
                Error::Database {
                    path,
                    message: format!("{message}; rolled back, nothing was changed"),
                }
            }
            other => other,
        },
        other => other,
    }
}

/// SQLite rolls a whole transaction back after some errors (an I/O error, a full disk) that a
/// statement reports: were one of them ever taken for an answer (a check that could not run),
/// the steps would run outside any transaction, one by one. So before the steps and before
/// `COMMIT`, the transaction must still be open.
fn still_in_transaction(host: &dyn Host) -> Result<()> {
    if host.caller_transaction() {
        return Ok(());
    }
    match host.in_transaction() {
        Ok(true) => Ok(()),
        Ok(false) => Err(Error::Database {
            path: database_path(host),
            message: "I/O error: SQLite ended the migration's transaction after a read or write failed; nothing was changed; retry, and check the disk if it happens again".into(),
        }),
        Err(e) => Err(database_error(host, e)),
    }
}

/// The data checks to run before the steps, and those deferred until a step fails (see
/// [`crate::plan::DataCheck::deferred`]; none while `PRAGMA ignore_check_constraints` is on,
/// when SQLite would write rows that violate a CHECK).
fn split_checks<'p>(
    host: &dyn Host,
    plan: &'p Plan,
) -> Result<(Vec<&'p DataCheck>, Vec<&'p DataCheck>)> {
    // Deferred checks need a savepoint to return to, which the caller's transaction lacks.
    if plan.checks.iter().all(|c| !c.deferred) || host.caller_transaction() {
        return Ok((plan.checks.iter().collect(), Vec::new()));
    }
    let ignoring = query_value(host, "PRAGMA ignore_check_constraints")?.truth();
    Ok(plan.checks.iter().partition(|c| ignoring || !c.deferred))
}

/// The steps, in order. When checks were deferred, the steps run inside a savepoint: if one
/// stops at a row that violates the target, its work is undone and the checks name every
/// violating row of the database as it was.
fn run_steps(
    host: &dyn Host,
    plan: &Plan,
    later: &[&DataCheck],
    opts: &ApplyOptions,
) -> Result<()> {
    const SAVEPOINT: &str = "SAVEPOINT liteshift_steps";
    if !later.is_empty() {
        host.execute(SAVEPOINT)?;
    }
    for (i, step) in plan.steps.iter().enumerate() {
        let ran = match &opts.on_progress {
            None => host.execute_script(&step.sql),
            Some(observe) => run_observed(host, i, plan.steps.len(), step, observe),
        };
        let Err(e) = ran else { continue };
        if !later.is_empty() && is_violation(&e) {
            host.execute_script("ROLLBACK TO liteshift_steps; RELEASE liteshift_steps")?;
            check_data(host, later)?;
        }
        return Err(step_error(host, i, &step.reason, e));
    }
    if !later.is_empty() {
        host.execute("RELEASE liteshift_steps")?;
    }
    Ok(())
}

/// The clock, where there is one: wasm32-unknown-unknown has none (its `Instant::now` panics);
/// there a step's `elapsed` is zero and the page measures time itself.
fn now() -> Option<std::time::Instant> {
    if cfg!(all(target_arch = "wasm32", target_os = "unknown")) {
        None
    } else {
        Some(std::time::Instant::now())
    }
}

/// Run one step, telling `observe` when it starts, the rows it writes as it goes (where the
/// host can count them), and when it is done. Only an observer reads the clock.
fn run_observed(
    host: &dyn Host,
    i: usize,
    total: usize,
    step: &crate::plan::Step,
    observe: &ProgressObserver,
) -> std::result::Result<(), HostError> {
    let number = i + 1;
    (observe.0)(&Progress::Started {
        number,
        total,
        step,
    });
    let started = now();
    if step.rewrites_rows {
        let mut on_rows = |rows: u64| {
            (observe.0)(&Progress::Rows {
                number,
                total,
                rows,
            })
        };
        host.execute_counting_rows(&step.sql, ROWS_EVERY, &mut on_rows)?;
    } else {
        host.execute_script(&step.sql)?;
    }
    let elapsed = started.map(|s| s.elapsed()).unwrap_or_default();
    // `changes()` counts the last INSERT, UPDATE or DELETE: only such a step's.
    let rows_changed = if step.rewrites_rows {
        query_value(host, "SELECT changes()")?.int().unwrap_or(0)
    } else {
        0
    };
    (observe.0)(&Progress::Finished {
        total,
        done: StepDone {
            number,
            step,
            elapsed,
            rows_changed: rows_changed.max(0) as u64,
        },
    });
    Ok(())
}

fn as_database_error(host: &dyn Host, e: Error) -> Error {
    match e {
        Error::Sqlite(se) => database_error(host, se),
        other => other,
    }
}

/// Every table whose rows the plan rewrites must pass `PRAGMA quick_check`: a damaged b-tree
/// is named as such before anything is read out of it. A read that fails while it checks is
/// not damage: quick_check reports an unreadable page ("unable to get the page. error
/// code=266", SQLITE_IOERR_READ), and a page it skipped as findings about the rest ("wrong #
/// of entries in index"). So a finding is checked again: damage is found twice, a transient
/// I/O error is not; and a finding naming an I/O code is an I/O error.
///
/// `quick_check` also evaluates each row's CHECK constraints, with no regard for
/// `trusted_schema`: a CHECK that calls a function with side effects would run it for every
/// row, and a row that violates a CHECK would read as damage. Constraints are the data
/// checks' business: they are ignored here (`ignore_check_constraints`, restored after).
fn check_health(host: &dyn Host, checks: &[crate::plan::HealthCheck]) -> Result<()> {
    if checks.is_empty() {
        return Ok(());
    }
    let ignoring = query_value(host, "PRAGMA ignore_check_constraints")
        .map_err(|e| database_error(host, e))?
        .truth();
    if ignoring {
        return check_health_of(host, checks);
    }
    host.execute("PRAGMA ignore_check_constraints = ON")
        .map_err(|e| database_error(host, e))?;
    let result = check_health_of(host, checks);
    let restored = host.execute("PRAGMA ignore_check_constraints = OFF");
    result?;
    restored.map_err(|e| database_error(host, e))
}

fn check_health_of(host: &dyn Host, checks: &[crate::plan::HealthCheck]) -> Result<()> {
    for h in checks {
        let Some(first) = health_problem(host, h)? else {
            continue;
        };
        let io = |line: &str| Error::Database {
            path: database_path(host),
            message: format!(
                "{}; nothing was changed",
                io_error_message(&format!("table `{}`: {line}", h.table))
            ),
        };
        if let Some(line) = first.iter().find(|l| is_io_failure_line(l)) {
            return Err(io(line));
        }
        // quick_check passes over some failed reads without naming them: read the table and
        // each of its indexes the ordinary way, where a failed read is an error, and a count
        // the finding is about can be compared.
        let counts = read_failure(host, &h.table).map_err(|e| database_error(host, e))?;
        if let Some(line) = first.iter().find(|l| counts.contradicts(l)) {
            return Err(io(line));
        }
        let problem = match health_problem(host, h)? {
            None => return Err(io(&first.join("; "))),
            Some(again) => again,
        };
        if let Some(line) = problem.iter().find(|l| is_io_failure_line(l)) {
            return Err(io(line));
        }
        // Damage is found the same way twice; reads failing here and there are not.
        if problem != first {
            return Err(io(&first.join("; ")));
        }
        return Err(Error::Database {
            path: database_path(host),
            message: format!(
                "the database file is corrupt (table `{}`: {}); nothing was changed; restore a backup or run PRAGMA integrity_check",
                h.table,
                problem.into_iter().take(3).collect::<Vec<_>>().join("; ")
            ),
        });
    }
    Ok(())
}

/// Read every entry of `table` and of each of its indexes the ordinary way (only after
/// `quick_check` found something): the I/O error (or lock, or full disk) met, if any; else
/// the number of entries of the table and of each index SQLite could count.
fn read_failure(host: &dyn Host, table: &str) -> std::result::Result<Counts, HostError> {
    let t = crate::sqltext::quote_ident(table);
    let count = |sql: &str| match host.query(sql) {
        Ok(rows) => Ok(rows.first().and_then(|r| r.first()).and_then(Value::int)),
        Err(e)
            if matches!(
                e.kind(),
                ErrorKind::IoErr | ErrorKind::Busy | ErrorKind::Full
            ) =>
        {
            Err(e)
        }
        Err(_) => Ok(None),
    };
    let rows = count(&format!("SELECT count(*) FROM {t} NOT INDEXED"))?;
    let mut indexes = Vec::new();
    if let Ok(list) = host.query(&format!("PRAGMA index_list({t})")) {
        for name in list.iter().filter_map(|r| r.get(1).and_then(Value::text)) {
            let sql = format!(
                "SELECT count(*) FROM {t} INDEXED BY {}",
                crate::sqltext::quote_ident(&name)
            );
            // A partial index cannot serve a count of every row: SQLite refuses, no finding.
            if let Some(n) = count(&sql)? {
                indexes.push((name, n));
            }
        }
    }
    Ok(Counts { rows, indexes })
}

/// Entries counted by [`read_failure`].
struct Counts {
    rows: Option<i64>,
    indexes: Vec<(String, i64)>,
}

impl Counts {
    /// Whether `quick_check`'s "wrong # of entries in index X" is contradicted: the table and
    /// X have the same number of entries when read the ordinary way.
    fn contradicts(&self, line: &str) -> bool {
        let Some(index) = line.strip_prefix("wrong # of entries in index ") else {
            return false;
        };
        self.rows.is_some_and(|rows| {
            self.indexes
                .iter()
                .any(|(name, n)| name == index.trim() && *n == rows)
        })
    }
}

/// What one `quick_check` found (`None`: "ok"); an error that is not corruption is an error.
fn health_problem(host: &dyn Host, h: &crate::plan::HealthCheck) -> Result<Option<Vec<String>>> {
    match host.query(&h.sql) {
        Ok(rows) => {
            let lines: Vec<String> = rows
                .iter()
                .filter_map(|r| r.first().and_then(Value::text))
                .filter(|l| !l.starts_with("*** in database"))
                .collect();
            Ok((!(lines.len() == 1 && lines[0] == "ok")).then_some(lines))
        }
        Err(e) if e.kind() != ErrorKind::Corrupt => Err(database_error(host, e)),
        Err(e) => Ok(Some(vec![e.message])),
    }
}

/// Whether a line of `quick_check` says a page could not be read (an I/O error or no memory,
/// by its SQLite result code), rather than that a page is damaged.
fn is_io_failure_line(line: &str) -> bool {
    line.split("error code=")
        .nth(1)
        .and_then(|rest| {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse::<i32>().ok()
        })
        .is_some_and(|code| matches!(code & 0xff, 7 | 10))
}

/// Tables whose pages are read by one query of [`check_readable`].
const READ_PER_QUERY: usize = 100;

/// Every table of `schema` (virtual tables aside) can be entered: its root page and the pages
/// down to its first row decode, so a file whose pages are garbage is named corrupt even
/// when every step is O(1) (`ADD COLUMN`, a rename, a view) and would never read them. Costs
/// about the depth of each b-tree in page reads (a few pages per table, whatever its size),
/// in one query per [`READ_PER_QUERY`] tables; `quick_check` reads every page, and runs only
/// for the tables whose rows are rewritten. A read that fails is an I/O error, not
/// corruption; an error of any other kind (a host that refuses to read a table) is no
/// finding.
pub(crate) fn check_readable(host: &dyn Host, schema: &Schema) -> Result<()> {
    let tables: Vec<&str> = schema
        .tables
        .values()
        .filter(|t| !t.is_virtual())
        .map(|t| t.name.as_str())
        .collect();
    let probe = |t: &str| {
        format!(
            "(SELECT 1 FROM {} NOT INDEXED LIMIT 1)",
            crate::sqltext::quote_ident(t)
        )
    };
    for chunk in tables.chunks(READ_PER_QUERY) {
        let all = chunk
            .iter()
            .map(|t| probe(t))
            .collect::<Vec<_>>()
            .join(", ");
        match host.query(&format!("SELECT {all}")) {
            Ok(_) => continue,
            // SQLite may have rolled the transaction back (after an I/O error, a full disk):
            // nothing more is read.
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::IoErr | ErrorKind::Busy | ErrorKind::Full
                ) =>
            {
                return Err(database_error(host, e))
            }
            Err(_) => {}
        }
        // Which table: one by one.
        for t in chunk {
            let Err(e) = host.query(&format!("SELECT {}", probe(t))) else {
                continue;
            };
            match e.kind() {
                ErrorKind::Corrupt | ErrorKind::NotADatabase => {
                    return Err(Error::Database {
                        path: database_path(host),
                        message: format!(
                            "the database file is corrupt (table `{t}`: {}); nothing was changed; restore a backup or run PRAGMA integrity_check",
                            e.message
                        ),
                    })
                }
                ErrorKind::IoErr | ErrorKind::Busy | ErrorKind::Full => {
                    return Err(database_error(host, e))
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// Data checks: existing rows that violate the target are a refusal.
fn check_data(host: &dyn Host, checks: &[&DataCheck]) -> Result<()> {
    let mut violations = Vec::new();
    for check in checks {
        let count = query_value(host, &format!("SELECT count(*) FROM ({})", check.sql))?
            .int()
            .unwrap_or(0)
            .max(0) as u64;
        if count > 0 {
            let examples = host
                .query(&format!("SELECT example FROM ({}) LIMIT 3", check.sql))?
                .into_iter()
                .map(|r| r.first().and_then(Value::text).unwrap_or_default())
                .collect();
            violations.push(Violation {
                constraint: check.constraint.clone(),
                table: check.table.clone(),
                column: check.column.clone(),
                count,
                examples,
            });
        }
    }
    if violations.is_empty() {
        Ok(())
    } else {
        Err(Error::Refused(Refusal::Violations { violations }))
    }
}

/// `PRAGMA foreign_key_check` may show only the violations that were there before.
fn check_no_new_fk_violations(host: &dyn Host, plan: &Plan, before: &[Violation]) -> Result<()> {
    let after = fk_tables(plan, |c| Some(c.after.as_str()));
    let new: Vec<Violation> = fk_violations(host, after.as_deref())?
        .into_iter()
        .filter(|v| {
            let was = before
                .iter()
                .find(|b| b.table == v.table && b.constraint == v.constraint)
                .map(|b| b.count)
                .unwrap_or(0);
            v.count > was
        })
        .collect();
    if new.is_empty() {
        Ok(())
    } else {
        Err(Error::Refused(Refusal::Violations { violations: new }))
    }
}

/// The database, read again, must diff empty against the target (and hold nothing an
/// online rebuild left but the old tables its swap renamed away, and their registry).
fn verify(host: &dyn Host, plan: &Plan, target: &Schema, policy: Policy) -> Result<()> {
    let after = introspect(host)?;
    let olds: Vec<&String> = plan
        .online
        .iter()
        .flat_map(|o| o.tables.iter().filter_map(|t| t.old.as_ref()))
        .collect();
    let left_to_free = |name: &str| {
        olds.iter().any(|o| o.eq_ignore_ascii_case(name))
            || (!olds.is_empty() && name == crate::model::ONLINE_REGISTRY)
    };
    if after.leftovers.iter().any(|l| !left_to_free(&l.name)) {
        return Err(Error::Verification(format!(
            "objects of an online rebuild are still there ({}). This is a liteshift bug; please report it with both schemas",
            after.leftovers.iter().map(|l| l.name.as_str()).collect::<Vec<_>>().join(", ")
        )));
    }
    let left = diff(
        &after,
        target,
        &Hints::default(),
        DiffOptions {
            exact_column_order: policy.exact_column_order,
        },
    );
    if left.is_empty() {
        return Ok(());
    }
    Err(Error::Verification(format!(
        "the result still differs from the declared schema: {}. This is a liteshift bug; please report it with both schemas",
        left.summary().join("; ")
    )))
}

/// Copy the database to `dest`, under the migration's write lock and before any step.
fn write_backup(host: &dyn Host, dest: &std::path::Path) -> Result<()> {
    host.backup(dest).map_err(|e| {
        Error::InvalidOption(format!(
            "cannot write the backup to {}: {e}; nothing was changed",
            dest.display()
        ))
    })
}

/// Whether a step stopped at data that does not fit the new definition: a constraint, a
/// STRICT type, or a value that cannot become an INTEGER PRIMARY KEY. `ADD COLUMN` tests the
/// existing rows itself and says so with SQLITE_ERROR (alter.c's `raise(ABORT, …)`).
fn is_violation(e: &HostError) -> bool {
    matches!(e.kind(), ErrorKind::Constraint | ErrorKind::Mismatch)
        || e.message.starts_with("cannot store")
        || e.message.starts_with("type mismatch on DEFAULT")
        || matches!(
            e.message.as_str(),
            "CHECK constraint failed" | "NOT NULL constraint failed"
        )
}

fn step_error(host: &dyn Host, i: usize, reason: &str, e: HostError) -> Error {
    let kind = e.kind();
    if matches!(
        kind,
        ErrorKind::Full | ErrorKind::Corrupt | ErrorKind::IoErr | ErrorKind::Busy
    ) {
        return database_error(host, e);
    }
    let constraint = is_violation(&e);
    let msg = e.message;
    if constraint {
        let table = reason
            .split_whitespace()
            .nth(1)
            .unwrap_or("")
            .trim_end_matches(':')
            .to_string();
        return Error::Refused(Refusal::Violations {
            violations: vec![Violation {
                constraint: msg.replace("_liteshift_new_", ""),
                table,
                column: None,
                count: 1,
                examples: vec![format!(
                    "step {} ({reason}) stopped at the first offending row",
                    i + 1
                )],
            }],
        });
    }
    Error::StepFailed {
        step: i + 1,
        reason: reason.to_string(),
        message: explain_fk_mismatch(msg),
    }
}

/// SQLite's "foreign key mismatch - "child" referencing "parent"" with what it means and what
/// to do: while enforcement is on (always, on D1 and inside a Durable Object's transaction)
/// SQLite refuses every write to both tables, so a rebuild's copy cannot run.
fn explain_fk_mismatch(msg: String) -> String {
    let Some(rest) = msg.strip_prefix("foreign key mismatch - ") else {
        return msg;
    };
    let names: Vec<&str> = rest
        .split('"')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    let [child, "referencing", parent] = names[..] else {
        return msg;
    };
    format!("{msg}: the foreign key of `{child}` names columns that are not `{parent}`'s PRIMARY KEY or a UNIQUE key of it (or a table that does not exist), and while foreign keys are enforced SQLite refuses every write to these tables; make the referenced columns the parent's key, or fix the REFERENCES clause, in the declared schema")
}

/// The plan's foreign-key scope, each table by the name `side` gives (before or after the
/// migration); `None` for the whole database.
fn fk_tables<'p>(
    plan: &'p Plan,
    side: impl Fn(&'p FkCheck) -> Option<&'p str>,
) -> Option<Vec<&'p str>> {
    plan.fk_checks
        .as_ref()
        .map(|checks| checks.iter().filter_map(side).collect())
}

/// Whether `PRAGMA foreign_key_check` failed because of the table's definition ("foreign key
/// mismatch", a missing parent) or the host's refusal, as before; not because the database
/// could not be read (an I/O error, damage, a lock, a full disk), which is an error.
fn fk_uncheckable(e: &HostError) -> bool {
    !matches!(
        e.kind(),
        ErrorKind::IoErr | ErrorKind::Corrupt | ErrorKind::Busy | ErrorKind::Full
    )
}

/// `PRAGMA foreign_key_check` of `tables` (`None`: the whole database), grouped by child
/// table and parent. A table whose foreign key cannot be checked at all ("foreign key
/// mismatch": the parent key does not exist) is left out, before as after.
fn fk_violations(host: &dyn Host, tables: Option<&[&str]>) -> Result<Vec<Violation>> {
    let read = |sql: &str| -> std::result::Result<Vec<(String, Option<i64>, String)>, HostError> {
        Ok(host
            .query(sql)?
            .into_iter()
            .map(|r| {
                let get = |i: usize| r.get(i).cloned().unwrap_or(Value::Null);
                (
                    get(0).text().unwrap_or_default(),
                    get(1).int(),
                    get(2).text().unwrap_or_default(),
                )
            })
            .collect())
    };
    // Table by table, skipping those SQLite cannot check ("foreign key mismatch"); a failed
    // read (I/O, corruption, a lock) is an error, never a table without violations.
    let each = |tables: &mut dyn Iterator<Item = &str>| -> Result<Vec<_>> {
        let mut rows = Vec::new();
        for t in tables {
            match read(&crate::plan::fk_check_sql(t)) {
                Ok(r) => rows.extend(r),
                Err(e) if fk_uncheckable(&e) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(rows)
    };
    let rows = match tables {
        Some(tables) => each(&mut tables.iter().copied())?,
        None => match read(FK_CHECK) {
            Ok(rows) => rows,
            Err(e) if !fk_uncheckable(&e) => return Err(e.into()),
            Err(_) => {
                let all: Vec<String> = host
                    .query("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")?
                    .into_iter()
                    .filter_map(|r| r.first().and_then(Value::text))
                    .collect();
                each(&mut all.iter().map(String::as_str))?
            }
        },
    };
    let mut grouped: BTreeMap<(String, String), (u64, Vec<String>)> = BTreeMap::new();
    for (table, rowid, parent) in rows {
        let e = grouped.entry((table, parent)).or_default();
        e.0 += 1;
        if e.1.len() < 3 {
            e.1.push(match rowid {
                Some(r) => format!("rowid {r}"),
                None => "a row".into(),
            });
        }
    }
    Ok(grouped
        .into_iter()
        .map(|((table, parent), (count, examples))| Violation {
            constraint: format!("FOREIGN KEY -> {parent}"),
            table,
            column: None,
            count,
            examples,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_foreign_key_mismatch_says_what_to_do() {
        let m = super::explain_fk_mismatch(
            "foreign key mismatch - \"itemAttachments\" referencing \"items\"".into(),
        );
        assert!(
            m.contains("`itemAttachments` names columns that are not `items`'s PRIMARY KEY"),
            "{m}"
        );
        assert_eq!(
            super::explain_fk_mismatch("no such table: x".into()),
            "no such table: x"
        );
    }
}
