//! `liteshift`: the command-line front end. Argument parsing, files, output formats and exit
//! codes only; everything else is in the `liteshift` crate.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context as _};
use clap::{Args, Parser, Subcommand, ValueEnum};
use liteshift::{Error, Options, Plan, SqliteVersion};
use rusqlite::Connection;

mod dqlite;
mod progress;
mod test_cmd;

const EXIT_HELP: &str = "Exit codes:
  0  success, or the database is already in sync
  1  the database differs from the schema (check), or the migration was refused
     (data loss not allowed, existing rows violate the new schema)
  2  error: bad arguments, unreadable or invalid schema, missing, locked, corrupt or
     non-SQLite database file";

/// Declarative schema migrations for SQLite: make a database match the schema you declare.
#[derive(Parser)]
#[command(name = "liteshift", version, about, after_help = EXIT_HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Show what would change: a readable summary and the SQL.
    #[command(after_help = EXIT_HELP)]
    Plan {
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
    },
    /// Migrate the database to the declared schema, in one verified transaction.
    #[command(after_help = EXIT_HELP)]
    Apply {
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
    },
    /// Rehearse the migration on a copy of the database (SQLite's backup API; the database is
    /// only read): every step timed, with the rows it rewrote and the journal it wrote, and
    /// the result checked; the copy is deleted unless --keep.
    #[command(after_help = EXIT_HELP)]
    Rehearse {
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
    },
    /// Migration SQL from one schema file to another, with no database. Running the printed
    /// script in the sqlite3 shell on a database at FROM yields TO.
    #[command(after_help = EXIT_HELP)]
    Diff {
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
    },
    /// CI drift gate: exit 0 when the database matches the schema, 1 when it differs.
    #[command(after_help = EXIT_HELP)]
    Check {
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
    },
    /// Test every upgrade path: each earlier version of the schema (--from files, or
    /// --from-git) built with generated rows, migrated to SCHEMA and verified (integrity,
    /// foreign keys, every row and value kept, a second run a no-op); timed (--budget),
    /// snapshotted (--snapshot), and the previous release's queries checked (--queries).
    #[command(after_help = test_cmd::TEST_EXIT_HELP)]
    Test {
        #[command(flatten)]
        args: test_cmd::TestArgs,
        #[command(flatten)]
        planning: Planning,
    },
    /// Print the database's schema as SQL usable as a declared schema.
    #[command(after_help = EXIT_HELP)]
    Inspect {
        /// The SQLite database file, or dqlite://HOST:PORT[,HOST:PORT…]/NAME.
        #[arg(long)]
        db: PathBuf,
    },
}

#[derive(Args)]
struct DbAndSchema {
    /// The SQLite database file, or a database on a dqlite cluster:
    /// dqlite://HOST:PORT[,HOST:PORT…]/NAME. `apply` and `check` take many: repeat --db, or
    /// give a glob (quoted: --db 'tenants/*.db'), and they run on every one in parallel (--jobs).
    #[arg(long, required = true, value_name = "FILE")]
    db: Vec<String>,
    /// The declared schema: a file of CREATE statements.
    schema: PathBuf,
}

impl DbAndSchema {
    /// Whether the databases make a fleet: more than one `--db`, or a glob.
    fn is_fleet(&self) -> bool {
        self.db.len() > 1 || self.db.iter().any(|d| is_glob(d) && !dqlite::is_url(d))
    }

    /// The one database of a single-database command.
    fn one(&self) -> anyhow::Result<PathBuf> {
        if self.is_fleet() {
            return Err(anyhow!(
                "this command takes one --db (a file, not a glob); apply and check take many"
            ));
        }
        Ok(PathBuf::from(&self.db[0]))
    }

    /// Every database file: globs expanded (sorted), duplicates removed, in the given order.
    fn fleet(&self) -> anyhow::Result<Vec<PathBuf>> {
        let mut out: Vec<PathBuf> = Vec::new();
        for d in &self.db {
            if !is_glob(d) || dqlite::is_url(d) {
                out.push(PathBuf::from(d));
                continue;
            }
            let mut matched: Vec<PathBuf> = glob::glob(d)
                .map_err(|e| anyhow!("--db {d:?}: not a valid glob: {e}"))?
                .filter_map(|p| p.ok())
                .filter(|p| p.is_file())
                .collect();
            if matched.is_empty() {
                return Err(anyhow!("--db {d:?}: no file matches"));
            }
            matched.sort();
            out.extend(matched);
        }
        let mut seen = std::collections::BTreeSet::new();
        out.retain(|p| seen.insert(p.clone()));
        Ok(out)
    }
}

#[derive(Args, Clone, Copy)]
struct Jobs {
    /// How many databases to work on at once, with several --db (default: the number of cores).
    #[arg(long, value_name = "N")]
    jobs: Option<usize>,
}

fn is_glob(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

#[derive(Args)]
struct Script {
    /// Print the script for a migration runner that wraps it in its own transaction (Room,
    /// sqlx, Flyway…): no BEGIN/COMMIT and no PRAGMAs; a guard stops it before any change if
    /// foreign-key enforcement is on.
    #[arg(long)]
    no_transaction: bool,
}

impl Script {
    fn wrapping(&self) -> liteshift::Wrapping {
        if self.no_transaction {
            liteshift::Wrapping::NoTransaction
        } else {
            liteshift::Wrapping::Transaction
        }
    }
}

#[derive(Args)]
struct Planning {
    /// A table rename, old=new (repeatable).
    #[arg(long, value_name = "OLD=NEW")]
    rename_table: Vec<String>,
    /// A column rename, table.old=new (repeatable).
    #[arg(long, value_name = "TABLE.OLD=NEW")]
    rename_column: Vec<String>,
    /// The value a new or changed column takes in every existing row, computed by SQLite
    /// from the row as it was, e.g. `--value 'users.full_name=first || '"' '"' || last'`
    /// (repeatable; like `-- liteshift:value table.column = EXPR` in the schema).
    #[arg(long, value_name = "TABLE.COLUMN=EXPR")]
    value: Vec<String>,
    /// Make column order significant (a reorder plans a rebuild).
    #[arg(long)]
    exact_column_order: bool,
    /// Plan for this SQLite version instead of the database's: 3.40.0, or the SQLite a
    /// platform release ships (android-26, ios-15, d1; the table is in the README).
    #[arg(long, value_name = "X.Y.Z|android-N|ios-N|d1")]
    sqlite_version: Option<String>,
    /// Make a foreign key to an undeclared table or column an error (by default it is
    /// accepted with a warning, as SQLite accepts it).
    #[arg(long)]
    deny_dangling_foreign_keys: bool,
    /// No effect: dangling foreign keys are accepted by default (kept so old scripts run).
    #[arg(long, hide = true)]
    allow_dangling_foreign_keys: bool,
    /// Leave objects whose names match this GLOB pattern alone: never compared, changed or
    /// dropped (a table with its indexes and triggers; a view, index or trigger by its own
    /// name), e.g. --ignore '_sqlx_*' (repeatable; like `-- liteshift:ignore GLOB`).
    #[arg(long, value_name = "GLOB")]
    ignore: Vec<String>,
    /// Never drop what the schema does not declare (a table, column, index, view or
    /// trigger): apply everything else, and say what was kept.
    #[arg(long)]
    keep_undeclared: bool,
    /// Rebuild tables online: other connections keep writing while the rows are copied in
    /// short transactions (shadow table, triggers that log their writes, a short final swap).
    #[arg(long)]
    online: bool,
    /// With --online: about how long one chunk of the copy holds the write lock.
    #[arg(long, default_value_t = 50, value_name = "MS", requires = "online")]
    online_chunk_ms: u64,
    /// With --online: at most how long the write lock is left to others after each chunk.
    #[arg(long, default_value_t = 25, value_name = "MS", requires = "online")]
    online_pause_ms: u64,
}

/// A host whose migration files differ from SQLite's own.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ForHost {
    /// Cloudflare D1: one batch with its own guards; foreign keys stay enforced.
    D1,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// A summary and the SQL.
    Text,
    /// Only the SQL script.
    Sql,
    /// JSON (stable fields; see the README).
    Json,
}

impl Planning {
    fn options(&self, schema: &Path) -> anyhow::Result<Options> {
        let mut o = Options {
            front_end: liteshift::FrontEnd::Cli,
            exact_column_order: self.exact_column_order,
            deny_dangling_foreign_keys: self.deny_dangling_foreign_keys,
            source_name: schema.display().to_string(),
            ignore: self.ignore.clone(),
            keep_undeclared: self.keep_undeclared,
            online: self.online.then(|| liteshift::apply::OnlineOptions {
                chunk_time: Duration::from_millis(self.online_chunk_ms),
                pause: Duration::from_millis(self.online_pause_ms),
                ..Default::default()
            }),
            ..Options::default()
        };
        for r in &self.rename_table {
            o.hints.add_table_rename(r).map_err(|e| anyhow!(e))?;
        }
        for r in &self.rename_column {
            o.hints.add_column_rename(r).map_err(|e| anyhow!(e))?;
        }
        for v in &self.value {
            o.hints.add_value(v).map_err(|e| anyhow!("--value: {e}"))?;
        }
        if let Some(v) = &self.sqlite_version {
            o.sqlite_version =
                Some(SqliteVersion::from_option(v).map_err(|e| anyhow!("--sqlite-version {e}"))?);
        }
        Ok(o)
    }
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

fn read_schema(path: &Path) -> anyhow::Result<String> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("cannot read schema file {}", path.display()))?;
    String::from_utf8(bytes).map_err(|e| {
        anyhow!(
            "schema file {} is not UTF-8 text (invalid byte at offset {}); save it as UTF-8",
            path.display(),
            e.utf8_error().valid_up_to()
        )
    })
}

/// Open an existing database file; never creates one.
fn open_db(path: &Path, write: bool) -> anyhow::Result<Connection> {
    Ok(liteshift::fleet::open_existing(
        path,
        write,
        Duration::from_secs(5),
    )?)
}

/// Many databases: one line per file as it finishes (text), then a summary; or one JSON report.
/// The exit code is the worst outcome: 0 all migrated or in sync, 1 some differ (check) or
/// were refused, 2 some failed.
fn run_fleet(
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
    let line = |r: &FleetResult| shown.done(r, text.then(|| fleet_line(r)));
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
fn fleet_line(r: &liteshift::fleet::FleetResult) -> String {
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

fn print_plan(
    plan: &Plan,
    format: Format,
    wrapping: liteshift::Wrapping,
    extra: Option<serde_json::Value>,
) {
    let script = liteshift::render_script(plan, wrapping);
    match format {
        Format::Text => {
            print!("{}", liteshift::render_summary(plan));
            if !plan.steps.is_empty() {
                println!();
                print!("{script}");
            }
        }
        Format::Sql => print!("{script}"),
        Format::Json => {
            let mut v = serde_json::json!({
                "in_sync": plan.steps.is_empty(),
                "plan": plan,
                "sql": script,
            });
            if let Some(extra) = extra {
                v["result"] = extra;
            }
            println!(
                "{}",
                serde_json::to_string_pretty(&v).expect("plan serialises")
            );
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Plan {
            target,
            planning,
            script,
            format,
            queries,
        } => {
            let opts = planning.options(&target.schema)?;
            let sql = read_schema(&target.schema)?;
            let conn = dqlite::open_for_plan(&target.one()?, opts.online.is_some())?;
            let planned = liteshift::plan_migration(&*conn, &sql, &opts)?;
            print_plan(&planned.plan, format, script.wrapping(), None);
            if let Some(q) = queries {
                test_cmd::warn_queries(&sql, &q)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Apply {
            target,
            planning,
            allow_data_loss,
            dry_run,
            backup,
            busy_timeout,
            jobs,
            format,
            progress,
        } => {
            let mut opts = planning.options(&target.schema)?;
            opts.allow_data_loss = allow_data_loss;
            opts.dry_run = dry_run;
            opts.busy_timeout = Duration::from_millis(busy_timeout);
            opts.backup = backup;
            let sql = read_schema(&target.schema)?;
            if target.is_fleet() {
                if opts.backup.is_some() {
                    return Err(anyhow!(
                        "--backup takes one database; back the fleet up first"
                    ));
                }
                let paths = target.fleet()?;
                return run_fleet(
                    &paths,
                    &sql,
                    &opts,
                    liteshift::fleet::Mode::Apply,
                    jobs,
                    (format, progress),
                );
            }
            opts.on_progress = progress::observer(progress, format == Format::Text);
            let mut conn = dqlite::open_for_apply(&target.one()?, opts.online.is_some())?;
            let started = Instant::now();
            let mut first: Option<Plan> = None;
            let report = liteshift::migrate_with(&mut *conn, &sql, &opts, &mut |plan| {
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
            Ok(ExitCode::SUCCESS)
        }
        Command::Rehearse {
            target,
            planning,
            allow_data_loss,
            to,
            keep,
            format,
        } => {
            let mut opts = planning.options(&target.schema)?;
            opts.allow_data_loss = allow_data_loss;
            let sql = read_schema(&target.schema)?;
            let db = target.one()?;
            dqlite::refuse_url(&db, "rehearse")?;
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
        Command::Diff {
            from,
            to,
            planning,
            script,
            for_host,
            format,
        } => {
            let mut opts = planning.options(&to)?;
            if for_host == Some(ForHost::D1) && opts.sqlite_version.is_none() {
                // No host to ask: D1's SQLite, which lacks newer forms (ALTER COLUMN).
                opts.sqlite_version = Some(liteshift::platform::CLOUDFLARE_D1);
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
        Command::Check {
            target,
            planning,
            jobs,
            format,
            progress,
        } => {
            let opts = planning.options(&target.schema)?;
            let sql = read_schema(&target.schema)?;
            if target.is_fleet() {
                let paths = target.fleet()?;
                return run_fleet(
                    &paths,
                    &sql,
                    &opts,
                    liteshift::fleet::Mode::Check,
                    jobs,
                    (format, progress),
                );
            }
            let db = target.one()?;
            let conn = dqlite::open(&db, false)?;
            let planned = liteshift::plan_migration(&*conn, &sql, &opts)?;
            let in_sync = planned.plan.steps.is_empty();
            match format {
                Format::Json => println!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({
                        "in_sync": in_sync,
                        "changes": planned.plan.changes,
                        "warnings": planned.plan.warnings,
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
                            planned.plan.changes.len()
                        );
                        for c in &planned.plan.changes {
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
        Command::Test { args, planning } => test_cmd::run(args, &planning),
        Command::Inspect { db } => {
            let conn = dqlite::open(&db, false)?;
            let schema = liteshift::introspect(&*conn).map_err(|e| match e {
                Error::Sqlite(se) => liteshift::database_error(&*conn, se),
                other => other,
            })?;
            print!("{}", liteshift::schema_sql(&schema));
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    ExitCode::SUCCESS
                }
                _ => ExitCode::from(2),
            };
        }
    };
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            let refusal = e
                .downcast_ref::<Error>()
                .map(Error::is_refusal)
                .unwrap_or(false);
            eprintln!("liteshift: {}", cli_message(&e));
            ExitCode::from(if refusal { 1 } else { 2 })
        }
    }
}

/// `e` as `{e:#}` prints it (each cause after a `: `), liteshift's own errors in the CLI's
/// words (a refusal names `--allow-data-loss`, `--value`).
fn cli_message(e: &anyhow::Error) -> String {
    e.chain()
        .map(|cause| match cause.downcast_ref::<Error>() {
            Some(e) => e.message(liteshift::FrontEnd::Cli),
            None => cause.to_string(),
        })
        .collect::<Vec<_>>()
        .join(": ")
}
