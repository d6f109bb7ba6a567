// Node entry: the module is instantiated on import, so the functions are ready to call.
// This module has no SQLite inside: plan and migrate run on the database you pass. A D1
// binding (miniflare's getD1Database() proxy) is migrated through liteshift_bytes, loaded
// the first time one is passed (see workers.js).
import { readFileSync } from 'node:fs';
import * as raw from './liteshift_wasm.js';
import { makeApi, caller, checkOf } from './api.js';
import { makeWorkersApi, isD1 } from './workers.js';

const bytes = readFileSync(new URL('./liteshift_wasm_bg.wasm', import.meta.url));
raw.initSync({ module: bytes });

const api = makeApi(raw);
export const { diff, adapterFor, LiteshiftError, selfTestPanic } = api;

let workers = null;
async function cloudflare() {
  if (!workers) {
    const own = await import('./liteshift_bytes.js');
    own.initSync({ module: readFileSync(new URL('./liteshift_bytes_bg.wasm', import.meta.url)) });
    workers = makeWorkersApi(own, caller(own));
  }
  return workers;
}

/** Plan the migration of `db` to `targetSql`. Reads only. For a D1 binding, a promise. */
export function plan(db, targetSql, options) {
  if (isD1(db)) return cloudflare().then((w) => w.planD1(db, targetSql, options));
  return api.plan(db, targetSql, options);
}

/** Whether `db` is already at `targetSql` (reads only). For a D1 binding, a promise. */
export const check = checkOf(plan);

/** Migrate `db` to `targetSql` (a D1 binding: in one self-checking batch). */
export async function migrate(db, targetSql, options) {
  if (isD1(db)) return (await cloudflare()).migrateD1(db, targetSql, options);
  return api.migrate(db, targetSql, options);
}

/** In Node the module is ready on import; `init()` exists for symmetry with the web entry. */
export async function init() {}
export default init;
