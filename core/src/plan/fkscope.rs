//! Which tables' foreign keys a migration can break: the scope of the `PRAGMA
//! foreign_key_check` that apply runs before and after the steps. Checking the whole database
//! reads every child row of every table, so an O(1) `ADD COLUMN` would cost a scan of all the
//! data; only a table whose own foreign keys change, or whose parent changes, can gain a
//! violation.
//!
//! A child table is in scope when it is altered (its rows or its foreign keys change), or when
//! one of its parents is altered (rebuilt, renamed, its key changed), added, dropped or
//! missing. Anything this cannot read — a table definition the parser could not read, a
//! foreign key whose parent it cannot name — makes the scope the whole database.

use std::collections::BTreeSet;

use super::*;

/// The tables to check, each by its name before the migration (`None`: it is new) and after;
/// `None` for the whole database.
pub(super) fn fk_scope(
    current: &Schema,
    target: &Schema,
    changes: &Changes,
) -> Option<Vec<FkCheck>> {
    let altered: BTreeSet<&str> = changes
        .altered_tables
        .iter()
        .map(|a| a.to.as_str())
        .collect();
    let added: BTreeSet<&str> = changes.added_tables.iter().map(String::as_str).collect();
    let mut out = Vec::new();
    for (key, t) in &target.tables {
        if t.is_virtual() {
            continue;
        }
        let canon = t.canon()?;
        if canon.foreign_keys.is_empty() {
            continue;
        }
        let mut touched = altered.contains(key.as_str());
        for fk in &canon.foreign_keys {
            let parent = parent_of(fk)?;
            touched |= altered.contains(parent.as_str())
                || added.contains(parent.as_str())
                || !target.tables.contains_key(&parent);
        }
        if touched && !added.contains(key.as_str()) {
            out.push(FkCheck {
                before: current_table_of(current, changes, key),
                after: t.name.clone(),
            });
        }
    }
    Some(out)
}

/// The parent table of a normalised foreign key (`(a) references p (id) …`): its name key.
fn parent_of(fk: &str) -> Option<String> {
    let rest = fk.split_once(") references ")?.1;
    let end = rest.find([' ', '(']).unwrap_or(rest.len());
    let name = &rest[..end];
    // A quoted name with spaces or parentheses is not read here: the whole database is checked.
    (!name.is_empty() && !name.contains(['"', '`', '[', '\''])).then(|| name.to_string())
}

#[cfg(test)]
mod tests {
    use super::parent_of;

    #[test]
    fn a_foreign_keys_parent() {
        assert_eq!(parent_of("(p_id) references p (id)").as_deref(), Some("p"));
        assert_eq!(
            parent_of("(a, b) references parent(x, y) on delete cascade").as_deref(),
            Some("parent")
        );
        assert_eq!(parent_of("(a) references p").as_deref(), Some("p"));
        assert_eq!(parent_of("nonsense"), None);
    }
}
