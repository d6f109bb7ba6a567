//! The `liteshift/bytes` entry (feature `bundled`): liteshift's own SQLite inside the module,
//! for `migrateBytes` and for planning without a host (`plan(sqlTextOrCatalogRows, ...)`).

use liteshift::{CatalogRow, Error};
use liteshift_contract::{self as contract, Plan, Report};
use serde::Deserialize;
use wasm_bindgen::prelude::*;

use crate::{invalid, js_error, options, to_js, JsOptions};

/// The current schema: SQL text, or catalog rows from any host.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Current {
    Sql(String),
    Rows(Vec<CatalogRow>),
}

/// Plan from the current schema (SQL text or catalog rows) to `target_sql`.
pub fn plan_value(
    current: &Current,
    target_sql: &str,
    opts: &JsOptions,
) -> Result<Plan, contract::Error> {
    let mut o = opts.to_options()?;
    // The plan runs on the host, with the host's virtual-table modules.
    o.host_modules = true;
    let planned = match current {
        Current::Sql(sql) => liteshift::plan_diff(sql, contract::DIFF_FROM_NAME, target_sql, &o),
        Current::Rows(rows) => liteshift::plan_catalog(rows, target_sql, &o),
    };
    planned.map(|p| Plan::from(p.plan)).map_err(crate::error)
}

/// Migrate a database held as bytes inside liteshift's own SQLite; returns the new bytes.
pub fn migrate_bytes_value(
    bytes: &[u8],
    target_sql: &str,
    opts: &JsOptions,
) -> Result<(Vec<u8>, Report), contract::Error> {
    let o = opts.to_options()?;
    migrate_bytes_core(bytes, target_sql, &o)
        .map(|(data, report)| (data, Report::from(report)))
        .map_err(crate::error)
}

fn migrate_bytes_core(
    bytes: &[u8],
    target_sql: &str,
    o: &liteshift::Options,
) -> Result<(Vec<u8>, liteshift::Report), Error> {
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
        .map_err(|e| liteshift::database_error(&conn, liteshift::host_error(e)))?;
    }
    let report = liteshift::migrate(&mut conn, target_sql, o).map_err(explain_missing_module)?;
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

/// SQL text, or rows `{ type, name, tbl_name, sql }` (read field by field: serde's deserializer
/// would bring float formatting into the module).
fn read_current(v: &JsValue) -> Result<Current, JsValue> {
    if let Some(sql) = v.as_string() {
        return Ok(Current::Sql(sql));
    }
    let bad = || {
        invalid("current: expected SQL text or catalog rows { type, name, tbl_name, sql }".into())
    };
    if !js_sys::Array::is_array(v) {
        return Err(bad());
    }
    js_sys::Array::from(v)
        .iter()
        .map(|row| {
            let field = |k: &str| js_sys::Reflect::get(&row, &JsValue::from_str(k)).ok();
            let text = |k: &str| field(k).and_then(|f| f.as_string()).ok_or_else(bad);
            let sql = field("sql").filter(|f| !f.is_null() && !f.is_undefined());
            Ok(CatalogRow {
                kind: text("type")?,
                name: text("name")?,
                tbl_name: text("tbl_name")?,
                sql: match sql {
                    Some(f) => Some(f.as_string().ok_or_else(bad)?),
                    None => None,
                },
            })
        })
        .collect::<Result<Vec<_>, JsValue>>()
        .map(Current::Rows)
}

#[wasm_bindgen(js_name = planOfflineRaw)]
pub fn plan_offline_raw(
    current: JsValue,
    target_sql: &str,
    opts: JsValue,
) -> Result<JsValue, JsValue> {
    let current = read_current(&current)?;
    let opts = options(opts)?;
    plan_value(&current, target_sql, &opts)
        .map(|p| to_js(&p))
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
    let _ = js_sys::Reflect::set(&obj, &"report".into(), &to_js(&report));
    Ok(obj.into())
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
        assert_eq!(e.code, contract::ErrorCode::SchemaError);
        assert_eq!((e.line, e.column.is_some()), (Some(1), true));
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
        assert_eq!(bad.code, contract::ErrorCode::DatabaseError);
    }
}
