//! The Cloudflare Workers hosts (feature `bundled`): Durable Object storage, whose SQL API is
//! synchronous, and D1 bindings, whose API is asynchronous. Neither can open a scratch
//! database, so the declared schema goes into liteshift's own SQLite; the database is read and
//! written only on the host. This module converts values and carries calls; the sequence is
//! the core's.
//!
//! A D1 binding answers a query with a promise, and the core asks synchronously. So the core
//! runs against a [`ReplayHost`]: the host's answers so far, replayed in order; at the first
//! call without one it records what it needs and fails every later call, the run's result is
//! discarded, and JavaScript asks the host and runs the core again with one more answer.
//! The planner is deterministic, so each run asks the same calls in the same order; the host
//! sees each call once, in the order the core made them, and the result that counts comes
//! from a run in which every call had the host's own answer.

use std::cell::{Cell, RefCell};

use liteshift::{Error, Host, HostError, Rows, Value};
use wasm_bindgen::prelude::*;

use liteshift_contract::{self as contract, ErrorCode, Plan, Report};

use crate::{js_error, options, to_js, JsAdapter, JsHost, JsOptions};

/// The adapter of a synchronous host with liteshift's own scratch SQLite.
fn own_scratch_adapter(db: JsHost) -> Result<JsAdapter, JsValue> {
    JsAdapter::with_own_scratch(db)
        .map_err(|message| to_js(&contract::Error::plain(ErrorCode::UnsupportedHost, message)))
}

/// Declared virtual tables may use modules liteshift's own SQLite lacks (the host has them).
fn host_options(opts: &JsOptions) -> Result<liteshift::Options, contract::Error> {
    let mut o = opts.to_options()?;
    o.host_modules = true;
    Ok(o)
}

/// Plan on a synchronous host (Durable Object storage) whose scratch SQLite is ours.
#[wasm_bindgen(js_name = planHostRaw)]
pub fn plan_host_raw(db: JsHost, target_sql: &str, opts: JsValue) -> Result<JsValue, JsValue> {
    let opts = options(opts)?;
    let host = own_scratch_adapter(db)?;
    let o = host_options(&opts).map_err(|e| js_error(&e))?;
    liteshift::plan_migration(&host, target_sql, &o)
        .map(|p| to_js(&Plan::from(p.plan)))
        .map_err(|e| js_error(&crate::error(e)))
}

/// Migrate a synchronous host (Durable Object storage, inside `transactionSync`: the adapter
/// says `callerTransaction: true`) whose scratch SQLite is ours.
#[wasm_bindgen(js_name = migrateHostRaw)]
pub fn migrate_host_raw(db: JsHost, target_sql: &str, opts: JsValue) -> Result<JsValue, JsValue> {
    let opts = options(opts)?;
    let mut host = own_scratch_adapter(db)?;
    let o = host_options(&opts).map_err(|e| js_error(&e))?;
    liteshift::migrate(&mut host, target_sql, &o)
        .map(|r| to_js(&Report::from(r)))
        .map_err(|e| js_error(&crate::error(e)))
}

/// A host's answer to one call: rows, or the error it gave.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    Rows(Rows),
    Error(HostError),
}

/// The host's answers so far, replayed in order (see the module's comment).
pub struct ReplayHost {
    answers: Vec<(String, Answer)>,
    next: Cell<usize>,
    needed: RefCell<Option<String>>,
}

const WAITING: &str = "liteshift: waiting for the host's answer";

impl ReplayHost {
    pub fn new(answers: Vec<(String, Answer)>) -> Self {
        ReplayHost {
            answers,
            next: Cell::new(0),
            needed: RefCell::new(None),
        }
    }

    /// The call the run needed and had no answer for.
    pub fn needed(&self) -> Option<String> {
        self.needed.borrow().clone()
    }

    fn answer(&self, sql: &str) -> Result<Rows, HostError> {
        if self.needed.borrow().is_some() {
            return Err(HostError::new(WAITING));
        }
        let i = self.next.get();
        self.next.set(i + 1);
        match self.answers.get(i) {
            None => {
                *self.needed.borrow_mut() = Some(sql.to_string());
                Err(HostError::new(WAITING))
            }
            // The planner is deterministic: another call here is a bug, not a host's answer.
            Some((asked, _)) if asked != sql => {
                *self.needed.borrow_mut() = Some(sql.to_string());
                Err(HostError::new(format!(
                    "liteshift asked the host differently on a second run (call {i}: `{asked}`, then `{sql}`); this is a bug, please report it"
                )))
            }
            Some((_, Answer::Rows(rows))) => Ok(rows.clone()),
            Some((_, Answer::Error(e))) => Err(e.clone()),
        }
    }

    /// A call the replay could not make the same way twice.
    fn diverged(&self) -> bool {
        let i = self.next.get().saturating_sub(1);
        self.needed
            .borrow()
            .as_ref()
            .is_some_and(|sql| self.answers.get(i).is_some_and(|(asked, _)| asked != sql))
    }
}

impl Host for ReplayHost {
    fn execute(&self, sql: &str) -> Result<(), HostError> {
        self.answer(sql).map(|_| ())
    }

    fn query(&self, sql: &str) -> Result<Rows, HostError> {
        self.answer(sql)
    }

    fn scratch(&self) -> Result<Box<dyn Host>, HostError> {
        let conn = rusqlite::Connection::open_in_memory().map_err(liteshift::host_error)?;
        Ok(Box::new(conn))
    }
}

/// What one run of the planner over the host's answers came to.
pub enum Replayed {
    /// Ask the host this, then run again.
    Need(String),
    /// The plan, and for a batch its statements (empty when the database is in sync).
    Plan(Box<liteshift::Plan>, Vec<String>),
}

/// Plan over the answers so far: the migration of the host's database to `target_sql`, as a
/// self-checking batch when `batch` (D1's `batch()`).
pub fn plan_replayed(
    answers: Vec<(String, Answer)>,
    target_sql: &str,
    opts: &JsOptions,
    batch: bool,
) -> Result<Replayed, contract::Error> {
    let host = ReplayHost::new(answers);
    let o = host_options(opts)?;
    let planned = if batch {
        liteshift::plan_migration_for_batch(&host, target_sql, &o)
    } else {
        liteshift::plan_migration(&host, target_sql, &o)
    };
    if host.diverged() {
        return Err(crate::error(Error::InvalidOption(
            "liteshift asked the host differently on a second run; this is a bug, please report it"
                .into(),
        )));
    }
    if let Some(sql) = host.needed() {
        return Ok(Replayed::Need(sql));
    }
    let plan = planned.map_err(crate::error)?.plan;
    let statements = if batch && !plan.steps.is_empty() {
        liteshift::batch_statements(&plan)
    } else {
        Vec::new()
    };
    Ok(Replayed::Plan(Box::new(plan), statements))
}

/// `answers`: `[{ sql, rows } | { sql, error: { message, code? } }]`. Returns `{ need: sql }`
/// or `{ plan, statements }`.
#[wasm_bindgen(js_name = planReplayRaw)]
pub fn plan_replay_raw(
    answers: JsValue,
    target_sql: &str,
    opts: JsValue,
    batch: bool,
) -> Result<JsValue, JsValue> {
    let opts = options(opts)?;
    let answers = read_answers(&answers)?;
    let out = js_sys::Object::new();
    let set = |k: &str, v: &JsValue| {
        let _ = js_sys::Reflect::set(&out, &JsValue::from_str(k), v);
    };
    match plan_replayed(answers, target_sql, &opts, batch).map_err(|e| js_error(&e))? {
        Replayed::Need(sql) => set("need", &JsValue::from_str(&sql)),
        Replayed::Plan(plan, statements) => {
            set("plan", &to_js(&Plan::from(*plan)));
            let list: js_sys::Array = statements.iter().map(|s| JsValue::from_str(s)).collect();
            set("statements", &list);
        }
    }
    Ok(out.into())
}

/// The error a failed batch reports: the guard that stopped it (by the host's message), or
/// the step that failed.
#[wasm_bindgen(js_name = batchFailedRaw)]
pub fn batch_failed_raw(host_message: &str) -> JsValue {
    let (code, message) = liteshift::batch_failure(host_message);
    let code = ErrorCode::parse(code).unwrap_or(ErrorCode::StepFailed);
    to_js(&contract::Error::plain(code, message))
}

fn read_answers(v: &JsValue) -> Result<Vec<(String, Answer)>, JsValue> {
    let bad = || crate::invalid("answers: expected [{ sql, rows } | { sql, error }]".into());
    if !js_sys::Array::is_array(v) {
        return Err(bad());
    }
    js_sys::Array::from(v)
        .iter()
        .map(|a| {
            let field = |k: &str| js_sys::Reflect::get(&a, &JsValue::from_str(k)).ok();
            let sql = field("sql").and_then(|s| s.as_string()).ok_or_else(bad)?;
            if let Some(e) = field("error").filter(|e| !e.is_undefined() && !e.is_null()) {
                return Ok((sql, Answer::Error(crate::host::host_error(e))));
            }
            let rows = field("rows").ok_or_else(bad)?;
            let rows: js_sys::Array = rows.dyn_into().map_err(|_| bad())?;
            let rows = rows
                .iter()
                .map(|row| {
                    let row: js_sys::Array = row.dyn_into().map_err(|_| bad())?;
                    Ok(row.iter().map(crate::host::value).collect::<Vec<Value>>())
                })
                .collect::<Result<Rows, JsValue>>()?;
            Ok((sql, Answer::Rows(rows)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The replay against a real connection: answer each needed call from it, run again,
    /// until the plan comes; it equals the plan made on the connection directly.
    fn replay_on(conn: &rusqlite::Connection, target: &str, batch: bool) -> (Replayed, usize) {
        let mut answers = Vec::new();
        loop {
            match plan_replayed(answers.clone(), target, &JsOptions::default(), batch).unwrap() {
                Replayed::Need(sql) => {
                    let a = match Host::query(conn, &sql) {
                        Ok(rows) => Answer::Rows(rows),
                        Err(e) => Answer::Error(e),
                    };
                    answers.push((sql, a));
                }
                done => return (done, answers.len()),
            }
        }
    }

    #[test]
    fn a_replayed_plan_is_the_plan_made_on_the_host() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "PRAGMA foreign_keys = ON;
             CREATE TABLE p(id INTEGER PRIMARY KEY, name TEXT);
             CREATE TABLE c(id INTEGER PRIMARY KEY, p INTEGER REFERENCES p(id) ON DELETE CASCADE);
             INSERT INTO p VALUES (1, 'a'); INSERT INTO c VALUES (1, 1);",
        )
        .unwrap();
        let target = "CREATE TABLE p(id INTEGER PRIMARY KEY, name TEXT NOT NULL);
             CREATE TABLE c(id INTEGER PRIMARY KEY, p INTEGER REFERENCES p(id) ON DELETE CASCADE);";
        let (Replayed::Plan(plan, statements), calls) = replay_on(&conn, target, true) else {
            unreachable!()
        };
        let mut o = host_options(&JsOptions::default()).unwrap();
        o.foreign_keys_enforced = true;
        let direct = liteshift::plan_migration_for_batch(&conn, target, &o).unwrap();
        assert_eq!(plan.steps, direct.plan.steps);
        assert_eq!(statements, liteshift::batch_statements(&direct.plan));
        assert!(statements.iter().any(|s| s.contains("_liteshift_guard")));
        assert!(calls > 0 && calls < 80, "{calls} host calls");
        let (Replayed::Plan(plan, statements), _) = replay_on(&conn, target, false) else {
            unreachable!()
        };
        assert!(!plan.steps.is_empty() && statements.is_empty());
    }
}
