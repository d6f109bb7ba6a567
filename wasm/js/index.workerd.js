// Cloudflare Workers entry (export condition `workerd`: wrangler's bundler takes it). The
// module is liteshift_bytes — liteshift's own SQLite holds the declared schema, as a D1
// binding and Durable Object storage cannot open a scratch database — and the database is
// read and written only on its host. Every function returns a promise (D1 answers with
// promises); on Durable Object storage the whole migration runs in one transactionSync.
import * as raw from './liteshift_bytes.js';
import wasmModule from './liteshift_bytes_bg.wasm';
import { caller, LiteshiftError, adapterFor, checkOf } from './api.js';
import { makeWorkersApi, cloudflareHost } from './workers.js';

raw.initSync({ module: wasmModule });
const call = caller(raw);
const cf = makeWorkersApi(raw, call);

// Any other SQLite (an adapter, sql.js): the same sequence, scratch databases in ours.
function onOther(f, db, targetSql, options) {
  const { sqlite3, ...rest } = options;
  return call(f, adapterFor(db, sqlite3), targetSql, rest);
}

/** Plan the migration of `db` (a D1 binding, Durable Object storage, or an adapter) to
 * `targetSql`. Reads only. On D1, `plan.statements` is the batch `migrate` runs. */
export async function plan(db, targetSql, options = {}) {
  switch (cloudflareHost(db)) {
    case 'd1': return cf.planD1(db, targetSql, options);
    case 'durable-object': return cf.planDurableObject(db, targetSql, options);
    default: return onOther(raw.planHostRaw, db, targetSql, options);
  }
}

/** Whether `db` (a D1 binding, Durable Object storage, or an adapter) is already at
 * `targetSql`. Reads only. */
export const check = checkOf(plan);

/** Migrate `db` to `targetSql`: on D1 one self-checking batch; on Durable Object storage one
 * transactionSync, verified before it commits. */
export async function migrate(db, targetSql, options = {}) {
  switch (cloudflareHost(db)) {
    case 'd1': return cf.migrateD1(db, targetSql, options);
    case 'durable-object': return cf.migrateDurableObject(db, targetSql, options);
    default: return onOther(raw.migrateHostRaw, db, targetSql, options);
  }
}

/** The migration from the declared schema `fromSql` to `targetSql` (no database). */
export async function diff(_db, fromSql, targetSql, options = {}) {
  return call(raw.planOfflineRaw, fromSql, targetSql, options);
}

export const selfTestPanic = () => call(raw.selfTestPanic);
export { LiteshiftError, adapterFor };
/** The module is ready on import; `init()` exists for symmetry with the web entry. */
export async function init() {}
export default init;
