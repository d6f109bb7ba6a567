//! Stand-ins for virtual-table modules that the host has and this SQLite lacks.
//!
//! A schema can only be modelled by creating it in a real SQLite, and `CREATE VIRTUAL TABLE`
//! needs its module. When the migration runs somewhere else — a browser page's sql.js or
//! official sqlite-wasm build, with FTS3/4/5 or R*Tree compiled in — liteshift's own SQLite
//! may lack the module. With [`crate::Options::host_modules`] (and always for catalog rows,
//! which another host produced), a missing module is registered as a stand-in: it declares the
//! columns its arguments name and holds no rows.
//!
//! Architecture invariant: a stand-in never changes what the diff sees. Virtual tables are
//! compared by their normalised `CREATE` text, and their shadow tables are never user tables;
//! the stand-in only lets the `CREATE` statement, and views and triggers over it, exist in
//! the model. It is never registered on a connection that holds data.

use std::borrow::Cow;
use std::ffi::{CStr, CString};
use std::os::raw::c_int;

use rusqlite::vtab::{
    sqlite3_vtab, sqlite3_vtab_cursor, Context, CreateVTab, Filters, IndexInfo, Module, VTab,
    VTabConnection, VTabCursor, VTabKind,
};
use rusqlite::{Connection, Error};

/// The module `CREATE VIRTUAL TABLE` failed on, from SQLite's `no such module: X` message.
pub(crate) fn missing_module(e: &Error) -> Option<String> {
    let msg = match e {
        Error::SqliteFailure(_, Some(m)) => m.as_str(),
        Error::SqlInputError { msg, .. } => msg.as_str(),
        _ => return None,
    };
    msg.strip_prefix("no such module: ").map(str::to_string)
}

/// Run `sql` (one statement) on a modelling connection; when it fails for a missing
/// virtual-table module, register a stand-in for that module and run it again.
pub(crate) fn execute_with_stand_ins(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    match conn.execute_batch(sql) {
        Err(e) => match missing_module(&e) {
            Some(module) => {
                conn.create_module(module.as_str(), &STAND_IN, None)?;
                conn.execute_batch(sql)
            }
            None => Err(e),
        },
        ok => ok,
    }
}

const STAND_IN: Module<'static, StandIn> = Module::read_only_module();

#[repr(C)]
struct StandIn {
    base: sqlite3_vtab,
}

#[repr(C)]
struct EmptyCursor {
    base: sqlite3_vtab_cursor,
}

/// The `CREATE TABLE` a stand-in declares: one column per module argument that is not an
/// option (`key=value`), named by the argument's first token; FTS modules also get their
/// hidden columns (the table's own name; `rank` for FTS5) so that `MATCH` and `rank` resolve.
pub(crate) fn declaration(module: &str, table: &str, args: &[&str]) -> String {
    let mut cols: Vec<String> = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for a in args {
        if let Some(name) = column_name(a) {
            if seen.insert(crate::sqltext::ident_key(name)) {
                cols.push(name.to_string());
            }
        }
    }
    let module = module.to_ascii_lowercase();
    if module.starts_with("fts") {
        let t = crate::sqltext::quote_ident(table);
        if seen.insert(crate::sqltext::ident_key(&t)) {
            cols.push(format!("{t} HIDDEN"));
        }
        if module == "fts5" && seen.insert("rank".into()) {
            cols.push("rank HIDDEN".into());
        }
    }
    if cols.is_empty() {
        cols.push("\"liteshift stand-in\"".into());
    }
    format!("CREATE TABLE x({})", cols.join(", "))
}

/// Whether an argument is an option (`key=value`: an `=` outside parentheses) and, if not,
/// its first token (the column name), read with SQLite's tokenizer. `None` for an option or
/// an argument that does not tokenize.
fn column_name(a: &str) -> Option<&str> {
    use sqlite3_parser::lexer::sql::TokenType::{TK_EQ, TK_LP, TK_RP};
    let toks = crate::sqltext::tokens(a)?;
    let mut depth = 0i32;
    for (ty, _) in &toks {
        match ty {
            TK_LP => depth += 1,
            TK_RP => depth -= 1,
            TK_EQ if depth == 0 => return None,
            _ => {}
        }
    }
    toks.first().map(|(_, r)| &a[r.clone()])
}

unsafe impl<'vtab> VTab<'vtab> for StandIn {
    type Aux = ();
    type Cursor = EmptyCursor;

    fn connect(
        _db: &mut VTabConnection,
        _aux: Option<&()>,
        module_name: &[u8],
        _database_name: &[u8],
        table_name: &[u8],
        args: &[&[u8]],
    ) -> rusqlite::Result<(Cow<'static, CStr>, Self)> {
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        let args: Vec<String> = args.iter().map(|a| text(a)).collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let decl = declaration(&text(module_name), &text(table_name), &args);
        let decl = CString::new(decl).map_err(|e| Error::ModuleError(e.to_string()))?;
        Ok((
            Cow::Owned(decl),
            StandIn {
                base: sqlite3_vtab::default(),
            },
        ))
    }

    fn best_index(&self, info: &mut IndexInfo) -> rusqlite::Result<bool> {
        info.set_estimated_cost(1e9);
        Ok(true)
    }

    fn open(&'vtab mut self) -> rusqlite::Result<EmptyCursor> {
        Ok(EmptyCursor {
            base: sqlite3_vtab_cursor::default(),
        })
    }
}

impl CreateVTab<'_> for StandIn {
    const KIND: VTabKind = VTabKind::Default;
}

unsafe impl VTabCursor for EmptyCursor {
    fn filter(&mut self, _: c_int, _: Option<&str>, _: &Filters<'_>) -> rusqlite::Result<()> {
        Ok(())
    }
    fn next(&mut self) -> rusqlite::Result<()> {
        Ok(())
    }
    fn eof(&self) -> bool {
        true
    }
    fn column(&self, ctx: &mut Context, _: c_int) -> rusqlite::Result<()> {
        ctx.set_result(rusqlite::types::Null)
    }
    fn rowid(&self) -> rusqlite::Result<i64> {
        Ok(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declarations_name_the_columns_and_skip_options() {
        assert_eq!(
            declaration(
                "fts5",
                "notes_fts",
                &[
                    "title",
                    "body UNINDEXED",
                    "content='notes'",
                    "tokenize = 'porter unicode61'"
                ]
            ),
            "CREATE TABLE x(title, body, \"notes_fts\" HIDDEN, rank HIDDEN)"
        );
        assert_eq!(
            declaration("rtree", "geo", &["id", "minX", "maxX"]),
            "CREATE TABLE x(id, minX, maxX)"
        );
        assert_eq!(
            declaration("fts4", "d", &["\"a b\" TEXT", "notindexed=x"]),
            "CREATE TABLE x(\"a b\", \"d\" HIDDEN)"
        );
        assert_eq!(
            declaration("mymod", "m", &[]),
            "CREATE TABLE x(\"liteshift stand-in\")"
        );
    }

    #[test]
    fn a_missing_module_gets_a_stand_in_and_views_and_triggers_over_it_load() {
        let conn = Connection::open_in_memory().unwrap();
        let e = conn
            .execute_batch("CREATE VIRTUAL TABLE d USING nosuchmod(title, body, tokenize=x)")
            .unwrap_err();
        assert_eq!(missing_module(&e).as_deref(), Some("nosuchmod"));
        execute_with_stand_ins(
            &conn,
            "CREATE VIRTUAL TABLE d USING nosuchmod(title, body, tokenize=x)",
        )
        .unwrap();
        conn.execute_batch(
            "CREATE TABLE n(id INTEGER PRIMARY KEY, t TEXT);
             CREATE VIEW v AS SELECT title, body FROM d;
             CREATE TRIGGER tr AFTER INSERT ON n BEGIN INSERT INTO d(rowid, title) VALUES (new.id, new.t); END;
             SELECT * FROM v;",
        )
        .unwrap();
        // Not a module error: passed through unchanged.
        let e = execute_with_stand_ins(&conn, "CREATE TABLE n(x)").unwrap_err();
        assert!(e.to_string().contains("already exists"), "{e}");
    }
}

#[cfg(test)]
mod view_tests {
    use crate::declared::{load_declared_opts, LoadOptions};

    #[test]
    fn views_over_a_stand_in_load() {
        let opts = LoadOptions {
            deny_dangling_fks: false,
            host_modules: true,
            ..Default::default()
        };
        for view in [
            "SELECT rowid, title FROM d",
            "SELECT docid, title FROM d",
            "SELECT title, rank FROM d WHERE d MATCH 'x' ORDER BY rank",
        ] {
            let sql = format!(
                "CREATE VIRTUAL TABLE d USING ftsx(title, body);\nCREATE VIEW v AS {view};"
            );
            let r = load_declared_opts(&sql, "s.sql", opts.clone());
            assert!(r.is_ok(), "{view}: {}", r.unwrap_err());
        }
    }
}
