// The front-end contract's cases (tests/contract/cases.json) through the npm package's own
// API, on sql.js and on the official sqlite-wasm build: each output must equal the Rust
// facade's (tests/contract/expected.json, written by `cargo test -p liteshift-contract`),
// with this package's message for errors. `check` is the package's own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import initSqlJs from 'sql.js';
import sqlite3InitModule from '@sqlite.org/sqlite-wasm';

const ls = await import('../pkg/index.node.js');
const SQL = await initSqlJs();
const sqlite3 = await sqlite3InitModule();
const dir = new URL('../../tests/contract/', import.meta.url);
const { cases } = JSON.parse(readFileSync(new URL('cases.json', dir), 'utf8'));
const expected = JSON.parse(readFileSync(new URL('expected.json', dir), 'utf8'));

// `errorOffset`: whether the host says where in a statement SQLite found an error (the
// sqlite-wasm adapter reads sqlite3_error_offset; sql.js has no such call), which locates a
// schema error at its token rather than at its statement's start.
const hosts = {
  'sql.js': { open: () => new SQL.Database(), extra: {}, errorOffset: false },
  'sqlite-wasm oo1': { open: () => new sqlite3.oo1.DB(':memory:', 'c'), extra: { sqlite3 }, errorOffset: true },
};

/** JSON's view of a value: keys sorted, as the expected file has them. */
const plain = (v) => JSON.parse(JSON.stringify(v, (k, x) => (x && typeof x === 'object' && !Array.isArray(x)
  ? Object.fromEntries(Object.keys(x).sort().map((key) => [key, x[key]])) : x)));

async function run(host, c) {
  const db = host.open();
  if (c.setup) db.exec(c.setup);
  const events = [];
  const options = { ...c.options, ...host.extra };
  let out;
  try {
    if (c.call === 'plan') out = { ok: ls.plan(db, c.schema, options) };
    else if (c.call === 'check') out = { ok: ls.check(db, c.schema, options) };
    else if (c.call === 'diff') out = { ok: ls.diff(db, c.from, c.schema, options) };
    else {
      const report = await ls.migrate(db, c.schema, { ...options, onProgress: (e) => events.push(e) });
      out = { ok: report, inSyncAfter: ls.plan(db, c.schema, options).inSync };
    }
  } catch (e) {
    if (!(e instanceof ls.LiteshiftError)) throw e;
    const { name, message, stack, ...fields } = Object.assign({}, e);
    out = { error: { ...fields, message: e.message } };
  }
  if (c.call === 'migrate') out.progress = events.map((e) => ('milliseconds' in e ? { ...e, milliseconds: 0 } : e));
  db.close();
  return plain(out);
}

for (const [hostName, host] of Object.entries(hosts)) {
  for (const c of cases) {
    test(`${hostName}: contract case ${c.name}`, async () => {
      let want = structuredClone(expected[c.name]);
      const got = await run(host, c);
      if (want.error?.withoutErrorOffset) {
        want = { ...want, error: host.errorOffset ? { ...want.error, withoutErrorOffset: undefined } : want.error.withoutErrorOffset };
        delete want.error.withoutErrorOffset;
      }
      if (want.error) {
        assert.equal(got.error.message, want.error.messages.javascript);
        delete got.error.message;
        delete want.error.messages;
      }
      assert.deepEqual(got, plain(want));
    });
  }
}

test('a map option given as an object is the same as its pairs in key order, and is checked the same', () => {
  const db = new SQL.Database();
  db.exec('CREATE TABLE t(id INTEGER PRIMARY KEY, a TEXT, b TEXT)');
  const target = 'CREATE TABLE t(id INTEGER PRIMARY KEY, x TEXT, y TEXT)';
  const asObject = ls.plan(db, target, { renameColumns: { 't.b': 'y', 't.a': 'x' } });
  const asPairs = ls.plan(db, target, { renameColumns: [['t.a', 'x'], ['t.b', 'y']] });
  assert.deepEqual(asObject, asPairs);
  assert.deepEqual(asObject.changes, ['rename column t.a to x', 'rename column t.b to y']);
  for (const bad of [{ 't.a': 1 }, 'x', null, [['t.a']]]) {
    assert.throws(() => ls.plan(db, target, { renameColumns: bad }),
      (e) => e.code === 'invalid_option' && /`renameColumns` must map strings to strings/.test(e.message), JSON.stringify(bad));
  }
});
