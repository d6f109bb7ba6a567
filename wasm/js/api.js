// liteshift's JavaScript API over the wasm module. The module only converts values in and
// out of liteshift's Rust core; this file adds the host adapters and runs a plan on a host
// database in the sequence documented in README.md ("What migrate does").

/** An error from liteshift: `code` is stable, `message` says what to do. */
export class LiteshiftError extends Error {
  constructor(value) {
    super(value.message);
    this.name = 'LiteshiftError';
    for (const [k, v] of Object.entries(value)) if (k !== 'message') this[k] = v;
  }
}

const CATALOG = 'SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY rowid';

/** An adapter `{ name, exec(sql), query(sql) -> object rows }` for a host database. */
export function adapterFor(db) {
  if (db && typeof db.exec === 'function' && typeof db.query === 'function') {
    return { name: db.name ?? 'custom', exec: (s) => db.exec(s), query: (s) => db.query(s) };
  }
  if (db && typeof db.selectObjects === 'function' && typeof db.exec === 'function') {
    // The official @sqlite.org/sqlite-wasm oo1.DB (also OpfsDb).
    return { name: 'sqlite-wasm', exec: (s) => { db.exec(s); }, query: (s) => db.selectObjects(s) };
  }
  if (db && typeof db.exec === 'function' && typeof db.export === 'function') {
    // sql.js Database.
    return {
      name: 'sql.js',
      exec: (s) => { db.exec(s); },
      query: (s) => {
        const res = db.exec(s);
        if (!res.length) return [];
        const { columns, values } = res[res.length - 1];
        return values.map((row) => Object.fromEntries(columns.map((c, i) => [c, row[i]])));
      },
    };
  }
  throw new LiteshiftError({
    code: 'unsupported_host',
    message: 'migrate(db): db is neither a sql.js Database nor a @sqlite.org/sqlite-wasm oo1.DB; pass an adapter { exec(sql), query(sql) } instead (see README: host adapters)',
  });
}

export function makeApi(raw, onCrash) {
  const call = (fn, ...args) => {
    try {
      return fn(...args);
    } catch (e) {
      if (e instanceof WebAssembly.RuntimeError) {
        let detail = e.message;
        try { detail = raw.lastPanic() ?? detail; } catch { /* the module is gone */ }
        if (onCrash) onCrash();
        throw new LiteshiftError({ code: 'internal_error', message: `liteshift failed internally (${detail}); this is a bug, please report it with your schemas` });
      }
      if (e && typeof e === 'object' && !(e instanceof Error) && 'code' in e) throw new LiteshiftError(e);
      throw e;
    }
  };

  /** Plan from `current` (SQL text, or catalog rows from any host) to `targetSql`. Pure. */
  function plan(current, targetSql, options = {}) {
    return call(raw.planRaw, current, targetSql, options);
  }

  /** Migrate a database held as bytes inside liteshift's own SQLite: `{ bytes, report }`. */
  function migrateBytes(bytes, targetSql, options = {}) {
    return call(raw.migrateBytesRaw, bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes), targetSql, options);
  }

  function fkViolations(h, tables) {
    let rows;
    try {
      rows = h.query('PRAGMA foreign_key_check');
    } catch {
      rows = [];
      for (const t of tables) {
        try { rows.push(...h.query(`PRAGMA foreign_key_check("${t.replaceAll('"', '""')}")`)); } catch { /* cannot be checked */ }
      }
    }
    const groups = new Map();
    for (const r of rows) {
      const key = `${r.table}\u0000${r.parent}`;
      const g = groups.get(key) ?? { constraint: `FOREIGN KEY -> ${r.parent}`, table: r.table, column: null, count: 0, examples: [] };
      g.count += 1;
      if (g.examples.length < 3) g.examples.push(r.rowid == null ? 'a row' : `rowid ${r.rowid}`);
      groups.set(key, g);
    }
    return [...groups.values()];
  }

  const refusal = (violations) => new LiteshiftError({
    code: 'data_violates_schema',
    message: 'refused: existing rows violate the declared schema; nothing was changed:\n' +
      violations.map((v) => `  - ${v.constraint} on ${v.column ? `${v.table}.${v.column}` : v.table}: ${v.count} row(s) violate it${v.examples.length ? `, e.g. ${v.examples.join('; ')}` : ''}`).join('\n'),
    violations,
  });

  /**
   * Migrate a host database (sql.js Database, sqlite-wasm oo1.DB, or an adapter) to
   * `targetSql` in one transaction, verified before it commits.
   */
  async function migrate(db, targetSql, options = {}) {
    const h = adapterFor(db);
    const hostVersion = h.query('SELECT sqlite_version() AS v')[0].v;
    const opts = { ...options, sqliteVersion: options.sqliteVersion ?? hostVersion };
    const p = plan(h.query(CATALOG), targetSql, opts);
    if (p.inSync) return { stepsApplied: 0, foreignKeysToggled: false, plan: p };
    if (!opts.allowDataLoss && p.destructiveSteps.length) {
      throw new LiteshiftError({
        code: 'data_loss_refused',
        message: `refused: the migration would lose data in ${p.destructiveSteps.length} step(s); nothing was changed:\n${p.destructiveSteps.map((s) => `  - ${s}`).join('\n')}\nallow it with { allowDataLoss: true }, or declare a rename`,
        steps: p.destructiveSteps,
      });
    }
    // Inside the caller's transaction? BEGIN tells.
    let inTx = false;
    try { h.exec('BEGIN IMMEDIATE'); h.exec('ROLLBACK'); } catch (e) {
      if (/within a transaction/i.test(String(e && e.message))) inTx = true; else throw e;
    }
    const fkOn = Number(Object.values(h.query('PRAGMA foreign_keys')[0] ?? { v: 0 })[0]) === 1;
    const toggle = p.foreignKeysOff && fkOn;
    if (toggle && inTx) {
      throw new LiteshiftError({ code: 'in_transaction', message: 'the database is inside a transaction, and this migration must switch foreign-key enforcement off first (PRAGMA foreign_keys cannot change inside a transaction): commit or roll back, then migrate' });
    }
    const [begin, commit, rollback] = inTx
      ? ['SAVEPOINT liteshift', 'RELEASE liteshift', 'ROLLBACK TO liteshift; RELEASE liteshift']
      : ['BEGIN IMMEDIATE', 'COMMIT', 'ROLLBACK'];
    if (toggle) h.exec('PRAGMA foreign_keys = OFF');
    try {
      h.exec(begin);
      try {
        const rows = h.query(CATALOG);
        const fp = call(raw.fingerprintRaw, rows);
        if (fp !== p.fingerprint) {
          throw new LiteshiftError({ code: 'stale_plan', message: `the database schema changed since the plan was made (plan fingerprint ${p.fingerprint}, database ${fp}): plan again` });
        }
        for (const hc of p.healthChecks) {
          const res = h.query(hc.sql).map((r) => String(Object.values(r)[0]));
          if (!(res.length === 1 && res[0] === 'ok')) {
            throw new LiteshiftError({ code: 'database_error', message: `the database file is corrupt (table \`${hc.table}\`: ${res[0]}); nothing was changed; restore a backup or run PRAGMA integrity_check` });
          }
        }
        const violations = [];
        for (const c of p.checks) {
          const n = Number(Object.values(h.query(`SELECT count(*) AS n FROM (${c.sql})`)[0])[0]);
          if (n > 0) {
            const examples = h.query(`SELECT example FROM (${c.sql}) LIMIT 3`).map((r) => String(r.example));
            violations.push({ constraint: c.constraint, table: c.table, column: c.column, count: n, examples });
          }
        }
        if (violations.length) throw refusal(violations);
        const tables = rows.filter((r) => r.type === 'table').map((r) => r.name);
        const fkBefore = fkViolations(h, tables);
        p.steps.forEach((s, i) => {
          try {
            h.exec(s.sql);
          } catch (e) {
            const msg = String(e && e.message);
            if (/constraint failed|cannot store|datatype mismatch|type mismatch/i.test(msg)) {
              throw refusal([{ constraint: msg.replaceAll('_liteshift_new_', ''), table: s.reason.split(/\s+/)[1]?.replace(/:$/, '') ?? '', column: null, count: 1, examples: [`step ${i + 1} (${s.reason}) stopped at the first offending row`] }]);
            }
            throw new LiteshiftError({ code: 'step_failed', message: `step ${i + 1} (${s.reason}) failed: ${msg}; rolled back, nothing changed`, step: i + 1 });
          }
        });
        const fkAfter = fkViolations(h, h.query(CATALOG).filter((r) => r.type === 'table').map((r) => r.name));
        const fresh = fkAfter.filter((v) => v.count > (fkBefore.find((b) => b.table === v.table && b.constraint === v.constraint)?.count ?? 0));
        if (fresh.length) throw refusal(fresh);
        const remaining = call(raw.remainingRaw, h.query(CATALOG), targetSql, opts);
        if (remaining.length) {
          throw new LiteshiftError({ code: 'verification_failed', message: `verification failed after applying the plan (rolled back, nothing changed): the result still differs from the declared schema: ${remaining.join('; ')}. This is a liteshift bug; please report it` });
        }
        h.exec(commit);
      } catch (e) {
        try { h.exec(rollback); } catch { /* already rolled back */ }
        if (e instanceof LiteshiftError) throw e;
        // The host's SQLite refused one of liteshift's reads (a check, a PRAGMA): a stable code.
        const err = new LiteshiftError({ code: 'database_error', message: `the host's SQLite failed during the migration: ${String(e && e.message)}; rolled back, nothing changed` });
        err.cause = e;
        throw err;
      }
    } finally {
      if (toggle) h.exec('PRAGMA foreign_keys = ON');
    }
    return { stepsApplied: p.steps.length, foreignKeysToggled: toggle, plan: p };
  }

  return {
    plan,
    migrate,
    migrateBytes,
    sqliteVersion: () => raw.sqliteVersion(),
    /** Panics inside the module on purpose (see the README): throws an `internal_error`. */
    selfTestPanic: () => call(raw.selfTestPanic),
    adapterFor,
    LiteshiftError,
  };
}
