//! Python bindings of liteshift: the native module `liteshift._native`, wrapped by the pure
//! Python package `liteshift` (its dataclasses, exceptions and docstrings).
//!
//! This crate owns two things: [`PyHost`], which drives the app's own `sqlite3.Connection`
//! (or any DB-API connection of a module with `connect`, like `pysqlite3`) as a liteshift
//! [`Host`], and the conversion of the front-end contract's values (`liteshift-contract`:
//! options, plans, reports, errors, progress) to and from Python's. It must never run SQLite itself (there is no SQLite in this module: a second SQLite
//! on the app's file is unsafe in one process and would plan for the wrong version), and never
//! decide anything about a migration: the core's one sequence does.

use std::sync::Arc;

use liteshift::{Host, HostError, Rows, Value};
use liteshift_contract::{self as contract, Caller, Category, FrontEnd};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyFloat, PyInt, PyList, PyString};

// ---------------------------------------------------------------------------------------------
// The host

/// A Python DB-API connection to SQLite as a liteshift host. Every call takes the GIL (the
/// caller holds it already; taking it again is free).
struct PyHost {
    conn: Py<PyAny>,
    /// The connection's module (`sqlite3`): its `connect` opens scratch databases on the same
    /// SQLite, its `Error` tells SQLite's errors from others.
    module: Py<PyAny>,
    /// A scratch database liteshift opened: it may run scripts with `executescript`, which
    /// commits first and so is never used on the app's connection.
    scratch: bool,
}

impl PyHost {
    fn new(conn: &Bound<'_, PyAny>) -> PyResult<PyHost> {
        let py = conn.py();
        let module_name: String = conn.get_type().getattr("__module__")?.extract()?;
        let module = match py.import(module_name.as_str()) {
            Ok(m) if m.hasattr("connect")? => m.into_any(),
            _ => py.import("sqlite3")?.into_any(),
        };
        for attr in ["execute", "cursor", "in_transaction"] {
            if !conn.get_type().hasattr(attr)? {
                return Err(PyTypeError::new_err(format!(
                    "liteshift needs a sqlite3.Connection (or a DB-API connection to SQLite), got {}",
                    conn.get_type().name()?
                )));
            }
        }
        Ok(PyHost {
            conn: conn.clone().unbind(),
            module: module.unbind(),
            scratch: false,
        })
    }

    /// A Python exception as the core sees it: SQLite's message and code for the module's
    /// `Error`s (`sqlite_errorcode` is there from Python 3.11), the type and message for any
    /// other exception.
    fn error(&self, py: Python<'_>, e: PyErr) -> HostError {
        let value = e.value(py);
        let code = value
            .getattr("sqlite_errorcode")
            .ok()
            .and_then(|c| c.extract::<i32>().ok());
        let message = value.str().map(|s| s.to_string()).unwrap_or_default();
        let sqlite_error = self
            .module
            .bind(py)
            .getattr("Error")
            .map(|cls| value.is_instance(&cls).unwrap_or(false))
            .unwrap_or(false);
        let message = if sqlite_error {
            message
        } else {
            format!(
                "{}: {message}",
                e.get_type(py)
                    .name()
                    .map(|n| n.to_string())
                    .unwrap_or_default()
            )
        };
        HostError {
            code,
            message,
            offset: None,
        }
    }

    /// Run `sql` on a cursor with no row factory, returning the cursor's rows.
    fn run<'py>(&self, py: Python<'py>, sql: &str) -> PyResult<Bound<'py, PyAny>> {
        let cursor = self.conn.bind(py).call_method0("cursor")?;
        cursor.setattr("row_factory", py.None())?;
        let result = cursor
            .call_method1("execute", (sql,))
            .and_then(|c| c.call_method0("fetchall"));
        cursor.call_method0("close")?;
        result
    }
}

impl Host for PyHost {
    fn execute(&self, sql: &str) -> Result<(), HostError> {
        Python::attach(|py| self.run(py, sql).map(drop).map_err(|e| self.error(py, e)))
    }

    fn query(&self, sql: &str) -> Result<Rows, HostError> {
        Python::attach(|py| {
            let rows = self.run(py, sql).map_err(|e| self.error(py, e))?;
            rows_of(&rows).map_err(|e| self.error(py, e))
        })
    }

    fn scratch(&self) -> Result<Box<dyn Host>, HostError> {
        Python::attach(|py| {
            let kwargs = PyDict::new(py);
            kwargs
                .set_item("isolation_level", py.None())
                .map_err(|e| self.error(py, e))?;
            let conn = self
                .module
                .bind(py)
                .call_method("connect", (":memory:",), Some(&kwargs))
                .map_err(|e| self.error(py, e))?;
            Ok(Box::new(PyHost {
                conn: conn.unbind(),
                module: self.module.clone_ref(py),
                scratch: true,
            }) as Box<dyn Host>)
        })
    }

    fn execute_script(&self, sql: &str) -> Result<(), HostError> {
        if !self.scratch {
            return liteshift::execute_statements(self, sql);
        }
        Python::attach(|py| {
            self.conn
                .bind(py)
                .call_method1("executescript", (sql,))
                .map(drop)
                .map_err(|e| self.error(py, e))
        })
    }

    fn in_transaction(&self) -> Result<bool, HostError> {
        Python::attach(|py| {
            self.conn
                .bind(py)
                .getattr("in_transaction")
                .and_then(|v| v.extract::<bool>())
                .map_err(|e| self.error(py, e))
        })
    }

    fn backup(&self, dest: &std::path::Path) -> Result<(), String> {
        Python::attach(|py| {
            let copy = || -> PyResult<()> {
                let target = self
                    .module
                    .bind(py)
                    .call_method1("connect", (dest.to_string_lossy().as_ref(),))?;
                let done = self.conn.bind(py).call_method1("backup", (&target,));
                target.call_method0("close")?;
                done.map(drop)
            };
            copy().map_err(|e| self.error(py, e).message)
        })
    }
}

impl Drop for PyHost {
    fn drop(&mut self) {
        if self.scratch {
            Python::attach(|py| {
                let _ = self.conn.bind(py).call_method0("close");
            });
        }
    }
}

fn rows_of(rows: &Bound<'_, PyAny>) -> PyResult<Rows> {
    let mut out = Vec::new();
    for row in rows.try_iter()? {
        let mut values = Vec::new();
        for v in row?.try_iter()? {
            values.push(value_of(&v?)?);
        }
        out.push(values);
    }
    Ok(out)
}

fn value_of(v: &Bound<'_, PyAny>) -> PyResult<Value> {
    Ok(if v.is_none() {
        Value::Null
    } else if v.is_instance_of::<PyInt>() {
        Value::Integer(v.extract()?)
    } else if v.is_instance_of::<PyFloat>() {
        Value::Real(v.extract()?)
    } else if v.is_instance_of::<PyString>() {
        Value::Text(v.extract()?)
    } else if let Ok(b) = v.cast::<PyBytes>() {
        Value::Blob(b.as_bytes().to_vec())
    } else {
        // A converter registered on the connection (detect_types): its text is what SQLite holds.
        Value::Text(v.str()?.to_string())
    })
}

/// The connection set up for liteshift for one call, and put back as it was afterwards: no
/// implicit `BEGIN` from Python's legacy transaction control (liteshift runs its own
/// transaction, or a savepoint inside the caller's), and TEXT read as `str`.
struct Session<'py> {
    conn: Bound<'py, PyAny>,
    restore: Vec<(&'static str, Bound<'py, PyAny>)>,
}

impl<'py> Session<'py> {
    fn enter(conn: &Bound<'py, PyAny>) -> PyResult<Session<'py>> {
        let py = conn.py();
        let mut restore = Vec::new();
        let in_transaction: bool = conn.getattr("in_transaction")?.extract()?;
        // Setting `isolation_level = None` commits an open transaction: only outside one.
        if !in_transaction && conn.hasattr("isolation_level")? {
            let level = conn.getattr("isolation_level")?;
            if !level.is_none() {
                conn.setattr("isolation_level", py.None())?;
                restore.push(("isolation_level", level));
            }
        }
        if conn.hasattr("text_factory")? {
            let factory = conn.getattr("text_factory")?;
            let str_type = py.get_type::<PyString>();
            if !factory.is(&str_type) {
                conn.setattr("text_factory", str_type)?;
                restore.push(("text_factory", factory));
            }
        }
        Ok(Session {
            conn: conn.clone(),
            restore,
        })
    }
}

impl Drop for Session<'_> {
    fn drop(&mut self) {
        for (attr, value) in self.restore.drain(..).rev() {
            let _ = self.conn.setattr(attr, value);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Values in

/// The keyword options of the Python API (validated and normalised by `liteshift/__init__.py`:
/// renames and values arrive as lists of pairs, `ignore` as a list of strings), as the
/// contract's options.
fn options(o: &Bound<'_, PyDict>) -> PyResult<contract::Options> {
    let flag = |k: &str| -> PyResult<bool> {
        Ok(match o.get_item(k)? {
            Some(v) => v.is_truthy()?,
            None => false,
        })
    };
    let some = |k: &str| -> PyResult<Option<Bound<'_, PyAny>>> {
        Ok(o.get_item(k)?.filter(|v| !v.is_none()))
    };
    let pairs = |k: &str| -> PyResult<Vec<(String, String)>> {
        some(k)?.map_or(Ok(Vec::new()), |v| v.extract())
    };
    let text = |k: &str| -> PyResult<Option<String>> { some(k)?.map(|v| v.extract()).transpose() };
    let ms = |k: &str| -> PyResult<Option<u64>> { some(k)?.map(|v| v.extract()).transpose() };
    Ok(contract::Options {
        allow_data_loss: flag("allow_data_loss")?,
        exact_column_order: flag("exact_column_order")?,
        dry_run: flag("dry_run")?,
        deny_dangling_foreign_keys: flag("deny_dangling_foreign_keys")?,
        keep_undeclared: flag("keep_undeclared")?,
        rename_tables: pairs("rename_tables")?,
        rename_columns: pairs("rename_columns")?,
        values: pairs("values")?,
        ignore: some("ignore")?.map_or(Ok(Vec::new()), |v| v.extract())?,
        sqlite_version: text("sqlite_version")?,
        source_name: text("source_name")?,
        busy_timeout_ms: ms("busy_timeout_ms")?,
        online: flag("online")?,
        online_chunk_ms: ms("online_chunk_ms")?,
        online_pause_ms: ms("online_pause_ms")?,
    })
}

/// The call's front end (Python's option names in messages), and its progress listener: a
/// Python callable, called with one dict per event. An exception it raises is reported as
/// unraisable (`sys.unraisablehook`), and the migration goes on: a progress display must not
/// decide its outcome.
fn caller(o: &Bound<'_, PyDict>) -> PyResult<Caller> {
    let mut caller = Caller::new(FrontEnd::Python);
    if let Some(f) = o.get_item("on_progress")?.filter(|f| !f.is_none()) {
        let f = f.unbind();
        caller.on_progress = Some(Arc::new(move |event| {
            Python::attach(|py| {
                let called = to_py(py, &event).and_then(|d| f.call1(py, (d,)));
                if let Err(e) = called {
                    e.write_unraisable(py, Some(f.bind(py)));
                }
            })
        }));
    }
    Ok(caller)
}

// ---------------------------------------------------------------------------------------------
// Values out

/// A contract value as Python sees it: dicts with the contract's names snake_cased (a
/// progress event's name too), lists, and scalars.
fn to_py<'py, T: serde::Serialize>(py: Python<'py>, v: &T) -> PyResult<Bound<'py, PyAny>> {
    let json =
        serde_json::to_value(v).map_err(|e| PyTypeError::new_err(format!("liteshift: {e}")))?;
    json_to_py(py, &json)
}

fn json_to_py<'py>(py: Python<'py>, v: &serde_json::Value) -> PyResult<Bound<'py, PyAny>> {
    use serde_json::Value as J;
    Ok(match v {
        J::Null => py.None().into_bound(py),
        J::Bool(b) => b.into_pyobject(py)?.to_owned().into_any(),
        J::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => u.into_pyobject(py)?.into_any(),
            (None, Some(i)) => i.into_pyobject(py)?.into_any(),
            _ => n.as_f64().unwrap_or_default().into_pyobject(py)?.into_any(),
        },
        J::String(s) => s.into_pyobject(py)?.into_any(),
        J::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(json_to_py(py, item)?)?;
            }
            list.into_any()
        }
        J::Object(fields) => {
            let d = PyDict::new(py);
            for (k, item) in fields {
                let item = match (k.as_str(), item) {
                    ("event", J::String(name)) => {
                        contract::snake_case(name).into_pyobject(py)?.into_any()
                    }
                    _ => json_to_py(py, item)?,
                };
                d.set_item(contract::snake_case(k), item)?;
            }
            d.into_any()
        }
    })
}

/// A contract error as the exception of `liteshift.errors` for its category, with its fields
/// (snake_cased) as the details.
fn raise(py: Python<'_>, e: &contract::Error) -> PyErr {
    match exception(py, e) {
        Ok(err) => err,
        Err(failed) => failed,
    }
}

fn exception(py: Python<'_>, e: &contract::Error) -> PyResult<PyErr> {
    let class = match e.code.category() {
        Category::Schema => "SchemaError",
        Category::DataLossRefused => "DataLossRefused",
        Category::DataViolatesSchema => "DataViolatesSchema",
        Category::InTransaction => "InTransaction",
        Category::InvalidOption => "InvalidOption",
        Category::Database => "DatabaseError",
        Category::Failed => "LiteshiftError",
    };
    let class = py.import("liteshift.errors")?.getattr(class)?;
    Ok(PyErr::from_value(
        class.call1((e.message.as_str(), to_py(py, e)?))?,
    ))
}

// ---------------------------------------------------------------------------------------------
// The functions

/// The connection failed before liteshift ran anything (it is closed, or not SQLite's).
fn unusable(py: Python<'_>, e: PyErr) -> PyErr {
    let e = liteshift::Error::Database {
        path: "<connection>".into(),
        message: format!(
            "the connection cannot be used ({}); pass an open sqlite3.Connection",
            e.value(py)
        ),
    };
    raise(py, &contract::Error::from_core(e, FrontEnd::Python))
}

#[pyfunction]
fn migrate<'py>(
    py: Python<'py>,
    conn: &Bound<'py, PyAny>,
    schema_sql: &str,
    options: &Bound<'py, PyDict>,
) -> PyResult<Bound<'py, PyAny>> {
    let (opts, caller) = (self::options(options)?, self::caller(options)?);
    let mut host = PyHost::new(conn)?;
    let session = Session::enter(conn).map_err(|e| unusable(py, e))?;
    let report = contract::migrate(&mut host, schema_sql, &opts, &caller);
    drop(session);
    to_py(py, &report.map_err(|e| raise(py, &e))?)
}

#[pyfunction]
fn plan<'py>(
    py: Python<'py>,
    conn: &Bound<'py, PyAny>,
    schema_sql: &str,
    options: &Bound<'py, PyDict>,
) -> PyResult<Bound<'py, PyAny>> {
    let (opts, caller) = (self::options(options)?, self::caller(options)?);
    let host = PyHost::new(conn)?;
    let session = Session::enter(conn).map_err(|e| unusable(py, e))?;
    let planned = contract::plan(&host, schema_sql, &opts, &caller);
    drop(session);
    to_py(py, &planned.map_err(|e| raise(py, &e))?)
}

/// Host-less: both schemas are loaded into in-memory databases of Python's `sqlite3`.
#[pyfunction]
fn diff<'py>(
    py: Python<'py>,
    from_sql: &str,
    to_sql: &str,
    options: &Bound<'py, PyDict>,
) -> PyResult<Bound<'py, PyAny>> {
    let (opts, caller) = (self::options(options)?, self::caller(options)?);
    let kwargs = PyDict::new(py);
    kwargs.set_item("isolation_level", py.None())?;
    let conn = py
        .import("sqlite3")?
        .call_method("connect", (":memory:",), Some(&kwargs))?;
    let mut host = PyHost::new(&conn)?;
    host.scratch = true;
    let planned = contract::diff(&host, from_sql, to_sql, &opts, &caller);
    to_py(py, &planned.map_err(|e| raise(py, &e))?)
}

/// The SQLite version `name` stands for (`3.40.1`, `android-26`, `ios-15`).
#[pyfunction]
fn sqlite_version_of(py: Python<'_>, name: &str) -> PyResult<String> {
    contract::sqlite_version_of(name).map_err(|e| raise(py, &e))
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(migrate, m)?)?;
    m.add_function(wrap_pyfunction!(plan, m)?)?;
    m.add_function(wrap_pyfunction!(diff, m)?)?;
    m.add_function(wrap_pyfunction!(sqlite_version_of, m)?)?;
    Ok(())
}
