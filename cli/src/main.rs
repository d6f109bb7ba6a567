//! `liteshift`: the command-line front end. Argument parsing, files, output formats and exit
//! codes only; everything else is in the `liteshift` crate.
//!
//! `main` parses the arguments and `run` dispatches: one function per subcommand, each in its
//! module with its arguments (`plan`, `apply`, `rehearse`, `diff`, `check`, `test_cmd`;
//! `inspect` here), returning its exit code. `fleet` runs `apply` and `check` on many
//! databases. This file keeps the argument groups the subcommands share, reading a schema
//! file, opening a database and printing a plan; the exit codes are documented on `main`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, Context as _};
use clap::{Args, Parser, Subcommand, ValueEnum};
use liteshift::{Error, Options, Plan, SqliteVersion};
use rusqlite::Connection;

/// Standard output as the whole CLI writes it (these shadow std's `print!`/`println!` in every
/// module below): a reader that went away (`liteshift plan … | head`) is neither an error nor a
/// panic — the output stops and the command finishes what it is doing (a migration is not
/// abandoned half-way because its report cannot be read); any other write error ends the
/// process with exit code 2.
macro_rules! println {
    () => {
        $crate::write_stdout(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::write_stdout(format_args!("{}\n", format_args!($($arg)*)))
    };
}
macro_rules! print {
    ($($arg:tt)*) => {
        $crate::write_stdout(format_args!($($arg)*))
    };
}

mod apply;
mod check;
mod diff;
mod dqlite;
mod fleet;
mod plan;
mod progress;
mod rehearse;
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
    Plan(plan::PlanArgs),
    /// Migrate the database to the declared schema, in one verified transaction.
    #[command(after_help = EXIT_HELP)]
    Apply(apply::ApplyArgs),
    /// Rehearse the migration on a copy of the database (SQLite's backup API; the database is
    /// only read): every step timed, with the rows it rewrote and the journal it wrote, and
    /// the result checked; the copy is deleted unless --keep.
    #[command(after_help = EXIT_HELP)]
    Rehearse(rehearse::RehearseArgs),
    /// Migration SQL from one schema file to another, with no database. Running the printed
    /// script in the sqlite3 shell on a database at FROM yields TO.
    #[command(after_help = EXIT_HELP)]
    Diff(diff::DiffArgs),
    /// CI drift gate: exit 0 when the database matches the schema, 1 when it differs.
    #[command(after_help = EXIT_HELP)]
    Check(check::CheckArgs),
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
            online: self.online.then(|| liteshift::OnlineOptions {
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

/// Parse the arguments and run the subcommand. The exit code (also in `--help`):
/// - 0: success, or the database is already in sync; `--help` and `--version`;
/// - 1: a subcommand's negative answer (`check`: the database differs; `test`: a version
///   failed), or a migration refused (`Error::is_refusal`: data loss not allowed, rows that
///   violate the new schema);
/// - 2: an error: bad arguments (clap's), an unreadable or invalid schema, a missing, locked,
///   corrupt or non-SQLite database, a failed migration.
///
/// A fleet's code is its worst database's.
fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            if let Some(hint) = parse_hint(&e) {
                eprintln!("{hint}");
            }
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    ExitCode::SUCCESS
                }
                _ => ExitCode::from(2),
            };
        }
    };
    match run(cli.command) {
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

/// Writes to standard output for [`println!`]: see there.
fn write_stdout(args: std::fmt::Arguments<'_>) {
    use std::io::Write as _;
    match std::io::stdout().lock().write_fmt(args) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        Err(e) => {
            eprintln!("liteshift: cannot write to standard output ({e}); free the space or choose another place for the output");
            std::process::exit(2);
        }
    }
}

/// What clap cannot say about a rejected command line: `liteshift test --from a.sql b.sql
/// schema.sql` gives the schema to `--from`, which takes every value after it.
fn parse_hint(e: &clap::Error) -> Option<&'static str> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let test_from = args.first().is_some_and(|a| a == "test") && args.iter().any(|a| a == "--from");
    (e.kind() == clap::error::ErrorKind::MissingRequiredArgument && test_from).then_some(
        "hint: --from takes every value after it, so the schema went to --from; give the schema first: liteshift test schema.sql --from 'schemas/v*.sql'",
    )
}

/// One function per subcommand: each returns its exit code, or the error `main` reports.
fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Plan(args) => plan::run(args),
        Command::Apply(args) => apply::run(args),
        Command::Rehearse(args) => rehearse::run(args),
        Command::Diff(args) => diff::run(args),
        Command::Check(args) => check::run(args),
        Command::Test { args, planning } => test_cmd::run(args, &planning),
        Command::Inspect { db } => inspect(&db),
    }
}

/// `liteshift inspect`: the database's schema as SQL usable as a declared schema. Exit code
/// 0, or 2 when the database cannot be read.
fn inspect(db: &Path) -> anyhow::Result<ExitCode> {
    let conn = dqlite::open(db, false)?;
    let schema = liteshift::introspect(&*conn).map_err(|e| match e {
        Error::Sqlite(se) => liteshift::database_error(&*conn, se),
        other => other,
    })?;
    print!("{}", liteshift::schema_sql(&schema));
    Ok(ExitCode::SUCCESS)
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
