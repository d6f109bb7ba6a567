//! Online rebuilds: an index of the shadow table built in key order after the copy, instead of
//! kept up to date by every chunk (which inserts its keys all over the index once they are not
//! in rowid order, and commits every page it touched). It owns the SQL of that build: the
//! helper table whose b-tree becomes the index, the sorted snapshot of the keys, the fill in
//! ranges of it, the drain's upkeep of the helper, and the swap's relabel.
//!
//! How: the index's b-tree is built as a `WITHOUT ROWID` table `(k1, …, r, PRIMARY KEY (k1, …,
//! r))` — the same b-tree format and the same records as `CREATE INDEX … ON t(k1, …)` (keys
//! then rowid) — filled in key order from a `TEMP` snapshot of the shadow's keys sorted once
//! (written outside the database's write lock), and given the index's name, table and text
//! in the swap with the `sqlite_schema` edit [`super::online::prebuilt_index`] makes. Rows
//! with a NULL key (which a `WITHOUT ROWID` key refuses) are listed in a second table instead,
//! and entered in the index by the swap (`UPDATE t SET k = k` on them, with
//! `writable_schema` on so that SQLite lets the missing old entry be).
//!
//! Why the helper holds exactly the shadow's keys at the swap: it only ever holds pairs
//! `(key, rowid)` that are the shadow's current ones. A shadow row changes only in a drain
//! (which removes the row's pair from the helper before and adds the new one after, the same
//! for the NULL list, and lists the rowid as *dirty*) or in a chunk's copy, which writes what
//! the drain just before it left (the same values). So a row that is not dirty still has the
//! value the snapshot read, and the fill adds the snapshot's pairs of those rows only (`OR
//! IGNORE`); a dirty row's pair is the one its last drain added. The fill reads nothing but
//! the snapshot and the dirty list: no lookup in the shadow. Tables whose rows `REPLACE` can
//! delete unlogged are not built this way (the swap's count removes such rows from the
//! shadow without a drain).

use serde::Serialize;

use super::online::OnlineTable;
use super::*;
use crate::sqltext::{index_key_columns, quote_str};

/// An index of a table rebuilt online, built in key order after the copy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyedIndex {
    /// The index as declared.
    pub index: String,
    /// The `WITHOUT ROWID` table whose b-tree the swap makes the index.
    pub helper: String,
    /// The rowids of the shadow's rows with a NULL key.
    pub nulls: String,
    /// The rowids the drains have copied (whose pairs they keep up to date).
    pub dirty: String,
    /// The `TEMP` table of the shadow's keys and rowids, in key order.
    pub sorted: String,
    /// Creates [`KeyedIndex::sorted`] (outside the write lock: it writes the temp database).
    pub snapshot: String,
    /// Removes [`KeyedIndex::sorted`].
    pub drop_sorted: String,
    /// The key columns, quoted, as the shadow names them.
    #[serde(skip)]
    keys: Vec<String>,
    #[serde(skip)]
    shadow: String,
    #[serde(skip)]
    shadow_key: String,
}

impl KeyedIndex {
    /// The helper filled from the snapshot's rows `lo..=hi` (its rowids): each pair, or its
    /// rowid in the NULL list, but for the rows a drain has copied since the triggers exist
    /// (whose current pair that drain entered).
    pub fn fill_sql(&self, lo: i64, hi: i64) -> String {
        let from = format!(
            "FROM temp.{} WHERE rowid BETWEEN {lo} AND {hi} AND r NOT IN (SELECT r FROM {})",
            q(&self.sorted),
            q(&self.dirty),
        );
        let cols: Vec<String> = (1..=self.keys.len()).map(|i| format!("k{i}")).collect();
        format!(
            "INSERT OR IGNORE INTO {h} SELECT {c}, r {from} AND {nn};\nINSERT OR IGNORE INTO {n} SELECT r {from} AND ({an})",
            h = q(&self.helper),
            n = q(&self.nulls),
            c = cols.join(", "),
            nn = all_not_null(&cols),
            an = any_null(&cols),
        )
    }

    /// The drain's part before the logged rows leave the shadow: their pairs leave the helper
    /// (looked up by key: `+` keeps the comparison on the helper's key).
    pub(super) fn drain_before(&self, log: &str) -> String {
        let logged = format!("(SELECT k FROM {})", q(log));
        let plus: Vec<String> = self.keys.iter().map(|k| format!("+{k}")).collect();
        let h: Vec<String> = (1..=self.keys.len()).map(|i| format!("k{i}")).collect();
        format!(
            "DELETE FROM {helper} WHERE ({h}, r) IN (SELECT {plus}, +{sk} FROM {shadow} WHERE {sk} IN {logged});\nDELETE FROM {nulls} WHERE r IN {logged}",
            helper = q(&self.helper),
            nulls = q(&self.nulls),
            shadow = q(&self.shadow),
            sk = self.shadow_key,
            h = h.join(", "),
            plus = plus.join(", "),
        )
    }

    /// The drain's part after the logged rows are copied again: their pairs enter the helper,
    /// their rowids the list of rows the fill leaves to the drains.
    pub(super) fn drain_after(&self, log: &str) -> String {
        let logged = format!("(SELECT k FROM {})", q(log));
        format!(
            "INSERT OR IGNORE INTO {helper} SELECT {keys}, {sk} FROM {shadow} WHERE {sk} IN {logged} AND {nn};\nINSERT OR IGNORE INTO {nulls} SELECT {sk} FROM {shadow} WHERE {sk} IN {logged} AND ({an});\nINSERT OR IGNORE INTO {dirty} SELECT k FROM {log}",
            helper = q(&self.helper),
            dirty = q(&self.dirty),
            log = q(log),
            nulls = q(&self.nulls),
            shadow = q(&self.shadow),
            sk = self.shadow_key,
            keys = self.keys.join(", "),
            nn = all_not_null(&self.keys),
            an = any_null(&self.keys),
        )
    }

    /// Its objects removed (after a failed run).
    pub(super) fn teardown(&self) -> Vec<String> {
        vec![
            format!("DROP TABLE IF EXISTS {}", q(&self.helper)),
            format!("DROP TABLE IF EXISTS {}", q(&self.nulls)),
            format!("DROP TABLE IF EXISTS {}", q(&self.dirty)),
            self.drop_sorted.clone(),
        ]
    }
}

fn all_not_null(cols: &[String]) -> String {
    let v: Vec<String> = cols.iter().map(|c| format!("{c} IS NOT NULL")).collect();
    v.join(" AND ")
}

fn any_null(cols: &[String]) -> String {
    let v: Vec<String> = cols.iter().map(|c| format!("{c} IS NULL")).collect();
    v.join(" OR ")
}

/// The key-order build of `index` (on `t`, the target's table) for `ot`, where it can be:
/// the index has plain columns ([`key_columns`]), no `WHERE`, is not UNIQUE (the helper's key
/// would not refuse a duplicate), and `REPLACE` cannot delete rows of the table unlogged.
/// Returns it with its prepare step (the helper and the two lists created and registered)
/// and the swap's step (the relabel).
pub(super) fn keyed_index(
    index: &Index,
    t: &Table,
    ot: &OnlineTable,
    tmp: &str,
) -> Option<(KeyedIndex, Step, Step)> {
    if index.unique || ot.may_replace {
        return None;
    }
    let (keys, descs) = key_columns(index, t)?;
    let sorted = format!("{tmp}_sorted");
    let snapped: Vec<String> = keys
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{c} AS k{}", i + 1))
        .collect();
    let sorted_by: Vec<String> = keys
        .iter()
        .zip(&descs)
        .map(|(k, d)| format!("{k}{d}"))
        .collect();
    let snapshot = format!(
        "CREATE TEMP TABLE {} AS SELECT {}, {sk} AS r FROM {} ORDER BY {}, {sk}",
        q(&sorted),
        snapped.join(", "),
        q(&ot.shadow),
        sorted_by.join(", "),
        sk = ot.shadow_key,
    );
    let defs: Vec<String> = (1..=keys.len()).map(|i| format!("k{i}")).collect();
    let key_terms: Vec<String> = defs
        .iter()
        .zip(&descs)
        .map(|(k, d)| format!("{k}{d}"))
        .collect();
    let k = KeyedIndex {
        index: index.name.clone(),
        helper: tmp.to_string(),
        nulls: format!("{tmp}_null"),
        dirty: format!("{tmp}_dirty"),
        drop_sorted: format!("DROP TABLE IF EXISTS temp.{}", q(&sorted)),
        sorted,
        snapshot,
        keys,
        shadow: ot.shadow.clone(),
        shadow_key: ot.shadow_key.clone(),
    };
    let prepare = step(
        format!(
            "CREATE TABLE {}({}, r, PRIMARY KEY ({}, r)) WITHOUT ROWID;\nCREATE TABLE {}(r INTEGER PRIMARY KEY);\nCREATE TABLE {}(r INTEGER PRIMARY KEY);\nINSERT INTO {}(kind, name) VALUES ('table', {}), ('table', {}), ('table', {})",
            q(&k.helper),
            defs.join(", "),
            key_terms.join(", "),
            q(&k.nulls),
            q(&k.dirty),
            q(ONLINE_REGISTRY),
            quote_str(&k.helper),
            quote_str(&k.nulls),
            quote_str(&k.dirty)
        ),
        format!(
            "online rebuild of {}: index {} built after the copy, in key order, as {}",
            ot.table, index.name, k.helper
        ),
    );
    let relabel = relabel_step(&k, index, t, &ot.shadow_key);
    Some((k, prepare, relabel))
}

/// The key columns of `index` (quoted) and each one's `" DESC"` or `""`, where every one is a
/// column of `t` that is neither generated (the swap's `UPDATE` sets it) nor of REAL affinity
/// (the index stores its integral values as integers), with the default collation: with
/// another, the drain's lookup `(k1, …, r) IN (…)` is planned on the first column only,
/// scanning every entry with the same key.
fn key_columns(index: &Index, t: &Table) -> Option<(Vec<String>, Vec<&'static str>)> {
    let canon = t.canon()?;
    let mut keys = Vec::new();
    let mut descs = Vec::new();
    for k in index_key_columns(&index.sql)? {
        let c = canon.column(&crate::sqltext::ident_key(&k.name))?;
        let ty = c.decl_type.to_ascii_uppercase();
        if c.generated.is_some() || ["REAL", "FLOA", "DOUB"].iter().any(|r| ty.contains(r)) {
            return None;
        }
        let collate = k.collate.as_deref().or(c.collate.as_deref());
        if collate.is_some_and(|c| !crate::sqltext::unquote(c).eq_ignore_ascii_case("binary")) {
            return None;
        }
        keys.push(q(&c.name));
        descs.push(if k.desc { " DESC" } else { "" });
    }
    Some((keys, descs))
}

/// The swap's step that makes the helper the index (after the shadow is renamed into place),
/// then enters the rows with a NULL key.
fn relabel_step(k: &KeyedIndex, index: &Index, t: &Table, rowid: &str) -> Step {
    let same: Vec<String> = k.keys.iter().map(|c| format!("{c} = {c}")).collect();
    step(
        format!(
            "PRAGMA writable_schema = ON;\nUPDATE sqlite_schema SET type = 'index', name = {}, tbl_name = {}, sql = {} WHERE type = 'table' AND name = {};\nPRAGMA writable_schema = RESET;\nPRAGMA writable_schema = ON;\nUPDATE {} SET {} WHERE {rowid} IN (SELECT r FROM {});\nPRAGMA writable_schema = RESET;\nDROP TABLE {};\nDROP TABLE {}",
            quote_str(&index.name),
            quote_str(&t.name),
            quote_str(&index.sql),
            quote_str(&k.helper),
            q(&t.name),
            same.join(", "),
            q(&k.nulls),
            q(&k.nulls),
            q(&k.dirty),
        ),
        format!(
            "online rebuild of {}: make {} index {} as declared, and enter its rows with a NULL key",
            t.name, k.helper, index.name
        ),
    )
}

#[cfg(all(test, feature = "rusqlite"))]
mod tests {
    use super::key_columns;
    use crate::diff::testkit::schema;

    /// The key columns of index `name` of `sql`'s table `t` as built in key order, or `None`
    /// where the index is built during the copy.
    fn keys(sql: &str, name: &str) -> Option<(Vec<String>, Vec<&'static str>)> {
        let s = schema(sql);
        key_columns(&s.indexes[name], &s.tables["t"])
    }

    const T: &str = "CREATE TABLE t(id INTEGER PRIMARY KEY, a TEXT, b INTEGER, r REAL, \
                     c TEXT COLLATE NOCASE, g INTEGER GENERATED ALWAYS AS (b + 1));";

    #[test]
    fn plain_columns_are_built_in_key_order_with_their_order() {
        let k = keys(&format!("{T} CREATE INDEX i ON t(a, b DESC);"), "i").unwrap();
        assert_eq!(k.0, ["\"a\"", "\"b\""]);
        assert_eq!(k.1, ["", " DESC"]);
    }

    #[test]
    fn real_generated_collated_and_expression_keys_are_not() {
        for (index, why) in [
            (
                "CREATE INDEX i ON t(r)",
                "REAL: the index stores integral values as integers",
            ),
            (
                "CREATE INDEX i ON t(g)",
                "generated: the swap's UPDATE sets it",
            ),
            ("CREATE INDEX i ON t(c)", "the column's collation"),
            (
                "CREATE INDEX i ON t(a COLLATE NOCASE)",
                "the key's collation",
            ),
            ("CREATE INDEX i ON t(lower(a))", "an expression"),
        ] {
            assert_eq!(keys(&format!("{T} {index};"), "i"), None, "{why}");
        }
        // BINARY named is the default collation.
        assert!(keys(&format!("{T} CREATE INDEX i ON t(a COLLATE BINARY);"), "i").is_some());
    }
}
