//! WebAssembly bindings of liteshift. This crate only converts JavaScript values to and from
//! the front-end contract (`liteshift-contract`: options, plan, report, error, progress), as
//! JSON text JavaScript parses, and drives the page's SQLite as the core's host. The default npm entry has no SQLite inside: `plan` and `migrate` run the
//! core's one sequence on the page's SQLite (sql.js, the official sqlite-wasm build, or a
//! custom adapter) through [`host::JsAdapter`]. With the `bundled` feature (the
//! `liteshift/bytes` entry) the module also carries its own SQLite, for `migrateBytes` and
//! host-less planning (see `bytes`).

// The contract's `Error` is the value JavaScript receives, returned once per call (see
// liteshift-contract).
#![allow(clippy::result_large_err)]

use std::cell::RefCell;

use liteshift::Host;
use liteshift_contract::{self as contract, Caller, ErrorCode, FrontEnd};
use serde::Serialize;
use wasm_bindgen::prelude::*;

pub use liteshift_contract::{Plan, Report};

// ---------------------------------------------------------------------------------------------
// Values in

/// `options` as JavaScript passes them: the contract's options (`wasm/js/types.d.ts` lists
/// them), with the page's `onProgress` function.
#[derive(Debug, Default)]
pub struct JsOptions {
    pub options: contract::Options,
    /// `onProgress(event)`: told as each step starts and finishes, and of the rows a rebuild
    /// has copied (see `progress`).
    pub on_progress: Option<progress::OnProgress>,
}

impl JsOptions {
    /// The call's front end (the npm package's words in messages) and progress listener.
    pub fn caller(&self) -> Caller {
        Caller {
            front: FrontEnd::JavaScript,
            on_progress: self.on_progress.as_ref().map(progress::listener),
        }
    }

    /// Into the core's options.
    pub fn to_options(&self) -> Result<liteshift::Options, contract::Error> {
        self.caller().core_options(&self.options)
    }
}

/// A core error as the npm package reports it.
pub fn error(e: liteshift::Error) -> contract::Error {
    contract::Error::from_core(e, FrontEnd::JavaScript)
}

mod host;
pub use host::{JsAdapter, JsHost};
mod progress;

#[cfg(feature = "bundled")]
pub mod bytes;
#[cfg(feature = "bundled")]
pub mod workers;

// ---------------------------------------------------------------------------------------------
// The sequence on a host (tested natively on rusqlite hosts), then the wasm-bindgen exports.

/// Plan the migration of `host`'s database to `target_sql`. Reads only.
pub fn plan_on(
    host: &dyn Host,
    target_sql: &str,
    opts: &JsOptions,
) -> Result<Plan, contract::Error> {
    contract::plan(host, target_sql, &opts.options, &opts.caller())
}

/// The plan from the declared schema `from_sql` to `target_sql`, both loaded into scratch
/// databases of `host`'s SQLite (its own database is not touched).
pub fn diff_on(
    host: &dyn Host,
    from_sql: &str,
    target_sql: &str,
    opts: &JsOptions,
) -> Result<Plan, contract::Error> {
    contract::diff(host, from_sql, target_sql, &opts.options, &opts.caller())
}

/// Migrate `host`'s database to `target_sql`: the core's sequence, verified before commit.
pub fn migrate_on(
    host: &mut dyn Host,
    target_sql: &str,
    opts: &JsOptions,
) -> Result<Report, contract::Error> {
    contract::migrate(host, target_sql, &opts.options, &opts.caller())
}

#[cfg(not(feature = "bundled"))]
fn adapter(db: JsHost) -> Result<JsAdapter, JsValue> {
    JsAdapter::new(db)
        .map_err(|message| to_js(&contract::Error::plain(ErrorCode::UnsupportedHost, message)))
}

/// Errors are returned as plain objects (`{ code, message, ... }`); the JS glue turns them
/// into `Error`s. (The `liteshift/bytes` module, with its own SQLite, exports these only in
/// the default module: each module carries only what its entry calls.)
#[cfg(not(feature = "bundled"))]
#[wasm_bindgen(js_name = planRaw)]
pub fn plan_raw(db: JsHost, target_sql: &str, opts: JsValue) -> Result<JsValue, JsValue> {
    let opts = options(opts)?;
    let host = adapter(db)?;
    plan_on(&host, target_sql, &opts)
        .map(|p| to_js(&p))
        .map_err(|e| js_error(&e))
}

#[cfg(not(feature = "bundled"))]
#[wasm_bindgen(js_name = diffRaw)]
pub fn diff_raw(
    db: JsHost,
    from_sql: &str,
    target_sql: &str,
    opts: JsValue,
) -> Result<JsValue, JsValue> {
    let opts = options(opts)?;
    let host = adapter(db)?;
    diff_on(&host, from_sql, target_sql, &opts)
        .map(|p| to_js(&p))
        .map_err(|e| js_error(&e))
}

#[cfg(not(feature = "bundled"))]
#[wasm_bindgen(js_name = migrateRaw)]
pub fn migrate_raw(db: JsHost, target_sql: &str, opts: JsValue) -> Result<JsValue, JsValue> {
    let opts = options(opts)?;
    let mut host = adapter(db)?;
    migrate_on(&mut host, target_sql, &opts)
        .map(|r| to_js(&r))
        .map_err(|e| js_error(&e))
}

thread_local! {
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

fn js_error(e: &contract::Error) -> JsValue {
    to_js(e)
}

/// A value as a plain JavaScript object, through JSON text (smaller code than building the
/// object field by field from Rust).
fn to_js<T: Serialize>(v: &T) -> JsValue {
    serde_json::to_string(v)
        .ok()
        .and_then(|json| js_sys::JSON::parse(&json).ok())
        .unwrap_or(JsValue::NULL)
}

/// An `invalid_option` error value.
fn invalid(message: String) -> JsValue {
    to_js(&contract::Error::plain(ErrorCode::InvalidOption, message))
}

/// The option names `options` accepts (a misspelt one is an error, not silently ignored).
pub const OPTION_NAMES: &[&str] = &[
    "allowDataLoss",
    "exactColumnOrder",
    "denyDanglingForeignKeys",
    "allowDanglingForeignKeys",
    "renameTables",
    "renameColumns",
    "values",
    "sqliteVersion",
    "sourceName",
    "ignore",
    "keepUndeclared",
    "dryRun",
    "busyTimeoutMs",
    "online",
    "onlineChunkMs",
    "onlinePauseMs",
    "onProgress",
];

/// `options` read field by field (not with the contract's `Deserialize`: serde's deserializer
/// would bring float formatting into the module).
fn options(v: JsValue) -> Result<JsOptions, JsValue> {
    let mut o = JsOptions::default();
    if v.is_undefined() || v.is_null() {
        return Ok(o);
    }
    let Some(obj) = v.dyn_ref::<js_sys::Object>() else {
        return Err(invalid("options must be an object".into()));
    };
    for k in js_sys::Object::keys(obj).iter() {
        let k = k.as_string().unwrap_or_default();
        let val = js_sys::Reflect::get(&v, &JsValue::from_str(&k)).unwrap_or(JsValue::UNDEFINED);
        if val.is_undefined() && OPTION_NAMES.contains(&k.as_str()) {
            continue;
        }
        let flag = || {
            val.as_bool()
                .ok_or_else(|| invalid(format!("options: `{k}` must be true or false")))
        };
        let text = || {
            val.as_string()
                .ok_or_else(|| invalid(format!("options: `{k}` must be a string")))
        };
        let ms = || {
            val.as_f64()
                .filter(|ms| *ms >= 0.0 && ms.fract() == 0.0)
                .map(|ms| ms as u64)
                .ok_or_else(|| {
                    invalid(format!(
                        "options: `{k}` must be a whole number of milliseconds"
                    ))
                })
        };
        let c = &mut o.options;
        match k.as_str() {
            "allowDataLoss" => c.allow_data_loss = flag()?,
            "exactColumnOrder" => c.exact_column_order = flag()?,
            "denyDanglingForeignKeys" => c.deny_dangling_foreign_keys = flag()?,
            // Accepted for compatibility and ignored: dangling foreign keys are accepted by
            // default.
            "allowDanglingForeignKeys" => drop(flag()?),
            "renameTables" => c.rename_tables = renames(&k, &val)?,
            "renameColumns" => c.rename_columns = renames(&k, &val)?,
            "values" => c.values = renames(&k, &val)?,
            "sqliteVersion" => c.sqlite_version = Some(text()?),
            "sourceName" => c.source_name = Some(text()?),
            "ignore" => c.ignore = strings(&k, &val)?,
            "keepUndeclared" => c.keep_undeclared = flag()?,
            "dryRun" => c.dry_run = flag()?,
            "busyTimeoutMs" => c.busy_timeout_ms = Some(ms()?),
            // The npm package has no online rebuilds: the contract refuses these (by their
            // names), and `online: false` is accepted.
            "online" => c.online = flag()?,
            "onlineChunkMs" => c.online_chunk_ms = Some(ms()?),
            "onlinePauseMs" => c.online_pause_ms = Some(ms()?),
            "onProgress" => {
                let f = val.dyn_ref::<js_sys::Function>().ok_or_else(|| {
                    invalid(format!("options: `{k}` must be a function (event) => void"))
                })?;
                o.on_progress = Some(progress::OnProgress(f.clone()));
            }
            _ => {
                return Err(invalid(format!(
                    "unknown option `{k}`; known options: {}",
                    OPTION_NAMES.join(", ")
                )))
            }
        }
    }
    Ok(o)
}

/// `["a", "b*"]`.
fn strings(k: &str, v: &JsValue) -> Result<Vec<String>, JsValue> {
    let bad = || invalid(format!("options: `{k}` must be an array of strings"));
    if !js_sys::Array::is_array(v) {
        return Err(bad());
    }
    js_sys::Array::from(v)
        .iter()
        .map(|s| s.as_string().ok_or_else(bad))
        .collect()
}

/// `[["old", "new"], ...]` (`wasm/js/api.js` turns the `{ old: "new" }` form into pairs, in
/// its keys' order, before calling the module).
fn renames(k: &str, v: &JsValue) -> Result<Vec<(String, String)>, JsValue> {
    let bad = || {
        invalid(format!(
            "options: `{k}` must map strings to strings: {{ \"a\": \"b\" }} or [[\"a\", \"b\"], ...]"
        ))
    };
    if js_sys::Array::is_array(v) {
        let mut pairs = Vec::new();
        for pair in js_sys::Array::from(v).iter() {
            if !js_sys::Array::is_array(&pair) {
                return Err(bad());
            }
            let pair = js_sys::Array::from(&pair);
            match (
                pair.length(),
                pair.get(0).as_string(),
                pair.get(1).as_string(),
            ) {
                (2, Some(a), Some(b)) => pairs.push((a, b)),
                _ => return Err(bad()),
            }
        }
        return Ok(pairs);
    }
    Err(bad())
}

/// Record panics so the JS glue can report them (a panic aborts the module as `unreachable`).
#[wasm_bindgen(start)]
pub fn start() {
    std::panic::set_hook(Box::new(|info| {
        let msg = info.to_string();
        LAST_PANIC.with(|p| *p.borrow_mut() = Some(msg));
    }));
}

/// The message of the last Rust panic, if any.
#[wasm_bindgen(js_name = lastPanic)]
pub fn last_panic() -> Option<String> {
    LAST_PANIC.with(|p| p.borrow().clone())
}

/// Panics on purpose: lets tests (and users reporting a bug) check that a Rust panic reaches
/// JavaScript as a `LiteshiftError` with code `internal_error` and the panic's message.
#[wasm_bindgen(js_name = selfTestPanic)]
pub fn self_test_panic() {
    panic!("liteshift self-test panic");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_convert_with_renames_and_version() {
        let o = JsOptions {
            options: contract::Options {
                allow_data_loss: true,
                rename_tables: vec![("a".into(), "b".into())],
                rename_columns: vec![("b.x".into(), "y".into())],
                sqlite_version: Some("3.40.0".into()),
                ..Default::default()
            },
            on_progress: None,
        };
        let core = o.to_options().unwrap();
        assert!(core.allow_data_loss);
        assert_eq!(core.hints.tables, vec![("a".to_string(), "b".to_string())]);
        assert_eq!(
            core.hints.columns,
            vec![("b".into(), "x".into(), "y".into())]
        );
        assert_eq!(
            core.sqlite_version,
            Some(liteshift::SqliteVersion(3, 40, 0))
        );
        assert_eq!(core.source_name, "<schema>");
        let bad = JsOptions {
            options: contract::Options {
                sqlite_version: Some("x".into()),
                ..Default::default()
            },
            on_progress: None,
        };
        let e = bad.to_options().unwrap_err();
        assert!(e.message.starts_with("sqliteVersion: "), "{}", e.message);
    }

    #[test]
    fn keep_undeclared_reaches_the_plan_as_kept() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE t(id INTEGER PRIMARY KEY, old TEXT); CREATE TABLE extra(x);",
        )
        .unwrap();
        let opts = JsOptions {
            options: contract::Options {
                keep_undeclared: true,
                ..Default::default()
            },
            on_progress: None,
        };
        let p = plan_on(&conn, "CREATE TABLE t(id INTEGER PRIMARY KEY);", &opts).unwrap();
        assert!(p.in_sync, "{:?}", p.changes);
        assert_eq!(p.kept, ["table extra", "column t.old"]);
        let json = serde_json::to_value(&p).unwrap();
        assert_eq!(json["kept"][1], "column t.old");
    }

    #[test]
    fn plan_and_migrate_run_on_a_host() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE t(id INTEGER PRIMARY KEY, a TEXT); INSERT INTO t VALUES (1, 'x');",
        )
        .unwrap();
        let target = "CREATE TABLE t(id INTEGER PRIMARY KEY, a TEXT, b INTEGER DEFAULT 0);";
        let p = plan_on(&conn, target, &JsOptions::default()).unwrap();
        assert_eq!(p.steps.len(), 1);
        let json = serde_json::to_value(&p).unwrap();
        assert!(json["steps"][0].get("rewritesRows").is_some());
        let d = diff_on(
            &conn,
            "CREATE TABLE t(id INTEGER PRIMARY KEY, a TEXT);",
            target,
            &JsOptions::default(),
        )
        .unwrap();
        assert_eq!(d.steps, p.steps);
        let mut conn = conn;
        let r = migrate_on(&mut conn, target, &JsOptions::default()).unwrap();
        assert_eq!(r.steps_applied, 1);
        let e = plan_on(&conn, "CREATE TABLE t(a,,);", &JsOptions::default()).unwrap_err();
        assert_eq!(e.code, ErrorCode::SchemaError);
        assert_eq!((e.line, e.column.is_some()), (Some(1), true));
    }
}
