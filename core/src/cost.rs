//! Estimates of what a plan's steps cost, read from the database before anything runs.
//!
//! Owns the size queries: a table's rows from `max(rowid)` (an O(log n) seek, never a
//! `count(*)` scan; for a `WITHOUT ROWID` table, `sqlite_stat1` when `ANALYZE` has run) and
//! its bytes from the average record of its last few rows. Never changes a plan's SQL, its
//! order, or anything apply checks: an estimate is for people and progress bars, and a table
//! it cannot size simply has none.

use crate::host::{query_value, Host, Value};
use crate::model::{Generated, Schema};
use crate::plan::{Estimate, Plan};
use crate::sqltext::{quote_ident as q, quote_str};

/// How many of a table's rows are sampled for its average record size.
const SAMPLE: u32 = 64;

/// Fill in the estimate of every step whose cost grows with a table (`current` is the schema
/// the plan was made from, read from `host`).
pub fn estimate(host: &dyn Host, current: &Schema, plan: &mut Plan) {
    // A plan touches few tables: a list, each sized once.
    let mut sizes: Vec<(String, Option<Estimate>)> = Vec::new();
    let online = plan.online.iter_mut().flat_map(|o| {
        o.prepare
            .iter_mut()
            .chain(o.tables.iter_mut().map(|t| &mut t.copy))
    });
    for step in online.chain(plan.steps.iter_mut()) {
        let Some(table) = step.cost.table() else {
            continue;
        };
        let size = match sizes.iter().find(|(t, _)| t == table) {
            Some((_, size)) => *size,
            None => {
                let size = table_size(host, current, table);
                sizes.push((table.to_string(), size));
                size
            }
        };
        if let Some(e) = size {
            step.cost.set_estimate(e);
        }
    }
}

/// The estimated size of `table`, or `None` when it cannot be told cheaply.
pub fn table_size(host: &dyn Host, current: &Schema, table: &str) -> Option<Estimate> {
    let t = current.tables.get(&table.to_ascii_lowercase())?;
    if t.is_virtual() {
        return None;
    }
    let rows = if t.without_rowid {
        stat1_rows(host, &t.name)?
    } else {
        query_value(host, &format!("SELECT max(rowid) FROM {}", q(&t.name)))
            .ok()?
            .int()
            .unwrap_or(0)
            .max(0) as u64
    };
    if rows == 0 {
        return Some(Estimate { rows: 0, bytes: 0 });
    }
    let lengths: Vec<String> = t
        .columns
        .iter()
        .filter(|c| c.generated != Generated::Virtual)
        .map(|c| format!("coalesce(length(CAST({} AS BLOB)), 0)", q(&c.name)))
        .collect();
    if lengths.is_empty() {
        return Some(Estimate { rows, bytes: 0 });
    }
    let order = if t.without_rowid {
        ""
    } else {
        " ORDER BY rowid DESC"
    };
    let avg = query_value(
        host,
        &format!(
            "SELECT avg({}) FROM (SELECT * FROM {}{order} LIMIT {SAMPLE})",
            lengths.join(" + "),
            q(&t.name)
        ),
    )
    .ok()
    .map_or(0.0, |v| match v {
        Value::Real(f) => f,
        other => other.int().unwrap_or(0) as f64,
    });
    Some(Estimate {
        rows,
        bytes: (avg * rows as f64) as u64,
    })
}

/// The row count `ANALYZE` recorded for a table (the first number of its `sqlite_stat1` row).
fn stat1_rows(host: &dyn Host, table: &str) -> Option<u64> {
    let v = query_value(
        host,
        &format!(
            "SELECT stat FROM sqlite_stat1 WHERE tbl = {} ORDER BY idx IS NULL DESC LIMIT 1",
            quote_str(table)
        ),
    )
    .ok()?;
    v.text()?.split_whitespace().next()?.parse().ok()
}

/// `1234567` as "1,234,567".
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// A byte count for people: "512 B", "48.2 KB", "1.3 GB" (powers of 1,000; integer
/// arithmetic, which keeps float formatting out of the npm module).
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KB", "MB", "GB", "TB"];
    if n < 1000 {
        return format!("{n} B");
    }
    let mut unit = 0;
    let mut scale = 1000u64;
    while n / scale >= 1000 && unit + 1 < UNITS.len() {
        scale *= 1000;
        unit += 1;
    }
    let tenths = n.saturating_add(scale / 20) / (scale / 10);
    format!("{}.{} {}", tenths / 10, tenths % 10, UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_for_people() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(bytes(999), "999 B");
        assert_eq!(bytes(48_200), "48.2 KB");
        assert_eq!(bytes(1_300_000_000), "1.3 GB");
        assert_eq!(bytes(999_960), "1000.0 KB");
        assert_eq!(bytes(42_000_000), "42.0 MB");
        // A damaged file's estimate (found by the database_image fuzz target).
        assert_eq!(bytes(u64::MAX), "18446744.0 TB");
        assert_eq!(thousands(u64::MAX), "18,446,744,073,709,551,615");
    }
}
