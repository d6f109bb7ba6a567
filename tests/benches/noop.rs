//! Start-up cost: a no-op `migrate` (the declared text as stored, respaced, and after a
//! native `ADD COLUMN` respaced the stored text) and
//! `plan_migration` (what `check` runs) on an in-sync
//! database of N tables (100 and 1,000), against baselines from the same run: reading
//! `sqlite_schema` (the least a stateless declarative check must do) and executing the declared
//! CREATEs into `:memory:`; with the parts of the no-op (loading the declared schema,
//! introspecting the database) timed alone, to show where the time goes.
//!
//! `cargo bench -p liteshift-tests --bench noop`

use std::time::{Duration, Instant};

use liteshift::{introspect, load_declared, migrate, plan_migration, Options};
use rusqlite::Connection;

fn schema(tables: usize) -> String {
    (0..tables)
        .map(|i| {
            format!(
                "CREATE TABLE t{i}(id INTEGER PRIMARY KEY, name TEXT NOT NULL, qty INTEGER DEFAULT 0, \
                 parent INTEGER REFERENCES t{}(id), note TEXT CHECK (length(note) < 100));\n\
                 CREATE INDEX t{i}_name ON t{i}(name);\n",
                i.saturating_sub(1)
            )
        })
        .collect()
}

/// Median of `runs` timings of `f`.
fn median(runs: usize, mut f: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    times.sort();
    times[runs / 2]
}

fn main() {
    for tables in [100, 1000] {
        let runs = if tables > 100 { 7 } else { 25 };
        let sql = schema(tables);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.db");
        let mut conn = Connection::open(&path).unwrap();
        conn.execute_batch(&sql).unwrap();
        let opts = Options::default();
        assert_eq!(migrate(&mut conn, &sql, &opts).unwrap().steps_applied, 0);

        // The cheap figures get more runs: a median of 7 sub-millisecond timings on a shared
        // machine moves by a third.
        let quick = 51;
        let read = median(quick, || {
            let mut st = conn
                .prepare("SELECT type, name, tbl_name, sql FROM sqlite_schema")
                .unwrap();
            let n = st.query_map([], |_| Ok(())).unwrap().count();
            assert!(n >= tables);
        });
        let create = median(runs, || {
            Connection::open_in_memory()
                .unwrap()
                .execute_batch(&sql)
                .unwrap();
        });
        let noop = median(quick, || {
            migrate(&mut conn, &sql, &opts).unwrap();
        });
        // The same schema written another way (spacing): token for token the stored text, not
        // byte for byte, so every statement is compared in tokens.
        let respaced = sql.replace(", ", ",  ");
        let noop_respaced = median(quick, || {
            assert_eq!(
                migrate(&mut conn, &respaced, &opts).unwrap().steps_applied,
                0
            );
        });
        // The start-ups after an app's upgrade added a column: SQLite's ADD COLUMN stored the
        // table's text in its own spacing, and the new declaration has the column where its
        // author wrote it.
        let added = sql.replacen(
            "note TEXT CHECK (length(note) < 100));",
            "note TEXT CHECK (length(note) < 100),\n  pinned INTEGER NOT NULL DEFAULT 0\n);",
            1,
        );
        let upgraded_dir = tempfile::tempdir().unwrap();
        let mut upgraded = Connection::open(upgraded_dir.path().join("app.db")).unwrap();
        upgraded.execute_batch(&sql).unwrap();
        let report = migrate(&mut upgraded, &added, &opts).unwrap();
        assert!(report
            .plan
            .steps
            .iter()
            .any(|s| s.sql.contains("ADD COLUMN")));
        let noop_added = median(quick, || {
            assert_eq!(
                migrate(&mut upgraded, &added, &opts).unwrap().steps_applied,
                0
            );
        });
        let read_upgraded = median(quick, || {
            let mut st = upgraded
                .prepare("SELECT type, name, tbl_name, sql FROM sqlite_schema")
                .unwrap();
            assert!(st.query_map([], |_| Ok(())).unwrap().count() >= tables);
        });
        let check = median(runs, || {
            plan_migration(&conn, &sql, &opts).unwrap();
        });
        // One table differs: the full path (the declared schema loaded into a scratch database).
        let changed = sql.replacen("note TEXT CHECK", "extra TEXT, note TEXT CHECK", 1);
        let full = median(runs, || {
            let p = plan_migration(&conn, &changed, &opts).unwrap();
            assert!(!p.plan.steps.is_empty());
        });
        let load = median(runs, || {
            load_declared(&sql, "schema.sql").unwrap();
        });
        let intro = median(runs, || {
            introspect(&conn).unwrap();
        });
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let x = |d: Duration, base: Duration| d.as_secs_f64() / base.as_secs_f64();
        println!("{tables} tables (median of {runs}; reading sqlite_schema and the in-sync migrate: of {quick}):");
        println!(
            "  baseline: read sqlite_schema             {:>9.3} ms",
            ms(read)
        );
        println!(
            "  baseline: CREATEs into :memory:          {:>9.3} ms",
            ms(create)
        );
        println!("  migrate, in sync                         {:>9.3} ms  ({:.1}x reading sqlite_schema, {:.2}x the CREATEs)", ms(noop), x(noop, read), x(noop, create));
        println!("  migrate, in sync, the text respaced      {:>9.3} ms  ({:.1}x reading sqlite_schema: every statement compared in tokens)", ms(noop_respaced), x(noop_respaced, read));
        println!("  migrate, in sync after a native ADD COLUMN {:>7.3} ms  ({:.1}x reading that database's sqlite_schema, {:.3} ms)", ms(noop_added), x(noop_added, read_upgraded), ms(read_upgraded));
        println!("  plan_migration (check), in sync          {:>9.3} ms  ({:.1}x reading sqlite_schema, {:.2}x the CREATEs)", ms(check), x(check, read), x(check, create));
        println!("  plan_migration, one table changed         {:>9.3} ms  ({:.2}x the CREATEs: planning with the declared schema loaded)", ms(full), x(full, create));
        println!(
            "    its parts: load the declared schema     {:>9.3} ms",
            ms(load)
        );
        println!(
            "    its parts: introspect the database      {:>9.3} ms",
            ms(intro)
        );
    }
}
