// Node tests of the npm package against real sql.js and the official @sqlite.org/sqlite-wasm.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import initSqlJs from 'sql.js';
import sqlite3InitModule from '@sqlite.org/sqlite-wasm';
import { OLD, ROWS, NEW } from '../browser/schemas.mjs';

const ls = await import('../pkg/index.node.js');
const lb = await import('../pkg/bytes.node.js');
const SQL = await initSqlJs();
const sqlite3 = await sqlite3InitModule();

const sqljsDb = () => { const db = new SQL.Database(); db.exec(OLD + ROWS); db.exec('PRAGMA foreign_keys = ON'); return db; };
const oo1Db = () => { const db = new sqlite3.oo1.DB(':memory:', 'c'); db.exec(OLD + ROWS); db.exec('PRAGMA foreign_keys = ON'); return db; };
// An oo1.DB does not lead back to its sqlite3 module: migrate, plan and diff take it in the
// options (liteshift opens its scratch databases there).
const withModule = {
  migrate: (db, sql, o = {}) => ls.migrate(db, sql, { sqlite3, ...o }),
  plan: (db, sql, o = {}) => ls.plan(db, sql, { sqlite3, ...o }),
  diff: (db, a, b, o = {}) => ls.diff(db, a, b, { sqlite3, ...o }),
};
const hosts = {
  'sql.js': { open: sqljsDb, one: (db, sql) => db.exec(sql)[0]?.values[0][0], ls },
  'sqlite-wasm oo1': { open: oo1Db, one: (db, sql) => db.selectValue(sql), ls: withModule },
};

for (const [name, h] of Object.entries(hosts)) {
  test(`${name}: a rebuild keeps child rows (ON DELETE CASCADE, foreign_keys on), view, trigger and AUTOINCREMENT`, async () => {
    const db = h.open();
    const report = await h.ls.migrate(db, NEW);
    assert.ok(report.stepsApplied > 0);
    assert.equal(report.foreignKeysToggled, true);
    assert.equal(h.one(db, 'SELECT count(*) FROM child'), 3);
    assert.equal(h.one(db, 'SELECT count(*) FROM parent_names'), 2);
    assert.equal(h.one(db, "SELECT count(*) FROM sqlite_schema WHERE type = 'trigger' AND name = 'parent_added'"), 1);
    assert.equal(h.one(db, "SELECT seq FROM sqlite_sequence WHERE name = 'events'"), 100);
    assert.equal(h.one(db, 'PRAGMA foreign_keys'), 1, 'foreign keys restored');
    assert.equal(h.one(db, "SELECT count(*) FROM sqlite_schema WHERE name LIKE '%liteshift%'"), 0);
    db.exec("INSERT INTO parent(name) VALUES ('c')");
    assert.equal(h.one(db, 'SELECT max(id) FROM events'), 101, 'AUTOINCREMENT continues above the high-water mark');
    const again = await h.ls.migrate(db, NEW);
    assert.equal(again.stepsApplied, 0, 'calling migrate again does nothing');
  });

  test(`${name}: refusals leave the database unchanged`, async () => {
    const db = h.open();
    const before = name === 'sql.js' ? db.export() : null;
    const dump = () => h.one(db, "SELECT group_concat(sql, ';') FROM sqlite_schema") + '|' + h.one(db, "SELECT group_concat(id || note) FROM child");
    const d0 = dump();
    await assert.rejects(h.ls.migrate(db, 'CREATE TABLE parent(id INTEGER PRIMARY KEY, name TEXT);'), (e) => e.code === 'data_loss_refused' && e.steps.length === 2);
    db.exec("INSERT INTO parent(id, name) VALUES (3, NULL)");
    const d1 = dump();
    await assert.rejects(h.ls.migrate(db, NEW), (e) => {
      assert.equal(e.code, 'data_violates_schema');
      const v = e.violations.find((x) => x.constraint === 'NOT NULL');
      assert.equal(`${v.table}.${v.column}`, 'parent.name');
      assert.equal(v.count, 1);
      assert.match(e.message, /rowid 3/);
      return true;
    });
    assert.equal(dump(), d1);
    assert.notEqual(d0, undefined);
    if (before) {
      db.exec('DELETE FROM parent WHERE id = 3');
      assert.deepEqual(db.export(), db.export());
    }
  });
}

test('sql.js: a refused migration leaves the exported bytes identical', async () => {
  const db = sqljsDb();
  db.exec("INSERT INTO parent(id, name) VALUES (3, NULL)");
  const before = db.export();
  const d2 = new SQL.Database(before);
  d2.exec('PRAGMA foreign_keys = ON');
  await assert.rejects(ls.migrate(d2, NEW), (e) => e.code === 'data_violates_schema');
  assert.deepEqual(Buffer.from(d2.export()), Buffer.from(before));
});

test('migrateBytes round trip with sql.js export()', () => {
  const db = sqljsDb();
  const { bytes, report } = lb.migrateBytes(db.export(), NEW);
  assert.ok(bytes instanceof Uint8Array);
  assert.ok(report.stepsApplied > 0);
  const back = new SQL.Database(bytes);
  assert.equal(back.exec('SELECT count(*) FROM child')[0].values[0][0], 3);
  assert.equal(back.exec("SELECT seq FROM sqlite_sequence WHERE name = 'events'")[0].values[0][0], 100);
  const again = lb.migrateBytes(bytes, NEW);
  assert.equal(again.report.stepsApplied, 0);
  assert.throws(() => lb.migrateBytes(new TextEncoder().encode('not a database, just text'), NEW), (e) => e.code === 'database_error');
});

test('liteshift/bytes: plan from SQL text and from catalog rows of a host', () => {
  const fromSql = lb.plan(OLD, NEW);
  const db = sqljsDb();
  const res = db.exec('SELECT type, name, tbl_name, sql FROM sqlite_schema');
  const rows = res[0].values.map(([type, name, tbl_name, sql]) => ({ type, name, tbl_name, sql }));
  const fromRows = lb.plan(rows, NEW);
  assert.deepEqual(fromRows.steps, fromSql.steps);
  assert.ok(fromSql.steps.every((s) => typeof s.sql === 'string' && typeof s.destructive === 'boolean' && typeof s.rewritesRows === 'boolean' && typeof s.reason === 'string'));
  assert.match(fromSql.sql, /BEGIN IMMEDIATE/);
  assert.equal(lb.plan(NEW, NEW).inSync, true);
  const old = lb.plan(OLD, NEW, { sqliteVersion: '3.40.0' });
  assert.equal(old.sqliteVersion, '3.40.0');
  // A platform release names the SQLite it ships.
  assert.equal(lb.plan(OLD, NEW, { sqliteVersion: 'android-28' }).sqliteVersion, '3.22.0');
  assert.throws(() => lb.plan(OLD, NEW, { sqliteVersion: 'android-19' }), /from 21 on/);
  assert.match(lb.sqliteVersion(), /^3\./);
});

for (const [name, h] of Object.entries(hosts)) {
  test(`${name}: plan(db) and diff(db) run on the host's SQLite and agree with liteshift/bytes`, () => {
    const db = h.open();
    const version = h.one(db, 'SELECT sqlite_version()');
    const p = h.ls.plan(db, NEW);
    assert.equal(p.sqliteVersion, version, "the host's version decides native ALTER vs rebuild");
    const offline = lb.plan(OLD, NEW, { sqliteVersion: version });
    // The same steps; only the host's plan knows how many rows each would touch.
    const sizeless = (steps) => steps.map(({ cost: { rows, bytes, ...cost }, ...s }) => ({ ...s, cost }));
    assert.deepEqual(sizeless(p.steps), offline.steps);
    assert.deepEqual(h.ls.diff(db, OLD, NEW).steps, offline.steps);
    assert.ok(p.steps.some((s) => s.cost.rows > 0), 'estimates from the host');
    assert.equal(h.one(db, "SELECT count(*) FROM sqlite_schema WHERE name = 'parent_names'"), 1, 'plan only reads');
  });
}

test('errors are Errors with a stable code and a position', async () => {
  const db = sqljsDb();
  assert.throws(() => ls.plan(db, 'CREATE TABLE t(a);\nCREATE TABLE u(b,,);'), (e) => e instanceof Error && e.code === 'schema_error' && e.line === 2 && e.column > 0);
  assert.throws(() => ls.plan(db, 'CREATE TABLE t(a);', { allowDataLos: true }), (e) => e.code === 'invalid_option');
  assert.throws(() => lb.plan('CREATE TABLE t(a);', 'CREATE TABLE t(a);\nCREATE TABLE u(b,,);'), (e) => e.code === 'schema_error' && e.line === 2);
  await assert.rejects(ls.migrate({}, NEW), (e) => e.code === 'unsupported_host');
  // An oo1.DB without its module: said before anything runs.
  assert.throws(() => ls.plan(oo1Db(), NEW), (e) => e.code === 'unsupported_host' && /\{ sqlite3 \}/.test(e.message));
  // An adapter in the old shape (object rows, no scratch) is told what changed.
  await assert.rejects(ls.migrate({ exec() {}, query() { return []; } }, NEW), (e) => e.code === 'unsupported_host' && /scratch\(\)/.test(e.message));
});

test('online rebuilds are not in the npm package: online: true is a clear invalid_option error, online: false is accepted', async () => {
  const db = sqljsDb();
  const before = db.exec("SELECT sql FROM sqlite_schema ORDER BY name")[0].values;
  const refused = (name) => (e) => e instanceof ls.LiteshiftError && e.code === 'invalid_option'
    && e.message.startsWith(`${name}: the npm package has no online rebuilds`) && /omit it/.test(e.message);
  await assert.rejects(ls.migrate(db, NEW, { online: true }), refused('online'));
  assert.throws(() => ls.plan(db, NEW, { online: true }), refused('online'));
  await assert.rejects(ls.migrate(db, NEW, { online: true, onlineChunkMs: 10 }), (e) => e.code === 'invalid_option');
  assert.throws(() => ls.plan(db, NEW, { onlinePauseMs: 0 }), refused('onlinePauseMs'));
  // liteshift/bytes (its own SQLite) neither.
  assert.throws(() => lb.migrateBytes(db.export(), NEW, { online: true }), refused('online'));
  assert.deepEqual(db.exec("SELECT sql FROM sqlite_schema ORDER BY name")[0].values, before, 'nothing ran');
  const report = await ls.migrate(db, NEW, { online: false });
  assert.ok(report.stepsApplied > 0);
  assert.equal(report.plan.online, false);
});

// Virtual tables: the declared schema is loaded into a scratch database of the host's SQLite,
// which has the host's modules (liteshift/bytes models them with stand-ins).
const FTS_OLD = (mod) => `
CREATE TABLE notes(id INTEGER PRIMARY KEY, title TEXT, body TEXT);
CREATE VIRTUAL TABLE notes_fts USING ${mod}(title, body);
CREATE TRIGGER notes_ai AFTER INSERT ON notes BEGIN INSERT INTO notes_fts(rowid, title, body) VALUES (new.id, new.title, new.body); END;
CREATE VIEW note_titles AS SELECT rowid AS id, title FROM notes_fts;
`;
// notes is rebuilt (NOT NULL + collation); the virtual table, its trigger and view stay.
const FTS_NEW = (mod, extra = '') => `
CREATE TABLE notes(id INTEGER PRIMARY KEY, title TEXT NOT NULL COLLATE NOCASE, body TEXT);
CREATE VIRTUAL TABLE notes_fts USING ${mod}(title, body);
CREATE TRIGGER notes_ai AFTER INSERT ON notes BEGIN INSERT INTO notes_fts(rowid, title, body) VALUES (new.id, new.title, new.body); END;
CREATE VIEW note_titles AS SELECT rowid AS id, title FROM notes_fts;
${extra}`;
const FTS_ROWS = "INSERT INTO notes(id, title, body) VALUES (1, 'apples', 'red fruit'), (2, 'pears', 'green fruit');";
const ftsHosts = {
  'sql.js (FTS4)': { mod: 'fts4', open: () => { const db = new SQL.Database(); db.exec(FTS_OLD('fts4') + FTS_ROWS); return db; }, one: hosts['sql.js'].one, ls },
  'sqlite-wasm oo1 (FTS5 + R*Tree)': {
    mod: 'fts5', extra: 'CREATE VIRTUAL TABLE boxes USING rtree(id, minX, maxX);',
    open: () => { const db = new sqlite3.oo1.DB(':memory:', 'c'); db.exec(FTS_OLD('fts5') + 'CREATE VIRTUAL TABLE boxes USING rtree(id, minX, maxX); INSERT INTO boxes VALUES (1, 0, 10);' + FTS_ROWS); return db; },
    one: hosts['sqlite-wasm oo1'].one,
    ls: withModule,
  },
};
for (const [name, h] of Object.entries(ftsHosts)) {
  test(`${name}: virtual tables of the host's modules survive a rebuild untouched`, async () => {
    const db = h.open();
    const shadow = () => h.one(db, "SELECT group_concat(name, ',') FROM (SELECT name FROM sqlite_schema WHERE name LIKE 'notes_fts_%' OR name LIKE 'boxes_%' ORDER BY name)");
    const shadowBefore = shadow();
    const target = FTS_NEW(h.mod, h.extra ?? '');
    const p = h.ls.plan(db, target);
    assert.ok(p.steps.length > 0);
    assert.ok(p.steps.every((s) => !/notes_fts|boxes/.test(s.sql) || /TRIGGER|VIEW/.test(s.sql)), p.sql);
    const report = await h.ls.migrate(db, target);
    assert.ok(report.stepsApplied > 0);
    assert.equal(shadow(), shadowBefore, 'shadow tables untouched');
    assert.equal(h.one(db, "SELECT count(*) FROM notes_fts WHERE notes_fts MATCH 'fruit'"), 2);
    db.exec("INSERT INTO notes(id, title, body) VALUES (3, 'plums', 'purple fruit')");
    assert.equal(h.one(db, "SELECT count(*) FROM notes_fts WHERE notes_fts MATCH 'purple'"), 1, 'the trigger still feeds the index');
    assert.equal(h.one(db, 'SELECT count(*) FROM note_titles'), 3);
    if (h.extra) assert.equal(h.one(db, 'SELECT count(*) FROM boxes WHERE minX <= 5 AND maxX >= 5'), 1);
    assert.equal((await h.ls.migrate(db, target)).stepsApplied, 0, 'in sync afterwards');
    // A changed virtual table is recreated from its declaration by the host.
    const changed = target.replace(`USING ${h.mod}(title, body)`, `USING ${h.mod}(title, body, tokenize=porter)`);
    await h.ls.migrate(db, changed, { allowDataLoss: true });
    assert.match(h.one(db, "SELECT sql FROM sqlite_schema WHERE name = 'notes_fts'"), /porter/);
  });
}

test('migrateBytes refuses a database that uses a module its own SQLite lacks, bytes unchanged', () => {
  const db = new sqlite3.oo1.DB(':memory:', 'c');
  db.exec(FTS_OLD('fts5') + FTS_ROWS);
  const bytes = sqlite3.capi.sqlite3_js_db_export(db);
  const copy = Uint8Array.from(bytes);
  assert.throws(() => lb.migrateBytes(bytes, FTS_NEW('fts5')), (e) => e instanceof Error && /fts5/.test(e.message) && /migrate\(db/.test(e.message));
  assert.deepEqual(bytes, copy);
});

test('migrateBytes: a database whose virtual table the target drops is refused the same way', () => {
  const db = new sqlite3.oo1.DB(':memory:', 'c');
  db.exec(FTS_OLD('fts5') + FTS_ROWS);
  const bytes = sqlite3.capi.sqlite3_js_db_export(db);
  const copy = Uint8Array.from(bytes);
  const target = 'CREATE TABLE notes(id INTEGER PRIMARY KEY, title TEXT, body TEXT);';
  assert.throws(() => lb.migrateBytes(bytes, target, { allowDataLoss: true }), (e) => e instanceof Error && /fts5/.test(e.message) && /migrate\(db/.test(e.message));
  assert.deepEqual(bytes, copy);
});

test('sqlite-wasm (built with SQLITE_DQS=0) rejects a double-quoted literal in the declared schema up front, with its line', async () => {
  const db = new sqlite3.oo1.DB(':memory:', 'c');
  db.exec("CREATE TABLE memo(id INTEGER PRIMARY KEY, kind TEXT); INSERT INTO memo(kind) VALUES ('a');");
  const target = 'CREATE TABLE memo(id INTEGER PRIMARY KEY,\n  kind TEXT CHECK (kind <> "x"));';
  await assert.rejects(ls.migrate(db, target, { sqlite3 }), (e) => e.code === 'schema_error' && e.line === 2 && /no such column: "x"/.test(e.message));
  assert.equal(db.selectValue("SELECT sql FROM sqlite_schema WHERE name = 'memo'"), 'CREATE TABLE memo(id INTEGER PRIMARY KEY, kind TEXT)');
  // sql.js (DQS on) takes the same declaration as SQLite does there: a string literal.
  const s = new SQL.Database();
  s.exec("CREATE TABLE memo(id INTEGER PRIMARY KEY, kind TEXT); INSERT INTO memo(kind) VALUES ('a');");
  assert.ok((await ls.migrate(s, target)).stepsApplied > 0);
});

test('a custom adapter sees the documented sequence, and a failing host read rolls back', async () => {
  const db = new sqlite3.oo1.DB(':memory:', 'c');
  db.exec(OLD + ROWS + 'PRAGMA foreign_keys = ON;');
  const log = [];
  const adapter = (d, tag, failOn) => ({
    exec: (sql) => { log.push(`${tag}: ${sql}`); d.exec(sql); },
    query: (sql) => { log.push(`${tag}: ${sql}`); if (failOn?.(sql)) throw new Error('disk I/O error'); return d.exec({ sql, rowMode: 'array', returnValue: 'resultRows' }); },
    scratch: () => adapter(new sqlite3.oo1.DB(':memory:', 'c'), 'scratch'),
    close: () => d.close(),
  });
  // A read inside the transaction fails on the host, after the steps ran: the schema read
  // again to verify the result (the second read under the write lock).
  let reads = 0;
  const underLock = (sql) => log.includes('main: BEGIN IMMEDIATE') && sql.startsWith('SELECT type, name, tbl_name, sql') && ++reads === 2;
  await assert.rejects(ls.migrate(adapter(db, 'main', underLock), NEW), (e) => e.code === 'database_error' && /disk I\/O error/.test(e.message) && /rolled back/.test(e.message));
  assert.equal(db.selectValue('PRAGMA foreign_keys'), 1, 'enforcement restored');
  assert.equal(db.selectValue("SELECT count(*) FROM sqlite_schema WHERE name LIKE '%liteshift%'"), 0);
  log.length = 0;
  const report = await ls.migrate(adapter(db, 'main'), NEW);
  assert.ok(report.stepsApplied > 0);
  const main = log.filter((l) => l.startsWith('main: ')).map((l) => l.slice(6));
  assert.ok(log.some((l) => l.startsWith('scratch: CREATE TABLE parent')), 'the declared schema is loaded into a scratch database of the host');
  // The documented sequence, each after the one before.
  let from = 0;
  for (const re of [/^PRAGMA foreign_keys = OFF$/, /^BEGIN IMMEDIATE$/, /^SELECT type, name, tbl_name, sql, rowid FROM main\.sqlite_master/, /^PRAGMA quick_check\("parent"\)$/, /^PRAGMA foreign_key_check\("child"\)$/, /^SAVEPOINT liteshift_steps$/, /^PRAGMA legacy_alter_table = ON$/, /^ALTER TABLE "parent" RENAME TO "_liteshift_old_parent"$/, /^CREATE TABLE parent\b/, /^DROP TABLE "_liteshift_old_parent"$/, /^RELEASE liteshift_steps$/, /^PRAGMA foreign_key_check\("child"\)$/, /^SELECT type, name, tbl_name, sql, rowid FROM main\.sqlite_master/, /^COMMIT$/, /^PRAGMA foreign_keys = ON$/]) {
    const i = main.findIndex((l, j) => j >= from && re.test(l));
    assert.ok(i >= 0, `${re} after call ${from} in\n${main.join('\n')}`);
    from = i + 1;
  }
  assert.equal(db.selectValue('SELECT count(*) FROM child'), 3);
});

test('declared values: a new NOT NULL column gets each row its value, computed by the host', async () => {
  for (const [name, h] of Object.entries(hosts)) {
    const db = h.open();
    const target = NEW.replace('note TEXT, done INTEGER NOT NULL DEFAULT 0', 'note TEXT, done INTEGER NOT NULL DEFAULT 0, label TEXT NOT NULL');
    await assert.rejects(h.ls.migrate(db, target), (e) => e.code === 'data_violates_schema' && /`values: \{ "TABLE\.COLUMN": "EXPR" \}` in the options/.test(e.message) && !/--value/.test(e.message), name);
    const report = await h.ls.migrate(db, target, { values: { 'child.label': "upper(note) || '-' || parent_id" } });
    assert.ok(report.stepsApplied > 0, name);
    assert.equal(h.one(db, "SELECT group_concat(label, ',') FROM (SELECT label FROM child ORDER BY id)"), 'X-1,Y-1,Z-2', name);
    assert.equal((await h.ls.migrate(db, target, { values: { 'child.label': "'ignored'" } })).stepsApplied, 0, `${name}: a value is a no-op once the column is as declared`);
    assert.throws(() => h.ls.plan(db, target, { values: [['child.nope', '1']] }), (e) => e.code === 'invalid_option' && /nope/.test(e.message), name);
  }
});

// onProgress: each step's start and end, and the rows a rebuild copies (the host's update
// hook, removed when the step ends), with the plan's cost estimate.
const BIG = `CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT);
WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 10000)
INSERT INTO t SELECT i, 'row ' || i FROM s;`;
const BIG_NEW = "CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT NOT NULL CHECK (name <> ''));";
const progressHosts = {
  'sql.js': { open: () => { const db = new SQL.Database(); db.exec(BIG); return db; }, migrate: ls.migrate },
  'sqlite-wasm oo1': { open: () => { const db = new sqlite3.oo1.DB(':memory:', 'c'); db.exec(BIG); return db; }, migrate: withModule.migrate },
  'liteshift/bytes': {
    open: () => { const db = new SQL.Database(); db.exec(BIG); return db.export(); },
    migrate: async (bytes, sql, o) => lb.migrateBytes(bytes, sql, o).report,
  },
};
for (const [name, h] of Object.entries(progressHosts)) {
  test(`${name}: onProgress tells each step, the rows a rebuild copies, and its cost`, async () => {
    const events = [];
    const report = await h.migrate(h.open(), BIG_NEW, { onProgress: (e) => events.push(e) });
    const total = report.plan.steps.length;
    assert.equal(events.filter((e) => e.event === 'stepStarted').length, total);
    assert.equal(events.filter((e) => e.event === 'stepFinished').length, total);
    assert.ok(events.every((e) => e.total === total));
    const copy = events.find((e) => e.event === 'stepStarted' && e.rewritesRows);
    assert.deepEqual(copy.cost, { kind: 'rewrite', table: 't', rows: 10000, bytes: copy.cost.bytes });
    assert.ok(copy.cost.bytes > 50000, `${copy.cost.bytes} bytes`);
    const rows = events.filter((e) => e.event === 'rows').map((e) => [e.step, e.rows]);
    assert.deepEqual(rows, [[copy.step, 4096], [copy.step, 8192]]);
    const done = events.find((e) => e.event === 'stepFinished' && e.step === copy.step);
    assert.equal(done.rowsChanged, 10000);
    assert.ok(done.milliseconds >= 0);
    // In order: started, rows..., finished, step after step.
    let step = 0;
    for (const e of events) {
      if (e.event === 'stepStarted') { assert.equal(e.step, step + 1); step = e.step; } else assert.equal(e.step, step);
    }
  });
}

test('sql.js: the update hook is gone after the migration, and a throwing onProgress does not stop it', async () => {
  const db = new SQL.Database();
  db.exec(BIG);
  let seen = 0;
  const report = await ls.migrate(db, BIG_NEW, { onProgress: () => { seen += 1; throw new Error('display broke'); } });
  assert.ok(report.stepsApplied > 0 && seen > 0);
  db.exec("INSERT INTO t(name) VALUES ('after')");
  assert.equal(db.exec('SELECT count(*) FROM t')[0].values[0][0], 10001);
  await assert.rejects(() => ls.migrate(db, BIG, { onProgress: 'yes' }), /onProgress.*must be a function/);
});
