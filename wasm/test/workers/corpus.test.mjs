// The public schema corpus (../shared/corpus: five apps, 253 consecutive version pairs) on D1,
// in the real workerd runtime (miniflare, loopback only, in memory), the way
// tests/tests/corpus.rs runs it on rusqlite: for every pair a database at FROM holding the rows
// `liteshift_tests::seed_rows` puts in it (3 per table, valid under the foreign keys D1
// enforces), then the script of `liteshift diff --for d1 FROM TO` run as ONE `batch()`. After
// it: every row of every table kept (count, rowids, and the values of every column kept with
// the same declared type), the AUTOINCREMENT high-water marks never lower, no new
// foreign_key_check violation, and the schema D1 stores exactly TO (as corpus.rs judges it,
// and `liteshift diff` from D1's schema to TO plans nothing). A pair whose seeded rows violate
// TO is refused by the batch's guards, D1 unchanged; then, as corpus.rs does, it runs again
// with declared values for the columns the refusal names, or, when no value helps, without
// rows.
//
// D1 is driven from inside a Worker (one batch() per request): through miniflare's Node proxy
// every prepared statement is a round trip, about 5 ms each, 20 times slower.
//
// Needs the CLI and two examples built: cargo build -p liteshift-cli && cargo build -p
// liteshift-tests --example seed_sql --example schema_check
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..', '..');
const CORPUS = process.env.LITESHIFT_CORPUS ?? join(root, '..', 'shared', 'corpus');
const target = join(root, process.env.CARGO_TARGET_DIR ?? 'target', 'debug');
const exe = (p) => (process.platform === 'win32' ? `${p}.exe` : p);
const LITESHIFT = process.env.LITESHIFT_BIN ?? exe(join(target, 'liteshift'));
const SEED_SQL = exe(join(target, 'examples', 'seed_sql'));
const SCHEMA_CHECK = exe(join(target, 'examples', 'schema_check'));
const ROWS_PER_TABLE = 3;

let Miniflare;
try {
  ({ Miniflare } = await import('miniflare'));
} catch {
  Miniflare = null;
}
const skip =
  (Miniflare ? false : 'SKIPPED: miniflare is not installed (cd wasm && npm ci)') ||
  (existsSync(CORPUS) ? false : `SKIPPED: the schema corpus is not present (looked for ${CORPUS})`) ||
  (existsSync(LITESHIFT) ? false : `SKIPPED: build the CLI first (cargo build -p liteshift-cli; looked for ${LITESHIFT})`) ||
  (existsSync(SEED_SQL) && existsSync(SCHEMA_CHECK) ? false : `SKIPPED: build the examples first (cargo build -p liteshift-tests --example seed_sql --example schema_check; looked for ${SEED_SQL})`);

const apps = skip ? [] : readdirSync(CORPUS, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort();
const versionsOf = (app) =>
  readdirSync(join(CORPUS, app))
    .filter((f) => /^v\d+\.sql$/.test(f))
    .sort()
    .map((f) => join(CORPUS, app, f));

const spent = { processes: 0 };
// A process's { status, stdout, stderr }; its wall time added to spent.processes.
function run(cmd, args) {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20 }, (error, stdout, stderr) => {
      spent.processes += Date.now() - t0;
      if (error && typeof error.code !== 'number') reject(error);
      else resolve({ status: error ? error.code : 0, stdout, stderr });
    });
  });
}
async function runJson(cmd, args) {
  const r = await run(cmd, args);
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')}: exit ${r.status}\n${r.stderr}`);
  return JSON.parse(r.stdout);
}

// At most `n` of `jobs` (functions returning promises) at a time, in order of start.
async function pool(n, jobs) {
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) await jobs[next++]();
  };
  await Promise.all(Array.from({ length: Math.min(n, jobs.length) }, worker));
}

// A script into statements, at each `;` outside a string, identifier quote or comment, and
// outside a CREATE TRIGGER's BEGIN … END (CASE … END nests inside it); comments and empty
// statements dropped.
function splitSql(sql) {
  const out = [];
  let cur = '';
  let words = []; // the statement's first words, to know a CREATE TRIGGER
  let depth = 0; // BEGIN/CASE nesting inside a trigger
  let i = 0;
  const n = sql.length;
  while (i < n) {
    const c = sql[i];
    if (c === '-' && sql[i + 1] === '-') {
      const e = sql.indexOf('\n', i);
      i = e < 0 ? n : e + 1;
      cur += ' ';
      continue;
    }
    if (c === '/' && sql[i + 1] === '*') {
      const e = sql.indexOf('*/', i + 2);
      i = e < 0 ? n : e + 2;
      cur += ' ';
      continue;
    }
    if (c === "'" || c === '"' || c === '`' || c === '[') {
      const close = c === '[' ? ']' : c;
      let j = i + 1;
      for (;;) {
        if (j >= n) break;
        if (sql[j] === close) {
          if (close !== ']' && sql[j + 1] === close) {
            j += 2;
            continue;
          }
          break;
        }
        j++;
      }
      cur += sql.slice(i, j + 1);
      i = j + 1;
      continue;
    }
    if (/[A-Za-z_]/.test(c)) {
      let j = i;
      while (j < n && /[A-Za-z0-9_$]/.test(sql[j])) j++;
      const w = sql.slice(i, j).toUpperCase();
      if (words.length < 4) words.push(w);
      const trigger = words[0] === 'CREATE' && words.slice(1, 4).includes('TRIGGER');
      if (trigger && (w === 'BEGIN' || w === 'CASE')) depth++;
      if (trigger && w === 'END') depth--;
      cur += sql.slice(i, j);
      i = j;
      continue;
    }
    if (c === ';' && depth <= 0) {
      if (cur.trim()) out.push(cur.trim());
      cur = '';
      words = [];
      depth = 0;
      i++;
      continue;
    }
    cur += c;
    i++;
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}

const q = (name) => `"${name.replaceAll('"', '""')}"`;

// What the checks compare, read inside the Worker (its source is put in the Worker's): the
// catalog, and per ordinary table its columns and every value as `quote()` gives it, rowids
// kept (sorted rows for WITHOUT ROWID tables); the AUTOINCREMENT marks; foreign_key_check's
// rows (per table where a schema's own foreign key is broken and the check fails for it, as
// corpus.rs's fk_violations counts them).
async function snapshotOf(d) {
  const all = async (statements) => (await d.batch(statements.map((s) => (typeof s === 'string' ? d.prepare(s) : d.prepare(s.sql).bind(...s.bind))))).map((r) => r.results);
  const quoteIdent = (name) => `"${name.replaceAll('"', '""')}"`;
  const [catalog, list] = await all([
    'SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY rowid',
    "SELECT name, type, wr FROM pragma_table_list WHERE schema = 'main'",
  ]);
  const shadow = new Set(list.filter((t) => t.type === 'shadow').map((t) => t.name));
  const wr = new Map(list.map((t) => [t.name, t.wr === 1]));
  const schema = catalog.filter((o) => !/^(_cf_|sqlite_)/i.test(o.name) && !shadow.has(o.name));
  const tables = schema.filter((o) => o.type === 'table' && !/^\s*CREATE\s+VIRTUAL\b/i.test(o.sql)).map((o) => o.name);
  const s = { schema, tables: {}, seq: {}, fkViolations: 0 };
  if (tables.length) {
    const cols = await all(tables.map((t) => ({ sql: 'SELECT name, type FROM pragma_table_xinfo(?1) WHERE hidden = 0', bind: [t] })));
    const rows = await all(
      tables.map((t, k) => {
        const values = cols[k].map((c) => `quote(${quoteIdent(c.name)})`);
        return wr.get(t) ? `SELECT ${values.join(', ')} FROM ${quoteIdent(t)}` : `SELECT rowid, ${values.join(', ')} FROM ${quoteIdent(t)} ORDER BY rowid`;
      }),
    );
    tables.forEach((t, k) => {
      const rowid = !wr.get(t);
      const r = rows[k].map((x) => Object.values(x));
      s.tables[t] = {
        count: r.length,
        rowids: rowid ? r.map((x) => x[0]) : null,
        columns: Object.fromEntries(
          cols[k].map((c, j) => {
            const vals = r.map((x) => x[j + (rowid ? 1 : 0)]);
            return [c.name.toLowerCase(), { type: c.type, values: rowid ? vals : vals.sort() }];
          }),
        ),
      };
    });
  }
  if (catalog.some((o) => o.name === 'sqlite_sequence')) for (const r of (await all(['SELECT name, seq FROM sqlite_sequence']))[0]) s.seq[r.name] = r.seq;
  try {
    s.fkViolations = (await all(['SELECT count(*) AS n FROM pragma_foreign_key_check']))[0][0].n;
  } catch {
    for (const t of tables) {
      try {
        s.fkViolations += (await all([{ sql: 'SELECT count(*) AS n FROM pragma_foreign_key_check(?1)', bind: [t] }]))[0][0].n;
      } catch {}
    }
  }
  return s;
}

// The Worker: runs a list of statements on the named D1 binding as one batch(); or, with
// `each: 'stop'`, each statement alone (its own implicit transaction) up to the first that
// fails; then, when asked, the snapshot.
const WORKER = `${snapshotOf}
export default {
  async fetch(request, env) {
    const { db, statements, each, snapshot } = await request.json();
    const d = env[db];
    const prepare = (s) => (typeof s === 'string' ? d.prepare(s) : d.prepare(s.sql).bind(...s.bind));
    let out = { ok: true };
    if (each) {
      for (const [i, s] of statements.entries()) {
        try {
          await prepare(s).all();
        } catch (e) {
          out = { ok: false, failed: i, error: String(e && e.message) };
          break;
        }
      }
    } else if (statements.length) {
      try {
        out.results = (await d.batch(statements.map(prepare))).map((r) => r.results);
      } catch (e) {
        out = { ok: false, error: String(e && e.message) };
      }
    }
    if (snapshot) out.snapshot = await snapshotOf(d);
    return Response.json(out);
  },
};`;

function d1(mf, binding) {
  const send = async (statements, opts = {}) => (await mf.dispatchFetch('http://127.0.0.1/', { method: 'POST', body: JSON.stringify({ db: binding, statements, ...opts }) })).json();
  return {
    // { ok, results, snapshot } or { ok: false, error, snapshot }.
    send,
    // One batch that must succeed, then the snapshot.
    async load(statements) {
      const r = await send(statements, { snapshot: true });
      assert.ok(r.ok, `${binding}: ${r.error}`);
      return r.snapshot;
    },
  };
}
const rowsIn = (s, only = () => true) => Object.entries(s.tables).reduce((n, [t, x]) => n + (only(t) ? x.count : 0), 0);

// The checks of corpus.rs's check_result, on D1's snapshots; the problems found, one a line.
async function problems(before, after, plan, toFile, tmp) {
  const out = [];
  const recreated = (t) => plan.steps.some((s) => s.destructive && s.reason.toLowerCase().startsWith(`drop table ${t.toLowerCase()} `));
  const valued = (t, c) => plan.changes.some((x) => x.toLowerCase().startsWith(`existing rows of ${t.toLowerCase()}.${c} take`));
  const lower = (o) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k.toLowerCase(), v]));
  const afterTables = lower(after.tables);
  for (const [t, b] of Object.entries(before.tables)) {
    const a = afterTables[t.toLowerCase()];
    if (!a || recreated(t)) continue;
    if (a.count !== b.count) out.push(`table ${t}: ${b.count} rows before, ${a.count} after`);
    else if (b.rowids && a.rowids && JSON.stringify(a.rowids) !== JSON.stringify(b.rowids)) out.push(`table ${t}: rowids changed`);
    else
      for (const [c, { type, values }] of Object.entries(b.columns)) {
        const ac = a.columns[c];
        if (ac && ac.type === type && !valued(t, c) && JSON.stringify(ac.values) !== JSON.stringify(values)) out.push(`${t}.${c}: values changed`);
      }
  }
  const afterSeq = lower(after.seq);
  for (const [t, seq] of Object.entries(before.seq)) {
    const a = afterSeq[t.toLowerCase()];
    if (a !== undefined && a < seq) out.push(`sqlite_sequence ${t}: ${seq} before, ${a} after`);
  }
  if (after.fkViolations > before.fkViolations) out.push(`foreign_key_check: ${before.fkViolations} rows before, ${after.fkViolations} after`);
  // The schema D1 stores, as corpus.rs judges it against TO; and liteshift, from D1's schema
  // to TO, plans nothing.
  const got = join(tmp, 'got.json');
  writeFileSync(got, JSON.stringify(after.schema.filter((o) => o.sql !== null).map((o) => o.sql)));
  const { differences, replan } = await runJson(SCHEMA_CHECK, [got, toFile]);
  for (const d of differences) out.push(`schema: ${d}`);
  if (replan.length) out.push(`liteshift plans again from D1's schema to TO: ${JSON.stringify(replan)}`);
  return out;
}

// `liteshift diff --for d1` FROM TO: { plan, statements } or { cliError }.
async function script(from, to, values = []) {
  const args = ['diff', '--for', 'd1', '--format', 'json', ...values.flatMap((v) => ['--value', v]), from, to];
  const r = await run(LITESHIFT, args);
  if (r.status !== 0) return { cliError: `liteshift ${args.join(' ')}: exit ${r.status}\n${r.stderr}` };
  const out = JSON.parse(r.stdout);
  const statements = splitSql(out.sql);
  // In sync (a formatting-only change): the script is comments only, nothing to run (the
  // Worker then only reads the snapshot).
  if (statements.length === 0 && !out.in_sync) return { cliError: `an empty script for a plan that is not in sync:\n${out.sql}` };
  return { plan: out.plan, statements };
}

// The script run as one batch: { plan, statements, error, after } (after: the snapshot).
async function migrate(db, s) {
  if (s.cliError) return s;
  const res = await db.send(s.statements, { snapshot: true });
  return { ...s, error: res.ok ? undefined : res.error, after: res.snapshot };
}

// A declared value for the column a guard's (or SQLite's) refusal names, as corpus.rs's
// with_values gives it: a distinct value per row of the column's kind for a new NOT NULL or
// UNIQUE column, the old value (or that where it is NULL) for a kept column that becomes NOT
// NULL; null when the refusal names no such column.
function valueFor(error, before, toColumns) {
  const m = /existing rows violate NOT NULL on (.+)\.([^.;]+); nothing was changed/.exec(error) ?? /UNIQUE constraint failed: ([^.:\s]+)\.([^,:\s]+)/.exec(error);
  if (!m) return null;
  const [, t, c] = m;
  const notNull = error.includes('violate NOT NULL');
  const tt = Object.keys(toColumns).find((x) => x.toLowerCase() === t.toLowerCase());
  const cc = tt && Object.keys(toColumns[tt]).find((x) => x.toLowerCase() === c.toLowerCase());
  if (!cc) return null;
  const ty = toColumns[tt][cc].toUpperCase();
  const distinct = ['INT', 'REAL', 'NUM', 'FLOA', 'DOUB'].some((k) => ty.includes(k)) ? 'rowid' : "'v' || rowid";
  const bt = Object.keys(before.tables).find((x) => x.toLowerCase() === t.toLowerCase());
  const kept = bt && before.tables[bt].columns[c.toLowerCase()];
  if (!kept) return `${tt}.${cc}=${distinct}`;
  return notNull ? `${tt}.${cc}=coalesce(${q(cc)}, ${distinct})` : null;
}

// corpus.rs's UnwritableWhereEnforced: the declared schema's own foreign key cannot work (to a
// table that does not exist, or to parent columns that are not a key), so SQLite refuses every
// write to the table where enforcement stays on: a step of the script (a copy) fails.
const UNWRITABLE = /foreign key mismatch|no such table/;

// Pairs that fail on D1 where corpus.rs's enforced run migrates them, each asserted to fail
// exactly so (remove the entry when it no longer does): known liteshift bugs, not platform
// facts. None now. (zotero v0050 -> v0051 was one until the batch stopped asking SQLite to
// check the foreign keys of a table it cannot check: `itemAttachments` names a column `items`
// does not have, and `pragma_foreign_key_check` raised "foreign key mismatch".)
const KNOWN_FAILURES = {};

const figures = [];

for (const app of apps) {
  test(`corpus on D1: ${app}, every consecutive pair migrated by one batch of \`liteshift diff --for d1\` with seeded rows, no row lost, the schema exactly TO`, { timeout: 600_000 }, async (t) => {
    const versions = versionsOf(app);
    const pairs = versions.length - 1;
    const t0 = Date.now();
    spent.processes = 0;
    const seeds = [];
    await pool(2, versions.map((v, i) => async () => (seeds[i] = await runJson(SEED_SQL, [v, String(ROWS_PER_TABLE)]))));
    const d1Databases = {};
    for (let i = 0; i < pairs; i++) {
      d1Databases[`P${i}`] = `${app}-pair-${i}`;
      d1Databases[`E${i}`] = `${app}-pair-${i}-again`;
    }
    const tmp = mkdtempSync(join(tmpdir(), `liteshift-corpus-${app}-`));
    let mf = null;
    const f = { app, pairs, migrated: 0, withValues: [], values: 0, refusedByData: [], unwritable: [], known: [], failures: [], rowsSeeded: 0, rowsKept: 0, statements: 0 };
    const pair = async (i) => {
      const [from, to] = [versions[i], versions[i + 1]];
      const label = `${app}/${from.split('/').pop()} -> ${to.split('/').pop()}`;
      const dir = mkdtempSync(join(tmp, `${i}-`));
      const fail = (m) => (KNOWN_FAILURES[label]?.test(m) ? f.known.push(`${label}: ${m}`) : f.failures.push(`${label}: ${m}`));
      const db = d1(mf, `P${i}`);
      const before = await db.load(seeds[i].statements);
      // A refusal must leave D1 as it was.
      const unchanged = async (r) => {
        const same = JSON.stringify(r.after) === JSON.stringify(before);
        if (!same) fail(`the batch failed (${r.error}) and left D1 changed`);
        return same;
      };
      let r = await migrate(db, await script(from, to));
      const values = [];
      while (!r.cliError && r.error && !UNWRITABLE.test(r.error) && values.length < 20) {
        const v = valueFor(r.error, before, seeds[i + 1].columns);
        if (!v || values.includes(v)) break;
        if (!(await unchanged(r))) return;
        values.push(v);
        r = await migrate(db, await script(from, to, values));
      }
      if (r.cliError) return fail(r.cliError);
      if (r.error) {
        if (!(await unchanged(r))) return;
        const again = d1(mf, `E${i}`);
        if (UNWRITABLE.test(r.error)) {
          // Which statement fails: the same script, each statement alone on a copy; a step
          // (not a guard), failing with the batch's error.
          await again.load(seeds[i].statements);
          const each = await again.send(r.statements, { each: 'stop' });
          const failed = r.statements[each.failed] ?? '';
          if (each.error !== r.error) return fail(`the batch failed (${r.error}); run statement by statement: ${each.error ?? 'no failure'}`);
          if (/^INSERT INTO "_liteshift_guard"/.test(failed)) return fail(`guard statement failed: ${failed}: ${r.error}`);
          f.unwritable.push(`${label}: statement ${each.failed + 1} of ${r.statements.length} (${failed.slice(0, 80)}…) failed: ${r.error}`);
          return;
        }
        // Refused by the seeded rows, and no declared value helps: the same pair without rows.
        const none = await again.load((await runJson(SEED_SQL, [from, '0'])).statements);
        const r0 = await migrate(again, await script(from, to));
        if (!r0.cliError && r0.error && UNWRITABLE.test(r0.error)) {
          // Without rows the pair reaches a step the app's own foreign key makes fail.
          f.unwritable.push(`${label}: refused with rows (${r.error}); without rows: ${r0.error}`);
          return;
        }
        if (r0.cliError || r0.error) return fail(`refused with rows (${r.error}), and without rows: ${r0.cliError ?? r0.error}`);
        const p0 = await problems(none, r0.after, r0.plan, to, dir);
        if (p0.length) return fail(`without rows: ${p0.join('; ')}`);
        f.refusedByData.push(`${label}: ${r.error}`);
        return;
      }
      const after = r.after;
      const p = await problems(before, after, r.plan, to, dir);
      if (p.length) return fail(`${values.length ? `with --value ${values.join(' --value ')}: ` : ''}${p.join('; ')}`);
      f.migrated++;
      if (values.length) {
        f.withValues.push(`${label}: --value ${values.join(' --value ')}`);
        f.values += values.length;
      }
      f.rowsSeeded += rowsIn(before);
      const kept = new Set(Object.keys(before.tables).map((x) => x.toLowerCase()));
      f.rowsKept += rowsIn(after, (x) => kept.has(x.toLowerCase()));
      f.statements += r.statements.length;
    };
    try {
      mf = new Miniflare({ modules: true, script: WORKER, compatibilityDate: '2025-01-01', host: '127.0.0.1', d1Databases });
      await pool(3, Array.from({ length: pairs }, (_, i) => () => pair(i)));
    } finally {
      if (mf) await mf.dispose();
      rmSync(tmp, { recursive: true, force: true });
    }
    f.ms = Date.now() - t0;
    f.msInProcesses = spent.processes;
    figures.push(f);
    const count = (k) => (Array.isArray(f[k]) ? f[k].length : f[k]);
    t.diagnostic(JSON.stringify(Object.fromEntries(Object.keys(f).map((k) => [k, count(k)]))));
    for (const x of f.withValues) t.diagnostic(`refused by the seeded rows (D1 unchanged), migrated with declared values: ${x}`);
    for (const x of f.refusedByData) t.diagnostic(`refused by the seeded rows (D1 unchanged), migrated exactly without rows: ${x}`);
    for (const x of f.unwritable) t.diagnostic(`its own foreign key makes a table unwritable where enforcement stays on (D1 unchanged): ${x}`);
    for (const x of f.known) t.diagnostic(`KNOWN FAILURE (see KNOWN_FAILURES): ${x}`);
    assert.deepEqual(f.failures, [], `${f.failures.length} failing pair(s):\n${f.failures.join('\n')}`);
    const stale = Object.keys(KNOWN_FAILURES).filter((k) => k.startsWith(`${app}/`) && !f.known.some((x) => x.startsWith(`${k}:`)));
    assert.deepEqual(stale, [], 'a known failure no longer fails so: remove it from KNOWN_FAILURES');
  });
}

test('corpus on D1: every one of the 253 pairs corpus.rs counts was run', { skip }, () => {
  assert.equal(figures.reduce((n, f) => n + f.pairs, 0), 253);
  const sum = (k) => figures.reduce((n, f) => n + (Array.isArray(f[k]) ? f[k].length : f[k]), 0);
  const total = Object.fromEntries(['migrated', 'withValues', 'values', 'refusedByData', 'unwritable', 'known', 'rowsSeeded', 'rowsKept', 'statements', 'ms'].map((k) => [k, sum(k)]));
  test.diagnostic?.(JSON.stringify(total));
  console.log(`# corpus on D1, all apps: ${JSON.stringify(total)}`);
});
