//! Testing upgrades (feature `testing`): rows generated to fit a schema ([`seed_rows`]), and the
//! upgrade test of `liteshift test` ([`upgrade`]): a database built from an earlier version of
//! the schema, filled, migrated to the declared schema by the ordinary sequence, and verified.
//!
//! The same generator fills the databases of liteshift's own corpus tests.
//!
//! ```
//! use liteshift::testing::{upgrade, UpgradeOptions};
//!
//! // Every schema the app ever shipped, oldest first (in an app: include_str! of each file).
//! let released = [
//!     ("v1", "CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT NOT NULL);"),
//!     ("v2", "CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT UNIQUE);"),
//! ];
//! let current = "-- liteshift:rename-column users.name=full_name
//! CREATE TABLE users(id INTEGER PRIMARY KEY, full_name TEXT NOT NULL, email TEXT UNIQUE);
//! CREATE TABLE posts(id INTEGER PRIMARY KEY, author INTEGER NOT NULL REFERENCES users(id), body TEXT);";
//!
//! let opts = UpgradeOptions { rows: 50, ..UpgradeOptions::default() };
//! for (name, sql) in released {
//!     let result = upgrade(name, sql, current, &opts)?;
//!     assert!(result.failures.is_empty(), "{name}: {:?}", result.failures);
//!     assert_eq!(result.rows, 50);
//!     // With insta: insta::assert_snapshot!(name, result.snapshot);
//! }
//! # Ok::<(), liteshift::Error>(())
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rusqlite::types::Value;
use rusqlite::Connection;
use serde::Serialize;

use crate::sqltext::quote_ident as q;
use crate::{Error, Options, Result};

/// The stored-text start-up check `migrate` makes first, for the property test that holds it
/// to the full path.
pub use crate::unchanged::stored_in_sync;

/// How [`seed_rows`] fills a database.
#[derive(Debug, Clone, Copy)]
pub struct SeedOptions {
    /// Rows per table.
    pub rows: usize,
    /// The same seed gives the same rows.
    pub seed: u64,
}

impl Default for SeedOptions {
    fn default() -> Self {
        SeedOptions { rows: 100, seed: 0 }
    }
}

/// What [`seed_rows`] inserted.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Seeded {
    /// Rows in all the filled tables after seeding.
    pub rows: usize,
    pub tables: Vec<TableSeeded>,
}

impl Seeded {
    /// The tables that hold fewer rows than asked, with why (SQLite's last refusal).
    pub fn short(&self) -> impl Iterator<Item = &TableSeeded> {
        self.tables.iter().filter(|t| t.why.is_some())
    }
}

/// One table's generated rows.
#[derive(Debug, Clone, Serialize)]
pub struct TableSeeded {
    pub table: String,
    pub rows: usize,
    /// When fewer rows than asked went in: SQLite's message for the last row refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
}

struct Col {
    name: String,
    ty: String,
    not_null: bool,
    has_default: bool,
    key: bool,
}

struct Fk {
    parent: String,
    /// (child column index in `cols`, parent column or None for the parent's key)
    pairs: Vec<(usize, Option<String>)>,
}

struct TableInfo {
    name: String,
    cols: Vec<Col>,
    fks: Vec<Fk>,
    /// Literals of the table's definition: candidate values for CHECKs.
    literals: Vec<Value>,
    /// Lower-cased names of the columns of its UNIQUE indexes.
    unique: BTreeSet<String>,
}

fn mix(mut x: u64) -> u64 {
    // splitmix64
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// SQLite's affinity of a declared type (the rules of "Determination Of Column Affinity").
fn affinity(ty: &str) -> char {
    let t = ty.to_ascii_uppercase();
    if t.contains("INT") {
        'i'
    } else if t.contains("CHAR") || t.contains("CLOB") || t.contains("TEXT") {
        't'
    } else if t.contains("BLOB") || t.is_empty() {
        'b'
    } else if t.contains("REAL") || t.contains("FLOA") || t.contains("DOUB") {
        'r'
    } else {
        'n'
    }
}

/// A value of row `i` for a column of declared type `ty`: distinct per row (so UNIQUE keys
/// hold), of the type's affinity; dates as text where the type names one.
fn value_for(ty: &str, i: u64, off: u64) -> Value {
    let t = ty.to_ascii_uppercase();
    let n = i + off;
    if t.contains("DATE") || t.contains("TIME") {
        let (s, m, h) = (n % 60, (n / 60) % 60, (n / 3600) % 24);
        let (d, mo, y) = (
            (n / 86400) % 28 + 1,
            (n / (86400 * 28)) % 12 + 1,
            2020 + n / (86400 * 336),
        );
        return Value::Text(if t.contains("TIME") {
            format!("{y:04}-{mo:02}-{d:02} {h:02}:{m:02}:{s:02}")
        } else {
            format!(
                "{:04}-{:02}-{:02}",
                2000 + n / 336,
                (n / 28) % 12 + 1,
                n % 28 + 1
            )
        });
    }
    if t.starts_with("BOOL") {
        return Value::Integer((n % 2) as i64);
    }
    match affinity(ty) {
        'i' | 'n' => Value::Integer(n as i64 + 1),
        't' => Value::Text(format!("v{n}")),
        'r' => Value::Real(n as f64 + 1.5),
        _ if t.contains("BLOB") => Value::Blob(format!("b{n}").into_bytes()),
        _ => Value::Text(format!("v{n}")),
    }
}

/// String and number literals of a `CREATE TABLE` (with a few usual ones): values a CHECK may
/// accept (`status IN ('open', 'done')`, `x >= 0`, `json_valid(x)`).
fn literals(sql: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let b = sql.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\'' {
            let mut s = String::new();
            let mut j = i + 1;
            while j < b.len() {
                if b[j] == b'\'' {
                    if j + 1 < b.len() && b[j + 1] == b'\'' {
                        s.push('\'');
                        j += 2;
                        continue;
                    }
                    break;
                }
                s.push(b[j] as char);
                j += 1;
            }
            out.push(Value::Text(s));
            i = j + 1;
        } else if b[i].is_ascii_digit()
            && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_'))
        {
            let mut j = i;
            while j < b.len() && (b[j].is_ascii_digit() || b[j] == b'.') {
                j += 1;
            }
            let text = &sql[i..j];
            if let Ok(n) = text.parse::<i64>() {
                out.push(Value::Integer(n));
            } else if let Ok(r) = text.parse::<f64>() {
                out.push(Value::Real(r));
            }
            i = j;
        } else {
            i += 1;
        }
    }
    out.extend([
        Value::Integer(1),
        Value::Integer(0),
        Value::Text("{}".into()),
        Value::Text("[]".into()),
        Value::Text("a".into()),
        Value::Text("abc".into()),
        Value::Null,
    ]);
    let mut seen = BTreeSet::new();
    out.retain(|v| seen.insert(format!("{v:?}")));
    out
}

fn read_tables(conn: &Connection) -> Result<Vec<TableInfo>> {
    let names: Vec<(String, String)> = conn
        .prepare(
            "SELECT s.name, s.sql FROM sqlite_schema s JOIN pragma_table_list l ON l.name = s.name AND l.schema = 'main' \
             WHERE s.type = 'table' AND l.type = 'table' AND s.name NOT LIKE 'sqlite_%' ORDER BY s.rowid",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get::<_, Option<String>>(1)?.unwrap_or_default())))?
        .collect::<Result<_, _>>()?;
    let mut out = Vec::new();
    for (name, sql) in names {
        let cols: Vec<(Col, i64, bool)> = conn
            .prepare("SELECT name, type, \"notnull\", dflt_value IS NOT NULL, pk, hidden FROM pragma_table_xinfo(?1)")?
            .query_map([&name], |r| {
                Ok((
                    Col {
                        name: r.get(0)?,
                        ty: r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                        not_null: r.get::<_, i64>(2)? != 0,
                        has_default: r.get(3)?,
                        key: r.get::<_, i64>(4)? > 0,
                    },
                    r.get::<_, i64>(5)?,
                    false,
                ))
            })?
            .collect::<Result<_, _>>()?;
        let cols: Vec<Col> = cols
            .into_iter()
            .filter(|(_, hidden, _)| *hidden == 0)
            .map(|(c, _, _)| c)
            .collect();
        let mut fks: BTreeMap<i64, Fk> = BTreeMap::new();
        let rows: Vec<(i64, String, String, Option<String>)> = conn
            .prepare("SELECT id, \"table\", \"from\", \"to\" FROM pragma_foreign_key_list(?1) ORDER BY id, seq")?
            .query_map([&name], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
            .collect::<Result<_, _>>()?;
        for (id, parent, from, to) in rows {
            let Some(ci) = cols.iter().position(|c| c.name.eq_ignore_ascii_case(&from)) else {
                continue;
            };
            fks.entry(id)
                .or_insert_with(|| Fk {
                    parent,
                    pairs: Vec::new(),
                })
                .pairs
                .push((ci, to));
        }
        // Columns of a UNIQUE index (or the primary key): a foreign key made of them takes
        // the fastest-changing parent row, so that the key's rows stay distinct.
        let unique: BTreeSet<String> = conn
            .prepare("SELECT lower(i.name) FROM pragma_index_list(?1) l, pragma_index_info(l.name) i WHERE l.\"unique\"")?
            .query_map([&name], |r| r.get::<_, Option<String>>(0))?
            .filter_map(|r| r.ok().flatten())
            .collect();
        let in_key = |fk: &Fk| {
            fk.pairs
                .iter()
                .filter(|(ci, _)| {
                    cols[*ci].key || unique.contains(&cols[*ci].name.to_ascii_lowercase())
                })
                .count()
        };
        let mut fks: Vec<Fk> = fks.into_values().rev().collect();
        fks.sort_by_key(|fk| std::cmp::Reverse(in_key(fk)));
        out.push(TableInfo {
            literals: literals(&sql),
            name,
            cols,
            fks,
            unique,
        });
    }
    Ok(out)
}

/// Parents before children (creation order otherwise; cycles keep it).
fn parents_first(tables: Vec<TableInfo>) -> Vec<TableInfo> {
    let keys: Vec<String> = tables.iter().map(|t| t.name.to_ascii_lowercase()).collect();
    let mut done = vec![false; tables.len()];
    let mut order = Vec::new();
    fn visit(
        i: usize,
        tables: &[TableInfo],
        keys: &[String],
        done: &mut [bool],
        on: &mut Vec<usize>,
        order: &mut Vec<usize>,
    ) {
        if done[i] || on.contains(&i) {
            return;
        }
        on.push(i);
        for fk in &tables[i].fks {
            if let Some(p) = keys.iter().position(|k| k.eq_ignore_ascii_case(&fk.parent)) {
                visit(p, tables, keys, done, on, order);
            }
        }
        on.pop();
        if !done[i] {
            done[i] = true;
            order.push(i);
        }
    }
    for i in 0..tables.len() {
        visit(i, &tables, &keys, &mut done, &mut Vec::new(), &mut order);
    }
    let mut slots: Vec<Option<TableInfo>> = tables.into_iter().map(Some).collect();
    order.into_iter().filter_map(|i| slots[i].take()).collect()
}

/// The columns a child's foreign key reads from `parent`: the named ones, or its primary key
/// (its rowid when it has none).
fn parent_key_rows(conn: &Connection, parent: &str, cols: &[Option<String>]) -> Vec<Vec<Value>> {
    let named: Vec<String> = if cols.iter().all(Option::is_some) {
        cols.iter()
            .map(|c| q(c.as_deref().unwrap_or_default()))
            .collect()
    } else {
        let pk: Vec<String> = conn
            .prepare("SELECT name FROM pragma_table_info(?1) WHERE pk > 0 ORDER BY pk")
            .and_then(|mut s| s.query_map([parent], |r| r.get::<_, String>(0))?.collect())
            .unwrap_or_default();
        if pk.len() == cols.len() {
            pk.iter().map(|c| q(c)).collect()
        } else {
            vec!["rowid".to_string()]
        }
    };
    let sql = format!("SELECT {} FROM {}", named.join(", "), q(parent));
    let Ok(mut stmt) = conn.prepare(&sql) else {
        return Vec::new();
    };
    let n = stmt.column_count();
    stmt.query_map([], |r| {
        (0..n)
            .map(|i| r.get::<_, Value>(i))
            .collect::<rusqlite::Result<Vec<_>>>()
    })
    .and_then(|rows| rows.collect())
    .unwrap_or_default()
}

/// The key values of a parent's rows, as a child's foreign key reads them.
type ParentRows = Vec<Vec<Value>>;

/// Fill every ordinary table of `conn`'s main database with `opts.rows` generated rows, in one
/// transaction: parents before children, foreign-key columns taken from the parent's rows
/// (distinct combinations where the key allows), every other column a value of its declared
/// type distinct per row (UNIQUE keys hold), NOT NULL kept; a row a constraint refuses is tried
/// again without the columns that have a default, then with only the required ones, then with
/// the literals of the table's definition in the columns a failing CHECK names. A table that
/// ends with fewer rows says why ([`TableSeeded::why`]). The same seed gives the same rows.
/// Triggers run, and the connection's `foreign_keys` setting is respected.
pub fn seed_rows(conn: &Connection, opts: &SeedOptions) -> Result<Seeded> {
    let tables = parents_first(read_tables(conn)?);
    let off = if opts.seed == 0 {
        0
    } else {
        mix(opts.seed) % 100_000
    };
    let own = conn.is_autocommit();
    if own {
        conn.execute_batch("BEGIN")?;
    }
    let mut keys: BTreeMap<(String, Vec<Option<String>>), ParentRows> = BTreeMap::new();
    let mut result = Seeded::default();
    for t in &tables {
        let mut fill = TableFill::new(conn, t, off, own, &mut keys);
        for i in 0..opts.rows as u64 {
            fill.row(i)?;
        }
        let seeded = fill.seeded(opts.rows)?;
        result.rows += seeded.rows;
        result.tables.push(seeded);
    }
    if own {
        conn.execute_batch("COMMIT")?;
    }
    Ok(result)
}

/// One table being filled by [`seed_rows`]: what its rows read (its parents' key rows, which
/// foreign keys are optional, each column's foreign key), what it learned (values a CHECK
/// accepted), its prepared inserts (one per set of columns), and the rows refused.
struct TableFill<'c, 't> {
    conn: &'c Connection,
    t: &'t TableInfo,
    off: u64,
    /// `seed_rows` opened the transaction (and opens it again where a row's failure ended it).
    own: bool,
    /// The parent rows of each foreign key, read once the parent is filled.
    parents: Vec<ParentRows>,
    /// Per foreign key: its columns may all be NULL and are in no key.
    optional: Vec<bool>,
    /// Column index -> (its foreign key, its place in that key).
    fk_of: BTreeMap<usize, (usize, usize)>,
    /// Values a CHECK accepted in an earlier row, tried first.
    learned: BTreeMap<usize, Value>,
    statements: BTreeMap<Vec<usize>, rusqlite::Result<rusqlite::Statement<'c>>>,
    /// SQLite's message for the last row refused, and how many rows were.
    why: Option<String>,
    skipped: usize,
}

/// One row's attempts so far: the values that replace the generated ones, how many literals
/// each CHECKed column has tried, how far the parent rows are shifted, and how many columns
/// are left out (`bumped`: 1 those with a default, 2 all but the required ones).
struct Attempt {
    overrides: BTreeMap<usize, Value>,
    tried: BTreeMap<usize, usize>,
    shift: usize,
    bumped: usize,
}

impl<'c, 't> TableFill<'c, 't> {
    fn new(
        conn: &'c Connection,
        t: &'t TableInfo,
        off: u64,
        own: bool,
        keys: &mut BTreeMap<(String, Vec<Option<String>>), ParentRows>,
    ) -> Self {
        let parents: Vec<ParentRows> = t
            .fks
            .iter()
            .map(|fk| {
                let cols: Vec<Option<String>> = fk.pairs.iter().map(|(_, c)| c.clone()).collect();
                keys.entry((fk.parent.to_ascii_lowercase(), cols.clone()))
                    .or_insert_with(|| parent_key_rows(conn, &fk.parent, &cols))
                    .clone()
            })
            .collect();
        let optional: Vec<bool> = t
            .fks
            .iter()
            .map(|fk| {
                fk.pairs.iter().all(|(ci, _)| {
                    !t.cols[*ci].not_null
                        && !t.cols[*ci].key
                        && !t.unique.contains(&t.cols[*ci].name.to_ascii_lowercase())
                })
            })
            .collect();
        let fk_of: BTreeMap<usize, (usize, usize)> = t
            .fks
            .iter()
            .enumerate()
            .flat_map(|(f, fk)| {
                fk.pairs
                    .iter()
                    .enumerate()
                    .map(move |(k, (ci, _))| (*ci, (f, k)))
            })
            .collect();
        TableFill {
            conn,
            t,
            off,
            own,
            parents,
            optional,
            fk_of,
            learned: BTreeMap::new(),
            statements: BTreeMap::new(),
            why: None,
            skipped: 0,
        }
    }

    /// Row `i`: tried with all its columns; then not those with a default; then only the
    /// required ones. A failing CHECK or UNIQUE is fixed with other values first (leaving a
    /// column to its default would repeat that value in every row).
    fn row(&mut self, i: u64) -> Result<()> {
        let chosen = self.chosen_parents(i);
        let mut a = Attempt {
            overrides: self.learned.clone(),
            tried: BTreeMap::new(),
            shift: 0,
            bumped: 0,
        };
        let attempts = 4 + self.t.literals.len().min(12);
        for attempt in 0..attempts {
            let late = if attempt + 2 >= attempts {
                2
            } else {
                usize::from(attempt + 4 >= attempts)
            };
            let stage = a.bumped.max(late);
            let (used, vals) = self.values(i, stage, &chosen, &a);
            match self.insert(&used, &vals) {
                Ok(_) => {
                    self.learn(&a);
                    return Ok(());
                }
                Err(e) => {
                    let msg = crate::host::sqlite_message(&e);
                    if self.own && self.conn.is_autocommit() {
                        // RAISE(ROLLBACK) or ON CONFLICT ROLLBACK ended the transaction.
                        self.conn.execute_batch("BEGIN")?;
                    }
                    self.retry_after(&msg, i, attempt, &mut a);
                    self.why = Some(msg);
                }
            }
        }
        self.skipped += 1;
        Ok(())
    }

    /// The parent row of each foreign key for row `i`: mixed radix over the parents' sizes, so
    /// that a key made of foreign keys gets distinct combinations.
    fn chosen_parents(&self, i: u64) -> Vec<Option<usize>> {
        let mut stride = 1u64;
        let mut chosen: Vec<Option<usize>> = Vec::new();
        for p in &self.parents {
            if p.is_empty() {
                chosen.push(None);
                continue;
            }
            let n = p.len() as u64;
            chosen.push(Some((((i + self.off) / stride) % n) as usize));
            stride = stride.saturating_mul(n);
        }
        chosen
    }

    /// The columns row `i` fills at `stage` (0 all, 1 not those with a default, 2 only the
    /// required ones; a column with an override always) and their values: the override, the
    /// chosen parent row's key, or a generated value of the column's type.
    fn values(
        &self,
        i: u64,
        stage: usize,
        chosen: &[Option<usize>],
        a: &Attempt,
    ) -> (Vec<usize>, Vec<Value>) {
        let (t, off, parents) = (self.t, self.off, &self.parents);
        let mut used: Vec<usize> = Vec::with_capacity(t.cols.len());
        let mut vals: Vec<Value> = Vec::with_capacity(t.cols.len());
        for (ci, c) in t.cols.iter().enumerate() {
            let fk = self.fk_of.get(&ci);
            if !a.overrides.contains_key(&ci) {
                if stage >= 1 && c.has_default && fk.is_none() {
                    continue;
                }
                if stage == 2 && !c.not_null && !c.key && fk.is_none() {
                    continue;
                }
            }
            let v = if let Some(v) = a.overrides.get(&ci) {
                v.clone()
            } else if let Some(&(f, k)) = fk {
                match chosen[f] {
                    // An optional parent is absent in every fourth row.
                    Some(_) if self.optional[f] && i % 4 == 3 => Value::Null,
                    Some(row) => {
                        let n = parents[f].len();
                        parents[f][(row + a.shift * (n / 7 + 1)) % n][k].clone()
                    }
                    // No parent row (yet: a self-reference, or a cycle): a value of
                    // its type where one is required, which enforcement may refuse.
                    None if c.not_null => value_for(&c.ty, i, off),
                    None => Value::Null,
                }
            } else {
                value_for(&c.ty, i, off)
            };
            used.push(ci);
            vals.push(v);
        }
        (used, vals)
    }

    /// Insert `vals` into the columns `used`, by one prepared statement per set of columns.
    fn insert(&mut self, used: &[usize], vals: &[Value]) -> rusqlite::Result<usize> {
        if !self.statements.contains_key(used) {
            let t = self.t;
            let sql = if used.is_empty() {
                format!("INSERT INTO {} DEFAULT VALUES", q(&t.name))
            } else {
                format!(
                    "INSERT INTO {} ({}) VALUES ({})",
                    q(&t.name),
                    used.iter()
                        .map(|&ci| q(&t.cols[ci].name))
                        .collect::<Vec<_>>()
                        .join(", "),
                    vec!["?"; used.len()].join(", ")
                )
            };
            self.statements
                .insert(used.to_vec(), self.conn.prepare(&sql));
        }
        match self.statements.get_mut(used) {
            Some(Ok(stmt)) => stmt.execute(rusqlite::params_from_iter(vals.iter())),
            Some(Err(e)) => Err(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(1),
                Some(crate::host::sqlite_message(e)),
            )),
            None => unreachable!("inserted above"),
        }
    }

    /// After a row went in: a literal a CHECK accepted, kept for the next rows (not in a key,
    /// whose values must differ).
    fn learn(&mut self, a: &Attempt) {
        let t = self.t;
        for ci in a.tried.keys() {
            let c = &t.cols[*ci];
            if !c.key && !t.unique.contains(&c.name.to_ascii_lowercase()) {
                if let Some(v) = a.overrides.get(ci) {
                    self.learned.insert(*ci, v.clone());
                }
            }
        }
    }

    /// After row `i` was refused with `msg` at `attempt`: a failing CHECK tries the next
    /// literal of the definition in each column it names; a failing UNIQUE, values far from
    /// this row's in its columns; anything else (a foreign key, a trigger) other parent rows
    /// and fewer columns.
    fn retry_after(&self, msg: &str, i: u64, attempt: usize, a: &mut Attempt) {
        let t = self.t;
        let lower = msg.to_ascii_lowercase();
        if let Some(check) = lower.strip_prefix("check constraint failed: ") {
            for (ci, c) in t.cols.iter().enumerate() {
                if mentions(check, &c.name) {
                    // The next literal of the definition (never NULL in a
                    // NOT NULL column).
                    let k = a.tried.entry(ci).or_insert(0);
                    let cands: Vec<&Value> = t
                        .literals
                        .iter()
                        .filter(|v| !(c.not_null && **v == Value::Null))
                        .collect();
                    if let Some(v) = cands.get(*k % cands.len().max(1)) {
                        a.overrides.insert(ci, (*v).clone());
                    }
                    *k += 1;
                }
            }
        } else if !lower.starts_with("unique constraint failed: ") {
            // A foreign key, or a trigger: other parent rows, and fewer columns.
            a.shift += 1;
            a.bumped = (a.bumped + 1).min(2);
        }
        if let Some(cols) = lower.strip_prefix("unique constraint failed: ") {
            for (ci, c) in t.cols.iter().enumerate() {
                let named = cols
                    .split(", ")
                    .any(|tc| tc.rsplit('.').next() == Some(c.name.to_ascii_lowercase().as_str()));
                if named && !self.fk_of.contains_key(&ci) {
                    let far = i + self.off + (attempt as u64 + 1) * 1_000_003;
                    a.overrides.insert(ci, value_for(&c.ty, far, 0));
                }
            }
        }
    }

    /// The table's rows after filling, and, when fewer than `rows`, why.
    fn seeded(self, rows: usize) -> Result<TableSeeded> {
        let t = self.t;
        let n: i64 =
            self.conn
                .query_row(&format!("SELECT count(*) FROM {}", q(&t.name)), [], |r| {
                    r.get(0)
                })?;
        let n = n as usize;
        Ok(TableSeeded {
            table: t.name.clone(),
            rows: n,
            why: if n < rows {
                Some(match self.why {
                    Some(w) if self.skipped > 0 => w,
                    _ => "rows were removed after insertion (a trigger, or ON CONFLICT REPLACE)"
                        .into(),
                })
            } else {
                None
            },
        })
    }
}

/// Whether a CHECK's text (lower-cased) names the column `name`.
fn mentions(check: &str, name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    let b = check.as_bytes();
    check.match_indices(&name).any(|(at, _)| {
        let before = at.checked_sub(1).map(|k| b[k]);
        let after = b.get(at + name.len()).copied();
        let ident = |c: Option<u8>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_');
        !ident(before) && !ident(after)
    })
}

// ---------------------------------------------------------------------------------------------
// The upgrade test.

/// How [`upgrade`] tests one earlier version.
#[derive(Clone)]
pub struct UpgradeOptions {
    /// Rows per table.
    pub rows: usize,
    /// The generator's seed.
    pub seed: u64,
    /// A migration that takes longer fails ([`Failure::TooSlow`]).
    pub budget: Option<Duration>,
    /// The migration's options (hints and values besides the schema's annotations,
    /// `allow_data_loss`, ...). `on_progress` is the test's own.
    pub options: Options,
    /// Where the databases are built (default: the system's temporary directory). Each is
    /// deleted after its test.
    pub dir: Option<PathBuf>,
}

impl Default for UpgradeOptions {
    fn default() -> Self {
        UpgradeOptions {
            rows: 100,
            seed: 0,
            budget: None,
            options: Options::default(),
            dir: None,
        }
    }
}

/// Why a version fails its upgrade test.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Failure {
    /// The migration was refused: the message (the rows) and what would fix it.
    Refused {
        message: String,
        fixes: Vec<String>,
    },
    /// The migration failed (not a refusal): a bug, or a schema SQLite cannot migrate to.
    Error {
        message: String,
    },
    /// Rows of a kept table are gone.
    RowsLost {
        table: String,
        before: usize,
        after: usize,
        examples: Vec<String>,
    },
    /// A kept column's values changed where no declared value or type explains it.
    ValuesChanged {
        table: String,
        column: String,
        rows: usize,
        examples: Vec<String>,
    },
    /// The migration took longer than the budget.
    TooSlow {
        seconds: f64,
        budget: f64,
        slowest_step: Option<SlowStep>,
    },
    Integrity {
        message: String,
    },
    ForeignKeys {
        new_violations: usize,
    },
    /// A second run did something.
    NotIdempotent {
        steps: usize,
    },
}

impl Failure {
    /// 1 for a failed check, 2 for an error.
    pub fn severity(&self) -> u8 {
        match self {
            Failure::Error { .. } => 2,
            _ => 1,
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Refused { message, fixes } => {
                write!(f, "{}", message.lines().next().unwrap_or(message))?;
                for l in message.lines().skip(1).filter(|l| l.trim_start().starts_with("- ")) {
                    write!(f, "\n  {}", l.trim())?;
                }
                for x in fixes {
                    write!(f, "\n  fix: {x}")?;
                }
                Ok(())
            }
            Failure::Error { message } => write!(f, "error: {message}"),
            Failure::RowsLost { table, before, after, examples } => write!(
                f,
                "rows lost: {table} had {before} row(s), has {after}{}",
                if examples.is_empty() { String::new() } else { format!(" (missing: {})", examples.join(", ")) }
            ),
            Failure::ValuesChanged { table, column, rows, examples } => write!(
                f,
                "values changed: {table}.{column} in {rows} row(s), though no declared value or type change explains it (e.g. {})",
                examples.join("; ")
            ),
            Failure::TooSlow { seconds, budget, slowest_step } => {
                write!(f, "too slow: {seconds:.2} s, budget {budget} s")?;
                if let Some(s) = slowest_step {
                    write!(f, "; step {} ({:.2} s) {}", s.number, s.seconds, s.reason)?;
                }
                Ok(())
            }
            Failure::Integrity { message } => write!(f, "integrity_check: {message}"),
            Failure::ForeignKeys { new_violations } => {
                write!(f, "foreign_key_check: {new_violations} new violation(s)")
            }
            Failure::NotIdempotent { steps } => write!(f, "a second run applied {steps} step(s)"),
        }
    }
}

/// The slowest step of a migration.
#[derive(Debug, Clone, Serialize)]
pub struct SlowStep {
    pub number: usize,
    pub reason: String,
    pub seconds: f64,
}

/// One earlier version's upgrade test.
#[derive(Debug, Clone, Serialize)]
pub struct UpgradeResult {
    pub version: String,
    /// Steps the migration applied.
    pub steps: usize,
    /// Rows generated (all tables).
    pub rows: usize,
    pub seeded: Seeded,
    /// Building and filling the database.
    pub build_seconds: f64,
    /// The migration alone.
    pub migrate_seconds: f64,
    /// The checks after it (integrity, foreign keys, rows, values, a second run).
    pub verify_seconds: f64,
    pub slowest_step: Option<SlowStep>,
    /// The plan as deterministic text: its summary and script (for snapshots).
    #[serde(skip)]
    pub snapshot: String,
    pub warnings: Vec<String>,
    pub failures: Vec<Failure>,
}

/// A table as [`tables_of`] lists it.
type TableOf = (String, String, bool, Vec<String>);

/// The ordinary tables of `schema` (`main`, or the attached copy `before`): lower-cased
/// name, name, WITHOUT ROWID, visible columns.
fn tables_of(conn: &Connection, schema: &str) -> Result<Vec<TableOf>> {
    let tables: Vec<(String, bool)> = conn
        .prepare("SELECT name, wr FROM pragma_table_list WHERE schema = ?1 AND type = 'table' AND name NOT LIKE 'sqlite_%'")?
        .query_map([schema], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let mut out = Vec::new();
    for (t, wr) in tables {
        let cols: Vec<String> = conn
            .prepare("SELECT name FROM pragma_table_xinfo(?1, ?2) WHERE hidden = 0")?
            .query_map([&t, schema], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        out.push((t.to_ascii_lowercase(), t, wr, cols));
    }
    Ok(out)
}

fn column_types(conn: &Connection, table: &str) -> BTreeMap<String, String> {
    conn.prepare("SELECT lower(name), type FROM pragma_table_xinfo(?1)")
        .and_then(|mut s| {
            s.query_map([table], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect()
        })
        .unwrap_or_default()
}

fn fk_violations(conn: &Connection) -> usize {
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM pragma_table_list WHERE schema = 'main' AND type = 'table' AND name NOT LIKE 'sqlite_%'")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .unwrap_or_default();
    tables
        .iter()
        .map(|t| {
            conn.prepare(&format!("PRAGMA foreign_key_check({})", q(t)))
                .and_then(|mut s| Ok(s.query_map([], |_| Ok(()))?.count()))
                .unwrap_or(0)
        })
        .sum()
}

fn show(v: &Value) -> String {
    match v {
        Value::Null => "NULL".into(),
        Value::Integer(i) => i.to_string(),
        Value::Real(r) => format!("{r:?}"),
        Value::Text(t) => format!("'{}'", t.replace('\'', "''")),
        Value::Blob(b) => format!(
            "X'{}'",
            b.iter().map(|x| format!("{x:02X}")).collect::<String>()
        ),
    }
}

/// A temporary database file, deleted when dropped.
struct TempDb(PathBuf);

impl TempDb {
    fn new(dir: Option<&PathBuf>) -> TempDb {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = dir.cloned().unwrap_or_else(std::env::temp_dir);
        TempDb(dir.join(format!("liteshift-test-{}-{n}.db", std::process::id())))
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        for suffix in ["", "-journal", "-wal", "-shm"] {
            let mut p = self.0.clone().into_os_string();
            p.push(suffix);
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Build a database from `from_sql` (an earlier version of the schema), fill it with
/// `opts.rows` generated rows per table, migrate it to `to_sql` (with its annotations) by the
/// ordinary sequence, and verify it: `integrity_check`, `foreign_key_check` (no new violation),
/// every row of every kept table still there (by rowid), every kept column's values unchanged
/// unless a declared value or a change of type (its affinity) explains it, and a second run a
/// no-op. Errors (`Err`) are an earlier version SQLite cannot load, an invalid declared schema
/// and I/O; everything the test finds is in [`UpgradeResult::failures`].
pub fn upgrade(
    version: &str,
    from_sql: &str,
    to_sql: &str,
    opts: &UpgradeOptions,
) -> Result<UpgradeResult> {
    let declared = crate::declared::load_declared_opts(
        to_sql,
        &opts.options.source_name,
        opts.options.load_options(),
    )?;
    upgrade_declared(version, from_sql, &declared, opts)
}

/// [`upgrade`] with the declared schema loaded once (many versions, one target).
pub fn upgrade_declared(
    version: &str,
    from_sql: &str,
    declared: &crate::Declared,
    opts: &UpgradeOptions,
) -> Result<UpgradeResult> {
    let started = Instant::now();
    let (_file, mut conn, seeded) = build(version, from_sql, opts)?;
    let build_seconds = started.elapsed().as_secs_f64();
    let before = Before::of(&conn, &_file)?;

    let mut result = UpgradeResult {
        version: version.to_string(),
        steps: 0,
        rows: seeded.rows,
        seeded,
        build_seconds,
        migrate_seconds: 0.0,
        verify_seconds: 0.0,
        slowest_step: None,
        snapshot: String::new(),
        warnings: Vec::new(),
        failures: Vec::new(),
    };

    let planned = match crate::plan_loaded(&conn, declared, &opts.options) {
        Ok(p) => p,
        Err(e) => {
            result.failures.push(failure_of(e, None));
            return Ok(result);
        }
    };
    result.snapshot = snapshot_text(&planned.plan);
    result.warnings = planned.plan.warnings.clone();

    let report = match migrate_timed(&mut conn, declared, opts, &mut result) {
        Ok(r) => r,
        Err(e) => {
            result.failures.push(failure_of(e, Some(&planned)));
            return Ok(result);
        }
    };
    result.steps = report.steps_applied;
    if let Some(budget) = opts.budget {
        if result.migrate_seconds > budget.as_secs_f64() {
            result.failures.push(Failure::TooSlow {
                seconds: result.migrate_seconds,
                budget: budget.as_secs_f64(),
                slowest_step: result.slowest_step.clone(),
            });
        }
    }

    let t1 = Instant::now();
    verify_upgrade(
        &mut conn,
        declared,
        opts,
        &planned,
        &before,
        &mut result.failures,
    )?;
    result.verify_seconds = before.copy_seconds + t1.elapsed().as_secs_f64();
    Ok(result)
}

/// The filled database before the migration: a copy of it, compared with the migrated one row
/// by row afterwards (streamed: memory does not grow with the rows), its columns' types, and
/// its foreign-key violations.
struct Before {
    file: TempDb,
    copy_seconds: f64,
    types: BTreeMap<String, BTreeMap<String, String>>,
    fk_violations: usize,
}

impl Before {
    fn of(conn: &Connection, file: &TempDb) -> Result<Before> {
        let copied = Instant::now();
        let before_file = TempDb(file.0.with_extension("before.db"));
        conn.execute("VACUUM INTO ?1", [before_file.0.to_string_lossy().as_ref()])?;
        let copy_seconds = copied.elapsed().as_secs_f64();
        let types: BTreeMap<String, BTreeMap<String, String>> = tables_of(conn, "main")?
            .into_iter()
            .map(|(key, name, _, _)| (key, column_types(conn, &name)))
            .collect();
        Ok(Before {
            file: before_file,
            copy_seconds,
            types,
            fk_violations: fk_violations(conn),
        })
    }
}

/// The migration, timed, with its slowest step, both kept in `result`.
fn migrate_timed(
    conn: &mut Connection,
    declared: &crate::Declared,
    opts: &UpgradeOptions,
    result: &mut UpgradeResult,
) -> Result<crate::Report> {
    let steps: Arc<Mutex<Vec<SlowStep>>> = Arc::default();
    let mut mopts = opts.options.clone();
    let seen = steps.clone();
    mopts.on_progress = Some(crate::ProgressObserver::new(move |p| {
        if let crate::Progress::Finished { done, .. } = p {
            seen.lock().unwrap().push(SlowStep {
                number: done.number,
                reason: done.step.reason.clone(),
                seconds: done.elapsed.as_secs_f64(),
            });
        }
    }));
    let t0 = Instant::now();
    let report = crate::migrate_declared(conn, declared, &mopts, &mut |_| {});
    result.migrate_seconds = t0.elapsed().as_secs_f64();
    result.slowest_step = steps
        .lock()
        .unwrap()
        .iter()
        .max_by(|a, b| a.seconds.total_cmp(&b.seconds))
        .cloned();
    report
}

/// The migrated database checked: `integrity_check`, no new foreign-key violations, every row
/// and value kept (against the copy made `before`), and a second run a no-op.
fn verify_upgrade(
    conn: &mut Connection,
    declared: &crate::Declared,
    opts: &UpgradeOptions,
    planned: &crate::Planned,
    before: &Before,
    failures: &mut Vec<Failure>,
) -> Result<()> {
    let ic: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
    if ic != "ok" {
        failures.push(Failure::Integrity { message: ic });
    }
    let fk_after = fk_violations(conn);
    if fk_after > before.fk_violations {
        failures.push(Failure::ForeignKeys {
            new_violations: fk_after - before.fk_violations,
        });
    }
    conn.execute(
        "ATTACH ?1 AS before",
        [before.file.0.to_string_lossy().as_ref()],
    )?;
    let compared = compare_rows(conn, &planned.changes, &before.types, failures);
    conn.execute_batch("DETACH before")?;
    compared?;
    match crate::migrate_declared(conn, declared, &opts.options, &mut |_| {}) {
        Ok(r) if r.steps_applied > 0 => failures.push(Failure::NotIdempotent {
            steps: r.steps_applied,
        }),
        Ok(_) => {}
        Err(e) => failures.push(Failure::Error {
            message: format!("the second run: {e}"),
        }),
    }
    Ok(())
}

/// A database file built from `from_sql` and filled with generated rows, with foreign-key
/// enforcement on (as an app runs). Durability is off (`synchronous = OFF`): the file is
/// thrown away, and an fsync per `CREATE` of the earlier version would dominate the time.
fn build(
    version: &str,
    from_sql: &str,
    opts: &UpgradeOptions,
) -> Result<(TempDb, Connection, Seeded)> {
    let file = TempDb::new(opts.dir.as_ref());
    let conn = Connection::open(&file.0)?;
    conn.execute_batch("PRAGMA synchronous = OFF")?;
    conn.execute_batch(from_sql).map_err(|e| Error::Schema {
        source_name: version.to_string(),
        line: 0,
        column: 0,
        message: format!(
            "this earlier version does not load: {}",
            crate::host::sqlite_message(&e)
        ),
    })?;
    conn.execute_batch("PRAGMA foreign_keys = ON")?;
    let seeded = seed_rows(
        &conn,
        &SeedOptions {
            rows: opts.rows,
            seed: opts.seed,
        },
    )?;
    Ok((file, conn, seeded))
}

/// Only the first part of [`upgrade`]: the database built from `from_sql` and filled as the
/// upgrade test does, then deleted (the baseline of the upgrade bench).
pub fn build_and_fill(version: &str, from_sql: &str, opts: &UpgradeOptions) -> Result<Seeded> {
    Ok(build(version, from_sql, opts)?.2)
}

/// A plan as deterministic text: the summary, then the script.
pub fn snapshot_text(plan: &crate::Plan) -> String {
    let mut s = crate::render_summary(plan);
    if !plan.steps.is_empty() {
        s.push('\n');
        s.push_str(&crate::render_script(plan, crate::Wrapping::Transaction));
    }
    s
}

fn failure_of(e: Error, planned: Option<&crate::Planned>) -> Failure {
    match &e {
        Error::Refused(crate::Refusal::Violations { violations }) => {
            let mut fixes = Vec::new();
            for v in violations {
                let at = match &v.column {
                    Some(c) => format!("{}.{c}", v.table),
                    None => continue,
                };
                let fix = format!("declare the value existing rows take: `-- liteshift:value {at} = EXPR` in the schema (or --value '{at}=EXPR')");
                if !fixes.contains(&fix) {
                    fixes.push(fix);
                }
            }
            Failure::Refused {
                message: e.to_string(),
                fixes,
            }
        }
        Error::Refused(crate::Refusal::DataLoss { .. }) => {
            let mut fixes: Vec<String> = planned
                .map(|p| p.plan.suggestions.clone())
                .unwrap_or_default();
            fixes.push("if the loss is intended, run with --allow-data-loss (UpgradeOptions::options.allow_data_loss)".into());
            Failure::Refused {
                message: e.to_string(),
                fixes,
            }
        }
        _ => Failure::Error {
            message: e.to_string(),
        },
    }
}

/// Every kept table of the attached copy `before` against `main` after the migration: rows by
/// rowid (sorted rows for WITHOUT ROWID tables), and each kept column's values, as they were or
/// as the new type's affinity makes them (SQLite converts them, in a temporary table). Streamed
/// two cursors at a time.
fn compare_rows(
    conn: &Connection,
    changes: &crate::Changes,
    types_before: &BTreeMap<String, BTreeMap<String, String>>,
    failures: &mut Vec<Failure>,
) -> Result<()> {
    let dropped: BTreeSet<&str> = changes.dropped_tables.iter().map(String::as_str).collect();
    let after: BTreeMap<String, (String, Vec<String>)> = tables_of(conn, "main")?
        .into_iter()
        .map(|(key, name, _, cols)| (key, (name, cols)))
        .collect();
    for (t, name, wr, cols) in tables_of(conn, "before")? {
        if dropped.contains(t.as_str()) {
            continue;
        }
        let alter = changes.altered_tables.iter().find(|a| a.from == t);
        let to = alter.map_or(t.clone(), |a| a.to.clone());
        let Some((name2, cols2)) = after.get(&to) else {
            continue;
        };
        let (old_t, new_t) = (format!("before.{}", q(&name)), format!("main.{}", q(name2)));
        if let Some(lost) = rows_lost(conn, &old_t, &new_t, wr, name2)? {
            failures.push(lost);
            continue;
        }
        let types_after = column_types(conn, name2);
        let kept = kept_columns(&cols, cols2, alter, types_before.get(&t), &types_after);
        if kept.is_empty() {
            continue;
        }
        let bad = changed_values(conn, &old_t, &new_t, wr, &kept)?;
        for ((rows, examples), (_, c2, _)) in bad.into_iter().zip(&kept) {
            if rows > 0 {
                failures.push(Failure::ValuesChanged {
                    table: name2.clone(),
                    column: c2.clone(),
                    rows,
                    examples,
                });
            }
        }
    }
    Ok(())
}

/// A column kept by the migration: its old name, its new name, and its new type when the
/// type's affinity differs.
type KeptColumn = (String, String, Option<String>);

/// `RowsLost` for the table `name` (`old_t` before, `new_t` after) when it has fewer rows, or
/// rowids that are gone (up to 5 named; a WITHOUT ROWID table is counted only).
fn rows_lost(
    conn: &Connection,
    old_t: &str,
    new_t: &str,
    without_rowid: bool,
    name: &str,
) -> Result<Option<Failure>> {
    let count = |table: &str| -> Result<usize> {
        Ok(
            conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| {
                r.get::<_, i64>(0)
            })? as usize,
        )
    };
    let (n_before, n_after) = (count(old_t)?, count(new_t)?);
    let missing: Vec<String> = if without_rowid {
        Vec::new()
    } else {
        conn.prepare(&format!("SELECT rowid FROM {old_t} WHERE rowid NOT IN (SELECT rowid FROM {new_t}) ORDER BY rowid LIMIT 5"))?
            .query_map([], |r| r.get::<_, i64>(0))?
            .map(|id| id.map(|id| format!("rowid {id}")))
            .collect::<Result<_, _>>()?
    };
    Ok(
        (n_after < n_before || !missing.is_empty()).then(|| Failure::RowsLost {
            table: name.to_string(),
            before: n_before,
            after: n_after,
            examples: missing,
        }),
    )
}

/// The columns `cols` of a table (before) that the migration keeps in `cols2` (after): not
/// dropped, followed through renames, and not given a declared value (changed as declared).
fn kept_columns(
    cols: &[String],
    cols2: &[String],
    alter: Option<&crate::diff::TableAlter>,
    types_before: Option<&BTreeMap<String, String>>,
    types_after: &BTreeMap<String, String>,
) -> Vec<KeptColumn> {
    let mut kept: Vec<KeptColumn> = Vec::new();
    for c in cols {
        let key = c.to_ascii_lowercase();
        if alter.is_some_and(|a| a.dropped_columns.contains(&key)) {
            continue;
        }
        let new = alter
            .and_then(|a| {
                a.column_renames
                    .iter()
                    .find(|(o, _)| *o == key)
                    .map(|(_, n)| n.clone())
            })
            .unwrap_or(key.clone());
        if alter.is_some_and(|a| a.values.contains_key(&new)) {
            continue; // changed as declared
        }
        let Some(c2) = cols2.iter().find(|x| x.eq_ignore_ascii_case(&new)) else {
            continue;
        };
        let ty_old = types_before
            .and_then(|m| m.get(&key))
            .cloned()
            .unwrap_or_default();
        let ty_new = types_after.get(&new).cloned().unwrap_or_default();
        let retype = (affinity(&ty_old) != affinity(&ty_new)).then_some(ty_new);
        kept.push((c.clone(), c2.clone(), retype));
    }
    kept
}

/// Per kept column, how many rows' values changed and up to 3 examples: the expected values
/// (the old ones, converted by SQLite where the type changed) against the migrated ones,
/// both sorted by rowid (by every column for a WITHOUT ROWID table).
fn changed_values(
    conn: &Connection,
    old_t: &str,
    new_t: &str,
    without_rowid: bool,
    kept: &[KeptColumn],
) -> Result<Vec<(usize, Vec<String>)>> {
    let key = if without_rowid { "NULL" } else { "rowid" };
    let old_list = kept
        .iter()
        .map(|(o, _, _)| q(o))
        .collect::<Vec<_>>()
        .join(", ");
    let source = if kept.iter().any(|k| k.2.is_some()) {
        let decl = kept
            .iter()
            .enumerate()
            .map(|(i, (_, _, ty))| format!("e{i} {}", ty.as_deref().unwrap_or("")))
            .collect::<Vec<_>>()
            .join(", ");
        conn.execute_batch(&format!(
            "DROP TABLE IF EXISTS temp._expected; CREATE TEMP TABLE _expected(rid, {decl}); INSERT INTO temp._expected SELECT {key}, {old_list} FROM {old_t};"
        ))?;
        let list = (0..kept.len())
            .map(|i| format!("e{i}"))
            .collect::<Vec<_>>()
            .join(", ");
        format!("SELECT rid, {list} FROM temp._expected")
    } else {
        format!("SELECT {key}, {old_list} FROM {old_t}")
    };
    let new_list = kept
        .iter()
        .map(|(_, n, _)| q(n))
        .collect::<Vec<_>>()
        .join(", ");
    let order = if without_rowid {
        (2..=kept.len() + 1)
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    } else {
        "1".to_string()
    };
    let mut a = conn.prepare(&format!("{source} ORDER BY {order}"))?;
    let mut b = conn.prepare(&format!(
        "SELECT {key}, {new_list} FROM {new_t} ORDER BY {order}"
    ))?;
    let bad = differences(&mut a, &mut b, kept.len())?;
    drop(a);
    drop(b);
    let _ = conn.execute_batch("DROP TABLE IF EXISTS temp._expected");
    Ok(bad)
}

/// The expected rows (`a`) against the migrated ones (`b`), each `(rowid or NULL, n values)`
/// in the same order, streamed two cursors at a time: per column, the rows whose value differs
/// and up to 3 examples.
fn differences(
    a: &mut rusqlite::Statement<'_>,
    b: &mut rusqlite::Statement<'_>,
    n: usize,
) -> Result<Vec<(usize, Vec<String>)>> {
    let mut ra = a.query([])?;
    let mut rb = b.query([])?;
    let fetch = |rows: &mut rusqlite::Rows<'_>| -> Result<Option<(Option<i64>, Vec<Value>)>> {
        Ok(match rows.next()? {
            Some(r) => Some((
                r.get(0)?,
                (1..=n)
                    .map(|i| r.get::<_, Value>(i))
                    .collect::<rusqlite::Result<_>>()?,
            )),
            None => None,
        })
    };
    let mut bad = vec![(0usize, Vec::<String>::new()); n];
    let mut y = fetch(&mut rb)?;
    while let Some((id, want)) = fetch(&mut ra)? {
        // The migrated row with the same rowid (WITHOUT ROWID: the next in order).
        while let (Some((Some(yid), _)), Some(id)) = (&y, id) {
            if *yid >= id {
                break;
            }
            y = fetch(&mut rb)?;
        }
        let Some((yid, got)) = &y else { break };
        if id.is_some() && *yid != id {
            continue; // lost: reported above
        }
        for (i, slot) in bad.iter_mut().enumerate() {
            if want[i] != got[i] {
                slot.0 += 1;
                if slot.1.len() < 3 {
                    slot.1.push(match id {
                        Some(id) => {
                            format!("rowid {id}: {} became {}", show(&want[i]), show(&got[i]))
                        }
                        None => format!("{} became {}", show(&want[i]), show(&got[i])),
                    });
                }
            }
        }
        y = fetch(&mut rb)?;
    }
    Ok(bad)
}

/// Split `sql` into statements at `;` outside strings, quoted names and comments; empty ones
/// dropped.
pub fn split_statements(sql: &str) -> Vec<String> {
    let b = sql.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            q @ (b'\'' | b'"' | b'`') => {
                i += 1;
                while i < b.len() && b[i] != q {
                    i += 1;
                }
            }
            b'[' => {
                while i < b.len() && b[i] != b']' {
                    i += 1;
                }
            }
            b'-' if b.get(i + 1) == Some(&b'-') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < b.len() && !(b[i] == b'*' && b[i + 1] == b'/') {
                    i += 1;
                }
                i += 1;
            }
            b';' => {
                out.push(sql[start..i].to_string());
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    out.push(sql[start.min(sql.len())..].to_string());
    out.into_iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !crate::sqltext::normalize_sql(s).is_empty())
        .collect()
}

/// A statement that no longer compiles against a schema: its number (from 1), text and
/// SQLite's reason.
#[derive(Debug, Clone, Serialize)]
pub struct BrokenQuery {
    pub number: usize,
    pub sql: String,
    pub reason: String,
}

/// Each statement of `queries` (`;`-separated; parameters `?`, `?N`, `:name`, `@name`, `$name`
/// left unbound) prepared on `conn`: those SQLite cannot compile, with its reason.
pub fn check_queries(conn: &Connection, queries: &str) -> Vec<BrokenQuery> {
    split_statements(queries)
        .into_iter()
        .enumerate()
        .filter_map(|(i, sql)| match conn.prepare(&sql) {
            Ok(_) => None,
            Err(e) => Some(BrokenQuery {
                number: i + 1,
                reason: crate::host::sqlite_message(&e),
                sql,
            }),
        })
        .collect()
}

/// [`check_queries`] against the declared schema `schema_sql` itself (loaded into a fresh
/// in-memory database).
pub fn check_queries_on_schema(schema_sql: &str, queries: &str) -> Result<Vec<BrokenQuery>> {
    let conn = Connection::open_in_memory()?;
    conn.execute_batch(schema_sql)?;
    Ok(check_queries(&conn, queries))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A database file with `before` attached: a copy of it as it is now.
    fn with_copy(sql: &str, rows: usize) -> (TempDb, TempDb, Connection) {
        let file = TempDb::new(None);
        let copy = TempDb(file.0.with_extension("before.db"));
        let conn = Connection::open(&file.0).unwrap();
        conn.execute_batch(sql).unwrap();
        let seeded = seed_rows(&conn, &SeedOptions { rows, seed: 0 }).unwrap();
        assert!(seeded.short().next().is_none(), "{seeded:?}");
        conn.execute("VACUUM INTO ?1", [copy.0.to_string_lossy().as_ref()])
            .unwrap();
        (file, copy, conn)
    }

    fn compare(conn: &Connection, copy: &TempDb, types: &[(&str, &str, &str)]) -> Vec<String> {
        let mut types_before: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for (t, c, ty) in types {
            types_before
                .entry(t.to_string())
                .or_default()
                .insert(c.to_string(), ty.to_string());
        }
        conn.execute("ATTACH ?1 AS before", [copy.0.to_string_lossy().as_ref()])
            .unwrap();
        let mut failures = Vec::new();
        compare_rows(
            conn,
            &crate::Changes::default(),
            &types_before,
            &mut failures,
        )
        .unwrap();
        conn.execute_batch("DETACH before").unwrap();
        failures.iter().map(|f| f.to_string()).collect()
    }

    /// What no migration by the ordinary sequence does, done by hand after one: the checks
    /// must name it.
    #[test]
    fn lost_rows_and_changed_values_are_named() {
        let (_f, copy, conn) = with_copy(
            "CREATE TABLE p(id INTEGER PRIMARY KEY, name TEXT);
             CREATE TABLE c(id INTEGER PRIMARY KEY, p_id INTEGER REFERENCES p(id), n INT);
             CREATE TABLE w(a TEXT PRIMARY KEY, b INT) WITHOUT ROWID;",
            10,
        );
        conn.execute_batch(
            "DELETE FROM c WHERE id = 4; UPDATE p SET name = 'x' WHERE id = 2; UPDATE w SET b = -1 WHERE a = 'v3';",
        )
        .unwrap();
        let text = compare(&conn, &copy, &[]);
        assert_eq!(text.len(), 3, "{text:?}");
        assert!(
            text.iter()
                .any(|f| f == "rows lost: c had 10 row(s), has 9 (missing: rowid 4)"),
            "{text:?}"
        );
        assert!(
            text.iter()
                .any(|f| f.starts_with("values changed: p.name in 1 row(s)")
                    && f.contains("rowid 2: 'v1' became 'x'")),
            "{text:?}"
        );
        assert!(
            text.iter()
                .any(|f| f.starts_with("values changed: w.b in 1 row(s)")),
            "{text:?}"
        );
    }

    /// A change of type is explained by its affinity: TEXT '12' becomes INTEGER 12, and
    /// nothing else is accepted.
    #[test]
    fn a_new_type_converts_values_by_its_affinity() {
        let (_f, copy, conn) = with_copy(
            "CREATE TABLE t(id INTEGER PRIMARY KEY, n TEXT);
             INSERT INTO t VALUES (1, '12'), (2, 'v1'), (3, '3.0');",
            0,
        );
        conn.execute_batch(
            "CREATE TABLE t2(id INTEGER PRIMARY KEY, n INTEGER); INSERT INTO t2 SELECT * FROM t;
             DROP TABLE t; ALTER TABLE t2 RENAME TO t;",
        )
        .unwrap();
        let got: Vec<Value> = conn
            .prepare("SELECT n FROM t ORDER BY id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(
            got,
            vec![
                Value::Integer(12),
                Value::Text("v1".into()),
                Value::Integer(3)
            ]
        );
        assert_eq!(
            compare(&conn, &copy, &[("t", "n", "TEXT")]),
            Vec::<String>::new()
        );
        conn.execute_batch("UPDATE t SET n = 13 WHERE id = 1")
            .unwrap();
        let text = compare(&conn, &copy, &[("t", "n", "TEXT")]);
        assert_eq!(text.len(), 1, "{text:?}");
        assert!(text[0].contains("rowid 1: 12 became 13"), "{text:?}");
    }

    #[test]
    fn statements_split_outside_strings_and_comments() {
        let s =
            split_statements("SELECT ';' FROM t; -- a; b\nSELECT \"a;b\" FROM [x;y] /* ; */; ;");
        assert_eq!(s.len(), 2, "{s:?}");
        assert_eq!(s[0], "SELECT ';' FROM t");
    }
}
