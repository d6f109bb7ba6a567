//! After an online swap: the pages of the old tables it renamed away (see
//! [`crate::plan::OnlineTable::old`]) freed in short transactions, so that no other
//! connection's write waits for a whole table's (or index's) pages to be freed at once.
//!
//! How: an index of the old table is *relabelled* as the `WITHOUT ROWID` table its b-tree
//! already is — the records of `CREATE INDEX i ON t(k1, …)` are `(k1, …, rowid)`, exactly
//! those of `CREATE TABLE i(k1, …, r, PRIMARY KEY (k1, …, r)) WITHOUT ROWID` when each column
//! carries the index's collation and `DESC` — with the `sqlite_schema` edit
//! `plan/keyed.rs` makes the other way; the table is then emptied in key order, a chunk of
//! entries per transaction (whole leaves freed, front to back), and dropped. The old table's
//! rows go the same way in rowid ranges, then the table and the registry are dropped.
//!
//! Why each committed state is a sound database: a `WITHOUT ROWID` key admits no NULL
//! (`PRAGMA integrity_check` reports one), so the rows whose entries hold a NULL key are
//! deleted from the old table first, while the index is still its index (which removes their
//! entries); the relabel, the registry's row for the new table and a schema-cookie bump (other
//! connections reload the schema) are one transaction. Whatever a crash leaves, the registry
//! names: the next plan removes it. An index whose collation is not one SQLite always has
//! (`BINARY`, `NOCASE`, `RTRIM`) is dropped in one transaction instead, as are the
//! `sqlite_autoindex_…` of the old table's own UNIQUE constraints (with the table), and,
//! where the rows with a NULL key cannot be listed (no `TEMP` table), the indexes that may
//! hold one.
//!
//! Architecture invariant: it only ever deletes from, drops or relabels what the registry
//! names as the old tables and their indexes; every error stops it (best effort: the
//! migration is done, and the next run removes what is left).

use super::*;
use crate::model::ONLINE_REGISTRY;
use crate::sqltext::{quote_ident as q, quote_str};

/// Free the pages of `online`'s old tables (best effort; see the module's comment).
pub(super) fn free_old(host: &dyn Host, online: &Online, opts: &ApplyOptions) {
    let olds: Vec<&OnlineTable> = online.tables.iter().filter(|t| t.old.is_some()).collect();
    if olds.is_empty() {
        return;
    }
    let freed = olds.iter().try_for_each(|ot| free_table(host, ot, opts));
    if let (Ok(()), Some(sql)) = (freed, free_sql(&online.tables)) {
        let _ = committed(host, &sql);
    }
}

/// One old table: its indexes relabelled and emptied (or dropped), then its rows deleted.
fn free_table(host: &dyn Host, ot: &OnlineTable, opts: &ApplyOptions) -> Result<(), HostError> {
    let old = ot.old.as_deref().unwrap_or_default();
    let t = q(old);
    let indexes = host.query(&format!(
        "SELECT name, sql FROM sqlite_schema WHERE type = 'index' AND tbl_name = {} AND sql IS NOT NULL ORDER BY name",
        quote_str(old)
    ))?;
    let mut relabels = Vec::new();
    for r in &indexes {
        let (Some(name), Some(sql)) = (
            r.first().and_then(Value::text),
            r.get(1).and_then(Value::text),
        ) else {
            continue;
        };
        match as_table(host, old, &name, &sql)? {
            Some(r) => relabels.push(r),
            None => committed(host, &format!("DROP INDEX IF EXISTS {}", q(&name)))?,
        }
    }
    if delete_null_keys(host, ot, old, &relabels, opts).is_err() {
        // No `TEMP` table on this connection, or the scan failed: the indexes that may hold
        // a NULL key are dropped whole instead.
        let (nullable, rest): (Vec<Relabel>, Vec<Relabel>) = relabels
            .into_iter()
            .partition(|r| !r.nullable_terms.is_empty());
        for r in nullable {
            committed(host, &format!("DROP INDEX IF EXISTS {}", q(&r.index)))?;
        }
        relabels = rest;
    }
    if !relabels.is_empty() {
        relabel(host, &relabels)?;
        for r in &relabels {
            let h = q(&r.index);
            in_chunks(host, opts, &mut |rows| {
                // The entries up to the chunk's last, a range of the b-tree.
                let quoted: Vec<String> = r.columns.iter().map(|c| format!("quote({c})")).collect();
                let last = host.query(&format!(
                    "SELECT {} FROM {h} LIMIT 1 OFFSET {}",
                    quoted.join(", "),
                    rows - 1
                ))?;
                Ok(Some(match last.first() {
                    Some(row) => {
                        let bound: Vec<String> = row.iter().filter_map(Value::text).collect();
                        format!("DELETE FROM {h} WHERE {}", r.up_to(&bound))
                    }
                    None => format!("DELETE FROM {h}"),
                }))
            })?;
            committed(host, &format!("DROP TABLE IF EXISTS {h}"))?;
        }
    }
    let rk = &ot.source_key;
    // From the end: the b-tree's last leaves go whole, with no cells moved into them (about
    // a quarter faster than from the start). Each range holds at least the last row.
    // (Bounds read first: a statement with no subquery deletes as it scans.)
    in_chunks(host, opts, &mut |rows| {
        let hi = query_value(host, &format!("SELECT max({rk}) FROM {t}"))?.int();
        Ok(hi.map(|hi| {
            let lo = hi.saturating_sub(rows as i64 - 1);
            format!("DELETE FROM {t} WHERE {rk} BETWEEN {lo} AND {hi}")
        }))
    })
}

/// An index of the old table, as the `WITHOUT ROWID` table its b-tree is.
struct Relabel {
    /// Its name (the table keeps it).
    index: String,
    /// `CREATE TABLE … WITHOUT ROWID`, its columns `k1, …, r`.
    table_sql: String,
    /// `k1, …, r`.
    columns: Vec<String>,
    /// Whether each of `k1, …` is `DESC`.
    descs: Vec<bool>,
    /// Its key terms as written (a column or an expression), where one may be NULL.
    nullable_terms: Vec<String>,
}

impl Relabel {
    /// Its entries up to `bound` (SQL literals of `k1, …, r`) in b-tree order: with every
    /// key ascending, the row value `(k1, …, r) <= bound` (a range of the key); else the
    /// lexicographic comparison written out, each column ordered its way, after a range on
    /// `k1`.
    fn up_to(&self, bound: &[String]) -> String {
        let cols = &self.columns;
        if self.descs.iter().all(|d| !d) {
            return format!("({}) <= ({})", cols.join(", "), bound.join(", "));
        }
        let before = |i: usize| {
            let desc = self.descs.get(i).copied().unwrap_or(false);
            format!("{} {} {}", cols[i], if desc { ">" } else { "<" }, bound[i])
        };
        let last = cols.len() - 1;
        let mut chain = format!("{} <= {}", cols[last], bound[last]);
        for i in (0..last).rev() {
            chain = format!(
                "{} OR ({} = {} AND ({chain}))",
                before(i),
                cols[i],
                bound[i]
            );
        }
        let first = if self.descs[0] { ">=" } else { "<=" };
        format!("{} {first} {} AND ({chain})", cols[0], bound[0])
    }
}

/// `name` (text `sql`, on `old`) as a `WITHOUT ROWID` table, from `PRAGMA index_xinfo`; `None`
/// when a key's collation may not exist on every connection, or its terms cannot be read.
fn as_table(
    host: &dyn Host,
    old: &str,
    name: &str,
    sql: &str,
) -> Result<Option<Relabel>, HostError> {
    let xinfo = host.query(&format!("PRAGMA index_xinfo({})", quote_str(name)))?;
    let not_null = host.query(&format!(
        "SELECT cid FROM pragma_table_info({}) WHERE \"notnull\"",
        quote_str(old)
    ))?;
    let not_null: Vec<i64> = not_null
        .iter()
        .filter_map(|r| r.first().and_then(Value::int))
        .collect();
    let Some(terms) = index_terms(sql) else {
        return Ok(None);
    };
    // seqno, cid, name, desc, coll, key: the key columns, in order.
    let keys: Vec<(i64, bool, String)> = xinfo
        .iter()
        .filter(|r| r.get(5).and_then(Value::int) == Some(1))
        .map(|r| {
            (
                r.get(1).and_then(Value::int).unwrap_or(-2),
                r.get(3).and_then(Value::int) == Some(1),
                r.get(4).and_then(Value::text).unwrap_or_default(),
            )
        })
        .collect();
    let known = |c: &str| ["BINARY", "NOCASE", "RTRIM"].contains(&c.to_ascii_uppercase().as_str());
    if keys.is_empty() || keys.len() != terms.len() || !keys.iter().all(|k| known(&k.2)) {
        return Ok(None);
    }
    let mut defs = Vec::new();
    let mut pk = Vec::new();
    let mut columns = Vec::new();
    let mut nullable_terms = Vec::new();
    for (i, ((cid, desc, coll), term)) in keys.iter().zip(terms).enumerate() {
        let k = format!("k{}", i + 1);
        defs.push(format!("{k} COLLATE {coll}"));
        pk.push(format!("{k}{}", if *desc { " DESC" } else { "" }));
        columns.push(k);
        if !not_null.contains(cid) {
            nullable_terms.push(term);
        }
    }
    columns.push("r".into());
    Ok(Some(Relabel {
        index: name.to_string(),
        table_sql: format!(
            "CREATE TABLE {}({}, r, PRIMARY KEY ({}, r)) WITHOUT ROWID",
            q(name),
            defs.join(", "),
            pk.join(", ")
        ),
        columns,
        descs: keys.iter().map(|k| k.1).collect(),
        nullable_terms,
    }))
}

/// The terms of `CREATE [UNIQUE] INDEX … ON t (term [ASC|DESC], …)` as written, without
/// their order (a term's `COLLATE` kept: it does not change whether it is NULL).
fn index_terms(sql: &str) -> Option<Vec<String>> {
    use sqlite3_parser::lexer::sql::TokenType as T;
    let name = crate::sqltext::create_name_range(sql)?;
    let toks = crate::sqltext::tokens(sql)?;
    let at = toks.iter().position(|t| t.1 == name)?;
    if toks.get(at + 3).map(|t| t.0) != Some(T::TK_LP) {
        return None;
    }
    let mut out = Vec::new();
    let (mut depth, mut start) = (0usize, at + 4);
    for (i, (ty, _)) in toks.iter().enumerate().skip(at + 4) {
        match ty {
            T::TK_LP => depth += 1,
            T::TK_RP if depth > 0 => depth -= 1,
            T::TK_COMMA | T::TK_RP if depth == 0 => {
                let mut term = &toks[start..i];
                if let Some(((_, last), rest)) = term.split_last() {
                    let w = &sql[last.clone()];
                    if w.eq_ignore_ascii_case("asc") || w.eq_ignore_ascii_case("desc") {
                        term = rest;
                    }
                }
                let (first, last) = (term.first()?, term.last()?);
                out.push(sql[first.1.start..last.1.end].to_string());
                if *ty == T::TK_RP {
                    return Some(out);
                }
                start = i + 1;
            }
            _ => {}
        }
    }
    None
}

/// The old table's rows whose entry in one of `relabels` has a NULL key, deleted (through
/// the indexes) in chunks: their rowids listed first in a `TEMP` table, outside the write lock.
fn delete_null_keys(
    host: &dyn Host,
    ot: &OnlineTable,
    old: &str,
    relabels: &[Relabel],
    opts: &ApplyOptions,
) -> Result<(), HostError> {
    let nullable: Vec<String> = relabels
        .iter()
        .flat_map(|r| &r.nullable_terms)
        .map(|t| format!("({t}) IS NULL"))
        .collect();
    if nullable.is_empty() {
        return Ok(());
    }
    let list = q(&format!("{old}_null_keys"));
    let rk = &ot.source_key;
    host.execute(&format!("DROP TABLE IF EXISTS temp.{list}"))?;
    host.execute(&format!(
        "CREATE TEMP TABLE {list} AS SELECT {rk} AS r FROM {} WHERE {} ORDER BY {rk}",
        q(old),
        nullable.join(" OR ")
    ))?;
    let deleted = (|| {
        let last = query_value(host, &format!("SELECT max(rowid) FROM temp.{list}"))?
            .int()
            .unwrap_or(0);
        let mut after: i64 = 0;
        in_chunks(host, opts, &mut |rows| {
            let (lo, hi) = (after + 1, after.saturating_add(rows as i64));
            after = hi;
            Ok((lo <= last).then(|| format!(
                "DELETE FROM {} WHERE {rk} IN (SELECT r FROM temp.{list} WHERE rowid BETWEEN {lo} AND {hi})",
                q(old)
            )))
        })
    })();
    let _ = host.execute(&format!("DROP TABLE IF EXISTS temp.{list}"));
    deleted
}

/// One transaction: each of `relabels` made the `WITHOUT ROWID` table its b-tree is, named in
/// the registry; the schema cookie moved on (other connections read the schema again).
fn relabel(host: &dyn Host, relabels: &[Relabel]) -> Result<(), HostError> {
    let mut sql = vec!["PRAGMA writable_schema = ON".to_string()];
    for r in relabels {
        sql.push(format!(
            "UPDATE sqlite_schema SET type = 'table', tbl_name = name, sql = {} WHERE type = 'index' AND name = {}",
            quote_str(&r.table_sql),
            quote_str(&r.index)
        ));
    }
    sql.push("PRAGMA writable_schema = RESET".into());
    let registered: Vec<String> = relabels
        .iter()
        .map(|r| format!("('table', {})", quote_str(&r.index)))
        .collect();
    sql.push(format!(
        "INSERT INTO {}(kind, name) VALUES {}",
        q(ONLINE_REGISTRY),
        registered.join(", ")
    ));
    host.execute(BEGIN)?;
    let done = host.execute_script(&sql.join(";\n")).and_then(|_| {
        let v = query_value(host, "PRAGMA schema_version")?
            .int()
            .unwrap_or(0);
        host.execute(&format!("PRAGMA schema_version = {}", v + 1))
    });
    finish(host, done)
}

/// `chunk(rows)`'s statement run, each in its own transaction, until it is `None` or changes
/// no row; the
/// rows per chunk adapted to half the copy's chunk time (a delete's time per row varies
/// more: whole leaves freed, interior pages rebalanced), a pause after each.
fn in_chunks(
    host: &dyn Host,
    opts: &ApplyOptions,
    chunk: &mut dyn FnMut(u64) -> Result<Option<String>, HostError>,
) -> Result<(), HostError> {
    let mut rows = opts.online.first_chunk_rows.max(1);
    loop {
        let Some(sql) = chunk(rows.min(i64::MAX as u64))? else {
            return Ok(());
        };
        let started = now();
        host.execute(BEGIN)?;
        let done = host
            .execute_script(&sql)
            .and_then(|_| query_value(host, "SELECT changes()"));
        let changed = done.as_ref().ok().and_then(Value::int).unwrap_or(0);
        finish(host, done.map(|_| ()))?;
        if changed == 0 {
            return Ok(());
        }
        if let Some(s) = started {
            let took = s.elapsed();
            rows = adapt(rows, took, opts.online.chunk_time / 2);
            std::thread::sleep(opts.online.pause.min(took));
        }
    }
}

/// `sql` in its own transaction.
fn committed(host: &dyn Host, sql: &str) -> Result<(), HostError> {
    host.execute(BEGIN)?;
    let done = host.execute_script(sql);
    finish(host, done)
}

/// The open transaction committed after `done` (then the WAL's pages checkpointed, outside
/// the lock: see `copy_chunk`), or rolled back.
fn finish(host: &dyn Host, done: Result<(), HostError>) -> Result<(), HostError> {
    match done {
        Ok(()) => {
            host.execute("COMMIT")?;
            let _ = host.query("PRAGMA wal_checkpoint(PASSIVE)");
            Ok(())
        }
        Err(e) => {
            let _ = host.execute("ROLLBACK");
            Err(e)
        }
    }
}
