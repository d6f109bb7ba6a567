//! [`Host`] for `rusqlite::Connection`: the CLI's and Rust apps' host. Converts values and
//! errors, and offers SQLite's backup API; nothing else.

use std::path::Path;

use rusqlite::types::ValueRef;
use rusqlite::Connection;

use super::{Host, HostError, Rows, Value};

/// A rusqlite value as the core's borrowed value (the same bytes).
fn value_ref(v: ValueRef<'_>) -> super::ValueRef<'_> {
    match v {
        ValueRef::Null => super::ValueRef::Null,
        ValueRef::Integer(i) => super::ValueRef::Integer(i),
        ValueRef::Real(f) => super::ValueRef::Real(f),
        ValueRef::Text(t) => super::ValueRef::Text(t),
        ValueRef::Blob(b) => super::ValueRef::Blob(b),
    }
}

fn query_each(
    conn: &Connection,
    sql: &str,
    on_row: &mut dyn FnMut(&[super::ValueRef<'_>]),
) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare(sql)?;
    let n = stmt.column_count();
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        // On the stack for the narrow queries this is for.
        let mut few = [super::ValueRef::Null; 4];
        let mut many = Vec::new();
        let row = if n <= few.len() {
            &mut few[..n]
        } else {
            many.resize(n, super::ValueRef::Null);
            &mut many[..]
        };
        for (i, v) in row.iter_mut().enumerate() {
            *v = value_ref(r.get_ref(i)?);
        }
        on_row(row);
    }
    Ok(())
}

/// A rusqlite error as a host error: SQLite's result code, its message once, and the offset
/// of a syntax error.
pub fn host_error(e: rusqlite::Error) -> HostError {
    let (code, offset) = match &e {
        rusqlite::Error::SqliteFailure(f, _) => (Some(f.extended_code), None),
        rusqlite::Error::SqlInputError { error, offset, .. } => {
            (Some(error.extended_code), usize::try_from(*offset).ok())
        }
        _ => (None, None),
    };
    HostError {
        code,
        message: sqlite_message(&e),
        offset,
    }
}

/// A rusqlite error of `conn`, as [`host_error`] — except SQLITE_CORRUPT where the operating
/// system failed a read with EIO or ENXIO: SQLite's unix VFS reports those as
/// SQLITE_IOERR_CORRUPTFS, which reaches the caller as SQLITE_CORRUPT ("database disk image
/// is malformed") although the file may be intact and the next read succeed. That is an I/O
/// error (SQLITE_IOERR_CORRUPTFS), and says so. The errno is the thread's, cleared before each
/// statement (`clear_errno`; where it cannot be cleared, SQLite's word stands).
pub fn host_error_on(conn: &Connection, e: rusqlite::Error) -> HostError {
    let error = host_error(e);
    if error.code.map(|c| c & 0xff) != Some(rusqlite::ffi::SQLITE_CORRUPT) {
        return error;
    }
    // SAFETY: a valid handle, owned by `conn`.
    let recorded = unsafe { rusqlite::ffi::sqlite3_system_errno(conn.handle()) };
    let thread = if CAN_CLEAR_ERRNO {
        std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
    } else {
        0
    };
    let Some(errno) = [recorded, thread].into_iter().find(|e| is_read_failure(*e)) else {
        return error;
    };
    HostError {
        code: Some(rusqlite::ffi::SQLITE_IOERR | (33 << 8)),
        message: format!(
            "disk I/O error: a read of the file failed ({}), which SQLite reports as \"{}\"",
            std::io::Error::from_raw_os_error(errno),
            error.message
        ),
        offset: error.offset,
    }
}

/// EIO or ENXIO: the errnos SQLite's unix VFS turns into SQLITE_IOERR_CORRUPTFS (also the
/// `ERANGE` it lists, left out here: too common an errno to be sure of).
#[cfg(unix)]
fn is_read_failure(errno: i32) -> bool {
    matches!(errno, libc::EIO | libc::ENXIO)
}
#[cfg(not(unix))]
fn is_read_failure(_errno: i32) -> bool {
    false
}

#[cfg(any(target_os = "linux", target_os = "android"))]
const CAN_CLEAR_ERRNO: bool = true;
#[cfg(any(target_os = "linux", target_os = "android"))]
fn errno_location() -> *mut std::os::raw::c_int {
    // SAFETY: returns this thread's errno.
    unsafe { libc::__errno_location() }
}
#[cfg(any(target_os = "macos", target_os = "ios"))]
const CAN_CLEAR_ERRNO: bool = true;
#[cfg(any(target_os = "macos", target_os = "ios"))]
fn errno_location() -> *mut std::os::raw::c_int {
    // SAFETY: returns this thread's errno.
    unsafe { libc::__error() }
}
#[cfg(not(any(
    target_os = "linux",
    target_os = "android",
    target_os = "macos",
    target_os = "ios"
)))]
const CAN_CLEAR_ERRNO: bool = false;

/// Set this thread's errno to 0 before a statement, so that an EIO after it is the
/// statement's (see [`host_error_on`]).
pub(crate) fn clear_errno() {
    #[cfg(any(
        target_os = "linux",
        target_os = "android",
        target_os = "macos",
        target_os = "ios"
    ))]
    // SAFETY: this thread's errno, a plain int.
    unsafe {
        *errno_location() = 0;
    }
}

fn value(v: ValueRef<'_>) -> Value {
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Integer(i),
        ValueRef::Real(f) => Value::Real(f),
        ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
    }
}

fn query(conn: &Connection, sql: &str) -> rusqlite::Result<Rows> {
    let mut stmt = conn.prepare(sql)?;
    let n = stmt.column_count();
    let mut rows = stmt.query([])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let mut row = Vec::with_capacity(n);
        for i in 0..n {
            row.push(value(r.get_ref(i)?));
        }
        out.push(row);
    }
    Ok(out)
}

impl Host for Connection {
    fn execute(&self, sql: &str) -> Result<(), HostError> {
        clear_errno();
        self.execute_batch(sql).map_err(|e| host_error_on(self, e))
    }

    fn query(&self, sql: &str) -> Result<Rows, HostError> {
        clear_errno();
        query(self, sql).map_err(|e| host_error_on(self, e))
    }

    fn query_each(
        &self,
        sql: &str,
        on_row: &mut dyn FnMut(&[super::ValueRef<'_>]),
    ) -> Result<(), HostError> {
        clear_errno();
        query_each(self, sql, on_row).map_err(|e| host_error_on(self, e))
    }

    fn scratch(&self) -> Result<Box<dyn Host>, HostError> {
        Ok(Box::new(Connection::open_in_memory().map_err(host_error)?))
    }

    fn execute_script(&self, sql: &str) -> Result<(), HostError> {
        clear_errno();
        self.execute_batch(sql).map_err(|e| host_error_on(self, e))
    }

    fn in_transaction(&self) -> Result<bool, HostError> {
        Ok(!self.is_autocommit())
    }

    fn execute_counting_rows(
        &self,
        sql: &str,
        every: u64,
        on_rows: &mut dyn FnMut(u64),
    ) -> Result<(), HostError> {
        let every = every.max(1);
        let mut counter = RowCounter {
            rows: 0,
            next: every,
            every,
            on_rows,
        };
        // SAFETY: the hook's argument points at `counter`, which outlives the script: the hook
        // is removed before this function returns, on every path. The connection is used by
        // this thread only while the script runs (`Connection` is not `Sync`).
        unsafe {
            rusqlite::ffi::sqlite3_update_hook(
                self.handle(),
                Some(count_row),
                (&mut counter as *mut RowCounter<'_>).cast(),
            );
        }
        clear_errno();
        let result = self.execute_batch(sql).map_err(|e| host_error_on(self, e));
        // SAFETY: as above; a null callback removes the hook.
        unsafe {
            rusqlite::ffi::sqlite3_update_hook(self.handle(), None, std::ptr::null_mut());
        }
        result
    }

    /// A second, read-only connection on the same file copies it: under the migration's
    /// write lock it sees exactly the committed state (WAL content included), and no other
    /// writer can change it meanwhile. (The backup API refuses a source connection that holds
    /// a write transaction, so the copy cannot come from `self`.)
    fn backup(&self, dest: &Path) -> Result<(), String> {
        let src_path = match self.path() {
            Some(p) if !p.is_empty() => p.to_string(),
            _ => return Err("an in-memory database has no file to back up".into()),
        };
        let src = Connection::open_with_flags(
            &src_path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| sqlite_message(&e))?;
        src.backup(
            rusqlite::MAIN_DB,
            dest,
            None::<fn(rusqlite::backup::Progress)>,
        )
        .map_err(|e| {
            // A copy that stopped part way is no backup: nothing is left that could pass for
            // one (apply made sure `dest` did not exist).
            for suffix in ["", "-journal", "-wal", "-shm"] {
                let mut p = dest.as_os_str().to_owned();
                p.push(suffix);
                let _ = std::fs::remove_file(p);
            }
            sqlite_message(&e)
        })
    }
}

/// The state of [`Host::execute_counting_rows`]'s update hook.
struct RowCounter<'a> {
    rows: u64,
    /// The count at which `on_rows` is next called (a comparison per row, not a division).
    next: u64,
    every: u64,
    on_rows: &'a mut dyn FnMut(u64),
}

/// SQLite's update hook: one call per row inserted, updated or deleted in a rowid table.
unsafe extern "C" fn count_row(
    arg: *mut std::os::raw::c_void,
    _op: std::os::raw::c_int,
    _db: *const std::os::raw::c_char,
    _table: *const std::os::raw::c_char,
    _rowid: i64,
) {
    // SAFETY: `arg` is the `RowCounter` registered by `execute_counting_rows`, alive while
    // the hook is set.
    let counter = unsafe { &mut *arg.cast::<RowCounter<'_>>() };
    counter.rows += 1;
    if counter.rows == counter.next {
        counter.next += counter.every;
        let rows = counter.rows;
        // A panic must not unwind into SQLite: a failing observer only loses its report.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (counter.on_rows)(rows)));
    }
}

/// A scratch database on which a virtual-table module this SQLite lacks is registered as a
/// stand-in when a statement needs it (see `hostmod`): for declared schemas and catalog rows
/// that will run on another host, which has the module.
pub(crate) struct StandIns(pub Connection);

impl StandIns {
    pub(crate) fn open() -> Result<StandIns, HostError> {
        Ok(StandIns(Connection::open_in_memory().map_err(host_error)?))
    }
}

impl Host for StandIns {
    fn execute(&self, sql: &str) -> Result<(), HostError> {
        crate::hostmod::execute_with_stand_ins(&self.0, sql).map_err(host_error)
    }

    fn query(&self, sql: &str) -> Result<Rows, HostError> {
        query(&self.0, sql).map_err(host_error)
    }

    fn scratch(&self) -> Result<Box<dyn Host>, HostError> {
        Ok(Box::new(StandIns::open()?))
    }
}

// What the rest of the core needs of liteshift's own SQLite (the `rusqlite` feature), kept here
// so that no other module names the library.

impl From<rusqlite::Error> for crate::Error {
    fn from(e: rusqlite::Error) -> Self {
        crate::Error::Sqlite(host_error(e))
    }
}

/// SQLite's message for an error, once: the message SQLite gave, or the description of its
/// result code ("database disk image is malformed"), never both nor the numeric code.
pub fn sqlite_message(e: &rusqlite::Error) -> String {
    match e {
        rusqlite::Error::SqliteFailure(_, Some(m)) => m.clone(),
        rusqlite::Error::SqliteFailure(f, None) => {
            let text = f.to_string();
            // "Error code 11: database disk image is malformed" -> the description.
            match text.split_once(": ") {
                Some((_, description)) => description.to_string(),
                None => text,
            }
        }
        rusqlite::Error::SqlInputError { msg, .. } => msg.clone(),
        other => other.to_string(),
    }
}

/// A scratch database of liteshift's own SQLite (with stand-in modules when asked).
pub(crate) fn own_scratch(stand_ins: bool) -> crate::Result<Box<dyn Host>> {
    let conn = rusqlite::Connection::open_in_memory()?;
    Ok(if stand_ins {
        Box::new(super::StandIns(conn))
    } else {
        Box::new(conn)
    })
}

impl crate::SqliteVersion {
    /// The SQLite linked into this build.
    pub fn bundled() -> Self {
        Self::parse(rusqlite::version()).unwrap_or(crate::SqliteVersion(3, 0, 0))
    }
}
