//! `apply` and `check` on a fleet (several `--db`, or a glob): every database in parallel
//! (`liteshift::fleet`), a line per database as it finishes and a summary, or one JSON
//! report; the exit code is the worst outcome.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use liteshift::Options;

use crate::{dqlite, progress, Format, Jobs};

/// Many databases: one line per file as it finishes (text), then a summary; or one JSON report.
/// The exit code is the worst outcome: 0 all migrated or in sync, 1 some differ (check) or
/// were refused, 2 some failed.
pub fn run(
    paths: &[PathBuf],
    sql: &str,
    opts: &Options,
    mode: liteshift::fleet::Mode,
    jobs: Jobs,
    (format, progress): (Format, progress::Mode),
) -> anyhow::Result<ExitCode> {
    use liteshift::fleet::{FleetResult, Summary};
    let jobs = jobs.jobs.unwrap_or_else(liteshift::fleet::default_jobs);
    let text = format != Format::Json;
    let started = Instant::now();
    let shown = progress::Fleet::new(progress, text, paths.len() as u64);
    let line = |r: &FleetResult| shown.done(r, text.then(|| text_line(r)));
    let open = dqlite::fleet_opener(opts.busy_timeout, opts.online.is_some());
    let results = liteshift::fleet::run_opening(paths, sql, opts, mode, jobs, &open, &line)?;
    shown.finish();
    let seconds = started.elapsed().as_secs_f64();
    let summary = Summary::of(&results);
    let worst = results
        .iter()
        .map(|r| r.outcome.severity())
        .max()
        .unwrap_or(0);
    let per_second = summary.databases as f64 / seconds.max(1e-9);
    if text {
        let middle = match mode {
            liteshift::fleet::Mode::Apply => format!("{} migrated", summary.migrated),
            liteshift::fleet::Mode::Check => format!("{} differ", summary.differs),
        };
        println!(
            "{} database(s) in {seconds:.2} s ({per_second:.0}/s, {jobs} job(s)): {middle}, {} in sync, {} refused, {} failed",
            summary.databases, summary.in_sync, summary.refused, summary.failed
        );
    } else {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "summary": summary,
                "seconds": seconds,
                "jobs": jobs,
                "databases": results,
            }))?
        );
    }
    Ok(ExitCode::from(worst))
}

/// One file's line in a fleet's text output.
fn text_line(r: &liteshift::fleet::FleetResult) -> String {
    use liteshift::fleet::Outcome;
    let (what, detail) = match &r.outcome {
        Outcome::Migrated { steps } => ("migrated", format!("{steps} step(s)")),
        Outcome::InSync => ("in sync", String::new()),
        Outcome::Differs { steps } => ("differs", format!("{steps} step(s) to migrate")),
        Outcome::Refused { message } | Outcome::Failed { message } => (
            if r.outcome.severity() == 2 {
                "FAILED"
            } else {
                "refused"
            },
            message.lines().map(str::trim).collect::<Vec<_>>().join(" "),
        ),
    };
    let sep = if detail.is_empty() { "" } else { ": " };
    format!(
        "{what:<9} {} ({:.0} ms){sep}{detail}",
        r.path.display(),
        r.milliseconds
    )
}
