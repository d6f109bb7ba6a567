//! Real SQLite connections made to behave like restricted hosts, through SQLite's authorizer.
//!
//! Each rule emulates a fact measured in workerd (Cloudflare D1, Durable Objects); a refusal
//! is SQLite's own `SQLITE_AUTH` ("not authorized"), as those hosts' authorizers give it. What
//! an authorizer cannot emulate is said where it matters: neither host's transaction API (a
//! D1 `batch()`, `transactionSync()`) exists here, so a refused `BEGIN` leaves the connection
//! in autocommit.
//!
//! These are test fixtures: they never decide anything about a migration, and the probe and
//! the planner must find every trait here by asking, never by knowing which function made it.

use rusqlite::hooks::{AuthAction, AuthContext, Authorization};
use rusqlite::Connection;

fn is(name: &str, wanted: &str) -> bool {
    name.eq_ignore_ascii_case(wanted)
}

/// A Cloudflare `_cf_*` name (the platform's own tables).
fn cloudflare_name(name: &str) -> bool {
    name.len() >= 4 && name[..4].eq_ignore_ascii_case("_cf_")
}

/// Make `conn` behave like Cloudflare D1:
/// - foreign-key enforcement is on, and `PRAGMA foreign_keys = …` is silently ignored (D1:
///   `PRAGMA foreign_keys = OFF` succeeds and the setting reads 1 afterwards). The authorizer's
///   `SQLITE_IGNORE` for a PRAGMA makes it a no-op without an error;
/// - `BEGIN`, `COMMIT`, `ROLLBACK` and `SAVEPOINT`/`RELEASE`/`ROLLBACK TO` are refused (D1: a
///   `batch()` is the transaction);
/// - `sqlite_version()` and `PRAGMA compile_options` are refused ("not authorized" on D1);
/// - the database holds `_cf_METADATA` (D1 creates it in every database).
///
/// D1's `legacy_alter_table = ON` not stopping `ALTER TABLE … RENAME` from rewriting the
/// children's `REFERENCES` needs no rule: SQLite itself rewrites them in legacy mode while
/// enforcement is on (the pre-3.26 behaviour that mode keeps), and here it is always on.
pub fn d1_like(conn: &mut Connection) {
    conn.execute_batch(
        "PRAGMA foreign_keys = ON;
         CREATE TABLE IF NOT EXISTS _cf_METADATA (key INTEGER PRIMARY KEY, value BLOB);",
    )
    .unwrap();
    conn.authorizer(Some(|ctx: AuthContext<'_>| match ctx.action {
        AuthAction::Pragma {
            pragma_name,
            pragma_value: Some(_),
        } if is(pragma_name, "foreign_keys") => Authorization::Ignore,
        AuthAction::Pragma { pragma_name, .. } if is(pragma_name, "compile_options") => {
            Authorization::Deny
        }
        AuthAction::Transaction { .. } | AuthAction::Savepoint { .. } => Authorization::Deny,
        AuthAction::Function { function_name } if is(function_name, "sqlite_version") => {
            Authorization::Deny
        }
        _ => Authorization::Allow,
    }))
    .unwrap();
}

/// The PRAGMAs a Durable Object refuses, read or set ("not authorized: SQLITE_AUTH"),
/// measured in workerd among those a migration might ask (`foreign_keys`,
/// `legacy_alter_table`, `defer_foreign_keys`, `quick_check`, `foreign_key_check`,
/// `table_xinfo`, `index_list`, `ignore_check_constraints`, `data_version` are allowed).
pub const DURABLE_OBJECT_PRAGMAS_REFUSED: &[&str] = &[
    "writable_schema",
    "busy_timeout",
    "database_list",
    "schema_version",
    "user_version",
    "page_size",
    "page_count",
    "encoding",
    "trusted_schema",
    "compile_options",
    "function_list",
    "module_list",
    "collation_list",
];

/// Make `conn` behave like a Cloudflare Durable Object's SQLite storage:
/// - `BEGIN` and `SAVEPOINT` (and their ends) are refused (Durable Objects: transactions go
///   through `transactionSync()`);
/// - temp tables, indexes, views and triggers are refused ("not authorized"), with `TEMP` or
///   as `temp.name` (which SQLite authorizes as an ordinary create in the `temp` database);
/// - `PRAGMA writable_schema`, `busy_timeout`, `database_list` and the others of
///   [`DURABLE_OBJECT_PRAGMAS_REFUSED`], read or set, are refused;
/// - `sqlite_version()` is refused;
/// - the database holds `_cf_KV`, which cannot be read or written at all (its very
///   `pragma_table_xinfo` included).
///
/// Foreign-key enforcement is the connection's, and `PRAGMA foreign_keys = OFF` is honoured
/// outside a transaction, as on Durable Objects.
pub fn durable_object_like(conn: &mut Connection) {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS _cf_KV (key TEXT PRIMARY KEY, value BLOB) WITHOUT ROWID",
    )
    .unwrap();
    conn.authorizer(Some(|ctx: AuthContext<'_>| match ctx.action {
        AuthAction::Transaction { .. } | AuthAction::Savepoint { .. } => Authorization::Deny,
        AuthAction::CreateTempTable { .. }
        | AuthAction::CreateTempIndex { .. }
        | AuthAction::CreateTempView { .. }
        | AuthAction::CreateTempTrigger { .. } => Authorization::Deny,
        AuthAction::CreateTable { .. }
        | AuthAction::CreateIndex { .. }
        | AuthAction::CreateView { .. }
        | AuthAction::CreateTrigger { .. }
            if ctx.database_name == Some("temp") =>
        {
            Authorization::Deny
        }
        AuthAction::Pragma { pragma_name, .. }
            if DURABLE_OBJECT_PRAGMAS_REFUSED
                .iter()
                .any(|p| is(pragma_name, p)) =>
        {
            Authorization::Deny
        }
        AuthAction::Function { function_name } if is(function_name, "sqlite_version") => {
            Authorization::Deny
        }
        AuthAction::Read { table_name, .. }
        | AuthAction::Insert { table_name }
        | AuthAction::Update { table_name, .. }
        | AuthAction::Delete { table_name }
            if cloudflare_name(table_name) =>
        {
            Authorization::Deny
        }
        AuthAction::Pragma {
            pragma_value: Some(v),
            ..
        } if cloudflare_name(v) => Authorization::Deny,
        _ => Authorization::Allow,
    }))
    .unwrap();
}

/// Make `conn` keep foreign-key enforcement on whatever it is told, as rqlite launched with
/// `-fk`, libSQL/Turso over HTTP and D1 do: `PRAGMA foreign_keys = …` is silently ignored
/// (the authorizer's `SQLITE_IGNORE`), and everything else is allowed — `BEGIN` included, so
/// the ordinary apply runs, and only enforcement differs from an ordinary connection.
pub fn foreign_keys_always_on(conn: &mut Connection) {
    conn.execute_batch("PRAGMA foreign_keys = ON").unwrap();
    conn.authorizer(Some(|ctx: AuthContext<'_>| match ctx.action {
        AuthAction::Pragma {
            pragma_name,
            pragma_value: Some(_),
        } if is(pragma_name, "foreign_keys") => Authorization::Ignore,
        _ => Authorization::Allow,
    }))
    .unwrap();
}

/// A Durable Object's `ctx.storage.transactionSync(f)` on `conn` (made [`durable_object_like`]
/// first): the transaction is opened around `f` with the authorizer lifted for that one
/// statement, `f` gets a host whose transaction is the caller's
/// ([`liteshift::Host::caller_transaction`]), and the transaction commits when `f` returns
/// `Ok` and rolls back everything when it returns `Err` — as an exception thrown from the
/// callback does in workerd.
pub fn transaction_sync<T, E>(
    conn: &mut Connection,
    f: impl FnOnce(&mut dyn liteshift::Host) -> Result<T, E>,
) -> Result<T, E> {
    conn.authorizer(None::<fn(AuthContext<'_>) -> Authorization>)
        .unwrap();
    conn.execute_batch("BEGIN IMMEDIATE").unwrap();
    durable_object_like(conn);
    let result = f(&mut TransactionSync(conn));
    conn.authorizer(None::<fn(AuthContext<'_>) -> Authorization>)
        .unwrap();
    conn.execute_batch(if result.is_ok() { "COMMIT" } else { "ROLLBACK" })
        .unwrap();
    durable_object_like(conn);
    result
}

/// The host inside [`transaction_sync`]: the connection, in the caller's transaction.
struct TransactionSync<'c>(&'c Connection);

impl liteshift::Host for TransactionSync<'_> {
    fn execute(&self, sql: &str) -> Result<(), liteshift::HostError> {
        liteshift::Host::execute(self.0, sql)
    }
    fn query(&self, sql: &str) -> Result<liteshift::Rows, liteshift::HostError> {
        liteshift::Host::query(self.0, sql)
    }
    fn scratch(&self) -> Result<Box<dyn liteshift::Host>, liteshift::HostError> {
        self.0.scratch()
    }
    fn in_transaction(&self) -> Result<bool, liteshift::HostError> {
        Ok(true)
    }
    fn caller_transaction(&self) -> bool {
        true
    }
}

/// Lift any of these emulations from `conn` (to read what a test checks, `_cf_KV` included).
pub fn unrestricted(conn: &mut Connection) {
    conn.authorizer(None::<fn(AuthContext<'_>) -> Authorization>)
        .unwrap();
}
