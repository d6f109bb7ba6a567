//! Index, view and trigger comparison: by name key, an object is added, dropped, or changed
//! when its normalised text differs after the table and column renames. It never looks inside
//! an object beyond its normalised text, and never decides what is recreated (`plan`'s
//! dependents do).

use std::collections::{BTreeMap, BTreeSet};

use super::hints::TableRenames;
use super::{rename_tokens, Action, Changes, ObjectChange};
use crate::model::Schema;

/// The index, view and trigger changes, compared after every table and column rename of `ch`.
pub(super) fn object_changes(
    ch: &mut Changes,
    current: &Schema,
    target: &Schema,
    renames: &TableRenames,
) {
    // Current table key and old column key -> new key, for comparing text.
    let mut rename_all: BTreeMap<String, String> = renames.map.clone();
    for a in &ch.altered_tables {
        for (o, n) in &a.column_renames {
            rename_all.insert(o.clone(), n.clone());
        }
    }
    ch.indexes = diff_objects(
        current.indexes.iter().map(|(k, v)| (k, &v.norm, v.seq)),
        target.indexes.iter().map(|(k, v)| (k, &v.norm, v.seq)),
        &rename_all,
    );
    ch.views = diff_objects(
        current.views.iter().map(|(k, v)| (k, &v.norm, v.seq)),
        target.views.iter().map(|(k, v)| (k, &v.norm, v.seq)),
        &rename_all,
    );
    ch.triggers = diff_objects(
        current.triggers.iter().map(|(k, v)| (k, &v.norm, v.seq)),
        target.triggers.iter().map(|(k, v)| (k, &v.norm, v.seq)),
        &rename_all,
    );
}

/// Objects dropped (by key), then added or changed in the target's creation order.
fn diff_objects<'a>(
    cur: impl Iterator<Item = (&'a String, &'a String, i64)>,
    tgt: impl Iterator<Item = (&'a String, &'a String, i64)>,
    renames: &BTreeMap<String, String>,
) -> Vec<ObjectChange> {
    let cur: BTreeMap<&String, &String> = cur.map(|(k, n, _)| (k, n)).collect();
    let mut tgt: Vec<(&String, &String, i64)> = tgt.collect();
    tgt.sort_by_key(|x| x.2);
    let mut out = Vec::new();
    let tkeys: BTreeSet<&String> = tgt.iter().map(|x| x.0).collect();
    for k in cur.keys().filter(|k| !tkeys.contains(*k)) {
        out.push(ObjectChange {
            name: (*k).clone(),
            action: Action::Drop,
        });
    }
    for (k, norm, _) in tgt {
        match cur.get(k) {
            None => out.push(ObjectChange {
                name: k.clone(),
                action: Action::Add,
            }),
            Some(cn) => {
                if *cn != norm && rename_tokens(cn, renames) != *norm {
                    out.push(ObjectChange {
                        name: k.clone(),
                        action: Action::Replace,
                    });
                }
            }
        }
    }
    out
}

// One test per rule of the object comparison.
#[cfg(test)]
mod tests {
    use super::*;

    fn objects(cur: &[(&str, &str)], tgt: &[(&str, &str)], renames: &[(&str, &str)]) -> String {
        let owned = |v: &[(&str, &str)]| -> Vec<(String, String, i64)> {
            let rows = v.iter().enumerate();
            rows.map(|(i, (k, n))| (k.to_string(), n.to_string(), i as i64))
                .collect()
        };
        let (cur, tgt) = (owned(cur), owned(tgt));
        let renames = renames
            .iter()
            .map(|(o, n)| (o.to_string(), n.to_string()))
            .collect();
        let out = diff_objects(
            cur.iter().map(|(k, n, s)| (k, n, *s)),
            tgt.iter().map(|(k, n, s)| (k, n, *s)),
            &renames,
        );
        let line = |c: &ObjectChange| format!("{:?} {}", c.action, c.name);
        out.iter().map(line).collect::<Vec<_>>().join("\n")
    }

    #[test]
    fn drops_come_first_then_adds_and_changes_in_creation_order() {
        let cur = [
            ("i", "create index i on t ( a )"),
            ("gone", "create index gone on t ( b )"),
        ];
        let tgt = [
            ("new", "create index new on t ( c )"),
            ("i", "create index i on t ( b )"),
        ];
        insta::assert_snapshot!(objects(&cur, &tgt, &[]), @r#"
            Drop gone
            Add new
            Replace i
        "#);
    }

    #[test]
    fn an_object_whose_text_differs_only_by_the_renames_is_unchanged() {
        let cur = [("i", "create index i on t ( a )")];
        let tgt = [("i", "create index i on u ( b )")];
        assert_eq!(objects(&cur, &tgt, &[("t", "u"), ("a", "b")]), "");
        assert_eq!(objects(&cur, &tgt, &[("t", "u")]), "Replace i");
    }
}
