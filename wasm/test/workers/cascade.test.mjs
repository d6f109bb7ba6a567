// Issue 20, measured on D1 through wrangler (`wrangler d1 migrations apply DB --local`, the
// real workerd runtime, state in a temp dir, loopback only): a table rebuild migration of a
// parent, as drizzle-kit writes it, deletes every CASCADE child row (and their children), nulls
// every SET NULL child and fires the children's triggers, and wrangler reports success — D1
// keeps foreign-key enforcement on whatever the file says. Then the same change as
// `liteshift diff --for d1` writes it: every row kept, no trigger fired, the AUTOINCREMENT
// high-water mark kept; and a database that is not at FROM is refused by the batch, unchanged.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..', '..');
const fixture = (name) => readFileSync(join(here, 'fixtures', name), 'utf8');
const FROM = join(here, 'fixtures', 'from.sql');
const TO = join(here, 'fixtures', 'to.sql');
const WRANGLER = join(here, '..', '..', 'node_modules', 'wrangler', 'bin', 'wrangler.js');
// The CLI built in this repository (or LITESHIFT_BIN).
const LITESHIFT = process.env.LITESHIFT_BIN ?? join(root, process.env.CARGO_TARGET_DIR ?? 'target', 'debug', process.platform === 'win32' ? 'liteshift.exe' : 'liteshift');

const noWrangler = existsSync(WRANGLER) ? false : 'SKIPPED: wrangler is not installed (cd wasm && npm ci)';
const noCli = noWrangler || (existsSync(LITESHIFT) ? false : `SKIPPED: build the CLI first (cargo build -p liteshift-cli; looked for ${LITESHIFT})`);
const cliHelp = noCli ? '' : spawnSync(LITESHIFT, ['diff', '--help'], { encoding: 'utf8' }).stdout;
const noForD1 = noCli || (/--for\b/.test(cliHelp) ? false : 'SKIPPED: this liteshift build has no `diff --for d1` yet (rebuild the CLI: cargo build -p liteshift-cli)');
const TIMEOUT = 180_000;

// wrangler, offline: no metrics, no prompts; its own process group, killed with everything it
// started (workerd) if it outlives its time.
function wrangler(cwd, args, ms = 90_000) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WRANGLER, ...args], {
      cwd,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: 'true', NO_COLOR: '1', WRANGLER_LOG_PATH: join(cwd, 'logs') },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {}
      reject(new Error(`wrangler ${args.join(' ')}: no answer in ${ms} ms\n${stdout}\n${stderr}`));
    }, ms);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, output: stdout + stderr });
    });
  });
}

// A wrangler project in a temp dir: one D1 binding, its migrations folder, local state under it.
function project() {
  const dir = mkdtempSync(join(tmpdir(), 'liteshift-d1-'));
  mkdirSync(join(dir, 'migrations'));
  writeFileSync(
    join(dir, 'wrangler.toml'),
    `name = "liteshift-issue-20"
compatibility_date = "2025-01-01"

[[d1_databases]]
binding = "DB"
database_name = "liteshift-test"
database_id = "00000000-0000-0000-0000-000000000020"
migrations_dir = "migrations"
`,
  );
  const local = ['--local', '--persist-to', join(dir, 'state')];
  return {
    dir,
    migration: (name, sql) => writeFileSync(join(dir, 'migrations', name), sql),
    apply: () => wrangler(dir, ['d1', 'migrations', 'apply', 'DB', ...local]),
    // Each statement's rows, through `wrangler d1 execute --json`.
    async query(sql) {
      const r = await wrangler(dir, ['d1', 'execute', 'DB', ...local, '--json', '--command', sql]);
      assert.equal(r.code, 0, `wrangler d1 execute failed:\n${r.output}`);
      return JSON.parse(r.stdout).map((s) => s.results);
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

// What the issue counts, in one wrangler call.
const TABLES = ['parent', 'child_cascade', 'child_setnull', 'grandchild', 'log'];
async function state(p) {
  const [schema, seq, ...rows] = await p.query(
    [
      "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE '\\_cf\\_%' ESCAPE '\\' ORDER BY type, name",
      "SELECT name, seq FROM sqlite_sequence WHERE name <> 'd1_migrations' ORDER BY name",
      ...TABLES.map((t) => `SELECT * FROM ${t} ORDER BY rowid`),
    ].join(';\n'),
  );
  const s = { schema, seq: Object.fromEntries(seq.map((r) => [r.name, r.seq])) };
  TABLES.forEach((t, i) => (s[t] = rows[i]));
  return s;
}
const count = (s) => Object.fromEntries(TABLES.map((t) => [t, s[t].length]));

const INIT = fixture('from.sql') + '\n' + fixture('seed.sql');
const SEEDED = { parent: 3, child_cascade: 5, child_setnull: 4, grandchild: 6, log: 0 };

test('drizzle-style rebuild of a parent on D1 (wrangler d1 migrations apply --local): every CASCADE child and grandchild row deleted, SET NULL children nulled, triggers fired, and wrangler reports success', { skip: noWrangler, timeout: TIMEOUT }, async () => {
  const p = project();
  try {
    p.migration('0001_init.sql', INIT);
    const init = await p.apply();
    assert.equal(init.code, 0, init.output);
    const before = await state(p);
    assert.deepEqual(count(before), SEEDED);
    assert.deepEqual(before.seq, { parent: 4 });

    // What drizzle-kit generates for a changed column type of a SQLite table.
    p.migration('0002_parent_name_varchar.sql', fixture('drizzle_rebuild.sql'));
    const run = await p.apply();
    assert.equal(run.code, 0, `wrangler reported a failure:\n${run.output}`);
    assert.match(run.output, /0002_parent_name_varchar\.sql\s*│\s*✅/, run.output);

    const after = await state(p);
    assert.deepEqual(count(after), { parent: 3, child_cascade: 0, child_setnull: 4, grandchild: 0, log: 5 + 6 + 3 });
    assert.deepEqual(after.child_setnull.map((r) => r.parent_id), [null, null, null, null], 'every SET NULL child lost its parent');
    assert.deepEqual(after.parent, before.parent, 'the parent rows themselves are copied');
    // The AUTOINCREMENT high-water mark: the old table's sqlite_sequence row went with it, and
    // the copy's explicit ids leave max(id).
    assert.deepEqual(after.seq, { parent: 3 });
    // PRAGMA foreign_keys=OFF in the file changed nothing.
    assert.deepEqual((await p.query('PRAGMA foreign_keys'))[0], [{ foreign_keys: 1 }]);
  } finally {
    p.remove();
  }
});

test("`liteshift diff` without --for on D1: refused before any change (the default script's BEGIN; --no-transaction's temp guard table), every row in place", { skip: noCli, timeout: TIMEOUT }, async () => {
  const p = project();
  try {
    p.migration('0001_init.sql', INIT);
    assert.equal((await p.apply()).code, 0);
    const before = await state(p);
    for (const [flags, refusal] of [
      [[], /please use the state\.storage\.transaction\(\)/],
      [['--no-transaction'], /not authorized/],
    ]) {
      const script = spawnSync(LITESHIFT, ['diff', ...flags, FROM, TO], { encoding: 'utf8' });
      assert.equal(script.status, 0, script.stderr);
      p.migration('0002_parent_name_varchar.sql', script.stdout);
      const run = await p.apply();
      assert.notEqual(run.code, 0, `wrangler applied the script of diff ${flags}:\n${run.output}`);
      assert.match(run.output, refusal, run.output);
      assert.deepEqual(await state(p), before, `diff ${flags}: nothing changed`);
    }
  } finally {
    p.remove();
  }
});

test('`liteshift diff --for d1` on D1 (wrangler d1 migrations apply --local): every child row kept, no trigger fired, the AUTOINCREMENT high-water mark kept, the schema as declared', { skip: noForD1, timeout: TIMEOUT }, async () => {
  const p = project();
  try {
    p.migration('0001_init.sql', INIT);
    assert.equal((await p.apply()).code, 0);
    const before = await state(p);
    assert.deepEqual(count(before), SEEDED);

    const script = spawnSync(LITESHIFT, ['diff', '--for', 'd1', FROM, TO], { encoding: 'utf8' });
    assert.equal(script.status, 0, script.stderr);
    assert.doesNotMatch(script.stdout, /^\s*(BEGIN|COMMIT|SAVEPOINT|RELEASE)\b|PRAGMA foreign_keys\b/im, 'no transaction statement, no PRAGMA foreign_keys (a trigger body\'s BEGIN starts no line)');
    p.migration('0002_parent_name_varchar.sql', script.stdout);
    const run = await p.apply();
    assert.equal(run.code, 0, `wrangler reported a failure:\n${run.output}\n--- the script:\n${script.stdout}`);

    const after = await state(p);
    assert.deepEqual(count(after), SEEDED, 'no row lost, no trigger fired');
    for (const t of TABLES) assert.deepEqual(after[t], before[t], `${t}: every row unchanged`);
    assert.deepEqual(after.seq, { parent: 4 }, 'the AUTOINCREMENT high-water mark is kept');
    // The declared schema, as declared: what a fresh D1 database at TO stores.
    const fresh = project();
    try {
      fresh.migration('0001_to.sql', fixture('to.sql'));
      assert.equal((await fresh.apply()).code, 0);
      const want = (await fresh.query("SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE '\\_cf\\_%' ESCAPE '\\' AND name NOT IN ('sqlite_sequence', 'd1_migrations') ORDER BY type, name"))[0];
      assert.deepEqual(after.schema.filter((o) => !['sqlite_sequence', 'd1_migrations'].includes(o.name)), want);
    } finally {
      fresh.remove();
    }
    // The next id is 5, not 4.
    assert.deepEqual((await p.query("INSERT INTO parent (name) VALUES ('eve') RETURNING id"))[0], [{ id: 5 }]);
  } finally {
    p.remove();
  }
});

test('`liteshift diff --for d1` on a D1 database that is not at FROM (a column missing): the batch stops with liteshift\'s guard message, the database unchanged', { skip: noForD1, timeout: TIMEOUT }, async () => {
  const p = project();
  try {
    // parent without its name column: not the schema the script was planned from.
    const drifted = INIT.replace(/,\n  name TEXT NOT NULL\n\);/, '\n);').replace("INSERT INTO parent (name) VALUES ('ada'), ('bob'), ('cy'), ('dee');", 'INSERT INTO parent DEFAULT VALUES; INSERT INTO parent DEFAULT VALUES; INSERT INTO parent DEFAULT VALUES; INSERT INTO parent DEFAULT VALUES;');
    assert.notEqual(drifted, INIT);
    p.migration('0001_init.sql', drifted);
    const init = await p.apply();
    assert.equal(init.code, 0, init.output);
    const before = await state(p);
    assert.deepEqual(count(before), SEEDED);

    const script = spawnSync(LITESHIFT, ['diff', '--for', 'd1', FROM, TO], { encoding: 'utf8' });
    assert.equal(script.status, 0, script.stderr);
    p.migration('0002_parent_name_varchar.sql', script.stdout);
    const run = await p.apply();
    assert.notEqual(run.code, 0, `wrangler applied it:\n${run.output}`);
    assert.match(run.output, /CHECK constraint failed: liteshift: the database is not at the schema this migration starts from/, `not liteshift's guard:\n${run.output}`);
    assert.doesNotMatch(run.output, /no such column/, 'the guard stops it before any step');
    assert.deepEqual(await state(p), before, 'nothing changed');
  } finally {
    p.remove();
  }
});
