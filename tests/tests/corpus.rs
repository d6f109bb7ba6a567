//! Migrate every consecutive pair of every project in `../shared/corpus`, on a database
//! holding rows: the result must be exactly the target schema, keep its rows, re-plan to
//! nothing, and pass `integrity_check` and `foreign_key_check`.

use std::fs;

use liteshift::{migrate, plan_migration, Options};
use liteshift_tests::{
    column_values, corpus_dir, facts_diff, fk_violations, integrity, schema_facts, seed_rows,
    table_rows,
};
use rusqlite::Connection;

enum Outcome {
    /// Migrated with rows: (rows seeded, steps applied, warnings).
    Migrated(usize, usize, Vec<String>),
    /// The seeded rows violate the target: a new NOT NULL (or UNIQUE) column without a
    /// default, or a kept column that becomes NOT NULL over NULLs. The refusal left the
    /// database unchanged; with declared values for those columns (as the app's own upgrade
    /// code computes them) it migrated exactly with rows: (rows, steps, values declared).
    MigratedWithValues(usize, usize, usize),
    /// The seeded rows violate the target in a way no value for a new column fixes (a new
    /// foreign key the seeded rows break): the refusal left the database unchanged, and the
    /// same pair migrated exactly without rows.
    RefusedByData(String),
    /// Where enforcement stays on: the declared schema's own foreign key cannot work (to a
    /// table that does not exist, or to parent columns that are not a key), so SQLite refuses
    /// every write to the table — the copy too; the step failed and left the database
    /// unchanged (the app cannot write that table on such a host either).
    UnwritableWhereEnforced(String),
}

/// The options every pair runs with: the defaults, plus allowing data loss (real upgrades do
/// drop tables and columns).
fn options() -> Options {
    Options {
        allow_data_loss: true,
        ..Options::default()
    }
}

/// How the database's connection behaves.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Host {
    Ordinary,
    /// Foreign-key enforcement cannot be switched off (D1, rqlite `-fk`).
    Enforced,
    /// A Durable Object: the migration runs in the caller's `transactionSync`, on a
    /// connection that refuses `BEGIN`, `SAVEPOINT`, temp tables and `writable_schema`.
    DurableObject,
}

impl Host {
    /// Enforcement stays on through the migration.
    fn enforced(self) -> bool {
        self != Host::Ordinary
    }
}

fn migrate_pair(from: &str, to: &str, host: Host) -> Result<Outcome, String> {
    match migrate_pair_with_rows(from, to, 3, &options(), host) {
        Err(e @ liteshift::Error::Refused(liteshift::Refusal::Violations { .. })) => {
            if let Some(opts) = with_values(from, to, &e) {
                match migrate_pair_with_rows(from, to, 3, &opts, host) {
                    Ok(Ok((r, s, _))) => {
                        return Ok(Outcome::MigratedWithValues(r, s, opts.hints.values.len()))
                    }
                    Ok(Err(m)) => return Err(format!("with declared values: {m}")),
                    Err(e2) if unwritable_where_enforced(&e2, host) => {
                        return Ok(Outcome::UnwritableWhereEnforced(e2.to_string()))
                    }
                    Err(e2) if !e2.is_refusal() => {
                        return Err(format!("with declared values: {e2}"))
                    }
                    Err(_) => {}
                }
            }
            match migrate_pair_with_rows(from, to, 0, &options(), host) {
                Ok(Ok(_)) => Ok(Outcome::RefusedByData(e.to_string())),
                Ok(Err(m)) => Err(format!("without rows: {m}")),
                Err(e2) if unwritable_where_enforced(&e2, host) => {
                    Ok(Outcome::UnwritableWhereEnforced(e2.to_string()))
                }
                Err(e2) => Err(format!("refused with rows ({e}), and without rows: {e2}")),
            }
        }
        Err(e) if unwritable_where_enforced(&e, host) => {
            Ok(Outcome::UnwritableWhereEnforced(e.to_string()))
        }
        Err(e) => Err(format!("migrate: {e}")),
        Ok(Ok((r, s, w))) => Ok(Outcome::Migrated(r, s, w)),
        Ok(Err(m)) => Err(m),
    }
}

/// Declared values for the columns a refusal names: a distinct value per row, of the column's
/// kind, for a new NOT NULL or UNIQUE column; the old value or that for a kept column that
/// becomes NOT NULL.
fn with_values(from: &str, to: &str, refusal: &liteshift::Error) -> Option<Options> {
    let liteshift::Error::Refused(liteshift::Refusal::Violations { violations }) = refusal else {
        return None;
    };
    let (old, new) = (
        Connection::open_in_memory().unwrap(),
        Connection::open_in_memory().unwrap(),
    );
    old.execute_batch(from).unwrap();
    new.execute_batch(to).unwrap();
    let column_type = |conn: &Connection, t: &str, c: &str| -> Option<String> {
        conn.query_row(
            "SELECT upper(type) FROM pragma_table_info(?1) WHERE name = ?2 COLLATE NOCASE",
            [t, c],
            |r| r.get(0),
        )
        .ok()
    };
    let mut opts = options();
    for v in violations {
        // NOT NULL on a column (the pre-check), or a new unique index SQLite stopped at
        // ("UNIQUE constraint failed: t.c").
        let named = v
            .constraint
            .strip_prefix("UNIQUE constraint failed: ")
            .and_then(|tc| tc.split_once('.'))
            .map(|(t, c)| (t.to_string(), c.to_string()));
        let (t, c) = match (&v.column, named) {
            (Some(c), _) if v.constraint == "NOT NULL" || v.constraint.starts_with("UNIQUE") => {
                (v.table.clone(), c.clone())
            }
            (_, Some(tc)) => tc,
            _ => continue,
        };
        let ty = column_type(&new, &t, &c).unwrap_or_default();
        let distinct = if ["INT", "REAL", "NUM", "FLOA", "DOUB"]
            .iter()
            .any(|k| ty.contains(k))
        {
            "rowid".to_string()
        } else {
            "'v' || rowid".to_string()
        };
        // A new column: a distinct value per row; a kept one that becomes NOT NULL: its value,
        // or that where it is NULL.
        let expr = match column_type(&old, &t, &c) {
            None => distinct,
            Some(_) if v.constraint == "NOT NULL" => {
                format!("coalesce({}, {distinct})", liteshift::quote_ident(&c))
            }
            Some(_) => continue,
        };
        if !opts
            .hints
            .values
            .iter()
            .any(|x| x.table == t && x.column == c)
        {
            opts.hints.add_value(&format!("{t}.{c}={expr}")).unwrap();
        }
    }
    (!opts.hints.values.is_empty()).then_some(opts)
}

/// A step failed because the schema's own foreign key cannot work where enforcement stays on
/// (to a missing table, or to parent columns that are not a key: SQLite refuses every write
/// to the table).
fn unwritable_where_enforced(e: &liteshift::Error, host: Host) -> bool {
    matches!(e, liteshift::Error::StepFailed { .. })
        && host.enforced()
        && (e.to_string().contains("foreign key mismatch")
            || e.to_string().contains("no such table"))
}

type Migrated = (usize, usize, Vec<String>);
type ColumnValues = std::collections::BTreeMap<(String, String), (String, Vec<String>)>;

fn migrate_pair_with_rows(
    from: &str,
    to: &str,
    rows: usize,
    opts: &Options,
    host: Host,
) -> Result<Result<Migrated, String>, liteshift::Error> {
    let mut conn = Connection::open_in_memory().unwrap();
    conn.execute_batch(from).expect("loading the from schema");
    conn.execute_batch("PRAGMA foreign_keys = ON").unwrap();
    let seeded = seed_rows(&conn, rows);
    let before = table_rows(&conn);
    let values_before = column_values(&conn);
    let fk_before = fk_violations(&conn);
    let schema_before = liteshift::introspect(&conn).unwrap();
    if host == Host::Enforced {
        liteshift_tests::hosts::foreign_keys_always_on(&mut conn);
    }
    let migrated = if host == Host::DurableObject {
        use liteshift_tests::hosts::{durable_object_like, transaction_sync, unrestricted};
        durable_object_like(&mut conn);
        let r = transaction_sync(&mut conn, |h| migrate(h, to, opts));
        // The checks read every table; the platform's own (`_cf_KV`) is not the schema's.
        unrestricted(&mut conn);
        conn.execute_batch("DROP TABLE _cf_KV").unwrap();
        r
    } else {
        migrate(&mut conn, to, opts)
    };
    let report = match migrated {
        Ok(r) if host.enforced() && r.plan.foreign_keys_off => {
            return Ok(Err("the plan asks for enforcement off".into()))
        }
        Ok(r) => r,
        Err(e) => {
            if table_rows(&conn) != before || liteshift::introspect(&conn).unwrap() != schema_before
            {
                return Ok(Err(format!("failed ({e}) and left the database changed")));
            }
            return Err(e);
        }
    };
    let checked = check_result(&mut conn, to, &report, before, values_before, fk_before);
    Ok(checked.map(|()| (seeded, report.steps_applied, report.plan.warnings.clone())))
}

fn check_result(
    conn: &mut Connection,
    to: &str,
    report: &liteshift::Report,
    before: std::collections::BTreeMap<String, (i64, Vec<i64>)>,
    values_before: ColumnValues,
    fk_before: usize,
) -> Result<(), String> {
    let fk_on: bool = conn
        .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
        .unwrap();
    if !fk_on {
        return Err("foreign_keys was not restored".into());
    }
    // Exactly the declared schema, as SQLite reports it.
    let fresh = Connection::open_in_memory().unwrap();
    fresh.execute_batch(to).unwrap();
    let differs = facts_diff(&schema_facts(conn, false), &schema_facts(&fresh, false));
    if !differs.is_empty() {
        return Err(format!(
            "schema not exactly as declared: {}",
            differs.join("; ")
        ));
    }
    let again = plan_migration(conn, to, &Options::default()).map_err(|e| e.to_string())?;
    if !again.plan.steps.is_empty() {
        return Err(format!("re-plan not empty: {:?}", again.plan.changes));
    }
    let second = migrate(conn, to, &Options::default()).map_err(|e| e.to_string())?;
    if second.steps_applied != 0 {
        return Err(format!(
            "a second run applied {} step(s)",
            second.steps_applied
        ));
    }
    let ic = integrity(conn);
    if ic != "ok" {
        return Err(format!("integrity_check: {ic}"));
    }
    if fk_violations(conn) > fk_before {
        return Err("foreign_key_check shows new violations".into());
    }
    let after = table_rows(conn);
    let values_after = column_values(conn);
    for (t, (n, rowids)) in &before {
        if let Some((n2, rowids2)) = after.get(t) {
            let dropped_and_recreated = report
                .plan
                .steps
                .iter()
                .any(|s| s.destructive && s.reason.starts_with(&format!("drop table {t} ")));
            if dropped_and_recreated {
                continue;
            }
            if n != n2 {
                return Err(format!("table {t}: {n} rows before, {n2} after"));
            }
            if !rowids.is_empty() && !rowids2.is_empty() && rowids != rowids2 {
                return Err(format!("table {t}: rowids changed"));
            }
        }
    }
    // Every value of a column kept with the same declared type is kept, row for row.
    for (key, (ty, vals)) in &values_before {
        let recreated = report
            .plan
            .steps
            .iter()
            .any(|s| s.destructive && s.reason.starts_with(&format!("drop table {} ", key.0)));
        // A column given a declared value takes it (checked by the fixtures).
        let valued = report
            .plan
            .changes
            .iter()
            .any(|c| c.starts_with(&format!("existing rows of {}.{} take", key.0, key.1)));
        if let Some((ty2, vals2)) = values_after.get(key) {
            if ty == ty2 && !recreated && !valued && vals != vals2 {
                return Err(format!("{}.{}: values changed", key.0, key.1));
            }
        }
    }
    Ok(())
}

#[test]
fn corpus_every_consecutive_pair() {
    run_corpus(Host::Ordinary);
}

/// The same pairs on a connection that keeps foreign-key enforcement on: every row kept.
#[test]
fn corpus_every_consecutive_pair_with_foreign_keys_enforced() {
    run_corpus(Host::Enforced);
}

/// The same pairs inside a Durable Object's `transactionSync` (no `BEGIN`, no savepoint,
/// enforcement on): every row kept, and a refusal or failure rolled back by the caller.
#[test]
fn corpus_every_consecutive_pair_in_a_durable_objects_transaction() {
    run_corpus(Host::DurableObject);
}

fn run_corpus(host: Host) {
    let Some(dir) = corpus_dir() else {
        eprintln!("SKIPPED: ../shared/corpus is not present (it is in CI); corpus test not run");
        return;
    };
    let mut projects: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| e.path())
        .collect();
    projects.sort();
    let (mut pairs, mut rows, mut steps) = (0, 0, 0);
    let mut failures = Vec::new();
    let mut refused = Vec::new();
    let mut unwritable = Vec::new();
    let mut warned = 0;
    let (mut valued_pairs, mut values) = (0, 0);
    for p in projects {
        let mut versions: Vec<_> = fs::read_dir(&p)
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|f| {
                f.file_name()
                    .and_then(|n| n.to_str())
                    .map(|n| n.starts_with('v') && n.ends_with(".sql"))
                    .unwrap_or(false)
            })
            .collect();
        versions.sort();
        for w in versions.windows(2) {
            pairs += 1;
            let from = fs::read_to_string(&w[0]).unwrap();
            let to = fs::read_to_string(&w[1]).unwrap();
            let label = format!(
                "{}/{} -> {}",
                p.file_name().unwrap().to_string_lossy(),
                w[0].file_name().unwrap().to_string_lossy(),
                w[1].file_name().unwrap().to_string_lossy()
            );
            match migrate_pair(&from, &to, host) {
                Ok(Outcome::Migrated(r, s, w)) => {
                    rows += r;
                    steps += s;
                    warned += usize::from(w.iter().any(|w| w.contains("foreign key")));
                }
                Ok(Outcome::MigratedWithValues(r, s, n)) => {
                    rows += r;
                    steps += s;
                    valued_pairs += 1;
                    values += n;
                }
                Ok(Outcome::RefusedByData(m)) => refused.push(format!("{label}: {m}")),
                Ok(Outcome::UnwritableWhereEnforced(m)) => unwritable.push(format!("{label}: {m}")),
                Err(e) => failures.push(format!("{label}: {e}")),
            }
        }
    }
    for r in &refused {
        eprintln!("refused with seeded rows, migrated exactly without: {r}");
    }
    for r in &unwritable {
        eprintln!("its own foreign key makes a table unwritable where enforcement stays on (unchanged): {r}");
    }
    eprintln!(
        "corpus (default options, allow_data_loss{}): {pairs} pairs; {} migrated exactly with rows ({rows} seeded rows, {steps} steps; {warned} with dangling-foreign-key warnings; {valued_pairs} of them refused until {values} declared values were given for new NOT NULL/UNIQUE columns or NULLs under a new NOT NULL); {} refused by the seeded data (unchanged) and migrated exactly without rows; {} failed where enforcement stays on because the schema's own foreign key makes a table unwritable (unchanged); {} failures",
        match host {
            Host::Ordinary => "",
            Host::Enforced => ", foreign keys enforced",
            Host::DurableObject => ", in a Durable Object's transactionSync",
        },
        pairs - failures.len() - refused.len() - unwritable.len(),
        refused.len(),
        unwritable.len(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} failing pair(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(pairs, 253, "expected the 253 pairs of the corpus");
}
