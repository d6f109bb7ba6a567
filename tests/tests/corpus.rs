//! Migrate every consecutive pair of every project in `../shared/corpus`, on a database
//! holding rows: the result must be exactly the target schema, keep its rows, re-plan to
//! nothing, and pass `integrity_check` and `foreign_key_check`.

use std::fs;

use liteshift::{migrate, plan_migration, Options};
use liteshift_tests::{corpus_dir, fk_violations, integrity, seed_rows, table_rows};
use rusqlite::Connection;

enum Outcome {
    /// Migrated with rows: (rows seeded, steps applied).
    Migrated(usize, usize),
    /// The seeded rows violate the target (e.g. a new NOT NULL column without a default): the
    /// refusal left the database unchanged, and the same pair migrated exactly without rows.
    RefusedByData(String),
    /// The target schema declares a foreign key to an undeclared table or column, which
    /// liteshift rejects by default; it migrated exactly with `allow_dangling_foreign_keys`.
    InvalidTarget(String, usize, usize),
}

fn migrate_pair(from: &str, to: &str) -> Result<Outcome, String> {
    migrate_pair_lenient(from, to, false)
}

fn migrate_pair_lenient(from: &str, to: &str, lenient: bool) -> Result<Outcome, String> {
    match migrate_pair_with_rows(from, to, 3, lenient) {
        Err(liteshift::Error::Schema { message, .. })
            if message.contains("foreign key") && !lenient =>
        {
            match migrate_pair_lenient(from, to, true)? {
                Outcome::Migrated(r, s) => Ok(Outcome::InvalidTarget(message, r, s)),
                other => Ok(other),
            }
        }
        Err(e @ liteshift::Error::Refused(liteshift::Refusal::Violations { .. })) => {
            match migrate_pair_with_rows(from, to, 0, lenient) {
                Ok(Ok(_)) => Ok(Outcome::RefusedByData(e.to_string())),
                Ok(Err(m)) => Err(format!("without rows: {m}")),
                Err(e2) => Err(format!("refused with rows ({e}), and without rows: {e2}")),
            }
        }
        Err(e) => Err(format!("migrate: {e}")),
        Ok(Ok((r, s))) => Ok(Outcome::Migrated(r, s)),
        Ok(Err(m)) => Err(m),
    }
}

fn migrate_pair_with_rows(
    from: &str,
    to: &str,
    rows: usize,
    lenient: bool,
) -> Result<Result<(usize, usize), String>, liteshift::Error> {
    let mut conn = Connection::open_in_memory().unwrap();
    conn.execute_batch(from).expect("loading the from schema");
    conn.execute_batch("PRAGMA foreign_keys = ON").unwrap();
    let seeded = seed_rows(&conn, rows);
    let before = table_rows(&conn);
    let schema_before = liteshift::introspect(&conn).unwrap();
    let opts = Options {
        allow_data_loss: true,
        allow_dangling_foreign_keys: lenient,
        ..Options::default()
    };
    let report = match migrate(&mut conn, to, &opts) {
        Ok(r) => r,
        Err(e) => {
            if table_rows(&conn) != before || liteshift::introspect(&conn).unwrap() != schema_before
            {
                return Ok(Err(format!("failed ({e}) and left the database changed")));
            }
            return Err(e);
        }
    };
    Ok(check_result(&conn, to, report, before, seeded, lenient))
}

fn check_result(
    conn: &Connection,
    to: &str,
    report: liteshift::Report,
    before: std::collections::BTreeMap<String, (i64, Vec<i64>)>,
    seeded: usize,
    lenient: bool,
) -> Result<(usize, usize), String> {
    let fk_on: bool = conn
        .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
        .unwrap();
    if !fk_on {
        return Err("foreign_keys was not restored".into());
    }
    let again = plan_migration(
        conn,
        to,
        &Options {
            allow_dangling_foreign_keys: lenient,
            ..Options::default()
        },
    )
    .map_err(|e| e.to_string())?;
    if !again.plan.steps.is_empty() {
        return Err(format!("re-plan not empty: {:?}", again.plan.changes));
    }
    let ic = integrity(conn);
    if ic != "ok" {
        return Err(format!("integrity_check: {ic}"));
    }
    if !lenient && fk_violations(conn) != 0 {
        return Err("foreign_key_check not clean".into());
    }
    let after = table_rows(conn);
    for (t, (n, rowids)) in &before {
        if let Some((n2, rowids2)) = after.get(t) {
            let dropped_and_recreated =
                again.current.tables.contains_key(t)
                    && report.plan.steps.iter().any(|s| {
                        s.destructive && s.reason.starts_with(&format!("drop table {}", t))
                    });
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
    Ok((seeded, report.steps_applied))
}

#[test]
fn corpus_every_consecutive_pair() {
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
    let mut invalid = Vec::new();
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
            match migrate_pair(&from, &to) {
                Ok(Outcome::Migrated(r, s)) => {
                    rows += r;
                    steps += s;
                }
                Ok(Outcome::RefusedByData(m)) => refused.push(format!("{label}: {m}")),
                Ok(Outcome::InvalidTarget(m, r, s)) => {
                    rows += r;
                    steps += s;
                    invalid.push(format!("{label}: {m}"))
                }
                Err(e) => failures.push(format!("{label}: {e}")),
            }
        }
    }
    for r in &refused {
        eprintln!("refused with seeded rows, migrated exactly without: {r}");
    }
    for r in &invalid {
        eprintln!("rejected by default, migrated exactly with allow_dangling_foreign_keys: {r}");
    }
    eprintln!(
        "corpus: {pairs} pairs; {} migrated exactly with rows ({rows} seeded rows, {steps} steps); {} refused by the seeded data (unchanged) and migrated exactly without rows; {} of those only with allow_dangling_foreign_keys (the target declares a foreign key to an undeclared table/column); {} failures",
        pairs - failures.len() - refused.len(),
        refused.len(),
        invalid.len(),
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
