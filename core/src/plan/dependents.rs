//! Which views, triggers and indexes a plan drops before the table changes and creates again
//! after them: those that change, those that depend on a table that is rebuilt, renamed or
//! loses a column (to a fixed point over views of views), and those whose stored text SQLite's
//! own `RENAME/DROP COLUMN` would re-quote. Also whether foreign-key enforcement must be off.

use std::collections::BTreeSet;

use super::*;
use crate::diff::ObjectChange;
use crate::sqltext::{mentioned_names, quote_ident as q};

/// The objects a plan drops and recreates around its table changes.
pub(super) struct Dependents {
    drop_views: BTreeSet<String>,
    drop_triggers: BTreeSet<String>,
    /// Indexes that change or go.
    doomed_indexes: BTreeSet<String>,
    /// Indexes recreated only because a native RENAME/DROP COLUMN would re-quote them.
    requoted_indexes: BTreeSet<String>,
    /// Target tables that are rebuilt: all their indexes are created again.
    rebuilt_targets: BTreeSet<String>,
    /// A table is rebuilt or dropped: enforcement must be off (DROP TABLE would cascade).
    pub(super) fk_off: bool,
}

/// Whether a table's native steps include `ALTER TABLE … DROP COLUMN` (which re-quotes the
/// double-quoted literals of every object in the database).
pub(super) fn drops_columns_natively(strategies: &[Strategy]) -> bool {
    strategies.iter().any(
        |s| matches!(s, Strategy::Native(st) if st.iter().any(|x| x.kind == StepKind::DropColumn)),
    )
}

impl Dependents {
    /// The objects `changes` (carried out by `strategies`) drop and recreate; `doomed_indexes`
    /// are the indexes that change or go.
    pub(super) fn find(
        current: &Schema,
        target: &Schema,
        changes: &Changes,
        strategies: &[Strategy],
        caps: Capabilities,
        doomed_indexes: BTreeSet<String>,
    ) -> Dependents {
        let (affected, rebuilt_targets) = affected_tables(changes, strategies);
        // A native RENAME COLUMN or DROP COLUMN rewrites the double-quoted string literals of
        // every index, view and trigger in the database: those are recreated from their declared
        // text after it.
        let rewrites = (caps.rename_column()
            && changes
                .altered_tables
                .iter()
                .any(|a| !a.column_renames.is_empty()))
            || drops_columns_natively(strategies);
        let requoted = |k: &String| rewrites && target.rewritten_by_alter.contains(k);

        // Views and triggers to drop: changed/removed ones, rewritten ones, and those depending on
        // affected tables or on dropped views (to a fixed point).
        let mut drop_views = replaced_or_requoted(&changes.views, current.views.keys(), requoted);
        let mut drop_triggers =
            replaced_or_requoted(&changes.triggers, current.triggers.keys(), requoted);
        let requoted_indexes: BTreeSet<String> = current
            .indexes
            .keys()
            .filter(|k| requoted(k) && !doomed_indexes.contains(*k))
            .cloned()
            .collect();
        add_dependents(current, &affected, &mut drop_views, &mut drop_triggers);
        drop_triggers.extend(value_update_triggers(current, changes, strategies));
        Dependents {
            drop_views,
            drop_triggers,
            doomed_indexes,
            requoted_indexes,
            fk_off: needs_fk_off(target, changes, strategies),
            rebuilt_targets,
        }
    }

    /// Phase A: drop triggers, views (dependents first), indexes.
    pub(super) fn drop_steps(&self, current: &Schema) -> Vec<Step> {
        let Dependents {
            drop_views,
            drop_triggers,
            doomed_indexes,
            requoted_indexes,
            ..
        } = self;
        let mut steps = Vec::new();
        for k in drop_triggers.iter() {
            steps.push(step(
                format!("DROP TRIGGER {}", q(&current.triggers[k].name)),
                format!("drop trigger {}", current.triggers[k].name),
            ));
        }
        let mut views_by_seq: Vec<&View> = drop_views.iter().map(|k| &current.views[k]).collect();
        views_by_seq.sort_by_key(|v| std::cmp::Reverse(v.seq));
        for v in views_by_seq {
            steps.push(step(
                format!("DROP VIEW {}", q(&v.name)),
                format!("drop view {}", v.name),
            ));
        }
        let drop_indexes = doomed_indexes.iter().chain(requoted_indexes.iter());
        for i in drop_indexes.map(|k| &current.indexes[k]) {
            steps.push(step(
                format!("DROP INDEX {}", q(&i.name)),
                format!("drop index {}", i.name),
            ));
        }
        steps
    }

    /// Phases G, H, I: indexes (new, changed, re-quoted, and every index of a rebuilt table),
    /// then views and triggers, in the target's creation order.
    pub(super) fn create_steps(&self, target: &Schema, changes: &Changes) -> Vec<Step> {
        let Dependents {
            drop_views,
            drop_triggers,
            requoted_indexes,
            rebuilt_targets,
            ..
        } = self;
        let mut steps = Vec::new();
        let mut idx: Vec<&Index> = target
            .indexes
            .iter()
            .filter(|(k, i)| {
                changes
                    .indexes
                    .iter()
                    .any(|c| &c.name == *k && c.action != Action::Drop)
                    || requoted_indexes.contains(*k)
                    || rebuilt_targets.contains(&i.table.to_ascii_lowercase())
            })
            .map(|(_, i)| i)
            .collect();
        idx.sort_by_key(|i| i.seq);
        for i in idx {
            // Its cost is a scan of the table (named here as the target names it; the
            // planner maps it to the table's name before the migration).
            steps.push(Step {
                cost: Cost::Scan(TableSize::of(i.table.clone())),
                kind: StepKind::CreateIndex(i.name.to_ascii_lowercase()),
                ..step(i.sql.clone(), format!("create index {}", i.name))
            });
        }

        // Phase H: views; phase I: triggers (target creation order).
        let recreate = |changes: &[ObjectChange], dropped: &BTreeSet<String>, k: &String| {
            dropped.contains(k)
                || changes
                    .iter()
                    .any(|c| &c.name == k && c.action == Action::Add)
        };
        let mut views: Vec<&View> = target
            .views
            .iter()
            .filter(|(k, _)| recreate(&changes.views, drop_views, k))
            .map(|(_, v)| v)
            .collect();
        views.sort_by_key(|v| v.seq);
        for v in views {
            steps.push(step(v.sql.clone(), format!("create view {}", v.name)));
        }
        let mut trgs: Vec<&Trigger> = target
            .triggers
            .iter()
            .filter(|(k, _)| recreate(&changes.triggers, drop_triggers, k))
            .map(|(_, v)| v)
            .collect();
        trgs.sort_by_key(|v| v.seq);
        for tr in trgs {
            steps.push(step(tr.sql.clone(), format!("create trigger {}", tr.name)));
        }
        steps
    }
}

/// The tables whose views and triggers are dropped and recreated (dropped tables, and both
/// names of one renamed, losing or renaming a column, or rebuilt), and the target keys of the
/// rebuilt tables (all their indexes are created again).
fn affected_tables(
    changes: &Changes,
    strategies: &[Strategy],
) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut affected: BTreeSet<String> = changes.dropped_tables.iter().cloned().collect();
    let mut rebuilt_targets: BTreeSet<String> = BTreeSet::new();
    for (a, s) in changes.altered_tables.iter().zip(strategies) {
        let rebuilt = matches!(s, Strategy::Rebuild(_));
        let structural =
            a.renamed() || !a.column_renames.is_empty() || !a.dropped_columns.is_empty() || rebuilt;
        if structural {
            affected.insert(a.from.clone());
            affected.insert(a.to.clone());
        }
        if rebuilt {
            rebuilt_targets.insert(a.to.clone());
        }
    }
    (affected, rebuilt_targets)
}

/// Whether foreign-key enforcement must be off during the steps: a table is rebuilt or
/// dropped (`DROP TABLE` would cascade), or declared values are given in a table with foreign
/// keys (checked as a rebuild's copy is: with enforcement off during the steps, then
/// `foreign_key_check`, a refusal naming the rows, not by the `UPDATE` failing half-way).
fn needs_fk_off(target: &Schema, changes: &Changes, strategies: &[Strategy]) -> bool {
    let has_fks = |k: &String| {
        target.tables[k]
            .canon()
            .is_none_or(|t| !t.foreign_keys.is_empty())
    };
    !changes.dropped_tables.is_empty()
        || strategies.iter().any(|s| matches!(s, Strategy::Rebuild(_)))
        || changes
            .altered_tables
            .iter()
            .any(|a| !a.values.is_empty() && has_fks(&a.to))
}

/// The triggers on a table whose declared values a native `UPDATE` gives: they must not fire
/// (an audit trigger would log it; a rebuild's copy fires none either).
fn value_update_triggers<'a>(
    current: &'a Schema,
    changes: &'a Changes,
    strategies: &'a [Strategy],
) -> impl Iterator<Item = String> + 'a {
    let updated = changes
        .altered_tables
        .iter()
        .zip(strategies)
        .filter(|(a, s)| !a.values.is_empty() && matches!(s, Strategy::Native(_)));
    updated.flat_map(|(a, _)| {
        current
            .triggers
            .iter()
            .filter(|(_, t)| t.table.eq_ignore_ascii_case(&a.from))
            .map(|(k, _)| k.clone())
    })
}

/// The objects (views or triggers) the change list replaces or drops, and those whose text a
/// native `RENAME/DROP COLUMN` would re-quote (`requoted`).
fn replaced_or_requoted<'a>(
    changes: &[ObjectChange],
    current: impl Iterator<Item = &'a String>,
    requoted: impl Fn(&String) -> bool,
) -> BTreeSet<String> {
    changes
        .iter()
        .filter(|c| c.action != Action::Add)
        .map(|c| c.name.clone())
        .chain(current.filter(|k| requoted(k)).cloned())
        .collect()
}

/// Whether `sql` names one of `on`. Text the tokenizer cannot read: a case-insensitive search
/// for each name (over-approximates, never misses a dependency).
fn depends(sql: &str, on: &BTreeSet<String>) -> bool {
    match mentioned_names(sql) {
        Some(names) => names.iter().any(|n| on.contains(n)),
        None => {
            let lower = sql.to_ascii_lowercase();
            on.iter().any(|n| lower.contains(n.as_str()))
        }
    }
}

/// Add to the views and triggers to drop those that depend on an `affected` table or on a view
/// being dropped (views of views to a fixed point).
fn add_dependents(
    current: &Schema,
    affected: &BTreeSet<String>,
    drop_views: &mut BTreeSet<String>,
    drop_triggers: &mut BTreeSet<String>,
) {
    loop {
        let mut on = affected.clone();
        on.extend(drop_views.iter().cloned());
        let before = drop_views.len();
        for (k, v) in &current.views {
            if !drop_views.contains(k) && depends(&v.sql, &on) {
                drop_views.insert(k.clone());
            }
        }
        if drop_views.len() == before {
            break;
        }
    }
    let mut on = affected.clone();
    on.extend(drop_views.iter().cloned());
    for (k, t) in &current.triggers {
        if !drop_triggers.contains(k) && depends(&t.sql, &on) {
            drop_triggers.insert(k.clone());
        }
    }
}

// One test per rule of which objects are dropped and recreated; the schemas are loaded by
// SQLite and each altered table's strategy is the planner's own.
#[cfg(all(test, feature = "rusqlite"))]
mod tests {
    use super::*;
    use crate::diff::testkit::{changes, schema};
    use insta::assert_snapshot;

    /// What `Dependents::find` decides from `before` to `after` on the newest SQLite: the drop
    /// steps, the create steps, and whether enforcement is off.
    fn dependents(before: &str, after: &str) -> String {
        let (current, target, ch) = (schema(before), schema(after), changes(before, after));
        let caps = Capabilities::new(SqliteVersion(3, 53, 0));
        let doomed: BTreeSet<String> = ch
            .indexes
            .iter()
            .filter(|c| c.action != Action::Add)
            .map(|c| c.name.clone())
            .collect();
        let strategies: Vec<Strategy> = ch
            .altered_tables
            .iter()
            .map(|a| {
                let (c, t) = (&current.tables[&a.from], &target.tables[&a.to]);
                table_strategy(a, c, t, &current, caps, &doomed)
            })
            .collect();
        let d = Dependents::find(&current, &target, &ch, &strategies, caps, doomed);
        let mut out: Vec<String> = d.drop_steps(&current).into_iter().map(|s| s.sql).collect();
        out.extend(d.create_steps(&target, &ch).into_iter().map(|s| s.sql));
        out.push(format!("fk_off: {}", d.fk_off));
        out.join("\n")
    }

    const T: &str = "CREATE TABLE t(id INTEGER PRIMARY KEY, a TEXT);";

    #[test]
    fn views_of_a_rebuilt_table_and_views_of_those_are_recreated() {
        let views = "CREATE VIEW v AS SELECT a FROM t; CREATE VIEW w AS SELECT * FROM v; CREATE VIEW x AS SELECT 1;";
        let after = "CREATE TABLE t(id INTEGER PRIMARY KEY, a TEXT UNIQUE);";
        assert_snapshot!(dependents(&format!("{T} {views}"), &format!("{after} {views}")), @r#"
            DROP VIEW "w"
            DROP VIEW "v"
            CREATE VIEW v AS SELECT a FROM t
            CREATE VIEW w AS SELECT * FROM v
            fk_off: true
        "#);
    }

    #[test]
    fn a_native_add_column_recreates_nothing_and_keeps_enforcement() {
        let extra = "CREATE VIEW v AS SELECT a FROM t; CREATE INDEX i ON t(a);";
        let after = "CREATE TABLE t(id INTEGER PRIMARY KEY, a TEXT, b INT);";
        assert_snapshot!(dependents(&format!("{T} {extra}"), &format!("{after} {extra}")), @"fk_off: false");
    }

    #[test]
    fn every_index_of_a_rebuilt_table_is_created_again() {
        let idx = "CREATE INDEX i ON t(a);";
        let after = "CREATE TABLE t(id INTEGER PRIMARY KEY, a INT);";
        assert_snapshot!(dependents(&format!("{T} {idx}"), &format!("{after} {idx}")), @r#"
            CREATE INDEX i ON t(a)
            fk_off: true
        "#);
    }

    #[test]
    fn a_dropped_table_turns_enforcement_off_and_drops_its_triggers() {
        let other =
            "CREATE TABLE log(x TEXT); CREATE TRIGGER tr AFTER INSERT ON log BEGIN SELECT 1; END;";
        assert_snapshot!(dependents(&format!("{T} {other}"), T), @r#"
            DROP TRIGGER "tr"
            fk_off: true
        "#);
    }

    #[test]
    fn a_native_value_update_drops_the_tables_own_triggers() {
        let trigger = "CREATE TABLE log(x TEXT); CREATE TRIGGER audit AFTER UPDATE ON t BEGIN INSERT INTO log VALUES (new.a); END;";
        let after = format!("CREATE TABLE t(id INTEGER PRIMARY KEY, a TEXT, n INT); {trigger}\n-- liteshift:value t.n = length(a)");
        assert_snapshot!(dependents(&format!("{T} {trigger}"), &after), @r#"
            DROP TRIGGER "audit"
            CREATE TRIGGER audit AFTER UPDATE ON t BEGIN INSERT INTO log VALUES (new.a); END
            fk_off: false
        "#);
    }

    #[test]
    fn text_the_tokenizer_cannot_read_depends_on_every_name_it_contains() {
        let on = BTreeSet::from(["t".to_string()]);
        assert!(depends("SELECT * FROM t", &on));
        assert!(!depends("SELECT * FROM u", &on));
        assert!(depends("SELECT 'unterminated FROM t", &on));
    }
}
