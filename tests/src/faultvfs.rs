//! A SQLite VFS that fails the k-th read, write or sync: the deterministic I/O error
//! injection of SQLite's own "I/O error testing", over the platform's default VFS.
//!
//! [`install`] registers it as the process's default VFS, so every connection opened
//! afterwards — liteshift's, a backup's second connection, a fleet's — goes through it. It
//! counts the calls of one [`Kind`] on every file SQLite opens (database, journal, WAL,
//! temporary files) and, once armed with [`arm`], fails the k-th with the code the default
//! VFS returns for a failed system call (`SQLITE_IOERR_READ`, `_WRITE`, `_FSYNC`), having
//! done nothing; `persistent` fails every call from the k-th on (a disk that went away),
//! otherwise only the k-th (a transient error). Disarmed, it only forwards. One process-wide
//! state: a test binary that uses it runs its cases one at a time. With
//! `LITESHIFT_IO_FAULT_TRACE` set, each failed call prints liteshift's frames of its stack.

use std::ffi::{c_char, c_int, c_void};
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicU8, Ordering};
use std::sync::Once;

use rusqlite::ffi;

/// Which calls are counted and failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Write,
    Sync,
    Read,
}

static KIND: AtomicU8 = AtomicU8::new(0);
/// The call to fail (1-based); 0: disarmed.
static TARGET: AtomicU64 = AtomicU64::new(0);
static COUNT: AtomicU64 = AtomicU64::new(0);
static PERSISTENT: AtomicBool = AtomicBool::new(false);
static FAILED: AtomicU64 = AtomicU64::new(0);

/// Start counting calls of `kind` from zero and fail the `k`-th (and, `persistent`, every one
/// after it).
pub fn arm(kind: Kind, k: u64, persistent: bool) {
    KIND.store(kind as u8, Ordering::SeqCst);
    PERSISTENT.store(persistent, Ordering::SeqCst);
    COUNT.store(0, Ordering::SeqCst);
    FAILED.store(0, Ordering::SeqCst);
    TARGET.store(k, Ordering::SeqCst);
}

/// Stop failing; returns how many calls of the armed kind were made, and how many failed.
pub fn disarm() -> (u64, u64) {
    TARGET.store(0, Ordering::SeqCst);
    (COUNT.load(Ordering::SeqCst), FAILED.load(Ordering::SeqCst))
}

/// Whether this call (of `kind`) fails.
fn fails(kind: Kind) -> bool {
    let target = TARGET.load(Ordering::SeqCst);
    if target == 0 || KIND.load(Ordering::SeqCst) != kind as u8 {
        return false;
    }
    let n = COUNT.fetch_add(1, Ordering::SeqCst) + 1;
    let fail = n == target || (n > target && PERSISTENT.load(Ordering::SeqCst));
    if fail {
        if std::env::var("LITESHIFT_IO_FAULT_TRACE").is_ok() {
            let bt = std::backtrace::Backtrace::force_capture().to_string();
            let lines: Vec<&str> = bt
                .lines()
                .filter(|l| l.contains("liteshift::"))
                .take(12)
                .collect();
            eprintln!("FAULT {kind:?} #{n}:\n{}", lines.join("\n"));
        }
        FAILED.fetch_add(1, Ordering::SeqCst);
    }
    fail
}

#[repr(C)]
struct File {
    base: ffi::sqlite3_file,
    inner: *mut ffi::sqlite3_file,
}

/// The default VFS this one forwards to.
static INNER: AtomicPtr<ffi::sqlite3_vfs> = AtomicPtr::new(std::ptr::null_mut());
static INSTALL: Once = Once::new();
const NAME: &[u8] = b"liteshift-faults\0";

/// Register the failing VFS as the default (once per process).
pub fn install() {
    INSTALL.call_once(|| unsafe {
        ffi::sqlite3_initialize();
        let inner = ffi::sqlite3_vfs_find(std::ptr::null());
        assert!(!inner.is_null(), "no default VFS");
        INNER.store(inner, Ordering::SeqCst);
        let mut vfs = *inner;
        // The default VFS's other methods use only what the copy keeps (its pAppData,
        // mxPathname): only xOpen must wrap the file.
        vfs.szOsFile = (std::mem::size_of::<File>() as c_int) + (*inner).szOsFile;
        vfs.zName = NAME.as_ptr().cast();
        vfs.pNext = std::ptr::null_mut();
        vfs.xOpen = Some(x_open);
        // Registered for the life of the process.
        let p = Box::into_raw(Box::new(vfs));
        assert_eq!(ffi::sqlite3_vfs_register(p, 1), ffi::SQLITE_OK);
    });
}

unsafe fn inner(f: *mut ffi::sqlite3_file) -> *mut ffi::sqlite3_file {
    (*(f as *mut File)).inner
}

unsafe fn methods(f: *mut ffi::sqlite3_file) -> &'static ffi::sqlite3_io_methods {
    &*(*inner(f)).pMethods
}

unsafe extern "C" fn x_open(
    _vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    f: *mut ffi::sqlite3_file,
    flags: c_int,
    out: *mut c_int,
) -> c_int {
    let file = f as *mut File;
    let inner_file = (f as *mut u8).add(std::mem::size_of::<File>()) as *mut ffi::sqlite3_file;
    (*file).inner = inner_file;
    (*file).base.pMethods = std::ptr::null();
    let vfs = INNER.load(Ordering::SeqCst);
    let rc = ((*vfs).xOpen.unwrap())(vfs, name, inner_file, flags, out);
    if rc == ffi::SQLITE_OK && !(*inner_file).pMethods.is_null() {
        (*file).base.pMethods = &METHODS;
    }
    rc
}

unsafe extern "C" fn x_close(f: *mut ffi::sqlite3_file) -> c_int {
    let rc = (methods(f).xClose.unwrap())(inner(f));
    (*f).pMethods = std::ptr::null();
    rc
}

unsafe extern "C" fn x_read(
    f: *mut ffi::sqlite3_file,
    buf: *mut c_void,
    amt: c_int,
    off: ffi::sqlite3_int64,
) -> c_int {
    if fails(Kind::Read) {
        return ffi::SQLITE_IOERR_READ;
    }
    (methods(f).xRead.unwrap())(inner(f), buf, amt, off)
}

unsafe extern "C" fn x_write(
    f: *mut ffi::sqlite3_file,
    buf: *const c_void,
    amt: c_int,
    off: ffi::sqlite3_int64,
) -> c_int {
    if fails(Kind::Write) {
        return ffi::SQLITE_IOERR_WRITE;
    }
    (methods(f).xWrite.unwrap())(inner(f), buf, amt, off)
}

unsafe extern "C" fn x_truncate(f: *mut ffi::sqlite3_file, size: ffi::sqlite3_int64) -> c_int {
    (methods(f).xTruncate.unwrap())(inner(f), size)
}

unsafe extern "C" fn x_sync(f: *mut ffi::sqlite3_file, flags: c_int) -> c_int {
    if fails(Kind::Sync) {
        return ffi::SQLITE_IOERR_FSYNC;
    }
    (methods(f).xSync.unwrap())(inner(f), flags)
}

unsafe extern "C" fn x_file_size(
    f: *mut ffi::sqlite3_file,
    size: *mut ffi::sqlite3_int64,
) -> c_int {
    (methods(f).xFileSize.unwrap())(inner(f), size)
}

unsafe extern "C" fn x_lock(f: *mut ffi::sqlite3_file, l: c_int) -> c_int {
    (methods(f).xLock.unwrap())(inner(f), l)
}

unsafe extern "C" fn x_unlock(f: *mut ffi::sqlite3_file, l: c_int) -> c_int {
    (methods(f).xUnlock.unwrap())(inner(f), l)
}

unsafe extern "C" fn x_check_reserved_lock(f: *mut ffi::sqlite3_file, out: *mut c_int) -> c_int {
    (methods(f).xCheckReservedLock.unwrap())(inner(f), out)
}

unsafe extern "C" fn x_file_control(
    f: *mut ffi::sqlite3_file,
    op: c_int,
    arg: *mut c_void,
) -> c_int {
    (methods(f).xFileControl.unwrap())(inner(f), op, arg)
}

unsafe extern "C" fn x_sector_size(f: *mut ffi::sqlite3_file) -> c_int {
    (methods(f).xSectorSize.unwrap())(inner(f))
}

unsafe extern "C" fn x_device_characteristics(f: *mut ffi::sqlite3_file) -> c_int {
    (methods(f).xDeviceCharacteristics.unwrap())(inner(f))
}

unsafe extern "C" fn x_shm_map(
    f: *mut ffi::sqlite3_file,
    pg: c_int,
    pgsz: c_int,
    extend: c_int,
    pp: *mut *mut c_void,
) -> c_int {
    match methods(f).xShmMap {
        Some(m) => m(inner(f), pg, pgsz, extend, pp),
        None => ffi::SQLITE_IOERR,
    }
}

unsafe extern "C" fn x_shm_lock(
    f: *mut ffi::sqlite3_file,
    off: c_int,
    n: c_int,
    fl: c_int,
) -> c_int {
    match methods(f).xShmLock {
        Some(m) => m(inner(f), off, n, fl),
        None => ffi::SQLITE_IOERR,
    }
}

unsafe extern "C" fn x_shm_barrier(f: *mut ffi::sqlite3_file) {
    if let Some(m) = methods(f).xShmBarrier {
        m(inner(f))
    }
}

unsafe extern "C" fn x_shm_unmap(f: *mut ffi::sqlite3_file, delete: c_int) -> c_int {
    match methods(f).xShmUnmap {
        Some(m) => m(inner(f), delete),
        None => ffi::SQLITE_OK,
    }
}

unsafe extern "C" fn x_fetch(
    f: *mut ffi::sqlite3_file,
    off: ffi::sqlite3_int64,
    amt: c_int,
    pp: *mut *mut c_void,
) -> c_int {
    // No memory-mapped reads: every read goes through xRead, where it can fail.
    let _ = (f, off, amt);
    *pp = std::ptr::null_mut();
    ffi::SQLITE_OK
}

unsafe extern "C" fn x_unfetch(
    f: *mut ffi::sqlite3_file,
    off: ffi::sqlite3_int64,
    p: *mut c_void,
) -> c_int {
    let _ = (f, off, p);
    ffi::SQLITE_OK
}

static METHODS: ffi::sqlite3_io_methods = ffi::sqlite3_io_methods {
    iVersion: 3,
    xClose: Some(x_close),
    xRead: Some(x_read),
    xWrite: Some(x_write),
    xTruncate: Some(x_truncate),
    xSync: Some(x_sync),
    xFileSize: Some(x_file_size),
    xLock: Some(x_lock),
    xUnlock: Some(x_unlock),
    xCheckReservedLock: Some(x_check_reserved_lock),
    xFileControl: Some(x_file_control),
    xSectorSize: Some(x_sector_size),
    xDeviceCharacteristics: Some(x_device_characteristics),
    xShmMap: Some(x_shm_map),
    xShmLock: Some(x_shm_lock),
    xShmBarrier: Some(x_shm_barrier),
    xShmUnmap: Some(x_shm_unmap),
    xFetch: Some(x_fetch),
    xUnfetch: Some(x_unfetch),
};
