//! `liteshift diff`: the migration from one schema file to another, with no database (both
//! loaded into liteshift's own SQLite); with `--for d1`, the one batch Cloudflare D1 runs.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};

use crate::{print_plan, read_schema, Format, Planning, Script};

// The subcommand's arguments (its help text is the `Command::Diff` variant's).
#[derive(Args)]
pub struct DiffArgs {
    /// The schema the database has.
    from: PathBuf,
    /// The schema it should have.
    to: PathBuf,
    #[command(flatten)]
    planning: Planning,
    #[command(flatten)]
    script: Script,
    /// Write the script for this host: `d1` (Cloudflare D1, `wrangler d1 migrations
    /// apply`): one batch, no BEGIN and no PRAGMA foreign_keys (D1 keeps enforcement on:
    /// the tables that reference a rebuilt one are rebuilt with it), and guards inside
    /// that stop it, unchanged, when the database is not at FROM or rows violate TO.
    /// Planned for D1's SQLite (3.47.0) unless --sqlite-version says otherwise.
    #[arg(long = "for", value_enum, value_name = "HOST")]
    for_host: Option<ForHost>,
    #[arg(long, value_enum, default_value_t = Format::Sql)]
    format: Format,
}

/// A host whose migration files differ from SQLite's own.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ForHost {
    /// Cloudflare D1: one batch with its own guards; foreign keys stay enforced.
    D1,
}

/// Print the script. Exit code 0 whatever it holds; 1 when the plan is refused; 2 when a
/// schema file cannot be read or loaded.
pub fn run(args: DiffArgs) -> anyhow::Result<ExitCode> {
    let DiffArgs {
        from,
        to,
        planning,
        script,
        for_host,
        format,
    } = args;
    let mut opts = planning.options(&to)?;
    if for_host == Some(ForHost::D1) && opts.sqlite_version.is_none() {
        // No host to ask: D1's SQLite, which lacks newer forms (ALTER COLUMN).
        opts.sqlite_version = Some(liteshift::CLOUDFLARE_D1);
    }
    let from_sql = read_schema(&from)?;
    let to_sql = read_schema(&to)?;
    let from_name = from.display().to_string();
    let (planned, wrapping) = match for_host {
        Some(ForHost::D1) => (
            liteshift::plan_diff_for_batch(&from_sql, &from_name, &to_sql, &opts)?,
            liteshift::Wrapping::Batch,
        ),
        None => (
            liteshift::plan_diff(&from_sql, &from_name, &to_sql, &opts)?,
            script.wrapping(),
        ),
    };
    print_plan(&planned.plan, format, wrapping, None);
    Ok(ExitCode::SUCCESS)
}
