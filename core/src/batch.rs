//! A migration as one batch that verifies itself, for hosts whose transaction is a batch of
//! statements and that offer no interactive one: Cloudflare D1 (`wrangler d1 migrations
//! apply`, `wrangler d1 execute --file`, `D1Database.batch()`), libSQL and rqlite over HTTP.
//!
//! Apply checks under its write lock that the database is at the schema the plan was made
//! from, that no row violates the target, and afterwards that the result equals the
//! declaration and every foreign key holds. In a batch nothing can look and then decide, so
//! each of those is a statement of the batch: an `INSERT` of the condition into a guard table
//! whose column for it has a named `CHECK`. A false condition fails that `INSERT` with the
//! check's name as its message ("CHECK constraint failed: liteshift: …"), and the host rolls
//! the whole batch back: the database is unchanged.
//!
//! What "at the schema" means is SQLite's: a *signature* of the catalog (every object's type,
//! name and table; every column's name, declared type, NOT NULL, default, primary-key position
//! and hidden flag, as `pragma_table_xinfo` reports them), read by the same query on the
//! database the plan starts from and on the declared schema loaded into a scratch database —
//! never modelled in Rust. A platform's objects are left out, as everywhere.
//!
//! This module owns the signature query and the guard statements. It never decides a step.

use serde::Serialize;

use crate::error::Result;
use crate::host::{query_value, Host};
use crate::plan::Plan;
use crate::share::not_platform_sql;
use crate::sqltext::{quote_ident, quote_str};
use crate::version::SqliteVersion;

/// The guard table a batch creates, fills and drops.
pub const GUARD_TABLE: &str = "_liteshift_guard";

/// The catalog signatures a batch checks: before its steps (the database is at the schema the
/// plan was made from) and after them (the result is the declared schema).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BatchGuards {
    pub from: String,
    pub to: String,
    /// The signature reads `pragma_table_xinfo` (SQLite 3.26+) rather than `table_info`.
    pub xinfo: bool,
    /// Name patterns of objects that are not the schema's (`ignore`), left out of both
    /// signatures as a platform's objects are.
    pub ignore: Vec<String>,
    /// Tables whose foreign keys SQLite cannot check once migrated ("foreign key mismatch":
    /// a key that names columns which are not the parent's key). `pragma_foreign_key_check`
    /// raises an error for them, rows or not, so a guard that asked would fail every batch;
    /// apply skips them too. Found by asking SQLite on the declared schema.
    pub unchecked: Vec<String>,
}

impl BatchGuards {
    /// The signatures of the schema in `from` and in `to` (a scratch database with the
    /// declared schema), by the one query SQLite `version` runs.
    pub fn read(
        from: &dyn Host,
        to: &dyn Host,
        version: SqliteVersion,
        ignore: &[String],
        plan: &Plan,
    ) -> Result<BatchGuards> {
        let xinfo = version >= SqliteVersion(3, 26, 0);
        let sql = signature_sql(xinfo, ignore);
        let read = |h: &dyn Host| -> Result<String> {
            Ok(query_value(h, &sql)?.text().unwrap_or_default())
        };
        // `to` holds the declared schema and no rows: each check is instant there.
        let unchecked = plan
            .fk_checks
            .iter()
            .flatten()
            .filter(|c| {
                to.query(&format!(
                    "SELECT 1 FROM pragma_foreign_key_check({})",
                    quote_str(&c.after)
                ))
                .is_err()
            })
            .map(|c| c.after.clone())
            .collect();
        Ok(BatchGuards {
            from: read(from)?,
            to: read(to)?,
            xinfo,
            ignore: ignore.to_vec(),
            unchecked,
        })
    }
}

/// The query whose one value is the signature of the `main` schema, without the objects
/// `ignore`'s patterns name (matched by SQLite's `GLOB` on lower-cased names and patterns).
pub fn signature_sql(xinfo: bool, ignore: &[String]) -> String {
    let (pragma, hidden) = if xinfo {
        ("table_xinfo", "c.hidden")
    } else {
        ("table_info", "0")
    };
    let ours = |col: &str| {
        let ignored: String = ignore
            .iter()
            .map(|p| format!(" AND lower({col}) NOT GLOB lower({})", quote_str(p)))
            .collect();
        format!(
            "{col} NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND {col} NOT LIKE '{}' ESCAPE '\\' AND {}{ignored}",
            GUARD_TABLE.replace('_', "\\_"),
            not_platform_sql(col)
        )
    };
    format!(
        "SELECT ifnull(group_concat(x, char(10)), '') FROM (\
         SELECT type || ' ' || lower(name) || ' ' || lower(tbl_name) AS x FROM sqlite_master \
         WHERE {names} AND {tables} \
         UNION ALL \
         SELECT 'column ' || lower(m.name) || '.' || lower(c.name) || ' ' || c.type || ' ' || c.\"notnull\" \
         || ' ' || ifnull(c.dflt_value, '-') || ' ' || c.pk || ' ' || {hidden} \
         FROM sqlite_master m, pragma_{pragma}(m.name) c \
         WHERE m.type = 'table' AND {mnames} AND m.sql NOT LIKE 'CREATE VIRTUAL%' \
         ORDER BY 1)",
        names = ours("name"),
        tables = ours("tbl_name"),
        mnames = ours("m.name"),
    )
}

const NOT_AT_FROM: &str = "liteshift: the database is not at the schema this migration starts from; nothing was changed (plan again from this database)";
const ROWS_VIOLATE: &str = "liteshift: existing rows violate";
const MISSING_PARENTS: &str = "would reference missing parent rows";
const NOT_AT_TO: &str = "liteshift: after its steps the database would not be the declared schema; nothing was changed (a liteshift bug: please report it with both schemas)";

/// What a batch's failure means, from the host's message: the code of the error liteshift
/// reports for the guard that stopped it (`stale_plan`, `data_violates_schema`,
/// `verification_failed`), and the guard's message; `None` when no guard failed (a step did).
fn failed_guard(host_message: &str) -> Option<(&'static str, String)> {
    let at = host_message.find("liteshift: ")?;
    let message = host_message[at..]
        .split(": SQLITE_")
        .next()
        .unwrap_or_default()
        .to_string();
    let code = if message.starts_with(NOT_AT_FROM) {
        "stale_plan"
    } else if message.starts_with(ROWS_VIOLATE) || message.contains(MISSING_PARENTS) {
        "data_violates_schema"
    } else if message.starts_with(NOT_AT_TO) {
        "verification_failed"
    } else {
        return None;
    };
    Some((code, message))
}

/// What a failed batch reports, from the host's message: the guard that stopped it (its
/// code and message); a row a step could not write under the target's constraints
/// (`data_violates_schema`, as apply reports a step stopped by a constraint); or the step
/// that failed (`step_failed`). The host rolled the batch back: nothing was changed.
pub fn failure(host_message: &str) -> (&'static str, String) {
    if let Some(guard) = failed_guard(host_message) {
        return guard;
    }
    let message = host_message
        .split(": SQLITE_")
        .next()
        .unwrap_or(host_message);
    let e = crate::host::HostError::new(message);
    if e.kind() == crate::host::ErrorKind::Constraint {
        return ("data_violates_schema", format!("existing rows violate the declared schema: a step stopped at the first offending row ({message}); the host rolled the whole batch back, nothing was changed; fix those rows, or declare the value they take"));
    }
    ("step_failed", format!("the migration's batch failed on the host ({message}); the host rolled all of it back, nothing was changed"))
}

/// The statements of `plan`'s batch ([`crate::render_script`]`(plan, Wrapping::Batch)`), one by
/// one, for a host whose batch takes a list of statements (D1's `batch()`): exactly that
/// script's statements, in order.
pub fn statements(plan: &Plan) -> Vec<String> {
    let script = crate::render::render_script(plan, crate::render::Wrapping::Batch);
    crate::sqltext::split_statements(&script)
        .into_iter()
        .map(|r| script[r].to_string())
        .collect()
}

/// One condition of the batch: its guard column, the message its failure gives, and the
/// statement that yields it (one row, true or false).
struct Guard {
    message: String,
    condition: String,
}

/// The statements a batch runs before its steps and after them: the guard table and the
/// conditions (see the module's comment). Without `guards` (a plan made without reading both
/// schemas), the schema conditions are left out and the data and foreign-key ones stay.
pub fn guard_statements(plan: &Plan) -> (Vec<String>, Vec<String>) {
    let before = guards_before(plan);
    let after = guards_after(plan);
    if before.is_empty() && after.is_empty() {
        return (Vec::new(), Vec::new());
    }
    guard_table(&before, &after)
}

/// The conditions before the steps: the database is at the schema the plan starts from, and
/// its rows pass the plan's data checks.
fn guards_before(plan: &Plan) -> Vec<Guard> {
    let mut before: Vec<Guard> = Vec::new();
    if let Some(g) = &plan.batch {
        before.push(Guard {
            message: NOT_AT_FROM.into(),
            condition: format!(
                "({}) = {}",
                signature_sql(g.xinfo, &g.ignore),
                quote_str(&g.from)
            ),
        });
    }
    for c in &plan.checks {
        let at = match &c.column {
            Some(col) => format!("{}.{col}", c.table),
            None => c.table.clone(),
        };
        before.push(Guard {
            message: format!("{ROWS_VIOLATE} {} on {at}; nothing was changed (fix those rows, or declare the value they take)", c.constraint),
            condition: format!("NOT EXISTS ({})", c.sql),
        });
    }
    before
}

/// The conditions after the steps: every foreign key the plan checks holds (but for the
/// tables whose check the host could not run), and the result is the declared schema.
fn guards_after(plan: &Plan) -> Vec<Guard> {
    let mut after: Vec<Guard> = Vec::new();
    let unchecked = |t: &str| {
        plan.batch
            .as_ref()
            .is_some_and(|g| g.unchecked.iter().any(|u| u == t))
    };
    for c in plan
        .fk_checks
        .iter()
        .flatten()
        .filter(|c| !unchecked(&c.after))
    {
        after.push(Guard {
            message: format!(
                "liteshift: rows of {} {MISSING_PARENTS}; nothing was changed",
                c.after
            ),
            condition: format!(
                "NOT EXISTS (SELECT 1 FROM pragma_foreign_key_check({}))",
                quote_str(&c.after)
            ),
        });
    }
    if let Some(g) = &plan.batch {
        after.push(Guard {
            message: NOT_AT_TO.into(),
            condition: format!(
                "({}) = {}",
                signature_sql(g.xinfo, &g.ignore),
                quote_str(&g.to)
            ),
        });
    }
    after
}

/// The guard table, one `CHECK`ed column per condition (named by its message), and the
/// inserts that test the conditions: those `before` the steps first (after the table's
/// creation), those `after` them last (before the table's drop).
fn guard_table(before: &[Guard], after: &[Guard]) -> (Vec<String>, Vec<String>) {
    let columns: Vec<String> = before
        .iter()
        .chain(after)
        .enumerate()
        .map(|(i, g)| {
            format!(
                "g{i} INTEGER NOT NULL DEFAULT 1 CONSTRAINT {} CHECK (g{i})",
                quote_ident(&g.message)
            )
        })
        .collect();
    let table = quote_ident(GUARD_TABLE);
    // A NULL condition (an unreadable signature) fails as a false one, with its message.
    let insert = |i: usize, g: &Guard| {
        format!(
            "INSERT INTO {table}(g{i}) SELECT coalesce({}, 0)",
            g.condition
        )
    };
    let n = before.len();
    let mut first = vec![format!("CREATE TABLE {table}({})", columns.join(", "))];
    first.extend(before.iter().enumerate().map(|(i, g)| insert(i, g)));
    let mut last: Vec<String> = after
        .iter()
        .enumerate()
        .map(|(i, g)| insert(n + i, g))
        .collect();
    last.push(format!("DROP TABLE {table}"));
    (first, last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_guard_is_named_from_the_hosts_message() {
        let d1 = format!("D1_ERROR: CHECK constraint failed: {NOT_AT_FROM}: SQLITE_CONSTRAINT");
        assert_eq!(
            failed_guard(&d1),
            Some(("stale_plan", NOT_AT_FROM.to_string()))
        );
        let rows = "CHECK constraint failed: liteshift: existing rows violate NOT NULL on t.a; nothing was changed (fix those rows, or declare the value they take)";
        assert_eq!(failed_guard(rows).unwrap().0, "data_violates_schema");
        assert_eq!(
            failed_guard(&format!("liteshift: rows of c {MISSING_PARENTS}; nothing"))
                .unwrap()
                .0,
            "data_violates_schema"
        );
        assert_eq!(failed_guard(NOT_AT_TO).unwrap().0, "verification_failed");
        assert_eq!(failed_guard("NOT NULL constraint failed: t.a"), None);
        let (code, m) = failure("UNIQUE constraint failed: idp.uid: SQLITE_CONSTRAINT (extended: SQLITE_CONSTRAINT_UNIQUE)");
        assert_eq!(code, "data_violates_schema");
        assert!(m.contains("(UNIQUE constraint failed: idp.uid)"), "{m}");
        assert_eq!(failure("near \"ALTER\": syntax error").0, "step_failed");
        assert_eq!(failure(&d1).0, "stale_plan");
    }
}
