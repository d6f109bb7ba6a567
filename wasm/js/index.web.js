// Browser / bundler entry: `await init()` once (it fetches liteshift_wasm_bg.wasm next to this
// file, or takes `{ module_or_path }`), then call the functions. This module has no SQLite
// inside: plan and migrate run on the database you pass.
import initWasm, * as raw from './liteshift_wasm.js';
import { makeApi, LiteshiftError, adapterFor, checkOf } from './api.js';

let ready = null;
/** Load the module. Safe to call more than once. */
export default function init(input) {
  ready ??= initWasm(input);
  return ready;
}
export { init, LiteshiftError, adapterFor };

const api = makeApi(raw);
const need = (f) => (...args) => {
  if (!ready) throw new LiteshiftError({ code: 'not_initialized', message: 'call `await init()` (the default export) before using liteshift in a browser' });
  return f(...args);
};
export const plan = need(api.plan);
/** Whether `db` is already at `targetSql` (reads only). */
export const check = checkOf(plan);
export const diff = need(api.diff);
export const selfTestPanic = need(api.selfTestPanic);
export async function migrate(db, targetSql, options) {
  await init();
  return api.migrate(db, targetSql, options);
}
