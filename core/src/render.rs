//! Render a plan: the SQL script (exactly what apply runs) and a summary for people.
//! JSON is `serde_json` of [`Plan`].

use crate::plan::{Cost, Estimate, Plan, BEGIN, FK_CHECK, FK_OFF, FK_ON};

/// How a script is wrapped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Wrapping {
    /// The script switches foreign-key enforcement itself and runs in its own transaction
    /// (`PRAGMA foreign_keys`, `BEGIN IMMEDIATE`, …, `PRAGMA foreign_key_check`, `COMMIT`):
    /// what apply runs, and what the `sqlite3` shell runs.
    #[default]
    Transaction,
    /// For a migration runner that wraps each file in its own transaction: no `BEGIN`/`COMMIT`
    /// and no foreign-key PRAGMAs, only the steps (with the foreign-key guard, which stops the
    /// script when enforcement is on; a rebuild's step sets `legacy_alter_table`, which may
    /// change inside a transaction, around its rename).
    NoTransaction,
    /// For a host whose transaction is a batch of statements (Cloudflare D1: `wrangler d1
    /// migrations apply`, `D1Database.batch()`): no `BEGIN`/`COMMIT`, no foreign-key PRAGMAs,
    /// and guards inside that stop the whole batch, unchanged, when the database is not at the
    /// schema the plan was made from, when rows violate the target, or when the result would
    /// not be the declared schema (see `batch.rs`).
    Batch,
}

/// The SQL script of a plan. Running it in the `sqlite3` shell on a database with the schema
/// the plan was computed from gives the target schema.
pub fn render_sql(plan: &Plan) -> String {
    render_script(plan, Wrapping::Transaction)
}

/// The SQL script of a plan, wrapped as `wrapping` says: its header, the pre-checks (as
/// comments), the online rebuild's phases, the opening (`BEGIN`, or what a runner's or a
/// batch's wrapping needs), the steps, the batch's closing guards, and the closing.
pub fn render_script(plan: &Plan, wrapping: Wrapping) -> String {
    let own = wrapping == Wrapping::Transaction;
    let mut s = String::new();
    s.push_str(&format!(
        "-- liteshift plan for SQLite {} (schema fingerprint {})\n",
        plan.sqlite_version, plan.fingerprint
    ));
    if plan.steps.is_empty() {
        s.push_str("-- nothing to do: the database matches the declared schema\n");
        return s;
    }
    pre_checks(&mut s, plan, wrapping);
    let fk_off = plan.foreign_keys_off || plan.online.is_some();
    if own && fk_off {
        s.push_str(&format!("{FK_OFF};\n"));
    }
    let mut number = 0;
    if let Some(online) = &plan.online {
        online_phases(&mut s, online, own, &mut number);
    }
    let (guards_before, guards_after) = if wrapping == Wrapping::Batch {
        crate::batch::guard_statements(plan)
    } else {
        Default::default()
    };
    opening(&mut s, plan, wrapping, &guards_before);
    for st in &plan.steps {
        number += 1;
        s.push_str(&step_text(number, st));
    }
    if !guards_after.is_empty() {
        s.push_str("-- guards: every foreign key holds, and the result is the declared schema\n");
        for g in &guards_after {
            s.push_str(&format!("{g};\n"));
        }
    }
    closing(&mut s, plan, own, fk_off);
    s
}

/// The checks made before any change, as comments: the online rebuild's health checks (before
/// the copy), the tables whose rows are rewritten (not in a batch, which cannot run `PRAGMA
/// quick_check` as a condition, and whose host keeps its own storage: its checks are the
/// guards), and the data checks.
fn pre_checks(s: &mut String, plan: &Plan, wrapping: Wrapping) {
    for h in plan
        .online
        .iter()
        .flat_map(|o| o.tables.iter().map(|t| &t.health))
    {
        s.push_str(&format!(
            "-- pre-check, before the copy and outside the write lock: {} must say ok\n",
            h.sql
        ));
    }
    let health = if wrapping == Wrapping::Batch {
        &[][..]
    } else {
        &plan.health_checks[..]
    };
    for h in health {
        s.push_str(&format!(
            "-- pre-check: {} must say ok (its rows are rewritten)\n",
            h.sql
        ));
    }
    for c in &plan.checks {
        let at = match &c.column {
            Some(col) => format!("{}.{col}", c.table),
            None => c.table.clone(),
        };
        s.push_str(&format!(
            "-- pre-check: {} on {at} must hold for existing rows\n",
            c.constraint
        ));
    }
}

/// The online rebuild's phases before the swap: the prepare steps (none for a resumed one),
/// then each table's copy (apply's chunks, here as one range) with its keyed indexes; in
/// their own transactions when the script has them (`own`). `number` counts the steps.
fn online_phases(s: &mut String, online: &crate::plan::Online, own: bool, number: &mut usize) {
    s.push_str("-- online rebuild: other connections keep writing until the final transaction\n");
    // A resumed online rebuild prepares nothing: its copy continues.
    let prepares = !online.prepare.is_empty();
    if own && prepares {
        s.push_str(&format!("{BEGIN};\n"));
    }
    for st in &online.prepare {
        *number += 1;
        s.push_str(&step_text(*number, st));
    }
    if own && prepares {
        s.push_str("COMMIT;\n");
    }
    for t in &online.tables {
        *number += 1;
        s.push_str(&format!(
            "-- liteshift copies {} in ranges of rowids, each in its own short transaction that first copies the rows written since the last one (the drain); here as one range:\n",
            t.table
        ));
        if own {
            s.push_str(&format!("{BEGIN};\n"));
        }
        s.push_str(&format!("{};\n", t.drain));
        s.push_str(&step_text(*number, &t.copy));
        for k in &t.keyed {
            s.push_str(&format!(
                "-- index {} built in key order, in ranges of a sorted snapshot of its keys; here as one range:\n{};\n{};\n{};\n",
                k.index,
                k.snapshot,
                k.fill_sql(i64::MIN, i64::MAX),
                k.drop_sorted
            ));
        }
        if own {
            s.push_str("COMMIT;\n");
        }
    }
    s.push_str("-- the swap:\n");
}

/// What opens the steps: `BEGIN`; a batch's explanation and its opening guards; or, for a
/// runner's transaction, what it must run under.
fn opening(s: &mut String, plan: &Plan, wrapping: Wrapping, guards_before: &[String]) {
    match wrapping {
        Wrapping::Transaction => s.push_str(&format!("{BEGIN};\n")),
        Wrapping::Batch => {
            s.push_str("-- one batch, with no transaction statement of its own: the host runs it as one transaction,\n-- and a guard that fails (CHECK constraint failed: liteshift: …) rolls all of it back\n");
            if !guards_before.is_empty() {
                s.push_str("-- guards: the database is at the schema this plan starts from, and its rows fit the target\n");
            }
            for g in guards_before {
                s.push_str(&format!("{g};\n"));
            }
        }
        Wrapping::NoTransaction => {
            s.push_str("-- no BEGIN/COMMIT: run inside the migration runner's transaction\n");
            if plan.foreign_keys_off {
                s.push_str("-- with foreign-key enforcement off (PRAGMA foreign_keys = OFF before the transaction); the guard in step 1 stops the script otherwise\n");
            }
        }
    }
}

/// What closes the steps. The old tables an online swap renamed away: apply frees them after
/// it, in short transactions; a script drops them (in the runner's transaction, or its own).
/// With its own transaction (`own`), the script checks the foreign keys, commits, and
/// restores enforcement where it switched it off (`fk_off`).
fn closing(s: &mut String, plan: &Plan, own: bool, fk_off: bool) {
    let free = plan
        .online
        .as_ref()
        .and_then(|o| crate::plan::free_sql(&o.tables));
    if !own {
        if let Some(free) = free {
            s.push_str(&format!(
                "-- the old tables renamed away, dropped:\n{free};\n"
            ));
        }
        return;
    }
    match &plan.fk_checks {
        None => s.push_str(&format!("{FK_CHECK};\n")),
        Some(checks) => {
            for c in checks {
                s.push_str(&format!("{};\n", crate::plan::fk_check_sql(&c.after)));
            }
        }
    }
    s.push_str("COMMIT;\n");
    if let Some(free) = free {
        s.push_str(&format!(
            "-- liteshift frees the old tables' pages after the swap, in short transactions (their indexes, then their rows in rowid ranges); here as one:\n{BEGIN};\n{free};\nCOMMIT;\n"
        ));
    }
    if fk_off {
        s.push_str(&format!(
            "-- restore foreign-key enforcement if it was on before\n{FK_ON};\n"
        ));
    }
}

/// A step, numbered, with its flags (data loss, cost) in its comment.
fn step_text(number: usize, st: &crate::plan::Step) -> String {
    let loss = if st.destructive { "DATA LOSS, " } else { "" };
    format!(
        "-- {number}. {} [{loss}{}]\n{};\n",
        st.reason,
        cost_text(&st.cost),
        st.sql
    )
}

/// What a step costs, for people: "O(1)", "rewrites ~1,000,000 rows (~48.0 MB) of t",
/// "rewrites the rows of t" when there is no estimate.
pub fn cost_text(cost: &Cost) -> String {
    let (verb, table) = match cost {
        Cost::Constant => return "O(1)".into(),
        Cost::Rewrite(s) => ("rewrites", &s.table),
        Cost::Scan(s) => ("reads", &s.table),
        Cost::Free(s) => ("frees", &s.table),
    };
    match (cost.estimate(), cost) {
        (Some(e), Cost::Free(_)) => {
            format!("frees ~{} of {table}", crate::cost::bytes(e.bytes))
        }
        (Some(e), _) => format!(
            "{verb} ~{} row{} (~{}) of {table}",
            crate::cost::thousands(e.rows),
            if e.rows == 1 { "" } else { "s" },
            crate::cost::bytes(e.bytes)
        ),
        (None, Cost::Free(_)) => format!("frees the pages of {table}"),
        (None, _) => format!("{verb} the rows of {table}"),
    }
}

/// A readable summary: changes, step count, hazards, suggestions.
pub fn render_summary(plan: &Plan) -> String {
    let mut s = String::new();
    if plan.steps.is_empty() {
        s.push_str("The database matches the declared schema: nothing to do.\n");
    } else {
        s.push_str(&format!("{} change(s):\n", plan.changes.len()));
        for c in &plan.changes {
            s.push_str(&format!("  - {c}\n"));
        }
        let rewrites = plan.all_steps().filter(|s| s.rewrites_rows).count();
        s.push_str(&format!(
            "{} step(s), {} rewriting rows{}.\n",
            plan.all_steps().count(),
            rewrites,
            if plan.foreign_keys_off {
                "; foreign-key enforcement is switched off around the transaction"
            } else {
                ""
            }
        ));
        if plan.foreign_keys_enforced {
            s.push_str("Foreign-key enforcement stays on (this host cannot switch it off): every table that references a rebuilt or dropped table is rebuilt with it, and the old tables go last, children first.\n");
        }
        if let Some(online) = &plan.online {
            s.push_str(&format!(
                "Online: {} copied while other connections keep writing, then swapped in one short transaction.\n",
                online.tables.iter().map(|t| t.table.as_str()).collect::<Vec<_>>().join(", ")
            ));
        }
        let rewritten: Vec<Estimate> = plan
            .all_steps()
            .filter(|s| matches!(s.cost, Cost::Rewrite(_)))
            .filter_map(|s| s.cost.estimate())
            .collect();
        if !rewritten.is_empty() {
            // Estimates of a damaged file can be anything: saturate rather than overflow.
            let rows = rewritten.iter().fold(0u64, |a, e| a.saturating_add(e.rows));
            let bytes = rewritten
                .iter()
                .fold(0u64, |a, e| a.saturating_add(e.bytes));
            s.push_str(&format!(
                "Rewrites ~{} row(s) (~{}) in all; every other step is O(1) or reads/frees as the script's comments say.\n",
                crate::cost::thousands(rows),
                crate::cost::bytes(bytes)
            ));
        }
        let lost = plan.destructive_steps();
        if !lost.is_empty() {
            s.push_str("Data loss (needs --allow-data-loss):\n");
            for l in lost {
                s.push_str(&format!("  ! {l}\n"));
            }
        }
    }
    if !plan.kept.is_empty() {
        s.push_str(&format!("kept (undeclared): {}\n", plan.kept.join(", ")));
    }
    for w in &plan.warnings {
        s.push_str(&format!("warning: {w}\n"));
    }
    for w in &plan.suggestions {
        s.push_str(&format!("suggestion: {w}\n"));
    }
    s
}
