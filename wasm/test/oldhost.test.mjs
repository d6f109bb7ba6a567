// Old SQLite hosts: sql.js 0.5.0 (SQLite 3.22.0, as on Android 9) and 0.3.2 (SQLite 3.11.0,
// older than table-valued pragma functions). liteshift introspects them with what they have
// and plans rebuilds for what they lack (RENAME COLUMN < 3.25, DROP COLUMN < 3.35).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { OLD, ROWS, NEW } from '../browser/schemas.mjs';

const ls = await import('../pkg/index.node.js');
const require = createRequire(import.meta.url);
const quiet = (f) => { const log = console.log; console.log = () => {}; try { return f(); } finally { console.log = log; } };

for (const [pkg, version] of [['sqljs050', '3.22.0'], ['sqljs032', '3.11.0']]) {
  const SQL = quiet(() => require(pkg));
  const one = (db, sql) => db.exec(sql)[0]?.values[0][0];
  const open = () => { const db = new SQL.Database(); db.exec(OLD + ROWS); db.exec('PRAGMA foreign_keys = ON'); return db; };

  test(`SQLite ${version} (${pkg}): a rebuild keeps child rows, the view, the trigger and AUTOINCREMENT`, async () => {
    const db = open();
    assert.equal(one(db, 'SELECT sqlite_version()'), version);
    const report = await quiet(() => ls.migrate(db, NEW));
    assert.equal(report.plan.sqliteVersion, version);
    assert.ok(report.stepsApplied > 0 && report.foreignKeysToggled);
    assert.equal(one(db, 'SELECT count(*) FROM child'), 3);
    assert.equal(one(db, "SELECT count(*) FROM child WHERE done = 0"), 3);
    assert.equal(one(db, 'SELECT count(*) FROM parent_names'), 2);
    assert.equal(one(db, "SELECT seq FROM sqlite_sequence WHERE name = 'events'"), 100);
    assert.equal(one(db, 'PRAGMA foreign_keys'), 1);
    db.exec("INSERT INTO parent(name) VALUES ('c')");
    assert.equal(one(db, 'SELECT max(id) FROM events'), 101);
    assert.equal(quiet(() => ls.plan(db, NEW)).inSync, true, 'in sync afterwards');
  });

  test(`SQLite ${version} (${pkg}): RENAME COLUMN and DROP COLUMN become rebuilds, rows kept`, async () => {
    const db = open();
    const target = NEW.replace('note TEXT, done INTEGER NOT NULL DEFAULT 0', 'remark TEXT')
      .replace('name TEXT NOT NULL COLLATE NOCASE, created TEXT DEFAULT CURRENT_TIMESTAMP', 'name TEXT');
    const opts = { renameColumns: { 'child.note': 'remark' }, allowDataLoss: true };
    const p = quiet(() => ls.plan(db, target, opts));
    assert.ok(p.steps.every((s) => !/^ALTER TABLE .*(RENAME COLUMN|DROP COLUMN)/m.test(s.sql)), p.sql);
    assert.ok(p.steps.some((s) => s.rewritesRows && /child/.test(s.reason)), p.sql);
    await quiet(() => ls.migrate(db, target, opts));
    assert.equal(one(db, "SELECT group_concat(remark, ',') FROM (SELECT remark FROM child ORDER BY id)"), 'x,y,z');
    assert.equal(one(db, 'SELECT count(*) FROM parent_names'), 2);
    assert.equal(quiet(() => ls.plan(db, target, opts)).inSync, true);
  });

  test(`SQLite ${version} (${pkg}): refusals leave the database unchanged, schema errors have their line`, async () => {
    const db = open();
    db.exec("INSERT INTO parent(id, name) VALUES (3, NULL)");
    const before = db.export();
    await assert.rejects(quiet(() => ls.migrate(db, NEW)), (e) => e.code === 'data_violates_schema' && /parent\.name/.test(e.message));
    assert.deepEqual(Buffer.from(db.export()), Buffer.from(before));
    assert.throws(() => quiet(() => ls.plan(db, 'CREATE TABLE t(a);\nCREATE TABLE u(b,,);')), (e) => e.code === 'schema_error' && e.line === 2);
  });
}
