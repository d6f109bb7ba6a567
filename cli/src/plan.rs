//! `liteshift plan`: what would change in one database, as a summary and the SQL, or JSON;
//! with `--queries`, a warning for each statement of the running release that the declared
//! schema would break. It only reads the database, and never fails on what it finds.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::{print_plan, read_schema, test_cmd, DbAndSchema, Format, Planning, Script};

// The subcommand's arguments (its help text is the `Command::Plan` variant's).
#[derive(Args)]
pub struct PlanArgs {
    #[command(flatten)]
    target: DbAndSchema,
    #[command(flatten)]
    planning: Planning,
    #[command(flatten)]
    script: Script,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Statements the running release executes (`;`-separated): warn about each one that
    /// would no longer compile against the declared schema.
    #[arg(long, value_name = "FILE")]
    queries: Option<PathBuf>,
}

/// Print the plan. Exit code 0 whatever it holds; an error (2) or a refusal (1) only from
/// reading the schema or the database.
pub fn run(args: PlanArgs) -> anyhow::Result<ExitCode> {
    let PlanArgs {
        target,
        planning,
        script,
        format,
        queries,
    } = args;
    let opts = planning.options(&target.schema)?;
    let sql = read_schema(&target.schema)?;
    let conn = crate::dqlite::open_for_plan(&target.one()?, opts.online.is_some())?;
    let planned = liteshift::plan_migration(&*conn, &sql, &opts)?;
    print_plan(&planned.plan, format, script.wrapping(), None);
    if let Some(q) = queries {
        test_cmd::warn_queries(&sql, &q)?;
    }
    Ok(ExitCode::SUCCESS)
}
