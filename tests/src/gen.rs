//! Random schema *pairs* (a, b): `a` is a random schema, `b` is `a` after random edits, so the
//! pair shares most objects. Driven by an [`Entropy`] source: a seeded PRNG for proptest, raw
//! fuzzer bytes for cargo-fuzz. Every generated schema is valid SQLite (the generator keeps
//! foreign keys, indexes, views and generated columns pointing at things that exist).

/// A source of random choices.
pub trait Entropy {
    fn next_u64(&mut self) -> u64;
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

/// SplitMix64.
pub struct Seeded(pub u64);
impl Entropy for Seeded {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// Fuzzer bytes, eight at a time; zeros once they run out.
pub struct FromBytes<'a>(pub &'a [u8]);
impl Entropy for FromBytes<'_> {
    fn next_u64(&mut self) -> u64 {
        let n = self.0.len().min(8);
        let mut buf = [0u8; 8];
        buf[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        u64::from_le_bytes(buf)
    }
}

const TYPES: &[&str] = &[
    "INTEGER",
    "TEXT",
    "REAL",
    "BLOB",
    "NUMERIC",
    "VARCHAR(10)",
    "UNSIGNED BIG INT",
    "",
    // Types whose declared text has spaces and parentheses: stored byte for byte.
    "DECIMAL(10, 2)",
    "VARCHAR (20)",
    "NATIVE CHARACTER(70)",
];
const STRICT_TYPES: &[&str] = &["INTEGER", "INT", "TEXT", "REAL", "BLOB", "ANY"];

#[derive(Debug, Clone)]
pub struct Col {
    pub name: String,
    pub ty: String,
    pub not_null: bool,
    pub default: Option<String>,
    pub check: Option<String>,
    pub collate: Option<String>,
    /// (expression, stored)
    pub generated: Option<(String, bool)>,
    pub unique: bool,
    /// Parent table of a `REFERENCES parent(id)`.
    pub references: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Table {
    pub name: String,
    /// `id INTEGER PRIMARY KEY` (rowid alias) first, when true.
    pub rowid_pk: bool,
    pub autoincrement: bool,
    /// Table-level PRIMARY KEY over these columns (when not `rowid_pk`).
    pub composite_pk: Vec<String>,
    pub without_rowid: bool,
    pub strict: bool,
    pub cols: Vec<Col>,
    /// Named table CHECK constraints (name, expression).
    pub checks: Vec<(String, String)>,
}

#[derive(Debug, Clone)]
pub struct Index {
    pub name: String,
    pub table: String,
    pub col: String,
    pub unique: bool,
    pub partial: bool,
    pub expr: bool,
}

#[derive(Debug, Clone, Default)]
pub struct Schema {
    pub tables: Vec<Table>,
    pub indexes: Vec<Index>,
    /// (view name, table, columns)
    pub views: Vec<(String, String, Vec<String>)>,
    /// (trigger name, table, the message of its RAISE as a double-quoted string literal)
    pub triggers: Vec<(String, String, bool)>,
    counter: usize,
}

fn is_int(ty: &str) -> bool {
    ty.contains("INT")
}

impl Schema {
    fn fresh(&mut self, prefix: &str) -> String {
        self.counter += 1;
        format!("{prefix}{}", self.counter)
    }

    fn table(&self, name: &str) -> Option<&Table> {
        self.tables.iter().find(|t| t.name == name)
    }

    fn new_col(&mut self, e: &mut dyn Entropy, t: &Table) -> Col {
        let name = self.fresh("c");
        let ty = if t.strict {
            STRICT_TYPES[e.below(STRICT_TYPES.len())]
        } else {
            TYPES[e.below(TYPES.len())]
        }
        .to_string();
        let mut col = Col {
            name: name.clone(),
            ty: ty.clone(),
            not_null: false,
            default: None,
            check: None,
            collate: None,
            generated: None,
            unique: false,
            references: None,
        };
        // A generated column over an existing integer column.
        let int_cols: Vec<String> = t
            .cols
            .iter()
            .filter(|c| is_int(&c.ty) && c.generated.is_none())
            .map(|c| c.name.clone())
            .collect();
        if !int_cols.is_empty() && e.chance(12) {
            let src = &int_cols[e.below(int_cols.len())];
            col.ty = "INTEGER".into();
            col.generated = Some((format!("{src} * 2 + 1"), e.chance(50)));
            return col;
        }
        // A foreign key to an earlier table with a rowid-alias key.
        let parents: Vec<String> = self
            .tables
            .iter()
            .filter(|p| p.rowid_pk && p.name != t.name)
            .map(|p| p.name.clone())
            .collect();
        if !parents.is_empty() && e.chance(15) {
            col.ty = "INTEGER".into();
            col.references = Some(parents[e.below(parents.len())].clone());
            return col;
        }
        // A foreign key to a table the schema does not declare (SQLite accepts it).
        if e.chance(3) {
            col.ty = "INTEGER".into();
            col.references = Some(self.fresh("gone"));
            return col;
        }
        col.not_null = e.chance(25);
        if e.chance(40) || col.not_null {
            col.default = Some(
                if is_int(&ty) {
                    ["0", "7", "-1", "(1 + 1)", "(-1)", "(0)"][e.below(6)]
                } else if ty == "REAL" {
                    ["1.5", "0.0", "(2.5)"][e.below(3)]
                } else if ty == "TEXT" || ty.starts_with("VARCHAR") {
                    // Double-quoted string literals, as real apps declare them.
                    ["'x'", "''", "CURRENT_TIMESTAMP", "('x')", "\"\"", "\"y\""][e.below(6)]
                } else {
                    ["0", "'d'", "(NULL)"][e.below(3)]
                }
                .to_string(),
            );
            if t.strict && ty == "BLOB" {
                col.default = Some("x'00'".into());
            }
        }
        if e.chance(15) {
            col.check = Some(if is_int(&ty) {
                format!("{name} >= -1000")
            } else {
                format!("length({name}) < 1000")
            });
        }
        if (ty == "TEXT" || ty.starts_with("VARCHAR")) && e.chance(20) {
            col.collate = Some(["NOCASE", "RTRIM", "BINARY"][e.below(3)].into());
        }
        col.unique = e.chance(8);
        col
    }

    fn add_table(&mut self, e: &mut dyn Entropy) {
        let name = self.fresh("t");
        let mut t = Table {
            name,
            rowid_pk: e.chance(70),
            autoincrement: false,
            composite_pk: Vec::new(),
            without_rowid: false,
            strict: e.chance(15),
            cols: Vec::new(),
            checks: Vec::new(),
        };
        t.autoincrement = t.rowid_pk && e.chance(25);
        for _ in 0..1 + e.below(4) {
            let c = self.new_col(e, &t);
            t.cols.push(c);
        }
        if !t.rowid_pk && e.chance(60) {
            let cands: Vec<String> = t
                .cols
                .iter()
                .filter(|c| c.generated.is_none() && c.references.is_none())
                .map(|c| c.name.clone())
                .collect();
            if !cands.is_empty() {
                t.composite_pk = cands.into_iter().take(1 + e.below(2)).collect();
                t.without_rowid = e.chance(40);
                for c in &mut t.cols {
                    if t.composite_pk.contains(&c.name) {
                        c.not_null = true;
                        c.unique = false;
                        if c.default.is_none() {
                            c.default = Some("0".into());
                        }
                    }
                }
            }
        }
        if e.chance(15) {
            if let Some(c) = t
                .cols
                .iter()
                .find(|c| is_int(&c.ty) && c.generated.is_none())
            {
                let cn = self.fresh("ck");
                t.checks.push((cn, format!("{} <> 123456", c.name)));
            }
        }
        self.tables.push(t);
    }

    fn plain_cols(t: &Table) -> Vec<String> {
        t.cols
            .iter()
            .filter(|c| c.generated.is_none())
            .map(|c| c.name.clone())
            .collect()
    }

    fn add_index(&mut self, e: &mut dyn Entropy) {
        if self.tables.is_empty() {
            return;
        }
        let t = self.tables[e.below(self.tables.len())].clone();
        let cols = Self::plain_cols(&t);
        if cols.is_empty() {
            return;
        }
        let col = cols[e.below(cols.len())].clone();
        let name = self.fresh("ix");
        let ty = t
            .cols
            .iter()
            .find(|c| c.name == col)
            .map(|c| c.ty.clone())
            .unwrap_or_default();
        self.indexes.push(Index {
            name,
            table: t.name.clone(),
            col,
            unique: false,
            partial: e.chance(30),
            expr: ty == "TEXT" && e.chance(30),
        });
    }

    fn add_view(&mut self, e: &mut dyn Entropy) {
        if self.tables.is_empty() {
            return;
        }
        let t = self.tables[e.below(self.tables.len())].clone();
        let mut cols: Vec<String> = t.cols.iter().map(|c| c.name.clone()).collect();
        cols.truncate(1 + e.below(cols.len().max(1)));
        let name = self.fresh("v");
        self.views.push((name, t.name, cols));
    }

    fn add_trigger(&mut self, e: &mut dyn Entropy) {
        if self.tables.is_empty() {
            return;
        }
        let t = &self.tables[e.below(self.tables.len())];
        let tn = t.name.clone();
        let name = self.fresh("tr");
        let dq = e.chance(30);
        self.triggers.push((name, tn, dq));
    }

    /// A random schema.
    pub fn random(e: &mut dyn Entropy) -> Schema {
        let mut s = Schema::default();
        for _ in 0..1 + e.below(4) {
            s.add_table(e);
        }
        for _ in 0..e.below(4) {
            s.add_index(e);
        }
        for _ in 0..e.below(3) {
            s.add_view(e);
        }
        for _ in 0..e.below(3) {
            s.add_trigger(e);
        }
        s
    }

    /// Remove everything that mentions column `col` of table `t` (indexes, views, generated
    /// columns, checks), so that `col` can go.
    fn forget_column(&mut self, t: &str, col: &str) {
        self.indexes.retain(|i| !(i.table == t && i.col == col));
        self.views
            .retain(|v| !(v.1 == t && v.2.iter().any(|c| c == col)));
        if let Some(tb) = self.tables.iter_mut().find(|x| x.name == t) {
            tb.cols.retain(|c| {
                c.generated
                    .as_ref()
                    .map(|g| !g.0.split_whitespace().any(|w| w == col))
                    .unwrap_or(true)
            });
            tb.checks
                .retain(|k| !k.1.split_whitespace().any(|w| w == col));
            tb.composite_pk.retain(|c| c != col);
            if tb.composite_pk.is_empty() {
                tb.without_rowid = false;
            }
        }
    }

    /// Apply one random edit, keeping the schema valid.
    pub fn edit(&mut self, e: &mut dyn Entropy) {
        self.edit_once(e);
        // Dropping a column also drops the generated columns over it: never leave a table
        // without columns.
        for i in 0..self.tables.len() {
            if self.tables[i].cols.is_empty() {
                let t = self.tables[i].clone();
                let c = self.new_col(e, &t);
                self.tables[i].cols.push(c);
            }
        }
    }

    fn edit_once(&mut self, e: &mut dyn Entropy) {
        let n = self.tables.len();
        if n == 0 {
            self.add_table(e);
            return;
        }
        let ti = e.below(n);
        if self.tables[ti].cols.is_empty() {
            return;
        }
        match e.below(17) {
            0 => self.add_table(e),
            1 if n > 1 => {
                let t = self.tables.remove(ti).name;
                self.indexes.retain(|i| i.table != t);
                self.views.retain(|v| v.1 != t);
                self.triggers.retain(|x| x.1 != t);
                for other in &mut self.tables {
                    for c in &mut other.cols {
                        if c.references.as_deref() == Some(t.as_str()) {
                            c.references = None;
                        }
                    }
                }
            }
            2 | 3 => {
                let t = self.tables[ti].clone();
                let c = self.new_col(e, &t);
                self.tables[ti].cols.push(c);
            }
            4 => {
                let t = &self.tables[ti];
                if t.cols.len() > 1 {
                    let c = t.cols[e.below(t.cols.len())].name.clone();
                    let tn = t.name.clone();
                    self.forget_column(&tn, &c);
                    self.tables[ti].cols.retain(|x| x.name != c);
                }
            }
            5 => {
                let t = &mut self.tables[ti];
                let k = e.below(t.cols.len());
                let strict = t.strict;
                let c = &mut t.cols[k];
                if c.generated.is_none() && c.references.is_none() {
                    c.ty = if strict {
                        STRICT_TYPES[e.below(STRICT_TYPES.len())]
                    } else {
                        TYPES[e.below(TYPES.len())]
                    }
                    .into();
                    c.check = None;
                    c.collate = None;
                    if c.default.is_some() {
                        c.default = Some("0".into());
                    }
                }
            }
            6 => {
                let t = &mut self.tables[ti];
                let k = e.below(t.cols.len());
                let in_pk = t.composite_pk.contains(&t.cols[k].name);
                let c = &mut t.cols[k];
                if c.generated.is_none() && !in_pk {
                    c.not_null = !c.not_null;
                }
            }
            7 => {
                let t = &mut self.tables[ti];
                let k = e.below(t.cols.len());
                let c = &mut t.cols[k];
                if c.generated.is_none() && c.references.is_none() {
                    c.default = match &c.default {
                        Some(_) if !c.not_null => None,
                        _ => Some(if is_int(&c.ty) {
                            "42".into()
                        } else {
                            "'z'".into()
                        }),
                    };
                    if t.strict && c.ty == "BLOB" {
                        c.default = Some("x'01'".into());
                    }
                }
            }
            8 => {
                let t = &mut self.tables[ti];
                let k = e.below(t.cols.len());
                let c = &mut t.cols[k];
                if c.generated.is_none() {
                    let quote = if e.chance(30) { '"' } else { '\'' };
                    c.check = match c.check {
                        Some(_) => None,
                        None => Some(format!("{} IS NOT {quote}forbidden{quote}", c.name)),
                    };
                }
            }
            9 => {
                let t = &mut self.tables[ti];
                let k = e.below(t.cols.len());
                let c = &mut t.cols[k];
                if c.ty == "TEXT" {
                    c.collate = match c.collate {
                        Some(_) => None,
                        None => Some("NOCASE".into()),
                    };
                }
            }
            10 => {
                let t = &mut self.tables[ti];
                t.strict = !t.strict;
                if t.strict {
                    for c in &mut t.cols {
                        if !STRICT_TYPES.contains(&c.ty.as_str()) {
                            c.ty = if is_int(&c.ty) { "INTEGER" } else { "ANY" }.into();
                            c.collate = None;
                            if c.default.as_deref() == Some("CURRENT_TIMESTAMP") {
                                c.default = Some("'x'".into());
                            }
                        }
                    }
                }
            }
            11 => self.add_index(e),
            12 if !self.indexes.is_empty() => {
                let k = e.below(self.indexes.len());
                self.indexes.remove(k);
            }
            13 => self.add_view(e),
            14 if !self.views.is_empty() => {
                let k = e.below(self.views.len());
                self.views.remove(k);
            }
            15 => {
                // Reorder columns: not a change unless column order is significant.
                let t = &mut self.tables[ti];
                if t.cols.len() > 1 {
                    let k = e.below(t.cols.len());
                    let c = t.cols.remove(k);
                    t.cols.insert(0, c);
                }
            }
            16 if !self.triggers.is_empty() => {
                // The same message, single- or double-quoted: a difference.
                let k = e.below(self.triggers.len());
                self.triggers[k].2 = !self.triggers[k].2;
            }
            _ => self.add_trigger(e),
        }
    }

    /// Rename columns of table `t` by `map` (old name -> new name, applied at once, so a
    /// swap is two entries), everywhere the schema names them.
    fn rename_columns(&mut self, t: &str, map: &std::collections::BTreeMap<String, String>) {
        let words = |text: &str| -> String {
            let mut out = String::new();
            let mut word = String::new();
            for ch in text.chars().chain(std::iter::once(' ')) {
                if ch.is_ascii_alphanumeric() || ch == '_' {
                    word.push(ch);
                } else {
                    out.push_str(map.get(&word).unwrap_or(&word));
                    word.clear();
                    out.push(ch);
                }
            }
            out.pop();
            out
        };
        for i in self.indexes.iter_mut().filter(|i| i.table == t) {
            i.col = words(&i.col);
        }
        for v in self.views.iter_mut().filter(|v| v.1 == t) {
            v.2 = v.2.iter().map(|c| words(c)).collect();
        }
        if let Some(tb) = self.tables.iter_mut().find(|x| x.name == t) {
            for c in &mut tb.cols {
                c.name = words(&c.name);
                c.check = c.check.as_deref().map(words);
                if let Some(g) = &mut c.generated {
                    g.0 = words(&g.0);
                }
            }
            for k in &mut tb.checks {
                k.1 = words(&k.1);
            }
            tb.composite_pk = tb.composite_pk.iter().map(|c| words(c)).collect();
        }
    }

    /// A last edit: rename a column of a table `a` also has (to a new name, or swapping two
    /// names, or a chain `x→y, y→new`), returning the hints that declare it.
    fn rename_edit(&mut self, a: &Schema, e: &mut dyn Entropy) -> Vec<(String, String, String)> {
        let candidates: Vec<(String, Vec<String>)> = self
            .tables
            .iter()
            .filter_map(|t| {
                let at = a.table(&t.name)?;
                let both: Vec<String> = t
                    .cols
                    .iter()
                    .filter(|c| at.cols.iter().any(|x| x.name == c.name))
                    .map(|c| c.name.clone())
                    .collect();
                (!both.is_empty()).then(|| (t.name.clone(), both))
            })
            .collect();
        if candidates.is_empty() {
            return Vec::new();
        }
        let (t, cols) = candidates[e.below(candidates.len())].clone();
        let x = cols[e.below(cols.len())].clone();
        let others: Vec<&String> = cols.iter().filter(|c| **c != x).collect();
        let mut map = std::collections::BTreeMap::new();
        match (e.below(3), others.is_empty()) {
            (0, false) => {
                let y = others[e.below(others.len())].clone();
                map.insert(x.clone(), y.clone());
                map.insert(y, x);
            }
            (1, false) => {
                let y = others[e.below(others.len())].clone();
                map.insert(x, y.clone());
                map.insert(y, self.fresh("r"));
            }
            _ => {
                map.insert(x, self.fresh("r"));
            }
        }
        self.rename_columns(&t, &map);
        map.into_iter().map(|(o, n)| (t.clone(), o, n)).collect()
    }

    /// Render as SQL.
    pub fn sql(&self) -> String {
        let mut s = String::new();
        for t in &self.tables {
            let mut parts = Vec::new();
            if t.rowid_pk {
                parts.push(format!(
                    "id INTEGER PRIMARY KEY{}",
                    if t.autoincrement {
                        " AUTOINCREMENT"
                    } else {
                        ""
                    }
                ));
            }
            for c in &t.cols {
                let mut d = c.name.clone();
                if !c.ty.is_empty() {
                    d.push(' ');
                    d.push_str(&c.ty);
                }
                if let Some((g, stored)) = &c.generated {
                    d.push_str(&format!(
                        " GENERATED ALWAYS AS ({g}) {}",
                        if *stored { "STORED" } else { "VIRTUAL" }
                    ));
                    parts.push(d);
                    continue;
                }
                if c.not_null {
                    d.push_str(" NOT NULL");
                }
                if let Some(v) = &c.default {
                    d.push_str(&format!(" DEFAULT {v}"));
                }
                if c.unique {
                    d.push_str(" UNIQUE");
                }
                if let Some(k) = &c.check {
                    d.push_str(&format!(" CHECK ({k})"));
                }
                if let Some(k) = &c.collate {
                    d.push_str(&format!(" COLLATE {k}"));
                }
                if let Some(p) = &c.references {
                    d.push_str(&format!(" REFERENCES {p}(id) ON DELETE CASCADE"));
                }
                parts.push(d);
            }
            if !t.composite_pk.is_empty() {
                parts.push(format!("PRIMARY KEY ({})", t.composite_pk.join(", ")));
            }
            for (n, k) in &t.checks {
                parts.push(format!("CONSTRAINT {n} CHECK ({k})"));
            }
            let mut opts = Vec::new();
            if t.without_rowid && !t.composite_pk.is_empty() {
                opts.push("WITHOUT ROWID");
            }
            if t.strict {
                opts.push("STRICT");
            }
            s.push_str(&format!(
                "CREATE TABLE {} ({}){};\n",
                t.name,
                parts.join(", "),
                if opts.is_empty() {
                    String::new()
                } else {
                    format!(" {}", opts.join(", "))
                }
            ));
        }
        for i in &self.indexes {
            let Some(t) = self.table(&i.table) else {
                continue;
            };
            if !t.cols.iter().any(|c| c.name == i.col) {
                continue;
            }
            let target = if i.expr {
                format!("lower({})", i.col)
            } else {
                i.col.clone()
            };
            s.push_str(&format!(
                "CREATE {}INDEX {} ON {} ({target}){};\n",
                if i.unique { "UNIQUE " } else { "" },
                i.name,
                i.table,
                if i.partial {
                    format!(" WHERE {} IS NOT NULL", i.col)
                } else {
                    String::new()
                }
            ));
        }
        for (v, t, cols) in &self.views {
            s.push_str(&format!(
                "CREATE VIEW {v} AS SELECT {} FROM {t};\n",
                cols.join(", ")
            ));
        }
        for (tr, t, dq) in &self.triggers {
            let q = if *dq { '"' } else { '\'' };
            s.push_str(&format!(
                "CREATE TRIGGER {tr} AFTER UPDATE ON {t} BEGIN SELECT RAISE(ABORT, {q}no {tr}{q}) WHERE 0; END;\n"
            ));
        }
        s
    }
}

/// A generated pair: the schema a database has, the one declared, and the rename hints the
/// migration is given (column renames, swaps and chains).
#[derive(Debug, Clone)]
pub struct Pair {
    pub a: String,
    pub b: String,
    pub hints: liteshift::Hints,
}

/// Declared values for some of the stored columns `b` adds to a table of `a`: an expression
/// over the old row (a literal, the rowid, an old column or a function of one).
fn value_hints(
    a: &Schema,
    b: &Schema,
    renames: &[(String, String, String)],
    e: &mut dyn Entropy,
) -> Vec<liteshift::ValueHint> {
    let mut out = Vec::new();
    for tb in &b.tables {
        let Some(ta) = a.table(&tb.name) else {
            continue;
        };
        let old: Vec<&Col> = ta.cols.iter().filter(|c| c.generated.is_none()).collect();
        for c in &tb.cols {
            let renamed = renames.iter().any(|(t, _, n)| {
                t.eq_ignore_ascii_case(&tb.name) && n.eq_ignore_ascii_case(&c.name)
            });
            let added = !renamed && !ta.cols.iter().any(|x| x.name.eq_ignore_ascii_case(&c.name));
            if !added || c.generated.is_some() || !e.chance(60) {
                continue;
            }
            let pick = old.get(e.below(old.len().max(1))).map(|x| x.name.clone());
            let rowid = if ta.without_rowid { "1" } else { "rowid" };
            let expr = match (e.below(6), pick) {
                (0, _) | (_, None) if is_int(&c.ty) => format!("{}", e.below(100)),
                (0, _) | (_, None) => "'v'".to_string(),
                (1, _) => rowid.to_string(),
                (2, Some(p)) => format!("coalesce(\"{p}\", {rowid})"),
                (3, Some(p)) => format!("length(\"{p}\")"),
                (4, Some(p)) => format!("\"{p}\""),
                (_, Some(_)) => "NULL".to_string(),
            };
            out.push(liteshift::ValueHint {
                table: tb.name.clone(),
                column: c.name.clone(),
                expr,
                at: None,
            });
        }
    }
    out
}

/// A random pair (a, b) with `edits` random edits between them, and sometimes a last edit
/// that renames columns (declared by hints).
pub fn pair(e: &mut dyn Entropy, edits: usize) -> Pair {
    let a = Schema::random(e);
    let mut b = a.clone();
    for _ in 0..edits {
        b.edit(e);
    }
    let mut hints = liteshift::Hints::default();
    if e.chance(25) {
        for (t, o, n) in b.rename_edit(&a, e) {
            hints.columns.push((t, o, n));
        }
    }
    if e.chance(40) {
        hints.values = value_hints(&a, &b, &hints.columns, e);
    }
    Pair {
        a: a.sql(),
        b: b.sql(),
        hints,
    }
}
