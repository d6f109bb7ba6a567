// `liteshift/bytes`, browser / bundler: `await init()` once, then call the functions.
import initWasm, * as raw from './liteshift_bytes.js';
import { makeBytesApi, LiteshiftError } from './api.js';

let ready = null;
/** Load the module. Safe to call more than once. */
export default function init(input) {
  ready ??= initWasm(input);
  return ready;
}
export { init, LiteshiftError };

const api = makeBytesApi(raw);
const need = (f) => (...args) => {
  if (!ready) throw new LiteshiftError({ code: 'not_initialized', message: 'call `await init()` (the default export) before using liteshift/bytes in a browser' });
  return f(...args);
};
export const plan = need(api.plan);
export const migrateBytes = need(api.migrateBytes);
export const sqliteVersion = need(api.sqliteVersion);
export const selfTestPanic = need(api.selfTestPanic);
