//! Check functions shared by the property tests, the fuzz targets and the ordinary test that
//! runs the fuzz seeds. Each returns `Err(description)` when a promise of liteshift is broken.

use std::collections::BTreeMap;
use std::fs;

use liteshift::{migrate, plan_diff, plan_migration, Error, Options};
use rusqlite::Connection;

use crate::{fk_violations, integrity, seed_rows, table_rows};

/// What happened to one pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PairOutcome {
    /// Migrated exactly.
    Migrated { steps: usize },
    /// Refused (data loss not allowed, or rows violate b); the file stayed byte-identical.
    Refused,
}

/// Arbitrary text as a declared schema: a result or a clean error, never a panic; and when it
/// loads, it diffs empty against itself and plans nothing.
pub fn check_declared_text(data: &[u8]) -> Result<(), String> {
    let Ok(text) = std::str::from_utf8(data) else {
        return Ok(());
    };
    let clean = |r: &Result<liteshift::Declared, Error>| match r {
        Err(Error::Schema { line, column, .. }) if *line == 0 || *column == 0 => {
            Err(format!("schema error at {line}:{column}"))
        }
        Err(Error::Schema { .. }) | Ok(_) => Ok(()),
        Err(e) => Err(format!("unexpected error kind: {e}")),
    };
    let plain = liteshift::load_declared(text, "fuzz.sql");
    clean(&plain)?;
    // The same text for a host with its own virtual-table modules (stand-ins for missing ones):
    // it accepts whatever plain loading accepts, and models it identically.
    let opts = liteshift::LoadOptions {
        deny_dangling_fks: false,
        host_modules: true,
        ..Default::default()
    };
    let hosted = liteshift::load_declared_opts(text, "fuzz.sql", opts);
    clean(&hosted)?;
    match (&plain, &hosted) {
        (Ok(d), Ok(h)) => {
            let ch = liteshift::diff(&d.schema, &h.schema, &d.hints, Default::default());
            if !ch.is_empty() {
                return Err(format!("host-module loading differs: {:?}", ch.summary()));
            }
        }
        (Ok(_), Err(e)) => return Err(format!("host-module loading refused it: {e}")),
        _ => {}
    }
    let d = match hosted {
        Ok(d) => d,
        Err(_) => return Ok(()),
    };
    let ch = liteshift::diff(&d.schema, &d.schema, &d.hints, Default::default());
    if !ch.is_empty() {
        return Err(format!("diff(s, s) not empty: {:?}", ch.summary()));
    }
    let caps = liteshift::Capabilities::new(liteshift::SqliteVersion::bundled());
    let p = liteshift::plan(&d.schema, &d.schema, &ch, caps, Default::default());
    if !p.steps.is_empty() {
        return Err(format!("plan(s, s) not empty: {:?}", p.changes));
    }
    Ok(())
}

/// [`crate::column_values`] keyed by (table, `column:TYPE`): a column whose type changed is
/// another key, since SQLite's affinity may change its values.
fn column_values(conn: &Connection) -> BTreeMap<(String, String), Vec<String>> {
    crate::column_values(conn)
        .into_iter()
        .map(|((t, c), (ty, vals))| ((t, format!("{c}:{}", ty.to_ascii_uppercase())), vals))
        .collect()
}

/// Migrate a database at `a` holding rows to `b`, and check every promise: exactly `b`,
/// re-plan empty, rows and rowids of kept tables kept, kept columns' values unchanged (when
/// their type did not change), `integrity_check` and `foreign_key_check` clean, foreign keys
/// restored; a refusal leaves the file byte-identical. Also: planning is deterministic.
pub fn check_pair(
    pair: &crate::gen::Pair,
    rows_per_table: usize,
    allow_data_loss: bool,
) -> Result<PairOutcome, String> {
    check_pair_on(pair, rows_per_table, allow_data_loss, HostMode::Ordinary)
}

/// The connection a pair is migrated on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostMode {
    /// An ordinary SQLite connection.
    Ordinary,
    /// Foreign-key enforcement stays on whatever it is told (D1, rqlite `-fk`:
    /// `hosts::foreign_keys_always_on`).
    Enforced,
    /// A Durable Object: the migration runs in the caller's `transactionSync`
    /// (`hosts::transaction_sync`), with no `BEGIN` or savepoint of its own.
    TransactionSync,
}

/// [`check_pair`] on the connection `mode` says. Where enforcement stays on (every mode but
/// the ordinary one) the plan
/// must never ask for enforcement off, and every promise holds just the same; a step that
/// fails because the schema's own foreign key cannot work there (to a missing table, or to
/// parent columns that are not a key: SQLite refuses every write to the table) must leave
/// the file byte-identical, and counts as a refusal.
pub fn check_pair_on(
    pair: &crate::gen::Pair,
    rows_per_table: usize,
    allow_data_loss: bool,
    mode: HostMode,
) -> Result<PairOutcome, String> {
    let enforced = mode != HostMode::Ordinary;
    let (a, b) = (pair.a.as_str(), pair.b.as_str());
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let path = dir.path().join("db.sqlite");
    let mut conn = Connection::open(&path).map_err(|e| e.to_string())?;
    conn.execute_batch(a)
        .map_err(|e| format!("generated schema a does not load: {e}\n{a}"))?;
    conn.execute_batch("PRAGMA foreign_keys = ON").unwrap();
    seed_rows(&conn, rows_per_table);
    match mode {
        HostMode::Enforced => crate::hosts::foreign_keys_always_on(&mut conn),
        // The platform's `_cf_KV` is there from the start (the file's bytes before include it).
        HostMode::TransactionSync => {
            crate::hosts::durable_object_like(&mut conn);
            crate::hosts::unrestricted(&mut conn);
        }
        HostMode::Ordinary => {}
    }
    let opts = Options {
        allow_data_loss,
        hints: pair.hints.clone(),
        ..Options::default()
    };
    let p1 =
        plan_migration(&conn, b, &opts).map_err(|e| format!("plan: {e}\n--- a\n{a}--- b\n{b}"))?;
    let p2 = plan_migration(&conn, b, &opts).map_err(|e| e.to_string())?;
    if liteshift::render_sql(&p1.plan) != liteshift::render_sql(&p2.plan) {
        return Err("planning is not deterministic".into());
    }
    let rows_before = table_rows(&conn);
    let values_before = column_values(&conn);
    let declared_before = declared_values(&conn, pair, b);
    let bytes_before = fs::read(&path).unwrap();
    let ctx = || {
        format!(
            "\n--- a\n{a}--- b\n{b}--- hints {:?} values {:?}\n--- plan\n{}",
            pair.hints.columns,
            pair.hints.values,
            liteshift::render_sql(&p1.plan)
        )
    };
    let migrated = if mode == HostMode::TransactionSync {
        crate::hosts::durable_object_like(&mut conn);
        let r = crate::hosts::transaction_sync(&mut conn, |h| migrate(h, b, &opts));
        crate::hosts::unrestricted(&mut conn);
        r
    } else {
        migrate(&mut conn, b, &opts)
    };
    let report = match migrated {
        Ok(r) => r,
        Err(e) if e.is_refusal() => {
            if fs::read(&path).unwrap() != bytes_before {
                return Err(format!("refusal ({e}) changed the file{}", ctx()));
            }
            return Ok(PairOutcome::Refused);
        }
        Err(e @ liteshift::Error::StepFailed { .. })
            if enforced
                && (e.to_string().contains("foreign key mismatch")
                    || e.to_string().contains("no such table")) =>
        {
            if fs::read(&path).unwrap() != bytes_before {
                return Err(format!("failed step ({e}) changed the file{}", ctx()));
            }
            return Ok(PairOutcome::Refused);
        }
        Err(e) => return Err(format!("migrate failed: {e}{}", ctx())),
    };
    if mode == HostMode::TransactionSync {
        // Not the schema's: out of the way of the comparisons below.
        conn.execute_batch("DROP TABLE _cf_KV").unwrap();
    }
    if enforced && report.plan.foreign_keys_off {
        return Err(format!("the plan asks for enforcement off{}", ctx()));
    }
    // Re-planned with the same options (an app passes the same hints at every start): nothing.
    let again = plan_migration(&conn, b, &opts).map_err(|e| format!("re-plan: {e}{}", ctx()))?;
    if !again.plan.steps.is_empty() {
        return Err(format!(
            "re-plan not empty: {:?}{}",
            again.plan.changes,
            ctx()
        ));
    }
    // Exactly b, as SQLite reports it (declared types byte for byte).
    let fresh = Connection::open_in_memory().unwrap();
    fresh.execute_batch(b).unwrap();
    let differs = crate::facts_diff(
        &crate::schema_facts(&conn, false),
        &crate::schema_facts(&fresh, false),
    );
    if !differs.is_empty() {
        return Err(format!("not exactly b: {differs:?}{}", ctx()));
    }
    let ic = integrity(&conn);
    if ic != "ok" {
        return Err(format!("integrity_check: {ic}{}", ctx()));
    }
    if fk_violations(&conn) != 0 {
        return Err(format!("foreign_key_check not clean{}", ctx()));
    }
    let fk: bool = conn
        .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
        .unwrap();
    if !fk {
        return Err("foreign_keys not restored".into());
    }
    let rows_after = table_rows(&conn);
    // Tables whose rows the plan declared lost (every column dropped; data loss allowed).
    let emptied: Vec<String> = report
        .plan
        .steps
        .iter()
        .filter(|s| s.destructive && s.reason.contains("all its rows are lost"))
        .filter_map(|s| s.reason.split_whitespace().nth(1))
        .map(|t| t.trim_end_matches(':').to_ascii_lowercase())
        .collect();
    for (t, (n, rowids)) in &rows_before {
        if emptied.contains(t) {
            continue;
        }
        if let Some((n2, rowids2)) = rows_after.get(t) {
            if n != n2 {
                return Err(format!("table {t}: {n} rows before, {n2} after{}", ctx()));
            }
            if !rowids.is_empty() && !rowids2.is_empty() && rowids != rowids2 {
                return Err(format!("table {t}: rowids changed{}", ctx()));
            }
        }
    }
    let values_after = column_values(&conn);
    let renamed = |t: &str, col_ty: &str| -> String {
        let (col, ty) = col_ty.split_once(':').unwrap_or((col_ty, ""));
        let new = pair
            .hints
            .columns
            .iter()
            .find(|(ht, o, _)| ht.eq_ignore_ascii_case(t) && o.eq_ignore_ascii_case(col))
            .map(|(_, _, n)| n.to_ascii_lowercase())
            .unwrap_or_else(|| col.to_string());
        format!("{new}:{ty}")
    };
    // A swap of two columns of the same definition looks the same before and after, so the
    // planner takes it as already done (README, *Rename annotations*): their values may stay.
    let swapped = |t: &str, col_ty: &str| -> bool {
        let col = col_ty.split_once(':').map_or(col_ty, |(c, _)| c);
        let h = &pair.hints.columns;
        h.iter().any(|(ht, o, n)| {
            ht.eq_ignore_ascii_case(t)
                && o.eq_ignore_ascii_case(col)
                && h.iter().any(|(ht2, o2, n2)| {
                    ht2.eq_ignore_ascii_case(t)
                        && o2.eq_ignore_ascii_case(n)
                        && n2.eq_ignore_ascii_case(col)
                })
        })
    };
    for ((t, col_ty), v) in &values_before {
        let k = (t.clone(), renamed(t, col_ty));
        if let Some(v2) = values_after.get(&k) {
            let stayed = || values_after.get(&(t.clone(), col_ty.clone())) == Some(v);
            if v != v2 && !(swapped(t, col_ty) && stayed()) {
                return Err(format!(
                    "values of {}.{} changed: {v:?} -> {v2:?}{}",
                    k.0,
                    k.1,
                    ctx()
                ));
            }
        }
    }
    // Each declared value is what SQLite computed from the row as it was (stored through the
    // column's affinity).
    for ((t, c), expected) in &declared_before {
        let got = read_pairs(
            &conn,
            &format!("SELECT rowid, quote(\"{c}\") FROM \"{t}\" ORDER BY rowid"),
        );
        if got != *expected {
            return Err(format!(
                "declared value of {t}.{c}: expected {expected:?}, got {got:?}{}",
                ctx()
            ));
        }
    }
    Ok(PairOutcome::Migrated {
        steps: report.steps_applied,
    })
}

/// (rowid, quoted value) rows of a query; empty when it cannot run.
fn read_pairs(conn: &Connection, sql: &str) -> Vec<(i64, String)> {
    conn.prepare(sql)
        .and_then(|mut s| {
            s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .unwrap_or_default()
}

/// For each declared value of a rowid table: (rowid, the quoted value it must hold), computed
/// now from the rows as they are and stored through a column of the declared type.
fn declared_values(
    conn: &Connection,
    pair: &crate::gen::Pair,
    b: &str,
) -> std::collections::BTreeMap<(String, String), Vec<(i64, String)>> {
    let mut out = std::collections::BTreeMap::new();
    let target = Connection::open_in_memory().unwrap();
    target.execute_batch(b).unwrap();
    for v in &pair.hints.values {
        let ty: Option<String> = target
            .query_row(
                "SELECT type FROM pragma_table_info(?1) WHERE name = ?2",
                [&v.table, &v.column],
                |r| r.get(0),
            )
            .ok();
        let rowid_table = conn
            .query_row(
                &format!("SELECT rowid FROM \"{}\" LIMIT 1", v.table),
                [],
                |_| Ok(()),
            )
            .is_ok()
            || conn
                .prepare(&format!("SELECT rowid FROM \"{}\"", v.table))
                .is_ok();
        let Some(ty) = ty.filter(|_| rowid_table) else {
            continue;
        };
        let probe = Connection::open_in_memory().unwrap();
        if probe
            .execute_batch(&format!("CREATE TABLE x(r INTEGER PRIMARY KEY, v {ty})"))
            .is_err()
        {
            continue;
        }
        let rows: Vec<(i64, rusqlite::types::Value)> = conn
            .prepare(&format!(
                "SELECT rowid, ({}) FROM \"{}\" ORDER BY rowid",
                v.expr, v.table
            ))
            .and_then(|mut s| {
                s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .unwrap_or_default();
        for (r, val) in &rows {
            probe
                .execute("INSERT INTO x VALUES (?1, ?2)", rusqlite::params![r, val])
                .unwrap();
        }
        out.insert(
            (v.table.clone(), v.column.clone()),
            read_pairs(&probe, "SELECT r, quote(v) FROM x ORDER BY r"),
        );
    }
    out
}

/// The script `liteshift diff a b` prints, run in the real `sqlite3` shell on a database at
/// `a`, yields `b`. Returns `Ok(false)` when no `sqlite3` shell is installed.
pub fn check_diff_script_in_shell(pair: &crate::gen::Pair) -> Result<bool, String> {
    let (a, b) = (pair.a.as_str(), pair.b.as_str());
    let Ok(v) = std::process::Command::new("sqlite3")
        .arg("--version")
        .output()
    else {
        return Ok(false);
    };
    let version = String::from_utf8_lossy(&v.stdout)
        .split_whitespace()
        .next()
        .and_then(liteshift::SqliteVersion::parse)
        .ok_or("cannot read the sqlite3 shell's version")?;
    let opts = Options {
        allow_data_loss: true,
        sqlite_version: Some(version),
        hints: pair.hints.clone(),
        ..Options::default()
    };
    let planned = plan_diff(a, "a.sql", b, &opts).map_err(|e| e.to_string())?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let db = dir.path().join("x.db");
    Connection::open(&db)
        .and_then(|c| c.execute_batch(a))
        .map_err(|e| e.to_string())?;
    let script = dir.path().join("m.sql");
    fs::write(&script, liteshift::render_sql(&planned.plan)).unwrap();
    let out = std::process::Command::new("sqlite3")
        .arg("-bail")
        .arg(&db)
        .arg(format!(".read {}", script.display()))
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!(
            "sqlite3 shell failed: {}\n--- a\n{a}--- b\n{b}--- script\n{}",
            String::from_utf8_lossy(&out.stderr),
            liteshift::render_sql(&planned.plan)
        ));
    }
    let conn = Connection::open(&db).map_err(|e| e.to_string())?;
    let again = plan_migration(&conn, b, &opts).map_err(|e| e.to_string())?;
    if !again.plan.steps.is_empty() {
        return Err(format!(
            "after the shell ran the script, the database still differs: {:?}\n--- a\n{a}--- b\n{b}",
            again.plan.changes
        ));
    }
    Ok(true)
}

/// The fuzz target over schema pairs: `data` drives the pair generator (through `arbitrary`),
/// the number of edits, and whether data loss is allowed; then [`check_pair`].
pub fn check_pair_from_bytes(data: &[u8]) -> Result<(), String> {
    let mut u = arbitrary::Unstructured::new(data);
    let edits = u.int_in_range(1..=5u8).unwrap_or(1) as usize;
    let allow = u.arbitrary::<bool>().unwrap_or(true);
    let rows = u.int_in_range(0..=3u8).unwrap_or(2) as usize;
    struct Arb<'a, 'b>(&'b mut arbitrary::Unstructured<'a>);
    impl crate::gen::Entropy for Arb<'_, '_> {
        fn next_u64(&mut self) -> u64 {
            self.0.arbitrary::<u64>().unwrap_or(0)
        }
    }
    let pair = crate::gen::pair(&mut Arb(&mut u), edits);
    check_pair(&pair, rows, allow).map(|_| ())
}

/// The schema of the database images the `database_image` fuzz target starts from
/// ([`seed_image`]), and the declaration each mutated image is migrated to: a rebuild
/// (`child.payload` NOT NULL, NOCASE), `ADD COLUMN`s (O(1)), an index, a view.
pub const IMAGE_SCHEMA: &str = "
CREATE TABLE parent(id INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE child(id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent(id), payload TEXT, n INTEGER);
CREATE INDEX child_parent ON child(parent_id);
CREATE TABLE tags(name TEXT PRIMARY KEY, n INTEGER) WITHOUT ROWID;
CREATE VIEW sizes AS SELECT parent_id, count(*) AS n FROM child GROUP BY parent_id;
CREATE TRIGGER child_n AFTER INSERT ON child BEGIN UPDATE parent SET name = name WHERE id = new.parent_id; END;
";

pub const IMAGE_TARGET: &str = "
CREATE TABLE parent(id INTEGER PRIMARY KEY, name TEXT NOT NULL, note TEXT);
CREATE TABLE child(id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent(id), payload TEXT NOT NULL DEFAULT '' COLLATE NOCASE, n INTEGER);
CREATE INDEX child_parent ON child(parent_id);
CREATE INDEX child_n ON child(n);
CREATE TABLE tags(name TEXT PRIMARY KEY, n INTEGER, extra BLOB) WITHOUT ROWID;
CREATE VIEW sizes AS SELECT parent_id, count(*) AS n, 1 AS one FROM child GROUP BY parent_id;
CREATE TRIGGER child_n AFTER INSERT ON child BEGIN UPDATE parent SET name = name WHERE id = new.parent_id; END;
";

/// A valid database image of [`IMAGE_SCHEMA`] with `rows` child rows (pages of 1 KB, so that
/// a small image has many pages).
pub fn seed_image(rows: u32) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("seed.db");
    let c = Connection::open(&path).unwrap();
    c.execute_batch("PRAGMA page_size = 1024").unwrap();
    c.execute_batch(IMAGE_SCHEMA).unwrap();
    c.execute_batch(&format!(
        "WITH RECURSIVE i(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM i WHERE x < 5) INSERT INTO parent SELECT x, 'p' || x FROM i;
         WITH RECURSIVE i(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM i WHERE x < {rows}) INSERT INTO child SELECT x, 1 + x % 5, printf('%030d', x), x FROM i;
         INSERT INTO tags VALUES ('a', 1), ('b', 2);"
    ))
    .unwrap();
    drop(c);
    fs::read(&path).unwrap()
}

/// Images larger than this are not tried (a fuzzer's inputs stay small and fast).
pub const MAX_IMAGE: usize = 256 * 1024;

/// A database image, perhaps damaged: liteshift inspects, checks, plans and migrates it (to
/// [`IMAGE_TARGET`]) on connections it opens itself, each statement interrupted after a few
/// seconds. Never a panic; an error is a clean one; whenever the migration fails, the file is
/// byte for byte as it was; when it succeeds, the file is then in sync.
pub fn check_database_image(data: &[u8]) -> Result<(), String> {
    if data.len() > MAX_IMAGE {
        return Ok(());
    }
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let path = dir.path().join("image.db");
    fs::write(&path, data).map_err(|e| e.to_string())?;
    let timeout = std::time::Duration::from_secs(1);
    let opened = |write: bool| {
        let mut c = liteshift::fleet::open_existing(&path, write, timeout)?;
        // A time limit per input: every statement is interrupted after 3 s.
        let started = std::time::Instant::now();
        c.progress_handler(
            1000,
            Some(move || started.elapsed() > std::time::Duration::from_secs(3)),
        )?;
        Ok::<_, Error>(c)
    };
    let opts = Options::default();
    // inspect, plan, check: they only read.
    if let Ok(c) = opened(false) {
        let _ = liteshift::introspect(&c);
        let _ = plan_migration(&c, IMAGE_TARGET, &opts).map(|p| liteshift::render_sql(&p.plan));
    }
    let _ = liteshift::fleet::run(
        std::slice::from_ref(&path),
        IMAGE_TARGET,
        &opts,
        liteshift::fleet::Mode::Check,
        1,
        &|_| {},
    );
    let before = fs::read(&path).map_err(|e| e.to_string())?;
    if before != data {
        return Err("reading the image changed the file".into());
    }
    // apply.
    let mut c = match opened(true) {
        Ok(c) => c,
        Err(_) => return Ok(()),
    };
    let applied = migrate(&mut c, IMAGE_TARGET, &opts);
    drop(c);
    match applied {
        Err(e) => {
            let message = e.to_string();
            if message.trim().is_empty() {
                return Err("an error without a message".into());
            }
            let after = fs::read(&path).map_err(|e| e.to_string())?;
            if after != before {
                return Err(format!(
                    "the migration failed ({message}) and the file changed"
                ));
            }
            Ok(())
        }
        Ok(r) if r.steps_applied == 0 => Ok(()),
        Ok(_) => {
            let c = opened(false).map_err(|e| format!("the migrated file does not open: {e}"))?;
            match plan_migration(&c, IMAGE_TARGET, &opts) {
                Ok(p) if !p.plan.steps.is_empty() => {
                    Err(format!("migrated, but not in sync: {:?}", p.plan.changes))
                }
                _ => Ok(()),
            }
        }
    }
}

/// Deterministic damage to an image, for the ordinary tests (a fuzzer does better): byte `seed`
/// picks what — bytes flipped, a page zeroed or filled with junk, the file cut short, header
/// fields changed, a byte of `sqlite_schema` rows.
pub fn damage_image(image: &[u8], seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut out = image.to_vec();
    let page = 1024usize;
    let pages = out.len() / page;
    match seed % 6 {
        0 => {
            for _ in 0..1 + next() % 8 {
                let i = (next() as usize) % out.len();
                out[i] ^= 1 << (next() % 8);
            }
        }
        1 => {
            let p = (next() as usize) % pages.max(1);
            out[p * page..(p + 1) * page].fill(0);
        }
        2 => {
            let p = 1 + (next() as usize) % pages.saturating_sub(1).max(1);
            for b in &mut out[(p * page).min(image.len())..] {
                *b = next() as u8;
            }
        }
        3 => {
            let keep = (next() as usize) % out.len();
            out.truncate(keep);
        }
        4 => {
            // A header field: page size, counts, schema cookie, format numbers.
            let i = [
                16usize, 17, 18, 19, 20, 21, 28, 29, 30, 31, 40, 43, 44, 47, 56, 59,
            ][(next() % 16) as usize];
            out[i] = next() as u8;
        }
        _ => {
            // The text of sqlite_schema rows, near the end of page 1.
            let i = page - 1 - (next() as usize) % 700;
            out[i] = next() as u8;
        }
    }
    out
}
