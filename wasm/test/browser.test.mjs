// A real-browser test: headless Chromium (Debian's, driven by playwright-core) loads the
// package's web entry and the official sqlite-wasm build from pages served on localhost,
// migrates databases with rows, and reports back. The pages live in wasm/browser/, outside
// test/, so that `node --test test/` does not take their scripts for test files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { readFile, access } from 'node:fs/promises';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url)); // wasm/
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm', '.json': 'application/json' };

const haveChromium = await access(CHROMIUM).then(() => true, () => false);

test('the package migrates sqlite-wasm in headless Chromium, in memory and on OPFS in a worker', { skip: haveChromium ? false : `SKIPPED: no Chromium at ${CHROMIUM} (apt-get install chromium)` }, async () => {
  const server = createServer(async (req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname));
    const file = join(root, path === '/' ? 'browser/page.html' : path);
    if (!file.startsWith(root)) { res.writeHead(403).end(); return; }
    try {
      const body = await readFile(file);
      res.writeHead(200, {
        'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
        'cross-origin-opener-policy': 'same-origin',
        'cross-origin-embedder-policy': 'require-corp',
      });
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-quic'],
  });
  try {
    const page = await browser.newPage();
    const logs = [];
    page.on('console', (m) => logs.push(m.text()));
    page.on('pageerror', (e) => logs.push(String(e)));
    await page.goto(`http://127.0.0.1:${server.address().port}/`);
    await page.waitForFunction(() => window.__result !== undefined, null, { timeout: 60_000 });
    const r = await page.evaluate(() => window.__result);
    assert.equal(r.error, undefined, `${r.error}\n${logs.join('\n')}`);
    assert.ok(r.planned > 0);
    assert.equal(r.plannedOffline, r.planned, 'liteshift/bytes plans the same from catalog rows');
    assert.equal(r.steps, r.planned);
    assert.equal(r.toggled, true);
    assert.equal(r.children, 3, 'child rows survive the parent rebuild');
    assert.equal(r.views, 2);
    assert.equal(r.seq, 100, 'AUTOINCREMENT high-water mark kept');
    assert.equal(r.fk, 1, 'foreign keys restored');
    assert.equal(r.again, 0);
    assert.equal(r.refusal, 'data_loss_refused');
    console.log(`browser: host SQLite ${r.hostSqlite} (liteshift/bytes: ${r.liteshiftSqlite}), ${r.steps} steps`);

    // The same in a dedicated worker on an OPFS database, persisted across close and reopen.
    const w = await browser.newPage();
    w.on('console', (m) => logs.push(m.text()));
    w.on('pageerror', (e) => logs.push(String(e)));
    await w.goto(`http://127.0.0.1:${server.address().port}/browser/opfs.html`);
    await w.waitForFunction(() => window.__result !== undefined, null, { timeout: 60_000 });
    const o = await w.evaluate(() => window.__result);
    assert.equal(o.error, undefined, `${o.error}\n${logs.join('\n')}`);
    assert.equal(o.vfs, 'liteshift-test', 'an OPFS (opfs-sahpool) database');
    assert.ok(o.steps > 0);
    assert.equal(o.toggled, true);
    assert.equal(o.persistedFiles, true);
    assert.equal(o.children, 3, 'child rows survive the parent rebuild, on OPFS after reopening');
    assert.equal(o.doneColumn, 1);
    assert.equal(o.match, 1, 'the FTS5 index is untouched');
    assert.equal(o.triggerFeeds, 1, 'the trigger still feeds it');
    assert.equal(o.again, 0);
    console.log(`browser (worker, OPFS ${o.vfs}): ${o.steps} steps, persisted`);
  } finally {
    await browser.close();
    server.close();
  }
});
