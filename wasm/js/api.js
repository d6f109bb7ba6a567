// liteshift's JavaScript API over the wasm module. The module runs liteshift's one migration
// sequence (the Rust core's); this file only builds host adapters for the page's SQLite and
// turns errors into `LiteshiftError`s. No step of the sequence lives here.

/** An error from liteshift: `code` is stable, `message` says what to do. */
export class LiteshiftError extends Error {
  constructor(value) {
    super(value.message);
    this.name = 'LiteshiftError';
    for (const [k, v] of Object.entries(value)) if (k !== 'message') this[k] = v;
  }
}

/** The adapter of an official `@sqlite.org/sqlite-wasm` `oo1.DB` (or `OpfsDb`, ...): scratch
 * databases are in-memory `oo1.DB`s of the same module. An `oo1.DB` does not lead back to its
 * module, so that comes from `options.sqlite3` (or a global `sqlite3`, as in a worker). */
function oo1Adapter(db, sqlite3) {
  const module = sqlite3?.oo1 ? sqlite3 : globalThis.sqlite3;
  const DB = module?.oo1?.DB;
  if (typeof DB !== 'function') {
    throw new LiteshiftError({
      code: 'unsupported_host',
      message: 'an oo1.DB does not say which sqlite3 module it belongs to, and liteshift needs it to open a scratch database on the same SQLite: pass it in the options, e.g. migrate(db, schema, { sqlite3 })',
    });
  }
  // Where in the statement SQLite found an error (3.38+), for schema errors' line:col.
  const located = (f) => (sql) => {
    try {
      return f(sql);
    } catch (e) {
      const at = module.capi.sqlite3_error_offset?.(db.pointer);
      if (e && typeof e === 'object' && at >= 0) e.offset = at;
      throw e;
    }
  };
  const capi = module.capi;
  return {
    exec: located((sql) => { db.exec(sql); }),
    execScript: (sql) => { db.exec(sql); },
    // SQLite's update hook counts the rows a step writes (for onProgress); it is removed
    // when the step ends (an update hook the page had set on this db is replaced).
    ...(typeof capi?.sqlite3_update_hook === 'function' && {
      execCountingRows: (sql, every, onRows) => {
        let rows = 0;
        capi.sqlite3_update_hook(db.pointer, () => { rows += 1; if (rows % every === 0) onRows(rows); }, 0);
        try { db.exec(sql); } finally { capi.sqlite3_update_hook(db.pointer, 0, 0); }
      },
    }),
    query: located((sql) => db.selectArrays(sql)),
    scratch: () => oo1Adapter(new DB(':memory:'), module),
    close: () => db.close(),
  };
}

/** The adapter of a sql.js `Database`. */
function sqljsAdapter(db) {
  return {
    exec: (sql) => { db.run(sql); },
    execScript: (sql) => { db.exec(sql); },
    // sql.js 1.11+: its update hook counts the rows a step writes (see oo1Adapter).
    ...(typeof db.updateHook === 'function' && {
      execCountingRows: (sql, every, onRows) => {
        let rows = 0;
        db.updateHook(() => { rows += 1; if (rows % every === 0) onRows(rows); });
        try { db.exec(sql); } finally { db.updateHook(null); }
      },
    }),
    query: (sql) => {
      const res = db.exec(sql);
      return res.length ? res[res.length - 1].values : [];
    },
    scratch: () => sqljsAdapter(new db.constructor()),
    close: () => db.close(),
  };
}

/**
 * The host adapter for `db`: a sql.js `Database`, an `oo1.DB` (with its `sqlite3` module), or
 * an adapter you wrote: `{ exec(sql), query(sql) -> rows as arrays of values, scratch() ->
 * adapter of a new in-memory database on the same SQLite, execScript?(sql), close?() }`.
 */
export function adapterFor(db, sqlite3) {
  if (db && typeof db.exec === 'function' && typeof db.query === 'function' && typeof db.scratch === 'function') return db;
  if (db && typeof db.selectArrays === 'function' && typeof db.exec === 'function') return oo1Adapter(db, sqlite3);
  if (db && typeof db.exec === 'function' && typeof db.export === 'function') return sqljsAdapter(db);
  const hint = db && typeof db.exec === 'function' && typeof db.query === 'function'
    ? ' (an adapter now also needs scratch(), and query() returns rows as arrays)'
    : '';
  throw new LiteshiftError({
    code: 'unsupported_host',
    message: `db is neither a sql.js Database nor a @sqlite.org/sqlite-wasm oo1.DB nor an adapter { exec(sql), query(sql), scratch() }${hint}; see README: host adapters`,
  });
}

/** The options that map names to names: `{ a: "b" }` or `[["a", "b"], ...]`. */
const MAPS = ['renameTables', 'renameColumns', 'values'];

/** `options` with each map given as an object turned into pairs in key order (the module
 * reads pairs only; it checks that each is two strings). Any other argument is unchanged. */
function asPairs(options) {
  if (!options || typeof options !== 'object' || Array.isArray(options) || ArrayBuffer.isView(options)) return options;
  let out = options;
  for (const k of MAPS) {
    const v = options[k];
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      if (out === options) out = { ...options };
      out[k] = Object.keys(v).sort().map((key) => [key, v[key]]);
    }
  }
  return out;
}

/** Call into the module, turning its error values and crashes into `LiteshiftError`s. */
/** The contract's `check` over an entry's `plan`: whether the database is already at the
 * declared schema (its plan has no step). A promise where `plan` gives one (a D1 binding). */
export function checkOf(plan) {
  return (db, targetSql, options) => {
    const planned = plan(db, targetSql, options);
    return typeof planned?.then === 'function' ? planned.then((p) => p.inSync) : planned.inSync;
  };
}

export function caller(raw, onCrash) {
  return (fn, ...args) => {
    try {
      return fn(...args.map(asPairs));
    } catch (e) {
      if (e instanceof WebAssembly.RuntimeError) {
        let detail = e.message;
        try { detail = raw.lastPanic() ?? detail; } catch { /* the module is gone */ }
        if (onCrash) onCrash();
        throw new LiteshiftError({ code: 'internal_error', message: `liteshift failed internally (${detail}); this is a bug, please report it with your schemas` });
      }
      if (e && typeof e === 'object' && !(e instanceof Error) && 'code' in e) throw new LiteshiftError(e);
      throw e;
    }
  };
}

/**
 * If the module crashes (a bug) half-way through a migration, the page's database must not
 * stay inside liteshift's transaction with foreign-key enforcement off: this adapter notes
 * both as the core's statements pass through, and `recover()` undoes them.
 */
function recovering(h) {
  let open = null; // the statement that rolls back liteshift's transaction
  let fkOff = false;
  const note = (sql) => {
    if (sql === 'BEGIN IMMEDIATE') open = 'ROLLBACK';
    else if (sql === 'SAVEPOINT liteshift') open = 'ROLLBACK TO liteshift; RELEASE liteshift';
    else if (sql === 'COMMIT' || sql === 'ROLLBACK' || sql.startsWith('RELEASE liteshift') || sql.startsWith('ROLLBACK TO liteshift')) open = null;
    else if (sql === 'PRAGMA foreign_keys = OFF') fkOff = true;
    else if (sql === 'PRAGMA foreign_keys = ON') fkOff = false;
  };
  const wrapped = {
    exec: (sql) => { h.exec(sql); note(sql); },
    query: (sql) => h.query(sql),
    scratch: () => h.scratch(),
  };
  if (typeof h.execScript === 'function') wrapped.execScript = (sql) => { h.execScript(sql); note(sql); };
  if (typeof h.execCountingRows === 'function') {
    wrapped.execCountingRows = (sql, every, onRows) => { h.execCountingRows(sql, every, onRows); note(sql); };
  }
  const recover = () => {
    if (open) { try { h.exec(open); } catch { /* already rolled back */ } }
    if (fkOff) { try { h.exec('PRAGMA foreign_keys = ON'); } catch { /* nothing more to do */ } }
  };
  return { wrapped, recover };
}

/** The default entry's API: every call runs on the page's SQLite through its adapter. */
export function makeApi(raw, onCrash) {
  const call = caller(raw, onCrash);

  // `options.sqlite3` is the adapter's (see oo1Adapter), not the core's.
  const split = (options) => {
    const { sqlite3, ...rest } = options ?? {};
    return [sqlite3, rest];
  };

  /** Plan the migration of `db` (a host database) to `targetSql`. Reads only. */
  function plan(db, targetSql, options = {}) {
    const [sqlite3, opts] = split(options);
    return call(raw.planRaw, adapterFor(db, sqlite3), targetSql, opts);
  }

  /** The migration from the declared schema `fromSql` to `targetSql`, modelled in scratch
   * databases of `db`'s SQLite (`db` itself is not touched). */
  function diff(db, fromSql, targetSql, options = {}) {
    const [sqlite3, opts] = split(options);
    return call(raw.diffRaw, adapterFor(db, sqlite3), fromSql, targetSql, opts);
  }

  /** Migrate `db` to `targetSql` in one transaction, verified before it commits. */
  async function migrate(db, targetSql, options = {}) {
    const [sqlite3, opts] = split(options);
    const { wrapped, recover } = recovering(adapterFor(db, sqlite3));
    try {
      return call(raw.migrateRaw, wrapped, targetSql, opts);
    } catch (e) {
      if (e instanceof LiteshiftError && e.code === 'internal_error') recover();
      throw e;
    }
  }

  return {
    plan,
    diff,
    migrate,
    /** Panics inside the module on purpose (see the README): throws an `internal_error`. */
    selfTestPanic: () => call(raw.selfTestPanic),
    adapterFor,
    LiteshiftError,
  };
}

/** The `liteshift/bytes` entry's API: liteshift's own SQLite, inside the module. */
export function makeBytesApi(raw, onCrash) {
  const call = caller(raw, onCrash);
  return {
    /** Plan from `current` (SQL text, or catalog rows from any host) to `targetSql`. Pure. */
    plan: (current, targetSql, options = {}) => call(raw.planOfflineRaw, current, targetSql, options),
    /** Migrate a database held as bytes inside liteshift's own SQLite: `{ bytes, report }`. */
    migrateBytes: (bytes, targetSql, options = {}) =>
      call(raw.migrateBytesRaw, bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes), targetSql, options),
    sqliteVersion: () => raw.sqliteVersion(),
    selfTestPanic: () => call(raw.selfTestPanic),
    LiteshiftError,
  };
}
