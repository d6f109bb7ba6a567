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

/// Make `conn` behave like a Cloudflare Durable Object's SQLite storage:
/// - `BEGIN` and `SAVEPOINT` (and their ends) are refused (Durable Objects: transactions go
///   through `transactionSync()`);
/// - temp tables, indexes, views and triggers are refused ("not authorized"), with `TEMP` or
///   as `temp.name` (which SQLite authorizes as an ordinary create in the `temp` database);
/// - `PRAGMA writable_schema`, read or set, is refused;
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
        AuthAction::Pragma { pragma_name, .. } if is(pragma_name, "writable_schema") => {
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
