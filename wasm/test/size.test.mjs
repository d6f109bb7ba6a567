// The package's module sizes, gzipped at level 9 (as wasm/build.sh prints them), against their
// budgets: a change that makes a module pass its budget fails here, saying by how much, so the
// browser module stops growing unnoticed (issue 24). The budgets are today's sizes plus a
// little room; the goals stay where the README says (150 KB for the default module).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const PKG = join(dirname(fileURLToPath(import.meta.url)), '..', 'pkg');

const BUDGETS = [
  // [file, budget in bytes gzipped, what it is]
  ['liteshift_wasm_bg.wasm', 238_000, 'the default entry (no SQLite inside): goal 150,000'],
  ['liteshift_bytes_bg.wasm', 560_000, 'liteshift/bytes and the Workers entry (its own SQLite)'],
];

for (const [file, budget, what] of BUDGETS) {
  const path = join(PKG, file);
  const skip = existsSync(path) ? false : `SKIPPED: build the package first (./wasm/build.sh); ${path} is missing`;
  test(`${file} (${what}) stays within ${budget.toLocaleString('en')} bytes gzipped`, { skip }, () => {
    const size = gzipSync(readFileSync(path), { level: 9 }).length;
    console.log(`${file}: ${size.toLocaleString('en')} bytes gzipped; budget ${budget.toLocaleString('en')}`);
    assert.ok(
      size <= budget,
      `${file} is ${size.toLocaleString('en')} bytes gzipped, ${(size - budget).toLocaleString('en')} over its budget of ${budget.toLocaleString('en')}: find what grew (twiggy top/diff on the .wasm) and keep code the browser never runs out of the module, or raise the budget in wasm/test/size.test.mjs with the reason in the commit`,
    );
  });
}
