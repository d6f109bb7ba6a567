//! The start-up fast path: most starts find the database already at the declared schema, and
//! then loading the declared schema into a scratch database (most of a no-op's time) cannot
//! give a different model.
//!
//! When every object's stored `sqlite_schema.sql` is, token for token, a declared statement
//! (and the two sets of objects are the same), the database was made by those very
//! statements, so SQLite reads the same model out of it as out of a scratch database loaded
//! with them: the introspected model stands in for the declared one. This module owns that
//! comparison and nothing else; the plan is still made by the planner, from the two models.
//!
//! Architecture invariant: the fast path only ever says "in sync". Any difference — a token,
//! an object, a statement the tokenizer cannot read, anything the options make depend on
//! the declared load (explicit hints, `deny_dangling_foreign_keys`, stand-in modules) — or a
//! plan that is not empty returns `None`, and the caller takes the full path.
//! `tests/tests/properties.rs` checks that it never says "in sync" where the full path
//! plans a step.

use std::collections::{BTreeMap, BTreeSet};

use crate::declared::{self, Declared};
use crate::host::{Host, Value};
use crate::share::{platform_of, Ignore};
use crate::sqltext;
use crate::{Options, Result};

/// The declared schema as the database's own model, when the database's stored schema is
/// exactly the declared statements; `None` otherwise (or when the options rule it out).
pub fn declared_as_stored(
    host: &dyn Host,
    schema_sql: &str,
    opts: &Options,
    version: crate::SqliteVersion,
    current: impl FnOnce() -> Result<crate::Schema>,
) -> Result<Option<Declared>> {
    if !opts.hints.is_empty() || opts.deny_dangling_foreign_keys || opts.host_modules {
        return Ok(None);
    }
    let (statements, static_error) = declared::read_statements(schema_sql, &opts.source_name);
    if static_error.is_some() || statements.is_empty() {
        return Ok(None);
    }
    // Annotation errors are errors on this path too; rename annotations that cannot apply
    // do nothing, as on the full path.
    let declared::Annotations { hints, ignore } =
        declared::parse_annotations(schema_sql, &opts.source_name)?;
    let ignore: Vec<String> = ignore
        .into_iter()
        .chain(opts.ignore.iter().cloned())
        .collect();
    let not_ours = Ignore::new(ignore.iter().map(String::as_str))?;
    let names: BTreeSet<String> = statements.iter().map(|s| s.name.clone()).collect();
    let rows = host.query(
        "SELECT name, tbl_name, sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
    )?;
    let stored: Vec<String> = rows
        .iter()
        .filter_map(|r| {
            let text = |i: usize| r.get(i).and_then(Value::text).unwrap_or_default();
            let (name, table) = (text(0), text(1));
            let ours = platform_of(&name).is_none()
                && platform_of(&table).is_none()
                && not_ours.matching_object(&name, Some(&table)).is_none()
                && (!opts.keep_undeclared || names.contains(&name.to_ascii_lowercase()));
            ours.then(|| text(2))
        })
        .collect();
    let declared: Vec<&str> = statements
        .iter()
        .map(|s| as_stored(&schema_sql[s.range.clone()]))
        .collect();
    if !same_statements(&declared, &stored) {
        return Ok(None);
    }
    let schema = current()?;
    let created_at: BTreeMap<String, usize> = statements
        .into_iter()
        .map(|s| (s.name, s.range.start))
        .collect();
    let dangling = declared::dangling_foreign_keys(
        host,
        version,
        schema_sql,
        &opts.source_name,
        &created_at,
        &|parent| platform_of(parent).is_some() || not_ours.matching(parent).is_some(),
    )?;
    Ok(Some(Declared {
        schema,
        hints,
        ignore,
        warnings: dangling.iter().map(declared::dangling_warning).collect(),
    }))
}

/// A declared statement's text as SQLite would store it when it was written in the stored
/// form (`CREATE TABLE name…` in capitals, single spaces): without surrounding space and the
/// final `;`. Anything else is compared by tokens.
fn as_stored(statement: &str) -> &str {
    statement.trim().trim_end_matches(';').trim_end()
}

/// Whether the declared statements and the stored SQL are the same multiset: byte-identical
/// texts pair up without tokenizing (the common case: the database was made from this
/// schema), and only the rest are compared in canonical tokens.
fn same_statements(declared: &[&str], stored: &[String]) -> bool {
    if declared.len() != stored.len() {
        return false;
    }
    let mut unmatched: BTreeMap<&str, usize> = BTreeMap::new();
    for d in declared {
        *unmatched.entry(d).or_default() += 1;
    }
    let mut rest_stored = Vec::new();
    for s in stored {
        match unmatched.get_mut(s.as_str()) {
            Some(n) if *n > 0 => *n -= 1,
            _ => rest_stored.push(s.as_str()),
        }
    }
    if rest_stored.is_empty() {
        return true;
    }
    let rest_declared: Vec<&str> = unmatched
        .iter()
        .flat_map(|(d, n)| std::iter::repeat_n(*d, *n))
        .collect();
    match (
        sorted_canonical(&rest_declared),
        sorted_canonical(&rest_stored),
    ) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

/// The canonical forms of `statements`, sorted; `None` if one cannot be tokenized.
fn sorted_canonical(statements: &[&str]) -> Option<Vec<String>> {
    let mut v = statements
        .iter()
        .map(|s| canonical(s))
        .collect::<Option<Vec<String>>>()?;
    v.sort_unstable();
    Some(v)
}

/// A `CREATE` statement as SQLite stores it, in tokens: the keywords before the object's name
/// upper-cased without `IF NOT EXISTS` (SQLite stores `CREATE TABLE name…` whatever was
/// written), every token from the name on exactly as written, comments and spacing dropped.
fn canonical(sql: &str) -> Option<String> {
    let toks = sqltext::tokens(sql)?;
    let name = sqltext::create_name_range(sql)?;
    let mut out = String::with_capacity(sql.len());
    for (_, r) in &toks {
        let raw = &sql[r.clone()];
        if r.start < name.start {
            let word = raw.to_ascii_uppercase();
            if matches!(word.as_str(), "IF" | "NOT" | "EXISTS") {
                continue;
            }
            out.push_str(&word);
        } else {
            out.push_str(raw);
        }
        out.push(' ');
    }
    while out.ends_with("; ") {
        out.truncate(out.len() - 2);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::{canonical, same_statements};

    #[test]
    fn byte_identical_statements_pair_up_and_the_rest_by_tokens() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert!(same_statements(
            &["CREATE TABLE a(x)", "create table b(y)"],
            &s(&["CREATE TABLE b(y)", "CREATE TABLE a(x)"])
        ));
        assert!(!same_statements(
            &["CREATE TABLE a(x)", "CREATE TABLE a(x)"],
            &s(&["CREATE TABLE a(x)", "CREATE TABLE b(x)"])
        ));
        assert!(!same_statements(
            &["CREATE TABLE a(x)"],
            &s(&["CREATE TABLE a(X)"])
        ));
        assert!(!same_statements(&["CREATE TABLE a(x)"], &s(&[])));
    }

    #[test]
    fn the_stored_form_of_a_declared_statement() {
        let c = |s: &str| canonical(s).unwrap();
        assert_eq!(
            c("create table if not exists t(a  INT, -- note\n b);"),
            c("CREATE TABLE t(a INT, b)")
        );
        assert_eq!(
            c("create unique index i ON t(a)"),
            c("CREATE UNIQUE INDEX i ON t(a)")
        );
        // From the name on, every token counts as written: case, quotes, literals.
        assert_ne!(c("CREATE TABLE T(a)"), c("CREATE TABLE t(a)"));
        assert_ne!(c("CREATE TABLE t(a)"), c("CREATE TABLE \"t\"(a)"));
        assert_ne!(c("CREATE TABLE t(Key)"), c("CREATE TABLE t(key)"));
        assert_ne!(
            c("CREATE TABLE t(a DEFAULT 'x')"),
            c("CREATE TABLE t(a DEFAULT 'X')")
        );
        assert_ne!(c("CREATE TABLE t(a)"), c("CREATE TABLE main.t(a)"));
    }
}
