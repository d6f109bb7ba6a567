// In a dedicated worker: the official sqlite-wasm build with an OPFS database (the
// "opfs-sahpool" VFS, which needs no cross-origin isolation), tables with rows, an FTS5 table
// fed by a trigger, migrated through a rebuild by the package's web entry; then the database
// is closed and opened again from OPFS to check what was persisted.
import init, { migrate } from '/pkg/index.web.js';
import sqlite3InitModule from '/node_modules/@sqlite.org/sqlite-wasm/dist/index.mjs';

const OLD = `
CREATE TABLE parent(id INTEGER PRIMARY KEY, name TEXT);
CREATE TABLE child(id INTEGER PRIMARY KEY, parent_id INTEGER NOT NULL REFERENCES parent(id) ON DELETE CASCADE, note TEXT);
CREATE VIRTUAL TABLE parent_fts USING fts5(name);
CREATE TRIGGER parent_ai AFTER INSERT ON parent BEGIN INSERT INTO parent_fts(rowid, name) VALUES (new.id, new.name); END;
INSERT INTO parent(id, name) VALUES (1, 'apple'), (2, 'pear');
INSERT INTO child VALUES (1, 1, 'x'), (2, 1, 'y'), (3, 2, 'z');`;
const NEW = `
CREATE TABLE parent(id INTEGER PRIMARY KEY, name TEXT NOT NULL COLLATE NOCASE);
CREATE TABLE child(id INTEGER PRIMARY KEY, parent_id INTEGER NOT NULL REFERENCES parent(id) ON DELETE CASCADE, note TEXT, done INTEGER NOT NULL DEFAULT 0);
CREATE VIRTUAL TABLE parent_fts USING fts5(name);
CREATE TRIGGER parent_ai AFTER INSERT ON parent BEGIN INSERT INTO parent_fts(rowid, name) VALUES (new.id, new.name); END;`;

const out = {};
try {
  await init();
  const sqlite3 = await sqlite3InitModule();
  const pool = await sqlite3.installOpfsSAHPoolVfs({ name: 'liteshift-test' });
  const file = `/liteshift-${Date.now()}.sqlite3`;
  let db = new pool.OpfsSAHPoolDb(file);
  out.vfs = db.dbVfsName();
  db.exec(OLD);
  db.exec('PRAGMA foreign_keys = ON');
  const report = await migrate(db, NEW, { sqlite3 });
  out.steps = report.stepsApplied;
  out.toggled = report.foreignKeysToggled;
  db.close();
  db = new pool.OpfsSAHPoolDb(file);
  out.persistedFiles = pool.getFileNames().includes(file);
  out.children = db.selectValue('SELECT count(*) FROM child');
  out.doneColumn = db.selectValue("SELECT count(*) FROM pragma_table_info('child') WHERE name = 'done'");
  out.match = db.selectValue("SELECT count(*) FROM parent_fts WHERE parent_fts MATCH 'apple'");
  db.exec("INSERT INTO parent(id, name) VALUES (3, 'plum')");
  out.triggerFeeds = db.selectValue("SELECT count(*) FROM parent_fts WHERE parent_fts MATCH 'plum'");
  out.again = (await migrate(db, NEW, { sqlite3 })).stepsApplied;
  db.close();
  pool.unlink(file);
} catch (e) {
  out.error = String((e && e.stack) || e);
}
postMessage(out);
