// The package's module sizes, gzipped with `gzip -9` (as wasm/build.sh prints them), against their
// budgets: a change that makes a module pass its budget fails here, saying by how much, so the
// browser module stops growing unnoticed (issue 24). The budgets are today's sizes plus a
// little room; each figure is printed beside its goal (150 KB for the default module, 1.4x
// sql.js's SQLite for liteshift/bytes, measured here from node_modules) and its baseline.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const PKG = join(dirname(fileURLToPath(import.meta.url)), '..', 'pkg');
const SQLJS = join(dirname(fileURLToPath(import.meta.url)), '..', 'node_modules', 'sql.js', 'dist', 'sql-wasm.wasm');
// `gzip -9`, as build.sh and the README measure (zlib's level 9 makes about 2 KB more of the
// default module); zlib where there is no gzip.
const gz = (path) => {
  try {
    return execFileSync('gzip', ['-9', '-c', path], { maxBuffer: 1 << 26 }).length;
  } catch {
    return gzipSync(readFileSync(path), { level: 9 }).length;
  }
};
const n = (x) => x.toLocaleString('en');

const BUDGETS = [
  // [file, budget in bytes gzipped, what it is, its goal (issue 24)]
  ['liteshift_wasm_bg.wasm', 229_000, 'the default entry (no SQLite inside)', (size) =>
    `goal 150,000 (${size <= 150_000 ? 'met' : `${n(size - 150_000)} to go`}); first shipped at 163,686, 234,899 before the 2026-12-07 size work (issue 24)`],
  ['liteshift_bytes_bg.wasm', 548_000, 'liteshift/bytes and the Workers entry (its own SQLite)', (size) => {
    if (!existsSync(SQLJS)) return `goal 1.4x sql.js's sql-wasm.wasm (not measured: ${SQLJS} is missing)`;
    const sqljs = gz(SQLJS);
    const goal = Math.floor(1.4 * sqljs);
    return `${(size / sqljs).toFixed(2)}x sql.js 1.16.0's sql-wasm.wasm (${n(sqljs)} gzipped); goal 1.4x = ${n(goal)} (${size <= goal ? 'met' : `${n(size - goal)} to go`}); 555,585 (1.65x) before the 2026-12-07 size work (issue 24)`;
  }],
];

for (const [file, budget, what, goal] of BUDGETS) {
  const path = join(PKG, file);
  const skip = existsSync(path) ? false : `SKIPPED: build the package first (./wasm/build.sh); ${path} is missing`;
  test(`${file} (${what}) stays within ${n(budget)} bytes gzipped`, { skip }, () => {
    const size = gz(path);
    console.log(`${file}: ${n(size)} bytes gzipped; budget ${n(budget)}; ${goal(size)}`);
    assert.ok(
      size <= budget,
      `${file} is ${n(size)} bytes gzipped, ${n(size - budget)} over its budget of ${n(budget)}: find what grew (twiggy top/diff on the .wasm) and keep code the browser never runs out of the module, or raise the budget in wasm/test/size.test.mjs with the reason in the commit`,
    );
  });
}
