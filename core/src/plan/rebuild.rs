//! The steps of a table rebuild: the new table made from its declared text, every row copied
//! into it (rowids and the AUTOINCREMENT high-water mark kept), the old one dropped — in one of
//! two orders ([`Swap`]): the old table renamed away first, so that the new one is created
//! under its own name and stored byte for byte as declared; or, where that cannot be done, the
//! new one created under a temporary name and renamed into place. Whether to rebuild is
//! `strategy`'s decision, never this module's.

use super::*;
use crate::diff::TableAlter;
use crate::sqltext::{ident_key, quote_ident as q, quote_str, rename_create, tokens};
use sqlite3_parser::lexer::sql::TokenType;

/// How a rebuild puts the new table in the old one's place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Swap {
    /// The old table is renamed away under `PRAGMA legacy_alter_table = ON` (with
    /// enforcement off, which a rebuild always has, no other table's `REFERENCES`, view or
    /// trigger follows it), and the new one is created under its declared name: SQLite stores
    /// the declared statement byte for byte.
    OldAway,
    /// The new table is created under a temporary name and renamed into place; SQLite then
    /// stores its name quoted (`CREATE TABLE "t"(…)`).
    NewIn,
    /// Foreign-key enforcement stays on (Cloudflare D1, rqlite `-fk`): the old table is renamed
    /// away with every reference following it (its children, rebuilt with it, then name the
    /// old table: see `enforced`), and its `DROP` is left to the plan, which drops the old
    /// tables after every copy, children first, so that no `ON DELETE` action fires.
    OldAwayEnforced,
}

impl Swap {
    /// The order of `c`'s blocking rebuild: the old table renamed away where the SQLite
    /// renames it keeping other tables' references ([`Capabilities::rename_keeps_references`])
    /// and can re-read it under its new name (see [`names_itself`]); else the new one renamed in.
    pub(super) fn blocking(c: &Table, current: &Schema, caps: Capabilities) -> Swap {
        if caps.foreign_keys_enforced {
            Swap::OldAwayEnforced
        } else if caps.rename_keeps_references && !names_itself(c, current) {
            Swap::OldAway
        } else {
            Swap::NewIn
        }
    }
}

/// Whether `c`'s own text, or that of an index on it, qualifies a column with the table's name
/// (`CHECK (t.a > 0)`, a partial index's `WHERE t.b > 0`): the legacy rename re-reads them
/// under the new name and fails ("no such column: t.a"). Text that does not tokenize counts.
fn names_itself(c: &Table, current: &Schema) -> bool {
    let key = c.name.to_ascii_lowercase();
    let qualifies = |sql: &str| match tokens(sql) {
        Some(toks) => toks
            .windows(2)
            .any(|w| w[1].0 == TokenType::TK_DOT && ident_key(&sql[w[0].1.clone()]) == key),
        None => true,
    };
    qualifies(&c.sql)
        || current
            .indexes
            .values()
            .any(|i| i.table.eq_ignore_ascii_case(&c.name) && qualifies(&i.sql))
}

/// The name of the rowid column to use for `t` (`rowid`, `_rowid_` or `oid`, whichever is not
/// shadowed by a real column).
pub(super) fn rowid_name(t: &Table) -> Option<&'static str> {
    ["rowid", "_rowid_", "oid"]
        .into_iter()
        .find(|n| t.column(n).is_none())
}

/// Name of the current column that feeds target column `tkey`, as it is named when the
/// rebuild runs (after native renames), or `None` for a new column.
pub(super) fn source_column(
    a: &TableAlter,
    c: &Table,
    tkey: &str,
    caps: Capabilities,
) -> Option<String> {
    source_column_named(a, c, tkey, native_column_renames(a, caps))
}

/// [`source_column`], with the current table's columns already renamed (`renamed`) or not.
fn source_column_named(a: &TableAlter, c: &Table, tkey: &str, renamed: bool) -> Option<String> {
    if let Some((o, _)) = a.column_renames.iter().find(|(_, n)| n == tkey) {
        return if renamed {
            Some(tkey.to_string())
        } else {
            c.column(o).map(|x| x.name.clone())
        };
    }
    if a.added_columns.iter().any(|x| x == tkey) {
        return None;
    }
    c.column(tkey).map(|x| x.name.clone())
}

/// The steps of `c`'s rebuild into `t`, in the order `swap` says.
#[allow(clippy::too_many_arguments)]
pub(super) fn rebuild_steps(
    a: &TableAlter,
    c: &Table,
    t: &Table,
    current: &Schema,
    target: &Schema,
    caps: Capabilities,
    why: &[RebuildReason],
    swap: Swap,
) -> Vec<Step> {
    let why = why
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ");
    if t.is_virtual() || c.is_virtual() {
        return recreate_virtual(t, &why);
    }
    // After a native RENAME TO, the current table has the target's name.
    let src_name = if a.renamed() { &t.name } else { &c.name };
    let (cols, exprs) = copied_columns(a, c, t, caps);
    let copy =
        |into: &str, from: &str| copy_step(a, c, t, caps, into, from, src_name, &cols, &exprs);
    let mut out = Vec::new();
    match swap {
        Swap::OldAway => {
            let old = away_name(t, current, target);
            out.push(rename_away_step(t, src_name, &old, &why));
            out.push(Step {
                kind: StepKind::RebuildCreate,
                ..step(
                    t.sql.clone(),
                    format!("rebuild {}: create the new table", t.name),
                )
            });
            out.extend((!cols.is_empty()).then(|| copy(&t.name, &old)));
            out.extend(sequence_step(c, t, &t.name, &old));
            out.push(drop_old_step(t, &old, cols.is_empty()));
        }
        Swap::OldAwayEnforced => {
            let old = away_name(t, current, target);
            out.push(step(
                format!("ALTER TABLE {} RENAME TO {}", q(src_name), q(&old)),
                format!(
                    "rebuild {} ({why}): rename the old table away (the tables that reference it follow it, and are rebuilt too)",
                    t.name
                ),
            ));
            out.push(Step {
                kind: StepKind::RebuildCreate,
                ..step(
                    t.sql.clone(),
                    format!("rebuild {}: create the new table", t.name),
                )
            });
            out.extend((!cols.is_empty()).then(|| copy(&t.name, &old)));
            out.extend(sequence_step(c, t, &t.name, &old));
        }
        Swap::NewIn => {
            let tmp = shadow_name(t, current, target);
            let create = rename_create(&t.sql, &tmp).unwrap_or_else(|| t.sql.clone());
            out.push(Step {
                kind: StepKind::RebuildCreate,
                ..step(
                    create,
                    format!("rebuild {} ({why}): create the new table", t.name),
                )
            });
            out.extend((!cols.is_empty()).then(|| copy(&tmp, src_name)));
            out.extend(sequence_step(c, t, &tmp, src_name));
            out.push(drop_old_step(t, src_name, cols.is_empty()));
            out.push(step(
                format!("ALTER TABLE {} RENAME TO {}", q(&tmp), q(&t.name)),
                format!("rebuild {}: rename the new table into place", t.name),
            ));
        }
    }
    out
}

/// `ALTER TABLE … RENAME TO old` with `legacy_alter_table` on for that statement only (other
/// renames of the plan must rewrite references) and back to its default after; apply puts
/// back whatever the connection had.
fn rename_away_step(t: &Table, from: &str, old: &str, why: &str) -> Step {
    step(
        format!(
            "{LEGACY_ALTER_ON};\nALTER TABLE {} RENAME TO {};\n{LEGACY_ALTER_OFF}",
            q(from),
            q(old)
        ),
        format!(
            "rebuild {} ({why}): rename the old table away (other tables still name {})",
            t.name, t.name
        ),
    )
}

/// The AUTOINCREMENT high-water mark of the old table (`from`) given to the new one (`to`).
fn sequence_step(c: &Table, t: &Table, to: &str, from: &str) -> Option<Step> {
    (c.autoincrement && t.autoincrement).then(|| {
        step(
            format!(
                "DELETE FROM sqlite_sequence WHERE name = {toq};\nINSERT INTO sqlite_sequence (name, seq) SELECT {toq}, seq FROM sqlite_sequence WHERE name = {fromq}",
                toq = quote_str(to),
                fromq = quote_str(from)
            ),
            format!("rebuild {}: keep the AUTOINCREMENT high-water mark", t.name),
        )
    })
}

/// The old table's `DROP TABLE`, destructive when nothing was copied (no column carries over
/// and no rowid to keep: all its rows are lost).
fn drop_old_step(t: &Table, old: &str, nothing_copied: bool) -> Step {
    Step {
        sql: format!("DROP TABLE {}", q(old)),
        reason: if nothing_copied {
            format!(
                "rebuild {}: drop the old table (no column carries over: all its rows are lost)",
                t.name
            )
        } else {
            format!("rebuild {}: drop the old table", t.name)
        },
        destructive: nothing_copied,
        rewrites_rows: false,
        cost: Cost::Free(TableSize::of(old)),
        kind: StepKind::DropOldTable,
    }
}

/// The `DROP` of the old table a [`Swap::OldAwayEnforced`] rebuild left, which the plan
/// runs after every copy.
pub(super) fn enforced_old_drop(
    a: &TableAlter,
    c: &Table,
    t: &Table,
    current: &Schema,
    target: &Schema,
    caps: Capabilities,
) -> Step {
    let nothing_copied = copied_columns(a, c, t, caps).0.is_empty();
    drop_old_step(t, &away_name(t, current, target), nothing_copied)
}

/// The name the old table is renamed away to: one no table has, before or after.
fn away_name(t: &Table, current: &Schema, target: &Schema) -> String {
    unused_name(format!("_liteshift_old_{}", t.name), current, target)
}

/// The temporary name a rebuilt table is created under: one no table has, before or after.
pub(super) fn shadow_name(t: &Table, current: &Schema, target: &Schema) -> String {
    unused_name(format!("_liteshift_new_{}", t.name), current, target)
}

/// `tmp`, with `_` appended until no table has the name, before or after.
fn unused_name(mut tmp: String, current: &Schema, target: &Schema) -> String {
    while current.tables.contains_key(&tmp.to_ascii_lowercase())
        || target.tables.contains_key(&tmp.to_ascii_lowercase())
    {
        tmp.push('_');
    }
    tmp
}

/// A changed virtual table is dropped and created again from its declaration (its module
/// rebuilds its content).
fn recreate_virtual(t: &Table, why: &str) -> Vec<Step> {
    vec![
        Step {
            sql: format!("DROP TABLE {}", q(&t.name)),
            reason: format!(
                "drop virtual table {} to recreate it ({why}); its content must be rebuilt",
                t.name
            ),
            destructive: true,
            rewrites_rows: false,
            cost: Cost::Free(TableSize::of(t.name.clone())),
            kind: StepKind::Other,
        },
        step(t.sql.clone(), format!("create virtual table {}", t.name)),
    ]
}

/// The new table's columns the copy fills, and the expressions over the old table that fill
/// them: every carried-over stored column, and the rowid (through an INTEGER PRIMARY KEY
/// alias, or the hidden rowid itself) so that rowids survive.
fn copied_columns(
    a: &TableAlter,
    c: &Table,
    t: &Table,
    caps: Capabilities,
) -> (Vec<String>, Vec<String>) {
    copied_columns_named(a, c, t, native_column_renames(a, caps))
}

/// [`copied_columns`], reading the current table's columns by their names after native
/// renames (`renamed`) or before any step.
pub(super) fn copied_columns_named(
    a: &TableAlter,
    c: &Table,
    t: &Table,
    renamed: bool,
) -> (Vec<String>, Vec<String>) {
    let mut cols = Vec::new();
    let mut exprs = Vec::new();
    let alias = t.rowid_alias().map(|x| x.key());
    let mut alias_fed = false;
    for tc in &t.columns {
        if tc.generated != Generated::No {
            continue;
        }
        if let Some(v) = a.values.get(&tc.key()) {
            alias_fed |= Some(tc.key()) == alias;
            cols.push(q(&tc.name));
            exprs.push(format!("({})", v.expr));
            continue;
        }
        match source_column_named(a, c, &tc.key(), renamed) {
            Some(src) => {
                if Some(tc.key()) == alias {
                    alias_fed = true;
                }
                cols.push(q(&tc.name));
                exprs.push(q(&src));
            }
            None => {
                if Some(tc.key()) == alias && c.has_rowid() {
                    if let Some(r) = rowid_name(c) {
                        alias_fed = true;
                        cols.push(q(&tc.name));
                        exprs.push(r.to_string());
                    }
                }
            }
        }
    }
    if t.has_rowid() && c.has_rowid() && !alias_fed && alias.is_none() {
        if let (Some(rt), Some(rc)) = (rowid_name(t), rowid_name(c)) {
            cols.insert(0, rt.to_string());
            exprs.insert(0, rc.to_string());
        }
    }
    (cols, exprs)
}

/// The `INSERT … SELECT` that copies every row from `from` into `into`, destructive when values
/// of dropped columns are lost or stored values become generated ones. The old table is read
/// under its name before the rebuild (`src_name`, an alias when it was renamed away), which
/// declared values may name.
#[allow(clippy::too_many_arguments)]
fn copy_step(
    a: &TableAlter,
    c: &Table,
    t: &Table,
    caps: Capabilities,
    into: &str,
    from: &str,
    src_name: &str,
    cols: &[String],
    exprs: &[String],
) -> Step {
    let lost: Vec<String> = a
        .dropped_columns
        .iter()
        .filter_map(|k| c.column(k).map(|x| x.name.clone()))
        .collect();
    let became_generated: Vec<String> = t
        .columns
        .iter()
        .filter(|tc| tc.generated != Generated::No)
        .filter_map(|tc| {
            source_column(a, c, &tc.key(), caps)
                .and_then(|s| c.column(&s.to_ascii_lowercase()).cloned())
                .filter(|cc| cc.generated == Generated::No)
                .map(|_| tc.name.clone())
        })
        .collect();
    let mut reason = format!("rebuild {}: copy every row", t.name);
    if !lost.is_empty() {
        reason.push_str(&format!(
            " (the values of dropped column(s) {} are lost)",
            lost.join(", ")
        ));
    }
    if !became_generated.is_empty() {
        reason.push_str(&format!(
            " (stored values of column(s) {} are replaced by generated ones)",
            became_generated.join(", ")
        ));
    }
    Step {
        sql: format!(
            "INSERT INTO {} ({}) SELECT {} FROM {}",
            q(into),
            cols.join(", "),
            exprs.join(", "),
            if from == src_name {
                q(from)
            } else {
                format!("{} AS {}", q(from), q(src_name))
            }
        ),
        reason,
        destructive: !lost.is_empty() || !became_generated.is_empty(),
        rewrites_rows: true,
        cost: Cost::Constant,
        kind: StepKind::RebuildCopy,
    }
}

// One test per rule of a rebuild's steps; the schemas are loaded by SQLite.
#[cfg(all(test, feature = "rusqlite"))]
mod tests {
    use super::*;
    use crate::diff::testkit::{changes, schema};
    use insta::assert_snapshot;

    const NEWEST: SqliteVersion = SqliteVersion(3, 53, 0);

    /// The rebuild of table `t` from `before` to `after` on `version`, for the strategy's
    /// reasons and in the order `Swap::blocking` chooses: each step's SQL, then its reason.
    fn rebuild(before: &str, after: &str, version: SqliteVersion) -> String {
        let (current, target, ch) = (schema(before), schema(after), changes(before, after));
        let a = &ch.altered_tables[0];
        let (c, t) = (&current.tables[&a.from], &target.tables[&a.to]);
        let caps = Capabilities::new(version);
        let Strategy::Rebuild(why) = table_strategy(a, c, t, &current, caps, &BTreeSet::new())
        else {
            panic!("not a rebuild");
        };
        let swap = Swap::blocking(c, &current, caps);
        let steps = rebuild_steps(a, c, t, &current, &target, caps, &why, swap);
        let line = |s: &Step| format!("{}\n  -- {}", s.sql, s.reason);
        steps.iter().map(line).collect::<Vec<_>>().join("\n")
    }

    #[test]
    fn the_old_table_is_renamed_away_where_rename_keeps_references() {
        let before = "CREATE TABLE t(id INTEGER PRIMARY KEY AUTOINCREMENT, a TEXT, gone INT)";
        let after = "CREATE TABLE t(id INTEGER PRIMARY KEY AUTOINCREMENT, a TEXT UNIQUE, b INT)";
        assert_snapshot!(rebuild(before, after, NEWEST), @r#"
            PRAGMA legacy_alter_table = ON;
            ALTER TABLE "t" RENAME TO "_liteshift_old_t";
            PRAGMA legacy_alter_table = OFF
              -- rebuild t (UNIQUE constraints): rename the old table away (other tables still name t)
            CREATE TABLE t(id INTEGER PRIMARY KEY AUTOINCREMENT, a TEXT UNIQUE, b INT)
              -- rebuild t: create the new table
            INSERT INTO "t" ("id", "a") SELECT "id", "a" FROM "_liteshift_old_t" AS "t"
              -- rebuild t: copy every row (the values of dropped column(s) gone are lost)
            DELETE FROM sqlite_sequence WHERE name = 't';
            INSERT INTO sqlite_sequence (name, seq) SELECT 't', seq FROM sqlite_sequence WHERE name = '_liteshift_old_t'
              -- rebuild t: keep the AUTOINCREMENT high-water mark
            DROP TABLE "_liteshift_old_t"
              -- rebuild t: drop the old table
        "#);
    }

    #[test]
    fn before_3_25_the_new_table_is_renamed_in() {
        let before = "CREATE TABLE t(a TEXT)";
        let after = "CREATE TABLE t(a TEXT PRIMARY KEY)";
        assert_snapshot!(rebuild(before, after, SqliteVersion(3, 24, 0)), @r#"
            CREATE TABLE "_liteshift_new_t"(a TEXT PRIMARY KEY)
              -- rebuild t (primary key): create the new table
            INSERT INTO "_liteshift_new_t" (rowid, "a") SELECT rowid, "a" FROM "t"
              -- rebuild t: copy every row
            DROP TABLE "t"
              -- rebuild t: drop the old table
            ALTER TABLE "_liteshift_new_t" RENAME TO "t"
              -- rebuild t: rename the new table into place
        "#);
    }

    #[test]
    fn a_table_that_names_itself_is_renamed_in() {
        let itself = schema("CREATE TABLE t(a INT CHECK (t.a > 0))");
        let by_index = schema("CREATE TABLE t(a INT); CREATE INDEX i ON t(a) WHERE t.a > 0");
        let plain = schema("CREATE TABLE t(a INT CHECK (a > 0))");
        let caps = Capabilities::new(NEWEST);
        let swap = |s: &Schema| Swap::blocking(&s.tables["t"], s, caps);
        assert_eq!(swap(&itself), Swap::NewIn);
        assert_eq!(swap(&by_index), Swap::NewIn);
        assert_eq!(swap(&plain), Swap::OldAway);
        let enforced = Capabilities {
            foreign_keys_enforced: true,
            ..caps
        };
        assert_eq!(
            Swap::blocking(&plain.tables["t"], &plain, enforced),
            Swap::OldAwayEnforced
        );
    }

    #[test]
    fn a_rebuild_with_no_column_to_copy_loses_the_rows_and_says_so() {
        let before = "CREATE TABLE t(a TEXT PRIMARY KEY) WITHOUT ROWID";
        let after = "CREATE TABLE t(b TEXT PRIMARY KEY) WITHOUT ROWID";
        assert_snapshot!(rebuild(before, after, NEWEST), @r#"
            PRAGMA legacy_alter_table = ON;
            ALTER TABLE "t" RENAME TO "_liteshift_old_t";
            PRAGMA legacy_alter_table = OFF
              -- rebuild t (primary key; drop column a: part of the primary key; add column b: part of the primary key): rename the old table away (other tables still name t)
            CREATE TABLE t(b TEXT PRIMARY KEY) WITHOUT ROWID
              -- rebuild t: create the new table
            DROP TABLE "_liteshift_old_t"
              -- rebuild t: drop the old table (no column carries over: all its rows are lost)
        "#);
    }

    #[test]
    fn a_virtual_table_is_dropped_and_created_again() {
        let before = "CREATE VIRTUAL TABLE t USING fts5(a)";
        let after = "CREATE VIRTUAL TABLE t USING fts5(a, b)";
        assert_snapshot!(rebuild(before, after, NEWEST), @r#"
            DROP TABLE "t"
              -- drop virtual table t to recreate it (virtual table definition); its content must be rebuilt
            CREATE VIRTUAL TABLE t USING fts5(a, b)
              -- create virtual table t
        "#);
    }

    #[test]
    fn the_rowid_name_is_one_no_column_shadows() {
        let s = schema("CREATE TABLE t(rowid INT, _rowid_ INT); CREATE TABLE u(a INT)");
        assert_eq!(rowid_name(&s.tables["t"]), Some("oid"));
        assert_eq!(rowid_name(&s.tables["u"]), Some("rowid"));
    }

    #[test]
    fn a_renamed_column_is_read_by_its_name_when_the_rebuild_runs() {
        let before = "CREATE TABLE t(a INT, b INT)";
        let after = "CREATE TABLE t(x INT, b INT, n INT);\n-- liteshift:rename-column t.a=x";
        let (current, ch) = (schema(before), changes(before, after));
        let (a, c) = (&ch.altered_tables[0], &current.tables["t"]);
        let source = |k, v| source_column(a, c, k, Capabilities::new(v));
        assert_eq!(source("x", NEWEST).as_deref(), Some("x"));
        assert_eq!(source("x", SqliteVersion(3, 24, 0)).as_deref(), Some("a"));
        assert_eq!(source("b", NEWEST).as_deref(), Some("b"));
        assert_eq!(source("n", NEWEST), None);
    }

    #[test]
    fn a_temporary_name_is_one_no_table_has() {
        let current = schema("CREATE TABLE t(a INT); CREATE TABLE _liteshift_old_t(a INT)");
        let target = schema("CREATE TABLE t(a INT); CREATE TABLE _liteshift_old_t_(a INT)");
        assert_eq!(
            away_name(&current.tables["t"], &current, &target),
            "_liteshift_old_t__"
        );
    }
}
