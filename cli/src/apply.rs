//! `liteshift apply`: migrate one database (in one verified transaction, or online) and
//! report what ran; or, with several `--db` or a glob, a fleet of them in parallel.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::anyhow;
use clap::Args;
use liteshift::{Options, Plan};

use crate::{fleet, print_plan, progress, read_schema, DbAndSchema, Format, Jobs, Planning};

// The subcommand's arguments (its help text is the `Command::Apply` variant's).
#[derive(Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    target: DbAndSchema,
    #[command(flatten)]
    planning: Planning,
    /// Allow steps that lose data (drop table, drop column).
    #[arg(long)]
    allow_data_loss: bool,
    /// Run everything, including checks and verification, then roll back.
    #[arg(long)]
    dry_run: bool,
    /// Write a consistent copy of the database to PATH before changing anything.
    #[arg(long, value_name = "PATH")]
    backup: Option<PathBuf>,
    /// Milliseconds to wait for another connection's write lock.
    #[arg(long, default_value_t = 5000, value_name = "MS")]
    busy_timeout: u64,
    #[command(flatten)]
    jobs: Jobs,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Progress on stderr: the steps as they run (one database), or the databases done
    /// (a fleet).
    #[arg(long, value_enum, default_value_t = progress::Mode::Auto)]
    progress: progress::Mode,
}

/// Migrate. Exit code 0 when the database was migrated (or already in sync); 1 when the
/// migration was refused; 2 on an error. A fleet's code is its worst database's.
pub fn run(args: ApplyArgs) -> anyhow::Result<ExitCode> {
    let mut opts = args.planning.options(&args.target.schema)?;
    opts.allow_data_loss = args.allow_data_loss;
    opts.dry_run = args.dry_run;
    opts.busy_timeout = Duration::from_millis(args.busy_timeout);
    opts.backup = args.backup.clone();
    let sql = read_schema(&args.target.schema)?;
    if args.target.is_fleet() {
        if opts.backup.is_some() {
            return Err(anyhow!(
                "--backup takes one database; back the fleet up first"
            ));
        }
        let paths = args.target.fleet()?;
        return fleet::run(
            &paths,
            &sql,
            &opts,
            liteshift::fleet::Mode::Apply,
            args.jobs,
            (args.format, args.progress),
        );
    }
    opts.on_progress = progress::observer(args.progress, args.format == Format::Text);
    migrate_one(&args, &sql, &opts)?;
    Ok(ExitCode::SUCCESS)
}

/// Migrate the one database, its plan's summary printed before it runs (text), then the
/// report.
fn migrate_one(args: &ApplyArgs, sql: &str, opts: &Options) -> anyhow::Result<()> {
    let format = args.format;
    let mut conn = crate::dqlite::open_for_apply(&args.target.one()?, opts.online.is_some())?;
    let started = Instant::now();
    let mut first: Option<Plan> = None;
    let report = liteshift::migrate_with(&mut *conn, sql, opts, &mut |plan| {
        if format == Format::Text {
            print!("{}", liteshift::render_summary(plan));
        }
        first = Some(plan.clone());
    })?;
    if format == Format::Text && first.as_ref() != Some(&report.plan) {
        println!("The schema changed while waiting for the write lock (another process migrated it); planned again:");
        print!("{}", liteshift::render_summary(&report.plan));
    }
    let ms = started.elapsed().as_millis();
    print_report(&report, format, args.dry_run, ms);
    Ok(())
}

/// What ran, in `format`: the plan with the result (JSON), the SQL, or a closing line.
fn print_report(report: &liteshift::Report, format: Format, dry_run: bool, ms: u128) {
    match format {
        Format::Json => print_plan(
            &report.plan,
            Format::Json,
            liteshift::Wrapping::Transaction,
            Some(serde_json::json!({
                "applied": !dry_run,
                "dry_run": dry_run,
                "steps_applied": report.steps_applied,
                "foreign_keys_toggled": report.foreign_keys_toggled,
                "backup": report.backup,
                "milliseconds": ms,
            })),
        ),
        Format::Sql => print!("{}", liteshift::render_sql(&report.plan)),
        Format::Text => {
            if let Some(b) = &report.backup {
                println!("Backup of the pre-migration database written to {b}");
            }
            if report.steps_applied == 0 {
                // the summary already said so
            } else if dry_run {
                println!("Dry run: all {} step(s) ran, were verified, and were rolled back ({ms} ms). The database is unchanged.", report.steps_applied);
            } else {
                match &report.plan.online {
                    Some(online) => println!(
                        "Applied {} step(s) and verified the result ({ms} ms): {} copied online, then swapped in one transaction.",
                        report.steps_applied,
                        online.tables.iter().map(|t| t.table.as_str()).collect::<Vec<_>>().join(", ")
                    ),
                    None => println!("Applied {} step(s) in one transaction and verified the result ({ms} ms).", report.steps_applied),
                }
            }
        }
    }
}
