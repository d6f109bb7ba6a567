//! `liteshift test`: every failure kind fails when it should, git history, snapshots, queries.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn run_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_liteshift"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("liteshift runs")
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
    fn file(&self, name: &str, content: &str) {
        let p = self.root.join(name);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, content).unwrap();
    }
    fn run(&self, args: &[&str]) -> Output {
        run_in(&self.root, args)
    }
}

const V1: &str = "CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT NOT NULL);\n";
const V2: &str = "CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT UNIQUE);\nCREATE TABLE posts(id INTEGER PRIMARY KEY, author INTEGER NOT NULL REFERENCES users(id), body TEXT, at TIMESTAMP);\n";
const V3: &str = "-- liteshift:rename-column users.name=full_name\nCREATE TABLE users(id INTEGER PRIMARY KEY, full_name TEXT NOT NULL, email TEXT UNIQUE);\nCREATE TABLE posts(id INTEGER PRIMARY KEY, author INTEGER NOT NULL REFERENCES users(id), body TEXT, at TIMESTAMP, score REAL);\nCREATE INDEX posts_author ON posts(author);\n";

fn history(env: &Env) {
    env.file("versions/v1.sql", V1);
    env.file("versions/v2.sql", V2);
    env.file("schema.sql", V3);
}

#[test]
fn every_version_migrates_and_is_verified() {
    let env = Env::new();
    history(&env);
    let o = env.run(&[
        "test",
        "schema.sql",
        "--from",
        "versions/*.sql",
        "--rows",
        "20",
    ]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let out = text(&o);
    assert!(out.contains("ok     v1.sql:"), "{out}");
    assert!(out.contains("ok     v2.sql:"), "{out}");
    assert!(out.contains("2 version(s) tested"), "{out}");
    assert!(out.contains("2 passed, 0 failed"), "{out}");
    // v2 holds 20 users and 20 posts.
    assert!(out.contains("40 rows in 2 table(s)"), "{out}");

    let o = env.run(&[
        "test",
        "schema.sql",
        "--from",
        "versions/*.sql",
        "--rows",
        "5",
        "--format",
        "json",
    ]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["summary"]["versions"], 2);
    assert_eq!(v["summary"]["passed"], 2);
    assert_eq!(v["versions"][1]["version"], "v2.sql");
    assert_eq!(v["versions"][1]["rows"], 10);
    assert_eq!(v["versions"][1]["passed"], true);
    assert!(v["versions"][1]["steps"].as_u64().unwrap() > 0);
}

#[test]
fn the_same_seed_gives_the_same_rows() {
    let a = rusqlite::Connection::open_in_memory().unwrap();
    let b = rusqlite::Connection::open_in_memory().unwrap();
    let c = rusqlite::Connection::open_in_memory().unwrap();
    for conn in [&a, &b, &c] {
        conn.execute_batch(V2).unwrap();
    }
    let seed = |conn: &rusqlite::Connection, seed| {
        liteshift::testing::seed_rows(conn, &liteshift::testing::SeedOptions { rows: 10, seed })
            .unwrap()
    };
    seed(&a, 7);
    seed(&b, 7);
    seed(&c, 8);
    let dump = |conn: &rusqlite::Connection| -> Vec<String> {
        conn.prepare("SELECT quote(id) || quote(author) || quote(body) || quote(at) FROM posts UNION ALL SELECT quote(id) || quote(name) || quote(email) FROM users")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    assert_eq!(dump(&a), dump(&b));
    assert_ne!(dump(&a), dump(&c));
    assert_eq!(dump(&a).len(), 20);
}

#[test]
fn a_refusal_names_the_rows_and_the_annotation_that_fixes_it() {
    let env = Env::new();
    env.file("v1.sql", V1);
    env.file(
        "schema.sql",
        "CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT NOT NULL, code TEXT NOT NULL);\n",
    );
    let o = env.run(&["test", "schema.sql", "--from", "v1.sql", "--rows", "5"]);
    assert_eq!(code(&o), 1, "{}", text(&o));
    let out = text(&o);
    assert!(out.contains("FAILED v1.sql"), "{out}");
    assert!(out.contains("NOT NULL on users.code: 5 row(s)"), "{out}");
    assert!(
        out.contains("-- liteshift:value users.code = EXPR"),
        "{out}"
    );
    assert!(out.contains("0 passed, 1 failed (v1.sql)"), "{out}");

    // With the annotation it passes.
    env.file(
        "schema.sql",
        "-- liteshift:value users.code = 'u' || id\nCREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT NOT NULL, code TEXT NOT NULL);\n",
    );
    let o = env.run(&["test", "schema.sql", "--from", "v1.sql", "--rows", "5"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
}

#[test]
fn data_loss_is_refused_with_the_rename_it_may_be() {
    let env = Env::new();
    env.file("v1.sql", V1);
    env.file(
        "schema.sql",
        "CREATE TABLE users(id INTEGER PRIMARY KEY, full_name TEXT NOT NULL);\n",
    );
    let o = env.run(&["test", "schema.sql", "--from", "v1.sql", "--rows", "3"]);
    assert_eq!(code(&o), 1, "{}", text(&o));
    let out = text(&o);
    assert!(out.contains("would lose data"), "{out}");
    assert!(
        out.contains("--rename-column users.name=full_name"),
        "{out}"
    );
    assert!(out.contains("--allow-data-loss"), "{out}");
}

#[test]
fn a_migration_over_budget_fails_with_its_slowest_step() {
    let env = Env::new();
    env.file("v1.sql", V1);
    // A type change: a rebuild that copies every row.
    env.file(
        "schema.sql",
        "CREATE TABLE users(id INTEGER PRIMARY KEY, name VARCHAR(40) NOT NULL CHECK (length(name) < 40));\n",
    );
    let o = env.run(&[
        "test",
        "schema.sql",
        "--from",
        "v1.sql",
        "--rows",
        "2000",
        "--budget",
        "0.000001",
    ]);
    assert_eq!(code(&o), 1, "{}", text(&o));
    let out = text(&o);
    assert!(out.contains("too slow:"), "{out}");
    assert!(out.contains("budget 0.000001 s; step"), "{out}");
    // A generous budget passes.
    let o = env.run(&[
        "test",
        "schema.sql",
        "--from",
        "v1.sql",
        "--rows",
        "2000",
        "--budget",
        "60",
    ]);
    assert_eq!(code(&o), 0, "{}", text(&o));
}

#[test]
fn snapshots_are_written_then_compared_then_updated() {
    let env = Env::new();
    history(&env);
    let args = [
        "test",
        "schema.sql",
        "--from",
        "versions/*.sql",
        "--rows",
        "5",
        "--snapshot",
        "snaps",
    ];
    // None yet: fails until --update writes them.
    let o = env.run(&args);
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert!(text(&o).contains("snapshot missing"), "{}", text(&o));
    let mut update = args.to_vec();
    update.push("--update");
    let o = env.run(&update);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let snap = fs::read_to_string(env.root.join("snaps/v1.plan")).unwrap();
    assert!(snap.contains("rename column users.name"), "{snap}");
    assert!(snap.contains("BEGIN"), "{snap}");
    // Deterministic: the same run is the same.
    let o = env.run(&args);
    assert_eq!(code(&o), 0, "{}", text(&o));
    // The schema changes: the plan differs, and the difference is printed.
    env.file(
        "schema.sql",
        &V3.replace("CREATE INDEX posts_author", "CREATE INDEX posts_by_author"),
    );
    let o = env.run(&args);
    assert_eq!(code(&o), 1, "{}", text(&o));
    let out = text(&o);
    assert!(out.contains("snapshot differs"), "{out}");
    assert!(
        out.contains("+") && out.contains("posts_by_author"),
        "{out}"
    );
    let o = env.run(&update);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let o = env.run(&args);
    assert_eq!(code(&o), 0, "{}", text(&o));
}

#[test]
fn queries_of_the_previous_release_must_compile() {
    let env = Env::new();
    history(&env);
    env.file(
        "queries.sql",
        "SELECT id, email FROM users WHERE id = ?;\nSELECT name FROM users WHERE email = :email;\n-- a comment; with a semicolon\nINSERT INTO posts(author, body) VALUES (?1, 'a;b');\n",
    );
    let o = env.run(&[
        "test",
        "schema.sql",
        "--from",
        "versions/*.sql",
        "--rows",
        "3",
        "--queries",
        "queries.sql",
    ]);
    assert_eq!(code(&o), 1, "{}", text(&o));
    let out = text(&o);
    assert!(
        out.contains("1 of 3 statement(s) of the previous release no longer compile"),
        "{out}"
    );
    assert!(out.contains("query 2: no such column: name"), "{out}");

    // plan --queries warns and still succeeds.
    let db = env.root.join("app.db");
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch(V2)
        .unwrap();
    let o = env.run(&[
        "plan",
        "--db",
        "app.db",
        "schema.sql",
        "--queries",
        "queries.sql",
    ]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("warning: query 2: no such column: name"),
        "{err}"
    );
}

#[test]
fn from_git_tests_every_committed_version() {
    let env = Env::new();
    let git = |args: &[&str]| {
        let o = Command::new("git")
            .current_dir(&env.root)
            .args([
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@t",
                "-c",
                "commit.gpgsign=false",
            ])
            .args(args)
            .output()
            .expect("git runs");
        assert!(o.status.success(), "git {args:?}: {}", text(&o));
    };
    git(&["init", "-q"]);
    for (i, v) in [V1, V2, V3].iter().enumerate() {
        env.file("db/schema.sql", v);
        git(&["add", "db/schema.sql"]);
        git(&["commit", "-q", "-m", &format!("v{}", i + 1)]);
    }
    let o = env.run(&[
        "test",
        "db/schema.sql",
        "--from-git",
        "--rows",
        "4",
        "--format",
        "json",
    ]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    // All three committed versions, oldest first (the last equals the file: nothing to do).
    assert_eq!(v["summary"]["versions"], 3, "{v}");
    assert_eq!(v["versions"][0]["rows"], 4);
    assert_eq!(v["versions"][1]["rows"], 8);
    assert_eq!(v["versions"][2]["steps"], 0);
    // A range: only the last two commits.
    let o = env.run(&[
        "test",
        "db/schema.sql",
        "--from-git",
        "HEAD~2..HEAD",
        "--rows",
        "2",
    ]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(text(&o).contains("2 version(s) tested"), "{}", text(&o));
    // Not a repository, or no such range: exit 2.
    let o = env.run(&["test", "db/schema.sql", "--from-git", "nosuchrev"]);
    assert_eq!(code(&o), 2, "{}", text(&o));
}

#[test]
fn errors_exit_2() {
    let env = Env::new();
    env.file("schema.sql", V1);
    env.file("bad.sql", "CREATE TABLE t(;\n");
    // An earlier version that does not load.
    let o = env.run(&["test", "schema.sql", "--from", "bad.sql"]);
    assert_eq!(code(&o), 2, "{}", text(&o));
    assert!(text(&o).contains("does not load"), "{}", text(&o));
    // No version given, no file matching.
    let o = env.run(&["test", "schema.sql"]);
    assert_eq!(code(&o), 2, "{}", text(&o));
    let o = env.run(&["test", "schema.sql", "--from", "none/*.sql"]);
    assert_eq!(code(&o), 2, "{}", text(&o));
    assert!(text(&o).contains("no file matches"), "{}", text(&o));
}

/// `--from` takes every value after it: a schema written after the versions goes to it, and
/// the error says so and how to write the command.
#[test]
fn the_schema_written_after_from_is_explained() {
    let dir = tempfile::tempdir().unwrap();
    let v1 = dir.path().join("v1.sql");
    let v2 = dir.path().join("v2.sql");
    std::fs::write(&v1, "CREATE TABLE t(a);").unwrap();
    std::fs::write(&v2, "CREATE TABLE t(a, b);").unwrap();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_liteshift"))
        .args(["test", "--from"])
        .arg(&v1)
        .arg(&v2)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("give the schema first: liteshift test schema.sql --from"),
        "{err}"
    );
    // Written the documented way, it runs.
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_liteshift"))
        .arg("test")
        .arg(&v2)
        .arg("--from")
        .arg(&v1)
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}
