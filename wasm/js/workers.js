// Cloudflare's SQLite hosts — a D1 binding and Durable Object storage — for liteshift's one
// migration sequence, which runs in the `liteshift_bytes` module (its own SQLite holds the
// declared schema: these hosts cannot open a scratch database). This file recognises the
// hosts by their shape, carries calls and converts values and errors; no step of the sequence
// lives here (see wasm/src/workers.rs).
import { LiteshiftError } from './api.js';

/** A D1 binding (`env.DB`, or miniflare's `getD1Database()` proxy in Node). */
export function isD1(db) {
  return !!db && typeof db.prepare === 'function' && typeof db.batch === 'function'
    && typeof db.exec === 'function' && typeof db.selectArrays !== 'function';
}

/** A Durable Object's storage (`ctx.storage`) with its SQL API. */
export function isDurableObjectStorage(storage) {
  return !!storage && typeof storage.transactionSync === 'function'
    && !!storage.sql && typeof storage.sql.exec === 'function';
}

// SQLite's result codes, by the names Cloudflare puts at the end of its messages
// ("not authorized: SQLITE_AUTH").
const CODES = { SQLITE_ERROR: 1, SQLITE_BUSY: 5, SQLITE_LOCKED: 6, SQLITE_READONLY: 8, SQLITE_CORRUPT: 11, SQLITE_FULL: 13, SQLITE_CONSTRAINT: 19, SQLITE_MISMATCH: 20, SQLITE_AUTH: 23 };

/** A D1 or Durable Object exception as a host error `{ message, code }`: SQLite's message
 * once, its result code from the name Cloudflare appends. A Durable Object's refusal of
 * `BEGIN`/`SAVEPOINT` (use transactionSync) is a refusal (SQLITE_AUTH). */
export function hostError(e) {
  let message = String(e && typeof e === 'object' && 'message' in e ? e.message : e);
  message = message.replace(/^D1_(?:EXEC_)?ERROR:\s*/, '');
  let code;
  const named = /:\s*(SQLITE_[A-Z_]+)$/.exec(message);
  if (named) {
    message = message.slice(0, named.index);
    code = CODES[named[1].replace(/^(SQLITE_[A-Z]+)_.*$/, '$1')];
  }
  if (/state\.storage\.transaction/.test(message)) code = CODES.SQLITE_AUTH;
  return code === undefined ? { message } : { message, code };
}

// BLOBs arrive as ArrayBuffers (Durable Objects) or arrays of bytes (D1): the module takes
// Uint8Arrays.
const value = (v) => (v instanceof ArrayBuffer ? new Uint8Array(v) : Array.isArray(v) ? Uint8Array.from(v) : v);
const row = (r) => r.map(value);

/** The adapter of Durable Object storage inside `transactionSync`: the transaction is the
 * caller's (liteshift opens none; an exception rolls everything back). */
function durableObjectAdapter(storage) {
  const run = (sql) => {
    try {
      return storage.sql.exec(sql);
    } catch (e) {
      throw hostError(e);
    }
  };
  return {
    exec: (sql) => { run(sql).toArray(); },
    query: (sql) => Array.from(run(sql).raw(), row),
    inTransaction: () => true,
    callerTransaction: true,
    describe: 'Durable Object storage',
  };
}

/**
 * The API on Cloudflare's hosts, over the `liteshift_bytes` module's functions `raw` (called
 * through `call`, which turns its errors into LiteshiftErrors). Every function returns a
 * promise: D1 answers asynchronously.
 */
export function makeWorkersApi(raw, call) {
  // D1: the core asks synchronously, D1 answers with promises. The planner runs over the
  // answers so far and says which call it needs next; D1 is asked, and the planner runs again
  // (see wasm/src/workers.rs: the host sees each call once, in the core's order).
  async function replay(db, targetSql, options, batch) {
    const answers = [];
    for (;;) {
      const r = call(raw.planReplayRaw, answers, targetSql, options, batch);
      if (r.need === undefined) return r;
      try {
        const rows = await db.prepare(r.need).raw();
        answers.push({ sql: r.need, rows: rows.map(row) });
      } catch (e) {
        answers.push({ sql: r.need, error: hostError(e) });
      }
    }
  }

  /** Plan the migration of a D1 database: the one batch `migrate` runs (`plan.statements`). */
  async function planD1(db, targetSql, options = {}) {
    const { plan, statements } = await replay(db, targetSql, options, true);
    return { ...plan, statements };
  }

  /** Migrate a D1 database in one `batch()` that checks itself: the database is at the schema
   * planned from, no row violates the target, and afterwards the database is the declared
   * schema — or the batch fails and D1 rolls all of it back. */
  async function migrateD1(db, targetSql, options = {}) {
    // Another client changed the schema between this plan and its batch (two copies of an app
    // starting at once): the batch's first guard refused it, unchanged; plan again from what
    // is there now (usually in sync: the other one migrated first). A few times at most.
    for (let attempt = 1; ; attempt++) {
      try {
        return await migrateD1Once(db, targetSql, options);
      } catch (e) {
        if (!(e instanceof LiteshiftError && e.code === 'stale_plan') || attempt === 4) throw e;
      }
    }
  }

  async function migrateD1Once(db, targetSql, options) {
    const { plan, statements } = await replay(db, targetSql, options, true);
    if (plan.inSync) return { stepsApplied: 0, foreignKeysToggled: false, plan: { ...plan, statements } };
    try {
      await db.batch(statements.map((s) => db.prepare(s)));
    } catch (e) {
      throw new LiteshiftError(raw.batchFailedRaw(hostError(e).message));
    }
    return { stepsApplied: plan.steps.length, foreignKeysToggled: false, plan: { ...plan, statements } };
  }

  /** The core's sequence inside `storage.transactionSync`: what `f` throws rolls it all back. */
  function inTransaction(storage, f) {
    let out;
    storage.transactionSync(() => { out = f(durableObjectAdapter(storage)); });
    return out;
  }

  return {
    isD1,
    isDurableObjectStorage,
    planD1,
    migrateD1,
    /** Plan on Durable Object storage (read inside transactionSync, as migrate plans). */
    planDurableObject: async (storage, targetSql, options = {}) =>
      inTransaction(storage, (host) => call(raw.planHostRaw, host, targetSql, options)),
    /** Migrate Durable Object storage in one transactionSync. */
    migrateDurableObject: async (storage, targetSql, options = {}) =>
      inTransaction(storage, (host) => call(raw.migrateHostRaw, host, targetSql, options)),
  };
}

/** Which Cloudflare host `db` is: 'd1', 'durable-object', or null. */
export function cloudflareHost(db) {
  if (isD1(db)) return 'd1';
  if (isDurableObjectStorage(db)) return 'durable-object';
  return null;
}
