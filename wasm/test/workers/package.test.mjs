// The npm package on Cloudflare's hosts, in the real Workers runtime (issue 20, parts 4 and 5):
// a Worker that imports `liteshift` is bundled by wrangler (`wrangler deploy --dry-run`, which
// takes the package's `workerd` export condition and its wasm module) and run by miniflare
// (workerd, loopback only, state in a temp dir removed at the end). On a D1 binding and on
// Durable Object storage: rebuilding a parent with CASCADE and SET NULL children, a
// grandchild, triggers on the children, AUTOINCREMENT, an index and a view keeps every row
// and fires no trigger; a refusal and a failing step leave the database unchanged; an object
// migrates itself in its constructor under blockConcurrencyWhile when the app is upgraded;
// and from Node, miniflare's D1 proxy migrates through the Node entry.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const PKG = join(here, '..', '..', 'pkg');
const WRANGLER = join(here, '..', '..', 'node_modules', 'wrangler', 'bin', 'wrangler.js');
const fixture = (name) => readFileSync(join(here, 'fixtures', name), 'utf8');

let Miniflare = null;
try {
  ({ Miniflare } = await import('miniflare'));
} catch {}
const skip = !Miniflare || !existsSync(WRANGLER)
  ? 'SKIPPED: miniflare and wrangler are not installed (cd wasm && npm ci)'
  : !existsSync(join(PKG, 'index.workerd.js'))
    ? 'SKIPPED: build the package first (./wasm/build.sh)'
    : false;
const TIMEOUT = 180_000;

// The fixtures' family, with an index and a view.
const EXTRA = `
CREATE INDEX child_cascade_parent ON child_cascade(parent_id);
CREATE VIEW parent_notes AS SELECT p.name, c.note FROM parent p JOIN child_cascade c ON c.parent_id = p.id;
`;
const FROM = fixture('from.sql') + EXTRA;
const TO = fixture('to.sql') + EXTRA;
const SEED = fixture('seed.sql')
  .split('\n')
  .filter((l) => l.trim() && !l.startsWith('--'));
const TABLES = ['parent', 'child_cascade', 'child_setnull', 'grandchild', 'log'];
const SEEDED = { parent: 3, child_cascade: 5, child_setnull: 4, grandchild: 6, log: 0 };

// Every request is { op, sql?, schema?, options? }; every answer { ok, value } or the error's
// { ok: false, code, name, message }. `to` routes to a Durable Object ("store:NAME",
// "app:NAME"), or names a D1 binding ("d1:DB2"; without it, DB) the Worker itself uses.
const WORKER = `
import { migrate, plan } from 'liteshift';

const result = async (f) => {
  try {
    return { ok: true, value: await f() };
  } catch (e) {
    return { ok: false, code: e.code, name: e.name, message: e.message };
  }
};
const plain = (v) => (v instanceof ArrayBuffer ? [...new Uint8Array(v)] : v);

function onStorage(storage, { op, sql, schema, options }) {
  switch (op) {
    case 'exec': return storage.transactionSync(() => { for (const s of sql) storage.sql.exec(s); return null; });
    case 'query': return Array.from(storage.sql.exec(sql).raw(), (r) => r.map(plain));
    case 'plan': return plan(storage, schema, options);
    case 'migrate': return migrate(storage, schema, options);
  }
  throw new Error('unknown op ' + op);
}

export class Store {
  constructor(ctx) { this.ctx = ctx; }
  async fetch(request) {
    const q = await request.json();
    return Response.json(await result(() => onStorage(this.ctx.storage, q)));
  }
}

// An app's object migrates itself to the schema of the deployed version (env.SCHEMA) before
// it serves anything.
export class App {
  constructor(ctx, env) {
    this.ctx = ctx;
    ctx.blockConcurrencyWhile(async () => {
      this.migrated = await result(() => migrate(ctx.storage, env.SCHEMA));
    });
  }
  async fetch(request) {
    const q = await request.json();
    if (q.op === 'migrated') return Response.json(this.migrated);
    return Response.json(await result(() => onStorage(this.ctx.storage, q)));
  }
}

export default {
  async fetch(request, env) {
    const q = await request.json();
    const [kind, name] = (q.to ?? 'd1:DB').split(':');
    if (kind !== 'd1') {
      const ns = kind === 'app' ? env.APP : env.STORE;
      return ns.get(ns.idFromName(name)).fetch(request.url, { method: 'POST', body: JSON.stringify(q) });
    }
    return Response.json(await result(async () => {
      const db = env[name];
      switch (q.op) {
        case 'exec': await db.batch(q.sql.map((s) => db.prepare(s))); return null;
        case 'query': return (await db.prepare(q.sql).raw()).map((r) => r.map(plain));
        case 'plan': return plan(db, q.schema, q.options);
        case 'migrate': return migrate(db, q.schema, q.options);
      }
      throw new Error('unknown op ' + q.op);
    }));
  },
};
`;

const WRANGLER_TOML = `
name = "liteshift-package-test"
main = "worker.mjs"
compatibility_date = "2025-01-01"

[[d1_databases]]
binding = "DB"
database_name = "db"
database_id = "00000000-0000-0000-0000-000000000000"

[[durable_objects.bindings]]
name = "STORE"
class_name = "Store"

[[durable_objects.bindings]]
name = "APP"
class_name = "App"

[[migrations]]
tag = "v1"
new_sqlite_classes = ["Store", "App"]
`;

// wrangler, offline, in its own process group (killed with what it started if it hangs).
function wrangler(cwd, args, ms = 120_000) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WRANGLER, ...args], {
      cwd,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: 'true', NO_COLOR: '1', WRANGLER_LOG_PATH: join(cwd, 'logs') },
    });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {}
      reject(new Error(`wrangler ${args.join(' ')}: no answer in ${ms} ms\n${output}`));
    }, ms);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

// The corpus through the package: a sample of its consecutive pairs (every 8th; all with
// LITESHIFT_NPM_CORPUS=all), each loaded at FROM with seeded rows (the seed_sql example's
// statements, as corpus.test.mjs loads them) into a D1 database and a Durable Object, then
// `migrate(…, TO, { allowDataLoss: true })` by the package in the Worker: no row lost in a
// table that stays, in sync afterwards; a refusal (rows the target rejects, or a table the
// app's own foreign key makes unwritable where enforcement is on) leaves every row in place.
const root = join(here, '..', '..', '..');
const CORPUS = process.env.LITESHIFT_CORPUS ?? join(root, '..', 'shared', 'corpus');
const SEED_SQL = join(root, process.env.CARGO_TARGET_DIR ?? 'target', 'debug', 'examples', 'seed_sql');
const corpusSkip = skip
  || (existsSync(CORPUS) ? false : `SKIPPED: the schema corpus is not present (looked for ${CORPUS})`)
  || (existsSync(SEED_SQL) ? false : `SKIPPED: build the seed_sql example first (cargo build -p liteshift-tests --example seed_sql; looked for ${SEED_SQL})`);
function corpusPairs() {
  if (corpusSkip) return [];
  const pairs = [];
  for (const app of readdirSync(CORPUS, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort()) {
    const versions = readdirSync(join(CORPUS, app)).filter((f) => /^v\d+\.sql$/.test(f)).sort();
    for (let i = 1; i < versions.length; i++) pairs.push([app, versions[i - 1], versions[i]]);
  }
  return process.env.LITESHIFT_NPM_CORPUS === 'all' ? pairs : pairs.filter((_, i) => i % 8 === 0);
}

let dir = null;
let mf = null;
let bundle = null;
const options = (schema) => ({
  modules: true,
  scriptPath: bundle,
  modulesRoot: dirname(bundle),
  modulesRules: [{ type: 'CompiledWasm', include: ['**/*.wasm'] }],
  compatibilityDate: '2025-01-01',
  host: '127.0.0.1',
  d1Databases: ['DB', 'DB2', ...corpusPairs().map((_, i) => `CORPUS${i}`)],
  durableObjects: { STORE: { className: 'Store', useSQLite: true }, APP: { className: 'App', useSQLite: true } },
  bindings: { SCHEMA: schema },
  d1Persist: join(dir, 'd1'),
  durableObjectsPersist: join(dir, 'do'),
});

before(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'liteshift-workers-'));
  const project = join(dir, 'project');
  mkdirSync(join(project, 'node_modules'), { recursive: true });
  symlinkSync(PKG, join(project, 'node_modules', 'liteshift'), 'dir');
  writeFileSync(join(project, 'worker.mjs'), WORKER);
  writeFileSync(join(project, 'wrangler.toml'), WRANGLER_TOML);
  const out = join(dir, 'out');
  const r = await wrangler(project, ['deploy', '--dry-run', '--outdir', out]);
  assert.equal(r.code, 0, `wrangler could not bundle the Worker:\n${r.output}`);
  const js = readdirSync(out).filter((f) => f.endsWith('.js'));
  assert.equal(js.length, 1, `one script in ${readdirSync(out)}`);
  assert.ok(readdirSync(out).some((f) => f.endsWith('.wasm')), 'the wasm module is bundled');
  bundle = join(out, js[0]);
  mf = new Miniflare(options(FROM));
});

after(async () => {
  if (mf) await mf.dispose();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function ask(q) {
  const res = await mf.dispatchFetch('http://localhost/', { method: 'POST', body: JSON.stringify(q) });
  return res.json();
}
async function ok(q) {
  const r = await ask(q);
  assert.ok(r.ok, `${q.op} ${q.to ?? 'd1'}: ${r.code}: ${r.message}`);
  return r.value;
}

// Everything a migration must keep: every row of every table, the AUTOINCREMENT mark, the
// stored schema (text included), and no foreign-key violation.
async function state(to) {
  const rows = {};
  for (const t of TABLES) rows[t] = await ok({ to, op: 'query', sql: `SELECT * FROM ${t} ORDER BY rowid` });
  const seq = await ok({ to, op: 'query', sql: "SELECT seq FROM sqlite_sequence WHERE name = 'parent'" });
  const schema = await ok({ to, op: 'query', sql: "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE '\\_cf\\_%' ESCAPE '\\' AND name NOT LIKE 'sqlite_%' ORDER BY name" });
  const fk = await ok({ to, op: 'query', sql: 'SELECT count(*) FROM pragma_foreign_key_check' });
  return { rows, seq, schema, fk };
}
const counts = (s) => Object.fromEntries(TABLES.map((t) => [t, s.rows[t].length]));

// Creates the family (a migration from nothing), seeds it, and checks the seed.
async function seeded(to) {
  const created = await ok({ to, op: 'migrate', schema: FROM });
  assert.ok(created.stepsApplied > 0);
  await ok({ to, op: 'exec', sql: SEED });
  const s = await state(to);
  assert.deepEqual(counts(s), SEEDED);
  assert.deepEqual(s.seq, [[4]]);
  return s;
}

async function rebuildKeepsEverything(to) {
  const before = await seeded(to);
  const planned = await ok({ to, op: 'plan', schema: TO });
  const closure = planned.changes.filter((c) => c.includes('foreign keys stay enforced'));
  assert.ok(closure.length >= 3, `the referencing closure is rebuilt: ${planned.changes.join('; ')}`);
  const report = await ok({ to, op: 'migrate', schema: TO });
  assert.ok(report.stepsApplied > 0);
  assert.equal(report.foreignKeysToggled, false);
  const after = await state(to);
  assert.deepEqual(after.rows, before.rows, 'every row of every table, and no trigger fired (log stays empty)');
  assert.deepEqual(after.seq, [[4]], 'the AUTOINCREMENT high-water mark');
  assert.deepEqual(after.fk, [[0]]);
  const parent = after.schema.find(([, name]) => name === 'parent');
  assert.match(parent[2], /name VARCHAR\(40\) NOT NULL/, 'the declared text, as stored');
  assert.deepEqual(after.schema.map(([t, n]) => `${t} ${n}`), before.schema.map(([t, n]) => `${t} ${n}`), 'every index, view and trigger is back');
  const again = await ok({ to, op: 'migrate', schema: TO });
  assert.equal(again.stepsApplied, 0, 'in sync afterwards');
  return report;
}

async function refusalsChangeNothing(to) {
  const before = await seeded(to);
  // Rows the target rejects (a parent name of two letters): refused before any step.
  const strict = TO.replace('name VARCHAR(40) NOT NULL', 'name VARCHAR(40) NOT NULL CHECK (length(name) > 2)');
  const refused = await ask({ to, op: 'migrate', schema: strict });
  assert.equal(refused.ok, false);
  assert.equal(refused.code, 'data_violates_schema', refused.message);
  assert.deepEqual(await state(to), before, 'unchanged after a refusal');
  // A step that fails part-way: a declared value SQLite cannot compute for existing rows, on
  // a column no check reads (so the copy, after the renames, is what fails).
  const noted = TO.replace('  note TEXT\n);\nCREATE TABLE child_setnull', '  note TEXT COLLATE NOCASE\n);\nCREATE TABLE child_setnull');
  assert.notEqual(noted, TO);
  const failing = await ask({ to, op: 'migrate', schema: noted, options: { values: { 'child_cascade.note': "json('{')" } } });
  assert.equal(failing.ok, false);
  assert.equal(failing.name, 'LiteshiftError');
  assert.match(failing.code, /step_failed/, failing.message);
  assert.deepEqual(await state(to), before, 'unchanged after a failing step');
}

test('Durable Object: rebuilding a parent in one transactionSync keeps every row and fires no trigger', { skip, timeout: TIMEOUT }, async () => {
  await rebuildKeepsEverything('store:rebuild');
});

test('Durable Object: a refusal and a failing step leave the storage unchanged', { skip, timeout: TIMEOUT }, async () => {
  await refusalsChangeNothing('store:refusals');
});

test('D1 binding in a Worker: the rebuild runs as one self-checking batch and keeps every row', { skip, timeout: TIMEOUT }, async () => {
  const report = await rebuildKeepsEverything(undefined);
  assert.ok(report.plan.statements.some((s) => s.includes('_liteshift_guard')), 'the batch checks itself');
  assert.ok(!report.plan.statements.some((s) => /^(BEGIN|SAVEPOINT|PRAGMA foreign_keys)/.test(s)));
});

test('D1 binding in a Worker: a refusal and a failing step leave the database unchanged', { skip, timeout: TIMEOUT }, async () => {
  await refusalsChangeNothing('d1:DB2');
});

test('D1 through miniflare\'s proxy in Node: the Node entry migrates it, and a batch made for another state is refused', { skip, timeout: TIMEOUT }, async () => {
  const { migrate, plan, check } = await import(join(PKG, 'index.node.js'));
  const db = await mf.getD1Database('DB2');
  assert.equal((await plan(db, FROM)).inSync, true, 'DB2 is at FROM, with its rows (the test before)');
  assert.equal(await check(db, FROM), true, 'check on a D1 binding: a promise of the plan\'s inSync');
  assert.equal(await check(db, TO), false);
  // Plan TO, then move the database: the batch made for the state before is refused.
  const planned = await plan(db, TO);
  assert.ok(planned.statements.length > 0);
  await db.prepare('CREATE TABLE sneaked_in (x)').run();
  await assert.rejects(db.batch(planned.statements.map((s) => db.prepare(s))), /not at the schema this migration starts from/);
  await db.prepare('DROP TABLE sneaked_in').run();
  const before = (await db.prepare('SELECT count(*) FROM child_cascade').raw())[0][0];
  const report = await migrate(db, TO);
  assert.ok(report.stepsApplied > 0);
  assert.equal((await db.prepare('SELECT count(*) FROM child_cascade').raw())[0][0], before);
  assert.equal((await migrate(db, TO)).stepsApplied, 0);
  assert.equal(await check(db, TO), true);
});

test('D1: two clients migrating at once both succeed: the one whose batch finds the schema moved plans again', { skip, timeout: TIMEOUT }, async () => {
  const { migrate } = await import(join(PKG, 'index.node.js'));
  const db = await mf.getD1Database('DB2');
  // DB2 is at TO (the test before). Back to FROM, then two migrations to TO: the first one's
  // batch waits until the second has migrated the database.
  await migrate(db, FROM);
  const rows = (await db.prepare('SELECT count(*) FROM grandchild').raw())[0][0];
  let raced = false;
  const slow = new Proxy(db, {
    get(target, key) {
      if (key === 'batch') {
        return async (statements) => {
          if (!raced) {
            raced = true;
            const other = await migrate(db, TO);
            assert.ok(other.stepsApplied > 0, 'the other client migrated');
          }
          return target.batch(statements);
        };
      }
      const v = target[key];
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  const report = await migrate(slow, TO);
  assert.ok(raced);
  assert.equal(report.stepsApplied, 0, 'planned again: already migrated by the other');
  assert.equal((await db.prepare('SELECT count(*) FROM grandchild').raw())[0][0], rows);
});

async function rowCounts(to, tables) {
  const out = {};
  for (const t of tables) out[t] = (await ok({ to, op: 'query', sql: `SELECT count(*) FROM "${t.replaceAll('"', '""')}"` }))[0][0];
  return out;
}

test('the corpus through the package, on D1 and on Durable Objects: no row lost, in sync afterwards, refusals unchanged', { skip: corpusSkip, timeout: 600_000 }, async (t) => {
  const tally = { pairs: 0, migrated: 0, refused: 0, unwritable: 0, rows: 0 };
  for (const [i, [app, a, b]] of corpusPairs().entries()) {
    const seed = JSON.parse(execFileSync(SEED_SQL, [join(CORPUS, app, a), '3'], { encoding: 'utf8', maxBuffer: 1 << 28 }));
    const target = readFileSync(join(CORPUS, app, b), 'utf8');
    const tables = Object.keys(seed.tables);
    // A fresh D1 database (binding CORPUS<i>) and Durable Object for each pair.
    for (const to of [`d1:CORPUS${i}`, `store:corpus-${i}`]) {
      const label = `${app}/${a} -> ${b} on ${to.startsWith('d1') ? 'D1' : 'a Durable Object'}`;
      await ok({ to, op: 'exec', sql: seed.statements });
      const before = await rowCounts(to, tables);
      const r = await ask({ to, op: 'migrate', schema: target, options: { allowDataLoss: true, sourceName: b } });
      tally.pairs += 1;
      if (!r.ok) {
        const unwritable = r.code === 'step_failed' && /foreign key mismatch|no such table/.test(r.message);
        assert.ok(r.code === 'data_violates_schema' || unwritable, `${label}: ${r.code}: ${r.message}`);
        assert.deepEqual(await rowCounts(to, tables), before, `${label}: refused, and every row is still there`);
        tally[unwritable ? 'unwritable' : 'refused'] += 1;
        continue;
      }
      const kept = (await ok({ to, op: 'query', sql: "SELECT name FROM sqlite_master WHERE type = 'table'" })).map(([n]) => n);
      const after = await rowCounts(to, tables.filter((x) => kept.includes(x)));
      for (const [table, n] of Object.entries(after)) assert.equal(n, before[table], `${label}: rows of ${table}`);
      tally.rows += Object.values(after).reduce((x, y) => x + y, 0);
      const again = await ok({ to, op: 'migrate', schema: target, options: { allowDataLoss: true } });
      assert.equal(again.stepsApplied, 0, `${label}: in sync afterwards`);
      tally.migrated += 1;
    }
  }
  t.diagnostic(JSON.stringify(tally));
  assert.ok(tally.migrated > 0);
});

test('Durable Object: an app upgrade migrates each object in its constructor, under blockConcurrencyWhile', { skip, timeout: TIMEOUT }, async () => {
  const to = 'app:upgrade';
  // Version 1 of the app: the object creates its schema itself on first use.
  const first = await ok({ to, op: 'migrated' });
  assert.ok(first.stepsApplied > 0);
  await ok({ to, op: 'exec', sql: SEED });
  const before = await state(to);
  // Version 2 is deployed (the runtime restarts; storage persists): the object migrates itself
  // before serving its first request.
  await mf.setOptions(options(TO));
  const second = await ok({ to, op: 'migrated' });
  assert.ok(second.stepsApplied > 0, JSON.stringify(second));
  const after = await state(to);
  assert.deepEqual(after.rows, before.rows, 'every row kept, no trigger fired');
  assert.deepEqual(after.seq, [[4]]);
  await mf.setOptions(options(TO));
  assert.equal((await ok({ to, op: 'migrated' })).stepsApplied, 0, 'in sync on the next start');
});
