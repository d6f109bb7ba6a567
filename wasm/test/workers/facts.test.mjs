// What the Cloudflare Workers hosts refuse and ignore (issue 20), each asserted in the real
// runtime: workerd through miniflare, a D1 database and a SQLite-backed Durable Object, on
// loopback only. These facts are why liteshift plans differently for D1 and Durable Objects
// (core's probe and plan/enforced.rs; the authorizer emulations in tests/src/hosts.rs). A
// failing test here means the platform changed: its message says which fact and how.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';

let Miniflare;
try {
  ({ Miniflare } = await import('miniflare'));
} catch {
  Miniflare = null;
}
const skip = Miniflare ? false : 'SKIPPED: miniflare is not installed (cd wasm && npm ci)';
const TIMEOUT = 60_000;

// The Durable Object runs a list of requests and answers with what each returned or threw:
// a string is one ctx.storage.sql.exec; { tx: [...], throwAfter } runs its statements in
// ctx.storage.transactionSync; { put: k } writes the KV API (which creates _cf_KV).
const script = `
export class Store {
  constructor(ctx) { this.ctx = ctx; }
  run(q) { return [...this.ctx.storage.sql.exec(q)]; }
  async fetch(request) {
    const out = [];
    for (const s of await request.json()) {
      try {
        if (typeof s === 'string') out.push({ ok: true, rows: this.run(s) });
        else if (s.put) { await this.ctx.storage.put(s.put, 1); out.push({ ok: true }); }
        else {
          let rows;
          this.ctx.storage.transactionSync(() => {
            rows = s.tx.map((q) => this.run(q));
            if (s.throwAfter) throw new Error('thrown inside transactionSync');
          });
          out.push({ ok: true, rows });
        }
      } catch (e) {
        out.push({ ok: false, error: String(e && e.message) });
      }
    }
    return Response.json(out);
  }
}
export default { fetch() { return new Response('liteshift facts'); } };
`;

let mf = null;
if (Miniflare) {
  mf = new Miniflare({
    modules: true,
    script,
    compatibilityDate: '2025-01-01',
    host: '127.0.0.1',
    d1Databases: ['DB'],
    durableObjects: { STORE: { className: 'Store', useSQLite: true } },
  });
}
after(async () => {
  if (mf) await mf.dispose();
});

const changed = (what) => `PLATFORM CHANGED: ${what}`;

// D1: one statement through the D1Database proxy; { ok, rows } or { ok: false, error }.
async function d1(sql) {
  const db = await mf.getD1Database('DB');
  try {
    return { ok: true, rows: (await db.prepare(sql).all()).results };
  } catch (e) {
    return { ok: false, error: String(e.message) };
  }
}
const d1Rows = async (sql) => {
  const r = await d1(sql);
  assert.ok(r.ok, `${sql}: ${r.error}`);
  return r.rows;
};

// A fresh Durable Object per test (its own SQLite database).
let objects = 0;
async function durableObject(requests) {
  const ns = await mf.getDurableObjectNamespace('STORE');
  const stub = ns.get(ns.idFromName(`facts-${++objects}-${process.pid}`));
  const send = async (reqs) => {
    const res = await stub.fetch('http://127.0.0.1/', { method: 'POST', body: JSON.stringify(reqs) });
    return res.json();
  };
  return { send, first: await send(requests) };
}

const TX_REFUSED = /please use the state\.storage\.transaction\(\) or state\.storage\.transactionSync\(\)/;
const NOT_AUTHORIZED = /not authorized/;

// ---- D1 ----

test('D1 ignores PRAGMA foreign_keys = OFF: enforcement reads back on, alone and in a batch', { skip, timeout: TIMEOUT }, async () => {
  const db = await mf.getD1Database('DB');
  assert.deepEqual(await d1Rows('PRAGMA foreign_keys = OFF'), []);
  assert.deepEqual(await d1Rows('PRAGMA foreign_keys'), [{ foreign_keys: 1 }], changed('D1 now honours PRAGMA foreign_keys = OFF as its own statement'));
  const [, read] = await db.batch([db.prepare('PRAGMA foreign_keys = OFF'), db.prepare('PRAGMA foreign_keys')]);
  assert.deepEqual(read.results, [{ foreign_keys: 1 }], changed('D1 now honours PRAGMA foreign_keys = OFF inside a batch'));
});

test('D1 refuses BEGIN and SAVEPOINT (a batch() is the transaction)', { skip, timeout: TIMEOUT }, async () => {
  for (const sql of ['BEGIN', 'BEGIN IMMEDIATE', 'SAVEPOINT liteshift']) {
    const r = await d1(sql);
    assert.equal(r.ok, false, changed(`D1 now accepts ${sql}`));
    assert.match(r.error, TX_REFUSED, changed(`D1 refuses ${sql} with another message: ${r.error}`));
  }
});

test('D1: a failing statement rolls the whole batch() back', { skip, timeout: TIMEOUT }, async () => {
  const db = await mf.getD1Database('DB');
  await db.exec('CREATE TABLE batch_fact (x INTEGER CHECK (x < 10))');
  await assert.rejects(
    db.batch([
      db.prepare('INSERT INTO batch_fact VALUES (1)'),
      db.prepare('CREATE TABLE batch_fact_made (y)'),
      db.prepare('INSERT INTO batch_fact VALUES (99)'),
    ]),
    /CHECK constraint failed/,
  );
  assert.deepEqual(await d1Rows('SELECT count(*) AS n FROM batch_fact'), [{ n: 0 }], changed('a failing statement no longer rolls back the rows its batch wrote'));
  assert.deepEqual(await d1Rows("SELECT name FROM sqlite_master WHERE name = 'batch_fact_made'"), [], changed('a failing statement no longer rolls back the tables its batch created'));
});

test('D1: DROP TABLE parent deletes every child row through ON DELETE CASCADE, even with defer_foreign_keys, in one batch', { skip, timeout: TIMEOUT }, async () => {
  const db = await mf.getD1Database('DB');
  await db.batch([
    db.prepare('CREATE TABLE fact_parent (id INTEGER PRIMARY KEY)'),
    db.prepare('CREATE TABLE fact_child (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES fact_parent(id) ON DELETE CASCADE)'),
    db.prepare('INSERT INTO fact_parent VALUES (1), (2)'),
    db.prepare('INSERT INTO fact_child VALUES (1, 1), (2, 1), (3, 2)'),
  ]);
  const results = await db.batch([
    db.prepare('PRAGMA foreign_keys = OFF'),
    db.prepare('PRAGMA defer_foreign_keys = ON'),
    db.prepare('PRAGMA defer_foreign_keys'),
    db.prepare('CREATE TABLE fact_parent_new (id INTEGER PRIMARY KEY)'),
    db.prepare('INSERT INTO fact_parent_new SELECT id FROM fact_parent'),
    db.prepare('DROP TABLE fact_parent'),
    db.prepare('ALTER TABLE fact_parent_new RENAME TO fact_parent'),
  ]);
  assert.deepEqual(results[2].results, [{ defer_foreign_keys: 1 }], 'defer_foreign_keys is on inside the batch');
  assert.deepEqual(await d1Rows('SELECT count(*) AS n FROM fact_child'), [{ n: 0 }], changed('DROP TABLE of a parent no longer cascades on D1 (was: every child row deleted)'));
  assert.deepEqual(await d1Rows('SELECT count(*) AS n FROM fact_parent'), [{ n: 2 }]);
});

test('D1 does not authorize sqlite_version(), PRAGMA compile_options, temp tables or writable_schema', { skip, timeout: TIMEOUT }, async () => {
  const version = await d1('SELECT sqlite_version() AS v');
  assert.equal(version.ok, false, changed(`D1 now answers sqlite_version(): ${JSON.stringify(version.rows)}`));
  assert.match(version.error, /not authorized to use function: sqlite_version/);
  for (const sql of ['PRAGMA compile_options', 'CREATE TEMP TABLE fact_temp (a)', 'PRAGMA writable_schema = ON']) {
    const r = await d1(sql);
    assert.equal(r.ok, false, changed(`D1 now authorizes ${sql}`));
    assert.match(r.error, NOT_AUTHORIZED, `${sql}: ${r.error}`);
  }
});

test('D1 holds _cf_METADATA: listed in sqlite_master, its rows not readable', { skip, timeout: TIMEOUT }, async () => {
  const tables = (await d1Rows("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE '\\_cf\\_%' ESCAPE '\\'")).map((r) => r.name);
  assert.ok(tables.includes('_cf_METADATA'), changed(`D1's platform tables are now ${JSON.stringify(tables)}`));
  const read = await d1('SELECT * FROM _cf_METADATA');
  assert.equal(read.ok, false, changed('_cf_METADATA is now readable'));
  assert.match(read.error, /access to _cf_METADATA\.\w+ is prohibited/);
});

// ---- Durable Objects ----

test('Durable Object: PRAGMA foreign_keys = OFF is honoured before the request writes, ignored after a write (inside the implicit transaction)', { skip, timeout: TIMEOUT }, async () => {
  const { first, send } = await durableObject(['PRAGMA foreign_keys', 'PRAGMA foreign_keys = OFF', 'PRAGMA foreign_keys']);
  assert.deepEqual(first.map((r) => r.rows), [[{ foreign_keys: 1 }], [], [{ foreign_keys: 0 }]], changed('a Durable Object no longer honours PRAGMA foreign_keys = OFF at the start of a request'));
  // It stays off for the object's next request.
  assert.deepEqual((await send(['PRAGMA foreign_keys']))[0].rows, [{ foreign_keys: 0 }]);
  // After a write in the same request a transaction is open: the PRAGMA is a no-op, as in SQLite.
  const later = await durableObject(['CREATE TABLE t (a)', 'PRAGMA foreign_keys = OFF', 'PRAGMA foreign_keys']);
  assert.deepEqual(later.first[2].rows, [{ foreign_keys: 1 }], changed('PRAGMA foreign_keys = OFF now takes effect after a write in the same request'));
  // Nor inside transactionSync.
  const tx = await durableObject([{ tx: ['PRAGMA foreign_keys = OFF', 'PRAGMA foreign_keys'] }]);
  assert.deepEqual(tx.first[0].rows[1], [{ foreign_keys: 1 }], changed('PRAGMA foreign_keys = OFF now takes effect inside transactionSync'));
});

test('Durable Object refuses BEGIN and SAVEPOINT; transactionSync is the transaction and rolls back when its function throws', { skip, timeout: TIMEOUT }, async () => {
  const { first } = await durableObject(['BEGIN', 'BEGIN IMMEDIATE', 'SAVEPOINT liteshift', 'CREATE TABLE t (a)']);
  for (const [i, sql] of ['BEGIN', 'BEGIN IMMEDIATE', 'SAVEPOINT liteshift'].entries()) {
    assert.equal(first[i].ok, false, changed(`a Durable Object now accepts ${sql}`));
    assert.match(first[i].error, TX_REFUSED, `${sql}: ${first[i].error}`);
  }
  const { first: tx } = await durableObject(['CREATE TABLE t (a)', { tx: ['INSERT INTO t VALUES (1)', 'CREATE TABLE u (b)'], throwAfter: true }, 'SELECT count(*) AS n FROM t', "SELECT count(*) AS n FROM sqlite_master WHERE name = 'u'"]);
  assert.equal(tx[1].ok, false);
  assert.deepEqual([tx[2].rows, tx[3].rows], [[{ n: 0 }], [{ n: 0 }]], changed('transactionSync no longer rolls back when its function throws'));
});

test('Durable Object does not authorize temp tables, writable_schema, sqlite_version() or compile_options', { skip, timeout: TIMEOUT }, async () => {
  const sqls = ['CREATE TEMP TABLE t (a)', 'PRAGMA writable_schema = ON', 'SELECT sqlite_version()', 'PRAGMA compile_options'];
  const { first } = await durableObject(sqls);
  for (const [i, sql] of sqls.entries()) {
    assert.equal(first[i].ok, false, changed(`a Durable Object now authorizes ${sql}`));
    assert.match(first[i].error, NOT_AUTHORIZED, `${sql}: ${first[i].error}`);
  }
});

test('Durable Object: _cf_KV is listed in sqlite_master once the KV API wrote, and nothing of it is readable (rows, table_info, foreign_key_list)', { skip, timeout: TIMEOUT }, async () => {
  const sqls = ['SELECT * FROM _cf_KV', "SELECT * FROM pragma_table_info('_cf_KV')", "SELECT * FROM pragma_foreign_key_list('_cf_KV')", 'PRAGMA table_info(_cf_KV)'];
  const { first } = await durableObject([{ put: 'k' }, "SELECT name FROM sqlite_master WHERE name LIKE '\\_cf\\_%' ESCAPE '\\'", ...sqls]);
  assert.ok(first[0].ok, first[0].error);
  assert.deepEqual(first[1].rows, [{ name: '_cf_KV' }], changed(`a Durable Object's platform tables are now ${JSON.stringify(first[1].rows)}`));
  for (const [i, sql] of sqls.entries()) {
    const r = first[i + 2];
    assert.equal(r.ok, false, changed(`a Durable Object now answers ${sql}: ${JSON.stringify(r.rows)}`));
    assert.match(r.error, /_cf_KV\.\w+ is prohibited|not authorized/, `${sql}: ${r.error}`);
  }
});
