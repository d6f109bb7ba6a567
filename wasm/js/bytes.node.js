// `liteshift/bytes`, Node: liteshift's own SQLite inside the module, for migrateBytes and
// planning without a host database.
import { readFileSync } from 'node:fs';
import * as raw from './liteshift_bytes.js';
import { makeBytesApi } from './api.js';

raw.initSync({ module: readFileSync(new URL('./liteshift_bytes_bg.wasm', import.meta.url)) });

export const { plan, migrateBytes, sqliteVersion, LiteshiftError, selfTestPanic } = makeBytesApi(raw);
export async function init() {}
export default init;
