//! Declared values (`ValueHint`) attached to the altered tables whose column they apply to:
//! an added column, or one whose definition changes in any way. It never judges the
//! expression (SQLite compiles it: `lib::check_values`) and never decides how it is applied.

use super::{Changes, Hints, TableAlter, ValueHint};
use crate::model::*;
use crate::sqltext::ident_key;

/// Give each altered table the declared values of its added or changed columns (explicit ones
/// first). A value whose column is added, or whose definition changes in any way (its type,
/// NOT NULL, default, collation, generated expression, or a constraint declared on it: CHECK,
/// UNIQUE, REFERENCES), applies. Any other applies to nothing and says so in the warnings (an
/// annotation may stay in the file once carried out, but a typo must be visible); an explicit
/// one for a table or column the declared schema does not have is an error.
pub(super) fn attach_values(
    ch: &mut Changes,
    current: &Schema,
    target: &Schema,
    annotated: &Hints,
    explicit: &[ValueHint],
) {
    for (v, is_explicit) in explicit
        .iter()
        .map(|v| (v, true))
        .chain(annotated.values.iter().map(|v| (v, false)))
    {
        let (tk, ck) = (ident_key(&v.table), ident_key(&v.column));
        let why_not = match target.tables.get(&tk) {
            None => Some(format!("the declared schema has no table `{}`", v.table)),
            Some(t) if t.column(&ck).is_none() => Some(format!(
                "table {} has no column `{}` in the declared schema",
                t.name, v.column
            )),
            Some(t) => attach_value(ch, current, t, &ck, v),
        };
        let Some(why) = why_not else { continue };
        match (is_explicit, target.tables.get(&tk)) {
            (true, None) => ch.hint_errors.push(format!(
                "value {}.{}: {why}; fix or remove it",
                v.table, v.column
            )),
            (true, Some(t)) if t.column(&ck).is_none() => ch.hint_errors.push(format!(
                "value {}.{}: {why}; fix or remove it",
                v.table, v.column
            )),
            _ => ch.warnings.push(format!(
                "value {}.{} = {} applies to nothing: {why}",
                v.table, v.column, v.expr
            )),
        }
    }
}

/// Attach `v` to the change of table `t`'s column `ck`, or say why it applies to nothing.
fn attach_value(
    ch: &mut Changes,
    current: &Schema,
    t: &Table,
    ck: &str,
    v: &ValueHint,
) -> Option<String> {
    let tk = t.name.to_ascii_lowercase();
    let unchanged = || {
        Some(format!(
            "column {}.{} is as declared (a value applies while its column is added or its definition changes)",
            t.name, v.column
        ))
    };
    let Some(a) = ch.altered_tables.iter_mut().find(|a| a.to == tk) else {
        return unchanged();
    };
    if !column_changes(a, &current.tables[&a.from], t, ck) {
        return unchanged();
    }
    if let Some(first) = a.values.get(ck) {
        return Some(format!(
            "an earlier value ({}) gives {}.{} its value",
            first.expr, t.name, v.column
        ));
    }
    a.values.insert(ck.to_string(), v.clone());
    None
}

/// Whether target column `ck` of `a` is added, or its definition changes in any way,
/// the constraints declared on it (lifted to table level in the model) included.
fn column_changes(a: &TableAlter, c: &Table, t: &Table, ck: &str) -> bool {
    if a.added_columns.iter().any(|k| k == ck) || a.modified_columns.iter().any(|(k, _)| k == ck) {
        return true;
    }
    let src = a
        .column_renames
        .iter()
        .find(|(_, n)| n == ck)
        .map_or(ck, |(o, _)| o.as_str());
    let own_check = |k: &Check, key: &str| k.column.as_deref() == Some(key);
    if a.checks_added.iter().any(|k| own_check(k, ck))
        || a.checks_dropped.iter().any(|k| own_check(k, src))
    {
        return true;
    }
    let (Some(cc), Some(tc)) = (c.canon(), t.canon()) else {
        return !a.other.is_empty();
    };
    let own_fks = |t: &CanonTable, key: &str| own(t.column_fks.get(key).into_iter().flatten(), key);
    own(cc.uniques.iter(), src) != own(tc.uniques.iter(), ck)
        || own_fks(cc, src) != own_fks(tc, ck)
        || own(cc.primary_key.iter().map(|p| &p.text), src)
            != own(tc.primary_key.iter().map(|p| &p.text), ck)
}

/// Of normalised key constraints (`(a, b) on conflict …`, `(a) references p ( x )`), those
/// over exactly the column `key`, as a column-level constraint declares them, without it.
fn own<'a>(constraints: impl Iterator<Item = &'a String>, key: &str) -> Vec<String> {
    let prefix = format!("({key})");
    let mut out: Vec<String> = constraints
        .filter_map(|x| x.strip_prefix(prefix.as_str()))
        .filter(|rest| rest.is_empty() || rest.starts_with(' '))
        .map(str::to_string)
        .collect();
    out.sort();
    out
}

// One test per rule of which column a declared value applies to.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_keeps_the_constraints_over_exactly_that_column() {
        let keys = [
            "(a) on conflict replace".to_string(),
            "(a, b)".to_string(),
            "(ab)".to_string(),
            "(a)".to_string(),
        ];
        assert_eq!(own(keys.iter(), "a"), ["", " on conflict replace"]);
    }

    #[cfg(feature = "rusqlite")]
    mod on_schemas {
        use super::super::super::testkit::{hinted, report};
        use crate::diff::Hints;
        use insta::assert_snapshot;

        const BEFORE: &str = "CREATE TABLE t(id INTEGER PRIMARY KEY, a TEXT)";

        fn values(after: &str, explicit: &[&str]) -> String {
            let mut h = Hints::default();
            for v in explicit {
                h.add_value(v).unwrap();
            }
            let ch = hinted(BEFORE, after, &h);
            report(&ch)
        }

        #[test]
        fn a_value_applies_to_an_added_column() {
            let after = "CREATE TABLE t(id INTEGER PRIMARY KEY, a TEXT, b INT NOT NULL DEFAULT 0)";
            assert_snapshot!(values(after, &["t.b=length(a)"]), @r#"
                add column t.b
                existing rows of t.b take the declared value length(a)
            "#);
        }

        #[test]
        fn a_value_applies_when_a_constraint_declared_on_its_column_changes() {
            let after = "CREATE TABLE t(id INTEGER PRIMARY KEY, a TEXT UNIQUE)";
            assert_snapshot!(values(after, &["t.a=id"]), @r#"
                change table t: UNIQUE constraints
                existing rows of t.a take the declared value id
            "#);
        }

        #[test]
        fn a_value_for_a_column_as_declared_applies_to_nothing() {
            assert_snapshot!(values(BEFORE, &["t.a='x'"]), @"warning: value t.a = 'x' applies to nothing: column t.a is as declared (a value applies while its column is added or its definition changes)");
        }

        #[test]
        fn the_first_value_of_a_column_wins() {
            let after = "CREATE TABLE t(id INTEGER PRIMARY KEY, a INT)";
            assert_snapshot!(values(after, &["t.a=1", "t.a=2"]), @r#"
                change column t.a: type "TEXT" -> "INT"
                existing rows of t.a take the declared value 1
                warning: value t.a = 2 applies to nothing: an earlier value (1) gives t.a its value
            "#);
        }

        #[test]
        fn an_explicit_value_for_an_undeclared_table_or_column_is_an_error() {
            assert_snapshot!(values(BEFORE, &["nope.a=1", "t.nope=1"]), @r#"
                error: value nope.a: the declared schema has no table `nope`; fix or remove it
                error: value t.nope: table t has no column `nope` in the declared schema; fix or remove it
            "#);
        }

        #[test]
        fn an_annotated_value_is_a_warning_where_an_explicit_one_is_an_error() {
            let after = format!("{BEFORE};\n-- liteshift:value t.nope = 1");
            assert_snapshot!(report(&hinted(BEFORE, &after, &Hints::default())), @"warning: value t.nope = 1 applies to nothing: table t has no column `nope` in the declared schema");
        }
    }
}
