// Sharing the database with a platform or another tool, on real sql.js and the official
// @sqlite.org/sqlite-wasm: platform tables (android_metadata), `ignore`, `keepUndeclared`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import initSqlJs from 'sql.js';
import sqlite3InitModule from '@sqlite.org/sqlite-wasm';

const ls = await import('../pkg/index.node.js');
const SQL = await initSqlJs();
const sqlite3 = await sqlite3InitModule();

const APP = `CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE INDEX users_name ON users(name);
`;
// users.name changes its declared type: a rebuild of users on every SQLite.
const APP_REBUILT = APP.replace('name TEXT NOT NULL', 'name VARCHAR(40) NOT NULL');

const hosts = {
  'sql.js': {
    open: () => new SQL.Database(),
    rows: (db, sql) => db.exec(sql)[0]?.values ?? [],
    ls,
  },
  'sqlite-wasm oo1': {
    open: () => new sqlite3.oo1.DB(':memory:', 'c'),
    rows: (db, sql) => db.selectArrays(sql),
    // An oo1.DB does not lead back to its module: liteshift takes it in the options.
    ls: {
      migrate: (db, sql, o = {}) => ls.migrate(db, sql, { sqlite3, ...o }),
      plan: (db, sql, o = {}) => ls.plan(db, sql, { sqlite3, ...o }),
    },
  },
};

const appDb = (h, extra = '') => {
  const db = h.open();
  db.exec(APP + "INSERT INTO users(name) VALUES ('ada'), ('bob');" + extra);
  return db;
};

for (const [name, h] of Object.entries(hosts)) {
  test(`${name}: an Android database (android_metadata) is in sync and keeps its row through a rebuild`, async () => {
    const db = appDb(h, "CREATE TABLE android_metadata (locale TEXT); INSERT INTO android_metadata VALUES ('en_US');");
    const p = h.ls.plan(db, APP);
    assert.equal(p.inSync, true, p.changes.join('; '));
    assert.deepEqual(p.kept, []);
    assert.equal((await h.ls.migrate(db, APP)).stepsApplied, 0);
    const r = await h.ls.migrate(db, APP_REBUILT);
    assert.ok(r.plan.steps.some((s) => s.rewritesRows), 'users is rebuilt');
    assert.ok(r.plan.steps.every((s) => !/android_metadata/.test(s.sql)));
    assert.deepEqual(h.rows(db, 'SELECT locale FROM android_metadata'), [['en_US']]);
    assert.equal(h.ls.plan(db, APP_REBUILT).inSync, true);
  });

  test(`${name}: ignore ['_sqlx_*'] leaves another tool's table and index alone while a declared table is rebuilt`, async () => {
    const db = appDb(h, `CREATE TABLE _sqlx_migrations(version BIGINT PRIMARY KEY, description TEXT NOT NULL);
      CREATE INDEX _sqlx_migrations_description ON _sqlx_migrations(description);
      INSERT INTO _sqlx_migrations VALUES (20240101, 'init');`);
    // Without the pattern the table is the schema's, and dropping it loses data.
    await assert.rejects(h.ls.migrate(db, APP_REBUILT), (e) => e.code === 'data_loss_refused');
    const opts = { ignore: ['_sqlx_*'] };
    assert.equal(h.ls.plan(db, APP, opts).inSync, true);
    const r = await h.ls.migrate(db, APP_REBUILT, opts);
    assert.ok(r.stepsApplied > 0 && r.plan.steps.some((s) => s.rewritesRows));
    assert.ok(r.plan.steps.every((s) => !/_sqlx/i.test(s.sql)), r.plan.sql);
    assert.deepEqual(h.rows(db, 'SELECT version, description FROM _sqlx_migrations'), [[20240101, 'init']]);
    assert.deepEqual(
      h.rows(db, "SELECT type, name FROM sqlite_schema WHERE name LIKE '\\_sqlx%' ESCAPE '\\' ORDER BY name"),
      [['table', '_sqlx_migrations'], ['index', '_sqlx_migrations_description']],
    );
    assert.deepEqual(h.rows(db, 'SELECT name FROM users ORDER BY id'), [['ada'], ['bob']]);
    assert.equal(h.ls.plan(db, APP_REBUILT, opts).inSync, true);
  });

  test(`${name}: keepUndeclared keeps a column's values (and a table) through a rebuild, and plan.kept names them`, async () => {
    const db = appDb(h, `ALTER TABLE users ADD COLUMN old TEXT;
      UPDATE users SET old = 'was ' || name;
      CREATE TABLE extra(x); INSERT INTO extra VALUES (7);`);
    const opts = { keepUndeclared: true };
    const p = h.ls.plan(db, APP_REBUILT, opts);
    assert.deepEqual(p.kept, ['table extra', 'column users.old']);
    assert.equal(p.destructiveSteps.length, 0);
    const r = await h.ls.migrate(db, APP_REBUILT, opts);
    assert.deepEqual(r.plan.kept, ['table extra', 'column users.old']);
    assert.ok(r.plan.steps.some((s) => s.rewritesRows), 'users is rebuilt');
    assert.deepEqual(h.rows(db, 'SELECT name, old FROM users ORDER BY id'), [['ada', 'was ada'], ['bob', 'was bob']]);
    assert.deepEqual(h.rows(db, 'SELECT x FROM extra'), [[7]]);
    // Without the option, the same schema drops both (refused: it loses data).
    assert.deepEqual(h.ls.plan(db, APP_REBUILT).kept, []);
    await assert.rejects(h.ls.migrate(db, APP_REBUILT), (e) => e.code === 'data_loss_refused');
  });

  test(`${name}: a declared ignored name is a schema_error; a malformed pattern or a mistyped option is invalid_option`, async () => {
    const db = appDb(h);
    await assert.rejects(h.ls.migrate(db, APP, { ignore: ['user?'] }), (e) => {
      assert.ok(e instanceof ls.LiteshiftError);
      assert.equal(e.code, 'schema_error');
      assert.equal(e.line, 1);
      assert.match(e.message, /`user\?`/);
      return true;
    });
    assert.throws(() => h.ls.plan(db, APP, { ignore: ['[abc'] }), (e) => e instanceof ls.LiteshiftError && e.code === 'invalid_option' && /\[abc/.test(e.message));
    assert.throws(() => h.ls.plan(db, APP, { ignore: '_sqlx_*' }), (e) => e.code === 'invalid_option' && /ignore/.test(e.message));
    assert.throws(() => h.ls.plan(db, APP, { ignore: [1] }), (e) => e.code === 'invalid_option');
    assert.throws(() => h.ls.plan(db, APP, { keepUndeclared: 'yes' }), (e) => e.code === 'invalid_option' && /keepUndeclared/.test(e.message));
    assert.throws(() => h.ls.plan(db, APP, { keepUndecl: true }), (e) => e.code === 'invalid_option' && /keepUndeclared/.test(e.message));
    assert.deepEqual(h.rows(db, 'SELECT count(*) FROM users'), [[2]]);
  });
}
