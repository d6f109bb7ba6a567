//! `liteshift test` on the public corpus: every version of each project migrated to its latest
//! (the upgrade path an app's user takes after skipping releases), with generated rows, by
//! `liteshift::testing::upgrade_declared`. A refusal naming NOT NULL or UNIQUE columns is tried
//! again with the values an app's upgrade code would give them (as the corpus test does); a
//! refusal left (rows a new foreign key rejects) is allowed and counted; anything else — rows lost,
//! values changed, integrity, foreign keys, a second run doing something, an error — fails.

use std::fs;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use liteshift::testing::{upgrade_declared, Failure, UpgradeOptions};
use liteshift::Options;
use liteshift_tests::corpus_dir;

/// A path's label, its failures (or error) and the rows generated.
type Tested = (String, Result<Vec<Failure>, String>, usize);

#[test]
fn every_version_of_every_project_to_its_latest() {
    let Some(dir) = corpus_dir() else {
        eprintln!("SKIPPED: ../shared/corpus is not present (it is in CI)");
        return;
    };
    let mut projects: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    projects.sort();
    let opts = UpgradeOptions {
        rows: 5,
        options: Options {
            allow_data_loss: true,
            ..Options::default()
        },
        ..UpgradeOptions::default()
    };
    let mut jobs: Vec<(String, String, usize)> = Vec::new(); // (label, from, project index)
    let mut targets = Vec::new();
    let mut sources: Vec<String> = Vec::new();
    for p in &projects {
        let mut versions: Vec<_> = fs::read_dir(p)
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|f| {
                f.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with('v') && n.ends_with(".sql"))
            })
            .collect();
        versions.sort();
        let latest = versions.pop().unwrap();
        let sql = fs::read_to_string(&latest).unwrap();
        sources.push(sql.clone());
        targets.push(
            liteshift::load_declared_opts(&sql, "latest", opts.options.load_options()).unwrap(),
        );
        for v in versions {
            jobs.push((
                format!(
                    "{}/{}",
                    p.file_name().unwrap().to_string_lossy(),
                    v.file_name().unwrap().to_string_lossy()
                ),
                fs::read_to_string(&v).unwrap(),
                targets.len() - 1,
            ));
        }
    }
    let next = AtomicUsize::new(0);
    let out: Mutex<Vec<Tested>> = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((label, from, t)) = jobs.get(i) else {
                    break;
                };
                let mut r = upgrade_declared(label, from, &targets[*t], &opts);
                // Refused: with the values an app's upgrade code would give the columns the
                // refusal names (twice: a first fix can reveal another).
                let mut o = opts.clone();
                for _ in 0..2 {
                    let Ok(res) = &r else { break };
                    let [Failure::Refused { message, .. }] = res.failures.as_slice() else {
                        break;
                    };
                    if !add_values(&mut o.options, from, &sources[*t], message) {
                        break;
                    }
                    r = upgrade_declared(label, from, &targets[*t], &o);
                }
                let rows = r.as_ref().map_or(0, |r| r.rows);
                out.lock().unwrap().push((
                    label.clone(),
                    r.map(|r| r.failures).map_err(|e| e.to_string()),
                    rows,
                ));
            });
        }
    });
    let out = out.into_inner().unwrap();
    let (mut passed, mut refused, mut rows) = (0, 0, 0);
    let mut wrong = Vec::new();
    for (label, r, n) in &out {
        rows += n;
        match r {
            Ok(f) if f.is_empty() => passed += 1,
            Ok(f) if f.iter().all(|f| matches!(f, Failure::Refused { .. })) => refused += 1,
            Ok(f) => wrong.push(format!(
                "{label}: {}",
                f.iter()
                    .map(|f| f.to_string())
                    .collect::<Vec<_>>()
                    .join("; ")
            )),
            Err(e) => wrong.push(format!("{label}: error: {e}")),
        }
    }
    eprintln!(
        "upgrade paths (each version to its project's latest, 5 rows per table, {rows} rows in all): {} paths; {passed} migrated and verified, {refused} refused by the generated rows; {} wrong",
        out.len(),
        wrong.len()
    );
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert_eq!(
        out.len(),
        258 - 5,
        "every version but each project's latest"
    );
}

/// Values for the columns a refusal names (`NOT NULL on t.c`, `UNIQUE … on t.c`): a distinct
/// value per row of the column's kind for a new column, the old value or that for a kept one.
/// False when there is nothing to add.
fn add_values(opts: &mut Options, from: &str, to: &str, refusal: &str) -> bool {
    let (old, new) = (
        rusqlite::Connection::open_in_memory().unwrap(),
        rusqlite::Connection::open_in_memory().unwrap(),
    );
    old.execute_batch(from).unwrap();
    new.execute_batch(to).unwrap();
    let column_type = |conn: &rusqlite::Connection, t: &str, c: &str| -> Option<String> {
        conn.query_row(
            "SELECT upper(type) FROM pragma_table_info(?1) WHERE name = ?2 COLLATE NOCASE",
            [t, c],
            |r| r.get(0),
        )
        .ok()
    };
    let mut added = false;
    for line in refusal.lines().filter_map(|l| l.trim().strip_prefix("- ")) {
        let Some((constraint, rest)) = line.split_once(" on ") else {
            continue;
        };
        if !(constraint == "NOT NULL" || constraint.starts_with("UNIQUE")) {
            continue;
        }
        let at = rest.split(':').next().unwrap_or(rest);
        let Some((t, c)) = at.split_once('.') else {
            continue;
        };
        if opts
            .hints
            .values
            .iter()
            .any(|v| v.table == t && v.column == c)
        {
            continue;
        }
        let ty = column_type(&new, t, c).unwrap_or_default();
        let distinct = if ["INT", "REAL", "NUM", "FLOA", "DOUB"]
            .iter()
            .any(|k| ty.contains(k))
        {
            "rowid".to_string()
        } else {
            "'v' || rowid".to_string()
        };
        let expr = match column_type(&old, t, c) {
            None => distinct,
            Some(_) => format!("coalesce({}, {distinct})", liteshift::quote_ident(c)),
        };
        if opts.hints.add_value(&format!("{t}.{c}={expr}")).is_ok() {
            added = true;
        }
    }
    added
}
