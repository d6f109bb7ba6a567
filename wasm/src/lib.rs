//! WebAssembly bindings of liteshift. This crate only converts values in and out of the
//! `liteshift` core. The default npm entry has no SQLite inside: `plan` and `migrate` run the
//! core's one sequence on the page's SQLite (sql.js, the official sqlite-wasm build, or a
//! custom adapter) through [`host::JsAdapter`]. With the `bundled` feature (the
//! `liteshift/bytes` entry) the module also carries its own SQLite, for `migrateBytes` and
//! host-less planning (see `bytes`).

use std::cell::RefCell;

use liteshift::Host;
use liteshift::{Error, Options, Plan, SqliteVersion};
use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;

// ---------------------------------------------------------------------------------------------
// Values in

/// `options` as JavaScript passes them.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct JsOptions {
    pub allow_data_loss: bool,
    pub exact_column_order: bool,
    pub deny_dangling_foreign_keys: bool,
    /// Accepted for compatibility and ignored: dangling foreign keys are accepted by default.
    pub allow_dangling_foreign_keys: bool,
    /// `[["old", "new"], ...]` or `{ old: "new" }`
    pub rename_tables: Renames,
    /// `[["table.old", "new"], ...]` or `{ "table.old": "new" }`
    pub rename_columns: Renames,
    /// `{ "table.column": "EXPR" }` or `[["table.column", "EXPR"], ...]`: declared values for
    /// existing rows.
    pub values: Renames,
    pub sqlite_version: Option<String>,
    pub source_name: Option<String>,
    /// Name patterns (GLOB, ignoring case) of objects that are not the schema's: left alone.
    pub ignore: Vec<String>,
    /// Never drop an undeclared table, column, index, view or trigger (`plan.kept` names them).
    pub keep_undeclared: bool,
    /// `onProgress(event)`: told as each step starts and finishes, and of the rows a rebuild
    /// has copied (see `progress`).
    #[serde(skip)]
    pub on_progress: Option<progress::OnProgress>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(untagged)]
pub enum Renames {
    #[default]
    None,
    Pairs(Vec<(String, String)>),
    Map(std::collections::BTreeMap<String, String>),
}

impl Renames {
    fn pairs(&self) -> Vec<(String, String)> {
        match self {
            Renames::None => Vec::new(),
            Renames::Pairs(p) => p.clone(),
            Renames::Map(m) => m.iter().map(|(a, b)| (a.clone(), b.clone())).collect(),
        }
    }
}

impl JsOptions {
    /// Into the core's options.
    pub fn to_options(&self) -> Result<Options, Error> {
        let mut o = Options {
            allow_data_loss: self.allow_data_loss,
            exact_column_order: self.exact_column_order,
            deny_dangling_foreign_keys: self.deny_dangling_foreign_keys,
            ignore: self.ignore.clone(),
            keep_undeclared: self.keep_undeclared,
            source_name: self
                .source_name
                .clone()
                .unwrap_or_else(|| "schema.sql".into()),
            ..Options::default()
        };
        for (a, b) in self.rename_tables.pairs() {
            o.hints
                .add_table_rename(&format!("{a}={b}"))
                .map_err(Error::InvalidOption)?;
        }
        for (a, b) in self.rename_columns.pairs() {
            o.hints
                .add_column_rename(&format!("{a}={b}"))
                .map_err(Error::InvalidOption)?;
        }
        for (a, b) in self.values.pairs() {
            o.hints
                .add_value(&format!("{a}={b}"))
                .map_err(Error::InvalidOption)?;
        }
        o.on_progress = self.on_progress.as_ref().map(progress::observer);
        if let Some(v) = &self.sqlite_version {
            o.sqlite_version = Some(
                SqliteVersion::from_option(v)
                    .map_err(|e| Error::InvalidOption(format!("sqliteVersion {e}")))?,
            );
        }
        Ok(o)
    }
}

// ---------------------------------------------------------------------------------------------
// Values out

#[derive(Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct JsStep {
    pub sql: String,
    pub destructive: bool,
    pub rewrites_rows: bool,
    pub reason: String,
    /// `{ kind: "constant" }`, or `{ kind: "rewrite" | "scan" | "free", table, rows?, bytes? }`.
    pub cost: liteshift::Cost,
}

#[derive(Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct JsCheck {
    pub constraint: String,
    pub table: String,
    pub column: Option<String>,
    pub sql: String,
    pub deferred: bool,
}

/// A plan as JavaScript sees it.
#[derive(Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct JsPlan {
    pub in_sync: bool,
    pub steps: Vec<JsStep>,
    /// The whole script, exactly what `migrate` runs.
    pub sql: String,
    pub checks: Vec<JsCheck>,
    /// `{ table, sql }`: `PRAGMA quick_check` of each table whose rows are rewritten; each must
    /// return the single row `ok` before any step runs.
    pub health_checks: Vec<liteshift::HealthCheck>,
    /// `[{ before, after }]`: the tables whose `PRAGMA foreign_key_check` runs before and
    /// after the steps (`null`: the whole database).
    pub fk_checks: Option<Vec<liteshift::FkCheck>>,
    pub foreign_keys_off: bool,
    pub fingerprint: String,
    pub sqlite_version: String,
    pub changes: Vec<String>,
    pub warnings: Vec<String>,
    pub suggestions: Vec<String>,
    /// What the database holds and the declaration does not, kept (`keepUndeclared`):
    /// "table extra", "column t.old", "index t_old".
    pub kept: Vec<String>,
    pub destructive_steps: Vec<String>,
}

impl From<&Plan> for JsPlan {
    fn from(p: &Plan) -> Self {
        JsPlan {
            in_sync: p.steps.is_empty(),
            steps: p
                .steps
                .iter()
                .map(|s| JsStep {
                    sql: s.sql.clone(),
                    destructive: s.destructive,
                    rewrites_rows: s.rewrites_rows,
                    reason: s.reason.clone(),
                    cost: s.cost.clone(),
                })
                .collect(),
            sql: liteshift::render_sql(p),
            checks: p
                .checks
                .iter()
                .map(|c| JsCheck {
                    constraint: c.constraint.clone(),
                    table: c.table.clone(),
                    column: c.column.clone(),
                    sql: c.sql.clone(),
                    deferred: c.deferred,
                })
                .collect(),
            health_checks: p.health_checks.clone(),
            fk_checks: p.fk_checks.clone(),
            foreign_keys_off: p.foreign_keys_off,
            fingerprint: p.fingerprint.clone(),
            sqlite_version: p.sqlite_version.clone(),
            changes: p.changes.clone(),
            warnings: p.warnings.clone(),
            suggestions: p.suggestions.clone(),
            kept: p.kept.clone(),
            destructive_steps: p.destructive_steps(),
        }
    }
}

/// A core error as a plain value: `{ code, message, line?, column?, violations?, steps? }`.
#[derive(Debug, Serialize, PartialEq)]
pub struct JsErrorValue {
    pub code: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub violations: Option<Vec<liteshift::Violation>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub steps: Option<Vec<String>>,
}

impl JsErrorValue {
    /// An error with a code and a message only (no position, violations or steps).
    pub fn plain(code: &str, message: String) -> Self {
        JsErrorValue {
            code: code.into(),
            message,
            line: None,
            column: None,
            violations: None,
            steps: None,
        }
    }
}

impl From<&Error> for JsErrorValue {
    fn from(e: &Error) -> Self {
        let mut v = JsErrorValue {
            code: e.code().into(),
            message: e.message(liteshift::FrontEnd::JavaScript),
            line: None,
            column: None,
            violations: None,
            steps: None,
        };
        match e {
            Error::Schema { line, column, .. } => {
                v.line = Some(*line);
                v.column = Some(*column);
            }
            Error::Refused(liteshift::Refusal::Violations { violations }) => {
                v.violations = Some(violations.clone())
            }
            Error::Refused(liteshift::Refusal::DataLoss { steps }) => v.steps = Some(steps.clone()),
            _ => {}
        }
        v
    }
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
pub fn plan_on(host: &dyn Host, target_sql: &str, opts: &JsOptions) -> Result<JsPlan, Error> {
    let o = opts.to_options()?;
    Ok(JsPlan::from(
        &liteshift::plan_migration(host, target_sql, &o)?.plan,
    ))
}

/// The plan from the declared schema `from_sql` to `target_sql`, both loaded into scratch
/// databases of `host`'s SQLite (its own database is not touched).
pub fn diff_on(
    host: &dyn Host,
    from_sql: &str,
    target_sql: &str,
    opts: &JsOptions,
) -> Result<JsPlan, Error> {
    let o = opts.to_options()?;
    Ok(JsPlan::from(
        &liteshift::plan_diff_on(host, from_sql, "current.sql", target_sql, &o)?.plan,
    ))
}

/// A report as JavaScript sees it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JsReport {
    pub steps_applied: usize,
    pub foreign_keys_toggled: bool,
    pub plan: JsPlan,
}

impl From<&liteshift::Report> for JsReport {
    fn from(r: &liteshift::Report) -> Self {
        JsReport {
            steps_applied: r.steps_applied,
            foreign_keys_toggled: r.foreign_keys_toggled,
            plan: JsPlan::from(&r.plan),
        }
    }
}

/// Migrate `host`'s database to `target_sql`: the core's sequence, verified before commit.
pub fn migrate_on(
    host: &mut dyn Host,
    target_sql: &str,
    opts: &JsOptions,
) -> Result<JsReport, Error> {
    let o = opts.to_options()?;
    Ok(JsReport::from(&liteshift::migrate(host, target_sql, &o)?))
}

#[cfg(not(feature = "bundled"))]
fn adapter(db: JsHost) -> Result<JsAdapter, JsValue> {
    JsAdapter::new(db).map_err(|message| to_js(&JsErrorValue::plain("unsupported_host", message)))
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

fn js_error(e: &Error) -> JsValue {
    to_js(&JsErrorValue::from(e))
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
    to_js(&JsErrorValue::plain("invalid_option", message))
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
    "onProgress",
];

/// `options` read field by field (the same as [`JsOptions`]'s `Deserialize`, which the
/// module does not use: serde's deserializer would bring float formatting along).
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
        match k.as_str() {
            "allowDataLoss" => o.allow_data_loss = flag()?,
            "exactColumnOrder" => o.exact_column_order = flag()?,
            "denyDanglingForeignKeys" => o.deny_dangling_foreign_keys = flag()?,
            "allowDanglingForeignKeys" => o.allow_dangling_foreign_keys = flag()?,
            "renameTables" => o.rename_tables = renames(&k, &val)?,
            "renameColumns" => o.rename_columns = renames(&k, &val)?,
            "values" => o.values = renames(&k, &val)?,
            "sqliteVersion" => o.sqlite_version = Some(text()?),
            "sourceName" => o.source_name = Some(text()?),
            "ignore" => o.ignore = strings(&k, &val)?,
            "keepUndeclared" => o.keep_undeclared = flag()?,
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

/// `{ old: "new" }` or `[["old", "new"], ...]`.
fn renames(k: &str, v: &JsValue) -> Result<Renames, JsValue> {
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
        return Ok(Renames::Pairs(pairs));
    }
    let Some(obj) = v.dyn_ref::<js_sys::Object>() else {
        return Err(bad());
    };
    let mut map = std::collections::BTreeMap::new();
    for key in js_sys::Object::keys(obj).iter() {
        let value = js_sys::Reflect::get(v, &key)
            .ok()
            .and_then(|x| x.as_string());
        match (key.as_string(), value) {
            (Some(a), Some(b)) => {
                map.insert(a, b);
            }
            _ => return Err(bad()),
        }
    }
    Ok(Renames::Map(map))
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
        let o: JsOptions = serde_json::from_str(
            r#"{"allowDataLoss": true, "renameTables": {"a": "b"}, "renameColumns": [["b.x", "y"]], "sqliteVersion": "3.40.0"}"#,
        )
        .unwrap();
        let core = o.to_options().unwrap();
        assert!(core.allow_data_loss);
        assert_eq!(core.hints.tables, vec![("a".to_string(), "b".to_string())]);
        assert_eq!(
            core.hints.columns,
            vec![("b".into(), "x".into(), "y".into())]
        );
        assert_eq!(core.sqlite_version, Some(SqliteVersion(3, 40, 0)));
        assert!(serde_json::from_str::<JsOptions>(r#"{"allowDataLos": true}"#).is_err());
        let bad: JsOptions = serde_json::from_str(r#"{"sqliteVersion": "x"}"#).unwrap();
        assert!(bad.to_options().is_err());
        let o: JsOptions =
            serde_json::from_str(r#"{"ignore": ["_sqlx_*"], "keepUndeclared": true}"#).unwrap();
        let core = o.to_options().unwrap();
        assert_eq!(
            (core.ignore, core.keep_undeclared),
            (vec!["_sqlx_*".into()], true)
        );
    }

    #[test]
    fn keep_undeclared_reaches_the_plan_as_kept() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE t(id INTEGER PRIMARY KEY, old TEXT); CREATE TABLE extra(x);",
        )
        .unwrap();
        let opts = JsOptions {
            keep_undeclared: true,
            ..JsOptions::default()
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
        let v = JsErrorValue::from(&e);
        assert_eq!(v.code, "schema_error");
        assert_eq!((v.line, v.column.is_some()), (Some(1), true));
    }
}
