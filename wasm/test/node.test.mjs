// Node tests of the npm package against real sql.js and the official @sqlite.org/sqlite-wasm.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import initSqlJs from 'sql.js';
import sqlite3InitModule from '@sqlite.org/sqlite-wasm';

const ls = await import('../pkg/index.node.js');
const SQL = await initSqlJs();
const sqlite3 = await sqlite3InitModule();

const OLD = `
CREATE TABLE parent(id INTEGER PRIMARY KEY, name TEXT);
CREATE TABLE child(id INTEGER PRIMARY KEY, parent_id INTEGER NOT NULL REFERENCES parent(id) ON DELETE CASCADE, note TEXT);
CREATE TABLE events(id INTEGER PRIMARY KEY AUTOINCREMENT, what TEXT);
CREATE VIEW parent_names AS SELECT id, name FROM parent;
CREATE TRIGGER parent_added AFTER INSERT ON parent BEGIN INSERT INTO events(what) VALUES ('added ' || new.name); END;
`;
const ROWS = `
INSERT INTO parent(id, name) VALUES (1, 'a'), (2, 'b');
INSERT INTO child VALUES (1, 1, 'x'), (2, 1, 'y'), (3, 2, 'z');
INSERT INTO events(id, what) VALUES (100, 'high-water'); DELETE FROM events WHERE id = 100;
`;
// parent is rebuilt (NOT NULL + collation + a non-constant default), child gains a column.
const NEW = `
CREATE TABLE parent(id INTEGER PRIMARY KEY, name TEXT NOT NULL COLLATE NOCASE, created TEXT DEFAULT CURRENT_TIMESTAMP);
CREATE TABLE child(id INTEGER PRIMARY KEY, parent_id INTEGER NOT NULL REFERENCES parent(id) ON DELETE CASCADE, note TEXT, done INTEGER NOT NULL DEFAULT 0);
CREATE TABLE events(id INTEGER PRIMARY KEY AUTOINCREMENT, what TEXT);
CREATE VIEW parent_names AS SELECT id, name FROM parent;
CREATE TRIGGER parent_added AFTER INSERT ON parent BEGIN INSERT INTO events(what) VALUES ('added ' || new.name); END;
`;

const sqljsDb = () => { const db = new SQL.Database(); db.exec(OLD + ROWS); db.exec('PRAGMA foreign_keys = ON'); return db; };
const oo1Db = () => { const db = new sqlite3.oo1.DB(':memory:', 'c'); db.exec(OLD + ROWS); db.exec('PRAGMA foreign_keys = ON'); return db; };
const hosts = {
  'sql.js': { open: sqljsDb, one: (db, sql) => db.exec(sql)[0]?.values[0][0] },
  'sqlite-wasm oo1': { open: oo1Db, one: (db, sql) => db.selectValue(sql) },
};

for (const [name, h] of Object.entries(hosts)) {
  test(`${name}: a rebuild keeps child rows (ON DELETE CASCADE, foreign_keys on), view, trigger and AUTOINCREMENT`, async () => {
    const db = h.open();
    const report = await ls.migrate(db, NEW);
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
    const again = await ls.migrate(db, NEW);
    assert.equal(again.stepsApplied, 0, 'calling migrate again does nothing');
  });

  test(`${name}: refusals leave the database unchanged`, async () => {
    const db = h.open();
    const before = name === 'sql.js' ? db.export() : null;
    const dump = () => h.one(db, "SELECT group_concat(sql, ';') FROM sqlite_schema") + '|' + h.one(db, "SELECT group_concat(id || note) FROM child");
    const d0 = dump();
    await assert.rejects(ls.migrate(db, 'CREATE TABLE parent(id INTEGER PRIMARY KEY, name TEXT);'), (e) => e.code === 'data_loss_refused' && e.steps.length === 2);
    db.exec("INSERT INTO parent(id, name) VALUES (3, NULL)");
    const d1 = dump();
    await assert.rejects(ls.migrate(db, NEW), (e) => {
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
  const { bytes, report } = ls.migrateBytes(db.export(), NEW);
  assert.ok(bytes instanceof Uint8Array);
  assert.ok(report.stepsApplied > 0);
  const back = new SQL.Database(bytes);
  assert.equal(back.exec('SELECT count(*) FROM child')[0].values[0][0], 3);
  assert.equal(back.exec("SELECT seq FROM sqlite_sequence WHERE name = 'events'")[0].values[0][0], 100);
  const again = ls.migrateBytes(bytes, NEW);
  assert.equal(again.report.stepsApplied, 0);
  assert.throws(() => ls.migrateBytes(new TextEncoder().encode('not a database, just text'), NEW), (e) => e.code === 'database_error');
});

test('plan from SQL text and from catalog rows of a host', () => {
  const fromSql = ls.plan(OLD, NEW);
  const db = sqljsDb();
  const res = db.exec('SELECT type, name, tbl_name, sql FROM sqlite_schema');
  const rows = res[0].values.map(([type, name, tbl_name, sql]) => ({ type, name, tbl_name, sql }));
  const fromRows = ls.plan(rows, NEW);
  assert.deepEqual(fromRows.steps, fromSql.steps);
  assert.ok(fromSql.steps.every((s) => typeof s.sql === 'string' && typeof s.destructive === 'boolean' && typeof s.rewritesRows === 'boolean' && typeof s.reason === 'string'));
  assert.match(fromSql.sql, /BEGIN IMMEDIATE/);
  assert.equal(ls.plan(NEW, NEW).inSync, true);
  const old = ls.plan(OLD, NEW, { sqliteVersion: '3.40.0' });
  assert.equal(old.sqliteVersion, '3.40.0');
});

test('errors are Errors with a stable code and a position', () => {
  assert.throws(() => ls.plan('CREATE TABLE t(a);', 'CREATE TABLE t(a);\nCREATE TABLE u(b,,);'), (e) => e instanceof Error && e.code === 'schema_error' && e.line === 2 && e.column > 0);
  assert.throws(() => ls.plan('CREATE TABLE t(a);', 'CREATE TABLE t(a);', { allowDataLos: true }), (e) => e.code === 'invalid_option');
  assert.rejects(ls.migrate({}, NEW), (e) => e.code === 'unsupported_host');
});
