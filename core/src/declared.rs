//! Load a declared schema (plain SQL) into a scratch database of the host's SQLite, so that
//! the SQLite that will run the migration validates it, then introspect it like any database.
//!
//! Architecture invariant: the declared text reaches SQLite only here, and only into a
//! scratch database (never the user's). Loading takes a constant number of host calls when
//! the schema is valid (the statements run as one script); only an invalid schema is replayed
//! statement by statement, on a fresh scratch database, to say where it is wrong.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use crate::diff::Hints;
use crate::error::{Error, Result};
use crate::host::{Host, HostError, Value};
use crate::introspect::{host_version, introspect_at};
use crate::model::Schema;
use crate::share::{platform_of, Ignore};
use crate::sqltext::{ident_key, line_col, quote_ident};
use crate::version::SqliteVersion;

/// A declared schema: the objects it creates and the rename hints its annotations carry.
#[derive(Debug, Clone)]
pub struct Declared {
    pub schema: Schema,
    pub hints: Hints,
    /// Name patterns of objects that are not the schema's: the schema's `-- liteshift:ignore`
    /// annotations and the caller's (GLOB patterns, ignoring case).
    pub ignore: Vec<String>,
    /// Problems tolerated because the caller asked (dangling foreign keys).
    pub warnings: Vec<String>,
}

/// How a declared schema is loaded.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// A foreign key to an undeclared table or column (or one whose parent columns are not
    /// the parent's key) is an error. By default it is a warning, as SQLite accepts it.
    pub deny_dangling_fks: bool,
    /// A virtual table whose module this SQLite lacks is modelled with a stand-in (the
    /// migration runs on a host that has the module), not an error. Only for liteshift's own
    /// SQLite (the host-less entry points); a host's scratch database has the host's modules.
    pub host_modules: bool,
    /// Name patterns of objects that are not the schema's (`--ignore`): declaring one is an
    /// error, and a foreign key to one is not dangling.
    pub ignore: Vec<String>,
}

/// Load declared SQL into liteshift's own SQLite. `source_name` names the input in error
/// messages (a file path). A foreign key to an undeclared table or column is accepted, as
/// SQLite accepts it, with a warning naming it (see [`LoadOptions::deny_dangling_fks`]).
#[cfg(feature = "rusqlite")]
pub fn load_declared(sql: &str, source_name: &str) -> Result<Declared> {
    load_declared_opts(sql, source_name, LoadOptions::default())
}

/// Load declared SQL into liteshift's own SQLite, with explicit [`LoadOptions`].
#[cfg(feature = "rusqlite")]
pub fn load_declared_opts(sql: &str, source_name: &str, opts: LoadOptions) -> Result<Declared> {
    load_declared_on(
        &*crate::host::own_scratch(opts.host_modules)?,
        sql,
        source_name,
        opts,
    )
}

/// Load declared SQL into `scratch`, a fresh in-memory database of the host's SQLite (see
/// [`Host::scratch`]): that SQLite validates it, and the schema is read back from it.
pub fn load_declared_on(
    scratch: &dyn Host,
    sql: &str,
    source_name: &str,
    opts: LoadOptions,
) -> Result<Declared> {
    let Annotations { hints, ignore } = parse_annotations(sql, source_name)?;
    let ignore: Vec<String> = ignore.into_iter().chain(opts.ignore).collect();
    let not_ours = Ignore::new(ignore.iter().map(String::as_str))?;
    let (statements, _) = read_statements(sql, source_name);
    for st in &statements {
        if let Some(why) = not_the_schemas(&not_ours, &st.name) {
            return Err(schema_error(sql, source_name, st.range.start, why));
        }
    }
    let version = host_version(scratch)?;
    let created_at = load_into(scratch, sql, source_name)?;
    let mut warnings = Vec::new();
    let dangling =
        dangling_foreign_keys(scratch, version, sql, source_name, &created_at, &|parent| {
            platform_of(parent).is_some() || not_ours.matching(parent).is_some()
        })?;
    if opts.deny_dangling_fks {
        if let Some(first) = dangling.into_iter().next() {
            return Err(first);
        }
    } else {
        warnings.extend(dangling.iter().map(dangling_warning));
    }
    let mut schema = introspect_at(scratch, version)?;
    if let Some((name, at)) = created_at
        .iter()
        .find(|(k, _)| !k.is_empty() && !schema.has_object(k))
    {
        // `IF NOT EXISTS` met an object SQLite made itself (a virtual table's shadow table).
        return Err(schema_error(sql, source_name, *at, format!("duplicate object name `{name}`: an object of that name already exists (IF NOT EXISTS hid the clash); every object needs a unique name")));
    }
    schema.rewritten_by_alter = rewritten_by_alter(scratch, &schema);
    if schema.object_count() == 0 {
        return Err(Error::Schema {
            source_name: source_name.to_string(),
            line: 1,
            column: 1,
            message: "the declared schema creates no objects; applying it would drop every table. Declare at least one CREATE statement".into(),
        });
    }
    Ok(Declared {
        schema,
        hints,
        ignore,
        warnings,
    })
}

/// Why a declared object named `name` cannot be declared: a platform owns the name, or an
/// ignore pattern matches it.
fn not_the_schemas(ignore: &Ignore, name: &str) -> Option<String> {
    if name.is_empty() {
        return None;
    }
    if let Some(platform) = platform_of(name) {
        return Some(format!("`{name}` is a name {platform} uses for its own objects, which liteshift never touches; rename the object"));
    }
    ignore.matching(name).map(|p| format!("`{name}` matches the ignore pattern `{p}`, so it is not the schema's; remove the pattern or rename the object"))
}

/// A dangling foreign key accepted as a warning.
pub(crate) fn dangling_warning(e: &Error) -> String {
    format!("{e} (accepted, as SQLite accepts it; --deny-dangling-foreign-keys makes it an error)")
}

/// The objects whose stored text SQLite rewrites when any `ALTER TABLE … RENAME COLUMN` or
/// `DROP COLUMN` runs in the database: SQLite then turns the double-quoted string literals of
/// every CHECK, generated column, index expression, view and trigger into single-quoted ones.
/// Found by doing both on a probe table in the loaded declared schema and seeing which texts
/// change (this SQLite's own rule, which differs between versions). When the probe cannot run,
/// every object with a double-quoted token is assumed to be rewritten. Leaves the probe's
/// rewrites in `scratch`, which must not be introspected afterwards.
fn rewritten_by_alter(scratch: &dyn Host, schema: &Schema) -> BTreeSet<String> {
    let stored = || -> std::result::Result<BTreeMap<String, String>, HostError> {
        Ok(scratch
            .query("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL")?
            .into_iter()
            .map(|r| {
                let text = |i: usize| r.get(i).and_then(Value::text).unwrap_or_default();
                (text(0).to_ascii_lowercase(), text(1))
            })
            .collect())
    };
    // A double-quoted literal needs a double quote: without one, nothing is rewritten.
    let texts = || {
        let tables = schema.tables.iter().map(|(k, t)| (k, &t.sql));
        tables
            .chain(schema.indexes.iter().map(|(k, i)| (k, &i.sql)))
            .chain(schema.views.iter().map(|(k, v)| (k, &v.sql)))
            .chain(schema.triggers.iter().map(|(k, t)| (k, &t.sql)))
            .filter(|(_, sql)| sql.contains('"'))
            .map(|(k, _)| k.clone())
    };
    if texts().next().is_none() {
        return BTreeSet::new();
    }
    let probe = "\"_liteshift_quote_probe\"";
    let probed = stored().and_then(|before| {
        scratch.execute_script(&format!(
            "CREATE TABLE {probe}(a, b, c); ALTER TABLE {probe} RENAME COLUMN a TO d; ALTER TABLE {probe} DROP COLUMN b; DROP TABLE {probe}"
        ))?;
        let after = stored()?;
        Ok(before
            .into_iter()
            .filter(|(k, sql)| after.get(k) != Some(sql))
            .map(|(k, _)| k)
            .collect())
    });
    probed.unwrap_or_else(|_| texts().collect())
}

fn schema_error(sql: &str, source_name: &str, offset: usize, message: String) -> Error {
    let (line, column) = line_col(sql, offset);
    Error::Schema {
        source_name: source_name.to_string(),
        line,
        column,
        message,
    }
}

/// A declared statement: where it is, and the name of the object it creates.
pub(crate) struct Statement {
    pub(crate) range: Range<usize>,
    pub(crate) name: String,
}

/// Split `sql` into statements, and check what needs no SQLite: each is a `CREATE` of a
/// non-TEMP object whose name no earlier statement used. The statements before the first
/// that fails, and that failure.
pub(crate) fn read_statements(sql: &str, source_name: &str) -> (Vec<Statement>, Option<Error>) {
    let mut out: Vec<Statement> = Vec::new();
    let mut seen: BTreeSet<String> = BTreeSet::new();
    for range in crate::sqltext::split_statements(sql) {
        let text = &sql[range.clone()];
        let start = range.start;
        let Some(tokens) = crate::sqltext::tokens(text) else {
            // Text the tokenizer cannot read (an unterminated literal): SQLite says what is wrong.
            out.push(Statement {
                range,
                name: String::new(),
            });
            continue;
        };
        let words: Vec<String> = tokens
            .iter()
            .take(8)
            .map(|(_, r)| text[r.clone()].to_ascii_uppercase())
            .collect();
        let fail = |message: String| Some(schema_error(sql, source_name, start, message));
        if words.first().map(String::as_str) != Some("CREATE") {
            let first: String = text.chars().take(40).collect();
            let message = format!(
                "only CREATE TABLE/INDEX/VIEW/TRIGGER statements belong in a declared schema, found `{}`; move data changes and PRAGMAs elsewhere",
                first.split_whitespace().collect::<Vec<_>>().join(" ")
            );
            return (out, fail(message));
        }
        if matches!(words.get(1).map(String::as_str), Some("TEMP" | "TEMPORARY")) {
            let message = "TEMP objects live only as long as a connection and are not part of a database file's schema; remove TEMP".to_string();
            return (out, fail(message));
        }
        let name = crate::sqltext::create_name_range(text)
            .map(|r| ident_key(&text[r]))
            .unwrap_or_default();
        // Without IF NOT EXISTS, SQLite itself says the name is taken.
        let hidden = words.windows(3).any(|w| w == ["IF", "NOT", "EXISTS"]);
        if !name.is_empty() && !seen.insert(name.clone()) && hidden {
            let message = format!("duplicate object name `{name}`: it is already declared earlier (IF NOT EXISTS hid the clash); every object needs a unique name");
            return (out, fail(message));
        }
        out.push(Statement { range, name });
    }
    (out, None)
}

/// Run every statement of `sql` on `scratch`, accepting only CREATE statements. Returns the
/// byte offset of the statement that created each object (by name key).
pub(crate) fn load_into(
    scratch: &dyn Host,
    sql: &str,
    source_name: &str,
) -> Result<BTreeMap<String, usize>> {
    let (statements, static_error) = read_statements(sql, source_name);
    let script: Vec<&str> = statements.iter().map(|s| &sql[s.range.clone()]).collect();
    if let Err(e) = scratch.execute_script(&script.join(";\n")) {
        return Err(locate_failure(scratch, sql, source_name, &statements, e));
    }
    if let Some(e) = static_error {
        return Err(e);
    }
    Ok(statements
        .into_iter()
        .map(|s| (s.name, s.range.start))
        .collect())
}

/// The schema error for a script that failed: replayed statement by statement on a fresh
/// scratch database, the first statement that fails, with SQLite's message and position.
fn locate_failure(
    scratch: &dyn Host,
    sql: &str,
    source_name: &str,
    statements: &[Statement],
    script_error: HostError,
) -> Error {
    let failed = scratch.scratch().ok().and_then(|fresh| {
        statements.iter().find_map(|s| {
            let text = &sql[s.range.clone()];
            fresh
                .execute(text)
                .err()
                .map(|e| (s.range.start + e.offset.unwrap_or(0).min(text.len()), e))
        })
    });
    let (at, e) = failed.unwrap_or((
        statements.first().map(|s| s.range.start).unwrap_or(0),
        script_error,
    ));
    schema_error(sql, source_name, at, explained(e.message))
}

/// SQLite's terse words for input past its limits, with what they mean.
fn explained(message: String) -> String {
    if message == "Recursion limit" {
        format!("{message}: the statement nests too deeply for SQLite's parser (an expression nested hundreds of levels deep); flatten it")
    } else if message.starts_with("Expression tree is too large") {
        format!("{message}: an expression nested too deeply; flatten it")
    } else {
        message
    }
}

/// One foreign key of the declared schema and what SQLite knows of its parent.
struct DeclaredFk {
    child: String,
    parent: String,
    from: String,
    to: Option<String>,
    parent_exists: bool,
    column_exists: bool,
}

/// Every foreign key in the scratch database: one query where the host's SQLite has
/// table-valued pragma functions (3.16), one per table before.
fn declared_fks(scratch: &dyn Host, version: SqliteVersion) -> Result<Vec<DeclaredFk>> {
    let row = |child: String, r: &[Value]| {
        let text = |i: usize| r.get(i).and_then(Value::text);
        DeclaredFk {
            child,
            parent: text(0).unwrap_or_default(),
            from: text(1).unwrap_or_default(),
            to: text(2),
            parent_exists: r.get(3).is_none_or(Value::truth),
            column_exists: r.get(4).is_none_or(Value::truth),
        }
    };
    if version >= SqliteVersion(3, 16, 0) {
        let xinfo = if version >= SqliteVersion(3, 26, 0) {
            "table_xinfo"
        } else {
            "table_info"
        };
        // The parents' names in one list (an `IN` lookup each): an `EXISTS` over the catalog
        // per foreign key made this quadratic in the number of tables.
        let rows = scratch.query(&format!(
            "WITH t(n) AS (SELECT lower(name) FROM sqlite_master WHERE type = 'table') \
             SELECT m.name, f.\"table\", f.\"from\", f.\"to\", \
             lower(f.\"table\") IN t, \
             f.\"to\" IS NULL OR EXISTS (SELECT 1 FROM pragma_{xinfo}(f.\"table\") c WHERE c.name = f.\"to\" COLLATE NOCASE) \
             FROM sqlite_master m, pragma_foreign_key_list(m.name) f WHERE m.type = 'table' AND {} ORDER BY m.rowid, f.id, f.seq",
            // A platform's tables are not the schema's, and some cannot be read (Durable
            // Objects' `_cf_KV`: not even its pragmas).
            crate::share::not_platform_sql("m.name")
        ))?;
        return Ok(rows
            .into_iter()
            .map(|r| row(r[0].text().unwrap_or_default(), &r[1..]))
            .collect());
    }
    // Old SQLite: a PRAGMA per table; parents and their columns from the same reads.
    let tables: Vec<String> = scratch
        .query("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY rowid")?
        .into_iter()
        .filter_map(|r| r.first().and_then(Value::text))
        .filter(|t| platform_of(t).is_none())
        .collect();
    let mut columns: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for t in &tables {
        let cols = scratch.query(&format!("PRAGMA table_info({})", quote_ident(t)))?;
        columns.insert(
            t.to_ascii_lowercase(),
            cols.iter()
                .filter_map(|c| c.get(1).and_then(Value::text))
                .map(|c| c.to_ascii_lowercase())
                .collect(),
        );
    }
    let mut out = Vec::new();
    for t in &tables {
        // id, seq, table, from, to, on_update, on_delete, match
        for r in scratch.query(&format!("PRAGMA foreign_key_list({})", quote_ident(t)))? {
            let mut fk = row(t.clone(), &r[2..5]);
            let parent = columns.get(&fk.parent.to_ascii_lowercase());
            fk.parent_exists = parent.is_some();
            fk.column_exists = match (&fk.to, parent) {
                (None, _) => true,
                (Some(to), Some(cols)) => cols.contains(&to.to_ascii_lowercase()),
                (Some(_), None) => false,
            };
            out.push(fk);
        }
    }
    Ok(out)
}

/// The declared foreign keys that cannot work: to an undeclared table, to a missing column,
/// or to parent columns that are not the parent's PRIMARY KEY or UNIQUE ("foreign key
/// mismatch": with enforcement on, every write to the child fails). SQLite accepts all of
/// these, so the caller decides whether they are warnings or an error. One per foreign key.
pub(crate) fn dangling_foreign_keys(
    scratch: &dyn Host,
    version: SqliteVersion,
    sql: &str,
    source_name: &str,
    created_at: &BTreeMap<String, usize>,
    not_ours: &dyn Fn(&str) -> bool,
) -> Result<Vec<Error>> {
    let fks = declared_fks(scratch, version)?;
    let at = |child: &str| {
        created_at
            .get(&child.to_ascii_lowercase())
            .copied()
            .unwrap_or(0)
    };
    let mut out = Vec::new();
    let mut reported = BTreeSet::new();
    let mut children = Vec::new();
    for fk in fks {
        let DeclaredFk {
            child,
            parent,
            from,
            to,
            ..
        } = &fk;
        if !children.contains(child) {
            children.push(child.clone());
        }
        let message = if !fk.parent_exists && not_ours(parent) {
            continue; // a table the schema leaves alone (ignored, or a platform's)
        } else if !fk.parent_exists {
            format!("foreign key {child}.{from} references table `{parent}`, which the schema does not declare; declare it or remove the REFERENCES clause")
        } else if !fk.column_exists {
            let to = to.clone().unwrap_or_default();
            format!("foreign key {child}.{from} references column {parent}.{to}, which does not exist; declare it or fix the REFERENCES clause")
        } else {
            continue;
        };
        reported.insert(child.to_ascii_lowercase());
        out.push(schema_error(sql, source_name, at(child), message));
    }
    // Parent columns that exist but are not a key: foreign_key_check fails on the child table
    // ("foreign key mismatch") even when it is empty. SQLite finds that while compiling the
    // check, so `EXPLAIN` asks without running it (the fast path asks the app's database,
    // whose rows must not be scanned at start-up). One question for the whole database says
    // whether any fails; only then is each child asked.
    let others: Vec<&String> = children
        .iter()
        .filter(|c| !reported.contains(&c.to_ascii_lowercase()))
        .collect();
    if others.is_empty()
        || (reported.is_empty() && scratch.query("EXPLAIN PRAGMA foreign_key_check").is_ok())
    {
        return Ok(out);
    }
    for child in others {
        let check = format!("EXPLAIN PRAGMA foreign_key_check({})", quote_ident(child));
        if let Err(e) = scratch.query(&check) {
            out.push(schema_error(
                sql,
                source_name,
                at(child),
                format!(
                    "{}: a foreign key's parent columns must be the parent's PRIMARY KEY or have a UNIQUE index",
                    e.message
                ),
            ));
        }
    }
    Ok(out)
}

/// What a declared schema's `-- liteshift:` annotations say.
#[derive(Debug, Clone, Default)]
pub struct Annotations {
    pub hints: Hints,
    /// `-- liteshift:ignore GLOB`: name patterns of objects that are not the schema's.
    pub ignore: Vec<String>,
}

/// Parse `-- liteshift:rename-table old=new`, `-- liteshift:rename-column table.old=new`,
/// `-- liteshift:value table.column = EXPR` and `-- liteshift:ignore GLOB`.
pub fn parse_annotations(sql: &str, source_name: &str) -> Result<Annotations> {
    let mut hints = Hints::default();
    let mut ignore = Vec::new();
    let mut offset = 0;
    for line in sql.split_inclusive('\n') {
        let trimmed = line.trim_start();
        if let Some(rest) = trimmed.strip_prefix("--") {
            let rest = rest.trim();
            if let Some(directive) = rest.strip_prefix("liteshift:") {
                let col = offset + (line.len() - trimmed.len());
                let directive = directive.trim();
                let (verb, arg) = directive
                    .split_once(char::is_whitespace)
                    .map(|(a, b)| (a, b.trim()))
                    .unwrap_or((directive, ""));
                let res = match verb {
                    "rename-table" => hints.add_table_rename(arg),
                    "rename-column" => hints.add_column_rename(arg),
                    "value" => hints.add_value_at(arg, Some(line_col(sql, col))),
                    "ignore" => add_ignore(&mut ignore, arg),
                    _ => Err(format!(
                        "unknown liteshift annotation `{verb}`; known: rename-table old=new, rename-column table.old=new, value table.column = EXPR, ignore GLOB"
                    )),
                };
                if let Err(m) = res {
                    return Err(schema_error(sql, source_name, col, m));
                }
            }
        }
        offset += line.len();
    }
    Ok(Annotations { hints, ignore })
}

/// `-- liteshift:ignore GLOB`: one pattern, checked as the options' are.
fn add_ignore(ignore: &mut Vec<String>, arg: &str) -> std::result::Result<(), String> {
    if arg.is_empty() || arg.contains(char::is_whitespace) {
        return Err(format!("bad ignore pattern `{arg}`: expected one GLOB pattern of object names, e.g. `-- liteshift:ignore _sqlx_*`"));
    }
    Ignore::new([arg]).map_err(|e| e.to_string())?;
    ignore.push(arg.to_string());
    Ok(())
}

/// One row of `SELECT type, name, tbl_name, sql FROM sqlite_schema` read on another host (a
/// browser's SQLite, say).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CatalogRow {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub tbl_name: String,
    pub sql: Option<String>,
}

/// Rebuild a host's schema from its catalog rows: replay the `CREATE` statements into a
/// pristine in-memory SQLite (tables first, then indexes, views — to a fixed point, since views
/// may use views — and triggers) and introspect it like any database. Internal objects
/// (`sqlite_%`, autoindexes) and tables a virtual table already created (its shadow tables)
/// are skipped. The rows come from a host that has every module its virtual tables use, so
/// a module this SQLite lacks is modelled with a stand-in (see `hostmod`).
#[cfg(feature = "rusqlite")]
pub fn load_catalog(rows: &[CatalogRow]) -> Result<Schema> {
    load_catalog_on(&*crate::host::own_scratch(true)?, rows)
}

/// [`load_catalog`] into `scratch`, a fresh in-memory database.
pub fn load_catalog_on(scratch: &dyn Host, rows: &[CatalogRow]) -> Result<Schema> {
    let exists = |name: &str| -> Result<bool> {
        let n = crate::host::query_value(
            scratch,
            &format!(
                "SELECT count(*) FROM sqlite_master WHERE name = {} COLLATE NOCASE",
                crate::sqltext::quote_str(name)
            ),
        )?;
        Ok(n.int().unwrap_or(0) > 0)
    };
    let run = |r: &CatalogRow| -> Result<()> {
        let sql = r.sql.as_deref().unwrap_or_default();
        scratch.execute(sql).map_err(|e| Error::Schema {
            source_name: "<catalog>".into(),
            line: 1,
            column: 1,
            message: format!("{} {}: {e}", r.kind, r.name),
        })
    };
    let user: Vec<&CatalogRow> = rows
        .iter()
        .filter(|r| r.sql.is_some() && !r.name.to_ascii_lowercase().starts_with("sqlite_"))
        .collect();
    let of = |k: &str| {
        user.iter()
            .copied()
            .filter(|r| r.kind == k)
            .collect::<Vec<_>>()
    };
    // Virtual tables first, so their shadow tables exist and are skipped below.
    let (virt, plain): (Vec<&CatalogRow>, Vec<&CatalogRow>) = of("table")
        .into_iter()
        .partition(|r| crate::introspect::virtual_module(r.sql.as_deref().unwrap_or("")).is_some());
    for r in virt.into_iter().chain(plain) {
        if !exists(&r.name)? {
            run(r)?;
        }
    }
    for r in of("index") {
        run(r)?;
    }
    let mut pending = of("view");
    while !pending.is_empty() {
        let before = pending.len();
        let mut next = Vec::new();
        let mut last_err = None;
        for r in pending {
            match run(r) {
                Ok(()) => {}
                Err(e) => {
                    last_err = Some(e);
                    next.push(r);
                }
            }
        }
        if next.len() == before {
            return Err(last_err.expect("a failed view"));
        }
        pending = next;
    }
    for r in of("trigger") {
        run(r)?;
    }
    crate::introspect::introspect(scratch)
}

#[cfg(all(test, feature = "rusqlite"))]
mod tests {
    use super::*;
    use crate::introspect::introspect;
    use rusqlite::Connection;

    #[test]
    fn catalog_replay_equals_the_database_it_came_from() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE a(id INTEGER PRIMARY KEY, x TEXT UNIQUE);
             CREATE VIEW v2 AS SELECT * FROM v1;
             CREATE TABLE late(y);
             CREATE VIEW v1 AS SELECT x FROM a;
             CREATE INDEX ax ON a(x);
             CREATE TRIGGER t AFTER INSERT ON a BEGIN SELECT 1; END;
             CREATE VIRTUAL TABLE f USING fts5(body);",
        )
        .unwrap_or_else(|_| {
            // older SQLite refuses a view over a missing view; create in dependency order
            conn.execute_batch(
                "CREATE VIEW v1 AS SELECT x FROM a; CREATE VIEW v2 AS SELECT * FROM v1;",
            )
            .unwrap();
        });
        let rows: Vec<CatalogRow> = conn
            .prepare("SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY rowid")
            .unwrap()
            .query_map([], |r| {
                Ok(CatalogRow {
                    kind: r.get(0)?,
                    name: r.get(1)?,
                    tbl_name: r.get(2)?,
                    sql: r.get(3)?,
                })
            })
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        let replayed = load_catalog(&rows).unwrap();
        let live = introspect(&conn).unwrap();
        assert_eq!(replayed.fingerprint(), live.fingerprint());
        assert!(replayed.tables.contains_key("f"));
        assert!(!replayed.tables.contains_key("f_data"));
    }
}
