// Every consecutive pair of ../shared/corpus (real schema histories of five apps) migrated by
// the package on real hosts — sql.js, the official sqlite-wasm build, and sql.js 0.5.0 (SQLite
// 3.22.0, as on Android 9): a database at version N is migrated to N+1 with migrate(db), must
// then be in sync with a clean integrity_check, and the plan made on the host must equal the
// plan liteshift/bytes makes from the host's catalog rows for the host's version (calibre's
// FTS5 tables exercise its stand-in modules).
//
// A pair applies to a host when the host can hold both versions (sql.js has no FTS5). It must
// migrate there, with one exception: when the host finds version N's schema inconsistent (an
// ALTER TABLE RENAME fails on it, e.g. a trigger with a double-quoted string literal on the
// official sqlite-wasm build, which is compiled with SQLITE_DQS=0), a step that hits the same
// error must fail cleanly — step_failed naming it, the schema unchanged. Every pair must
// migrate on at least one host.
// Skipped, saying so, when ../shared/corpus is absent (a user's clone).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, access } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import initSqlJs from 'sql.js';
import sqlite3InitModule from '@sqlite.org/sqlite-wasm';

const corpus = fileURLToPath(new URL('../../../shared/corpus', import.meta.url));
const have = await access(corpus).then(() => true, () => false);

test('corpus: every consecutive pair migrates on sql.js and/or sqlite-wasm', { skip: have ? false : `SKIPPED: ${corpus} is not present` }, async () => {
  const ls = await import('../pkg/index.node.js');
  const lb = await import('../pkg/bytes.node.js');
  const SQL = await initSqlJs();
  const OldSQL = createRequire(import.meta.url)('sqljs050');
  // The expected failures (probes, clean refusals) would otherwise be printed by sqlite-wasm.
  const sqlite3 = await sqlite3InitModule();
  sqlite3.config.warn = () => {};
  const hosts = {
    'sql.js': {
      open: () => new SQL.Database(),
      rows: (db, sql) => { const r = db.exec(sql)[0]; return r ? r.values.map((v) => Object.fromEntries(r.columns.map((c, i) => [c, v[i]]))) : []; },
    },
    'sqlite-wasm': {
      open: () => new sqlite3.oo1.DB(':memory:', 'c'),
      rows: (db, sql) => db.selectObjects(sql),
      module: { sqlite3 },
    },
    'sql.js 0.5.0 (SQLite 3.22)': {
      open: () => new OldSQL.Database(),
      rows: (db, sql) => { const r = db.exec(sql)[0]; return r ? r.values.map((v) => Object.fromEntries(r.columns.map((c, i) => [c, v[i]]))) : []; },
    },
  };
  const opts = { allowDataLoss: true };
  const catalog = 'SELECT type, name, tbl_name, sql FROM sqlite_master';
  const failures = [];
  const stats = { pairs: 0 };
  for (const h of Object.keys(hosts)) stats[h] = { migrated: 0, refusedInconsistent: 0, notApplicable: 0, steps: 0 };
  const loads = (h, sql) => { const db = hosts[h].open(); try { db.exec(sql); return true; } catch { return false; } finally { db.close(); } };
  // The host's error for a RENAME on this schema, or null when the schema is consistent.
  const inconsistency = (h, db) => {
    const t = hosts[h].rows(db, "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND sql NOT LIKE 'CREATE VIRTUAL%' LIMIT 1")[0]?.name;
    if (!t) return null;
    try {
      db.exec(`SAVEPOINT probe; ALTER TABLE "${t}" RENAME TO "${t}_probe"; ROLLBACK TO probe; RELEASE probe;`);
      return null;
    } catch (e) {
      db.exec('ROLLBACK TO probe; RELEASE probe;');
      return String(e.message).replace(/^.*?(error in (trigger|view) )/, '$1');
    }
  };
  for (const app of (await readdir(corpus, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name).sort()) {
    const files = (await readdir(join(corpus, app))).filter((f) => /^v\d+\.sql$/.test(f)).sort();
    const texts = await Promise.all(files.map((f) => readFile(join(corpus, app, f), 'utf8')));
    for (let i = 0; i + 1 < texts.length; i++) {
      stats.pairs++;
      const name = `${app} ${files[i]} -> ${files[i + 1]}`;
      let migrated = 0;
      for (const h of Object.keys(hosts)) {
        if (!loads(h, texts[i]) || !loads(h, texts[i + 1])) { stats[h].notApplicable++; continue; }
        const db = hosts[h].open();
        let broken = null;
        let before = null;
        try {
          db.exec(texts[i]);
          broken = inconsistency(h, db);
          before = JSON.stringify(hosts[h].rows(db, catalog));
          const version = hosts[h].rows(db, 'SELECT sqlite_version() AS v')[0].v;
          const hostOpts = { ...opts, ...hosts[h].module };
          const onHost = ls.plan(db, texts[i + 1], hostOpts);
          const fromRows = lb.plan(hosts[h].rows(db, catalog), texts[i + 1], { ...opts, sqliteVersion: version });
          assert.deepEqual(onHost.steps.map((s) => s.sql), fromRows.steps.map((s) => s.sql), 'plan on the host = plan from its catalog rows');
          const report = await ls.migrate(db, texts[i + 1], hostOpts);
          assert.equal(ls.plan(db, texts[i + 1], hostOpts).inSync, true, 'in sync afterwards');
          assert.equal(hosts[h].rows(db, 'PRAGMA integrity_check')[0].integrity_check, 'ok');
          stats[h].migrated++;
          stats[h].steps += report.stepsApplied;
          migrated++;
        } catch (e) {
          if (broken && e.code === 'step_failed' && e.message.includes(broken) && JSON.stringify(hosts[h].rows(db, catalog)) === before) {
            stats[h].refusedInconsistent++;
          } else {
            failures.push(`${h}: ${name}: ${e.message}`);
          }
        } finally {
          db.close();
        }
      }
      if (migrated === 0) failures.push(`${name}: migrated on no host`);
    }
  }
  console.log(`corpus: ${stats.pairs} pairs; ${JSON.stringify(stats)}`);
  assert.deepEqual(failures, []);
  assert.ok(stats.pairs >= 250, `${stats.pairs} pairs`);
});
