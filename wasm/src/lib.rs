//! WebAssembly bindings of liteshift. This crate only converts values in and out of the
//! `liteshift` core; the JavaScript glue in `js/` runs a plan on a host database (sql.js, the
//! official sqlite-wasm build) following the sequence documented in `wasm/README.md`.

use std::cell::RefCell;

use liteshift::{CatalogRow, Error, Options, Plan, SqliteVersion};
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
    pub sqlite_version: Option<String>,
    pub source_name: Option<String>,
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
        if let Some(v) = &self.sqlite_version {
            o.sqlite_version = Some(SqliteVersion::parse(v).ok_or_else(|| {
                Error::InvalidOption(format!(
                    "sqliteVersion {v:?}: expected a version like \"3.45.1\""
                ))
            })?);
        }
        Ok(o)
    }
}

/// The current schema: SQL text, or catalog rows from any host.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Current {
    Sql(String),
    Rows(Vec<CatalogRow>),
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
}

#[derive(Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct JsCheck {
    pub constraint: String,
    pub table: String,
    pub column: Option<String>,
    pub sql: String,
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
    pub health_checks: Vec<liteshift::plan::HealthCheck>,
    pub foreign_keys_off: bool,
    pub fingerprint: String,
    pub sqlite_version: String,
    pub changes: Vec<String>,
    pub warnings: Vec<String>,
    pub suggestions: Vec<String>,
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
                })
                .collect(),
            health_checks: p.health_checks.clone(),
            foreign_keys_off: p.foreign_keys_off,
            fingerprint: p.fingerprint.clone(),
            sqlite_version: p.sqlite_version.clone(),
            changes: p.changes.clone(),
            warnings: p.warnings.clone(),
            suggestions: p.suggestions.clone(),
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

impl From<&Error> for JsErrorValue {
    fn from(e: &Error) -> Self {
        let mut v = JsErrorValue {
            code: e.code().into(),
            message: e.to_string(),
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

// ---------------------------------------------------------------------------------------------
// Pure functions (tested natively), then the wasm-bindgen exports.

/// Plan from the current schema (SQL text or catalog rows) to `target_sql`.
pub fn plan_value(current: &Current, target_sql: &str, opts: &JsOptions) -> Result<JsPlan, Error> {
    let mut o = opts.to_options()?;
    // The plan runs on the host, with the host's virtual-table modules.
    o.host_modules = true;
    let planned = match current {
        Current::Sql(sql) => liteshift::plan_diff(sql, "current.sql", target_sql, &o)?,
        Current::Rows(rows) => liteshift::plan_catalog(rows, target_sql, &o)?,
    };
    Ok(JsPlan::from(&planned.plan))
}

/// The fingerprint of a host's schema from its catalog rows.
pub fn fingerprint_value(rows: &[CatalogRow]) -> Result<String, Error> {
    Ok(liteshift::load_catalog(rows)?.fingerprint())
}

/// What still differs between a host's schema (catalog rows) and `target_sql`: empty when
/// they match.
pub fn remaining_value(
    rows: &[CatalogRow],
    target_sql: &str,
    opts: &JsOptions,
) -> Result<Vec<String>, Error> {
    let mut o = opts.to_options()?;
    o.hints = Default::default();
    o.host_modules = true;
    let current = liteshift::load_catalog(rows)?;
    let target =
        liteshift::declared::load_declared_opts(target_sql, &o.source_name, o.load_options())?;
    let ch = liteshift::diff(
        &current,
        &target.schema,
        &Default::default(),
        liteshift::DiffOptions {
            exact_column_order: o.exact_column_order,
        },
    );
    Ok(ch.summary())
}

/// Migrate a database held as bytes inside liteshift's own SQLite; returns the new bytes.
pub fn migrate_bytes_value(
    bytes: &[u8],
    target_sql: &str,
    opts: &JsOptions,
) -> Result<(Vec<u8>, liteshift::Report), Error> {
    let o = opts.to_options()?;
    let mut conn = rusqlite::Connection::open_in_memory()?;
    if !bytes.is_empty() {
        conn.deserialize_read_exact(rusqlite::MAIN_DB, bytes, bytes.len(), false)
            .map_err(|e| Error::Database {
                path: "<bytes>".into(),
                message: format!("not a SQLite database image: {e}"),
            })?;
        conn.query_row("SELECT count(*) FROM sqlite_schema", [], |r| {
            r.get::<_, i64>(0)
        })
        .map_err(|e| liteshift::apply::database_error(&conn, liteshift::host::host_error(e)))?;
    }
    let report = liteshift::migrate(&mut conn, target_sql, &o).map_err(explain_missing_module)?;
    let data = conn.serialize(rusqlite::MAIN_DB)?;
    Ok((data.to_vec(), report))
}

/// `migrateBytes` runs in this package's own SQLite, built without FTS and R*Tree (see
/// wasm/build.sh): a missing module gets a message that says where to migrate instead.
pub fn explain_missing_module(e: Error) -> Error {
    const HINT: &str = "migrateBytes runs in liteshift's own SQLite, which has no FTS or R*Tree modules: open the database in a host that has them (the official sqlite-wasm build has FTS5 and R*Tree, sql.js has FTS3/4) and call migrate(db, schema)";
    let missing = |m: &str| m.contains("no such module");
    match e {
        Error::Schema {
            source_name,
            line,
            column,
            message,
        } if missing(&message) => Error::Schema {
            source_name,
            line,
            column,
            message: format!("{message}; {HINT}"),
        },
        Error::Database { path, message } if missing(&message) => Error::Database {
            path,
            message: format!("{message}; {HINT}"),
        },
        Error::StepFailed {
            step,
            reason,
            message,
        } if missing(&message) => Error::StepFailed {
            step,
            reason,
            message: format!("{message} ({HINT})"),
        },
        Error::Sqlite(se) if missing(&se.to_string()) => Error::Database {
            path: "<bytes>".into(),
            message: format!("{se}; {HINT}"),
        },
        other => other,
    }
}

thread_local! {
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

fn js_error(e: &Error) -> JsValue {
    to_js(&JsErrorValue::from(e))
}

fn to_js<T: Serialize>(v: &T) -> JsValue {
    v.serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .unwrap_or(JsValue::NULL)
}

fn from_js<T: for<'de> Deserialize<'de>>(v: JsValue, what: &str) -> Result<T, JsValue> {
    serde_wasm_bindgen::from_value(v).map_err(|e| {
        to_js(&JsErrorValue {
            code: "invalid_option".into(),
            message: format!("{what}: {e}"),
            line: None,
            column: None,
            violations: None,
            steps: None,
        })
    })
}

/// The option names `options` accepts (a misspelt one is an error, not silently ignored).
pub const OPTION_NAMES: &[&str] = &[
    "allowDataLoss",
    "exactColumnOrder",
    "denyDanglingForeignKeys",
    "allowDanglingForeignKeys",
    "renameTables",
    "renameColumns",
    "sqliteVersion",
    "sourceName",
];

fn options(v: JsValue) -> Result<JsOptions, JsValue> {
    if v.is_undefined() || v.is_null() {
        return Ok(JsOptions::default());
    }
    if let Some(obj) = v.dyn_ref::<js_sys::Object>() {
        for k in js_sys::Object::keys(obj).iter() {
            let k = k.as_string().unwrap_or_default();
            if !OPTION_NAMES.contains(&k.as_str()) {
                return Err(to_js(&JsErrorValue {
                    code: "invalid_option".into(),
                    message: format!(
                        "unknown option `{k}`; known options: {}",
                        OPTION_NAMES.join(", ")
                    ),
                    line: None,
                    column: None,
                    violations: None,
                    steps: None,
                }));
            }
        }
    }
    from_js(v, "options")
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

/// Errors are returned as plain objects (`{ code, message, ... }`); the JS glue turns them
/// into `Error`s.
#[wasm_bindgen(js_name = planRaw)]
pub fn plan_raw(current: JsValue, target_sql: &str, opts: JsValue) -> Result<JsValue, JsValue> {
    let current: Current = from_js(current, "current (SQL text or catalog rows)")?;
    let opts = options(opts)?;
    plan_value(&current, target_sql, &opts)
        .map(|p| to_js(&p))
        .map_err(|e| js_error(&e))
}

#[wasm_bindgen(js_name = fingerprintRaw)]
pub fn fingerprint_raw(rows: JsValue) -> Result<String, JsValue> {
    let rows: Vec<CatalogRow> = from_js(rows, "catalog rows")?;
    fingerprint_value(&rows).map_err(|e| js_error(&e))
}

#[wasm_bindgen(js_name = remainingRaw)]
pub fn remaining_raw(rows: JsValue, target_sql: &str, opts: JsValue) -> Result<JsValue, JsValue> {
    let rows: Vec<CatalogRow> = from_js(rows, "catalog rows")?;
    let opts = options(opts)?;
    remaining_value(&rows, target_sql, &opts)
        .map(|r| to_js(&r))
        .map_err(|e| js_error(&e))
}

#[wasm_bindgen(js_name = migrateBytesRaw)]
pub fn migrate_bytes_raw(
    bytes: &[u8],
    target_sql: &str,
    opts: JsValue,
) -> Result<JsValue, JsValue> {
    let opts = options(opts)?;
    let (out, report) = migrate_bytes_value(bytes, target_sql, &opts).map_err(|e| js_error(&e))?;
    let obj = js_sys::Object::new();
    let arr = js_sys::Uint8Array::from(out.as_slice());
    let _ = js_sys::Reflect::set(&obj, &"bytes".into(), &arr);
    let rep = serde_json::json!({
        "stepsApplied": report.steps_applied,
        "foreignKeysToggled": report.foreign_keys_toggled,
        "plan": JsPlan::from(&report.plan),
    });
    let _ = js_sys::Reflect::set(&obj, &"report".into(), &to_js(&rep));
    Ok(obj.into())
}

/// Panics on purpose: lets tests (and users reporting a bug) check that a Rust panic reaches
/// JavaScript as a `LiteshiftError` with code `internal_error` and the panic's message.
#[wasm_bindgen(js_name = selfTestPanic)]
pub fn self_test_panic() {
    panic!("liteshift self-test panic");
}

/// The SQLite version inside the module.
#[wasm_bindgen(js_name = sqliteVersion)]
pub fn sqlite_version() -> String {
    rusqlite::version().to_string()
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
    }

    #[test]
    fn plan_from_sql_and_from_rows_agree() {
        let cur = "CREATE TABLE t(id INTEGER PRIMARY KEY, a TEXT);";
        let target = "CREATE TABLE t(id INTEGER PRIMARY KEY, a TEXT, b INTEGER DEFAULT 0);";
        let from_sql =
            plan_value(&Current::Sql(cur.into()), target, &JsOptions::default()).unwrap();
        let rows: Vec<CatalogRow> = serde_json::from_str(
            r#"[{"type":"table","name":"t","tbl_name":"t","sql":"CREATE TABLE t(id INTEGER PRIMARY KEY, a TEXT)"}]"#,
        )
        .unwrap();
        let from_rows = plan_value(&Current::Rows(rows), target, &JsOptions::default()).unwrap();
        assert_eq!(from_sql, from_rows);
        assert_eq!(from_sql.steps.len(), 1);
        assert!(!from_sql.steps[0].rewrites_rows);
        let json = serde_json::to_value(&from_sql).unwrap();
        assert!(json["steps"][0].get("rewritesRows").is_some());
        assert!(json.get("foreignKeysOff").is_some());
    }

    #[test]
    fn errors_carry_code_and_position() {
        let e = plan_value(
            &Current::Sql("CREATE TABLE t(a);".into()),
            "CREATE TABLE t(a,,);",
            &JsOptions::default(),
        )
        .unwrap_err();
        let v = JsErrorValue::from(&e);
        assert_eq!(v.code, "schema_error");
        assert_eq!((v.line, v.column.is_some()), (Some(1), true));
    }

    #[test]
    fn migrate_bytes_round_trip() {
        let c = rusqlite::Connection::open_in_memory().unwrap();
        c.execute_batch(
            "CREATE TABLE t(id INTEGER PRIMARY KEY, a TEXT); INSERT INTO t VALUES (1, 'x');",
        )
        .unwrap();
        let mut c = c;
        let bytes = c.serialize(rusqlite::MAIN_DB).unwrap().to_vec();
        let target = "CREATE TABLE t(id INTEGER PRIMARY KEY, a TEXT NOT NULL COLLATE NOCASE);";
        let (out, report) = migrate_bytes_value(&bytes, target, &JsOptions::default()).unwrap();
        assert!(report.steps_applied > 0);
        let (again, r2) = migrate_bytes_value(&out, target, &JsOptions::default()).unwrap();
        assert_eq!(r2.steps_applied, 0);
        let mut d = rusqlite::Connection::open_in_memory().unwrap();
        d.deserialize_read_exact(rusqlite::MAIN_DB, &again[..], again.len(), false)
            .unwrap();
        let a: String = d.query_row("SELECT a FROM t", [], |r| r.get(0)).unwrap();
        assert_eq!(a, "x");
        let bad = migrate_bytes_value(b"definitely not sqlite", target, &JsOptions::default())
            .unwrap_err();
        assert_eq!(JsErrorValue::from(&bad).code, "database_error");
    }
}
