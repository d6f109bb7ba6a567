//! The real libc path of an I/O error: `liteshift apply` run under libfiu's `fiu-run -x`, with
//! SQLite's `pread`/`pwrite` (EIO) and `fsync`/`fdatasync` failing at random. SQLite's unix VFS
//! reports a read failing with EIO as SQLITE_CORRUPT ("database disk image is malformed"); the
//! message must still name an I/O error. After each run the file passes `integrity_check`,
//! holds the old schema with every row or the new one with every row, and a rerun completes.
//! (`tests/tests/io_faults.rs` fails every k-th call deterministically, through a VFS; this
//! is the same promise through the operating system's calls.) SKIPPED without `fiu-run`
//! (`apt-get install -y fiu-utils`).

use std::fs;
use std::path::Path;
use std::process::Command;

use rusqlite::Connection;

const OLD: &str = "
CREATE TABLE users(id INTEGER PRIMARY KEY, email TEXT, team INTEGER);
CREATE TABLE teams(id INTEGER PRIMARY KEY, name TEXT);
CREATE INDEX users_email ON users(email);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 3000)
  INSERT INTO users SELECT i, printf('%040d@x', i), 1 + i % 3 FROM n;
INSERT INTO teams VALUES (1, 'a'), (2, 'b'), (3, 'c');
";

const NEW: &str = "
CREATE TABLE users(id INTEGER PRIMARY KEY, email TEXT NOT NULL DEFAULT '' COLLATE NOCASE, team INTEGER, extra TEXT);
CREATE TABLE teams(id INTEGER PRIMARY KEY, name TEXT, colour TEXT);
CREATE INDEX users_email ON users(email);
";

fn rows(db: &Path) -> (String, String) {
    let c = Connection::open(db).unwrap();
    let ok: String = c
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
    let rows: String = c
        .query_row(
            "SELECT (SELECT group_concat(id || email || team) FROM users) || (SELECT group_concat(id || name) FROM teams)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    (liteshift::introspect(&c).unwrap().fingerprint(), rows)
}

#[test]
fn io_errors_through_libc_are_named_io_errors() {
    if Command::new("fiu-run").arg("-h").output().is_err() {
        eprintln!("SKIPPED: fiu-run is not installed (apt-get install -y fiu-utils)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let template = dir.path().join("template.db");
    Connection::open(&template)
        .unwrap()
        .execute_batch(OLD)
        .unwrap();
    let schema = dir.path().join("new.sql");
    fs::write(&schema, NEW).unwrap();
    let (old_fp, all_rows) = rows(&template);
    let new_fp = liteshift::load_declared(NEW, "new")
        .unwrap()
        .schema
        .fingerprint();
    let db = dir.path().join("app.db");
    let points = [
        "enable_random name=posix/io/rw/pread,probability=0.05,failinfo=5",
        "enable_random name=posix/io/rw/pwrite,probability=0.05,failinfo=5",
        "enable_random name=posix/io/sync/*,probability=0.3,failinfo=5",
    ];
    let mut outcomes = std::collections::BTreeMap::<&str, usize>::new();
    for point in points {
        for _ in 0..15 {
            fs::copy(&template, &db).unwrap();
            let _ = fs::remove_file(format!("{}-journal", db.display()));
            let o = Command::new("fiu-run")
                .args(["-x", "-c", point, env!("CARGO_BIN_EXE_liteshift")])
                .args([
                    "apply",
                    "--db",
                    db.to_str().unwrap(),
                    schema.to_str().unwrap(),
                ])
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&o.stderr).to_string();
            let outcome = match o.status.code() {
                Some(0) => "migrated",
                Some(2) => {
                    assert!(text.contains("I/O error"), "{point}: {text}");
                    assert!(
                        !text.contains("malformed (corrupt)") && !text.contains("file is corrupt"),
                        "{point}: an I/O failure called corruption: {text}"
                    );
                    "I/O error"
                }
                other => panic!("{point}: exit {other:?}: {text}"),
            };
            *outcomes.entry(outcome).or_default() += 1;
            let (fp, r) = rows(&db);
            assert!(fp == old_fp || fp == new_fp, "{point}: old or new schema");
            assert_eq!(r, all_rows, "{point}: every row");
            let o = Command::new(env!("CARGO_BIN_EXE_liteshift"))
                .args([
                    "apply",
                    "--db",
                    db.to_str().unwrap(),
                    schema.to_str().unwrap(),
                ])
                .output()
                .unwrap();
            assert_eq!(o.status.code(), Some(0), "{point}: the rerun completes");
            assert_eq!(rows(&db).0, new_fp);
        }
    }
    eprintln!("libfiu: 45 runs: {outcomes:?}");
}
