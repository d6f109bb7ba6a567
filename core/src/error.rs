//! Typed errors. Every message says what went wrong, where, and what to do.

use serde::Serialize;

use crate::host::{ErrorKind, HostError};

/// Everything that can go wrong in liteshift.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The declared schema is invalid. Carries the source name and a 1-based line and column.
    #[error("{source_name}:{line}:{column}: {message}")]
    Schema {
        source_name: String,
        line: usize,
        column: usize,
        message: String,
    },

    /// The database file cannot be used (missing, not SQLite, corrupt, locked, read-only...).
    #[error("database {path}: {message}")]
    Database { path: String, message: String },

    /// The migration was refused by policy or by the data. Nothing was changed.
    #[error("{0}")]
    Refused(Refusal),

    /// The plan was computed for a different schema than the database has now.
    #[error("the database schema changed since the plan was made (plan fingerprint {planned}, database {actual}): plan again")]
    StalePlan { planned: String, actual: String },

    /// The caller's connection is inside a transaction and the plan needs foreign-key
    /// enforcement switched off, which SQLite only allows outside a transaction.
    #[error("the connection is inside a transaction, and this migration must switch foreign-key enforcement off first (PRAGMA foreign_keys cannot change inside a transaction): commit or roll back, then migrate")]
    InTransaction,

    /// The host refuses `BEGIN` and `SAVEPOINT`: its transactions go through its own API.
    #[error("this host refuses BEGIN and SAVEPOINT (its transactions go through its own API, as Cloudflare D1's batch and Durable Objects' transactionSync do), so liteshift cannot open its transaction here; nothing was changed. For D1, write the migration as one batch that checks itself: liteshift diff --for d1 FROM.sql TO.sql")]
    NoTransaction,

    /// After applying, the database did not equal the target. Rolled back.
    #[error("verification failed after applying the plan (rolled back, nothing changed): {0}")]
    Verification(String),

    /// A step of the plan failed when SQLite ran it. Rolled back.
    #[error("step {step} ({reason}) failed: {message}; rolled back, nothing changed")]
    StepFailed {
        step: usize,
        reason: String,
        message: String,
    },

    /// A bad option value (rename hint, SQLite version...).
    #[error("{0}")]
    InvalidOption(String),

    /// An error from SQLite that is none of the above. Its message is SQLite's own, once
    /// (the error is kept, but not exposed as a `source`, so error chains do not repeat it).
    #[error("SQLite error: {}", .0.message)]
    Sqlite(HostError),
}

impl From<HostError> for Error {
    fn from(e: HostError) -> Self {
        Error::Sqlite(e)
    }
}

impl Error {
    /// Whether this is a refusal (exit code 1 in the CLI) rather than an error (exit code 2).
    pub fn is_refusal(&self) -> bool {
        matches!(self, Error::Refused(_))
    }

    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Schema { .. } => "schema_error",
            Error::Database { .. } => "database_error",
            Error::Refused(Refusal::DataLoss { .. }) => "data_loss_refused",
            Error::Refused(Refusal::Violations { .. }) => "data_violates_schema",
            Error::StalePlan { .. } => "stale_plan",
            Error::InTransaction => "in_transaction",
            Error::NoTransaction => "no_transaction",
            Error::Verification(_) => "verification_failed",
            Error::StepFailed { .. } => "step_failed",
            Error::InvalidOption(_) => "invalid_option",
            Error::Sqlite(_) => "sqlite_error",
        }
    }
}

/// Why a migration was refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Refusal {
    /// Steps that would lose data, and data loss was not allowed.
    DataLoss { steps: Vec<String> },
    /// Existing rows violate the declared schema.
    Violations { violations: Vec<Violation> },
}

/// Who reads a message: a refusal's last sentence says what to do in the options of the
/// caller's own language (each front end sets its own in [`crate::Options::front_end`], and
/// formats errors with [`Error::message`]). `Display` is the Rust API's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum FrontEnd {
    #[default]
    Rust,
    /// The `liteshift` binary.
    Cli,
    Python,
    /// The npm package.
    JavaScript,
    /// The UniFFI bindings (the same option names in both languages).
    KotlinSwift,
}

impl FrontEnd {
    /// How this front end's caller allows steps that lose data.
    fn allow_data_loss(self) -> &'static str {
        match self {
            FrontEnd::Rust => "`allow_data_loss: true` in `Options`",
            FrontEnd::Cli => "--allow-data-loss",
            FrontEnd::Python => "`allow_data_loss=True`",
            FrontEnd::JavaScript => "`allowDataLoss: true` in the options",
            FrontEnd::KotlinSwift => "`allowDataLoss = true` in the options",
        }
    }

    /// How this front end's caller declares the value existing rows take.
    fn declare_value(self) -> &'static str {
        match self {
            FrontEnd::Rust => "`Hints::add_value(\"TABLE.COLUMN=EXPR\")` in `Options::hints`",
            FrontEnd::Cli => "--value TABLE.COLUMN=EXPR",
            FrontEnd::Python => "`values={\"TABLE.COLUMN\": \"EXPR\"}`",
            FrontEnd::JavaScript => "`values: { \"TABLE.COLUMN\": \"EXPR\" }` in the options",
            FrontEnd::KotlinSwift => "`values` in the options (\"TABLE.COLUMN\" to \"EXPR\")",
        }
    }
}

impl Refusal {
    /// The refusal, its remedy spelled for `front`.
    pub fn message(&self, front: FrontEnd) -> String {
        match self {
            Refusal::DataLoss { steps } => {
                let mut m = format!(
                    "refused: the migration would lose data in {} step(s); nothing was changed:\n",
                    steps.len()
                );
                for s in steps {
                    m.push_str(&format!("  - {s}\n"));
                }
                m.push_str(&format!(
                    "allow it with {}, or declare a rename if this is a rename",
                    front.allow_data_loss()
                ));
                m
            }
            Refusal::Violations { violations } => {
                let mut m = String::from(
                    "refused: existing rows violate the declared schema; nothing was changed:\n",
                );
                for v in violations {
                    m.push_str(&format!("  - {v}\n"));
                }
                m.push_str(&format!("fix or delete those rows, change the declared schema, or declare the value existing rows take ({}, or `-- liteshift:value TABLE.COLUMN = EXPR` in the schema)", front.declare_value()));
                m
            }
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message(FrontEnd::Rust))
    }
}

impl Error {
    /// The message for `front`'s caller: a refusal says what to do in its own options; every
    /// other error reads the same everywhere.
    pub fn message(&self, front: FrontEnd) -> String {
        match self {
            Error::Refused(r) => r.message(front),
            other => other.to_string(),
        }
    }
}

/// Existing rows that violate a constraint of the target schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// What is violated, e.g. `NOT NULL`, `CHECK (price > 0)`, `UNIQUE (email)`, `FOREIGN KEY`.
    pub constraint: String,
    pub table: String,
    pub column: Option<String>,
    /// How many rows violate it.
    pub count: u64,
    /// A few offending rows, rendered as text (rowid and values).
    pub examples: Vec<String>,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let at = match &self.column {
            Some(c) => format!("{}.{}", self.table, c),
            None => self.table.clone(),
        };
        write!(
            f,
            "{} on {}: {} row(s) violate it",
            self.constraint, at, self.count
        )?;
        if !self.examples.is_empty() {
            write!(f, ", e.g. {}", self.examples.join("; "))?;
        }
        Ok(())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An error from SQLite while opening the transaction or reading, as a database error.
pub fn database_error(host: &dyn crate::Host, e: HostError) -> Error {
    let message = match e.kind() {
        ErrorKind::Busy => "database is locked: another connection holds a write lock; retry when it is done, or raise the busy timeout".to_string(),
        ErrorKind::NotADatabase => "file is not a SQLite database (or is encrypted)".to_string(),
        ErrorKind::Corrupt => "database disk image is malformed (corrupt); restore it from a backup".to_string(),
        ErrorKind::IoErr => io_error_message(&e.message),
        ErrorKind::ReadOnly => "database is read-only; check the file's permissions".to_string(),
        ErrorKind::CannotOpen => "unable to open the database file".to_string(),
        ErrorKind::Full => "the disk is full (SQLite could not write the migration); nothing was changed; free some space and retry".to_string(),
        _ => e.message,
    };
    Error::Database {
        path: crate::host::database_path(host),
        message,
    }
}

/// A failed read, write or sync (SQLITE_IOERR): named as an I/O failure of the operating
/// system, never as corruption — the file is usually intact, and a retry usually works.
pub(crate) fn io_error_message(sqlite: &str) -> String {
    format!("I/O error: the operating system failed to read, write or sync the database file (SQLite: {sqlite}); this is not corruption; retry, and check the disk if it happens again")
}

#[cfg(test)]
mod tests {
    use super::{Error, FrontEnd, Refusal};

    #[test]
    fn a_refusal_says_what_to_do_in_each_front_ends_words() {
        let loss = Error::Refused(Refusal::DataLoss {
            steps: vec!["drop column t.a (its values are lost)".into()],
        });
        let says = |front| loss.message(front);
        assert!(says(FrontEnd::Cli).contains("allow it with --allow-data-loss,"));
        assert!(says(FrontEnd::Python).contains("`allow_data_loss=True`"));
        assert!(says(FrontEnd::JavaScript).contains("`allowDataLoss: true` in the options"));
        assert!(says(FrontEnd::KotlinSwift).contains("`allowDataLoss = true` in the options"));
        assert_eq!(loss.to_string(), says(FrontEnd::Rust));
        assert!(!loss.to_string().contains("--"), "{loss}");
        let rows = Error::Refused(Refusal::Violations { violations: vec![] });
        assert!(rows
            .message(FrontEnd::Cli)
            .contains("--value TABLE.COLUMN=EXPR"));
        assert!(!rows.message(FrontEnd::JavaScript).contains("--value"));
        // Everything else reads the same everywhere.
        let other = Error::InvalidOption("x".into());
        assert_eq!(other.message(FrontEnd::Cli), other.to_string());
    }
}
