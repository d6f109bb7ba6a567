// drizzle-kit, measured on D1 (wrangler d1 migrations apply --local: the real workerd runtime,
// state in a temp dir, loopback only). A drizzle schema — parent, a CASCADE child, a SET NULL
// child, a CASCADE grandchild — at v1, rows in it, then v2 makes parent.name NOT NULL, a change
// SQLite can only make by rebuilding the table. `drizzle-kit generate` writes that rebuild
// (PRAGMA foreign_keys=OFF, CREATE __new_parent, copy, DROP parent, RENAME, PRAGMA
// foreign_keys=ON); D1 ignores the PRAGMA, so DROP TABLE parent deletes every CASCADE child and
// grandchild row and nulls every SET NULL child, and wrangler reports success. The same change
// written by `liteshift diff --for d1` from the same v1 database state keeps every row.
//
// The pinned devDependencies drizzle-kit and drizzle-orm (wasm/package.json) and the CLI
// (cargo build -p liteshift-cli) are needed; the test says SKIPPED without them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..', '..');
const NODE_MODULES = join(here, '..', '..', 'node_modules');
const WRANGLER = join(NODE_MODULES, 'wrangler', 'bin', 'wrangler.js');
const DRIZZLE_KIT = join(NODE_MODULES, 'drizzle-kit', 'bin.cjs');
const LITESHIFT = process.env.LITESHIFT_BIN ?? join(root, process.env.CARGO_TARGET_DIR ?? 'target', 'debug', process.platform === 'win32' ? 'liteshift.exe' : 'liteshift');
const version = (pkg) => JSON.parse(readFileSync(join(NODE_MODULES, pkg, 'package.json'), 'utf8')).version;

const noWrangler = existsSync(WRANGLER) ? false : 'SKIPPED: wrangler is not installed (cd wasm && npm ci)';
const noDrizzle = noWrangler || (existsSync(DRIZZLE_KIT) && existsSync(join(NODE_MODULES, 'drizzle-orm')) ? false : 'SKIPPED: drizzle-kit and drizzle-orm are not installed (cd wasm && npm ci)');
const noCli = noDrizzle || (existsSync(LITESHIFT) ? false : `SKIPPED: build the CLI first (cargo build -p liteshift-cli; looked for ${LITESHIFT})`);
const TIMEOUT = 240_000;

// A child process in its own process group, killed with everything it started if it outlives
// its time: { code, stdout, stderr, output }.
function start(args, cwd, env, ms = 90_000) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {}
      reject(new Error(`${args.join(' ')}: no answer in ${ms} ms\n${stdout}\n${stderr}`));
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

// The drizzle schema: v1, and v2 where parent.name becomes NOT NULL.
const schema = (nameNotNull) => `import { sqliteTable, integer, text } from 'drizzle-orm/sqlite-core';
export const parent = sqliteTable('parent', {
  id: integer('id').primaryKey({ autoIncrement: true }),
  name: text('name')${nameNotNull ? '.notNull()' : ''},
});
export const childCascade = sqliteTable('child_cascade', {
  id: integer('id').primaryKey(),
  parentId: integer('parent_id').notNull().references(() => parent.id, { onDelete: 'cascade' }),
  note: text('note'),
});
export const childSetNull = sqliteTable('child_setnull', {
  id: integer('id').primaryKey(),
  parentId: integer('parent_id').references(() => parent.id, { onDelete: 'set null' }),
  note: text('note'),
});
export const grandchild = sqliteTable('grandchild', {
  id: integer('id').primaryKey(),
  childId: integer('child_id').notNull().references(() => childCascade.id, { onDelete: 'cascade' }),
  note: text('note'),
});
`;

// A wrangler project in a temp dir: one D1 binding whose migrations folder is drizzle-kit's
// output folder, local state under it.
function project() {
  const dir = mkdtempSync(join(tmpdir(), 'liteshift-drizzle-'));
  mkdirSync(join(dir, 'drizzle'));
  writeFileSync(
    join(dir, 'wrangler.toml'),
    `name = "liteshift-drizzle"
compatibility_date = "2025-01-01"

[[d1_databases]]
binding = "DB"
database_name = "liteshift-test"
database_id = "00000000-0000-0000-0000-000000000021"
migrations_dir = "drizzle"
`,
  );
  writeFileSync(join(dir, 'drizzle.config.mjs'), "export default { dialect: 'sqlite', schema: './schema.ts', out: './drizzle' };\n");
  const local = ['--local', '--persist-to', join(dir, 'state')];
  const wrangler = (args) => start([WRANGLER, ...args], dir, { WRANGLER_SEND_METRICS: 'false', CI: 'true', NO_COLOR: '1', WRANGLER_LOG_PATH: join(dir, 'logs') });
  return {
    dir,
    migrations: () => readdirSync(join(dir, 'drizzle')).filter((f) => f.endsWith('.sql')).sort(),
    migration: (name) => readFileSync(join(dir, 'drizzle', name), 'utf8'),
    // `drizzle-kit generate --name NAME` for this schema: the new migration's file name.
    async generate(nameNotNull, name) {
      writeFileSync(join(dir, 'schema.ts'), schema(nameNotNull));
      const had = new Set(this.migrations());
      const r = await start([DRIZZLE_KIT, 'generate', '--config', 'drizzle.config.mjs', '--name', name], dir, { NODE_PATH: NODE_MODULES, NO_COLOR: '1' });
      assert.equal(r.code, 0, `drizzle-kit generate failed:\n${r.output}`);
      const made = this.migrations().filter((f) => !had.has(f));
      assert.equal(made.length, 1, `drizzle-kit generate made ${made.join(', ')}:\n${r.output}`);
      return made[0];
    },
    write: (name, sql) => writeFileSync(join(dir, 'drizzle', name), sql),
    apply: () => wrangler(['d1', 'migrations', 'apply', 'DB', ...local]),
    // Each statement's rows, through `wrangler d1 execute --json`.
    async query(sql) {
      const r = await wrangler(['d1', 'execute', 'DB', ...local, '--json', '--command', sql]);
      assert.equal(r.code, 0, `wrangler d1 execute failed:\n${r.output}`);
      return JSON.parse(r.stdout).map((s) => s.results);
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

// The rows, as between v1 and v2 (parent 4 deleted: the AUTOINCREMENT mark is 4, max(id) 3).
const SEED = `INSERT INTO parent (name) VALUES ('ada'), ('bob'), ('cy'), ('dee');
DELETE FROM parent WHERE id = 4;
INSERT INTO child_cascade (id, parent_id, note) VALUES (1, 1, 'a'), (2, 1, 'b'), (3, 2, 'c'), (4, 3, 'd'), (5, 3, 'e');
INSERT INTO child_setnull (id, parent_id, note) VALUES (1, 1, 'w'), (2, 2, 'x'), (3, 3, 'y'), (4, 3, 'z');
INSERT INTO grandchild (id, child_id, note) VALUES (1, 1, 'g1'), (2, 2, 'g2'), (3, 3, 'g3'), (4, 4, 'g4'), (5, 5, 'g5'), (6, 5, 'g6');`;
const SEEDED = { parent: 3, child_cascade: 5, child_setnull: 4, grandchild: 6 };
const TABLES = Object.keys(SEEDED);

async function state(p) {
  const [schemaRows, seq, ...rows] = await p.query(
    [
      "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE '\\_cf\\_%' ESCAPE '\\' AND name NOT IN ('sqlite_sequence', 'd1_migrations') ORDER BY type, name",
      "SELECT name, seq FROM sqlite_sequence WHERE name <> 'd1_migrations' ORDER BY name",
      ...TABLES.map((t) => `SELECT * FROM ${t} ORDER BY rowid`),
    ].join(';\n'),
  );
  const s = { schema: schemaRows, seq: Object.fromEntries(seq.map((r) => [r.name, r.seq])) };
  TABLES.forEach((t, i) => (s[t] = rows[i]));
  return s;
}
const count = (s) => Object.fromEntries(TABLES.map((t) => [t, s[t].length]));

// v1 by drizzle-kit, applied by wrangler, seeded.
async function atV1(p) {
  const init = await p.generate(false, 'init');
  const r = await p.apply();
  assert.equal(r.code, 0, r.output);
  await p.query(SEED);
  const before = await state(p);
  assert.deepEqual(count(before), SEEDED);
  assert.deepEqual(before.seq, { parent: 4 });
  return { init, before };
}

test(`drizzle-kit ${noDrizzle ? '' : version('drizzle-kit')} on D1: its migration for a parent column made NOT NULL (a table rebuild) deletes every CASCADE child and grandchild row and nulls every SET NULL child, and wrangler reports success`, { skip: noDrizzle, timeout: TIMEOUT }, async () => {
  const p = project();
  try {
    const { before } = await atV1(p);
    const change = await p.generate(true, 'parent_name_not_null');
    const sql = p.migration(change);
    // What drizzle-kit writes: the rebuild inside PRAGMA foreign_keys=OFF/ON, the old table dropped.
    assert.match(sql, /^PRAGMA foreign_keys=OFF;/, sql);
    assert.match(sql, /CREATE TABLE `__new_parent`[\s\S]*INSERT INTO `__new_parent`[\s\S]*DROP TABLE `parent`;[\s\S]*ALTER TABLE `__new_parent` RENAME TO `parent`;[\s\S]*PRAGMA foreign_keys=ON;/, sql);
    const run = await p.apply();
    assert.equal(run.code, 0, `wrangler reported a failure:\n${run.output}`);
    assert.match(run.output, new RegExp(`${change.replace('.', '\\.')}\\s*│\\s*✅`), run.output);

    const after = await state(p);
    assert.deepEqual(count(after), { parent: 3, child_cascade: 0, child_setnull: 4, grandchild: 0 }, 'every CASCADE child and grandchild deleted');
    assert.deepEqual(after.parent, before.parent, 'the parent rows themselves are copied');
    assert.deepEqual(after.child_setnull.map((r) => r.parent_id), [null, null, null, null], 'every SET NULL child lost its parent');
    // The old table's sqlite_sequence row went with it; the copy's explicit ids leave max(id).
    assert.deepEqual(after.seq, { parent: 3 });
    assert.deepEqual((await p.query('PRAGMA foreign_keys'))[0], [{ foreign_keys: 1 }], 'PRAGMA foreign_keys=OFF in the file changed nothing');
  } finally {
    p.remove();
  }
});

// The SQLite workerd bundles for D1 here (miniflare 4.20260730.0: source id 2024-10-21, 3.47.0;
// D1 refuses sqlite_version(), and refuses `iif(x, y)` (3.48) and `unistr()` (3.50)).
const D1_SQLITE = '3.47.0';

// The migration `liteshift diff --for d1 [ARGS] FROM TO` writes from drizzle-kit's v1 to
// drizzle-kit's v2, in p's migrations folder: { script, fresh } (fresh: a project whose
// migrations folder holds drizzle-kit's v2 from nothing — the declared v2 schema).
async function liteshiftMigration(p, init, args) {
  const fresh = project();
  const v2 = await fresh.generate(true, 'v2');
  const [from, to] = [join(p.dir, 'from.sql'), join(p.dir, 'to.sql')];
  copyFileSync(join(p.dir, 'drizzle', init), from);
  copyFileSync(join(fresh.dir, 'drizzle', v2), to);
  const script = spawnSync(LITESHIFT, ['diff', '--for', 'd1', ...args, from, to], { encoding: 'utf8' });
  assert.equal(script.status, 0, script.stderr);
  assert.doesNotMatch(script.stdout, /^\s*(BEGIN|COMMIT|SAVEPOINT|RELEASE)\b|PRAGMA foreign_keys\b/im);
  p.write('0001_parent_name_not_null.sql', script.stdout);
  return { script: script.stdout, fresh };
}

test(`\`liteshift diff --for d1\` on D1 (planned for D1's SQLite ${D1_SQLITE}), the same change from the same v1 state (drizzle-kit's v1, the rows): every row kept, the AUTOINCREMENT mark kept, the schema drizzle-kit declares for v2`, { skip: noCli, timeout: TIMEOUT }, async () => {
  const p = project();
  let fresh = null;
  try {
    const { init, before } = await atV1(p);
    const m = await liteshiftMigration(p, init, []);
    fresh = m.fresh;
    assert.match(m.script, new RegExp(`^-- liteshift plan for SQLite ${D1_SQLITE.replaceAll('.', '\\.')}`, 'm'), m.script);
    assert.doesNotMatch(m.script, /ALTER COLUMN/, 'no ALTER COLUMN (SQLite 3.53+), which D1 cannot parse');
    // parent is rebuilt, and with it every table that references it (foreign keys stay on).
    assert.match(m.script, /ALTER TABLE "parent" RENAME TO "_liteshift_old_parent"/, m.script);
    assert.match(m.script, /ALTER TABLE "grandchild" RENAME TO/, m.script);
    const run = await p.apply();
    assert.equal(run.code, 0, `wrangler reported a failure:\n${run.output}\n--- the script:\n${m.script}`);

    const after = await state(p);
    assert.deepEqual(count(after), SEEDED, 'no row lost');
    for (const t of TABLES) assert.deepEqual(after[t], before[t], `${t}: every row unchanged`);
    assert.deepEqual(after.seq, { parent: 4 }, 'the AUTOINCREMENT high-water mark is kept');
    // The schema as a fresh D1 database at drizzle-kit's v2 stores it.
    assert.equal((await fresh.apply()).code, 0);
    assert.deepEqual(after.schema, (await state(fresh)).schema);
  } finally {
    p.remove();
    fresh?.remove();
  }
});

