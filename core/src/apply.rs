//! Run a [`Plan`] on a connection: one transaction, verified before it commits.
//!
//! Architecture invariant: apply runs the plan's SQL exactly as [`crate::render::render_sql`]
//! prints it (foreign-key switch, `BEGIN IMMEDIATE`, the steps, `PRAGMA foreign_key_check`,
//! `COMMIT`), and in between only reads: the data checks, and the re-introspection that must
//! diff empty against the target, or everything is rolled back.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use rusqlite::Connection;
use serde::Serialize;

use crate::diff::{diff, DiffOptions, Hints};
use crate::error::{Error, Refusal, Result, Violation};
use crate::introspect::introspect;
use crate::model::Schema;
use crate::plan::{Plan, Policy, BEGIN, FK_CHECK, FK_OFF, FK_ON};

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
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions {
            busy_timeout: Duration::from_secs(5),
            dry_run: false,
            backup: None,
        }
    }
}

fn db_path(conn: &Connection) -> String {
    match conn.path() {
        Some(p) if !p.is_empty() => p.to_string(),
        _ => ":memory:".to_string(),
    }
}

/// Map an error from SQLite while opening the transaction or reading to a database error.
pub fn database_error(conn: &Connection, e: rusqlite::Error) -> Error {
    let path = db_path(conn);
    let message = match &e {
        rusqlite::Error::SqliteFailure(f, _) => match f.code {
            rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked => {
                "database is locked: another connection holds a write lock; retry when it is done, or raise the busy timeout".to_string()
            }
            rusqlite::ErrorCode::NotADatabase => {
                "file is not a SQLite database (or is encrypted)".to_string()
            }
            rusqlite::ErrorCode::DatabaseCorrupt => {
                "database disk image is malformed (corrupt); restore it from a backup".to_string()
            }
            rusqlite::ErrorCode::ReadOnly => {
                "database is read-only; check the file's permissions".to_string()
            }
            rusqlite::ErrorCode::CannotOpen => "unable to open the database file".to_string(),
            rusqlite::ErrorCode::DiskFull => {
                "the disk is full (SQLite could not write the migration); nothing was changed; free some space and retry".to_string()
            }
            _ => e.to_string(),
        },
        _ => e.to_string(),
    };
    Error::Database { path, message }
}

/// Apply `plan` to `conn`, whose result must equal `target`. The plan is the caller's: if the
/// database's schema changed since it was made, it is refused as stale.
pub fn apply(
    conn: &mut Connection,
    plan: &Plan,
    target: &Schema,
    policy: Policy,
    opts: ApplyOptions,
) -> Result<Report> {
    apply_replanning(conn, plan, target, policy, opts, None)
}

/// Makes a new plan from the schema read under the write lock (for a plan liteshift made
/// itself, whose schema another connection changed meanwhile).
pub type Replan<'a> = &'a dyn Fn(Schema) -> Result<Plan>;

/// Like [`apply`]; when the schema changed since `plan` was made and `replan` is given, the
/// plan is made again under the write lock (usually finding the database in sync: another
/// process migrated it first) instead of being refused.
pub fn apply_replanning(
    conn: &mut Connection,
    plan: &Plan,
    target: &Schema,
    policy: Policy,
    opts: ApplyOptions,
    replan: Option<Replan>,
) -> Result<Report> {
    let mut plan = plan.clone();
    // A re-made plan that needs foreign-key enforcement off, which cannot change inside the
    // transaction, is run again from here: a few times at most, as other writers allow.
    for _ in 0..4 {
        match apply_once(conn, &plan, target, policy, &opts, replan)? {
            Ran::Done(report) => return Ok(report),
            Ran::Again(next) => plan = next,
        }
    }
    let actual = introspect(conn)?.fingerprint();
    Err(Error::StalePlan {
        planned: plan.fingerprint,
        actual,
    })
}

/// What one attempt did.
enum Ran {
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
    conn: &mut Connection,
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
    let in_tx = !conn.is_autocommit();
    let fk_on = foreign_keys_on(conn)?;
    let toggle = plan.foreign_keys_off && fk_on;
    if toggle && in_tx {
        return Err(Error::InTransaction);
    }
    let old_timeout: i64 = conn
        .query_row("PRAGMA busy_timeout", [], |r| r.get(0))
        .map_err(|e| database_error(conn, e))?;
    // Whatever happens, the connection gets its enforcement and busy timeout back.
    let result = (|| -> Result<Ran> {
        conn.busy_timeout(opts.busy_timeout)?;
        if toggle {
            conn.execute_batch(FK_OFF)?;
        }
        run(conn, plan, target, policy, in_tx, opts, replan)
    })();
    if toggle {
        let _ = conn.execute_batch(FK_ON);
    }
    let _ = conn.busy_timeout(Duration::from_millis(old_timeout.max(0) as u64));
    match result? {
        Ran::Done(r) => Ok(Ran::Done(Report {
            foreign_keys_toggled: toggle && r.steps_applied > 0,
            ..r
        })),
        again => Ok(again),
    }
}

fn foreign_keys_on(conn: &Connection) -> Result<bool> {
    conn.query_row("PRAGMA foreign_keys", [], |r| r.get(0))
        .map_err(|e| database_error(conn, e))
}

/// The transaction: fingerprint (or re-plan) under the write lock, backup, data checks, steps,
/// foreign-key check, verification; commit, or roll back on any failure and on a dry run.
fn run(
    conn: &Connection,
    plan: &Plan,
    target: &Schema,
    policy: Policy,
    in_tx: bool,
    opts: &ApplyOptions,
    replan: Option<Replan>,
) -> Result<Ran> {
    let dry_run = opts.dry_run;
    let (begin, commit, rollback) = if in_tx {
        (
            "SAVEPOINT liteshift",
            "RELEASE liteshift",
            "ROLLBACK TO liteshift; RELEASE liteshift",
        )
    } else {
        (BEGIN, "COMMIT", "ROLLBACK")
    };
    conn.execute_batch(begin)
        .map_err(|e| database_error(conn, e))?;
    let outcome = (|| -> Result<Ran> {
        let current = introspect(conn).map_err(|e| as_database_error(conn, e))?;
        let actual = current.fingerprint();
        let mut remade = None;
        if actual != plan.fingerprint {
            let Some(replan) = replan else {
                return Err(Error::StalePlan {
                    planned: plan.fingerprint.clone(),
                    actual,
                });
            };
            let next = replan(current)?;
            if next.steps.is_empty() || (next.foreign_keys_off && foreign_keys_on(conn)?) {
                return Ok(Ran::Again(next));
            }
            refuse_data_loss(&next, policy)?;
            remade = Some(next);
        }
        let plan = remade.as_ref().unwrap_or(plan);
        check_health(conn, plan)?;
        if let Some(path) = &opts.backup {
            write_backup(conn, path)?;
        }
        check_data(conn, plan)?;
        let fk_before = fk_violations(conn)?;
        for (i, step) in plan.steps.iter().enumerate() {
            if let Err(e) = conn.execute_batch(&step.sql) {
                return Err(step_error(conn, i, &step.reason, e));
            }
        }
        check_no_new_fk_violations(conn, &fk_before)?;
        verify(conn, target, policy)?;
        Ok(Ran::Done(Report {
            steps_applied: plan.steps.len(),
            foreign_keys_toggled: false,
            plan: plan.clone(),
            backup: opts.backup.as_ref().map(|p| p.display().to_string()),
        }))
    })();
    match outcome {
        Ok(Ran::Done(r)) if !dry_run => {
            conn.execute_batch(commit)
                .map_err(|e| database_error(conn, e))?;
            Ok(Ran::Done(r))
        }
        Ok(ran) => {
            conn.execute_batch(rollback)
                .map_err(|e| database_error(conn, e))?;
            Ok(ran)
        }
        Err(e) => {
            let _ = conn.execute_batch(rollback);
            Err(e)
        }
    }
}

fn as_database_error(conn: &Connection, e: Error) -> Error {
    match e {
        Error::Sqlite(se) => database_error(conn, se),
        other => other,
    }
}

/// Every table whose rows the plan rewrites must pass `PRAGMA quick_check`: a damaged b-tree
/// is named as such before anything is read out of it.
fn check_health(conn: &Connection, plan: &Plan) -> Result<()> {
    for h in &plan.health_checks {
        let problem = match conn.prepare(&h.sql).and_then(|mut stmt| {
            stmt.query_map([], |r| r.get::<_, String>(0))?
                .collect::<rusqlite::Result<Vec<String>>>()
        }) {
            Ok(rows) if rows.len() == 1 && rows[0] == "ok" => continue,
            Ok(rows) => rows.into_iter().next().unwrap_or_default(),
            Err(e) => crate::error::sqlite_message(&e),
        };
        return Err(Error::Database {
            path: db_path(conn),
            message: format!(
                "the database file is corrupt (table `{}`: {problem}); nothing was changed; restore a backup or run PRAGMA integrity_check",
                h.table
            ),
        });
    }
    Ok(())
}

/// The plan's data checks: existing rows that violate the target are a refusal.
fn check_data(conn: &Connection, plan: &Plan) -> Result<()> {
    let mut violations = Vec::new();
    for check in &plan.checks {
        let count: u64 =
            conn.query_row(&format!("SELECT count(*) FROM ({})", check.sql), [], |r| {
                r.get::<_, i64>(0)
            })? as u64;
        if count > 0 {
            let mut stmt = conn.prepare(&format!("SELECT example FROM ({}) LIMIT 3", check.sql))?;
            let examples = stmt
                .query_map([], |r| r.get::<_, String>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
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
fn check_no_new_fk_violations(conn: &Connection, before: &[Violation]) -> Result<()> {
    let new: Vec<Violation> = fk_violations(conn)?
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

/// The database, read again, must diff empty against the target.
fn verify(conn: &Connection, target: &Schema, policy: Policy) -> Result<()> {
    let after = introspect(conn)?;
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

/// Copy the database to `dest`. Called under our write lock before any step: a second,
/// read-only connection then sees exactly the committed state (WAL content included), and no
/// other writer can change it meanwhile. (The backup API refuses a source connection that
/// holds a write transaction, so the copy cannot come from `conn` itself.)
fn write_backup(conn: &Connection, dest: &std::path::Path) -> Result<()> {
    let fail = |e: String| {
        Error::InvalidOption(format!(
            "cannot write the backup to {}: {e}; nothing was changed",
            dest.display()
        ))
    };
    let src_path = match conn.path() {
        Some(p) if !p.is_empty() => p.to_string(),
        _ => return Err(fail("an in-memory database has no file to back up".into())),
    };
    let src = Connection::open_with_flags(
        &src_path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| fail(e.to_string()))?;
    src.backup(
        rusqlite::MAIN_DB,
        dest,
        None::<fn(rusqlite::backup::Progress)>,
    )
    .map_err(|e| fail(e.to_string()))
}

fn step_error(conn: &Connection, i: usize, reason: &str, e: rusqlite::Error) -> Error {
    if matches!(&e, rusqlite::Error::SqliteFailure(f, _) if matches!(f.code, rusqlite::ErrorCode::DiskFull | rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked))
    {
        return database_error(conn, e);
    }
    let msg = match &e {
        rusqlite::Error::SqliteFailure(_, Some(m)) => m.clone(),
        _ => e.to_string(),
    };
    // Data that does not fit the new definition: a constraint, a STRICT type, or a value that
    // cannot become an INTEGER PRIMARY KEY.
    let constraint = matches!(&e, rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation || f.code == rusqlite::ErrorCode::TypeMismatch)
        || msg.starts_with("cannot store")
        || msg.starts_with("type mismatch on DEFAULT");
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
        message: msg,
    }
}

/// `PRAGMA foreign_key_check`, grouped by child table and parent. A table whose foreign key
/// cannot be checked at all ("foreign key mismatch": the parent key does not exist) is
/// reported as one violation with count 0 so it is compared like the rest.
fn fk_violations(conn: &Connection) -> Result<Vec<Violation>> {
    let read = |sql: &str| -> rusqlite::Result<Vec<(String, Option<i64>, String)>> {
        let mut stmt = conn.prepare(sql)?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    };
    let rows = match read(FK_CHECK) {
        Ok(rows) => rows,
        Err(_) => {
            // Check table by table, skipping those SQLite cannot check.
            let tables: Vec<String> = conn
                .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")?
                .query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            let mut all = Vec::new();
            for t in tables {
                if let Ok(rows) = read(&format!(
                    "PRAGMA foreign_key_check({})",
                    crate::sqltext::quote_ident(&t)
                )) {
                    all.extend(rows);
                }
            }
            all
        }
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
