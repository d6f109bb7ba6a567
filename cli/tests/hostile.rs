//! Bad input and hostile conditions: each one a clear message, exit code 2 (or 1 for
//! refusals), and every database file byte-identical afterwards. Also backups.

use std::fs;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rusqlite::Connection;

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_liteshift"))
        .args(args)
        .output()
        .expect("liteshift runs")
}

fn out(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A checksum (FNV-1a) of the database and its -wal/-journal companions.
fn checksum(db: &Path) -> Vec<(usize, u64)> {
    ["", "-wal", "-journal"]
        .iter()
        .map(|s| {
            let bytes = fs::read(format!("{}{s}", db.display())).unwrap_or_default();
            let h = bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
                (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
            });
            (bytes.len(), h)
        })
        .collect()
}

fn make_db(dir: &Path, sql: &str) -> std::path::PathBuf {
    let p = dir.join("app.db");
    let c = Connection::open(&p).unwrap();
    c.execute_batch(sql).unwrap();
    p
}

const BASE: &str =
    "CREATE TABLE users(id INTEGER PRIMARY KEY, email TEXT, age INTEGER, team INTEGER);
CREATE TABLE teams(id INTEGER PRIMARY KEY, name TEXT);
INSERT INTO teams VALUES (1,'a');
INSERT INTO users VALUES (1,'a@x',30,1),(2,'a@x',NULL,1),(3,'c@x',-5,99);";

/// Run `args` (with `{db}` and `{schema}` replaced) on a fresh BASE database; expect `code`,
/// a message containing `needle`, and identical bytes.
fn expect(schema: &[u8], extra: &[&str], code: i32, needle: &str) {
    let dir = tempfile::tempdir().unwrap();
    let db = make_db(dir.path(), BASE);
    let schema_path = dir.path().join("schema.sql");
    fs::write(&schema_path, schema).unwrap();
    let before = checksum(&db);
    let mut args = vec![
        "apply",
        "--db",
        db.to_str().unwrap(),
        schema_path.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let o = run(&args);
    assert_eq!(o.status.code(), Some(code), "{args:?}: {}", out(&o));
    assert!(
        out(&o).contains(needle),
        "expected {needle:?} in: {}",
        out(&o)
    );
    assert_eq!(checksum(&db), before, "the database file changed");
}

const GOOD: &str =
    "CREATE TABLE users(id INTEGER PRIMARY KEY, email TEXT, age INTEGER, team INTEGER);
CREATE TABLE teams(id INTEGER PRIMARY KEY, name TEXT);\n";

#[test]
fn bad_schemas_exit_2_and_change_nothing() {
    expect(b"\x00\x01\xfe\xff garbage \x89PNG", &[], 2, "not UTF-8");
    expect("\u{1}\u{2}binary-ish".as_bytes(), &[], 2, "schema.sql:1:1");
    expect(
        b"CREATE TABLE users(id INTEGER PRIMARY KEY,\n  email TEXT,, age);",
        &[],
        2,
        "schema.sql:2:14",
    );
    expect(
        format!("{GOOD}CREATE INDEX i ON users(nope);").as_bytes(),
        &[],
        2,
        "no such column: nope",
    );
    expect(
        format!("{GOOD}DELETE FROM users;").as_bytes(),
        &[],
        2,
        "only CREATE",
    );
    expect(
        format!("{GOOD}CREATE TABLE IF NOT EXISTS Teams(x);").as_bytes(),
        &[],
        2,
        "duplicate object name",
    );
    expect(
        format!("{GOOD}CREATE TABLE t(x REFERENCES missing(id));").as_bytes(),
        &["--deny-dangling-foreign-keys"],
        2,
        "does not declare",
    );
    expect(
        format!("{GOOD}CREATE VIRTUAL TABLE v USING nosuch(a);").as_bytes(),
        &[],
        2,
        "no such module: nosuch",
    );
    expect(b"", &[], 2, "creates no objects");
    expect(b"-- only a comment\n", &[], 2, "creates no objects");
}

#[test]
fn violating_rows_are_refused_with_exit_1_naming_them() {
    let s = |users: &str| {
        format!("CREATE TABLE users({users});\nCREATE TABLE teams(id INTEGER PRIMARY KEY, name TEXT);\n")
    };
    expect(
        s("id INTEGER PRIMARY KEY, email TEXT, age INTEGER NOT NULL, team INTEGER").as_bytes(),
        &[],
        1,
        "NOT NULL on users.age: 1 row(s) violate it, e.g. rowid 2",
    );
    expect(
        s("id INTEGER PRIMARY KEY, email TEXT UNIQUE, age INTEGER, team INTEGER").as_bytes(),
        &[],
        1,
        "UNIQUE (email) on users.email: 1 row(s)",
    );
    expect(
        s("id INTEGER PRIMARY KEY, email TEXT, age INTEGER CHECK (age >= 0), team INTEGER")
            .as_bytes(),
        &[],
        1,
        "CHECK (age >= 0) on users.age: 1 row(s) violate it, e.g. rowid 3, age=-5",
    );
    expect(
        s("id INTEGER PRIMARY KEY, email TEXT, age INTEGER, team INTEGER REFERENCES teams(id)")
            .as_bytes(),
        &[],
        1,
        "FOREIGN KEY -> teams on users: 1 row(s) violate it, e.g. rowid 3",
    );
}

#[test]
fn unusable_database_files_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let schema = dir.path().join("s.sql");
    fs::write(&schema, GOOD).unwrap();
    let s = schema.to_str().unwrap();

    // A truncated database.
    let db = make_db(dir.path(), BASE);
    let c = Connection::open(&db).unwrap();
    c.execute_batch("CREATE TABLE big(x); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 2000) INSERT INTO big SELECT randomblob(100) FROM n;").unwrap();
    drop(c);
    let bytes = fs::read(&db).unwrap();
    fs::write(&db, &bytes[..bytes.len() / 3]).unwrap();
    let before = checksum(&db);
    let o = run(&[
        "apply",
        "--db",
        db.to_str().unwrap(),
        s,
        "--allow-data-loss",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", out(&o));
    assert!(
        out(&o).contains("malformed") || out(&o).contains("corrupt"),
        "{}",
        out(&o)
    );
    assert!(out(&o).matches("malformed").count() <= 1, "{}", out(&o));
    assert_eq!(checksum(&db), before);

    // A corrupted page inside a table that the migration must copy.
    fs::remove_file(&db).unwrap();
    let db = make_db(dir.path(), "CREATE TABLE users(id INTEGER PRIMARY KEY, email TEXT, age INTEGER, team INTEGER); CREATE TABLE teams(id INTEGER PRIMARY KEY, name TEXT);");
    let c = Connection::open(&db).unwrap();
    c.execute_batch("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 3000) INSERT INTO users SELECT i, hex(randomblob(40)), i, 1 FROM n;").unwrap();
    drop(c);
    let mut bytes = fs::read(&db).unwrap();
    let page = 4096;
    for b in &mut bytes[page * 5..page * 5 + 2000] {
        *b = 0xA5;
    }
    fs::write(&db, &bytes).unwrap();
    let retyped = dir.path().join("retyped.sql");
    fs::write(&retyped, "CREATE TABLE users(id INTEGER PRIMARY KEY, email TEXT NOT NULL DEFAULT '', age REAL, team INTEGER);\nCREATE TABLE teams(id INTEGER PRIMARY KEY, name TEXT);\n").unwrap();
    let before = checksum(&db);
    let o = run(&[
        "apply",
        "--db",
        db.to_str().unwrap(),
        retyped.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", out(&o));
    assert!(
        out(&o).contains("the database file is corrupt (table `users`: ")
            && out(&o)
                .contains("nothing was changed; restore a backup or run PRAGMA integrity_check"),
        "{}",
        out(&o)
    );
    assert!(out(&o).matches("malformed").count() <= 1, "{}", out(&o));
    assert_eq!(checksum(&db), before);
    // An O(1) step on another table is not held up by the damage.
    let added = dir.path().join("added.sql");
    fs::write(&added, "CREATE TABLE users(id INTEGER PRIMARY KEY, email TEXT, age INTEGER, team INTEGER);\nCREATE TABLE teams(id INTEGER PRIMARY KEY, name TEXT, colour TEXT);\n").unwrap();
    let o = run(&[
        "apply",
        "--db",
        db.to_str().unwrap(),
        added.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));

    // A live database with a virtual table whose module is not available.
    fs::remove_file(&db).unwrap();
    let db = make_db(dir.path(), BASE);
    let c = Connection::open(&db).unwrap();
    c.execute_batch("PRAGMA writable_schema = ON; INSERT INTO sqlite_schema VALUES ('table', 'vt', 'vt', 0, 'CREATE VIRTUAL TABLE vt USING unknownmod(a)'); PRAGMA writable_schema = OFF;").unwrap();
    drop(c);
    let before = checksum(&db);
    let o = run(&[
        "apply",
        "--db",
        db.to_str().unwrap(),
        s,
        "--allow-data-loss",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", out(&o));
    assert!(out(&o).contains("unknownmod"), "{}", out(&o));
    assert_eq!(checksum(&db), before);
}

#[test]
fn wal_rows_not_yet_checkpointed_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let db = make_db(
        dir.path(),
        "PRAGMA journal_mode = WAL; CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT);",
    );
    let holder = Connection::open(&db).unwrap();
    holder
        .execute_batch("PRAGMA wal_autocheckpoint = 0; WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 500) INSERT INTO t SELECT i, 'row' || i FROM n;")
        .unwrap();
    assert!(fs::metadata(format!("{}-wal", db.display())).unwrap().len() > 0);
    let schema = dir.path().join("s.sql");
    fs::write(
        &schema,
        "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT NOT NULL COLLATE NOCASE);",
    )
    .unwrap();
    let o = run(&[
        "apply",
        "--db",
        db.to_str().unwrap(),
        schema.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    let n: i64 = holder
        .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 500);
}

#[test]
fn concurrent_writer_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = make_db(
        dir.path(),
        "PRAGMA journal_mode = WAL; CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT); CREATE TABLE log(id INTEGER PRIMARY KEY, at TEXT);
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 50000) INSERT INTO t SELECT i, hex(randomblob(20)) FROM n;",
    );
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let db = db.clone();
        let stop = stop.clone();
        std::thread::spawn(move || {
            let c = Connection::open(&db).unwrap();
            c.busy_timeout(Duration::from_secs(30)).unwrap();
            let mut committed = 0u64;
            while !stop.load(Ordering::Relaxed) {
                c.execute("INSERT INTO log(at) VALUES (datetime())", [])
                    .unwrap();
                committed += 1;
                std::thread::sleep(Duration::from_millis(2));
            }
            committed
        })
    };
    std::thread::sleep(Duration::from_millis(50));
    let schema = dir.path().join("s.sql");
    fs::write(&schema, "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT NOT NULL DEFAULT '' COLLATE NOCASE, extra INTEGER);\nCREATE TABLE log(id INTEGER PRIMARY KEY, at TEXT);\n").unwrap();
    let o = run(&[
        "apply",
        "--db",
        db.to_str().unwrap(),
        schema.to_str().unwrap(),
        "--busy-timeout",
        "30000",
    ]);
    std::thread::sleep(Duration::from_millis(50));
    stop.store(true, Ordering::Relaxed);
    let committed = writer.join().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    let c = Connection::open(&db).unwrap();
    let n: i64 = c
        .query_row("SELECT count(*) FROM log", [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        n as u64, committed,
        "every committed write of the other process is there"
    );
    let rows: i64 = c
        .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 50000);
}

#[test]
fn backup_restores_the_exact_pre_migration_state() {
    let dir = tempfile::tempdir().unwrap();
    let db = make_db(dir.path(), &format!("PRAGMA journal_mode = WAL; {BASE}"));
    // Leave rows in the WAL: the backup must include them.
    let holder = Connection::open(&db).unwrap();
    holder
        .execute_batch("PRAGMA wal_autocheckpoint = 0; INSERT INTO teams VALUES (2, 'in-wal');")
        .unwrap();
    let dump = |p: &Path| -> Vec<String> {
        let c = Connection::open(p).unwrap();
        let mut out: Vec<String> = c
            .prepare("SELECT type || ' ' || name || ' ' || sql FROM sqlite_schema ORDER BY name")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        for t in ["users", "teams"] {
            let rows: Vec<String> = c
                .prepare(&format!("SELECT quote(rowid) || ':' || json_array(*) FROM (SELECT rowid, * FROM {t}) ORDER BY 1"))
                .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
                .unwrap_or_default();
            out.extend(rows);
        }
        out
    };
    let before = dump(&db);
    let schema = dir.path().join("s.sql");
    fs::write(&schema, "CREATE TABLE users(id INTEGER PRIMARY KEY, email TEXT COLLATE NOCASE, age INTEGER);\nCREATE TABLE teams(id INTEGER PRIMARY KEY, name TEXT, color TEXT);\n").unwrap();
    let backup = dir.path().join("before-migration.db");
    let o = run(&[
        "apply",
        "--db",
        db.to_str().unwrap(),
        schema.to_str().unwrap(),
        "--allow-data-loss",
        "--backup",
        backup.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    assert!(
        out(&o).contains(backup.to_str().unwrap()),
        "says where: {}",
        out(&o)
    );
    assert_ne!(dump(&db), before, "the database was migrated");
    assert_eq!(
        dump(&backup),
        before,
        "the backup is the exact pre-migration state"
    );
    let c = Connection::open(&backup).unwrap();
    let ok: String = c
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
    drop(c);
    // Restoring it gives back the pre-migration database.
    let restored = dir.path().join("restored.db");
    fs::copy(&backup, &restored).unwrap();
    assert_eq!(dump(&restored), before);
    // An existing backup file is never overwritten.
    let o = run(&[
        "apply",
        "--db",
        db.to_str().unwrap(),
        schema.to_str().unwrap(),
        "--backup",
        backup.to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "in sync, nothing to back up: {}",
        out(&o)
    );
    fs::write(&schema, "CREATE TABLE users(id INTEGER PRIMARY KEY, email TEXT COLLATE NOCASE, age INTEGER, z);\nCREATE TABLE teams(id INTEGER PRIMARY KEY, name TEXT, color TEXT);\n").unwrap();
    let o = run(&[
        "apply",
        "--db",
        db.to_str().unwrap(),
        schema.to_str().unwrap(),
        "--backup",
        backup.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", out(&o));
    assert!(out(&o).contains("already exists"), "{}", out(&o));
}

/// A file whose pages after the first are garbage (the first 4 KB of a good database, then
/// junk): its schema reads, and an `ADD COLUMN` would never read a table page, yet it is named
/// corrupt and left byte for byte as it was — alone and in a fleet, where it is `failed`,
/// never `migrated`.
#[test]
fn garbage_after_the_first_page_is_corrupt_even_for_o1_steps() {
    let dir = tempfile::tempdir().unwrap();
    let good = make_db(
        dir.path(),
        "CREATE TABLE users(id INTEGER PRIMARY KEY, email TEXT);
         CREATE TABLE teams(id INTEGER PRIMARY KEY, name TEXT);
         CREATE INDEX users_email ON users(email);
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 3000)
           INSERT INTO users SELECT i, hex(randomblob(20)) FROM n;
         INSERT INTO teams VALUES (1, 'a');",
    );
    let bytes = fs::read(&good).unwrap();
    let mut junk = bytes[..4096].to_vec();
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    junk.extend((4096..bytes.len()).map(|_| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x as u8
    }));
    let fleet = dir.path().join("fleet");
    fs::create_dir(&fleet).unwrap();
    let broken = fleet.join("broken.db");
    fs::write(&broken, &junk).unwrap();
    fs::copy(&good, fleet.join("good.db")).unwrap();
    let schema = dir.path().join("s.sql");
    fs::write(
        &schema,
        "CREATE TABLE users(id INTEGER PRIMARY KEY, email TEXT, extra TEXT);
CREATE TABLE teams(id INTEGER PRIMARY KEY, name TEXT);
CREATE INDEX users_email ON users(email);\n",
    )
    .unwrap();
    let before = checksum(&broken);
    let o = run(&[
        "apply",
        "--db",
        broken.to_str().unwrap(),
        schema.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", out(&o));
    assert!(
        out(&o).contains("the database file is corrupt (table `")
            && out(&o).contains("nothing was changed"),
        "{}",
        out(&o)
    );
    assert_eq!(checksum(&broken), before);
    // A fleet: the good file is migrated, the broken one failed and unchanged.
    let pattern = format!("{}/*.db", fleet.display());
    let o = run(&["apply", "--db", &pattern, schema.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", out(&o));
    assert!(out(&o).contains("1 migrated"), "{}", out(&o));
    assert!(
        out(&o).contains("broken.db") && out(&o).contains("corrupt"),
        "{}",
        out(&o)
    );
    assert!(!out(&o).contains("migrated broken.db"), "{}", out(&o));
    assert_eq!(checksum(&broken), before);
}
