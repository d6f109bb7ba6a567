//! Fixture tests: each folder of `tests/fixtures/` holds `before.sql`, `after.sql`, optional
//! `data.sql` (rows for the `before` database), optional `options` (`key = value` lines:
//! `rename-table`, `rename-column`, `value` (forward only), `sqlite-version`, ...) and
//! optional `assert.sql` (queries that must each return true after the forward migration),
//! and optional `extra.sql`: objects the database holds that neither schema declares (a
//! platform's tables, objects the `ignore` option names), created after `before.sql` and
//! expected, unchanged, after each direction.
//! After each direction the database must be exactly what the declared SQL creates, as SQLite
//! reports it (`schema_facts`), unless `options` says `exact-text = false` (a fixture about
//! spelling — case, quoting — that is not a change).
//! The rendered plans are insta snapshots beside them (`forward.snap`, `reverse.snap`).
//!
//! Each fixture is applied forward to a database with rows, must re-plan to nothing, keep its
//! rows and pass `foreign_key_check` and `integrity_check`; then the reverse direction the same
//! way. A direction marked `refused` must be refused and leave the file byte-identical.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use liteshift::{migrate, plan_migration, Options, SqliteVersion};
use liteshift_tests::{facts_diff, fk_violations, integrity, schema_facts, table_rows};
use rusqlite::Connection;

struct Fixture {
    dir: PathBuf,
    before: String,
    after: String,
    data: String,
    asserts: String,
    extra: String,
    opts: BTreeMap<String, Vec<String>>,
}

impl Fixture {
    fn load(dir: &Path) -> Fixture {
        let read = |f: &str| fs::read_to_string(dir.join(f)).unwrap_or_default();
        let mut opts: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for line in read("options").lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (k, v) = line.split_once('=').expect("options: key = value");
            opts.entry(k.trim().to_string())
                .or_default()
                .push(v.trim().to_string());
        }
        Fixture {
            dir: dir.to_path_buf(),
            before: read("before.sql"),
            after: read("after.sql"),
            data: read("data.sql"),
            asserts: read("assert.sql"),
            extra: read("extra.sql"),
            opts,
        }
    }
    fn opt(&self, k: &str) -> Option<&str> {
        self.opts.get(k).and_then(|v| v.first()).map(String::as_str)
    }
    fn options(&self, reverse: bool) -> Options {
        let mut o = Options {
            allow_data_loss: self.opt("allow-data-loss") != Some("false"),
            exact_column_order: self.opt("exact-column-order") == Some("true"),
            ignore: self.opts.get("ignore").cloned().unwrap_or_default(),
            keep_undeclared: self.opt("keep-undeclared") == Some("true"),
            sqlite_version: self
                .opt("sqlite-version")
                .map(|v| SqliteVersion::parse(v).unwrap()),
            ..Options::default()
        };
        for r in self.opts.get("rename-table").into_iter().flatten() {
            let (a, b) = r.split_once('=').unwrap();
            let r = if reverse {
                format!("{b}={a}")
            } else {
                r.clone()
            };
            o.hints.add_table_rename(&r).unwrap();
        }
        // Declared values apply forward only (the reverse direction has its own schema).
        for v in self.opts.get("value").into_iter().flatten() {
            if !reverse {
                o.hints.add_value(v).unwrap();
            }
        }
        for r in self.opts.get("rename-column").into_iter().flatten() {
            let (lhs, new) = r.split_once('=').unwrap();
            let (t, old) = lhs.rsplit_once('.').unwrap();
            let r = if reverse {
                format!("{t}.{new}={old}")
            } else {
                r.clone()
            };
            o.hints.add_column_rename(&r).unwrap();
        }
        o
    }
}

fn snapshot(fx: &Fixture, name: &str, sql: &str) {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(&fx.dir);
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    // The header's fingerprint hashes the stored text, and the bundled SQLite's version moves
    // with every rusqlite upgrade: neither is what a fixture shows (a version a fixture plans
    // for stays).
    settings.add_filter(
        r"\(schema fingerprint [0-9a-f]{16}\)",
        "(schema fingerprint [fingerprint])",
    );
    let bundled = format!("for SQLite {} ", liteshift::SqliteVersion::bundled());
    settings.add_filter(&regex_escape(&bundled), "for SQLite [bundled] ");
    settings.bind(|| insta::assert_snapshot!(name, sql));
}

/// `text` as a regular expression matching itself.
fn regex_escape(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            let special = "\\.+*?()|[]{}^$".contains(c);
            special
                .then_some('\\')
                .into_iter()
                .chain(std::iter::once(c))
        })
        .collect()
}

/// How the database's connection behaves.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Host {
    /// An ordinary connection (the plans are the snapshots).
    Ordinary,
    /// Foreign-key enforcement cannot be switched off (D1, rqlite `-fk`): a rebuild takes the
    /// tables that reference the rebuilt one along, and must keep every row just the same.
    Enforced,
}

/// Migrate `conn` to `schema`; check everything a migration promises.
fn run_direction(
    fx: &Fixture,
    conn: &mut Connection,
    path: &Path,
    schema: &str,
    reverse: bool,
    host: Host,
) {
    let label = format!(
        "{} ({}{})",
        fx.dir.file_name().unwrap().to_string_lossy(),
        if reverse { "reverse" } else { "forward" },
        if host == Host::Enforced {
            ", foreign keys enforced"
        } else {
            ""
        }
    );
    let opts = fx.options(reverse);
    let planned =
        plan_migration(conn, schema, &opts).unwrap_or_else(|e| panic!("{label}: plan: {e}"));
    if host == Host::Ordinary {
        snapshot(
            fx,
            if reverse { "reverse" } else { "forward" },
            &liteshift::render_sql(&planned.plan),
        );
    } else {
        assert!(
            !planned.plan.foreign_keys_off,
            "{label}: asks for enforcement off"
        );
    }
    let expect = fx
        .opt(if reverse { "reverse" } else { "forward" })
        .unwrap_or("ok");
    if expect == "skip" {
        return;
    }
    let before_rows = table_rows(conn);
    let bytes_before = fs::read(path).unwrap();
    let result = migrate(conn, schema, &opts);
    if expect == "refused" {
        let err = result
            .err()
            .unwrap_or_else(|| panic!("{label}: expected a refusal"));
        assert!(err.is_refusal(), "{label}: expected a refusal, got {err}");
        assert_eq!(
            fs::read(path).unwrap(),
            bytes_before,
            "{label}: refusal changed the file"
        );
        return;
    }
    let report = result.unwrap_or_else(|e| panic!("{label}: migrate: {e}"));
    if fx.opt("no-steps") == Some("true") {
        assert_eq!(report.steps_applied, 0, "{label}: expected no steps");
    }
    let again = plan_migration(conn, schema, &opts).unwrap();
    assert!(
        again.plan.steps.is_empty(),
        "{label}: re-plan not empty: {:?}",
        again.plan.changes
    );
    assert_eq!(integrity(conn), "ok", "{label}");
    assert_eq!(fk_violations(conn), 0, "{label}: foreign_key_check");
    // Exactly what the declared SQL gives, as SQLite reports it (types byte for byte), unless
    // the fixture is about spelling that is not a change (`exact-text = false`).
    if fx.opt("exact-text") != Some("false") {
        let fresh = Connection::open_in_memory().unwrap();
        fresh.execute_batch(schema).unwrap();
        fresh.execute_batch(&fx.extra).unwrap();
        let exact = opts.exact_column_order;
        let differs = facts_diff(&schema_facts(conn, exact), &schema_facts(&fresh, exact));
        assert!(differs.is_empty(), "{label}: not as declared: {differs:#?}");
    }
    let fk_on: bool = conn
        .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
        .unwrap();
    assert!(fk_on, "{label}: foreign_keys not restored");
    let after_rows = table_rows(conn);
    let renames: BTreeMap<String, String> = fx
        .opts
        .get("rename-table")
        .into_iter()
        .flatten()
        .map(|r| {
            let (a, b) = r.split_once('=').unwrap();
            let (a, b) = (a.to_ascii_lowercase(), b.to_ascii_lowercase());
            if reverse {
                (b, a)
            } else {
                (a, b)
            }
        })
        .collect();
    for (t, (n, rowids)) in &before_rows {
        let t2 = renames.get(t).unwrap_or(t);
        if let Some((n2, rowids2)) = after_rows.get(t2) {
            assert_eq!(n, n2, "{label}: rows of {t}");
            if !rowids.is_empty() && !rowids2.is_empty() {
                assert_eq!(rowids, rowids2, "{label}: rowids of {t}");
            }
        }
    }
    if !reverse {
        for q in fx
            .asserts
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with("--"))
        {
            let ok: bool = conn
                .query_row(q, [], |r| r.get(0))
                .unwrap_or_else(|e| panic!("{label}: assert {q}: {e}"));
            assert!(ok, "{label}: assertion failed: {q}");
        }
    }
}

fn run_fixture(dir: &Path, host: Host) {
    let fx = Fixture::load(dir);
    if host == Host::Enforced && fx.opt("foreign-keys") == Some("off") {
        return; // a fixture about data that only exists with enforcement off
    }
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("db.sqlite");
    let mut conn = Connection::open(&path).unwrap();
    conn.execute_batch(&fx.before).unwrap();
    conn.execute_batch(&fx.extra).unwrap();
    conn.execute_batch(&fx.data).unwrap();
    if fx.opt("foreign-keys") != Some("off") {
        conn.execute_batch("PRAGMA foreign_keys = ON").unwrap();
    }
    if host == Host::Enforced {
        liteshift_tests::hosts::foreign_keys_always_on(&mut conn);
    }
    run_direction(&fx, &mut conn, &path, &fx.after, false, host);
    if fx.opt("forward") == Some("refused") {
        return;
    }
    run_direction(&fx, &mut conn, &path, &fx.before, true, host);
}

#[test]
fn fixtures() {
    run_fixtures(Host::Ordinary);
}

#[test]
fn fixtures_with_foreign_keys_enforced() {
    run_fixtures(Host::Enforced);
}

fn run_fixtures(host: Host) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut dirs: Vec<PathBuf> = fs::read_dir(&root)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    assert!(dirs.len() >= 25, "expected the fixture folders");
    let mut failed = Vec::new();
    for d in &dirs {
        let r = std::panic::catch_unwind(|| run_fixture(d, host));
        if r.is_err() {
            failed.push(d.file_name().unwrap().to_string_lossy().to_string());
        }
    }
    eprintln!("fixtures: {} run, {} failed", dirs.len(), failed.len());
    assert!(failed.is_empty(), "failing fixtures: {failed:?}");
}
