//! Sharing the database: what a database holds that is not the declared schema's.
//!
//! Three kinds, from the most to the least certain:
//! - objects a **platform** makes in every database it opens ([`PLATFORM_OBJECTS`]:
//!   Android's `android_metadata`, Cloudflare's `_cf_*`, Litestream's `_litestream_*`):
//!   introspection never reads them (some cannot even be read), so they are never compared,
//!   dropped, fingerprinted or printed;
//! - objects the user says are not the schema's, by name pattern ([`Ignore`]: `--ignore GLOB`,
//!   `-- liteshift:ignore GLOB`): read like any object, then carried into the target unchanged
//!   ([`carry_ignored`]), so the planner leaves them as they are — and when it rebuilds a table,
//!   it recreates the ignored indexes and triggers on it like any other;
//! - with `keep_undeclared`, everything the declaration does not mention ([`keep_undeclared`]):
//!   an undeclared table, index, view or trigger is carried into the target, and an undeclared
//!   column into its declared table's definition, so nothing is dropped.
//!
//! This module owns the platform list, name matching and those two transformations of the
//! target. It never plans a step and never reads a row: the planner and apply see an ordinary
//! target, and apply's verification holds the database to it.

use crate::diff::{Action, Changes, ObjectChange};
use crate::error::{Error, Result};
use crate::introspect::parse_table;
use crate::model::{Schema, Table, TableDef};
use crate::sqltext::column_definitions;

/// A name, or every name with a prefix (compared ASCII case-insensitively, as SQLite compares
/// names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameMatch {
    Exact(&'static str),
    Prefix(&'static str),
}

impl NameMatch {
    fn matches(self, name: &str) -> bool {
        match self {
            NameMatch::Exact(n) => name.eq_ignore_ascii_case(n),
            NameMatch::Prefix(p) => name
                .get(..p.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(p)),
        }
    }

    /// A `LIKE` pattern for SQL (with `\` as the escape character).
    fn like(self) -> String {
        let escape = |s: &str| {
            s.replace('\\', "\\\\")
                .replace('_', "\\_")
                .replace('%', "\\%")
        };
        match self {
            NameMatch::Exact(n) => escape(n),
            NameMatch::Prefix(p) => format!("{}%", escape(p)),
        }
    }
}

/// An object a platform creates in the databases it opens.
#[derive(Debug, Clone, Copy)]
pub struct PlatformObject {
    pub name: NameMatch,
    /// Who makes it, for messages.
    pub platform: &'static str,
}

/// Objects that platforms make in every database they open, and that are never part of a
/// declared schema (SQLite's own `sqlite_*` objects are left out the same way).
pub const PLATFORM_OBJECTS: &[PlatformObject] = &[
    PlatformObject {
        name: NameMatch::Exact("android_metadata"),
        platform: "Android (SQLiteOpenHelper and Room store the locale there)",
    },
    PlatformObject {
        name: NameMatch::Prefix("_cf_"),
        platform: "Cloudflare (D1's _cf_METADATA, Durable Objects' _cf_KV)",
    },
    PlatformObject {
        name: NameMatch::Exact("d1_migrations"),
        platform: "Cloudflare wrangler (`wrangler d1 migrations apply` records the files it applied there)",
    },
    PlatformObject {
        name: NameMatch::Prefix("_litestream_"),
        platform: "Litestream (_litestream_seq, _litestream_lock)",
    },
];

/// Whether a platform may own an object whose name starts with `first` (a cheap test before
/// [`platform_of`], for a name not yet unquoted).
pub(crate) fn platform_may_own(first: u8) -> bool {
    PLATFORM_OBJECTS.iter().any(|p| {
        let (NameMatch::Exact(n) | NameMatch::Prefix(n)) = p.name;
        n.as_bytes()
            .first()
            .is_some_and(|b| b.eq_ignore_ascii_case(&first))
    })
}

/// The platform that owns objects named `name`, if one does.
pub fn platform_of(name: &str) -> Option<&'static str> {
    PLATFORM_OBJECTS
        .iter()
        .find(|p| p.name.matches(name))
        .map(|p| p.platform)
}

/// A SQL condition true for names (the expression `column`) no platform owns.
pub(crate) fn not_platform_sql(column: &str) -> String {
    PLATFORM_OBJECTS
        .iter()
        .map(|p| format!("{column} NOT LIKE '{}' ESCAPE '\\'", p.name.like()))
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// Name patterns of objects the user says are not the schema's: SQLite `GLOB` syntax (`*`,
/// `?`, `[abc]`, `[!abc]`), matched against object names ignoring ASCII case, as SQLite
/// compares names.
#[derive(Debug, Clone, Default)]
pub struct Ignore {
    patterns: Vec<(String, glob::Pattern)>,
}

impl Ignore {
    /// Compile `patterns`; a malformed one is an error naming it.
    pub fn new<'a>(patterns: impl IntoIterator<Item = &'a str>) -> Result<Ignore> {
        let mut out = Ignore::default();
        for p in patterns {
            if out.patterns.iter().any(|(q, _)| q == p) {
                continue;
            }
            let compiled = glob::Pattern::new(p).map_err(|e| {
                Error::InvalidOption(format!(
                    "ignore pattern `{p}`: {}; use * and ? as wildcards and [..] for a set",
                    e.msg
                ))
            })?;
            out.patterns.push((p.to_string(), compiled));
        }
        Ok(out)
    }

    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// The first pattern that matches `name`.
    pub fn matching(&self, name: &str) -> Option<&str> {
        let opts = glob::MatchOptions {
            case_sensitive: false,
            require_literal_separator: false,
            require_literal_leading_dot: false,
        };
        self.patterns
            .iter()
            .find(|(_, p)| p.matches_with(name, opts))
            .map(|(text, _)| text.as_str())
    }

    /// The pattern that makes an object not the schema's: one matching its own name or, for an
    /// index or trigger, its table's.
    pub fn matching_object(&self, name: &str, table: Option<&str>) -> Option<&str> {
        self.matching(name)
            .or_else(|| table.and_then(|t| self.matching(t)))
    }
}

/// Carry every object of `current` that `ignore` matches into `target`, unchanged: the diff
/// then sees no difference in it, and a rebuild of its table recreates it.
pub fn carry_ignored(current: &Schema, target: &mut Schema, ignore: &Ignore) {
    if ignore.is_empty() {
        return;
    }
    for (k, t) in &current.tables {
        if ignore.matching(&t.name).is_some() {
            target.tables.entry(k.clone()).or_insert_with(|| t.clone());
        }
    }
    for (k, i) in &current.indexes {
        if ignore.matching_object(&i.name, Some(&i.table)).is_some() {
            target.indexes.entry(k.clone()).or_insert_with(|| i.clone());
        }
    }
    for (k, v) in &current.views {
        if ignore.matching(&v.name).is_some() {
            target.views.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    for (k, g) in &current.triggers {
        if ignore.matching_object(&g.name, Some(&g.table)).is_some() {
            target
                .triggers
                .entry(k.clone())
                .or_insert_with(|| g.clone());
        }
    }
}

/// Carry what `changes` would drop from `current` into `target` instead: undeclared tables,
/// indexes, views and triggers as they are, and each undeclared column of a declared table
/// appended to the table's declared definition (its values are then kept, natively or by the
/// rebuild). Returns what was kept, one line each ("table extra", "column t.old").
///
/// A column that cannot join its declared table's definition (it is in the primary key the
/// declaration replaces) is refused by name: never a silent loss.
pub fn keep_undeclared(
    current: &Schema,
    target: &mut Schema,
    changes: &Changes,
) -> Result<Vec<String>> {
    let mut kept = Vec::new();
    for k in &changes.dropped_tables {
        let t = &current.tables[k];
        target.tables.insert(k.clone(), t.clone());
        kept.push(format!("table {}", t.name));
    }
    for a in &changes.altered_tables {
        if a.dropped_columns.is_empty() {
            continue;
        }
        let (c, t) = (&current.tables[&a.from], &target.tables[&a.to]);
        let merged = with_columns(c, t, &a.dropped_columns)?;
        for col in &a.dropped_columns {
            let name = c.column(col).map_or(col.as_str(), |x| x.name.as_str());
            kept.push(format!("column {}.{name}", t.name));
        }
        target.tables.insert(a.to.clone(), merged);
    }
    let dropped = |list: &[ObjectChange]| -> Vec<String> {
        list.iter()
            .filter(|c| c.action == Action::Drop)
            .map(|c| c.name.clone())
            .collect()
    };
    for k in dropped(&changes.indexes) {
        let i = &current.indexes[&k];
        target.indexes.insert(k, i.clone());
        kept.push(format!("index {}", i.name));
    }
    for k in dropped(&changes.views) {
        let v = &current.views[&k];
        target.views.insert(k, v.clone());
        kept.push(format!("view {}", v.name));
    }
    for k in dropped(&changes.triggers) {
        let g = &current.triggers[&k];
        target.triggers.insert(k, g.clone());
        kept.push(format!("trigger {}", g.name));
    }
    Ok(kept)
}

/// The declared table `t` with the current table `c`'s columns `keys` appended to its
/// definition, each as `c` defines it.
fn with_columns(c: &Table, t: &Table, keys: &[String]) -> Result<Table> {
    let refuse = |why: &str| {
        let names: Vec<String> = keys.iter().map(|k| format!("{}.{k}", t.name)).collect();
        Error::InvalidOption(format!(
            "cannot keep undeclared column(s) {} of {}: {why}; declare them, or migrate without --keep-undeclared to drop them",
            names.join(", "),
            t.name
        ))
    };
    let (Some(cc), Some(tc)) = (c.canon(), t.canon()) else {
        return Err(refuse("liteshift cannot read the table's definition"));
    };
    let mut defs = Vec::new();
    let mut columns = t.columns.clone();
    for k in keys {
        let (Some(def), Some(col)) = (cc.column_sql.get(k), c.column(k)) else {
            return Err(refuse("liteshift cannot read the column's definition"));
        };
        defs.push(def.as_str());
        columns.push(crate::model::Column {
            pk: 0,
            ..col.clone()
        });
    }
    let sql = appended_columns(&t.sql, &defs)
        .ok_or_else(|| refuse("liteshift cannot read the declared definition"))?;
    let canon =
        parse_table(&sql).ok_or_else(|| refuse("the definition they make cannot be read"))?;
    if canon.primary_key != tc.primary_key || canon.options != tc.options {
        return Err(refuse(
            "they are part of a primary key the declaration replaces",
        ));
    }
    Ok(Table {
        sql,
        columns,
        def: TableDef::Parsed(canon),
        ..t.clone()
    })
}

/// `create` (a `CREATE TABLE`) with the column definitions `defs` after its last column.
fn appended_columns(create: &str, defs: &[&str]) -> Option<String> {
    let last = *column_definitions(create)?.last()?;
    let end = last.as_ptr() as usize - create.as_ptr() as usize + last.len();
    let mut out = String::with_capacity(create.len() + 64);
    out.push_str(&create[..end]);
    for d in defs {
        out.push_str(", ");
        out.push_str(d);
    }
    out.push_str(&create[end..]);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_names() {
        assert!(platform_of("android_metadata").is_some());
        assert!(platform_of("Android_Metadata").is_some());
        assert!(platform_of("_cf_KV").is_some());
        assert!(platform_of("_CF_METADATA").is_some());
        assert!(platform_of("_litestream_seq").is_some());
        assert!(platform_of("cf_kv").is_none());
        assert!(platform_of("android_metadata2").is_none());
        assert_eq!(NameMatch::Prefix("_cf_").like(), "\\_cf\\_%");
    }

    #[test]
    fn ignore_patterns_match_names_ignoring_case() {
        let i = Ignore::new(["_sqlx_*", "audit_?", "tmp[0-9]"]).unwrap();
        assert_eq!(i.matching("_SQLX_migrations"), Some("_sqlx_*"));
        assert_eq!(i.matching("audit_1"), Some("audit_?"));
        assert_eq!(i.matching("audit_12"), None);
        assert_eq!(i.matching("tmp7"), Some("tmp[0-9]"));
        assert_eq!(i.matching_object("idx", Some("audit_x")), Some("audit_?"));
        assert!(Ignore::new(["[a"]).is_err());
    }

    #[test]
    fn columns_are_appended_after_the_last_column() {
        let sql = "CREATE TABLE t(\n  id INTEGER PRIMARY KEY,\n  a TEXT, -- note\n  UNIQUE (a)\n)";
        assert_eq!(
            appended_columns(sql, &["old TEXT DEFAULT 'x'"]).unwrap(),
            "CREATE TABLE t(\n  id INTEGER PRIMARY KEY,\n  a TEXT, old TEXT DEFAULT 'x', -- note\n  UNIQUE (a)\n)"
        );
    }
}
