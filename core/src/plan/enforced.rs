//! Plans for hosts where foreign-key enforcement cannot be switched off (Cloudflare D1, rqlite
//! launched with `-fk`, libSQL over HTTP): there `DROP TABLE parent` deletes the children's
//! rows through `ON DELETE CASCADE` (sets them NULL, or fails on `RESTRICT`), whatever
//! `defer_foreign_keys` says, so the ordinary rebuild — which drops the old table with
//! enforcement off — would lose rows.
//!
//! Instead every table that references a rebuilt or dropped table is rebuilt with it,
//! transitively ([`with_referencing`]): each old table is renamed away (SQLite rewrites the
//! `REFERENCES` of the tables that name it, so no row ever points at a missing parent), the
//! new tables are created under their declared names and filled (with `defer_foreign_keys`,
//! so rows may arrive in any order), and only then are the old tables dropped, a table before
//! any table it references ([`children_first`]): no old table is a parent when it goes, so no
//! `ON DELETE` action fires and no child trigger runs.
//!
//! This module owns which tables join a rebuild and the order the old tables go in. It never
//! decides native versus rebuild for a change of its own (`strategy` does), and writes no
//! rebuild step (`rebuild` does).

use std::collections::{BTreeMap, BTreeSet};

use super::strategy::{table_strategy, RebuildReason, Strategy};
use super::*;
use crate::diff::{TableAlter, TableChange};
use crate::sqltext::ident_key;

/// The first step of a plan that rebuilds or drops tables where enforcement stays on: the
/// copies may then fill parents and children in any order (SQLite checks the foreign keys at
/// `COMMIT`, and resets the setting there).
pub(super) fn defer_step() -> Step {
    step(
        "PRAGMA defer_foreign_keys = ON".into(),
        "foreign keys stay enforced on this host: checked at COMMIT, so the copies may fill parents and children in any order".into(),
    )
}

/// The `DROP`s of the old tables of the rebuilds and of the dropped tables (each with its
/// table's current name key), in [`children_first`] order.
pub(super) fn children_first_drops(current: &Schema, drops: Vec<(String, Step)>) -> Vec<Step> {
    let order: Vec<String> = drops.iter().map(|(k, _)| k.clone()).collect();
    let mut by_table: BTreeMap<String, Step> = drops.into_iter().collect();
    children_first(current, &order)
        .into_iter()
        .filter_map(|k| by_table.remove(&k))
        .collect()
}

/// The parent tables (name keys) that `t`'s foreign keys name.
pub(super) fn parents(t: &Table) -> BTreeSet<String> {
    match &t.def {
        TableDef::Parsed(c) => c.foreign_keys.iter().flat_map(|f| referenced(f)).collect(),
        TableDef::Text(norm) => referenced(norm).collect(),
    }
}

/// The names after each `references` word of normalised text (keys: unquoted, lower-cased).
fn referenced(norm: &str) -> impl Iterator<Item = String> + '_ {
    norm.match_indices("references ")
        .filter(move |(i, _)| *i == 0 || norm[..*i].ends_with([' ', '(', ',']))
        .map(move |(i, m)| {
            let rest = &norm[i + m.len()..];
            let end = rest.find([' ', '(', ',', ')']).unwrap_or(rest.len());
            ident_key(&rest[..end])
        })
}

/// `changes` and their `strategies`, with every current table that references a table they
/// rebuild or drop — transitively — rebuilt too (an unchanged one as a rebuild of its own
/// declaration), each saying why.
pub(super) fn with_referencing(
    current: &Schema,
    target: &Schema,
    changes: &Changes,
    mut strategies: Vec<Strategy>,
    caps: Capabilities,
    doomed_indexes: &BTreeSet<String>,
) -> (Changes, Vec<Strategy>) {
    let mut changes = changes.clone();
    let mut closure: BTreeSet<String> = changes.dropped_tables.iter().cloned().collect();
    for (a, s) in changes.altered_tables.iter().zip(&strategies) {
        if matches!(s, Strategy::Rebuild(_)) && !current.tables[&a.from].is_virtual() {
            closure.insert(a.from.clone());
        }
    }
    loop {
        let joining: Vec<(String, String)> = current
            .tables
            .iter()
            .filter(|(k, t)| !closure.contains(*k) && !t.is_virtual())
            .filter_map(|(k, t)| {
                let parent = parents(t).into_iter().find(|p| closure.contains(p))?;
                Some((k.clone(), parent))
            })
            .collect();
        if joining.is_empty() {
            return (changes, strategies);
        }
        for (k, parent) in joining {
            let why = TableChange::ReferencesRebuilt { parent };
            closure.insert(k.clone());
            match changes.altered_tables.iter().position(|a| a.from == k) {
                Some(i) => {
                    let a = &mut changes.altered_tables[i];
                    a.other.push(why);
                    let (c, t) = (&current.tables[&a.from], &target.tables[&a.to]);
                    strategies[i] = table_strategy(a, c, t, current, caps, doomed_indexes);
                }
                None => {
                    changes.altered_tables.push(TableAlter {
                        from: k.clone(),
                        to: k,
                        other: vec![why.clone()],
                        ..TableAlter::default()
                    });
                    strategies.push(Strategy::Rebuild(vec![RebuildReason::Table(why)]));
                }
            }
        }
    }
}

/// `tables` (current name keys) in an order where each comes before every table it
/// references: when each is dropped, no table left references it, so SQLite deletes no row
/// through a foreign key. Tables in a cycle of references go in key order.
pub(super) fn children_first(current: &Schema, tables: &[String]) -> Vec<String> {
    let parents_of: BTreeMap<&String, BTreeSet<String>> = tables
        .iter()
        .map(|k| (k, current.tables.get(k).map(parents).unwrap_or_default()))
        .collect();
    let mut left: BTreeSet<&String> = tables.iter().collect();
    let mut out = Vec::with_capacity(tables.len());
    while let Some(&first) = left.iter().next() {
        let referenced = |k: &String| {
            left.iter()
                .any(|o| *o != k && parents_of[o].contains(k.as_str()))
        };
        let free: Vec<&String> = left.iter().copied().filter(|k| !referenced(k)).collect();
        let take = if free.is_empty() { vec![first] } else { free };
        for k in take {
            left.remove(k);
            out.push(k.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::introspect::parse_table;

    fn table(sql: &str) -> Table {
        Table {
            name: String::new(),
            sql: sql.into(),
            seq: 0,
            virtual_module: None,
            columns: Vec::new(),
            without_rowid: false,
            strict: false,
            autoincrement: false,
            def: TableDef::Parsed(parse_table(sql).unwrap()),
        }
    }

    #[test]
    fn parents_are_the_referenced_tables() {
        let t = table("CREATE TABLE c(a REFERENCES \"P\"(id) ON DELETE CASCADE, b, c, d REFERENCES c, FOREIGN KEY (b, c) REFERENCES q(x, y))");
        let got: Vec<String> = parents(&t).into_iter().collect();
        assert_eq!(got, ["c", "p", "q"]);
        let text = Table {
            def: TableDef::Text(crate::sqltext::normalize_sql(
                "CREATE TABLE c(a INT REFERENCES p(id), references_x TEXT)",
            )),
            ..t
        };
        let got: Vec<String> = parents(&text).into_iter().collect();
        assert_eq!(got, ["p"]);
    }

    #[test]
    fn children_go_before_their_parents() {
        let mut s = Schema::default();
        for sql in [
            "CREATE TABLE p(id INTEGER PRIMARY KEY)",
            "CREATE TABLE c(id INTEGER PRIMARY KEY, p REFERENCES p)",
            "CREATE TABLE g(id INTEGER PRIMARY KEY, c REFERENCES c, p REFERENCES p)",
            "CREATE TABLE a(id INTEGER PRIMARY KEY, b REFERENCES b)",
            "CREATE TABLE b(id INTEGER PRIMARY KEY, a REFERENCES a)",
        ] {
            let t = table(sql);
            let name = crate::sqltext::create_name_range(sql)
                .map(|r| sql[r].to_string())
                .unwrap();
            s.tables.insert(name, t);
        }
        let keys: Vec<String> = ["p", "c", "g", "a", "b"].map(String::from).into();
        assert_eq!(children_first(&s, &keys), ["g", "c", "p", "a", "b"]);
    }
}
