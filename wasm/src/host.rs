//! The page's SQLite as a [`liteshift::Host`]: a JavaScript adapter object (built by
//! `js/api.js` for sql.js and `oo1.DB`, or written by the user) called from Rust. Converts
//! values and errors; the sequence itself is the core's.

use js_sys::{Array, Reflect, Uint8Array};
use liteshift::{Host, HostError, Rows, Value};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

#[wasm_bindgen]
extern "C" {
    /// `{ exec(sql), query(sql) -> rows as arrays, scratch() -> adapter, execScript?(sql),
    /// execCountingRows?(sql, every, onRows), close?() }` (see wasm/README.md, "Host
    /// adapters").
    pub type JsHost;

    #[wasm_bindgen(method, catch)]
    fn exec(this: &JsHost, sql: &str) -> Result<(), JsValue>;
    #[wasm_bindgen(method, catch, js_name = execScript)]
    fn exec_script(this: &JsHost, sql: &str) -> Result<(), JsValue>;
    #[wasm_bindgen(method, catch, js_name = execCountingRows)]
    fn exec_counting_rows(
        this: &JsHost,
        sql: &str,
        every: f64,
        on_rows: &js_sys::Function,
    ) -> Result<(), JsValue>;
    #[wasm_bindgen(method, catch)]
    fn query(this: &JsHost, sql: &str) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(method, catch)]
    fn scratch(this: &JsHost) -> Result<JsHost, JsValue>;
    #[wasm_bindgen(method, catch)]
    fn close(this: &JsHost) -> Result<(), JsValue>;
    #[wasm_bindgen(method, catch, js_name = inTransaction)]
    fn in_transaction(this: &JsHost) -> Result<JsValue, JsValue>;
}

/// A JavaScript adapter. A scratch database it opened is closed when dropped.
pub struct JsAdapter {
    js: JsHost,
    has_script: bool,
    counts_rows: bool,
    owned: bool,
    /// The adapter says whether its connection is in a transaction (`inTransaction()`).
    says_in_transaction: bool,
    /// `callerTransaction: true`: the migration runs in the caller's transaction (a Durable
    /// Object's `transactionSync`; see [`Host::caller_transaction`]).
    caller_transaction: bool,
    /// `describe: "…"`: the database's name in messages (see [`Host::describe`]).
    describe: Option<String>,
    /// Scratch databases are liteshift's own SQLite (the bytes module, on hosts that offer
    /// none: Workers), not the adapter's `scratch()`.
    #[cfg(feature = "bundled")]
    own_scratch: bool,
}

fn has_fn(obj: &JsValue, name: &str) -> bool {
    Reflect::get(obj, &JsValue::from_str(name)).is_ok_and(|f| f.is_function())
}

impl JsAdapter {
    /// The caller's database: checked for the three required calls, never closed.
    pub fn new(js: JsHost) -> Result<JsAdapter, String> {
        let missing: Vec<&str> = ["exec", "query", "scratch"]
            .into_iter()
            .filter(|m| !has_fn(&js, m))
            .collect();
        if !missing.is_empty() {
            return Err(format!(
                "the host adapter has no {} method; an adapter is {{ exec(sql), query(sql), scratch() }} (see README: host adapters)",
                missing.join(", ")
            ));
        }
        Ok(JsAdapter::wrap(js))
    }

    fn wrap(js: JsHost) -> JsAdapter {
        let caller_transaction = Reflect::get(&js, &JsValue::from_str("callerTransaction"))
            .is_ok_and(|v| v.as_bool() == Some(true));
        let describe = Reflect::get(&js, &JsValue::from_str("describe"))
            .ok()
            .and_then(|v| v.as_string());
        JsAdapter {
            describe,
            has_script: has_fn(&js, "execScript"),
            counts_rows: has_fn(&js, "execCountingRows"),
            says_in_transaction: has_fn(&js, "inTransaction"),
            caller_transaction,
            js,
            owned: false,
            #[cfg(feature = "bundled")]
            own_scratch: false,
        }
    }

    /// An adapter of `{ exec(sql), query(sql), inTransaction?(), callerTransaction? }` whose
    /// scratch databases are liteshift's own SQLite (for hosts that cannot open one: a D1
    /// binding, Durable Object storage).
    #[cfg(feature = "bundled")]
    pub fn with_own_scratch(js: JsHost) -> Result<JsAdapter, String> {
        let missing: Vec<&str> = ["exec", "query"]
            .into_iter()
            .filter(|m| !has_fn(&js, m))
            .collect();
        if !missing.is_empty() {
            return Err(format!(
                "the host adapter has no {} method; an adapter is {{ exec(sql), query(sql) }} (see README: host adapters)",
                missing.join(", ")
            ));
        }
        let mut adapter = JsAdapter::wrap(js);
        adapter.own_scratch = true;
        Ok(adapter)
    }
}

impl Drop for JsAdapter {
    fn drop(&mut self) {
        if self.owned && has_fn(&self.js, "close") {
            let _ = self.js.close();
        }
    }
}

/// A JavaScript exception as a host error: SQLite's result code where the host gives one
/// (`oo1`'s `SQLite3Error.resultCode`, or a numeric `code`), its message once.
pub(crate) fn host_error(e: JsValue) -> HostError {
    let field = |k: &str| Reflect::get(&e, &JsValue::from_str(k)).ok();
    let code = field("resultCode")
        .and_then(|v| v.as_f64())
        .or_else(|| field("code").and_then(|v| v.as_f64()))
        .map(|c| c as i32);
    let message = field("message")
        .and_then(|m| m.as_string())
        .or_else(|| e.as_string())
        .unwrap_or_else(|| format!("{e:?}"));
    let offset = field("offset")
        .and_then(|v| v.as_f64())
        .filter(|o| *o >= 0.0)
        .map(|o| o as usize);
    HostError {
        code,
        message: strip_oo1_prefix(&message).to_string(),
        offset,
    }
}

/// `oo1` prefixes SQLite's message with the code's name and number
/// ("SQLITE_ERROR: sqlite3 result code 1: near \",\": syntax error"): SQLite's message once.
pub fn strip_oo1_prefix(message: &str) -> &str {
    let Some(rest) = message.strip_prefix("SQLITE_") else {
        return message;
    };
    match rest.split_once(": sqlite3 result code ") {
        Some((name, tail)) if name.bytes().all(|b| b.is_ascii_uppercase() || b == b'_') => {
            tail.split_once(": ").map(|(_, m)| m).unwrap_or(message)
        }
        _ => message,
    }
}

pub(crate) fn value(v: JsValue) -> Value {
    if v.is_null() || v.is_undefined() {
        Value::Null
    } else if let Some(s) = v.as_string() {
        Value::Text(s)
    } else if let Some(f) = v.as_f64() {
        if f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 {
            Value::Integer(f as i64)
        } else {
            Value::Real(f)
        }
    } else if v.is_bigint() {
        let b: js_sys::BigInt = v.unchecked_into();
        Value::Integer(i64::try_from(b).ok().unwrap_or_default())
    } else if let Some(b) = v.as_bool() {
        Value::Integer(b as i64)
    } else if let Some(a) = v.dyn_ref::<Uint8Array>() {
        Value::Blob(a.to_vec())
    } else {
        Value::Null
    }
}

impl Host for JsAdapter {
    fn execute(&self, sql: &str) -> Result<(), HostError> {
        self.js.exec(sql).map_err(host_error)
    }

    fn query(&self, sql: &str) -> Result<Rows, HostError> {
        let rows = self.js.query(sql).map_err(host_error)?;
        let rows: Array = rows.dyn_into().map_err(|_| {
            HostError::new("the host adapter's query() must return an array of rows")
        })?;
        rows.iter()
            .map(|row| {
                let row: Array = row.dyn_into().map_err(|_| {
                    HostError::new(
                        "the host adapter's query() must return each row as an array of values",
                    )
                })?;
                Ok(row.iter().map(value).collect())
            })
            .collect()
    }

    fn scratch(&self) -> Result<Box<dyn Host>, HostError> {
        #[cfg(feature = "bundled")]
        if self.own_scratch {
            let conn = rusqlite::Connection::open_in_memory().map_err(liteshift::host_error)?;
            return Ok(Box::new(conn));
        }
        let js = self.js.scratch().map_err(host_error)?;
        let mut adapter = JsAdapter::new(js).map_err(HostError::new)?;
        adapter.owned = true;
        Ok(Box::new(adapter))
    }

    fn in_transaction(&self) -> Result<bool, HostError> {
        if !self.says_in_transaction {
            return liteshift::in_transaction_by_begin(self);
        }
        Ok(self.js.in_transaction().map_err(host_error)?.is_truthy())
    }

    fn caller_transaction(&self) -> bool {
        self.caller_transaction
    }

    fn describe(&self) -> Option<String> {
        self.describe.clone()
    }

    fn execute_script(&self, sql: &str) -> Result<(), HostError> {
        if !self.has_script {
            return liteshift::execute_statements(self, sql);
        }
        self.js.exec_script(sql).map_err(host_error)
    }

    /// The adapter's `execCountingRows(sql, every, onRows)` (an update hook on the page's
    /// SQLite) calls `on_rows` while the script runs.
    fn execute_counting_rows(
        &self,
        sql: &str,
        every: u64,
        on_rows: &mut dyn FnMut(u64),
    ) -> Result<(), HostError> {
        if !self.counts_rows {
            return self.execute_script(sql);
        }
        // SAFETY: the closure handed to JavaScript borrows `on_rows` only until it is dropped
        // below, before this function returns; a JavaScript call of it after that throws
        // ("closure invoked after being dropped") instead of reaching `on_rows`.
        let on_rows: &'static mut dyn FnMut(u64) = unsafe { std::mem::transmute(on_rows) };
        let callback = Closure::<dyn FnMut(f64)>::new(move |rows: f64| on_rows(rows as u64));
        let result = self
            .js
            .exec_counting_rows(sql, every as f64, callback.as_ref().unchecked_ref())
            .map_err(host_error);
        drop(callback);
        result
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn oo1_messages_say_sqlites_text_once() {
        use super::strip_oo1_prefix as s;
        assert_eq!(
            s("SQLITE_ERROR: sqlite3 result code 1: near \",\": syntax error"),
            "near \",\": syntax error"
        );
        assert_eq!(s("no such table: t"), "no such table: t");
        assert_eq!(s("SQLITE_CONSTRAINT_NOTNULL: sqlite3 result code 1299: NOT NULL constraint failed: t.a"), "NOT NULL constraint failed: t.a");
    }
}
