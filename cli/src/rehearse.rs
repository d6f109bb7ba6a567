//! `liteshift rehearse`: the migration run on a copy of one database (SQLite's backup API;
//! the database itself is only read), every step timed, and the copy checked; the report as
//! text or JSON. Never on a dqlite cluster.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::{open_db, read_schema, DbAndSchema, Format, Planning};

// The subcommand's arguments (its help text is the `Command::Rehearse` variant's).
#[derive(Args)]
pub struct RehearseArgs {
    #[command(flatten)]
    target: DbAndSchema,
    #[command(flatten)]
    planning: Planning,
    /// Allow steps that lose data (drop table, drop column).
    #[arg(long)]
    allow_data_loss: bool,
    /// Where to write the copy (default: next to the database).
    #[arg(long, value_name = "PATH")]
    to: Option<PathBuf>,
    /// Keep the migrated copy.
    #[arg(long)]
    keep: bool,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

/// Rehearse and report. Exit code 0 when the rehearsal ran; 1 when the migration was refused;
/// 2 on an error (a missing or non-SQLite file is named before any copy is made).
pub fn run(args: RehearseArgs) -> anyhow::Result<ExitCode> {
    let RehearseArgs {
        target,
        planning,
        allow_data_loss,
        to,
        keep,
        format,
    } = args;
    let mut opts = planning.options(&target.schema)?;
    opts.allow_data_loss = allow_data_loss;
    let sql = read_schema(&target.schema)?;
    let db = target.one()?;
    crate::dqlite::refuse_url(&db, "rehearse")?;
    open_db(&db, false)?; // a missing or non-SQLite file is named first
    let r = liteshift::rehearse::rehearse(
        &db,
        &sql,
        &opts,
        &liteshift::rehearse::RehearseOptions { to, keep },
    )?;
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&r)?),
        Format::Text | Format::Sql => print_rehearsal(&r),
    }
    Ok(ExitCode::SUCCESS)
}

fn print_rehearsal(r: &liteshift::rehearse::Rehearsal) {
    print!("{}", liteshift::render_summary(&r.plan));
    println!(
        "Rehearsed on a copy ({} bytes, copied in {:.0} ms):",
        r.database_bytes, r.copy_milliseconds
    );
    for s in &r.steps {
        println!(
            "  step {}: {:.1} ms, {} row(s) changed, journal {} bytes — {}",
            s.number, s.milliseconds, s.rows_changed, s.journal_bytes, s.reason
        );
    }
    println!(
        "Migration on the copy: {} step(s) in {:.0} ms; integrity_check: {}; foreign_key_check: {} violation(s).",
        r.steps_applied, r.migration_milliseconds, r.integrity_check, r.foreign_key_violations
    );
    if r.kept {
        println!("The migrated copy is at {}.", r.copy);
    } else {
        println!("The copy was deleted (--keep keeps it); the database was only read.");
    }
}
