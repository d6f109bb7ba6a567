//! Python bindings of liteshift: the native module `liteshift._native`, wrapped by the pure
//! Python package `liteshift` (its dataclasses, exceptions and docstrings).
//!
//! This crate owns two things: [`PyHost`], which drives the app's own `sqlite3.Connection`
//! (or any DB-API connection of a module with `connect`, like `pysqlite3`) as a liteshift
//! [`Host`], and the conversion of options, plans, reports and errors between Python and the
//! core. It must never run SQLite itself (there is no SQLite in this module: a second SQLite
//! on the app's file is unsafe in one process and would plan for the wrong version), and never
//! decide anything about a migration: the core's one sequence does.

use liteshift::{
    Error, Host, HostError, Options, Plan, Refusal, Report, Rows, SqliteVersion, Value,
};
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
/// renames and values arrive as lists of pairs, `ignore` as a list of strings).
fn options(py: Python<'_>, o: &Bound<'_, PyDict>) -> PyResult<Options> {
    let flag = |k: &str| -> PyResult<bool> {
        Ok(match o.get_item(k)? {
            Some(v) => v.is_truthy()?,
            None => false,
        })
    };
    let pairs = |k: &str| -> PyResult<Vec<(String, String)>> {
        match o.get_item(k)? {
            Some(v) if !v.is_none() => v.extract(),
            _ => Ok(Vec::new()),
        }
    };
    let text = |k: &str| -> PyResult<Option<String>> {
        match o.get_item(k)? {
            Some(v) if !v.is_none() => v.extract().map(Some),
            _ => Ok(None),
        }
    };
    let mut opts = Options {
        allow_data_loss: flag("allow_data_loss")?,
        exact_column_order: flag("exact_column_order")?,
        dry_run: flag("dry_run")?,
        deny_dangling_foreign_keys: flag("deny_dangling_foreign_keys")?,
        keep_undeclared: flag("keep_undeclared")?,
        source_name: text("source_name")?.unwrap_or_else(|| "<schema>".into()),
        ..Options::default()
    };
    let invalid = |m: String| raise(py, &Error::InvalidOption(m));
    if let Some(v) = o.get_item("ignore")?.filter(|v| !v.is_none()) {
        opts.ignore = v.extract()?;
    }
    for (old, new) in pairs("rename_tables")? {
        opts.hints
            .add_table_rename(&format!("{old}={new}"))
            .map_err(|m| invalid(format!("rename_tables: {m}")))?;
    }
    for (old, new) in pairs("rename_columns")? {
        opts.hints
            .add_column_rename(&format!("{old}={new}"))
            .map_err(|m| invalid(format!("rename_columns: {m}")))?;
    }
    for (column, expr) in pairs("values")? {
        opts.hints
            .add_value(&format!("{column}={expr}"))
            .map_err(|m| invalid(format!("values: {m}")))?;
    }
    if let Some(v) = text("sqlite_version")? {
        opts.sqlite_version = Some(
            SqliteVersion::from_option(&v).map_err(|m| invalid(format!("sqlite_version {m}")))?,
        );
    }
    if let Some(ms) = o.get_item("busy_timeout_ms")? {
        opts.busy_timeout = std::time::Duration::from_millis(ms.extract()?);
    }
    if let Some(f) = o.get_item("on_progress")?.filter(|f| !f.is_none()) {
        opts.on_progress = Some(progress_observer(f.unbind()));
    }
    Ok(opts)
}

/// The core's observer for a Python callable, called with one dict per event. An exception
/// it raises is reported as unraisable (`sys.unraisablehook`), and the migration goes on: a
/// progress display must not decide its outcome.
fn progress_observer(f: Py<PyAny>) -> liteshift::ProgressObserver {
    liteshift::ProgressObserver::new(move |p| {
        Python::attach(|py| {
            let called = progress_dict(py, p).and_then(|d| f.call1(py, (d,)));
            if let Err(e) = called {
                e.write_unraisable(py, Some(f.bind(py)));
            }
        })
    })
}

fn progress_dict<'py>(
    py: Python<'py>,
    p: &liteshift::Progress<'_>,
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    match p {
        liteshift::Progress::Started {
            number,
            total,
            step,
        } => {
            d.set_item("event", "step_started")?;
            d.set_item("step", number)?;
            d.set_item("total", total)?;
            d.set_item("reason", &step.reason)?;
            d.set_item("cost", cost_dict(py, &step.cost)?)?;
        }
        liteshift::Progress::Rows {
            number,
            total,
            rows,
        } => {
            d.set_item("event", "rows")?;
            d.set_item("step", number)?;
            d.set_item("total", total)?;
            d.set_item("rows", rows)?;
        }
        liteshift::Progress::Finished { total, done } => {
            d.set_item("event", "step_finished")?;
            d.set_item("step", done.number)?;
            d.set_item("total", total)?;
            d.set_item("reason", &done.step.reason)?;
            d.set_item("seconds", done.elapsed.as_secs_f64())?;
            d.set_item("rows_changed", done.rows_changed)?;
        }
    }
    Ok(d)
}

fn cost_dict<'py>(py: Python<'py>, c: &liteshift::Cost) -> PyResult<Bound<'py, PyDict>> {
    use liteshift::Cost;
    let d = PyDict::new(py);
    let (kind, size) = match c {
        Cost::Constant => ("constant", None),
        Cost::Rewrite(s) => ("rewrite", Some(s)),
        Cost::Scan(s) => ("scan", Some(s)),
        Cost::Free(s) => ("free", Some(s)),
    };
    d.set_item("kind", kind)?;
    d.set_item("table", size.map(|s| &s.table))?;
    d.set_item("rows", size.and_then(|s| s.rows))?;
    d.set_item("bytes", size.and_then(|s| s.bytes))?;
    Ok(d)
}

// ---------------------------------------------------------------------------------------------
// Values out

fn plan_dict<'py>(py: Python<'py>, p: &Plan) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    let steps = PyList::empty(py);
    for s in &p.steps {
        let step = PyDict::new(py);
        step.set_item("sql", &s.sql)?;
        step.set_item("reason", &s.reason)?;
        step.set_item("destructive", s.destructive)?;
        step.set_item("rewrites_rows", s.rewrites_rows)?;
        step.set_item("cost", cost_dict(py, &s.cost)?)?;
        steps.append(step)?;
    }
    d.set_item("in_sync", p.steps.is_empty())?;
    d.set_item("steps", steps)?;
    d.set_item("sql", liteshift::render_sql(p))?;
    d.set_item("sqlite_version", &p.sqlite_version)?;
    d.set_item("fingerprint", &p.fingerprint)?;
    d.set_item("foreign_keys_off", p.foreign_keys_off)?;
    d.set_item("changes", &p.changes)?;
    d.set_item("warnings", &p.warnings)?;
    d.set_item("suggestions", &p.suggestions)?;
    d.set_item("kept", &p.kept)?;
    d.set_item("destructive_steps", p.destructive_steps())?;
    Ok(d)
}

fn report_dict<'py>(py: Python<'py>, r: &Report) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("steps_applied", r.steps_applied)?;
    d.set_item("foreign_keys_toggled", r.foreign_keys_toggled)?;
    d.set_item("plan", plan_dict(py, &r.plan)?)?;
    Ok(d)
}

/// A core error as the exception of `liteshift.errors` that names it, with its fields.
fn raise(py: Python<'_>, e: &Error) -> PyErr {
    match exception(py, e) {
        Ok(err) => err,
        Err(failed) => failed,
    }
}

fn exception(py: Python<'_>, e: &Error) -> PyResult<PyErr> {
    let details = PyDict::new(py);
    details.set_item("code", e.code())?;
    let class = match e {
        Error::Schema {
            source_name,
            line,
            column,
            ..
        } => {
            details.set_item("source_name", source_name)?;
            details.set_item("line", line)?;
            details.set_item("column", column)?;
            "SchemaError"
        }
        Error::Database { path, .. } => {
            details.set_item("path", path)?;
            "DatabaseError"
        }
        Error::Sqlite(_) => "DatabaseError",
        Error::Refused(Refusal::DataLoss { steps }) => {
            details.set_item("steps", steps)?;
            "DataLossRefused"
        }
        Error::Refused(Refusal::Violations { violations }) => {
            let list = PyList::empty(py);
            for v in violations {
                let item = PyDict::new(py);
                item.set_item("constraint", &v.constraint)?;
                item.set_item("table", &v.table)?;
                item.set_item("column", &v.column)?;
                item.set_item("count", v.count)?;
                item.set_item("examples", &v.examples)?;
                list.append(item)?;
            }
            details.set_item("violations", list)?;
            "DataViolatesSchema"
        }
        Error::InTransaction => "InTransaction",
        Error::InvalidOption(_) => "InvalidOption",
        Error::StalePlan { .. }
        | Error::Verification(_)
        | Error::StepFailed { .. }
        | Error::NoTransaction => "LiteshiftError",
    };
    let class = py.import("liteshift.errors")?.getattr(class)?;
    Ok(PyErr::from_value(class.call1((
        e.message(liteshift::FrontEnd::Python),
        details,
    ))?))
}

// ---------------------------------------------------------------------------------------------
// The functions

/// The connection failed before liteshift ran anything (it is closed, or not SQLite's).
fn unusable(py: Python<'_>, e: PyErr) -> PyErr {
    raise(
        py,
        &Error::Database {
            path: "<connection>".into(),
            message: format!(
                "the connection cannot be used ({}); pass an open sqlite3.Connection",
                e.value(py)
            ),
        },
    )
}

#[pyfunction]
fn migrate<'py>(
    py: Python<'py>,
    conn: &Bound<'py, PyAny>,
    schema_sql: &str,
    options: &Bound<'py, PyDict>,
) -> PyResult<Bound<'py, PyDict>> {
    let opts = self::options(py, options)?;
    let mut host = PyHost::new(conn)?;
    let session = Session::enter(conn).map_err(|e| unusable(py, e))?;
    let report = liteshift::migrate(&mut host, schema_sql, &opts);
    drop(session);
    report_dict(py, &report.map_err(|e| raise(py, &e))?)
}

#[pyfunction]
fn plan<'py>(
    py: Python<'py>,
    conn: &Bound<'py, PyAny>,
    schema_sql: &str,
    options: &Bound<'py, PyDict>,
) -> PyResult<Bound<'py, PyDict>> {
    let opts = self::options(py, options)?;
    let host = PyHost::new(conn)?;
    let session = Session::enter(conn).map_err(|e| unusable(py, e))?;
    let planned = liteshift::plan_migration(&host, schema_sql, &opts);
    drop(session);
    plan_dict(py, &planned.map_err(|e| raise(py, &e))?.plan)
}

/// Host-less: both schemas are loaded into in-memory databases of Python's `sqlite3`.
#[pyfunction]
fn diff<'py>(
    py: Python<'py>,
    from_sql: &str,
    to_sql: &str,
    options: &Bound<'py, PyDict>,
) -> PyResult<Bound<'py, PyDict>> {
    let opts = self::options(py, options)?;
    let kwargs = PyDict::new(py);
    kwargs.set_item("isolation_level", py.None())?;
    let conn = py
        .import("sqlite3")?
        .call_method("connect", (":memory:",), Some(&kwargs))?;
    let mut host = PyHost::new(&conn)?;
    host.scratch = true;
    let planned = liteshift::plan_diff_on(&host, from_sql, "<from>", to_sql, &opts);
    plan_dict(py, &planned.map_err(|e| raise(py, &e))?.plan)
}

/// The SQLite version `name` stands for (`3.40.1`, `android-26`, `ios-15`).
#[pyfunction]
fn sqlite_version_of(py: Python<'_>, name: &str) -> PyResult<String> {
    SqliteVersion::from_option(name)
        .map(|v| v.to_string())
        .map_err(|m| raise(py, &Error::InvalidOption(m)))
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(migrate, m)?)?;
    m.add_function(wrap_pyfunction!(plan, m)?)?;
    m.add_function(wrap_pyfunction!(diff, m)?)?;
    m.add_function(wrap_pyfunction!(sqlite_version_of, m)?)?;
    Ok(())
}
