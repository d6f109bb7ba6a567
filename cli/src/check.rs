//! `liteshift check`: the CI drift gate. Whether one database (or each of a fleet) matches
//! the declared schema; it only reads.

use std::process::ExitCode;

use clap::Args;

use crate::{fleet, progress, read_schema, DbAndSchema, Format, Jobs, Planning};

// The subcommand's arguments (its help text is the `Command::Check` variant's).
#[derive(Args)]
pub struct CheckArgs {
    #[command(flatten)]
    target: DbAndSchema,
    #[command(flatten)]
    planning: Planning,
    #[command(flatten)]
    jobs: Jobs,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Progress on stderr while a fleet is checked: databases done, per second, ETA.
    #[arg(long, value_enum, default_value_t = progress::Mode::Auto)]
    progress: progress::Mode,
}

/// Check. Exit code 0 when the database matches the schema, 1 when it differs, 2 on an error.
/// A fleet's code is its worst database's.
pub fn run(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let CheckArgs {
        target,
        planning,
        jobs,
        format,
        progress,
    } = args;
    let opts = planning.options(&target.schema)?;
    let sql = read_schema(&target.schema)?;
    if target.is_fleet() {
        let paths = target.fleet()?;
        return fleet::run(
            &paths,
            &sql,
            &opts,
            liteshift::fleet::Mode::Check,
            jobs,
            (format, progress),
        );
    }
    let db = target.one()?;
    let conn = crate::dqlite::open(&db, false)?;
    let planned = liteshift::plan_migration(&*conn, &sql, &opts)?;
    let plan = &planned.plan;
    let in_sync = plan.steps.is_empty();
    match format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "in_sync": in_sync,
                "changes": plan.changes,
                "warnings": plan.warnings,
            }))?
        ),
        _ => {
            if in_sync {
                println!(
                    "in sync: {} matches {}",
                    db.display(),
                    target.schema.display()
                );
            } else {
                println!(
                    "drift: {} differs from {} in {} way(s):",
                    db.display(),
                    target.schema.display(),
                    plan.changes.len()
                );
                for c in &plan.changes {
                    println!("  - {c}");
                }
            }
        }
    }
    Ok(if in_sync {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
