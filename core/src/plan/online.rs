//! Online rebuilds: which rebuilt tables can be copied while other connections keep writing,
//! and the SQL of each phase — the shadow table, change log and mirror triggers created first,
//! the rows copied in rowid ranges, the rows changed meanwhile copied again ("drained") at the
//! start of every chunk and of the final swap. [`crate::apply`] runs it (its `online` module).
//! It also decides whether what an interrupted run left is exactly what this plan creates,
//! and then continues that run's copy from the last chunk it committed instead of starting
//! over ([`resumed`]).
//!
//! Architecture invariant: this module never decides whether a table is rebuilt (`strategy`
//! does) and builds no other step of the swap than the drain and the removal of its own
//! objects; the swap is the blocking plan's steps without the rebuild's `CREATE` and copy.
//! Like the rest of the planner it is pure.
//!
//! Why the result equals a blocking rebuild: the mirror triggers log the rowid of every row
//! inserted, updated (old and new rowid) or deleted after they exist; a chunk copies the
//! current version of every row in its range, and a drain the current version of every
//! logged row (deleting first, so a deleted row goes). A row that is never written after the
//! triggers exist is copied by its chunk; one that is, by a drain after its last write — the
//! swap's, under the write lock. The one write SQLite does without firing a trigger, a row
//! that `REPLACE` deletes for a UNIQUE conflict (unless `recursive_triggers` is on), is found
//! by counting: the swap removes rows of the shadow that the old table no longer has whenever
//! the counts say there are any.

use serde::Serialize;

use super::keyed::KeyedIndex;
use super::rebuild::{copied_columns_named, rowid_name, shadow_name};
use super::*;
use crate::diff::TableAlter;
use crate::sqltext::{quote_ident as q, quote_str};

/// The online part of a plan: run before its steps, which are then the swap.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Online {
    /// One short transaction: what an interrupted online rebuild left is removed, then each
    /// table's shadow, change log and mirror triggers are created and registered.
    pub prepare: Vec<Step>,
    pub tables: Vec<OnlineTable>,
    /// The objects of the interrupted run whose copies this one continues (see
    /// [`OnlineTable::resumed`]), as the plan found them: apply checks they are still so.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub continues: Vec<Leftover>,
}

/// One table rebuilt online.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OnlineTable {
    /// Its name before the migration (the mirror triggers are on it).
    pub table: String,
    /// The new table, under its temporary name until the swap renames it.
    pub shadow: String,
    /// The log of rowids written since the triggers exist.
    pub log: String,
    /// The copy of every row, as one statement (what the rendered script runs); apply runs
    /// it in rowid ranges ([`OnlineTable::chunk_sql`]), each in its own transaction.
    pub copy: Step,
    /// The rows written since the last drain, copied again; the log emptied.
    pub drain: String,
    /// The old table's rowid as a column name (`rowid`, `_rowid_` or `oid`).
    pub source_key: String,
    /// The shadow's.
    pub shadow_key: String,
    /// `REPLACE` can delete rows of the old table without a trigger firing (it has a UNIQUE
    /// key besides the rowid): the swap counts rows.
    pub may_replace: bool,
    /// The table's `quick_check`, run before the copy, outside the write lock.
    pub health: HealthCheck,
    /// The name the swap renames the old table to, instead of dropping it under the write
    /// lock: its pages are freed after the swap, in short transactions, and it is in the
    /// registry until then. `None`: the swap drops it (a table with foreign keys, whose rows
    /// would still restrict the parents' writes; a SQLite whose schema cannot be edited,
    /// which could not rename its indexes away).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old: Option<String>,
    /// Where an interrupted run of this same plan left the copy, which this one continues
    /// (its triggers, log and shadow are kept; `copy` is the rest of the rows): `None`, a
    /// copy from the start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resumed: Option<CopyProgress>,
    /// Its indexes built in key order after the copy (see `plan/keyed.rs`); the others are
    /// on the shadow from the start.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub keyed: Vec<KeyedIndex>,
    /// `INSERT INTO shadow (…) SELECT … FROM table`, to which a chunk adds its range.
    #[serde(skip)]
    insert: String,
}

impl OnlineTable {
    /// The copy of the rows whose rowid is in `lo..=hi`: any row the drains put there is
    /// replaced by the current version. The registry records, in the same transaction, that
    /// the rows up to `hi` are copied (first: the statement's `changes()` is the insert's).
    pub fn chunk_sql(&self, lo: i64, hi: i64) -> String {
        format!(
            "UPDATE {registry} SET copied = {hi} WHERE kind = 'copy' AND name = {name};\nDELETE FROM {shadow} WHERE {sk} BETWEEN {lo} AND {hi};\n{insert} WHERE {rk} BETWEEN {lo} AND {hi}",
            registry = q(ONLINE_REGISTRY),
            name = quote_str(&self.shadow),
            shadow = q(&self.shadow),
            sk = self.shadow_key,
            rk = self.source_key,
            insert = self.insert,
        )
    }
    /// Rows of the shadow whose rowid the old table no longer has (left by a `REPLACE`), for
    /// a UNIQUE conflict during the copy that may be theirs.
    pub fn remove_replaced_sql(&self) -> String {
        format!(
            "DELETE FROM {shadow} WHERE {sk} NOT IN (SELECT {rk} FROM {t})",
            shadow = q(&self.shadow),
            sk = self.shadow_key,
            rk = self.source_key,
            t = q(&self.table),
        )
    }
    /// `k` built in key order: the drain keeps its helper up to date.
    pub(super) fn add_keyed(&mut self, k: KeyedIndex) {
        let tail = format!(";\nDELETE FROM {}", q(&self.log));
        let body = self.drain.strip_suffix(&tail).unwrap_or(&self.drain);
        self.drain = format!(
            "{};\n{body};\n{}{tail}",
            k.drain_before(&self.log),
            k.drain_after(&self.log)
        );
        self.keyed.push(k);
    }
    /// The triggers and the log: removed by the swap (or after a failure).
    fn teardown(&self) -> Vec<String> {
        let mut out: Vec<String> = TRIGGERS
            .iter()
            .map(|(suffix, ..)| {
                format!(
                    "DROP TRIGGER IF EXISTS {}",
                    q(&format!("{}_{suffix}", self.log_prefix()))
                )
            })
            .collect();
        out.push(format!("DROP TABLE IF EXISTS {}", q(&self.log)));
        out
    }
    fn log_prefix(&self) -> &str {
        self.log.strip_suffix("_log").unwrap_or(&self.log)
    }
}

/// The mirror triggers: name suffix, event, rowids logged.
const TRIGGERS: [(&str, &str, &[&str]); 3] = [
    ("ai", "AFTER INSERT", &["new"]),
    ("au", "AFTER UPDATE", &["old", "new"]),
    ("ad", "AFTER DELETE", &["old"]),
];

/// Why a rebuilt table cannot be rebuilt online (it is then rebuilt in the swap, blocking).
pub(super) fn not_online(
    a: &TableAlter,
    c: &Table,
    t: &Table,
    checks: &[DataCheck],
) -> Option<String> {
    if c.is_virtual() || t.is_virtual() {
        return Some("a virtual table is recreated, not copied".into());
    }
    if !c.has_rowid() || !t.has_rowid() {
        return Some("it is (or becomes) a WITHOUT ROWID table, whose rows have no rowid to copy them by in ranges".into());
    }
    let (Some(rc), Some(rt)) = (rowid_name(c), rowid_name(t)) else {
        return Some(
            "its columns are named rowid, _rowid_ and oid, so its rowid cannot be named".into(),
        );
    };
    if checks.iter().any(|k| k.table == c.name && !k.deferred) {
        return Some("it declares ON CONFLICT clauses, which would let the copy skip or replace a row that violates the new definition instead of stopping there".into());
    }
    let (cols, exprs) = copied_columns_named(a, c, t, false);
    if cols.is_empty() {
        return Some("no column carries over".into());
    }
    // The shadow's rowid must be the old row's: the drains find rows by it.
    let new_key = t.rowid_alias().map_or(rt.to_string(), |x| q(&x.name));
    let old_keys = [Some(rc.to_string()), c.rowid_alias().map(|x| q(&x.name))];
    let fed = cols
        .iter()
        .zip(&exprs)
        .find(|(col, _)| col.eq_ignore_ascii_case(&new_key))
        .map(|(_, e)| e);
    match fed {
        Some(e) if old_keys.iter().flatten().any(|k| k.eq_ignore_ascii_case(e)) => None,
        _ => Some(
            "its new rowid is not the old one (the INTEGER PRIMARY KEY comes from another column)"
                .into(),
        ),
    }
}

/// Whether a `REPLACE` can delete rows of `c` for a UNIQUE conflict (no trigger fires then).
fn may_replace(c: &Table, current: &Schema) -> bool {
    let own = match c.canon() {
        Some(canon) => {
            !canon.uniques.is_empty() || (canon.primary_key.is_some() && c.rowid_alias().is_none())
        }
        None => true,
    };
    own || current
        .indexes
        .values()
        .any(|i| i.unique && i.table.eq_ignore_ascii_case(&c.name))
}

/// The online form of `c`'s rebuild into `t` (which [`not_online`] accepted); `n` numbers
/// its objects.
pub(super) fn online_table(
    a: &TableAlter,
    c: &Table,
    t: &Table,
    current: &Schema,
    target: &Schema,
    caps: Capabilities,
    n: usize,
) -> (OnlineTable, Step) {
    let shadow = shadow_name(t, current, target);
    let log = format!("_liteshift_online_{n}_log");
    let rk = rowid_name(c).unwrap_or("rowid");
    let sk = rowid_name(t).unwrap_or("rowid");
    let (cols, exprs) = copied_columns_named(a, c, t, false);
    let insert = format!(
        "INSERT INTO {} ({}) SELECT {} FROM {}",
        q(&shadow),
        cols.join(", "),
        exprs.join(", "),
        q(&c.name)
    );
    let logged = format!("(SELECT k FROM {})", q(&log));
    let drain = format!(
        "DELETE FROM {shadow} WHERE {sk} IN {logged};\n{insert} WHERE {rk} IN {logged};\nDELETE FROM {log}",
        shadow = q(&shadow),
        log = q(&log),
    );
    let prepare = step(
        prepare_sql(c, t, &shadow, &log, rk).join(";\n"),
        format!(
            "online rebuild of {}: create the new table as {shadow}, and the triggers that log the rows other connections write meanwhile",
            t.name
        ),
    );
    let ot = OnlineTable {
        table: c.name.clone(),
        shadow,
        log,
        copy: Step {
            rewrites_rows: true,
            cost: Cost::Rewrite(TableSize::of(c.name.clone())),
            ..step(
                String::new(),
                format!(
                    "online rebuild of {}: copy every row, in short transactions",
                    t.name
                ),
            )
        },
        drain,
        source_key: rk.to_string(),
        shadow_key: sk.to_string(),
        may_replace: may_replace(c, current),
        health: checks::health_check(&c.name, caps),
        old: renamed_away(c, current, caps, n),
        resumed: None,
        keyed: Vec::new(),
        insert,
    };
    let copy_sql = ot.chunk_sql(i64::MIN, i64::MAX);
    let ot = OnlineTable {
        copy: Step {
            sql: copy_sql,
            ..ot.copy.clone()
        },
        ..ot
    };
    (ot, prepare)
}

/// The name the old table is renamed away to in the swap, to be freed after it in short
/// transactions; `None` where it cannot be: the connection cannot edit the schema, the table
/// has foreign keys (its rows would still restrict writes to the parents until freed), or an
/// index of it cannot be renamed along.
fn renamed_away(c: &Table, current: &Schema, caps: Capabilities, n: usize) -> Option<String> {
    (caps.writable_schema
        && c.canon().is_some_and(|k| k.foreign_keys.is_empty())
        && current
            .indexes
            .values()
            .filter(|i| i.table.eq_ignore_ascii_case(&c.name))
            .all(|i| crate::sqltext::index_on(&i.sql, "x", "y").is_some()))
    .then(|| format!("_liteshift_online_{n}_old"))
}

/// The prepare step's statements: the new table `t` under the shadow's name, the log and the
/// triggers on `c` that fill it with the rowids (`rk`) other connections write, and the
/// registry's rows — those objects, and the rowid range to copy (the rows there when the
/// triggers begin logging; later ones are drained).
fn prepare_sql(c: &Table, t: &Table, shadow: &str, log: &str, rk: &str) -> Vec<String> {
    let mut sql = vec![
        rename_create_or_same(t, shadow),
        format!("CREATE TABLE {}(k INTEGER)", q(log)),
    ];
    let mut registered = vec![format!("('table', {})", quote_str(shadow))];
    registered.push(format!("('table', {})", quote_str(log)));
    let prefix = log.strip_suffix("_log").unwrap_or(log).to_string();
    for (suffix, event, rows) in TRIGGERS {
        let name = format!("{prefix}_{suffix}");
        let values: Vec<String> = rows.iter().map(|r| format!("({r}.{rk})")).collect();
        sql.push(format!(
            "CREATE TRIGGER {} {event} ON {} BEGIN INSERT INTO {}(k) VALUES {}; END",
            q(&name),
            q(&c.name),
            q(log),
            values.join(", ")
        ));
        registered.push(format!("('trigger', {})", quote_str(&name)));
    }
    sql.push(format!(
        "INSERT INTO {}(kind, name) VALUES {}",
        q(ONLINE_REGISTRY),
        registered.join(", ")
    ));
    // The rows to copy: those there when the triggers begin logging (later ones are drained).
    sql.push(format!(
        "INSERT INTO {}(kind, name, lo, hi) SELECT 'copy', {}, (SELECT min({rk}) FROM {t}), (SELECT max({rk}) FROM {t})",
        q(ONLINE_REGISTRY),
        quote_str(shadow),
        t = q(&c.name),
    ));
    sql
}

fn rename_create_or_same(t: &Table, name: &str) -> String {
    crate::sqltext::rename_create(&t.sql, name).unwrap_or_else(|| t.sql.clone())
}

/// The swap's first steps for `tables`: each drained under the write lock (rows `REPLACE`
/// deleted unlogged removed when the counts say so), its triggers and log removed, and the
/// registry last.
pub(super) fn swap_steps(tables: &[OnlineTable]) -> Vec<Step> {
    let mut out = Vec::new();
    for ot in tables {
        let mut sql = vec![if ot.may_replace {
            swap_drain(ot)
        } else {
            ot.drain.clone()
        }];
        sql.extend(ot.teardown());
        out.push(Step {
            sql: sql.join(";\n"),
            reason: format!(
                "online rebuild of {}: copy the rows written since the last chunk, and remove the triggers",
                ot.table
            ),
            destructive: false,
            rewrites_rows: false,
            cost: Cost::Constant,
            kind: StepKind::Other,
        });
    }
    out
}

/// An index of a table rebuilt online, built on the shadow in the prepare transaction
/// (under a temporary name; the copy keeps it up to date), and the swap's step that gives
/// it its declared name and text (`PRAGMA writable_schema`, the one edit of `sqlite_schema`
/// liteshift makes: its b-tree is what `CREATE INDEX` would build from the same rows; the
/// registry's `DROP TABLE` after it bumps the schema cookie, so other connections reload).
/// `None` where the schema cannot be edited or the statement not rewritten.
pub(super) fn prebuilt_index(
    create: &Step,
    index: &str,
    ot: &OnlineTable,
    n: usize,
    k: usize,
    caps: Capabilities,
) -> Option<(Step, Step)> {
    if !caps.writable_schema {
        return None;
    }
    let tmp = format!("_liteshift_online_{n}_i{k}");
    let build = crate::sqltext::index_on(&create.sql, &tmp, &ot.shadow)?;
    let prepare = Step {
        cost: Cost::Constant,
        ..step(
            format!(
                "{build};\nINSERT INTO {}(kind, name) VALUES ('index', {})",
                q(ONLINE_REGISTRY),
                quote_str(&tmp)
            ),
            format!(
                "online rebuild of {}: index {index} on the new table as {tmp}, kept up to date by the copy",
                ot.table
            ),
        )
    };
    let rename = step(
        format!(
            "PRAGMA writable_schema = ON;\nUPDATE sqlite_schema SET name = {}, sql = {} WHERE type = 'index' AND name = {};\nPRAGMA writable_schema = RESET",
            quote_str(index),
            quote_str(&create.sql),
            quote_str(&tmp)
        ),
        format!("online rebuild of {}: name index {index} as declared", ot.table),
    );
    Some((prepare, rename))
}

/// The swap's step after the shadow is renamed into place, where the schema can be edited:
/// the table's declared statement stored instead of the one `RENAME TO` wrote (the same but
/// for the quotes it puts around the name), as [`prebuilt_index`] does for an index. `None`
/// elsewhere: the table is then stored as `CREATE TABLE "t"(…)`.
pub(super) fn declared_text(t: &Table, caps: Capabilities) -> Option<Step> {
    caps.writable_schema.then(|| {
        step(
            format!(
                "PRAGMA writable_schema = ON;\nUPDATE sqlite_schema SET sql = {} WHERE type = 'table' AND name = {};\nPRAGMA writable_schema = RESET",
                quote_str(&t.sql),
                quote_str(&t.name)
            ),
            format!("online rebuild of {}: store the table as declared", t.name),
        )
    })
}

/// The swap's step in place of the old table's `DROP TABLE` (which frees every page of it under
/// the write lock), where [`OnlineTable::old`] names it: its triggers dropped (the plan
/// creates the declared ones on the new table), the table renamed away (`legacy_alter_table`:
/// nothing else that names it follows it), its indexes renamed away (with the schema
/// editing [`prebuilt_index`] does: the declared names go to the new table's). Apply frees
/// its pages after the swap; the registry names it until then.
pub(super) fn old_away(ot: &OnlineTable, current: &Schema) -> Option<Step> {
    let old = ot.old.as_ref()?;
    let mut sql: Vec<String> = current
        .triggers
        .values()
        .filter(|tr| tr.table.eq_ignore_ascii_case(&ot.table))
        .map(|tr| format!("DROP TRIGGER IF EXISTS {}", q(&tr.name)))
        .collect();
    sql.push(format!(
        "{LEGACY_ALTER_ON};\nALTER TABLE {} RENAME TO {};\n{LEGACY_ALTER_OFF}",
        q(&ot.table),
        q(old)
    ));
    let indexes: Vec<String> = current
        .indexes
        .values()
        .filter(|i| i.table.eq_ignore_ascii_case(&ot.table))
        .enumerate()
        .map(|(k, i)| {
            let tmp = format!("{old}_i{}", k + 1);
            let text = crate::sqltext::index_on(&i.sql, &tmp, old)?;
            Some(format!(
                "UPDATE sqlite_schema SET name = {}, sql = {} WHERE type = 'index' AND name = {}",
                quote_str(&tmp),
                quote_str(&text),
                quote_str(&i.name)
            ))
        })
        .collect::<Option<_>>()?;
    if !indexes.is_empty() {
        sql.push("PRAGMA writable_schema = ON".into());
        sql.extend(indexes);
        sql.push("PRAGMA writable_schema = RESET".into());
    }
    Some(step(
        sql.join(";\n"),
        format!(
            "online rebuild of {}: rename the old table away as {old} (its pages are freed after the swap, in short transactions)",
            ot.table
        ),
    ))
}

/// The swap's last step where old tables are left to free after it: the registry names only
/// them.
pub(super) fn registry_after_swap(tables: &[OnlineTable]) -> Option<Step> {
    let olds: Vec<String> = tables
        .iter()
        .filter_map(|ot| ot.old.as_ref())
        .map(|o| format!("('table', {})", quote_str(o)))
        .collect();
    (!olds.is_empty()).then(|| {
        step(
            format!(
                "DELETE FROM {r};\nINSERT INTO {r}(kind, name) VALUES {}",
                olds.join(", "),
                r = q(ONLINE_REGISTRY)
            ),
            "online rebuild: done but for the old tables, named in the registry until their pages are freed".into(),
        )
    })
}

/// The swap's drain of a table where `REPLACE` can delete rows unlogged: once the logged rows
/// are out of the shadow, it holds the unlogged rows of the old table plus any such deleted
/// row; when the counts say there are some, they go, before the logged rows come back.
fn swap_drain(ot: &OnlineTable) -> String {
    let logged = format!("(SELECT k FROM {})", q(&ot.log));
    format!(
        "DELETE FROM {shadow} WHERE {sk} IN {logged};\nDELETE FROM {shadow} WHERE (SELECT count(*) FROM {shadow}) + (SELECT count(*) FROM {t} WHERE {rk} IN {logged}) <> (SELECT count(*) FROM {t}) AND {sk} NOT IN (SELECT {rk} FROM {t});\n{insert} WHERE {rk} IN {logged};\nDELETE FROM {log}",
        shadow = q(&ot.shadow),
        t = q(&ot.table),
        log = q(&ot.log),
        sk = ot.shadow_key,
        rk = ot.source_key,
        insert = ot.insert,
    )
}

/// The registry of an online rebuild: one row per object it creates (`kind`, `name`), and
/// one per copy (`kind` `copy`, the shadow's name): the rowids to copy, `lo..=hi`, and the
/// last one copied.
pub(super) fn registry_step() -> Step {
    step(
        format!(
            "CREATE TABLE {}(kind TEXT NOT NULL, name TEXT NOT NULL, lo INTEGER, hi INTEGER, copied INTEGER)",
            q(ONLINE_REGISTRY)
        ),
        "online rebuild: the registry of the objects it creates and of how far each copy got (the next run continues the copy, or removes them)".into(),
    )
}

/// Whether what an interrupted online rebuild left is what `prepare` (this plan's prepare
/// steps, without any cleanup) creates — the same objects with the same text, none missing
/// (the triggers, created in the registry's transaction, have logged every write since), none
/// more — with a recorded copy for each of `tables`: then `tables` continue those copies,
/// and nothing is prepared again. `None`: the leftovers are another plan's (or there are
/// none), and the plan removes them first and copies from the start.
pub(super) fn resumed(
    current: &Schema,
    prepare: &[Step],
    tables: &[OnlineTable],
) -> Option<Vec<OnlineTable>> {
    if current.leftovers.is_empty() || current.copies.len() != tables.len() {
        return None;
    }
    let mut created: Vec<(String, String, String)> = prepare
        .iter()
        .flat_map(|st| created_objects(&st.sql))
        .collect();
    let mut left: Vec<(String, String, String)> = current
        .leftovers
        .iter()
        .map(|l| Some((l.kind.clone(), l.name.to_ascii_lowercase(), l.sql.clone()?)))
        .collect::<Option<_>>()?;
    created.sort();
    left.sort();
    if created != left {
        return None;
    }
    tables
        .iter()
        .map(|ot| {
            let progress = current.copies.iter().find(|c| c.shadow == ot.shadow)?;
            Some(resume_table(ot, progress))
        })
        .collect()
}

/// `ot` continuing the copy `progress` records: its copy step the rows after the last one
/// copied.
fn resume_table(ot: &OnlineTable, progress: &CopyProgress) -> OnlineTable {
    let lo = match (progress.copied, progress.range) {
        (Some(c), _) => c.saturating_add(1),
        (None, Some((lo, _))) => lo,
        (None, None) => i64::MIN,
    };
    let reason = match progress.copied {
        Some(c) => format!(
            "online rebuild of {}: resume the interrupted copy after rowid {c} (the rows up to it are copied), in short transactions",
            ot.table
        ),
        None => format!(
            "online rebuild of {}: resume the interrupted copy from its first row (its triggers have logged the writes since it began), in short transactions",
            ot.table
        ),
    };
    OnlineTable {
        copy: Step {
            sql: ot.chunk_sql(lo, i64::MAX),
            reason,
            ..ot.copy.clone()
        },
        resumed: Some(progress.clone()),
        ..ot.clone()
    }
}

/// The objects `sql`'s `CREATE TABLE`, `INDEX` and `TRIGGER` statements create: kind, name
/// key, and the text SQLite stores.
fn created_objects(sql: &str) -> Vec<(String, String, String)> {
    crate::sqltext::split_statements(sql)
        .into_iter()
        .filter_map(|r| {
            let text = &sql[r];
            let words: Vec<String> = text
                .split_whitespace()
                .take(3)
                .map(str::to_ascii_lowercase)
                .collect();
            let kind = match words.iter().map(String::as_str).collect::<Vec<_>>()[..] {
                ["create", "table", ..] => "table",
                ["create", "index", ..] | ["create", "unique", "index"] => "index",
                ["create", "trigger", ..] => "trigger",
                _ => return None,
            };
            let name = crate::sqltext::create_name_range(text)?;
            Some((
                kind.to_string(),
                crate::sqltext::unquote(&text[name]).to_ascii_lowercase(),
                text.to_string(),
            ))
        })
        .collect()
}

/// Removal of what an interrupted online rebuild left (see [`Schema::leftovers`]): triggers
/// first, then tables, the registry last.
pub(super) fn cleanup_steps(leftovers: &[Leftover]) -> Vec<Step> {
    if leftovers.is_empty() {
        return Vec::new();
    }
    let mut sql: Vec<String> = Vec::new();
    for kind in ["trigger", "index", "table"] {
        for l in leftovers
            .iter()
            .filter(|l| l.kind == kind && l.name != ONLINE_REGISTRY)
        {
            sql.push(format!(
                "DROP {} IF EXISTS {}",
                kind.to_uppercase(),
                q(&l.name)
            ));
        }
    }
    sql.push(format!("DROP TABLE IF EXISTS {}", q(ONLINE_REGISTRY)));
    vec![step(
        sql.join(";\n"),
        "remove what an interrupted online rebuild left (its copy, change log and triggers)".into(),
    )]
}

/// The old tables the swap renamed away, and the registry, dropped (what apply does last,
/// after freeing their pages in short transactions; a rendered script's whole free). `None`
/// when the swap dropped them.
pub fn free_sql(tables: &[OnlineTable]) -> Option<String> {
    let mut sql: Vec<String> = tables
        .iter()
        .filter_map(|ot| ot.old.as_ref())
        .map(|o| format!("DROP TABLE IF EXISTS {}", q(o)))
        .collect();
    if sql.is_empty() {
        return None;
    }
    sql.push(format!("DROP TABLE IF EXISTS {}", q(ONLINE_REGISTRY)));
    Some(sql.join(";\n"))
}

/// The teardown of `tables` after a failed online run, in one transaction's statements.
pub fn abandon_sql(tables: &[OnlineTable]) -> String {
    let mut sql: Vec<String> = Vec::new();
    for ot in tables {
        sql.extend(ot.teardown());
        sql.extend(ot.keyed.iter().flat_map(KeyedIndex::teardown));
        sql.push(format!("DROP TABLE IF EXISTS {}", q(&ot.shadow)));
    }
    sql.push(format!("DROP TABLE IF EXISTS {}", q(ONLINE_REGISTRY)));
    sql.join(";\n")
}

#[cfg(all(test, feature = "rusqlite"))]
mod tests {
    use super::*;
    use crate::diff::testkit::{changes, schema};
    use crate::SqliteVersion;

    /// Why the rebuild of the one altered table from `before` to `after` is not online
    /// (`None`: it can be).
    fn why_not(before: &str, after: &str) -> Option<String> {
        let (current, target, ch) = (schema(before), schema(after), changes(before, after));
        let a = &ch.altered_tables[0];
        not_online(a, &current.tables[&a.from], &target.tables[&a.to], &[])
    }

    #[test]
    fn a_table_copied_by_its_rowid_is_rebuilt_online() {
        assert_eq!(
            why_not(
                "CREATE TABLE t(id INTEGER PRIMARY KEY, n TEXT);",
                "CREATE TABLE t(id INTEGER PRIMARY KEY, n INTEGER);"
            ),
            None
        );
        // A table without an INTEGER PRIMARY KEY: its rowid is kept by name.
        assert_eq!(
            why_not("CREATE TABLE t(n TEXT);", "CREATE TABLE t(n INTEGER);"),
            None
        );
    }

    #[test]
    fn a_without_rowid_table_is_not() {
        let why = why_not(
            "CREATE TABLE t(k TEXT PRIMARY KEY, n TEXT) WITHOUT ROWID;",
            "CREATE TABLE t(k TEXT PRIMARY KEY, n INTEGER) WITHOUT ROWID;",
        );
        assert!(why.unwrap().contains("WITHOUT ROWID"));
        let becomes = why_not(
            "CREATE TABLE t(k TEXT PRIMARY KEY, n TEXT);",
            "CREATE TABLE t(k TEXT PRIMARY KEY, n TEXT) WITHOUT ROWID;",
        );
        assert!(becomes.unwrap().contains("WITHOUT ROWID"));
    }

    #[test]
    fn a_new_rowid_from_another_column_is_not() {
        let why = why_not(
            "CREATE TABLE t(id INTEGER PRIMARY KEY, other INTEGER);",
            "CREATE TABLE t(id INTEGER, other INTEGER PRIMARY KEY);",
        );
        assert!(why.unwrap().contains("new rowid is not the old one"));
    }

    #[test]
    fn the_old_table_is_renamed_away_only_without_foreign_keys_and_with_a_writable_schema() {
        let caps = |writable| Capabilities {
            writable_schema: writable,
            ..Capabilities::new(SqliteVersion(3, 45, 0))
        };
        let plain =
            schema("CREATE TABLE t(id INTEGER PRIMARY KEY, n TEXT); CREATE INDEX t_n ON t(n);");
        let t = &plain.tables["t"];
        assert_eq!(
            renamed_away(t, &plain, caps(true), 3).as_deref(),
            Some("_liteshift_online_3_old")
        );
        assert_eq!(renamed_away(t, &plain, caps(false), 3), None);
        let child = schema("CREATE TABLE p(id INTEGER PRIMARY KEY); CREATE TABLE c(id INTEGER PRIMARY KEY, p INTEGER REFERENCES p(id));");
        assert_eq!(
            renamed_away(&child.tables["c"], &child, caps(true), 1),
            None
        );
        assert!(renamed_away(&child.tables["p"], &child, caps(true), 1).is_some());
    }

    #[test]
    fn replace_may_delete_rows_unlogged_where_a_unique_key_is_not_the_rowid() {
        let s = schema(
            "CREATE TABLE a(id INTEGER PRIMARY KEY, n TEXT);
             CREATE TABLE b(id INTEGER PRIMARY KEY, n TEXT UNIQUE);
             CREATE TABLE c(k TEXT PRIMARY KEY, n TEXT);
             CREATE TABLE d(id INTEGER PRIMARY KEY, n TEXT); CREATE UNIQUE INDEX d_n ON d(n);",
        );
        let may = |name: &str| may_replace(&s.tables[name], &s);
        assert!(!may("a"));
        assert!(may("b"));
        assert!(may("c"));
        assert!(may("d"));
    }

    #[test]
    fn the_prepare_step_logs_every_write_and_registers_what_it_made() {
        let t = schema("CREATE TABLE t(id INTEGER PRIMARY KEY, n TEXT);");
        let sql = prepare_sql(
            &t.tables["t"],
            &t.tables["t"],
            "_liteshift_online_1_t",
            "_liteshift_online_1_log",
            "\"id\"",
        )
        .join(";\n");
        insta::assert_snapshot!(sql, @r#"
        CREATE TABLE "_liteshift_online_1_t"(id INTEGER PRIMARY KEY, n TEXT);
        CREATE TABLE "_liteshift_online_1_log"(k INTEGER);
        CREATE TRIGGER "_liteshift_online_1_ai" AFTER INSERT ON "t" BEGIN INSERT INTO "_liteshift_online_1_log"(k) VALUES (new."id"); END;
        CREATE TRIGGER "_liteshift_online_1_au" AFTER UPDATE ON "t" BEGIN INSERT INTO "_liteshift_online_1_log"(k) VALUES (old."id"), (new."id"); END;
        CREATE TRIGGER "_liteshift_online_1_ad" AFTER DELETE ON "t" BEGIN INSERT INTO "_liteshift_online_1_log"(k) VALUES (old."id"); END;
        INSERT INTO "_liteshift_online"(kind, name) VALUES ('table', '_liteshift_online_1_t'), ('table', '_liteshift_online_1_log'), ('trigger', '_liteshift_online_1_ai'), ('trigger', '_liteshift_online_1_au'), ('trigger', '_liteshift_online_1_ad');
        INSERT INTO "_liteshift_online"(kind, name, lo, hi) SELECT 'copy', '_liteshift_online_1_t', (SELECT min("id") FROM "t"), (SELECT max("id") FROM "t")
        "#);
    }
}
