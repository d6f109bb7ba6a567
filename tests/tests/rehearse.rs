//! Rehearsals on a copy: the live file is only read, the copy is migrated with every check and
//! then deleted (or kept), each step is timed with the rows it rewrote, and a disk without room
//! for the copy is refused up front.

use std::fs;

use liteshift::rehearse::{rehearse, RehearseOptions};
use liteshift::{Error, Options};
use liteshift_tests::Tmpfs;
use rusqlite::Connection;

const TARGET: &str = "CREATE TABLE p(id INTEGER PRIMARY KEY, name TEXT NOT NULL COLLATE NOCASE, label TEXT NOT NULL);
CREATE TABLE c(id INTEGER PRIMARY KEY, p_id INTEGER REFERENCES p(id) ON DELETE CASCADE);
-- liteshift:value p.label = upper(name)
";

fn database(dir: &std::path::Path, rows: usize) -> std::path::PathBuf {
    let path = dir.join("app.db");
    let c = Connection::open(&path).unwrap();
    c.execute_batch(&format!(
        "PRAGMA foreign_keys = ON;
         CREATE TABLE p(id INTEGER PRIMARY KEY, name TEXT);
         CREATE TABLE c(id INTEGER PRIMARY KEY, p_id INTEGER REFERENCES p(id) ON DELETE CASCADE);
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {rows})
         INSERT INTO p SELECT i, 'name ' || i || ' ' || hex(randomblob(40)) FROM n;
         INSERT INTO c SELECT id, id FROM p;"
    ))
    .unwrap();
    path
}

#[test]
fn a_rehearsal_migrates_a_copy_times_each_step_and_leaves_the_database_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let db = database(dir.path(), 2000);
    let before = fs::read(&db).unwrap();
    let r = rehearse(
        &db,
        TARGET,
        &Options::default(),
        &RehearseOptions::default(),
    )
    .unwrap();
    assert_eq!(fs::read(&db).unwrap(), before, "the live file is only read");
    assert!(
        !std::path::Path::new(&r.copy).exists(),
        "the copy is deleted"
    );
    assert_eq!(r.integrity_check, "ok");
    assert_eq!(r.foreign_key_violations, 0);
    assert_eq!(r.steps.len(), r.steps_applied);
    let copy_step = r
        .steps
        .iter()
        .find(|s| s.reason.contains("copy every row"))
        .unwrap();
    assert_eq!(copy_step.rows_changed, 2000);
    assert!(copy_step.journal_bytes > 0 || r.steps.iter().any(|s| s.journal_bytes > 0));
    assert!(r
        .steps
        .iter()
        .filter(|s| !s.reason.contains("copy every row"))
        .all(|s| s.rows_changed == 0));
    assert!(r.database_bytes >= 4096);

    // Kept where asked: the migrated copy, with the declared values.
    let to = dir.path().join("copy.db");
    let kept = rehearse(
        &db,
        TARGET,
        &Options::default(),
        &RehearseOptions {
            to: Some(to.clone()),
            keep: true,
        },
    )
    .unwrap();
    assert!(kept.kept);
    let c = Connection::open(&to).unwrap();
    let label: String = c
        .query_row("SELECT label FROM p WHERE id = 1", [], |r| r.get(0))
        .unwrap();
    assert!(label.starts_with("NAME 1 "), "{label}");
    let children: i64 = c
        .query_row("SELECT count(*) FROM c", [], |r| r.get(0))
        .unwrap();
    assert_eq!(children, 2000, "cascade children kept");
    // An existing copy is never overwritten.
    let again = rehearse(
        &db,
        TARGET,
        &Options::default(),
        &RehearseOptions {
            to: Some(to),
            keep: true,
        },
    );
    assert!(matches!(again, Err(Error::InvalidOption(m)) if m.contains("already exists")));
    assert_eq!(fs::read(&db).unwrap(), before);
}

#[test]
fn a_refused_rehearsal_deletes_its_copy() {
    let dir = tempfile::tempdir().unwrap();
    let db = database(dir.path(), 10);
    let before = fs::read(&db).unwrap();
    // Dropping table c loses data: refused without allow_data_loss, as apply would.
    let err = rehearse(
        &db,
        "CREATE TABLE p(id INTEGER PRIMARY KEY, name TEXT);",
        &Options::default(),
        &RehearseOptions::default(),
    )
    .unwrap_err();
    assert!(err.is_refusal(), "{err}");
    assert_eq!(fs::read(&db).unwrap(), before);
    let leftovers: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.contains("rehearsal"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn a_disk_without_room_for_the_copy_is_refused_saying_how_much_is_needed() {
    let Some(fs_) = Tmpfs::mount("1m") else {
        eprintln!(
            "SKIPPED: cannot mount a tmpfs here (needs root); rehearsal disk-room test not run"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let db = database(dir.path(), 6000); // about 700 KB: a copy and its journal need twice that
    let err = rehearse(
        &db,
        TARGET,
        &Options::default(),
        &RehearseOptions {
            to: Some(fs_.0.join("copy.db")),
            keep: false,
        },
    )
    .unwrap_err();
    let m = err.to_string();
    assert!(
        m.contains("not enough room") && m.contains("needs about"),
        "{m}"
    );
    assert!(!fs_.0.join("copy.db").exists());
}
