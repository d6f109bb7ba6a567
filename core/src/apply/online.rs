//! Runs a plan's online rebuilds (see [`crate::plan::Online`]): the health checks in a read
//! transaction, the prepare transaction, the copy in chunks that each hold the write lock
//! for a few milliseconds, then the swap — the plan's steps, run by `apply_once` as one
//! verified transaction like any plan.
//!
//! Architecture invariant: every statement it runs is the plan's (prepare, chunk, drain, an
//! index's snapshot and fill, and after a failure the removal of its own objects) or a read;
//! between chunks it holds no lock. A failure at any point leaves the old tables with all
//! their rows: the objects it created (or continued) are removed before it returns, or (a
//! crash) continued or removed by the next plan, which finds them in the registry.
//! Foreign-key enforcement is off on this connection only, for the whole run.
//! Each chunk records in the registry, in its own transaction, the last rowid it copied: a
//! plan made after a crash continues from there (see [`crate::plan::OnlineTable::resumed`]),
//! once the prepare transaction has checked that what it continues is as the plan found it.

mod free;

use std::time::Duration;

use super::*;
use crate::model::CopyProgress;
use crate::plan::{abandon_sql, free_sql, KeyedIndex, Online, OnlineTable, Step};

/// How an online rebuild shares the write lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OnlineOptions {
    /// About how long one chunk holds the write lock: the rows per chunk adapt to it (where
    /// there is a clock; elsewhere every chunk is `first_chunk_rows`).
    pub chunk_time: Duration,
    /// At most how long the lock is left to other connections after each chunk (never longer
    /// than the chunk took). SQLite's busy handler retries a waiting writer after 1, 2, 5,
    /// 10, 15, 20, 25, 25… ms: a writer that waited through a chunk of `t` ms retries within
    /// about `min(t, 25 ms)`, so a pause that long lets it in before the next chunk.
    pub pause: Duration,
    /// Rows of the first chunk.
    pub first_chunk_rows: u64,
}

impl Default for OnlineOptions {
    fn default() -> Self {
        OnlineOptions {
            chunk_time: Duration::from_millis(50),
            pause: Duration::from_millis(25),
            first_chunk_rows: 2_000,
        }
    }
}

/// Where each table's copy starts and ends (its rowids when the triggers were created), and
/// the schema cookie then: any DDL or VACUUM by another connection changes it.
struct Prepared {
    ranges: Vec<Option<(i64, i64)>>,
    schema_version: i64,
}

pub(super) fn apply_online(
    host: &dyn Host,
    plan: &Plan,
    online: &Online,
    target: &Schema,
    policy: Policy,
    opts: &ApplyOptions,
    replan: Option<Replan>,
) -> Result<Ran> {
    if opts.dry_run {
        return Err(Error::InvalidOption("a dry run runs the migration as one transaction and rolls it back, while an online rebuild commits as it copies: dry-run it without online (the checks are the same)".into()));
    }
    if opts.backup.is_some() {
        return Err(Error::InvalidOption("an online rebuild lets other connections write while it copies, so no backup is the state it starts from: take the backup first, or migrate without online".into()));
    }
    refuse_data_loss(plan, policy)?;
    if host.in_transaction().map_err(|e| database_error(host, e))? {
        return Err(Error::InvalidOption("an online rebuild commits between chunks: run it outside a transaction (commit or roll back first)".into()));
    }
    let fk_on = foreign_keys_on(host)?;
    let result = with_settings(host, opts.busy_timeout, fk_on, || {
        run_online(host, plan, online, target, policy, opts, replan)
    });
    match result? {
        Ran::Done(r) => Ok(Ran::Done(Report {
            foreign_keys_toggled: fk_on && plan.foreign_keys_off && r.steps_applied > 0,
            ..r
        })),
        again => Ok(again),
    }
}

fn run_online(
    host: &dyn Host,
    plan: &Plan,
    online: &Online,
    target: &Schema,
    policy: Policy,
    opts: &ApplyOptions,
    replan: Option<Replan>,
) -> Result<Ran> {
    let before = online.prepare.len() + online.tables.len();
    let total = before + plan.steps.len();
    let health: Vec<_> = online.tables.iter().map(|t| t.health.clone()).collect();
    read_transaction(host, || {
        check_health(host, &health)?;
        check_readable(host, &introspect(host)?)
    })?;
    let prepared = match prepare(host, plan, online, total, opts, replan)? {
        Ok(p) => p,
        Err(ran) => return Ok(ran),
    };
    let copied = online.tables.iter().enumerate().try_for_each(|(i, ot)| {
        let number = online.prepare.len() + i + 1;
        copy_table(
            host,
            plan,
            ot,
            prepared.ranges[i],
            &prepared,
            (number, total),
            opts,
        )?;
        ot.keyed
            .iter()
            .try_for_each(|k| fill_index(host, plan, ot, k, &prepared, number, opts))
    });
    if let Err(e) = copied {
        abandon(host, online);
        return Err(e);
    }
    // The swap: the plan's steps, numbered after the online ones.
    let swap_opts = ApplyOptions {
        on_progress: opts
            .on_progress
            .as_ref()
            .map(|o| renumbered(o, before, total)),
        ..opts.clone()
    };
    match apply_once(host, plan, target, policy, &swap_opts, None) {
        Ok(Ran::Done(r)) => {
            free::free_old(host, online, opts);
            Ok(Ran::Done(Report {
                steps_applied: total,
                ..r
            }))
        }
        Ok(again) => Ok(again),
        Err(e) => {
            abandon(host, online);
            Err(e)
        }
    }
}

/// The prepare transaction: the fingerprint under the write lock (a plan made again when
/// another connection changed the schema), the prepare steps, the ranges to copy.
fn prepare(
    host: &dyn Host,
    plan: &Plan,
    online: &Online,
    total: usize,
    opts: &ApplyOptions,
    replan: Option<Replan>,
) -> Result<std::result::Result<Prepared, Ran>> {
    host.execute(BEGIN).map_err(|e| database_error(host, e))?;
    let done = (|| -> Result<std::result::Result<Prepared, Ran>> {
        let current = introspect(host).map_err(|e| as_database_error(host, e))?;
        let actual = current.stored_fingerprint();
        if actual != plan.fingerprint {
            return match replan {
                Some(replan) => Ok(Err(Ran::Again(replan(current)?))),
                None => Err(Error::StalePlan {
                    planned: plan.fingerprint.clone(),
                    actual,
                }),
            };
        }
        if !still_resumable(online, &current) {
            return match replan {
                Some(replan) => Ok(Err(Ran::Again(replan(current)?))),
                None => Err(Error::StalePlan {
                    planned: plan.fingerprint.clone(),
                    actual: format!(
                        "{actual}, with the interrupted online rebuild it continues changed since"
                    ),
                }),
            };
        }
        for (i, step) in online.prepare.iter().enumerate() {
            run_step(host, i + 1, total, step, opts)
                .map_err(|e| step_error(host, i, &step.reason, e))?;
        }
        let ranges = online
            .tables
            .iter()
            .map(|ot| match &ot.resumed {
                Some(r) => Ok(rest_to_copy(r)),
                None => rowid_range(host, ot),
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Ok(Prepared {
            ranges,
            schema_version: schema_version(host)?,
        }))
    })();
    match done {
        Ok(Ok(p)) => {
            host.execute("COMMIT")
                .map_err(|e| database_error(host, e))?;
            // The commit changed the cookie once more (it counts the prepare's DDL).
            Ok(Ok(Prepared {
                schema_version: schema_version(host)?,
                ..p
            }))
        }
        other => {
            let _ = host.execute("ROLLBACK");
            other
        }
    }
}

/// Whether the interrupted run a plan continues (if it continues one) is still as the plan
/// found it: the same objects, each copy where it was (another run may have moved it on, or
/// removed it).
fn still_resumable(online: &Online, current: &Schema) -> bool {
    if online.tables.iter().all(|ot| ot.resumed.is_none()) {
        return true;
    }
    let mut found = current.leftovers.clone();
    let mut planned = online.continues.clone();
    found.sort();
    planned.sort();
    found == planned
        && online
            .tables
            .iter()
            .filter_map(|ot| ot.resumed.as_ref())
            .all(|r| current.copies.contains(r))
}

/// The rowids a resumed copy has left (`None`: none), from what its registry recorded.
fn rest_to_copy(r: &CopyProgress) -> Option<(i64, i64)> {
    let (lo, hi) = r.range?;
    let from = match r.copied {
        Some(c) if c >= hi => return None,
        Some(c) => c + 1,
        None => lo,
    };
    Some((from, hi))
}

/// The lowest and highest rowid of `ot`'s table (`None`: empty).
fn rowid_range(host: &dyn Host, ot: &OnlineTable) -> Result<Option<(i64, i64)>> {
    // Two subqueries: each is one b-tree seek, where `min(k), max(k)` together scan.
    let row = host.query(&format!(
        "SELECT (SELECT min({k}) FROM {t}), (SELECT max({k}) FROM {t})",
        t = crate::sqltext::quote_ident(&ot.table),
        k = ot.source_key
    ))?;
    let get = |i: usize| row.first().and_then(|r| r.get(i)).and_then(Value::int);
    Ok(get(0).zip(get(1)))
}

fn schema_version(host: &dyn Host) -> Result<i64> {
    Ok(query_value(host, "PRAGMA schema_version")?
        .int()
        .unwrap_or(0))
}

/// Copy `ot`'s rows in `range`, chunk by chunk, each chunk in its own transaction that first
/// drains the log.
fn copy_table(
    host: &dyn Host,
    plan: &Plan,
    ot: &OnlineTable,
    range: Option<(i64, i64)>,
    prepared: &Prepared,
    (number, total): (usize, usize),
    opts: &ApplyOptions,
) -> Result<()> {
    let observe = opts.on_progress.as_ref();
    let step = &ot.copy;
    if let Some(o) = observe {
        (o.0)(&Progress::Started {
            number,
            total,
            step,
        });
    }
    let started = now();
    let mut rows_per_chunk = opts.online.first_chunk_rows.max(1);
    let mut copied: u64 = 0;
    if let Some((first, last)) = range {
        let mut after = first - 1;
        while after < last {
            let chunk_started = now();
            let copy = |lo, hi| ot.chunk_sql(lo, hi);
            let (hi, rows) = copy_chunk(host, ot, after, last, rows_per_chunk, prepared, &copy)
                .map_err(|e| chunk_error(host, plan, ot, number, e))?;
            copied += rows;
            after = hi;
            if let Some(o) = observe {
                (o.0)(&Progress::Rows {
                    number,
                    total,
                    rows: copied,
                });
            }
            if let Some(s) = chunk_started {
                let took = s.elapsed();
                rows_per_chunk = adapt(rows_per_chunk, took, opts.online.chunk_time);
                if after < last {
                    std::thread::sleep(opts.online.pause.min(took));
                }
            }
        }
    }
    if let Some(o) = observe {
        (o.0)(&Progress::Finished {
            total,
            done: StepDone {
                number,
                step,
                elapsed: started.map(|s| s.elapsed()).unwrap_or_default(),
                rows_changed: copied,
            },
        });
    }
    Ok(())
}

/// `k` built in key order after `ot`'s copy: its keys sorted into a temp table (outside the
/// write lock), then its helper filled in ranges of that, each range a chunk like the copy's
/// (the log drained first); the temp table removed after.
fn fill_index(
    host: &dyn Host,
    plan: &Plan,
    ot: &OnlineTable,
    k: &KeyedIndex,
    prepared: &Prepared,
    number: usize,
    opts: &ApplyOptions,
) -> Result<()> {
    let failed = |e| step_error(host, number - 1, &ot.copy.reason, e);
    host.execute_script(&k.snapshot).map_err(failed)?;
    let filled = (|| {
        let sorted = crate::sqltext::quote_ident(&k.sorted);
        let last = query_value(host, &format!("SELECT max(rowid) FROM temp.{sorted}"))?.int();
        let mut rows = opts.online.first_chunk_rows.max(1);
        let (mut after, last) = (0, last.unwrap_or(0));
        let fill = |lo, hi| k.fill_sql(lo, hi);
        while after < last {
            let started = now();
            (after, _) = copy_chunk(host, ot, after, last, rows, prepared, &fill)
                .map_err(|e| chunk_error(host, plan, ot, number, e))?;
            if let Some(s) = started {
                let took = s.elapsed();
                rows = adapt(rows, took, opts.online.chunk_time);
                if after < last {
                    std::thread::sleep(opts.online.pause.min(took));
                }
            }
        }
        Ok(())
    })();
    let _ = host.execute(&k.drop_sorted);
    filled
}

/// The next chunk's size: scaled toward `goal` from the last one's time (at most twice as
/// large, or half as large). Not faster: a small chunk's time per row is the cache's best,
/// so a chunk grown much larger can hold the lock well past `goal`; doubling reaches 50,000
/// rows from 2,000 in five short chunks.
fn adapt(rows: u64, took: Duration, goal: Duration) -> u64 {
    let took = took.as_secs_f64().max(1e-6);
    let scaled = (rows as f64 * goal.as_secs_f64() / took) as u64;
    scaled.clamp((rows / 2).max(100), rows.saturating_mul(2))
}

/// Why a chunk stopped.
enum ChunkError {
    /// Another connection changed the schema (or ran VACUUM, which can renumber rowids).
    SchemaChanged,
    Sqlite(HostError),
    Other(Error),
}

impl From<HostError> for ChunkError {
    fn from(e: HostError) -> Self {
        ChunkError::Sqlite(e)
    }
}

/// One chunk, in its own transaction: the log drained, then `body` run on the range after
/// `after` (at most `rows` rowids, up to `last`): the copy's rows, or an index's fill. Returns the chunk's last rowid and the rows
/// copied. A UNIQUE conflict that may be with a row `REPLACE` deleted unlogged is retried
/// once without such rows.
fn copy_chunk(
    host: &dyn Host,
    ot: &OnlineTable,
    after: i64,
    last: i64,
    rows: u64,
    prepared: &Prepared,
    body: &dyn Fn(i64, i64) -> String,
) -> std::result::Result<(i64, u64), ChunkError> {
    host.execute(BEGIN)?;
    let ran = (|| -> std::result::Result<(i64, u64), ChunkError> {
        let version = schema_version(host).map_err(ChunkError::Other)?;
        if version != prepared.schema_version {
            return Err(ChunkError::SchemaChanged);
        }
        let hi = after
            .saturating_add(rows.min(i64::MAX as u64) as i64)
            .min(last);
        let copy = |host: &dyn Host| -> std::result::Result<u64, HostError> {
            host.execute("SAVEPOINT liteshift_chunk")?;
            let done = host
                .execute_script(&ot.drain)
                .and_then(|_| host.execute_script(&body(after + 1, hi)))
                .and_then(|_| query_value(host, "SELECT changes()"));
            match done {
                Ok(n) => {
                    host.execute("RELEASE liteshift_chunk")?;
                    Ok(n.int().unwrap_or(0).max(0) as u64)
                }
                Err(e) => {
                    // After an I/O error or a full disk SQLite has rolled the whole
                    // transaction back, savepoint included: the first error is the one to tell.
                    let undo =
                        host.execute_script("ROLLBACK TO liteshift_chunk; RELEASE liteshift_chunk");
                    match undo {
                        Err(u) if e.kind() == ErrorKind::Constraint => Err(u),
                        _ => Err(e),
                    }
                }
            }
        };
        let n = match copy(host) {
            Err(e) if ot.may_replace && e.kind() == ErrorKind::Constraint => {
                host.execute(&ot.remove_replaced_sql())?;
                copy(host)?
            }
            other => other?,
        };
        Ok((hi, n))
    })();
    match ran {
        Ok(done) => {
            host.execute("COMMIT")?;
            // In WAL mode, the pages the chunk wrote go into the database file now, on this
            // connection, outside the write lock: else the commit of another connection
            // that fills the WAL past its auto-checkpoint would copy them, and its write
            // would wait for that. (In rollback-journal mode this does nothing.)
            let _ = host.query("PRAGMA wal_checkpoint(PASSIVE)");
            Ok(done)
        }
        Err(e) => {
            let _ = host.execute("ROLLBACK");
            Err(e)
        }
    }
}

/// The error of a stopped copy: the table's data checks name the rows that violate the new
/// definition (read after the copy is removed), otherwise what stopped it.
fn chunk_error(
    host: &dyn Host,
    plan: &Plan,
    ot: &OnlineTable,
    number: usize,
    e: ChunkError,
) -> Error {
    let e = match e {
        ChunkError::SchemaChanged => {
            return Error::StepFailed {
                step: number,
                reason: ot.copy.reason.clone(),
                message: "another connection changed the schema or ran VACUUM (which can renumber rowids) while the rows were copied".into(),
            }
        }
        ChunkError::Other(e) => return e,
        ChunkError::Sqlite(e) => e,
    };
    if is_violation(&e) {
        let checks: Vec<&DataCheck> = plan.checks.iter().filter(|c| c.table == ot.table).collect();
        if let Err(refusal) = read_transaction(host, || check_data(host, &checks)) {
            return refusal;
        }
        return Error::Refused(Refusal::Violations {
            violations: vec![Violation {
                constraint: e.message.replace(&ot.shadow, &ot.table),
                table: ot.table.clone(),
                column: None,
                count: 1,
                examples: vec![format!(
                    "step {number} ({}) stopped at the first offending row",
                    ot.copy.reason
                )],
            }],
        });
    }
    step_error(host, number - 1, &ot.copy.reason, e)
}

/// Remove what this run created (after a failure; best effort: what remains, the next plan
/// removes).
fn abandon(host: &dyn Host, online: &Online) {
    let sql = abandon_sql(&online.tables);
    if host.execute(BEGIN).is_ok() {
        if host.execute_script(&sql).is_ok() {
            let _ = host.execute("COMMIT");
        } else {
            let _ = host.execute("ROLLBACK");
        }
    }
}

/// `f` inside a read transaction (in WAL mode, other connections keep writing meanwhile).
fn read_transaction(host: &dyn Host, f: impl FnOnce() -> Result<()>) -> Result<()> {
    host.execute("BEGIN").map_err(|e| database_error(host, e))?;
    let r = f();
    let _ = host.execute("COMMIT");
    r
}

/// One prepare step, observed like any step.
fn run_step(
    host: &dyn Host,
    number: usize,
    total: usize,
    step: &Step,
    opts: &ApplyOptions,
) -> std::result::Result<(), HostError> {
    match &opts.on_progress {
        None => host.execute_script(&step.sql),
        Some(o) => run_observed(host, number - 1, total, step, o),
    }
}

/// `observer`, told of the swap's steps as numbers `offset + 1 ..` of `total`.
fn renumbered(observer: &ProgressObserver, offset: usize, total: usize) -> ProgressObserver {
    let inner = observer.clone();
    ProgressObserver::new(move |p| {
        let p = match p {
            Progress::Started { number, step, .. } => Progress::Started {
                number: number + offset,
                total,
                step,
            },
            Progress::Rows { number, rows, .. } => Progress::Rows {
                number: number + offset,
                total,
                rows: *rows,
            },
            Progress::Finished { done, .. } => Progress::Finished {
                total,
                done: StepDone {
                    number: done.number + offset,
                    ..done.clone()
                },
            },
        };
        (inner.0)(&p)
    })
}
