//! CLI tests: every verb and every exit code, on real database files.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use rusqlite::Connection;

const V1: &str = "CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT, legacy TEXT);\n";
const V2: &str = "CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT);\nCREATE INDEX users_email ON users(email);\n";
const V2_KEEP: &str = "CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT NOT NULL, legacy TEXT, email TEXT);\nCREATE INDEX users_email ON users(email);\n";

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_liteshift"))
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("liteshift runs")
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("exit code")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

struct Env {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

impl Env {
    fn new() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        Env { _dir: dir, root }
    }
    fn file(&self, name: &str, content: &str) -> String {
        let p = self.root.join(name);
        fs::write(&p, content).unwrap();
        p.to_string_lossy().to_string()
    }
    fn db(&self, name: &str, sql: &str) -> String {
        let p = self.root.join(name);
        let c = Connection::open(&p).unwrap();
        c.execute_batch(sql).unwrap();
        p.to_string_lossy().to_string()
    }
}

fn seeded(env: &Env) -> String {
    env.db(
        "app.db",
        &format!("{V1}INSERT INTO users VALUES (1,'ada','x'),(2,'bob','y');"),
    )
}

#[test]
fn plan_prints_summary_and_sql_and_changes_nothing() {
    let env = Env::new();
    let db = seeded(&env);
    let schema = env.file("s.sql", V2_KEEP);
    let before = fs::read(&db).unwrap();
    let o = run(&["plan", "--db", &db, &schema]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let out = text(&o);
    assert!(out.contains("add column users.email"), "{out}");
    assert!(
        out.contains("ALTER TABLE \"users\" ADD COLUMN email TEXT"),
        "{out}"
    );
    assert_eq!(fs::read(&db).unwrap(), before);

    let o = run(&["plan", "--db", &db, &schema, "--format", "json"]);
    assert_eq!(code(&o), 0);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["in_sync"], false);
    assert!(v["plan"]["steps"].as_array().unwrap().len() >= 2);
    assert!(v["plan"]["fingerprint"].is_string());
    assert!(v["sql"].as_str().unwrap().contains("BEGIN IMMEDIATE"));
}

#[test]
fn apply_migrates_then_is_a_no_op() {
    let env = Env::new();
    let db = seeded(&env);
    let schema = env.file("s.sql", V2_KEEP);
    let o = run(&["apply", "--db", &db, &schema]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(text(&o).contains("Applied"));
    let c = Connection::open(&db).unwrap();
    let n: i64 = c
        .query_row(
            "SELECT count(*) FROM users WHERE legacy IS NOT NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(n, 2);
    let o = run(&["apply", "--db", &db, &schema]);
    assert_eq!(code(&o), 0);
    assert!(text(&o).contains("nothing to do"), "{}", text(&o));
}

#[test]
fn apply_refuses_data_loss_with_exit_1_and_leaves_file_identical() {
    let env = Env::new();
    let db = seeded(&env);
    let schema = env.file("s.sql", V2);
    let before = fs::read(&db).unwrap();
    let o = run(&["apply", "--db", &db, &schema]);
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert!(
        text(&o).contains("drop column users.legacy"),
        "{}",
        text(&o)
    );
    assert!(text(&o).contains("--allow-data-loss"));
    assert_eq!(fs::read(&db).unwrap(), before);

    let o = run(&[
        "apply",
        "--db",
        &db,
        &schema,
        "--allow-data-loss",
        "--dry-run",
    ]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(text(&o).contains("Dry run"));
    assert_eq!(fs::read(&db).unwrap(), before);

    let o = run(&[
        "apply",
        "--db",
        &db,
        &schema,
        "--allow-data-loss",
        "--format",
        "json",
    ]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["result"]["applied"], true);
    let o = run(&["check", "--db", &db, &schema]);
    assert_eq!(code(&o), 0, "{}", text(&o));
}

#[test]
fn apply_refuses_violating_rows_naming_them() {
    let env = Env::new();
    let db = env.db(
        "app.db",
        &format!("{V1}INSERT INTO users VALUES (1,NULL,'x'),(2,NULL,'y'),(3,'c','z');"),
    );
    let schema = env.file("s.sql", V2_KEEP);
    let before = fs::read(&db).unwrap();
    let o = run(&["apply", "--db", &db, &schema]);
    assert_eq!(code(&o), 1, "{}", text(&o));
    let out = text(&o);
    assert!(out.contains("NOT NULL on users.name: 2 row(s)"), "{out}");
    assert!(out.contains("rowid 1"), "{out}");
    assert_eq!(fs::read(&db).unwrap(), before);
}

#[test]
fn value_flags_give_existing_rows_their_values() {
    let env = Env::new();
    let db = env.db(
        "app.db",
        "CREATE TABLE users(id INTEGER PRIMARY KEY, first TEXT, last TEXT); INSERT INTO users VALUES (1, 'Ada', 'Lovelace'), (2, 'Alan', 'Turing');",
    );
    let schema = env.file(
        "s.sql",
        "CREATE TABLE users(id INTEGER PRIMARY KEY, first TEXT, last TEXT, full_name TEXT NOT NULL);",
    );
    let before = fs::read(&db).unwrap();
    // Without a value: refused, and the message says how to give one.
    let o = run(&["apply", "--db", &db, &schema]);
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert!(
        text(&o).contains("--value TABLE.COLUMN=EXPR"),
        "{}",
        text(&o)
    );
    // A malformed value, or one for a column the schema lacks: exit 2, nothing changed.
    for bad in ["users.full_name", "users.nope=1"] {
        let o = run(&["apply", "--db", &db, &schema, "--value", bad]);
        assert_eq!(code(&o), 2, "{bad}: {}", text(&o));
    }
    let o = run(&[
        "apply",
        "--db",
        &db,
        &schema,
        "--value",
        "users.full_name=first ||",
    ]);
    assert_eq!(code(&o), 2, "{}", text(&o));
    assert!(text(&o).contains("syntax error"), "{}", text(&o));
    assert_eq!(fs::read(&db).unwrap(), before);
    let value = "users.full_name=first || ' ' || last";
    let o = run(&["apply", "--db", &db, &schema, "--value", value]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let c = Connection::open(&db).unwrap();
    let names: String = c
        .query_row("SELECT group_concat(full_name, ',') FROM users", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(names, "Ada Lovelace,Alan Turing");
    let o = run(&["apply", "--db", &db, &schema, "--value", value]);
    assert!(text(&o).contains("nothing to do"), "{}", text(&o));
    // diff, with no database, compiles the value against the FROM schema's tables too.
    let from = env.file(
        "from.sql",
        "CREATE TABLE users(id INTEGER PRIMARY KEY, first TEXT, last TEXT);",
    );
    let o = run(&[
        "diff",
        &from,
        &schema,
        "--value",
        "users.full_name=upper(nope)",
    ]);
    assert_eq!(code(&o), 2, "{}", text(&o));
    assert!(text(&o).contains("no such column: nope"), "{}", text(&o));
    let o = run(&["diff", &from, &schema, "--value", value]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(text(&o).contains("(first || ' ' || last)"), "{}", text(&o));
}

#[test]
fn rehearse_migrates_a_copy_and_only_reads_the_database() {
    let env = Env::new();
    let db = seeded(&env);
    let schema = env.file("s.sql", V2_KEEP);
    let before = fs::read(&db).unwrap();
    let o = run(&["rehearse", "--db", &db, &schema]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let out = text(&o);
    assert!(
        out.contains("Rehearsed on a copy") && out.contains("integrity_check: ok"),
        "{out}"
    );
    assert!(out.contains("The copy was deleted"), "{out}");
    assert_eq!(fs::read(&db).unwrap(), before);
    let files: Vec<String> = fs::read_dir(&env.root)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    assert!(files.iter().all(|f| !f.contains("rehearsal")), "{files:?}");
    // JSON, kept where asked.
    let to = env.root.join("copy.db");
    let o = run(&[
        "rehearse",
        "--db",
        &db,
        &schema,
        "--keep",
        "--to",
        to.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["kept"], true);
    assert_eq!(v["integrity_check"], "ok");
    assert!(v["steps"].as_array().is_some_and(|s| !s.is_empty()));
    assert!(to.exists());
    // A refusal is exit 1, as for apply; the database is unchanged.
    let o = run(&[
        "rehearse",
        "--db",
        &db,
        &env.file("drop.sql", "CREATE TABLE other(x);"),
    ]);
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert_eq!(fs::read(&db).unwrap(), before);
}

#[test]
fn rename_flags_rename_instead_of_drop_and_add() {
    let env = Env::new();
    let db = env.db(
        "app.db",
        "CREATE TABLE a(id INTEGER PRIMARY KEY, x TEXT); INSERT INTO a VALUES (1,'keep');",
    );
    let same_cols = env.file("b.sql", "CREATE TABLE b(id INTEGER PRIMARY KEY, x TEXT);");
    let o = run(&["plan", "--db", &db, &same_cols]);
    assert!(
        text(&o).contains("suggestion: table a is dropped and b added"),
        "{}",
        text(&o)
    );
    let schema = env.file("s.sql", "CREATE TABLE b(id INTEGER PRIMARY KEY, y TEXT);");
    let o = run(&[
        "apply",
        "--db",
        &db,
        &schema,
        "--rename-table",
        "a=b",
        "--rename-column",
        "b.x=y",
    ]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let c = Connection::open(&db).unwrap();
    let y: String = c.query_row("SELECT y FROM b", [], |r| r.get(0)).unwrap();
    assert_eq!(y, "keep");
}

#[test]
fn dangling_foreign_keys_are_accepted_with_a_warning() {
    let env = Env::new();
    let db = env.db(
        "fk.db",
        "CREATE TABLE a(id INTEGER PRIMARY KEY); INSERT INTO a VALUES (1), (2);",
    );
    let schema = env.file(
        "fk.sql",
        "CREATE TABLE a(id INTEGER PRIMARY KEY, kind INTEGER REFERENCES kinds(id));\n",
    );
    let warning = "fk.sql:1:1: foreign key a.kind references table `kinds`, which the schema does not declare";
    let o = run(&["plan", "--db", &db, &schema, "--format", "json"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let warnings = v["plan"]["warnings"].as_array().unwrap();
    assert!(
        warnings
            .iter()
            .any(|w| w.as_str().unwrap().contains(warning)),
        "{warnings:?}"
    );
    let o = run(&["apply", "--db", &db, &schema]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(text(&o).contains("warning: "), "{}", text(&o));
    assert!(text(&o).contains(warning), "{}", text(&o));
    let o = run(&["check", "--db", &db, &schema]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    // The strict mode refuses it, and the old flag still parses.
    let o = run(&["plan", "--db", &db, &schema, "--deny-dangling-foreign-keys"]);
    assert_eq!(code(&o), 2, "{}", text(&o));
    let o = run(&[
        "plan",
        "--db",
        &db,
        &schema,
        "--allow-dangling-foreign-keys",
    ]);
    assert_eq!(code(&o), 0, "{}", text(&o));
}

#[test]
fn check_exit_codes_and_json() {
    let env = Env::new();
    let db = seeded(&env);
    let same = env.file("same.sql", V1);
    let other = env.file("other.sql", V2_KEEP);
    let o = run(&["check", "--db", &db, &same]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let o = run(&["check", "--db", &db, &other]);
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert!(text(&o).contains("drift"));
    let o = run(&["check", "--db", &db, &other, "--format", "json"]);
    assert_eq!(code(&o), 1);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["in_sync"], false);
    assert!(!v["changes"].as_array().unwrap().is_empty());
}

#[test]
fn inspect_output_is_a_declared_schema_in_sync_with_the_db() {
    let env = Env::new();
    let db = env.db(
        "app.db",
        "CREATE TABLE t(id INTEGER PRIMARY KEY, a TEXT); CREATE INDEX ta ON t(a); CREATE VIEW v AS SELECT a FROM t; CREATE TRIGGER tr AFTER INSERT ON t BEGIN SELECT 1; END; CREATE VIRTUAL TABLE f USING fts5(x);",
    );
    let o = run(&["inspect", "--db", &db]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let out = String::from_utf8(o.stdout).unwrap();
    assert!(!out.contains("f_data"), "shadow tables are internal: {out}");
    let schema = env.file("inspected.sql", &out);
    let o = run(&["check", "--db", &db, &schema]);
    assert_eq!(code(&o), 0, "{}", text(&o));
}

#[test]
fn diff_script_run_on_from_yields_to() {
    let env = Env::new();
    let from = env.file("from.sql", V1);
    let to = env.file("to.sql", V2);
    let o = run(&["diff", &from, &to]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let script = String::from_utf8(o.stdout).unwrap();
    let db = env.db("x.db", V1);
    let c = Connection::open(&db).unwrap();
    c.execute_batch(&script).unwrap();
    drop(c);
    let o = run(&["check", "--db", &db, &to]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let o = run(&["diff", &from, &to, "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["in_sync"], false);
}

/// The printed script runs in the real `sqlite3` shell (when one is installed) for an older
/// SQLite, planned with `--sqlite-version`.
#[test]
fn diff_script_runs_in_the_sqlite3_shell() {
    let Ok(v) = Command::new("sqlite3").arg("--version").output() else {
        eprintln!("SKIPPED: no sqlite3 shell on this machine");
        return;
    };
    let version = String::from_utf8_lossy(&v.stdout)
        .split_whitespace()
        .next()
        .unwrap_or("3.0.0")
        .to_string();
    let env = Env::new();
    let from = env.file(
        "from.sql",
        &format!("{V1}CREATE VIEW names AS SELECT name FROM users;"),
    );
    let to = env.file(
        "to.sql",
        &format!("{V2}CREATE VIEW names AS SELECT name FROM users WHERE name <> '';"),
    );
    let o = run(&["diff", &from, &to, "--sqlite-version", &version]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let script = env.file("m.sql", &String::from_utf8(o.stdout).unwrap());
    let db = env.db("x.db", &format!("{V1}CREATE VIEW names AS SELECT name FROM users; INSERT INTO users VALUES (1,'a','b');"));
    let out = Command::new("sqlite3")
        .arg(&db)
        .arg(format!(".read {script}"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let o = run(&["check", "--db", &db, &to]);
    assert_eq!(code(&o), 0, "{}", text(&o));
}

/// `--sqlite-version android-N` plans only what that platform's SQLite can run: a column
/// rename is native from SQLite 3.25 (Android API 30's 3.28), a rebuild on API 28's 3.22.
#[test]
fn diff_for_a_platform_release_plans_for_its_sqlite() {
    let env = Env::new();
    let from = env.file(
        "from.sql",
        "CREATE TABLE t(id INTEGER PRIMARY KEY, a TEXT);",
    );
    let to = env.file(
        "to.sql",
        "-- liteshift:rename-column t.a = b\nCREATE TABLE t(id INTEGER PRIMARY KEY, b TEXT);",
    );
    let script = |version: &str| {
        let o = run(&["diff", &from, &to, "--sqlite-version", version]);
        assert_eq!(code(&o), 0, "{}", text(&o));
        String::from_utf8(o.stdout).unwrap()
    };
    let api30 = script("android-30");
    assert!(api30.contains("for SQLite 3.28.0"), "{api30}");
    assert!(api30.contains("RENAME COLUMN \"a\" TO \"b\""), "{api30}");
    let api28 = script("android-28");
    assert!(api28.contains("for SQLite 3.22.0"), "{api28}");
    assert!(!api28.contains("RENAME COLUMN \"a\""), "{api28}");
    assert!(api28.contains("INSERT INTO"), "{api28}");
    assert!(script("ios-15").contains("for SQLite 3.36.0"));
    let o = run(&["diff", &from, &to, "--sqlite-version", "android-19"]);
    assert_eq!(code(&o), 2);
    assert!(text(&o).contains("from 21 on"), "{}", text(&o));
}

#[test]
fn errors_exit_2_with_a_clear_message() {
    let env = Env::new();
    let db = seeded(&env);
    let good = env.file("good.sql", V1);
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![
                "plan".into(),
                "--db".into(),
                env.root.join("missing.db").to_string_lossy().into(),
                good.clone(),
            ],
            "no such file",
        ),
        (
            vec![
                "plan".into(),
                "--db".into(),
                env.root.to_string_lossy().into(),
                good.clone(),
            ],
            "is a directory",
        ),
        (
            vec![
                "plan".into(),
                "--db".into(),
                env.file("text.db", "hello, I am not a database\n"),
                good.clone(),
            ],
            "not a SQLite database",
        ),
        (
            vec![
                "plan".into(),
                "--db".into(),
                db.clone(),
                env.root.join("missing.sql").to_string_lossy().into(),
            ],
            "cannot read schema file",
        ),
        (
            vec![
                "plan".into(),
                "--db".into(),
                db.clone(),
                env.file(
                    "syntax.sql",
                    "CREATE TABLE a(id INTEGER);\nCREATE TABLE b(id INTEGER,,);\n",
                ),
            ],
            "syntax.sql:2:",
        ),
        (
            vec![
                "plan".into(),
                "--db".into(),
                db.clone(),
                env.file(
                    "insert.sql",
                    "CREATE TABLE a(id);\nINSERT INTO a VALUES (1);\n",
                ),
            ],
            "insert.sql:2:1: only CREATE",
        ),
        (
            vec![
                "plan".into(),
                "--db".into(),
                db.clone(),
                env.file(
                    "fk.sql",
                    "CREATE TABLE a(id INTEGER REFERENCES nowhere(id));\n",
                ),
                "--deny-dangling-foreign-keys".into(),
            ],
            "fk.sql:1:1: foreign key a.id references table `nowhere`, which the schema does not declare",
        ),
        (
            vec![
                "plan".into(),
                "--db".into(),
                db.clone(),
                good.clone(),
                "--rename-table".into(),
                "nonsense".into(),
            ],
            "expected old=new",
        ),
        (
            vec![
                "plan".into(),
                "--db".into(),
                db.clone(),
                good.clone(),
                "--rename-column".into(),
                "users.nope=other".into(),
            ],
            "rename hint nope=other (column of table users) cannot apply: the database has no `nope`",
        ),
        (
            vec![
                "plan".into(),
                "--db".into(),
                db.clone(),
                good.clone(),
                "--sqlite-version".into(),
                "three".into(),
            ],
            "--sqlite-version",
        ),
        (vec!["frobnicate".into()], "unrecognized subcommand"),
    ];
    for (args, needle) in cases {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = run(&a);
        assert_eq!(code(&o), 2, "{a:?}: {}", text(&o));
        assert!(
            text(&o).contains(needle),
            "{a:?}: expected {needle:?} in {}",
            text(&o)
        );
    }
    let bad = env.root.join("latin1.sql");
    fs::write(&bad, b"CREATE TABLE caf\xe9(id);").unwrap();
    let o = run(&["plan", "--db", &db, bad.to_str().unwrap()]);
    assert_eq!(code(&o), 2);
    assert!(text(&o).contains("not UTF-8"), "{}", text(&o));
}

#[test]
fn locked_database_waits_then_reports_locked() {
    let env = Env::new();
    let db = seeded(&env);
    let schema = env.file("s.sql", V2_KEEP);
    let holder = Connection::open(&db).unwrap();
    holder
        .execute_batch("BEGIN IMMEDIATE; INSERT INTO users VALUES (9,'w','w');")
        .unwrap();
    let o = run(&["apply", "--db", &db, &schema, "--busy-timeout", "200"]);
    assert_eq!(code(&o), 2, "{}", text(&o));
    assert!(text(&o).contains("locked"), "{}", text(&o));
    holder.execute_batch("ROLLBACK").unwrap();
    let o = run(&["apply", "--db", &db, &schema]);
    assert_eq!(code(&o), 0, "{}", text(&o));
}

#[test]
fn help_documents_exit_codes() {
    let o = run(&["--help"]);
    assert_eq!(code(&o), 0);
    assert!(text(&o).contains("Exit codes"));
    for verb in ["plan", "apply", "diff", "check", "inspect"] {
        assert!(text(&o).contains(verb));
    }
    let _ = Path::new(".");
}

#[test]
fn two_processes_applying_at_once_both_succeed() {
    let mut replanned = 0;
    for round in 0..3 {
        let env = Env::new();
        let db = env.db(
            "app.db",
            "CREATE TABLE parent(id INTEGER PRIMARY KEY, name TEXT);
             CREATE TABLE child(id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent(id) ON DELETE CASCADE, v TEXT);
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000)
             INSERT INTO parent SELECT i, 'p' || i FROM n;
             INSERT INTO child SELECT id, id, 'c' FROM parent;",
        );
        let schema = env.file(
            "schema.sql",
            "CREATE TABLE parent(id INTEGER PRIMARY KEY, name TEXT NOT NULL COLLATE NOCASE);
             CREATE TABLE child(id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent(id) ON DELETE CASCADE, v TEXT);",
        );
        let spawn = || {
            bin()
                .args(["apply", "--db", &db, &schema])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        };
        let (a, b) = (spawn(), spawn());
        for child in [a, b] {
            let o = child.wait_with_output().unwrap();
            assert_eq!(code(&o), 0, "round {round}: {}", text(&o));
            if text(&o).contains("planned again") {
                replanned += 1;
            }
        }
        let c = Connection::open(&db).unwrap();
        let (p, k): (i64, i64) = c
            .query_row(
                "SELECT (SELECT count(*) FROM parent), (SELECT count(*) FROM child)",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!((p, k), (100_000, 100_000), "round {round}");
        let o = run(&["check", "--db", &db, &schema]);
        assert_eq!(code(&o), 0, "round {round}: {}", text(&o));
    }
    eprintln!("two processes at once: 3 rounds, both exit 0 each time; {replanned} re-planned under the lock");
}

/// A parent rebuilt under `ON DELETE CASCADE` children, as a versioned migration file.
const CASCADE_FROM: &str = "CREATE TABLE parent(id INTEGER PRIMARY KEY, name TEXT);
CREATE TABLE child(id INTEGER PRIMARY KEY, parent_id INTEGER NOT NULL REFERENCES parent(id) ON DELETE CASCADE);\n";
const CASCADE_TO: &str = "CREATE TABLE parent(id INTEGER PRIMARY KEY, name TEXT NOT NULL COLLATE NOCASE);
CREATE TABLE child(id INTEGER PRIMARY KEY, parent_id INTEGER NOT NULL REFERENCES parent(id) ON DELETE CASCADE);\n";
const CASCADE_ROWS: &str = "INSERT INTO parent VALUES (1, 'a'), (2, 'b'); INSERT INTO child VALUES (10, 1), (11, 1), (12, 2);";

fn children(c: &Connection) -> i64 {
    c.query_row("SELECT count(*) FROM child", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn exported_scripts_refuse_to_run_with_foreign_keys_on_inside_a_transaction() {
    let env = Env::new();
    let from = env.file("from.sql", CASCADE_FROM);
    let to = env.file("to.sql", CASCADE_TO);
    let o = run(&["diff", &from, &to, "--no-transaction"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let script = String::from_utf8(o.stdout).unwrap();
    let statements: Vec<&str> = script.lines().filter(|l| !l.starts_with("--")).collect();
    assert!(
        statements
            .iter()
            .all(|l| !["BEGIN", "COMMIT", "PRAGMA foreign_key"]
                .iter()
                .any(|k| l.starts_with(k))),
        "{script}"
    );
    let db = env.db("x.db", &format!("{CASCADE_FROM}{CASCADE_ROWS}"));

    // A runner that wraps the file in its own transaction with enforcement on: the guard
    // aborts the script before any change, and every child row is still there.
    let c = Connection::open(&db).unwrap();
    c.execute_batch("PRAGMA foreign_keys = ON; BEGIN").unwrap();
    let err = c.execute_batch(&script).unwrap_err().to_string();
    assert!(err.contains("foreign-key enforcement must be off"), "{err}");
    c.execute_batch("ROLLBACK").unwrap();
    assert_eq!(children(&c), 3);
    let o = run(&["check", "--db", &db, &from]);
    assert_eq!(code(&o), 0, "unchanged: {}", text(&o));

    // What the guard prevents: the same steps without it cascade the parent's DROP TABLE.
    let unguarded: String = script
        .split(";\n")
        .filter(|s| !s.contains("_liteshift_fk_guard"))
        .collect::<Vec<_>>()
        .join(";\n");
    c.execute_batch("BEGIN").unwrap();
    c.execute_batch(&unguarded).unwrap();
    assert_eq!(
        children(&c),
        0,
        "without the guard the children are deleted"
    );
    c.execute_batch("ROLLBACK").unwrap();

    // The same runner with enforcement switched off before its transaction: the target.
    c.execute_batch("PRAGMA foreign_keys = OFF; BEGIN").unwrap();
    c.execute_batch(&script).unwrap();
    c.execute_batch("COMMIT; PRAGMA foreign_keys = ON").unwrap();
    assert_eq!(children(&c), 3);
    let none: i64 = c
        .query_row("SELECT count(*) FROM temp.sqlite_schema", [], |r| r.get(0))
        .unwrap();
    assert_eq!(none, 0, "the guard table is gone");
    drop(c);
    let o = run(&["check", "--db", &db, &to]);
    assert_eq!(code(&o), 0, "{}", text(&o));

    // The default script, which switches enforcement itself, refuses to run nested.
    let o = run(&["diff", &from, &to]);
    let own = String::from_utf8(o.stdout).unwrap();
    let db2 = env.db("y.db", &format!("{CASCADE_FROM}{CASCADE_ROWS}"));
    let c = Connection::open(&db2).unwrap();
    c.execute_batch("PRAGMA foreign_keys = ON; BEGIN").unwrap();
    assert!(c.execute_batch(&own).is_err());
    c.execute_batch("ROLLBACK").unwrap();
    assert_eq!(children(&c), 3);
    // ... and run as it is (the sqlite3 shell's way), it yields the target.
    c.execute_batch(&own).unwrap();
    assert_eq!(children(&c), 3);
    drop(c);
    let o = run(&["check", "--db", &db2, &to]);
    assert_eq!(code(&o), 0, "{}", text(&o));
}

/// A fleet: `apply --db 'dir/*.db'` migrates every file in parallel, one bad file (corrupt,
/// locked, violating the schema) never stopping the others, which stay byte-identical; the
/// summary counts each outcome and the exit code is the worst one.
#[test]
fn apply_and_check_a_fleet_of_databases() {
    let env = Env::new();
    fs::create_dir(env.root.join("tenants")).unwrap();
    let mut good = Vec::new();
    for i in 0..12 {
        good.push(env.db(
            &format!("tenants/t{i:02}.db"),
            &format!("{V1}INSERT INTO users VALUES (1,'ada','x');"),
        ));
    }
    let corrupt = env.file("tenants/corrupt.db", "this is not a database");
    let refused = env.db(
        "tenants/refused.db",
        &format!("{V1}INSERT INTO users VALUES (1,NULL,'x');"),
    );
    let locked = env.db("tenants/locked.db", V1);
    let schema = env.file("s.sql", V2_KEEP);
    let glob = env.root.join("tenants/*.db").to_string_lossy().to_string();

    let before: Vec<Vec<u8>> = [&corrupt, &refused]
        .iter()
        .map(|p| fs::read(p).unwrap())
        .collect();
    let o = run(&["check", "--db", &glob, &schema]);
    assert_eq!(code(&o), 2, "{}", text(&o)); // the corrupt file is the worst outcome
    assert!(text(&o).contains("14 differ"), "{}", text(&o));

    let holder = Connection::open(&locked).unwrap();
    holder.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let o = run(&[
        "apply",
        "--db",
        &glob,
        &schema,
        "--busy-timeout",
        "100",
        "--jobs",
        "3",
    ]);
    let out = text(&o);
    assert_eq!(code(&o), 2, "{out}");
    assert!(
        out.contains("15 database(s)")
            && out.contains("12 migrated, 0 in sync, 1 refused, 2 failed"),
        "{out}"
    );
    assert!(
        out.contains("corrupt.db") && out.contains("not a SQLite database"),
        "{out}"
    );
    assert!(out.contains("locked.db") && out.contains("locked"), "{out}");
    assert!(
        out.contains("refused.db") && out.contains("users.name"),
        "{out}"
    );
    holder.execute_batch("ROLLBACK").unwrap();
    drop(holder);
    let after: Vec<Vec<u8>> = [&corrupt, &refused]
        .iter()
        .map(|p| fs::read(p).unwrap())
        .collect();
    assert_eq!(before, after, "the refused and corrupt files are unchanged");
    for g in &good {
        let o = run(&["check", "--db", g, &schema]);
        assert_eq!(code(&o), 0, "{g}: {}", text(&o));
    }

    // The rest, again: the migrated ones are in sync, the locked one migrates now; JSON.
    let o = run(&[
        "apply", "--db", &glob, "--db", &locked, &schema, "--format", "json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["summary"]["databases"], 15, "{v}");
    assert_eq!(v["summary"]["in_sync"], 12, "{v}");
    assert_eq!(v["summary"]["migrated"], 1, "{v}");
    let outcome = |name: &str| {
        v["databases"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["path"].as_str().unwrap().ends_with(name))
            .unwrap()["outcome"]
            .clone()
    };
    assert_eq!(outcome("locked.db"), "migrated");
    assert_eq!(outcome("refused.db"), "refused");
    assert_eq!(outcome("corrupt.db"), "failed");
    assert_eq!(code(&o), 2);

    // Only good files: exit 0; a glob without matches and plan with several are errors.
    let o = run(&["check", "--db", &good[0], "--db", &good[1], &schema]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let none = env.root.join("nothing/*.db").to_string_lossy().to_string();
    let o = run(&["apply", "--db", &none, &schema]);
    assert_eq!(code(&o), 2);
    assert!(text(&o).contains("no file matches"), "{}", text(&o));
    let o = run(&["plan", "--db", &good[0], "--db", &good[1], &schema]);
    assert_eq!(code(&o), 2);
    assert!(text(&o).contains("takes one --db"), "{}", text(&o));
}

#[test]
fn apply_reports_progress_as_json_lines_on_stderr() {
    let env = Env::new();
    let db = env.db(
        "big.db",
        "CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT);
         WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 50000)
         INSERT INTO t SELECT i, printf('row %d', i) FROM s;",
    );
    let schema = env.file(
        "s.sql",
        "CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT NOT NULL CHECK (name <> ''));\n",
    );
    let o = run(&[
        "apply",
        "--db",
        &db,
        &schema,
        "--format",
        "json",
        "--progress",
        "json",
    ]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let report: serde_json::Value =
        serde_json::from_slice(&o.stdout).expect("stdout is the report");
    assert_eq!(report["result"]["applied"], true);
    let events: Vec<serde_json::Value> = String::from_utf8_lossy(&o.stderr)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let steps = report["plan"]["steps"].as_array().unwrap().len();
    let started = events
        .iter()
        .filter(|e| e["event"] == "step_started")
        .count();
    let finished: Vec<&serde_json::Value> = events
        .iter()
        .filter(|e| e["event"] == "step_finished")
        .collect();
    assert_eq!((started, finished.len()), (steps, steps), "{events:#?}");
    let copy = events
        .iter()
        .find(|e| e["event"] == "step_started" && e["cost"]["kind"] == "rewrite")
        .expect("the copy says what it costs");
    assert_eq!(copy["cost"]["rows"], 50000);
    assert!(events
        .iter()
        .any(|e| e["event"] == "rows" && e["step"] == copy["step"]));
    assert!(finished.iter().any(|e| e["rows_changed"] == 50000));

    // On a pipe, the default shows nothing.
    let db2 = env.db(
        "quiet.db",
        "CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT);",
    );
    let o = run(&["apply", "--db", &db2, &schema]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(o.stderr.is_empty(), "{}", text(&o));
}

#[test]
fn a_fleet_reports_each_database_done_as_json_lines() {
    let env = Env::new();
    fs::create_dir_all(env.root.join("t")).unwrap();
    for i in 0..3 {
        env.db(&format!("t/{i}.db"), V1);
    }
    let schema = env.file("s.sql", V2_KEEP);
    let glob = env.root.join("t/*.db").to_string_lossy().to_string();
    let o = run(&["check", "--db", &glob, &schema, "--progress", "json"]);
    assert_eq!(code(&o), 1, "{}", text(&o));
    let events: Vec<serde_json::Value> = String::from_utf8_lossy(&o.stderr)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let mut done: Vec<u64> = events.iter().map(|e| e["done"].as_u64().unwrap()).collect();
    done.sort();
    assert_eq!(done, vec![1, 2, 3], "{events:#?}");
    assert!(events
        .iter()
        .all(|e| e["event"] == "database_done" && e["total"] == 3 && e["outcome"] == "differs"));
    // The text lines still go to stdout, one per file.
    assert_eq!(
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter(|l| l.starts_with("differs"))
            .count(),
        3
    );
}

#[test]
fn sharing_the_database_with_a_platform_and_another_tool() {
    let env = Env::new();
    let db = env.db(
        "android.db",
        &format!(
            "{V1}CREATE TABLE android_metadata(locale TEXT); INSERT INTO android_metadata VALUES ('en_US');
             CREATE TABLE _sqlx_migrations(version BIGINT PRIMARY KEY, description TEXT);
             CREATE INDEX sqlx_by_description ON _sqlx_migrations(description);
             INSERT INTO users VALUES (1,'ada','x');"
        ),
    );
    let schema = env.file("v2.sql", V2_KEEP);
    // Without --ignore the other tool's table is the schema's to drop; the platform's never is.
    let o = run(&["plan", "--db", &db, &schema]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(
        text(&o).contains("drop table _sqlx_migrations"),
        "{}",
        text(&o)
    );
    assert!(!text(&o).contains("android_metadata"), "{}", text(&o));
    let o = run(&["apply", "--db", &db, &schema, "--ignore", "_sqlx_*"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let o = run(&["check", "--db", &db, &schema, "--ignore", "_sqlx_*"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let o = run(&["check", "--db", &db, &schema]);
    assert_eq!(code(&o), 1, "{}", text(&o));
    let o = run(&["inspect", "--db", &db]);
    assert!(!text(&o).contains("android_metadata") && text(&o).contains("_sqlx_migrations"));
    let c = Connection::open(&db).unwrap();
    let kept: i64 = c
        .query_row(
            "SELECT count(*) FROM android_metadata, _sqlx_migrations",
            [],
            |r| r.get(0),
        )
        .unwrap_or(-1);
    assert_eq!(kept, 0, "both tables are still there (the second is empty)");
    // Declaring what a pattern ignores is an error (exit 2) naming both.
    let o = run(&["plan", "--db", &db, &schema, "--ignore", "user*"]);
    assert_eq!(code(&o), 2, "{}", text(&o));
    assert!(
        text(&o).contains("`users` matches the ignore pattern `user*`"),
        "{}",
        text(&o)
    );
}

#[test]
fn keep_undeclared_applies_everything_but_the_drops() {
    let env = Env::new();
    let db = seeded(&env);
    Connection::open(&db)
        .unwrap()
        .execute_batch("CREATE TABLE audit(at TEXT); INSERT INTO audit VALUES ('then');")
        .unwrap();
    let schema = env.file("v2.sql", V2);
    let o = run(&[
        "apply",
        "--db",
        &db,
        &schema,
        "--keep-undeclared",
        "--format",
        "json",
    ]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        v["plan"]["kept"],
        serde_json::json!(["table audit", "column users.legacy"])
    );
    let c = Connection::open(&db).unwrap();
    let legacy: String = c
        .query_row("SELECT group_concat(legacy) FROM users", [], |r| r.get(0))
        .unwrap();
    assert_eq!(legacy, "x,y");
    let o = run(&["check", "--db", &db, &schema, "--keep-undeclared"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let o = run(&["plan", "--db", &db, &schema, "--keep-undeclared"]);
    assert!(
        text(&o).contains("kept (undeclared): table audit, column users.legacy"),
        "{}",
        text(&o)
    );
}

#[test]
fn diff_for_d1_writes_one_batch_with_its_guards() {
    let env = Env::new();
    let from = env.file("from.sql", "CREATE TABLE p(id INTEGER PRIMARY KEY, name TEXT);\nCREATE TABLE c(id INTEGER PRIMARY KEY, p_id INTEGER REFERENCES p(id) ON DELETE CASCADE);\n");
    let to = env.file("to.sql", "CREATE TABLE p(id INTEGER PRIMARY KEY, name TEXT NOT NULL);\nCREATE TABLE c(id INTEGER PRIMARY KEY, p_id INTEGER REFERENCES p(id) ON DELETE CASCADE);\n");
    let o = run(&[
        "diff",
        &from,
        &to,
        "--for",
        "d1",
        "--sqlite-version",
        "3.45.0",
    ]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let script = String::from_utf8_lossy(&o.stdout);
    assert!(
        !script.contains("BEGIN") && !script.contains("PRAGMA foreign_keys"),
        "{script}"
    );
    assert!(
        script.contains("CHECK constraint failed: liteshift")
            || script.contains("liteshift: the database is not at the schema"),
        "{script}"
    );
    assert!(
        script.contains("ALTER TABLE \"c\" RENAME TO"),
        "the child is rebuilt with its parent:\n{script}"
    );
    // Run as D1 runs a batch (one transaction, enforcement on): the child rows stay.
    let db = env.db("d1.db", "CREATE TABLE p(id INTEGER PRIMARY KEY, name TEXT);\nCREATE TABLE c(id INTEGER PRIMARY KEY, p_id INTEGER REFERENCES p(id) ON DELETE CASCADE);\nINSERT INTO p VALUES (1, 'a'); INSERT INTO c VALUES (1, 1), (2, 1);");
    let c = Connection::open(&db).unwrap();
    c.execute_batch(&format!(
        "PRAGMA foreign_keys = ON; BEGIN; {script} COMMIT;"
    ))
    .unwrap();
    let kept: i64 = c
        .query_row("SELECT count(*) FROM c", [], |r| r.get(0))
        .unwrap();
    assert_eq!(kept, 2);
    // Without --sqlite-version: D1's SQLite (3.47.0), which has no ALTER COLUMN … SET NOT NULL
    // (3.53): the parent is rebuilt instead of altered in place.
    let o = run(&["diff", &from, &to, "--for", "d1"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let script = String::from_utf8_lossy(&o.stdout);
    assert!(script.contains("3.47.0"), "{script}");
    assert!(!script.contains("ALTER COLUMN"), "{script}");
}

/// A reader that goes away (`liteshift apply … | head -1`) neither panics the CLI nor stops the
/// migration half-way: the output stops, the work is finished and the exit code is the
/// command's. A full disk is exit code 2 with a message saying so.
#[test]
fn output_to_a_closed_pipe_or_a_full_disk() {
    use std::io::Read as _;
    use std::process::Stdio;
    let env = Env::new();
    let many: String = (0..2000)
        .map(|i| {
            format!("CREATE TABLE t{i}(id INTEGER PRIMARY KEY, body TEXT NOT NULL DEFAULT '');\n")
        })
        .collect();
    let schema = env.file("many.sql", &many);
    let db = env.db("app.db", "CREATE TABLE old(x);");
    let mut child = bin()
        .args(["apply", "--db", &db, &schema, "--allow-data-loss"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 16];
    let mut out = child.stdout.take().unwrap();
    out.read_exact(&mut first).unwrap();
    drop(out);
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let c = Connection::open(&db).unwrap();
    let tables: i64 = c
        .query_row(
            "SELECT count(*) FROM sqlite_schema WHERE type = 'table'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(tables, 2000, "the migration ran to its end");

    if Path::new("/dev/full").exists() {
        let o = bin()
            .args(["plan", "--db", &seeded(&env), &env.file("v2.sql", V2)])
            .stdout(fs::File::create("/dev/full").unwrap())
            .output()
            .unwrap();
        assert_eq!(code(&o), 2, "{}", text(&o));
        assert!(
            text(&o).contains("cannot write to standard output"),
            "{}",
            text(&o)
        );
        assert!(!text(&o).contains("panicked"), "{}", text(&o));
    }
}
