//! What the user declared is what the database stores: after a rebuild, `sqlite_schema.sql` of
//! the rebuilt table is the declared statement byte for byte (the old table is renamed away
//! under `legacy_alter_table`, the new one created under its own name), and the rows, rowids,
//! AUTOINCREMENT high-water mark and children's rows are kept. Where the SQLite has no
//! `legacy_alter_table` (before 3.25), or the old table's text qualifies a column with its
//! own name, the new table is renamed into place: stored as declared but with its name quoted.

use std::collections::BTreeMap;

use liteshift::{migrate, Options, SqliteVersion};
use liteshift_tests::{fk_violations, integrity, table_rows};
use rusqlite::Connection;

/// A rebuild: the schema before, rows, the declared schema after (one statement per item),
/// and the table that must be rebuilt.
struct Case {
    name: &'static str,
    before: &'static str,
    rows: &'static str,
    after: &'static [&'static str],
    rebuilt: &'static str,
}

const CASES: &[Case] = &[
    Case {
        name: "type change, with an index, a trigger on it, a view over it and a cascading child",
        before: "CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT, age INTEGER);
            CREATE INDEX users_name ON users(name);
            CREATE TABLE audit(msg TEXT);
            CREATE TRIGGER users_ai AFTER INSERT ON users BEGIN INSERT INTO audit VALUES (new.name); END;
            CREATE VIEW adults AS SELECT name FROM users WHERE age >= 18;
            CREATE TABLE posts(id INTEGER PRIMARY KEY, user_id INTEGER REFERENCES users(id) ON DELETE CASCADE);",
        rows: "INSERT INTO users(id, name, age) VALUES (3, 'a', 20), (7, 'b', 9), (11, 'c', 40);
            INSERT INTO posts(user_id) VALUES (3), (3), (7), (11);",
        after: &[
            "CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT, age TEXT)",
            "CREATE INDEX users_name ON users(name)",
            "CREATE TABLE audit(msg TEXT)",
            "CREATE TRIGGER users_ai AFTER INSERT ON users BEGIN INSERT INTO audit VALUES (new.name); END",
            "CREATE VIEW adults AS SELECT name FROM users WHERE age >= 18",
            "CREATE TABLE posts(id INTEGER PRIMARY KEY, user_id INTEGER REFERENCES users(id) ON DELETE CASCADE)",
        ],
        rebuilt: "users",
    },
    Case {
        name: "a dropped column that is indexed (no native DROP COLUMN for it)",
        before: "CREATE TABLE items(id INTEGER PRIMARY KEY, sku TEXT UNIQUE, price REAL);",
        rows: "INSERT INTO items(sku, price) VALUES ('x', 1.5), ('y', 2.5);",
        after: &["CREATE TABLE items(id INTEGER PRIMARY KEY,\n    price REAL -- in cents\n)"],
        rebuilt: "items",
    },
    Case {
        name: "AUTOINCREMENT, its high-water mark above the largest rowid",
        before: "CREATE TABLE log(id INTEGER PRIMARY KEY AUTOINCREMENT, msg TEXT);",
        rows: "INSERT INTO log(msg) VALUES ('a'), ('b'), ('c'), ('d'); DELETE FROM log WHERE id > 2;",
        after: &["CREATE TABLE log(id INTEGER PRIMARY KEY AUTOINCREMENT, msg TEXT NOT NULL DEFAULT '')"],
        rebuilt: "log",
    },
    Case {
        name: "WITHOUT ROWID",
        before: "CREATE TABLE kv(k TEXT PRIMARY KEY, v INTEGER) WITHOUT ROWID;",
        rows: "INSERT INTO kv VALUES ('a', 1), ('b', 2);",
        after: &["CREATE TABLE kv(k TEXT PRIMARY KEY, v TEXT) WITHOUT ROWID"],
        rebuilt: "kv",
    },
    Case {
        name: "a self-referencing table with a cascade",
        before: "CREATE TABLE node(id INTEGER PRIMARY KEY, parent INTEGER REFERENCES node(id) ON DELETE CASCADE, label TEXT);",
        rows: "INSERT INTO node VALUES (1, NULL, 'root'), (2, 1, 'a'), (3, 2, 'b');",
        after: &["CREATE TABLE node(id INTEGER PRIMARY KEY, parent INTEGER REFERENCES node(id) ON DELETE CASCADE, label TEXT COLLATE NOCASE)"],
        rebuilt: "node",
    },
    Case {
        name: "a name that needs quoting, and its child",
        before: "CREATE TABLE \"order items\"(\"Qty\" INTEGER, note TEXT, UNIQUE (note));
            CREATE TABLE \"line\"(id INTEGER PRIMARY KEY, note TEXT REFERENCES \"order items\"(note) ON DELETE CASCADE);",
        rows: "INSERT INTO \"order items\" VALUES (1, 'n1'), (2, 'n2');
            INSERT INTO line(note) VALUES ('n1'), ('n2'), ('n2');",
        after: &[
            "CREATE TABLE \"order items\"(\"Qty\" TEXT, note TEXT, UNIQUE (note))",
            "CREATE TABLE \"line\"(id INTEGER PRIMARY KEY, note TEXT REFERENCES \"order items\"(note) ON DELETE CASCADE)",
        ],
        rebuilt: "order items",
    },
    Case {
        name: "mixed-case names, a child that names the parent in other case",
        before: "CREATE TABLE Users (Id INTEGER PRIMARY KEY, Name TEXT);
            CREATE TABLE Posts (id INTEGER PRIMARY KEY, user_id INTEGER REFERENCES USERS(Id) ON DELETE CASCADE);",
        rows: "INSERT INTO Users VALUES (5, 'x'), (6, 'y'); INSERT INTO Posts(user_id) VALUES (5), (6);",
        after: &[
            "CREATE TABLE Users (Id INTEGER PRIMARY KEY, Name TEXT NOT NULL DEFAULT 'n')",
            "CREATE TABLE Posts (id INTEGER PRIMARY KEY, user_id INTEGER REFERENCES USERS(Id) ON DELETE CASCADE)",
        ],
        rebuilt: "users",
    },
    Case {
        name: "a rebuilt child and its rebuilt parent",
        before: "CREATE TABLE p(id INTEGER PRIMARY KEY, a INTEGER);
            CREATE TABLE c(id INTEGER PRIMARY KEY, p_id INTEGER REFERENCES p(id) ON DELETE CASCADE, b INTEGER);",
        rows: "INSERT INTO p VALUES (1, 1), (2, 2); INSERT INTO c(p_id, b) VALUES (1, 1), (2, 2);",
        after: &[
            "CREATE TABLE p(id INTEGER PRIMARY KEY, a TEXT)",
            "CREATE TABLE c(id INTEGER PRIMARY KEY, p_id INTEGER REFERENCES p(id) ON DELETE CASCADE, b TEXT)",
        ],
        rebuilt: "c",
    },
];

/// A partial index that names the table's own column through its name: the legacy rename
/// re-reads it under the old table's new name and fails, so the new table is renamed into
/// place. (A CHECK that does so cannot be rebuilt in either order: SQLite refuses it in a
/// table of another name.)
const NAMES_ITSELF: Case = Case {
    name: "a partial index that qualifies a column with the table's name",
    before: "CREATE TABLE t(a INTEGER, b INTEGER); CREATE INDEX t_a ON t(a) WHERE t.b > 0;",
    rows: "INSERT INTO t VALUES (1, 2);",
    after: &[
        "CREATE TABLE t(a INTEGER, b TEXT)",
        "CREATE INDEX t_a ON t(a) WHERE t.b > 0",
    ],
    rebuilt: "t",
};

/// What the database holds of a case: stored SQL by name, rows and rowids, the sequence.
#[derive(Debug, PartialEq)]
struct Held {
    rows: BTreeMap<String, (i64, Vec<i64>)>,
    sequence: Vec<(String, i64)>,
}

fn held(conn: &Connection) -> Held {
    let sequence = match conn.prepare("SELECT lower(name), seq FROM sqlite_sequence ORDER BY 1") {
        Ok(mut s) => s
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap(),
        Err(_) => Vec::new(),
    };
    Held {
        rows: table_rows(conn),
        sequence,
    }
}

fn stored(conn: &Connection, name: &str) -> String {
    conn.query_row(
        "SELECT sql FROM sqlite_schema WHERE name = ?1 COLLATE NOCASE",
        [name],
        |r| r.get(0),
    )
    .unwrap_or_else(|e| panic!("no {name} in sqlite_schema: {e}"))
}

/// The name a `CREATE` statement gives (unquoted).
fn created_name(sql: &str) -> String {
    let head = sql
        .split(['(', ' '])
        .filter(|w| !w.is_empty())
        .nth(2)
        .unwrap();
    let head = if head.starts_with('"') {
        sql.split('"').nth(1).unwrap()
    } else {
        head
    };
    head.to_string()
}

/// `sql` as SQLite's `RENAME TO` stores it: the created name double-quoted.
fn renamed_in(sql: &str) -> String {
    let name = created_name(sql);
    if sql.contains(&format!("\"{name}\"")) {
        return sql.to_string();
    }
    sql.replacen(&name, &format!("\"{name}\""), 1)
}

/// Migrate `case` on a fresh database under `version`; the tables the plan rebuilt.
fn run(case: &Case, version: Option<SqliteVersion>) -> (Connection, Vec<String>, Held) {
    let mut conn = Connection::open_in_memory().unwrap();
    conn.execute_batch(case.before).unwrap();
    conn.execute_batch(case.rows).unwrap();
    conn.execute_batch("PRAGMA foreign_keys = ON").unwrap();
    let before = held(&conn);
    let opts = Options {
        sqlite_version: version,
        allow_data_loss: true,
        ..Options::default()
    };
    let report = migrate(&mut conn, &case.after.join(";\n"), &opts)
        .unwrap_or_else(|e| panic!("{}: {e}", case.name));
    let rebuilt: Vec<String> = report
        .plan
        .steps
        .iter()
        .filter(|s| s.reason.ends_with("create the new table"))
        .filter_map(|s| s.reason.strip_prefix("rebuild "))
        .map(|r| {
            let name = r.split(" (").next().unwrap();
            name.trim_end_matches(": create the new table")
                .to_ascii_lowercase()
        })
        .collect();
    assert!(
        rebuilt.contains(&case.rebuilt.to_string()),
        "{}: {} is not rebuilt: {rebuilt:?}",
        case.name,
        case.rebuilt
    );
    (conn, rebuilt, before)
}

/// Every row, rowid and high-water mark kept, children's rows too; the database healthy.
fn assert_kept(case: &Case, conn: &Connection, before: &Held) {
    assert_eq!(&held(conn), before, "{}", case.name);
    assert_eq!(integrity(conn), "ok", "{}", case.name);
    assert_eq!(fk_violations(conn), 0, "{}", case.name);
    let fk: bool = conn
        .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
        .unwrap();
    assert!(fk, "{}: enforcement restored", case.name);
    let legacy: bool = conn
        .query_row("PRAGMA legacy_alter_table", [], |r| r.get(0))
        .unwrap();
    assert!(!legacy, "{}: legacy_alter_table restored", case.name);
}

/// Each declared statement as stored: byte for byte, or (`quoted`) with a rebuilt table's
/// name quoted.
fn assert_stored(case: &Case, conn: &Connection, rebuilt: &[String], quoted: bool) {
    for sql in case.after {
        let name = created_name(sql);
        let expected = if quoted && rebuilt.contains(&name.to_ascii_lowercase()) {
            renamed_in(sql)
        } else {
            sql.to_string()
        };
        assert_eq!(stored(conn, &name), expected, "{}: {name}", case.name);
    }
}

#[test]
fn a_rebuilt_table_is_stored_as_declared() {
    for version in [
        None,
        Some(SqliteVersion(3, 34, 0)),
        Some(SqliteVersion(3, 25, 0)),
    ] {
        for case in CASES {
            let (conn, rebuilt, before) = run(case, version);
            assert_kept(case, &conn, &before);
            assert_stored(case, &conn, &rebuilt, false);
        }
    }
}

#[test]
fn before_3_25_the_new_table_is_renamed_into_place() {
    for case in CASES {
        let (conn, rebuilt, before) = run(case, Some(SqliteVersion(3, 24, 0)));
        assert_kept(case, &conn, &before);
        assert_stored(case, &conn, &rebuilt, true);
    }
}

#[test]
fn a_table_whose_index_names_it_is_renamed_into_place() {
    let case = &NAMES_ITSELF;
    let (conn, rebuilt, before) = run(case, None);
    assert_kept(case, &conn, &before);
    assert_stored(case, &conn, &rebuilt, true);
}

/// What the order relies on, on the SQLite linked in: with enforcement off and
/// `legacy_alter_table` on, renaming a table away leaves children's `REFERENCES`, views and
/// other tables' triggers naming it, carries its own triggers, indexes and `sqlite_sequence`
/// row along, and keeps double-quoted literals; without the pragma, references follow it.
#[test]
fn sqlite_renames_away_keeping_references_under_legacy_alter_table() {
    let schema = "CREATE TABLE p(id INTEGER PRIMARY KEY AUTOINCREMENT, a TEXT UNIQUE, up INTEGER REFERENCES p(id), CHECK (a IS NOT \"x\"));
        CREATE INDEX p_a ON p(a);
        CREATE TABLE c(id INTEGER PRIMARY KEY, pid INTEGER REFERENCES p(id) ON DELETE CASCADE, CHECK (pid IS NOT \"y\"));
        CREATE VIEW v AS SELECT * FROM p;
        CREATE TRIGGER tr AFTER INSERT ON p BEGIN INSERT INTO c(pid) VALUES (new.id); END;
        CREATE TRIGGER tc AFTER INSERT ON c BEGIN UPDATE p SET a = a WHERE id = new.pid; END;
        INSERT INTO p(a) VALUES ('one'), ('two');";
    let catalog = |legacy: bool| {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(schema).unwrap();
        conn.execute_batch(&format!(
            "PRAGMA foreign_keys = OFF; BEGIN; PRAGMA legacy_alter_table = {}; ALTER TABLE p RENAME TO old_p; COMMIT",
            if legacy { "ON" } else { "OFF" }
        ))
        .unwrap();
        let rows: Vec<(String, String, String)> = conn
            .prepare("SELECT name, tbl_name, coalesce(sql, '') FROM sqlite_schema UNION ALL SELECT 'seq', name, CAST(seq AS TEXT) FROM sqlite_sequence")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        rows
    };
    let legacy = catalog(true);
    let find = |rows: &[(String, String, String)], name: &str| {
        rows.iter().find(|r| r.0 == name).cloned().unwrap()
    };
    assert_eq!(find(&legacy, "c").2, "CREATE TABLE c(id INTEGER PRIMARY KEY, pid INTEGER REFERENCES p(id) ON DELETE CASCADE, CHECK (pid IS NOT \"y\"))");
    assert_eq!(find(&legacy, "v").2, "CREATE VIEW v AS SELECT * FROM p");
    assert_eq!(
        find(&legacy, "tc").2,
        "CREATE TRIGGER tc AFTER INSERT ON c BEGIN UPDATE p SET a = a WHERE id = new.pid; END"
    );
    assert_eq!(find(&legacy, "old_p").2, "CREATE TABLE \"old_p\"(id INTEGER PRIMARY KEY AUTOINCREMENT, a TEXT UNIQUE, up INTEGER REFERENCES p(id), CHECK (a IS NOT \"x\"))");
    assert_eq!(find(&legacy, "tr").1, "old_p");
    assert_eq!(find(&legacy, "p_a").1, "old_p");
    assert_eq!(find(&legacy, "sqlite_autoindex_old_p_1").1, "old_p");
    assert_eq!(find(&legacy, "seq").1, "old_p");
    let modern = catalog(false);
    assert!(find(&modern, "c").2.contains("REFERENCES \"old_p\"(id)"));
    assert!(find(&modern, "v").2.contains("\"old_p\""));
}
