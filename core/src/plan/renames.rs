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

// One test per rule of rename ordering.
#[cfg(test)]
mod tests {
    use super::*;
    use insta::assert_snapshot;

    /// `sequence_renames` of `old=new` pairs, with `taken` names in use, one rename a line.
    fn sequence(renames: &[&str], taken: &[&str]) -> String {
        let pairs: Vec<(String, String)> = renames
            .iter()
            .filter_map(|r| r.split_once('='))
            .map(|(o, n)| (o.to_string(), n.to_string()))
            .collect();
        let out = sequence_renames(&pairs, &|n| taken.contains(&n));
        let line = |(o, n): &(String, String)| format!("{o} -> {n}");
        out.iter().map(line).collect::<Vec<_>>().join("\n")
    }

    #[test]
    fn a_chain_runs_from_its_end() {
        assert_snapshot!(sequence(&["a=b", "b=c"], &[]), @r#"
            b -> c
            a -> b
        "#);
    }

    #[test]
    fn a_cycle_moves_one_name_through_a_temporary_name() {
        assert_snapshot!(sequence(&["a=b", "b=a"], &[]), @r#"
            a -> _liteshift_renaming_a
            b -> a
            _liteshift_renaming_a -> b
        "#);
    }

    #[test]
    fn the_temporary_name_avoids_names_in_use_and_case() {
        assert_snapshot!(sequence(&["A=b", "B=a"], &["_liteshift_renaming_A"]), @r#"
            A -> _liteshift_renaming_A_
            B -> a
            _liteshift_renaming_A_ -> b
        "#);
    }

    #[cfg(feature = "rusqlite")]
    #[test]
    fn column_renames_are_steps_only_where_rename_column_is_native() {
        use crate::diff::testkit::{hinted, renames, schema};
        let before = "CREATE TABLE t(a INT, b TEXT)";
        let after = "CREATE TABLE u(b INT, a TEXT)";
        let hints = renames(&["t=u"], &["t.a=b", "t.b=a"]);
        let (current, target) = (schema(before), schema(after));
        let ch = hinted(before, after, &hints);
        let sql = |v: SqliteVersion| {
            let steps = rename_steps(&current, &target, &ch, Capabilities::new(v));
            steps
                .iter()
                .map(|s| s.sql.clone())
                .collect::<Vec<_>>()
                .join("\n")
        };
        assert_snapshot!(sql(SqliteVersion(3, 25, 0)), @r#"
            ALTER TABLE "t" RENAME TO "u"
            ALTER TABLE "u" RENAME COLUMN "a" TO "_liteshift_renaming_a"
            ALTER TABLE "u" RENAME COLUMN "b" TO "a"
            ALTER TABLE "u" RENAME COLUMN "_liteshift_renaming_a" TO "b"
        "#);
        assert_snapshot!(sql(SqliteVersion(3, 24, 0)), @r#"ALTER TABLE "t" RENAME TO "u""#);
    }
}
