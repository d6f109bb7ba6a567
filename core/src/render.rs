//! Render a plan: the SQL script (exactly what apply runs) and a summary for people.
//! JSON is `serde_json` of [`Plan`].

use crate::plan::{Plan, BEGIN, FK_CHECK, FK_OFF, FK_ON};

/// The SQL script of a plan. Running it in the `sqlite3` shell on a database with the schema
/// the plan was computed from gives the target schema.
pub fn render_sql(plan: &Plan) -> String {
    let mut s = String::new();
    s.push_str(&format!(
        "-- liteshift plan for SQLite {} (schema fingerprint {})\n",
        plan.sqlite_version, plan.fingerprint
    ));
    if plan.steps.is_empty() {
        s.push_str("-- nothing to do: the database matches the declared schema\n");
        return s;
    }
    for h in &plan.health_checks {
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
    if plan.foreign_keys_off {
        s.push_str(&format!("{FK_OFF};\n"));
    }
    s.push_str(&format!("{BEGIN};\n"));
    for (i, st) in plan.steps.iter().enumerate() {
        let mut flags = Vec::new();
        if st.destructive {
            flags.push("DATA LOSS");
        }
        if st.rewrites_rows {
            flags.push("rewrites rows");
        }
        let flags = if flags.is_empty() {
            String::new()
        } else {
            format!(" [{}]", flags.join(", "))
        };
        s.push_str(&format!(
            "-- {}. {}{}\n{};\n",
            i + 1,
            st.reason,
            flags,
            st.sql
        ));
    }
    s.push_str(&format!("{FK_CHECK};\nCOMMIT;\n"));
    if plan.foreign_keys_off {
        s.push_str(&format!(
            "-- restore foreign-key enforcement if it was on before\n{FK_ON};\n"
        ));
    }
    s
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
        let rewrites = plan.steps.iter().filter(|s| s.rewrites_rows).count();
        s.push_str(&format!(
            "{} step(s), {} rewriting rows{}.\n",
            plan.steps.len(),
            rewrites,
            if plan.foreign_keys_off {
                "; foreign-key enforcement is switched off around the transaction"
            } else {
                ""
            }
        ));
        let lost = plan.destructive_steps();
        if !lost.is_empty() {
            s.push_str("Data loss (needs --allow-data-loss):\n");
            for l in lost {
                s.push_str(&format!("  ! {l}\n"));
            }
        }
    }
    for w in &plan.warnings {
        s.push_str(&format!("warning: {w}\n"));
    }
    for w in &plan.suggestions {
        s.push_str(&format!("suggestion: {w}\n"));
    }
    s
}
