//! `liteshift test` on a real history: every version of zotero's schema (../shared/corpus/zotero,
//! 114 versions) migrated to the latest with ROWS generated rows per table (default 1,000), on
//! as many threads as `liteshift test` uses by default (the number of cores), against the
//! baseline of building and filling the same databases without migrating them. The latest
//! schema carries the values Zotero's upgrade code computes (`zotero-values.sql`).
//!
//! `cargo bench -p liteshift-tests --bench upgrade [-- ROWS [PROJECT_DIR]]`

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use liteshift::testing::{build_and_fill, upgrade_declared, UpgradeOptions, UpgradeResult};
use liteshift::Options;

/// CPU seconds this process has used (user + system, from /proc/self/stat; 0 elsewhere): the
/// machine may be shared, and CPU time does not count other processes' turns.
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // After the command name in parentheses: state is field 3, utime 14, stime 15.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|x| x.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// Run `f` on every version, on `jobs` threads; the wall time.
fn on_threads<T: Send>(n: usize, jobs: usize, f: impl Fn(usize) -> T + Sync) -> (Vec<T>, f64) {
    let next = AtomicUsize::new(0);
    let out: Mutex<Vec<Option<T>>> = Mutex::new((0..n).map(|_| None).collect());
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..jobs {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let r = f(i);
                out.lock().unwrap()[i] = Some(r);
            });
        }
    });
    let wall = started.elapsed().as_secs_f64();
    (
        out.into_inner().unwrap().into_iter().flatten().collect(),
        wall,
    )
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let rows: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(1000);
    let dir = args
        .get(1)
        .map(PathBuf::from)
        .or_else(|| liteshift_tests::corpus_dir().map(|c| c.join("zotero")));
    let Some(dir) = dir.filter(|d| d.is_dir()) else {
        eprintln!("SKIPPED: ../shared/corpus/zotero is not present");
        return;
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with('v') && n.ends_with(".sql"))
        })
        .collect();
    files.sort();
    let latest = files.pop().expect("versions");
    let values = include_str!("zotero-values.sql");
    let target = format!("{values}\n{}", std::fs::read_to_string(&latest).unwrap());
    let versions: Vec<(String, String)> = files
        .iter()
        .map(|f| {
            (
                f.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read_to_string(f).unwrap(),
            )
        })
        .collect();
    let jobs = liteshift::fleet::default_jobs();
    let opts = UpgradeOptions {
        rows,
        options: Options {
            allow_data_loss: true,
            ..Options::default()
        },
        ..UpgradeOptions::default()
    };
    println!(
        "{} upgrade paths ({} → {}), {rows} rows per table, {jobs} thread(s)",
        versions.len(),
        versions[0].0,
        latest.file_name().unwrap().to_string_lossy()
    );

    let cpu0 = cpu_seconds();
    let (seeded, baseline) = on_threads(versions.len(), jobs, |i| {
        build_and_fill(&versions[i].0, &versions[i].1, &opts)
            .unwrap()
            .rows
    });
    let baseline_cpu = cpu_seconds() - cpu0;
    let total_rows: usize = seeded.iter().sum();
    println!(
        "baseline: building and filling the {} databases ({total_rows} rows): {baseline:.1} s",
        versions.len()
    );

    let declared =
        liteshift::load_declared_opts(&target, "zotero/v0114.sql", opts.options.load_options())
            .unwrap();
    let cpu1 = cpu_seconds();
    let (results, tested) = on_threads(versions.len(), jobs, |i| {
        upgrade_declared(&versions[i].0, &versions[i].1, &declared, &opts).unwrap()
    });
    let tested_cpu = cpu_seconds() - cpu1;
    let sum = |f: fn(&UpgradeResult) -> f64| results.iter().map(f).sum::<f64>();
    let passed = results.iter().filter(|r| r.failures.is_empty()).count();
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    for r in &results {
        for f in &r.failures {
            // A refusal by what it names (`NOT NULL on items.key`), anything else by its
            // first line.
            let text = f.to_string();
            let named: Vec<String> = text
                .lines()
                .filter_map(|l| l.trim().strip_prefix("- "))
                .map(|l| l.split(':').next().unwrap_or(l).to_string())
                .collect();
            if named.is_empty() {
                *kinds
                    .entry(text.lines().next().unwrap_or("").to_string())
                    .or_default() += 1;
            }
            for n in named {
                *kinds.entry(format!("refused: {n}")).or_default() += 1;
            }
        }
    }
    let slowest = results
        .iter()
        .max_by(|a, b| a.migrate_seconds.total_cmp(&b.migrate_seconds))
        .unwrap();
    println!(
        "liteshift test: {tested:.1} s for the {} paths ({:.2}x the baseline; goal <= 120 s and <= 2x): {passed} passed, {} failed",
        results.len(),
        tested / baseline,
        results.len() - passed
    );
    println!(
        "  CPU time (user + system, all threads): {tested_cpu:.1} s against {baseline_cpu:.1} s ({:.2}x)",
        tested_cpu / baseline_cpu.max(1e-9)
    );
    println!(
        "  summed over threads: building and filling {:.1} s, migrating {:.1} s, verifying {:.1} s; {} steps; slowest migration {} {:.2} s",
        sum(|r| r.build_seconds),
        sum(|r| r.migrate_seconds),
        sum(|r| r.verify_seconds),
        results.iter().map(|r| r.steps).sum::<usize>(),
        slowest.version,
        slowest.migrate_seconds
    );
    let mut builds: Vec<&UpgradeResult> = results.iter().collect();
    builds.sort_by(|a, b| b.build_seconds.total_cmp(&a.build_seconds));
    println!(
        "  slowest to build and fill: {}",
        builds
            .iter()
            .take(5)
            .map(|r| format!("{} {:.2} s ({} rows)", r.version, r.build_seconds, r.rows))
            .collect::<Vec<_>>()
            .join(", ")
    );
    for (k, n) in kinds {
        println!("  {n} × {k}");
    }
}
