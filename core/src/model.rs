//! The schema model: what introspection produces and what diff compares.
//!
//! Every map is a `BTreeMap` keyed by the object's *name key* (unquoted, ASCII lower-cased), so
//! iteration order — and therefore every plan — is deterministic.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

/// A whole database schema (the `main` database), user objects only.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Schema {
    pub tables: BTreeMap<String, Table>,
    pub indexes: BTreeMap<String, Index>,
    pub views: BTreeMap<String, View>,
    pub triggers: BTreeMap<String, Trigger>,
    /// Name keys of the objects whose stored text SQLite's own `ALTER TABLE … RENAME COLUMN`
    /// and `DROP COLUMN` rewrite, wherever in the schema they run: their double-quoted string
    /// literals become single-quoted. Found by a probe when a declared schema is loaded (see
    /// `declared`); empty for a live database. Not part of the schema's meaning.
    #[serde(skip)]
    pub rewritten_by_alter: BTreeSet<String>,
    /// What an interrupted online rebuild left in the database (its shadow tables, change
    /// logs, mirror triggers and the registry naming them; see [`crate::plan::Online`]). Not part of
    /// the schema's meaning (nor of its fingerprint): every plan removes them first.
    pub leftovers: Vec<Leftover>,
    /// How far the copies of that interrupted online rebuild got, from its registry: an
    /// online plan the same as the interrupted one resumes them (see
    /// [`crate::plan::OnlineTable::resumed`]).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub copies: Vec<CopyProgress>,
}

/// An object of an online rebuild, as its registry `_liteshift_online` names it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Leftover {
    /// `table`, `index` or `trigger`.
    pub kind: String,
    pub name: String,
    /// Its text in `sqlite_schema`: what a plan compares with the statement it would run.
    #[serde(skip)]
    pub sql: Option<String>,
}

/// One table's copy in an online rebuild's registry: the rowids its table had when the
/// mirror triggers were created (`None`: it was empty), and the last rowid copied, recorded
/// in each chunk's transaction (`None`: no chunk committed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CopyProgress {
    /// The shadow table the rows are copied into.
    pub shadow: String,
    pub range: Option<(i64, i64)>,
    pub copied: Option<i64>,
}

/// The registry of an online rebuild in progress: one row (kind, name) per object it created.
pub const ONLINE_REGISTRY: &str = "_liteshift_online";

impl Schema {
    /// Number of user objects.
    pub fn object_count(&self) -> usize {
        self.tables.len() + self.indexes.len() + self.views.len() + self.triggers.len()
    }

    /// Whether a user object has this name key.
    pub fn has_object(&self, key: &str) -> bool {
        self.tables.contains_key(key)
            || self.indexes.contains_key(key)
            || self.views.contains_key(key)
            || self.triggers.contains_key(key)
    }

    /// The fingerprint of the schema as stored: each object's kind, name and `sqlite_schema.sql`
    /// text (the sum of one XXH3-64 per object). A plan carries it, and apply refuses a plan whose
    /// database no longer has it: any change to the stored schema — a space in a `CREATE`
    /// included — since the plan was made.
    pub fn stored_fingerprint(&self) -> String {
        let mut f = StoredFingerprint::default();
        for t in self.tables.values() {
            f.add(t.sql.as_bytes());
        }
        for i in self.indexes.values() {
            f.add(i.sql.as_bytes());
        }
        for v in self.views.values() {
            f.add(v.sql.as_bytes());
        }
        for t in self.triggers.values() {
            f.add(t.sql.as_bytes());
        }
        f.finish()
    }

    /// A stable fingerprint of the schema's meaning (normalised definitions, not raw text): two
    /// schemas that mean the same (spacing, comments, keyword case aside) have the same.
    pub fn fingerprint(&self) -> String {
        let mut h = Fnv::new();
        for (k, t) in &self.tables {
            h.write(b"T");
            h.write(k.as_bytes());
            h.write(t.def.fingerprint_text().as_bytes());
        }
        for (k, i) in &self.indexes {
            h.write(b"I");
            h.write(k.as_bytes());
            h.write(i.norm.as_bytes());
        }
        for (k, v) in &self.views {
            h.write(b"V");
            h.write(k.as_bytes());
            h.write(v.norm.as_bytes());
        }
        for (k, t) in &self.triggers {
            h.write(b"G");
            h.write(k.as_bytes());
            h.write(t.norm.as_bytes());
        }
        format!("{:016x}", h.0)
    }
}

/// The fingerprint of a stored schema, built from its objects in any order: the wrapping sum
/// of one XXH3-64 per object's stored text (which names the object and says its kind). The
/// same objects give the same figure whether they come from a model
/// ([`Schema::stored_fingerprint`]) or straight from `sqlite_schema` rows (the in-sync
/// start-up, which reads nothing else).
#[derive(Debug, Default, Clone, Copy)]
pub struct StoredFingerprint(u64);

impl StoredFingerprint {
    pub fn add(&mut self, sql: &[u8]) {
        self.0 = self.0.wrapping_add(xxhash_rust::xxh3::xxh3_64(sql));
    }

    pub fn finish(self) -> String {
        format!("{:016x}", self.0)
    }
}

/// FNV-1a 64: a tiny, stable, dependency-free hash for fingerprints (not for security).
struct Fnv(u64);
impl Fnv {
    fn new() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes.iter().chain(std::iter::once(&0xffu8)) {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Table {
    /// Name as SQLite reports it.
    pub name: String,
    /// `CREATE` text as stored in `sqlite_schema`.
    pub sql: String,
    /// Position in `sqlite_schema` (creation order).
    pub seq: i64,
    /// `None` for an ordinary table, the module name for a virtual table.
    pub virtual_module: Option<String>,
    /// Columns as `PRAGMA table_xinfo` reports them (empty for virtual tables).
    pub columns: Vec<Column>,
    pub without_rowid: bool,
    pub strict: bool,
    pub autoincrement: bool,
    /// The normalised definition that diff compares.
    pub def: TableDef,
}

impl Table {
    pub fn is_virtual(&self) -> bool {
        self.virtual_module.is_some()
    }
    pub fn column(&self, key: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.key() == key)
    }
    /// The parsed definition, when the parser understood the table.
    pub fn canon(&self) -> Option<&CanonTable> {
        match &self.def {
            TableDef::Parsed(c) => Some(c),
            TableDef::Text(_) => None,
        }
    }
    /// Whether the table has a rowid (ordinary, not WITHOUT ROWID).
    pub fn has_rowid(&self) -> bool {
        !self.is_virtual() && !self.without_rowid
    }
    /// The INTEGER PRIMARY KEY column that aliases the rowid, if any.
    pub fn rowid_alias(&self) -> Option<&Column> {
        if !self.has_rowid() {
            return None;
        }
        let pks: Vec<&Column> = self.columns.iter().filter(|c| c.pk > 0).collect();
        if pks.len() == 1 && pks[0].decl_type.eq_ignore_ascii_case("INTEGER") {
            let desc_col_pk = self
                .canon()
                .and_then(|c| c.primary_key.as_ref())
                .map(|p| p.column_level && p.text.contains(" desc"))
                .unwrap_or(false);
            if !desc_col_pk {
                return Some(pks[0]);
            }
        }
        None
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Column {
    pub name: String,
    pub decl_type: String,
    pub not_null: bool,
    pub default: Option<String>,
    /// 1-based position in the primary key, 0 when not part of it.
    pub pk: u32,
    pub generated: Generated,
}

impl Column {
    pub fn key(&self) -> String {
        self.name.to_ascii_lowercase()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Generated {
    No,
    Virtual,
    Stored,
}

/// A table definition as diff compares it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TableDef {
    /// Parsed into canonical parts.
    Parsed(CanonTable),
    /// The parser could not read it (or it is a virtual table): normalised token text.
    Text(String),
}

impl TableDef {
    fn fingerprint_text(&self) -> String {
        match self {
            TableDef::Parsed(c) => {
                let mut cols: Vec<String> = c.columns.iter().map(|c| format!("{c:?}")).collect();
                cols.sort();
                format!(
                    "{cols:?}{:?}{:?}{:?}{:?}{:?}",
                    c.primary_key, c.uniques, c.checks, c.foreign_keys, c.options
                )
            }
            TableDef::Text(t) => t.clone(),
        }
    }
}

/// The canonical parts of a parsed `CREATE TABLE`. Column-level PRIMARY KEY, UNIQUE, CHECK and
/// REFERENCES are lifted to table level, so `a INT UNIQUE` equals `a INT, UNIQUE(a)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CanonTable {
    /// In declared order.
    pub columns: Vec<CanonColumn>,
    pub primary_key: Option<PrimaryKey>,
    /// Sorted normalised `UNIQUE` constraints.
    pub uniques: Vec<String>,
    /// Sorted CHECK constraints.
    pub checks: Vec<Check>,
    /// Sorted normalised foreign keys.
    pub foreign_keys: Vec<String>,
    /// `strict`, `without rowid` (normalised, sorted, comma-separated).
    pub options: String,
    /// Column key -> the column definition as SQL (for `ADD COLUMN`).
    #[serde(skip)]
    pub column_sql: BTreeMap<String, String>,
    /// Column key -> the foreign keys declared on that column (`REFERENCES` in its
    /// definition, so an `ADD COLUMN` of it carries them), normalised as in `foreign_keys`.
    #[serde(skip)]
    pub column_fks: BTreeMap<String, Vec<String>>,
}

impl CanonTable {
    pub fn column(&self, key: &str) -> Option<&CanonColumn> {
        self.columns.iter().find(|c| c.key == key)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PrimaryKey {
    /// Normalised text: columns, order, conflict clause, AUTOINCREMENT.
    pub text: String,
    /// Declared on the column (`id INTEGER PRIMARY KEY`) rather than as a table constraint.
    #[serde(skip)]
    pub column_level: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// Normalised expression (and conflict clause).
    pub expr: String,
    /// Constraint name key, if named.
    pub name: Option<String>,
    /// The expression as SQL, for `ADD CONSTRAINT ... CHECK (...)`.
    #[serde(skip)]
    pub sql: String,
    /// The constraint name as declared (for SQL).
    #[serde(skip)]
    pub raw_name: Option<String>,
    /// The column key, when declared on a column.
    #[serde(skip)]
    pub column: Option<String>,
}

// A check's identity is its normalised expression and name; the raw SQL is for rendering.
impl PartialEq for Check {
    fn eq(&self, o: &Self) -> bool {
        (&self.expr, &self.name) == (&o.expr, &o.name)
    }
}
impl Eq for Check {}
impl PartialOrd for Check {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Check {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (&self.expr, &self.name).cmp(&(&o.expr, &o.name))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CanonColumn {
    /// Name key (lower-cased).
    pub key: String,
    pub name: String,
    /// Declared type, upper-cased and whitespace-folded ("" when typeless).
    pub decl_type: String,
    /// `Some(conflict clause)` when NOT NULL.
    pub not_null: Option<String>,
    pub default: Option<String>,
    pub collate: Option<String>,
    /// Normalised generated-column expression and `stored`/`virtual`.
    pub generated: Option<String>,
}

impl CanonColumn {
    /// Equal in everything but NOT NULL.
    pub fn same_except_not_null(&self, o: &CanonColumn) -> bool {
        self.decl_type == o.decl_type
            && self.default == o.default
            && self.collate == o.collate
            && self.generated == o.generated
    }
    pub fn same_definition(&self, o: &CanonColumn) -> bool {
        self.same_except_not_null(o) && self.not_null == o.not_null
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Index {
    pub name: String,
    pub table: String,
    pub sql: String,
    pub seq: i64,
    pub unique: bool,
    pub norm: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct View {
    pub name: String,
    pub sql: String,
    pub seq: i64,
    pub norm: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Trigger {
    pub name: String,
    pub table: String,
    pub sql: String,
    pub seq: i64,
    pub norm: String,
}
