//! Rename steps: tables first, then columns where `RENAME COLUMN` is native, ordered so that
//! chains and swaps never collide (through a temporary name for a cycle).

use super::*;
use crate::sqltext::quote_ident as q;

/// Table renames, then (where native) column renames. Chains and swaps are ordered, through
/// a temporary name where they form a cycle.
pub(super) fn rename_steps(
    current: &Schema,
    target: &Schema,
    changes: &Changes,
    caps: Capabilities,
) -> Vec<Step> {
    let mut steps = Vec::new();
    let table_renames: Vec<(String, String)> = changes
        .altered_tables
        .iter()
        .filter(|a| a.renamed())
        .map(|a| {
            (
                current.tables[&a.from].name.clone(),
                target.tables[&a.to].name.clone(),
            )
        })
        .collect();
    let table_taken = |n: &str| {
        let k = n.to_ascii_lowercase();
        current.tables.contains_key(&k) || target.tables.contains_key(&k)
    };
    for (o, n) in sequence_renames(&table_renames, &table_taken) {
        steps.push(step(
            format!("ALTER TABLE {} RENAME TO {}", q(&o), q(&n)),
            format!("rename table {o} to {n}"),
        ));
    }
    if caps.rename_column() {
        for a in changes
            .altered_tables
            .iter()
            .filter(|a| native_column_renames(a, caps))
        {
            let (c, t) = (&current.tables[&a.from], &target.tables[&a.to]);
            let renames: Vec<(String, String)> = a
                .column_renames
                .iter()
                .map(|(o, n)| {
                    let oc = c.column(o).map(|x| x.name.clone()).unwrap_or(o.clone());
                    let nc = t.column(n).map(|x| x.name.clone()).unwrap_or(n.clone());
                    (oc, nc)
                })
                .collect();
            let taken = |n: &str| {
                let k = n.to_ascii_lowercase();
                c.column(&k).is_some() || t.column(&k).is_some()
            };
            for (oc, nc) in sequence_renames(&renames, &taken) {
                steps.push(step(
                    format!(
                        "ALTER TABLE {} RENAME COLUMN {} TO {}",
                        q(&t.name),
                        q(&oc),
                        q(&nc)
                    ),
                    format!("rename column {}.{} to {}", t.name, oc, nc),
                ));
            }
        }
    }
    steps
}

/// Order renames `(old, new)` so that each new name is free when its rename runs: a chain
/// (`a→b, b→c`) runs from its end, and a cycle (`a→b, b→a`) moves one name to a temporary
/// name first. `taken` says whether a name is in use on either side (temporaries avoid it).
fn sequence_renames(
    renames: &[(String, String)],
    taken: &dyn Fn(&str) -> bool,
) -> Vec<(String, String)> {
    let same = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
    let mut pending: Vec<(String, String)> = renames.to_vec();
    let mut out = Vec::new();
    while !pending.is_empty() {
        let free = pending
            .iter()
            .position(|(_, n)| !pending.iter().any(|(o, _)| same(o, n)));
        match free {
            Some(i) => out.push(pending.remove(i)),
            None => {
                let (o, n) = pending[0].clone();
                let mut tmp = format!("_liteshift_renaming_{o}");
                while taken(&tmp) || pending.iter().any(|(a, b)| same(a, &tmp) || same(b, &tmp)) {
                    tmp.push('_');
                }
                out.push((o, tmp.clone()));
                pending[0] = (tmp, n);
            }
        }
    }
    out
}
