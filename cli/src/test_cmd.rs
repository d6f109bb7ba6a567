//! `liteshift test`: every earlier version of a schema (files, or the versions committed in
//! git) built, filled with generated rows, migrated to the declared schema and verified, by
//! `liteshift::testing`; plus snapshots of each plan and the previous release's queries.
//! Argument handling, files, git, output and exit codes only.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context as _};
use clap::{Args, ValueEnum};
use liteshift::testing::{BrokenQuery, UpgradeOptions, UpgradeResult};

pub const TEST_EXIT_HELP: &str = "Exit codes:
  0  every version migrated and verified (and every snapshot and query as expected)
  1  some version failed: refused (the rows, and the annotation that would fix it), rows lost,
     values changed, too slow (--budget), a snapshot differs, a query no longer compiles
  2  error: bad arguments, an unreadable or invalid schema, an earlier version that does not
     load, git failing, or a migration that failed with an error";

#[derive(Args)]
pub struct TestArgs {
    /// The declared schema (the current version), with its annotations.
    pub schema: PathBuf,
    /// Earlier versions: files or globs (quoted: --from 'schemas/v*.sql'), each file one
    /// version, tested in name order; the schema itself is skipped if matched.
    #[arg(long, num_args = 1.., value_name = "GLOB", required_unless_present = "from_git")]
    pub from: Vec<String>,
    /// Earlier versions from git: every committed version of SCHEMA (oldest first), or those
    /// of a revision range (--from-git v1.0..HEAD).
    #[arg(long, num_args = 0..=1, default_missing_value = "", value_name = "REVS", conflicts_with = "from")]
    pub from_git: Option<String>,
    /// Rows generated per table.
    #[arg(long, default_value_t = 100, value_name = "N")]
    pub rows: usize,
    /// The generator's seed: the same seed, the same rows.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// A version whose migration takes longer than this fails (with its slowest step).
    #[arg(long, value_name = "SECONDS")]
    pub budget: Option<f64>,
    /// Write each version's plan (summary and script) to DIR; a later run fails on any
    /// difference and prints it.
    #[arg(long, value_name = "DIR")]
    pub snapshot: Option<PathBuf>,
    /// With --snapshot: write the new plans instead of failing on differences.
    #[arg(long, requires = "snapshot")]
    pub update: bool,
    /// Statements the previous release runs (`;`-separated; parameters `?` or `:name`): each
    /// must still compile against the migrated schema.
    #[arg(long, value_name = "FILE")]
    pub queries: Option<PathBuf>,
    /// Allow steps that lose data (drop table, drop column), as the app's migration does.
    #[arg(long)]
    pub allow_data_loss: bool,
    /// How many versions to test at once (default: the number of cores; 1 for the steadiest
    /// timings).
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    #[arg(long, value_enum, default_value_t = TestFormat::Text)]
    pub format: TestFormat,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TestFormat {
    /// One line per version, then a summary.
    Text,
    /// One JSON object.
    Json,
}

/// An earlier version: its name (file name, or git commit) and text.
struct Version {
    name: String,
    sql: String,
}

/// The earlier versions the arguments name.
fn versions(args: &TestArgs) -> anyhow::Result<Vec<Version>> {
    match &args.from_git {
        Some(revs) => from_git(&args.schema, revs),
        None => from_files(&args.schema, &args.from),
    }
}

fn from_files(schema: &Path, globs: &[String]) -> anyhow::Result<Vec<Version>> {
    let own = schema.canonicalize().ok();
    let mut paths: Vec<PathBuf> = Vec::new();
    for g in globs {
        let mut matched: Vec<PathBuf> = if g.contains(['*', '?', '[']) {
            glob::glob(g)
                .map_err(|e| anyhow!("--from {g:?}: not a valid glob: {e}"))?
                .filter_map(|p| p.ok())
                .filter(|p| p.is_file())
                .collect()
        } else {
            let p = PathBuf::from(g);
            if !p.is_file() {
                return Err(anyhow!("--from {g:?}: no such file"));
            }
            vec![p]
        };
        if matched.is_empty() {
            return Err(anyhow!("--from {g:?}: no file matches"));
        }
        matched.sort();
        paths.extend(matched);
    }
    let mut seen = std::collections::BTreeSet::new();
    paths.retain(|p| {
        let c = p.canonicalize().ok();
        (own.is_none() || c != own) && seen.insert(c.unwrap_or_else(|| p.clone()))
    });
    paths
        .into_iter()
        .map(|p| {
            Ok(Version {
                name: p
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| p.display().to_string()),
                sql: crate::read_schema(&p)?,
            })
        })
        .collect()
}

fn git(dir: &Path, args: &[&str]) -> anyhow::Result<String> {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .context("cannot run git (is it installed?)")?;
    if !out.status.success() {
        return Err(anyhow!(
            "git {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    String::from_utf8(out.stdout)
        .map_err(|_| anyhow!("git {}: output is not UTF-8", args.join(" ")))
}

/// Every committed version of `schema` (in `revs`, or all history), oldest first, read with
/// `git log --format=%H -- FILE` and `git show REV:./FILE`. A commit that deleted the file is
/// skipped.
fn from_git(schema: &Path, revs: &str) -> anyhow::Result<Vec<Version>> {
    let dir = match schema.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let file = schema
        .file_name()
        .ok_or_else(|| anyhow!("{}: not a file", schema.display()))?
        .to_string_lossy()
        .into_owned();
    let mut args = vec!["log", "--format=%H"];
    if !revs.is_empty() {
        args.push(revs);
    }
    args.extend(["--", &file]);
    let log = git(&dir, &args)?;
    let mut out = Vec::new();
    for rev in log.lines().rev().filter(|l| !l.is_empty()) {
        let Ok(sql) = git(&dir, &["show", &format!("{rev}:./{file}")]) else {
            continue; // the file does not exist at that commit (deleted there)
        };
        out.push(Version {
            name: rev[..rev.len().min(12)].to_string(),
            sql,
        });
    }
    if out.is_empty() {
        return Err(anyhow!(
            "--from-git: git has no committed version of {} in {}",
            file,
            if revs.is_empty() { "its history" } else { revs }
        ));
    }
    Ok(out)
}

/// A version's result as the command reports it: the library's, plus the snapshot check.
struct Tested {
    name: String,
    result: Result<UpgradeResult, String>,
    snapshot: Option<SnapshotOutcome>,
}

enum SnapshotOutcome {
    Same,
    Written(PathBuf),
    Missing(PathBuf),
    Differs { file: PathBuf, diff: String },
}

impl Tested {
    fn severity(&self) -> u8 {
        match &self.result {
            Err(_) => 2,
            Ok(r) => {
                let snap = matches!(
                    self.snapshot,
                    Some(SnapshotOutcome::Missing(_) | SnapshotOutcome::Differs { .. })
                );
                r.failures
                    .iter()
                    .map(|f| f.severity())
                    .chain(snap.then_some(1))
                    .max()
                    .unwrap_or(0)
            }
        }
    }

    fn json(&self) -> serde_json::Value {
        let snapshot = self.snapshot.as_ref().map(|s| match s {
            SnapshotOutcome::Same => serde_json::json!({"status": "same"}),
            SnapshotOutcome::Written(f) => serde_json::json!({"status": "written", "file": f}),
            SnapshotOutcome::Missing(f) => serde_json::json!({"status": "missing", "file": f}),
            SnapshotOutcome::Differs { file, diff } => {
                serde_json::json!({"status": "differs", "file": file, "diff": diff})
            }
        });
        match &self.result {
            Err(e) => serde_json::json!({
                "version": self.name, "passed": false,
                "failures": [{"kind": "error", "message": e}],
            }),
            Ok(r) => {
                let mut v = serde_json::to_value(r).expect("result serialises");
                v["passed"] = serde_json::json!(self.severity() == 0);
                if let Some(s) = snapshot {
                    v["snapshot"] = s;
                }
                v
            }
        }
    }

    fn text(&self, rows: usize) -> String {
        let mut out = String::new();
        let sev = self.severity();
        let head = if sev == 0 { "ok" } else { "FAILED" };
        match &self.result {
            Err(e) => out.push_str(&format!("{head:<6} {}: error: {e}\n", self.name)),
            Ok(r) => {
                out.push_str(&format!(
                    "{head:<6} {}: {} step(s), {} rows in {} table(s) ({rows} per table), built in {:.2} s, migrated in {:.2} s, verified in {:.2} s\n",
                    self.name,
                    r.steps,
                    r.rows,
                    r.seeded.tables.len(),
                    r.build_seconds,
                    r.migrate_seconds,
                    r.verify_seconds
                ));
                for t in r.seeded.short() {
                    out.push_str(&format!(
                        "       note: table {}: {} of {rows} generated rows fit ({})\n",
                        t.table,
                        t.rows,
                        t.why.as_deref().unwrap_or("")
                    ));
                }
                for f in &r.failures {
                    let f = f.to_string().replace('\n', "\n         ");
                    out.push_str(&format!("       {f}\n"));
                }
            }
        }
        match &self.snapshot {
            Some(SnapshotOutcome::Written(f)) => {
                out.push_str(&format!("       snapshot written: {}\n", f.display()))
            }
            Some(SnapshotOutcome::Missing(f)) => out.push_str(&format!(
                "       snapshot missing: {} (run with --update to write it)\n",
                f.display()
            )),
            Some(SnapshotOutcome::Differs { file, diff }) => {
                out.push_str(&format!(
                    "       snapshot differs from {} (run with --update to accept):\n",
                    file.display()
                ));
                for l in diff.lines() {
                    out.push_str(&format!("         {l}\n"));
                }
            }
            _ => {}
        }
        out
    }
}

/// The lines that differ between two texts: the common head and tail left out, the middle
/// shown as `-` (snapshot) and `+` (now) lines, with the line number where it starts.
fn line_diff(old: &str, new: &str) -> String {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    let head = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let tail = a[head..]
        .iter()
        .rev()
        .zip(b[head..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let mut out = format!("@@ line {} @@\n", head + 1);
    for l in &a[head..a.len() - tail] {
        out.push_str(&format!("-{l}\n"));
    }
    for l in &b[head..b.len() - tail] {
        out.push_str(&format!("+{l}\n"));
    }
    out
}

fn snapshot_file(dir: &Path, version: &str) -> PathBuf {
    let stem = version.strip_suffix(".sql").unwrap_or(version);
    let safe: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    dir.join(format!("{safe}.plan"))
}

fn check_snapshot(
    dir: &Path,
    update: bool,
    version: &str,
    text: &str,
) -> anyhow::Result<SnapshotOutcome> {
    let file = snapshot_file(dir, version);
    let old = match std::fs::read_to_string(&file) {
        Ok(s) => Some(s),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(anyhow!("cannot read snapshot {}: {e}", file.display())),
    };
    if old.as_deref() == Some(text) {
        return Ok(SnapshotOutcome::Same);
    }
    if update {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        std::fs::write(&file, text).with_context(|| format!("cannot write {}", file.display()))?;
        return Ok(SnapshotOutcome::Written(file));
    }
    Ok(match old {
        None => SnapshotOutcome::Missing(file),
        Some(old) => SnapshotOutcome::Differs {
            diff: line_diff(&old, text),
            file,
        },
    })
}

fn broken_text(b: &BrokenQuery) -> String {
    let one_line = b.sql.split_whitespace().collect::<Vec<_>>().join(" ");
    format!("query {}: {} — {}", b.number, b.reason, one_line)
}

/// `liteshift plan --queries FILE`: warn (stderr) about each statement that would not compile
/// against the declared schema; never fails the plan.
pub fn warn_queries(schema_sql: &str, file: &Path) -> anyhow::Result<()> {
    let queries = crate::read_schema(file)?;
    for b in liteshift::testing::check_queries_on_schema(schema_sql, &queries)? {
        eprintln!(
            "warning: {} (no longer compiles against the declared schema: the previous release would break)",
            broken_text(&b)
        );
    }
    Ok(())
}

/// Test every earlier version and report. Exit code 0 when every version passed (and every
/// snapshot and query is as expected), 1 when one failed, 2 on an error (see
/// [`TEST_EXIT_HELP`]).
pub fn run(args: TestArgs, planning: &crate::Planning) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let sql = crate::read_schema(&args.schema)?;
    let mut options = planning.options(&args.schema)?;
    options.allow_data_loss = args.allow_data_loss;
    if let Some(b) = args.budget {
        if !(b.is_finite() && b > 0.0) {
            return Err(anyhow!("--budget {b}: give a number of seconds above 0"));
        }
    }
    let queries = match &args.queries {
        Some(f) => Some(crate::read_schema(f)?),
        None => None,
    };
    let versions = versions(&args)?;
    let declared =
        liteshift::load_declared_opts(&sql, &options.source_name, options.load_options())?;
    let uopts = UpgradeOptions {
        rows: args.rows,
        seed: args.seed,
        budget: args.budget.map(Duration::from_secs_f64),
        options,
        dir: None,
    };
    let jobs = args
        .jobs
        .unwrap_or_else(liteshift::fleet::default_jobs)
        .clamp(1, versions.len().max(1));
    let tested = test_versions(&args, &versions, &declared, &uopts, jobs)?;
    // The migrated databases were each verified to equal the declared schema: the previous
    // release's statements are compiled against it.
    let broken = match &queries {
        Some(q) => Some(liteshift::testing::check_queries_on_schema(&sql, q)?),
        None => None,
    };
    let report = Report {
        args: &args,
        tested: &tested,
        queries: queries.as_deref(),
        broken: broken.as_deref(),
        seconds: started.elapsed().as_secs_f64(),
        jobs,
    };
    match args.format {
        TestFormat::Text => report.print_text(),
        TestFormat::Json => report.print_json()?,
    }
    Ok(ExitCode::from(report.worst()))
}

/// Each version tested (and its plan snapshot checked) on `jobs` threads; with text output,
/// each one's lines printed in version order as they become ready.
fn test_versions(
    args: &TestArgs,
    versions: &[Version],
    declared: &liteshift::Declared,
    uopts: &UpgradeOptions,
    jobs: usize,
) -> anyhow::Result<Vec<Tested>> {
    let text = args.format == TestFormat::Text;
    let next = AtomicUsize::new(0);
    let done: Mutex<(Vec<Option<Tested>>, usize)> =
        Mutex::new(((0..versions.len()).map(|_| None).collect(), 0));
    let snapshot_error: Mutex<Option<anyhow::Error>> = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(v) = versions.get(i) else { break };
                let tested = test_version(args, v, declared, uopts, &snapshot_error);
                let mut d = done.lock().unwrap();
                d.0[i] = Some(tested);
                if text {
                    while d.1 < d.0.len() {
                        let k = d.1;
                        let Some(t) = &d.0[k] else { break };
                        print!("{}", t.text(args.rows));
                        d.1 += 1;
                    }
                }
            });
        }
    });
    if let Some(e) = snapshot_error.into_inner().unwrap() {
        return Err(e);
    }
    Ok(done.into_inner().unwrap().0.into_iter().flatten().collect())
}

/// One version migrated and verified, and its plan checked against its snapshot (a snapshot
/// that cannot be read or written is kept in `snapshot_error`, which fails the command).
fn test_version(
    args: &TestArgs,
    v: &Version,
    declared: &liteshift::Declared,
    uopts: &UpgradeOptions,
    snapshot_error: &Mutex<Option<anyhow::Error>>,
) -> Tested {
    let result = liteshift::testing::upgrade_declared(&v.name, &v.sql, declared, uopts)
        .map_err(|e| e.to_string());
    let snapshot = match (&args.snapshot, &result) {
        (Some(dir), Ok(r)) if !r.snapshot.is_empty() => {
            match check_snapshot(dir, args.update, &v.name, &r.snapshot) {
                Ok(s) => Some(s),
                Err(e) => {
                    *snapshot_error.lock().unwrap() = Some(e);
                    None
                }
            }
        }
        _ => None,
    };
    Tested {
        name: v.name.clone(),
        result,
        snapshot,
    }
}

/// What the command reports after every version ran.
struct Report<'a> {
    args: &'a TestArgs,
    tested: &'a [Tested],
    /// The previous release's statements (`--queries`), and those that no longer compile.
    queries: Option<&'a str>,
    broken: Option<&'a [BrokenQuery]>,
    seconds: f64,
    jobs: usize,
}

impl Report<'_> {
    fn failed(&self) -> Vec<&Tested> {
        self.tested.iter().filter(|t| t.severity() > 0).collect()
    }

    /// The exit code: the worst version's severity, or 1 for a query that no longer compiles.
    fn worst(&self) -> u8 {
        self.tested
            .iter()
            .map(Tested::severity)
            .chain(self.broken.filter(|b| !b.is_empty()).map(|_| 1))
            .max()
            .unwrap_or(0)
    }

    /// After the versions' lines: the queries' verdict, and a summary line.
    fn print_text(&self) {
        let (args, tested, jobs, seconds) = (self.args, self.tested, self.jobs, self.seconds);
        let failed = self.failed();
        if let Some(b) = self.broken {
            let total = self
                .queries
                .map(|q| liteshift::testing::split_statements(q).len())
                .unwrap_or(0);
            if b.is_empty() {
                println!(
                    "queries: all {total} statement(s) of the previous release compile against {}",
                    args.schema.display()
                );
            } else {
                println!("queries: {} of {total} statement(s) of the previous release no longer compile against {}:", b.len(), args.schema.display());
                for q in b {
                    println!("  {}", broken_text(q));
                }
            }
        }
        let migrate: f64 = tested
            .iter()
            .filter_map(|t| t.result.as_ref().ok())
            .map(|r| r.migrate_seconds)
            .sum();
        let build: f64 = tested
            .iter()
            .filter_map(|t| t.result.as_ref().ok())
            .map(|r| r.build_seconds)
            .sum();
        println!(
            "{} version(s) tested against {} in {seconds:.2} s ({jobs} job(s); building and filling {build:.2} s, migrating {migrate:.2} s): {} passed, {} failed{}",
            tested.len(),
            args.schema.display(),
            tested.len() - failed.len(),
            failed.len(),
            if failed.is_empty() {
                String::new()
            } else {
                format!(" ({})", failed.iter().map(|t| t.name.as_str()).collect::<Vec<_>>().join(", "))
            }
        );
    }

    /// One JSON object: the run, a summary, every version, the broken queries.
    fn print_json(&self) -> anyhow::Result<()> {
        let (args, tested) = (self.args, self.tested);
        let failed = self.failed();
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "schema": args.schema,
                "rows": args.rows,
                "seed": args.seed,
                "budget": args.budget,
                "seconds": self.seconds,
                "jobs": self.jobs,
                "summary": {
                    "versions": tested.len(),
                    "passed": tested.len() - failed.len(),
                    "failed": failed.iter().map(|t| &t.name).collect::<Vec<_>>(),
                },
                "versions": tested.iter().map(Tested::json).collect::<Vec<_>>(),
                "queries": self.broken,
            }))?
        );
        Ok(())
    }
}
