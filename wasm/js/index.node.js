// Node entry: the module is instantiated on import, so the functions are ready to call.
// This module has no SQLite inside: plan and migrate run on the database you pass.
import { readFileSync } from 'node:fs';
import * as raw from './liteshift_wasm.js';
import { makeApi } from './api.js';

const bytes = readFileSync(new URL('./liteshift_wasm_bg.wasm', import.meta.url));
raw.initSync({ module: bytes });

const api = makeApi(raw);
export const { plan, diff, migrate, adapterFor, LiteshiftError, selfTestPanic } = api;
/** In Node the module is ready on import; `init()` exists for symmetry with the web entry. */
export async function init() {}
export default init;
