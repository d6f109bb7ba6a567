//! What a host allows, probed at run time.
//!
//! Cloudflare D1, Durable Objects, libSQL/Turso over HTTP and rqlite refuse some of what an
//! ordinary SQLite connection does: switching foreign-key enforcement off, `BEGIN`,
//! `SAVEPOINT`, temp tables, `writable_schema`, `legacy_alter_table`, even `sqlite_version()`.
//! This module owns finding that out: [`probe`] asks the host with SQL and returns
//! [`HostTraits`], which the planner reads and the plan shows (its `Display`). A trait is
//! never assumed from a host's name, and a refusal is an answer, not an error.
//!
//! Architecture invariant: probing changes nothing anyone can see afterwards. It writes only
//! tables of its own (`_liteshift_probe_*`), in the `temp` schema or in `main` inside a
//! savepoint it rolls back, and nowhere when neither is allowed; every connection setting it
//! touches (`foreign_keys`, `legacy_alter_table`, `writable_schema`) is put back on every path
//! and read back where SQLite could ignore the statement, and a setting it cannot read it does
//! not touch. It reaches SQLite only through [`Host`], in a constant number of calls (at most
//! about twenty, whatever the database holds).

use serde::Serialize;

use crate::error::{Error, Result};
use crate::host::{database_path, query_value, ErrorKind, Host, HostError, Value};
use crate::version::SqliteVersion;

/// What a host's SQLite connection allows a migration to do, as [`probe`] found it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostTraits {
    /// The host's SQLite version: what `sqlite_version()` says, or, where the host refuses it,
    /// the release that introduced the newest feature the host compiles (a floor: the real
    /// version is this one or later). See [`version_source`](Self::version_source).
    pub version: SqliteVersion,
    /// Where [`version`](Self::version) comes from.
    pub version_source: VersionSource,
    /// Whether the connection was inside a transaction when probed, when the host can tell
    /// (`None`: it refuses `BEGIN`, which is how SQL asks, and its adapter does not say).
    /// Inside one, SQLite ignores `PRAGMA foreign_keys`, so
    /// [`foreign_keys_can_be_off`](Self::foreign_keys_can_be_off) is false unless enforcement
    /// was off already.
    pub in_transaction: Option<bool>,
    /// Foreign-key enforcement was on when probed (and is again afterwards).
    pub foreign_keys: bool,
    /// Enforcement is off, or `PRAGMA foreign_keys = OFF` turns it off (read back: D1 accepts
    /// the statement and ignores it). A rebuild that drops a parent table needs it off; where
    /// it cannot be, `DROP TABLE` fires the children's `ON DELETE` actions.
    pub foreign_keys_can_be_off: bool,
    /// `BEGIN` is accepted (or refused only because a transaction is already open): the
    /// migration can run in a transaction of its own. False on D1 (a `batch()` is the
    /// transaction) and Durable Objects (`transactionSync()` is).
    pub interactive_transactions: bool,
    /// `SAVEPOINT` is accepted (apply's deferred checks and the rename experiment use one).
    pub savepoints: bool,
    /// `CREATE TEMP TABLE` is accepted (refused on Durable Objects).
    pub temp_tables: bool,
    /// `PRAGMA writable_schema = ON` is accepted and an `UPDATE` of `sqlite_schema` then
    /// compiles (`SQLITE_DBCONFIG_DEFENSIVE` or an authorizer stops one or the other). An
    /// online rebuild's prebuilt indexes also need SQLite 3.40+, which reloads the schema on
    /// `writable_schema = RESET`.
    pub writable_schema: bool,
    /// With `PRAGMA legacy_alter_table = ON`, `ALTER TABLE … RENAME TO` leaves other tables'
    /// `REFERENCES` naming the old name — shown by renaming a parent table of the probe's own,
    /// with enforcement off where it can be (SQLite rewrites the references even in legacy
    /// mode while enforcement is on, so this is false on D1 and inside a transaction that has
    /// it on). The experiment runs in the `temp` schema where temp tables are allowed, else in
    /// `main` inside a savepoint that is rolled back; where neither is allowed (Durable
    /// Objects) it cannot run without leaving tables behind, and this is false: not shown.
    pub legacy_alter_table: bool,
}

/// Where [`HostTraits::version`] comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "from", rename_all = "snake_case")]
pub enum VersionSource {
    /// `SELECT sqlite_version()` answered.
    SqliteVersion,
    /// `sqlite_version()` was refused (D1, Durable Objects): the version is the first release
    /// of `feature`, the newest of [`VERSION_MARKERS`] that the host compiles.
    Features { feature: &'static str },
    /// `sqlite_version()` was refused and no marker compiled: the version is 3.0.0, and the
    /// planner uses the oldest forms.
    Unknown,
}

/// A feature of SQLite, the release that introduced it, and a statement that compiles only
/// where it exists (nothing runs: `EXPLAIN`, or a `SELECT` that returns no row).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VersionMarker {
    /// The first release with the feature (SQLite's release history).
    pub since: SqliteVersion,
    /// The feature, as the plan names it.
    pub feature: &'static str,
    /// The statement.
    pub sql: &'static str,
    /// The statement names a table that does not exist: SQLite's "no such table" shows that
    /// it parsed, which is all the marker asks (an `ALTER TABLE` cannot compile without a
    /// table, and the probe creates none in `main`).
    pub parses_on_no_table: bool,
}

/// The version markers, newest first; [`version_by_features`] stops at the first that
/// compiles. They are the releases the planner's choices turn on (3.53 `ALTER COLUMN`, 3.37
/// `ADD COLUMN` checking rows, 3.35 `DROP COLUMN`, 3.33 `UPDATE FROM`, 3.25 `RENAME COLUMN`)
/// and a few between. A feature a host compiled out (JSON) only lowers the floor.
pub const VERSION_MARKERS: &[VersionMarker] = &[
    VersionMarker {
        since: SqliteVersion(3, 53, 0),
        feature: "ALTER TABLE … ALTER COLUMN … SET NOT NULL",
        sql: "EXPLAIN ALTER TABLE \"liteshift probe: absent\" ALTER COLUMN x SET NOT NULL",
        parses_on_no_table: true,
    },
    VersionMarker {
        since: SqliteVersion(3, 44, 0),
        feature: "string_agg()",
        sql: "SELECT string_agg('', ',') WHERE 0",
        parses_on_no_table: false,
    },
    VersionMarker {
        since: SqliteVersion(3, 41, 0),
        feature: "unhex()",
        sql: "SELECT unhex('') WHERE 0",
        parses_on_no_table: false,
    },
    VersionMarker {
        since: SqliteVersion(3, 38, 0),
        feature: "the ->> operator",
        sql: "SELECT '{}' ->> '$.a' WHERE 0",
        parses_on_no_table: false,
    },
    VersionMarker {
        since: SqliteVersion(3, 37, 0),
        feature: "STRICT tables",
        sql: "EXPLAIN CREATE TABLE \"liteshift probe: absent\"(a ANY) STRICT",
        parses_on_no_table: false,
    },
    VersionMarker {
        since: SqliteVersion(3, 35, 0),
        feature: "ALTER TABLE … DROP COLUMN",
        sql: "EXPLAIN ALTER TABLE \"liteshift probe: absent\" DROP COLUMN x",
        parses_on_no_table: true,
    },
    VersionMarker {
        since: SqliteVersion(3, 33, 0),
        feature: "UPDATE … FROM",
        sql: "EXPLAIN UPDATE \"liteshift probe: absent\" SET x = 1 FROM (SELECT 1)",
        parses_on_no_table: true,
    },
    VersionMarker {
        since: SqliteVersion(3, 25, 0),
        feature: "ALTER TABLE … RENAME COLUMN",
        sql: "EXPLAIN ALTER TABLE \"liteshift probe: absent\" RENAME COLUMN x TO y",
        parses_on_no_table: true,
    },
];

/// Probe what `host`'s connection allows. Works inside a transaction too (see
/// [`HostTraits::in_transaction`]). Changes nothing anyone sees afterwards (see the module's
/// invariant). An error means the host failed (busy, corrupt, gone), or a setting could not be
/// put back, which the error names.
pub fn probe(host: &dyn Host) -> Result<HostTraits> {
    let fail = |e: HostError| database_error(host, "probing what the host allows", e);
    let (version, version_source) = version(host).map_err(fail)?;
    let (interactive_transactions, in_transaction) = transactions(host)?;
    let [foreign_keys, legacy_was, writable_was] = read_settings(host).map_err(fail)?;
    let foreign_keys = foreign_keys.ok_or_else(|| Error::Database {
        path: database_path(host),
        message: "the host refuses to read PRAGMA foreign_keys, which liteshift must read to migrate; allow that PRAGMA".into(),
    })?;
    let (foreign_keys_can_be_off, writable_schema, experiment) =
        with_flag(host, "foreign_keys", foreign_keys, false, |accepted| {
            let off = accepted && read_flag(host, "foreign_keys").map_err(fail)? == Some(false);
            let writable = writable_schema(host, writable_was)?;
            Ok((off, writable, rename_experiment(host, legacy_was)?))
        })?;
    Ok(HostTraits {
        version,
        version_source,
        in_transaction,
        foreign_keys,
        foreign_keys_can_be_off,
        interactive_transactions,
        savepoints: experiment.savepoints,
        temp_tables: experiment.temp_tables,
        writable_schema,
        legacy_alter_table: experiment.legacy_alter_table,
    })
}

/// Whether foreign-key enforcement is on and cannot be switched off: `PRAGMA foreign_keys =
/// OFF` is read back (D1 accepts the statement and ignores it), then enforcement is put back.
/// Inside a transaction SQLite ignores the statement on every host, so there the answer is
/// no: the caller's transaction, not the host, keeps it on (apply refuses a plan that needs
/// it off there) — except in a transaction the caller opened for the migration itself
/// ([`Host::caller_transaction`]), which enforcement on does not block: there the answer is
/// yes. A few host calls; the planner asks it on every full plan.
pub fn foreign_keys_enforced(host: &dyn Host) -> Result<bool> {
    let fail = |e: HostError| database_error(host, "asking whether foreign keys can be off", e);
    if read_flag(host, "foreign_keys").map_err(fail)? != Some(true) {
        return Ok(false);
    }
    // The caller's own transaction (transactionSync) is the migration's: enforcement stays on
    // through all of it, so the plan must keep every child row with enforcement on.
    if host.caller_transaction() {
        return Ok(true);
    }
    if host.in_transaction().unwrap_or(false) {
        return Ok(false);
    }
    with_flag(host, "foreign_keys", true, false, |accepted| {
        Ok(!accepted || read_flag(host, "foreign_keys").map_err(fail)? != Some(false))
    })
}

/// The version `sqlite_version()` reports, or where the host refuses it (or answers NULL, as
/// an authorizer's `SQLITE_IGNORE` makes it), the floor its features show.
pub(crate) fn version(host: &dyn Host) -> Result<(SqliteVersion, VersionSource), HostError> {
    match query_value(host, "SELECT sqlite_version()") {
        Ok(v) => {
            if let Some(version) = v.text().as_deref().and_then(SqliteVersion::parse) {
                return Ok((version, VersionSource::SqliteVersion));
            }
        }
        Err(e) if fatal(&e) => return Err(e),
        Err(_) => {}
    }
    version_by_features(host)
}

/// The release that introduced the newest of [`VERSION_MARKERS`] that `host` compiles (one
/// call per marker tried, newest first), or 3.0.0 when none does.
pub fn version_by_features(host: &dyn Host) -> Result<(SqliteVersion, VersionSource), HostError> {
    for marker in VERSION_MARKERS {
        if shows(host, marker)? {
            let source = VersionSource::Features {
                feature: marker.feature,
            };
            return Ok((marker.since, source));
        }
    }
    Ok((SqliteVersion(3, 0, 0), VersionSource::Unknown))
}

/// Whether `host` has `marker`'s feature.
fn shows(host: &dyn Host, marker: &VersionMarker) -> Result<bool, HostError> {
    match host.query(marker.sql) {
        Ok(_) => Ok(true),
        Err(e) if fatal(&e) => Err(e),
        Err(e) => Ok(marker.parses_on_no_table && e.message.contains("no such table")),
    }
}

/// Whether `BEGIN` is accepted, and whether the connection is inside a transaction (when the
/// host can tell). A `BEGIN` that works is rolled back at once.
fn transactions(host: &dyn Host) -> Result<(bool, Option<bool>)> {
    match host.execute("BEGIN") {
        Ok(()) => match host.execute("ROLLBACK") {
            Ok(()) => Ok((true, Some(false))),
            Err(e) => Err(Error::Database {
                path: database_path(host),
                message: format!("probing what the host allows: its BEGIN worked and the ROLLBACK after it failed ({}); roll back the connection's transaction before using it", e.message),
            }),
        },
        // SQLite authorizes BEGIN when it compiles it, and finds the open transaction when
        // it runs it: this BEGIN was allowed.
        Err(e) if e.message.contains("within a transaction") => Ok((true, Some(true))),
        Err(e) if fatal(&e) => Err(database_error(host, "probing what the host allows", e)),
        Err(_) => Ok((false, host.in_transaction().ok())),
    }
}

/// The settings the probe may touch: `foreign_keys`, `legacy_alter_table`, `writable_schema`
/// (each `None` when the host refuses to read it). One query where the host has pragma
/// functions (3.16+) and allows all three, else one by one.
fn read_settings(host: &dyn Host) -> Result<[Option<bool>; 3], HostError> {
    let all =
        "SELECT * FROM pragma_foreign_keys, pragma_legacy_alter_table, pragma_writable_schema";
    match host.query(all) {
        Ok(rows) if rows.first().is_some_and(|r| r.len() == 3) => {
            Ok([0, 1, 2].map(|i| Some(rows[0][i].truth())))
        }
        Err(e) if fatal(&e) => Err(e),
        _ => Ok([
            read_flag(host, "foreign_keys")?,
            read_flag(host, "legacy_alter_table")?,
            read_flag(host, "writable_schema")?,
        ]),
    }
}

/// A flag setting (`PRAGMA name`), or `None` when the host refuses to read it.
fn read_flag(host: &dyn Host, name: &str) -> Result<Option<bool>, HostError> {
    match query_value(host, &format!("PRAGMA {name}")) {
        Ok(Value::Null) => Ok(None),
        Ok(v) => Ok(Some(v.truth())),
        Err(e) if fatal(&e) => Err(e),
        Err(_) => Ok(None),
    }
}

/// Run `f` after `PRAGMA name = want` (when `was` differs), telling it whether the host
/// accepted the statement (accepted is not in effect: `f` checks what it needs), then put
/// `was` back (see [`restore_flag`]), on every path. An error putting it back wins over `f`'s.
fn with_flag<T>(
    host: &dyn Host,
    name: &str,
    was: bool,
    want: bool,
    f: impl FnOnce(bool) -> Result<T>,
) -> Result<T> {
    if was == want {
        return f(true);
    }
    let accepted = accepted(host.execute(&set_flag(name, want)))
        .map_err(|e| database_error(host, "probing what the host allows", e))?;
    if !accepted {
        return f(false);
    }
    let out = f(true);
    restore_flag(host, name, was).and(out)
}

fn set_flag(name: &str, on: bool) -> String {
    format!("PRAGMA {name} = {}", if on { "ON" } else { "OFF" })
}

/// Put a setting back. `foreign_keys` is read back: SQLite ignores it inside a transaction,
/// and a savepoint the probe could not release would leave it changed.
fn restore_flag(host: &dyn Host, name: &str, was: bool) -> Result<()> {
    let sql = set_flag(name, was);
    let back = host.execute(&sql).and_then(|()| {
        if name != "foreign_keys" {
            return Ok(true);
        }
        Ok(read_flag(host, name)? == Some(was))
    });
    match back {
        Ok(true) => Ok(()),
        Ok(false) => Err(Error::Database {
            path: database_path(host),
            message: format!("probing what the host allows changed PRAGMA {name}, and `{sql}` did not put it back (is a transaction still open? the probe's savepoint is `liteshift_probe`); roll back any open transaction and run `{sql}` before using this connection"),
        }),
        Err(e) => Err(database_error(
            host,
            &format!("probing what the host allows changed PRAGMA {name}, and `{sql}` failed; run it before using this connection"),
            e,
        )),
    }
}

/// Whether the connection may edit `sqlite_schema` (`was`: `PRAGMA writable_schema`, `None`
/// when the host refuses to read it, which is a no). Nothing is written.
fn writable_schema(host: &dyn Host, was: Option<bool>) -> Result<bool> {
    let Some(was) = was else {
        return Ok(false);
    };
    with_flag(host, "writable_schema", was, true, |accepted| {
        let update = host
            .query("EXPLAIN UPDATE sqlite_master SET name = name WHERE 0")
            .map(drop);
        Ok(accepted && probe_accepted(host, update)?)
    })
}

/// Whether an online rebuild may edit `sqlite_schema` on `host`'s connection now: as
/// [`HostTraits::writable_schema`], but no when the setting is already on (someone else's edit
/// in progress: leave it alone) or the host fails.
pub(crate) fn schema_editable(host: &dyn Host) -> bool {
    match read_flag(host, "writable_schema") {
        Ok(Some(false)) => writable_schema(host, Some(false)).unwrap_or(false),
        _ => false,
    }
}

/// What the rename experiment found.
struct Experiment {
    savepoints: bool,
    temp_tables: bool,
    legacy_alter_table: bool,
}

const SAVEPOINT: &str = "liteshift_probe";
const PARENT: &str = "_liteshift_probe_parent";
const CHILD: &str = "_liteshift_probe_child";
const RENAMED: &str = "_liteshift_probe_renamed";

/// Whether savepoints and temp tables are allowed, and whether `legacy_alter_table` keeps a
/// rename from rewriting a child's `REFERENCES` (`legacy_was`: its setting, `None` when the
/// host refuses to read it, which is a no). Inside a savepoint where there are savepoints,
/// rolled back; the temp tables are also dropped where there are none.
fn rename_experiment(host: &dyn Host, legacy_was: Option<bool>) -> Result<Experiment> {
    let savepoints = probe_accepted(host, host.execute(&format!("SAVEPOINT {SAVEPOINT}")))?;
    let inside = in_experiment(host, savepoints, legacy_was);
    let cleanup = if savepoints {
        format!("ROLLBACK TO {SAVEPOINT}; RELEASE {SAVEPOINT}")
    } else {
        format!("DROP TABLE IF EXISTS temp.{CHILD}; DROP TABLE IF EXISTS temp.{RENAMED}; DROP TABLE IF EXISTS temp.{PARENT}")
    };
    let cleaned = host.execute_script(&cleanup).map_err(|e| {
        database_error(
            host,
            &format!("probing what the host allows could not remove its experiment (`{cleanup}`); run it before using this connection"),
            e,
        )
    });
    let (temp_tables, legacy_alter_table) = cleaned.and(inside)?;
    Ok(Experiment {
        savepoints,
        temp_tables,
        legacy_alter_table,
    })
}

/// The experiment's tables and rename: whether temp tables are allowed, and what the rename
/// showed. Leaves its tables for the caller to remove.
fn in_experiment(
    host: &dyn Host,
    savepoints: bool,
    legacy_was: Option<bool>,
) -> Result<(bool, bool)> {
    let temp_tables = probe_accepted(host, host.execute_script(&tables_sql("temp")))?;
    let schema = if temp_tables {
        "temp"
    } else if savepoints && probe_accepted(host, host.execute_script(&tables_sql("main")))? {
        "main"
    } else {
        return Ok((temp_tables, false));
    };
    let Some(legacy_was) = legacy_was else {
        return Ok((temp_tables, false));
    };
    let legacy = with_flag(host, "legacy_alter_table", legacy_was, true, |accepted| {
        Ok(accepted && rename_keeps_references(host, schema)?)
    })?;
    Ok((temp_tables, legacy))
}

/// The experiment's parent and child tables in `schema`. Temp ones are made with `TEMP`,
/// which an authorizer sees as `SQLITE_CREATE_TEMP_TABLE` (`CREATE TABLE temp.x` is
/// authorized as an ordinary `SQLITE_CREATE_TABLE`).
fn tables_sql(schema: &str) -> String {
    let create = if schema == "temp" {
        "CREATE TEMP TABLE "
    } else {
        "CREATE TABLE main."
    };
    format!(
        "{create}{PARENT}(id INTEGER PRIMARY KEY);\n{create}{CHILD}(parent_id INTEGER REFERENCES {PARENT}(id))"
    )
}

/// Rename the experiment's parent table, and say whether its child still names the old name.
fn rename_keeps_references(host: &dyn Host, schema: &str) -> Result<bool> {
    let rename = format!("ALTER TABLE {schema}.{PARENT} RENAME TO {RENAMED}");
    if !probe_accepted(host, host.execute(&rename))? {
        return Ok(false);
    }
    let child = format!("SELECT sql FROM {schema}.sqlite_master WHERE name = '{CHILD}'");
    let sql = match query_value(host, &child) {
        Ok(v) => v.text().unwrap_or_default(),
        Err(e) if fatal(&e) => return Err(database_error(host, "probing what the host allows", e)),
        Err(_) => return Ok(false), // not shown
    };
    Ok(sql.contains(PARENT) && !sql.contains(RENAMED))
}

/// [`accepted`], its error a [`Error::Database`].
fn probe_accepted(host: &dyn Host, r: Result<(), HostError>) -> Result<bool> {
    accepted(r).map_err(|e| database_error(host, "probing what the host allows", e))
}

/// Whether the host ran a statement: a refusal (or any error that says something about the
/// statement) is `false`; a failure of the host itself is an error.
fn accepted(r: Result<(), HostError>) -> Result<bool, HostError> {
    match r {
        Ok(()) => Ok(true),
        Err(e) if fatal(&e) => Err(e),
        Err(_) => Ok(false),
    }
}

/// Errors that say nothing about what the host allows: the database is busy, damaged or gone.
fn fatal(e: &HostError) -> bool {
    matches!(
        e.kind(),
        ErrorKind::Busy
            | ErrorKind::Corrupt
            | ErrorKind::IoErr
            | ErrorKind::Full
            | ErrorKind::CannotOpen
            | ErrorKind::NotADatabase
    )
}

fn database_error(host: &dyn Host, doing: &str, e: HostError) -> Error {
    match crate::error::database_error(host, e) {
        Error::Database { path, message } => Error::Database {
            path,
            message: format!("{doing}: {message}"),
        },
        other => other,
    }
}

impl std::fmt::Display for HostTraits {
    /// The traits as the plan shows them, one line each.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.version_source {
            VersionSource::SqliteVersion => writeln!(f, "SQLite {}", self.version)?,
            VersionSource::Features { feature } => writeln!(
                f,
                "SQLite {} or later (sqlite_version() refused; the newest feature found: {feature})",
                self.version
            )?,
            VersionSource::Unknown => writeln!(
                f,
                "SQLite version unknown (sqlite_version() refused, and no feature of 3.25+ found)"
            )?,
        }
        let enforcement = match (self.foreign_keys, self.foreign_keys_can_be_off) {
            (false, _) => "off",
            (true, true) => "on, can be switched off",
            (true, false) if self.in_transaction == Some(true) => {
                "on, cannot be switched off inside a transaction"
            }
            (true, false) => "on, cannot be switched off",
        };
        writeln!(f, "foreign-key enforcement: {enforcement}")?;
        let yes_no = |b: bool| if b { "yes" } else { "no" };
        writeln!(
            f,
            "BEGIN: {}; SAVEPOINT: {}; temp tables: {}",
            yes_no(self.interactive_transactions),
            yes_no(self.savepoints),
            yes_no(self.temp_tables)
        )?;
        write!(
            f,
            "writable_schema: {}; legacy_alter_table keeps references on rename: {}",
            yes_no(self.writable_schema),
            yes_no(self.legacy_alter_table)
        )
    }
}

#[cfg(all(test, feature = "rusqlite"))]
mod tests {
    use super::*;
    use rusqlite::Connection;

    #[test]
    fn every_marker_compiles_on_the_bundled_sqlite() {
        let conn = Connection::open_in_memory().unwrap();
        for m in VERSION_MARKERS {
            assert!(shows(&conn, m).unwrap(), "{}: {}", m.feature, m.sql);
        }
        assert!(VERSION_MARKERS.windows(2).all(|w| w[0].since > w[1].since));
    }

    #[test]
    fn a_marker_for_an_absent_feature_does_not_show() {
        let conn = Connection::open_in_memory().unwrap();
        let absent = VersionMarker {
            since: SqliteVersion(9, 0, 0),
            feature: "ALTER TABLE … FROBNICATE",
            sql: "EXPLAIN ALTER TABLE \"liteshift probe: absent\" FROBNICATE",
            parses_on_no_table: true,
        };
        assert!(!shows(&conn, &absent).unwrap());
    }

    #[test]
    fn an_ordinary_connection_allows_everything() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("PRAGMA foreign_keys = ON").unwrap();
        let t = probe(&conn).unwrap();
        assert_eq!(t.version, SqliteVersion::bundled());
        assert_eq!(t.version_source, VersionSource::SqliteVersion);
        assert_eq!(t.in_transaction, Some(false));
        assert!(t.foreign_keys && t.foreign_keys_can_be_off);
        assert!(t.interactive_transactions && t.savepoints && t.temp_tables);
        assert!(t.writable_schema && t.legacy_alter_table);
        assert!(conn.is_autocommit());
    }
}
