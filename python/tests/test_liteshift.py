"""liteshift through Python's own sqlite3: every test migrates a connection the test holds.

The package has no SQLite inside; everything it runs goes through the connection, so these
tests also show liteshift planning for Python's SQLite (3.40 on Debian 12: no 3.53 ALTER
COLUMN, so NOT NULL changes are rebuilds).
"""

import pathlib
import sqlite3

import pytest

import liteshift

V1 = """
CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT);
CREATE TABLE posts(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  body TEXT
);
CREATE INDEX posts_user ON posts(user_id);
CREATE VIEW user_posts AS SELECT u.name, p.body FROM users u JOIN posts p ON p.user_id = u.id;
CREATE TRIGGER posts_touch AFTER INSERT ON posts BEGIN UPDATE users SET name = name WHERE id = new.user_id; END;
"""

# users.name becomes NOT NULL (a rebuild of the parent on SQLite < 3.53) and gains a column.
V2 = V1.replace(
    "CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT);",
    "CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT);",
)

SEED = """
INSERT INTO users VALUES (1, 'ada'), (2, 'bob');
INSERT INTO posts(user_id, body) VALUES (1, 'a'), (1, 'b'), (2, 'c');
DELETE FROM posts WHERE id = 3;
INSERT INTO posts(user_id, body) VALUES (2, 'd');
"""


def fresh(schema=V1, seed=SEED, **kwargs):
    conn = sqlite3.connect(":memory:", **kwargs)
    conn.executescript(schema + seed)
    conn.commit()
    return conn


def dump(conn):
    return list(conn.iterdump())


def test_an_in_memory_database_is_migrated_through_the_handle():
    # Nothing but this connection can reach an in-memory database: a second SQLite opening
    # a file could not have migrated it.
    conn = fresh()
    report = liteshift.migrate(conn, V2)
    assert report.steps_applied > 0
    assert liteshift.check(conn, V2)
    cols = [r[1] for r in conn.execute("PRAGMA table_info(users)")]
    assert cols == ["id", "name", "email"]
    assert report.plan.sqlite_version == sqlite3.sqlite_version


def test_the_native_module_contains_no_sqlite():
    native = pathlib.Path(liteshift._native.__file__).read_bytes()
    for symbol in (b"sqlite3_open_v2", b"sqlite3_prepare_v2", b"sqlite3_step"):
        assert symbol not in native


def test_a_rebuild_under_foreign_keys_keeps_children_views_triggers_and_autoincrement():
    conn = fresh()
    conn.execute("PRAGMA foreign_keys = ON")
    before_seq = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'posts'").fetchone()
    before_posts = conn.execute("SELECT * FROM posts ORDER BY id").fetchall()
    report = liteshift.migrate(conn, V2)
    assert report.foreign_keys_toggled
    assert any("rebuild users" in s.reason for s in report.plan.steps)
    # Every child row survived the parent's rebuild (no ON DELETE CASCADE fired).
    assert conn.execute("SELECT * FROM posts ORDER BY id").fetchall() == before_posts
    assert conn.execute("SELECT count(*) FROM user_posts").fetchone() == (3,)
    assert conn.execute(
        "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name = 'posts_touch'"
    ).fetchone() == (1,)
    seq = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'posts'").fetchone()
    assert seq == before_seq == (4,)
    conn.execute("INSERT INTO posts(user_id, body) VALUES (1, 'e')")
    assert conn.execute("SELECT max(id) FROM posts").fetchone() == (5,)
    # The connection got its enforcement back.
    assert conn.execute("PRAGMA foreign_keys").fetchone() == (1,)
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_a_file_database_is_migrated_and_committed(tmp_path):
    path = tmp_path / "app.db"
    conn = sqlite3.connect(path)
    conn.executescript(V1 + SEED)
    conn.commit()
    liteshift.migrate(conn, V2)
    other = sqlite3.connect(path)
    assert liteshift.check(other, V2)
    assert other.execute("SELECT count(*) FROM posts").fetchone() == (3,)


@pytest.mark.parametrize("level", [None, "", "DEFERRED", "IMMEDIATE", "EXCLUSIVE"])
def test_any_isolation_level_and_the_connection_is_left_as_it_was(level):
    conn = fresh(isolation_level=level)
    conn.text_factory = bytes
    conn.row_factory = sqlite3.Row
    liteshift.migrate(conn, V2)
    assert conn.isolation_level == level
    assert conn.text_factory is bytes
    assert conn.row_factory is sqlite3.Row
    assert not conn.in_transaction
    # Still usable, with its own transaction control.
    conn.execute("INSERT INTO users(name) VALUES ('cy')")
    assert conn.in_transaction == (level is not None)
    conn.commit()
    assert conn.execute("SELECT count(*) FROM users").fetchone()[0] == 3


def test_refusals_leave_the_database_identical():
    conn = fresh()
    before = dump(conn)
    dropped = V1.replace("CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT);", "")
    dropped = dropped.replace(" REFERENCES users(id) ON DELETE CASCADE", "")
    dropped = "\n".join(l for l in dropped.splitlines() if "user_posts" not in l and "posts_touch" not in l)
    with pytest.raises(liteshift.DataLossRefused) as e:
        liteshift.migrate(conn, dropped)
    assert e.value.code == "data_loss_refused"
    assert any("drop table users" in s for s in e.value.steps)
    assert "allow_data_loss=True" in str(e.value)
    assert "--allow-data-loss" not in str(e.value)
    assert isinstance(e.value, liteshift.Refused)
    assert dump(conn) == before

    conn.execute("INSERT INTO users VALUES (3, NULL)")
    conn.commit()
    before = dump(conn)
    with pytest.raises(liteshift.DataViolatesSchema) as e:
        liteshift.migrate(conn, V2)
    (v,) = e.value.violations
    assert (v.table, v.column, v.constraint, v.count) == ("users", "name", "NOT NULL", 1)
    assert v.examples and "3" in v.examples[0]
    assert "users.name" in str(e.value)
    assert dump(conn) == before
    assert not conn.in_transaction


def test_declared_values_fill_existing_rows():
    conn = fresh()
    conn.execute("INSERT INTO users VALUES (3, NULL)")
    conn.commit()
    schema = V2.replace("email TEXT", "email TEXT NOT NULL")
    report = liteshift.migrate(
        conn,
        schema,
        values={"users.name": "coalesce(name, 'user' || id)", "users.email": "coalesce(name, 'x') || '@example.com'"},
    )
    assert report.steps_applied > 0
    rows = conn.execute("SELECT id, name, email FROM users ORDER BY id").fetchall()
    assert rows == [(1, "ada", "ada@example.com"), (2, "bob", "bob@example.com"), (3, "user3", "x@example.com")]


def test_schema_errors_name_their_line_and_column():
    conn = fresh()
    before = dump(conn)
    bad = V2 + "\nCREATE TABLE broken(id INTEGER PRIMARY KEY,\n  x TEXT REFERENCES);\n"
    with pytest.raises(liteshift.SchemaError) as e:
        liteshift.migrate(conn, bad, source_name="schema.sql")
    err = e.value
    assert err.code == "schema_error"
    assert err.source_name == "schema.sql"
    assert err.line == V2.count("\n") + 2, str(err)
    assert err.column >= 1
    assert str(err).startswith(f"schema.sql:{err.line}:{err.column}: ")
    assert isinstance(err, ValueError)
    assert dump(conn) == before


def test_a_value_that_does_not_compile_names_its_annotation():
    conn = fresh()
    schema = "-- liteshift:value users.email = nosuchcolumn || 'x'\n" + V2
    with pytest.raises(liteshift.SchemaError) as e:
        liteshift.migrate(conn, schema)
    assert (e.value.line, e.value.column) == (1, 1) or e.value.line == 1
    assert "nosuchcolumn" in str(e.value)


def test_renames_keep_rows():
    conn = fresh()
    schema = (
        V1.replace("CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT);", "CREATE TABLE people(id INTEGER PRIMARY KEY, full_name TEXT);")
        .replace("REFERENCES users(id)", "REFERENCES people(id)")
        .replace("JOIN posts", "JOIN posts")
        .replace("SELECT u.name, p.body FROM users u", "SELECT u.full_name, p.body FROM people u")
        .replace("UPDATE users SET name = name", "UPDATE people SET full_name = full_name")
    )
    plan = liteshift.plan(conn, schema, rename_tables={"users": "people"}, rename_columns={"users.name": "full_name"})
    assert not plan.destructive_steps
    liteshift.migrate(conn, schema, rename_tables={"users": "people"}, rename_columns=[("users.name", "full_name")])
    assert conn.execute("SELECT full_name FROM people ORDER BY id").fetchall() == [("ada",), ("bob",)]
    assert conn.execute("SELECT count(*) FROM posts").fetchone() == (3,)
    assert liteshift.check(conn, schema)


def test_inside_the_callers_transaction():
    # A change that needs no foreign-key switch joins the caller's transaction as a savepoint.
    conn = fresh()
    conn.execute("INSERT INTO users VALUES (9, 'zed')")
    assert conn.in_transaction
    added = V1.replace("name TEXT);", "name TEXT, email TEXT);")
    liteshift.migrate(conn, added)
    assert conn.in_transaction
    assert liteshift.check(conn, added)
    conn.rollback()
    assert liteshift.check(conn, V1)
    assert conn.execute("SELECT count(*) FROM users").fetchone() == (2,)

    # A rebuild under enforcement must switch it off, which SQLite forbids in a transaction.
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("INSERT INTO users VALUES (9, 'zed')")
    with pytest.raises(liteshift.InTransaction) as e:
        liteshift.migrate(conn, V2)
    assert "commit or roll back" in str(e.value)
    assert conn.in_transaction
    conn.commit()
    assert conn.execute("SELECT count(*) FROM users").fetchone() == (3,)
    assert liteshift.migrate(conn, V2).steps_applied > 0


def test_dry_run_changes_nothing():
    conn = fresh()
    before = dump(conn)
    report = liteshift.migrate(conn, V2, dry_run=True)
    assert report.steps_applied > 0
    assert dump(conn) == before


def test_plan_reports_steps_and_the_whole_script():
    conn = fresh()
    plan = liteshift.plan(conn, V2)
    assert not plan.in_sync
    assert plan.sqlite_version == sqlite3.sqlite_version
    assert all(isinstance(s, liteshift.Step) and s.sql for s in plan.steps)
    assert any(s.rewrites_rows for s in plan.steps)
    assert not any(s.destructive for s in plan.steps)
    assert "BEGIN IMMEDIATE" in plan.sql and plan.sql.rstrip().endswith("COMMIT;") or "COMMIT" in plan.sql
    # Planning for SQLite 3.53+ uses its native ALTER COLUMN instead of the rebuild.
    newer = liteshift.plan(conn, V2, sqlite_version="3.54.0")
    assert not any(s.rewrites_rows for s in newer.steps)
    assert liteshift.plan(conn, V1).in_sync


def test_diff_plans_for_a_platform_release():
    a = "CREATE TABLE t(id INTEGER PRIMARY KEY, a TEXT);"
    b = "CREATE TABLE t(id INTEGER PRIMARY KEY, b TEXT);"
    renames = {"rename_columns": {"t.a": "b"}}
    assert 'RENAME COLUMN "a" TO "b"' in liteshift.diff(a, b, "android-30", **renames).sql
    old = liteshift.diff(a, b, "android-28", **renames)
    assert old.sqlite_version == "3.22.0"
    assert 'RENAME COLUMN "a"' not in old.sql
    # The script runs on a database at `a` and yields `b`.
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.executescript(a + "INSERT INTO t VALUES (1, 'x');")
    conn.executescript(old.sql)
    assert liteshift.check(conn, b)
    assert conn.execute("SELECT b FROM t").fetchall() == [("x",)]
    assert liteshift.diff(a, a).in_sync
    assert liteshift.diff(a, b).sqlite_version == sqlite3.sqlite_version
    assert liteshift.sqlite_version_of("ios-15") == "3.36.0"
    with pytest.raises(liteshift.InvalidOption):
        liteshift.diff(a, b, "android-19")


def test_bad_arguments_are_clear():
    conn = fresh()
    with pytest.raises(TypeError, match="sqlite3.Connection"):
        liteshift.migrate(object(), V1)
    with pytest.raises(liteshift.InvalidOption, match="rename_columns"):
        liteshift.migrate(conn, V2, rename_columns={"nodot": "x"})
    with pytest.raises(liteshift.InvalidOption):
        liteshift.migrate(conn, V2, rename_tables=[("a",)])
    closed = fresh()
    closed.close()
    with pytest.raises(liteshift.LiteshiftError, match="closed"):
        liteshift.migrate(closed, V2)


def test_a_locked_database_waits_then_says_so(tmp_path):
    path = tmp_path / "app.db"
    conn = sqlite3.connect(path)
    conn.executescript(V1 + SEED)
    conn.commit()
    locker = sqlite3.connect(path, isolation_level=None)
    locker.execute("BEGIN IMMEDIATE")
    with pytest.raises(liteshift.DatabaseError) as e:
        liteshift.migrate(conn, V2, busy_timeout=0.2)
    assert "locked" in str(e.value)
    locker.execute("ROLLBACK")
    assert liteshift.migrate(conn, V2).steps_applied > 0


def test_the_installed_wheel_carries_its_metadata_and_types():
    from importlib import metadata

    meta = metadata.metadata("liteshift")
    assert meta["Name"] == "liteshift"
    assert meta["Version"] == liteshift.__version__
    assert meta["Requires-Python"] == ">=3.9"
    assert "Typing :: Typed" in meta.get_all("Classifier")
    package = pathlib.Path(liteshift.__file__).parent
    assert (package / "py.typed").exists() and (package / "_native.pyi").exists()
    assert pathlib.Path(liteshift._native.__file__).name.endswith(".abi3.so")


BIG = """
CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT);
WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 10000)
INSERT INTO t SELECT i, 'row ' || i FROM s;
"""
BIG_NEW = "CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT NOT NULL CHECK (name <> ''));"


def test_on_progress_tells_each_step_and_what_it_costs():
    conn = sqlite3.connect(":memory:")
    conn.executescript(BIG)
    events = []
    report = liteshift.migrate(conn, BIG_NEW, on_progress=events.append)
    total = len(report.plan.steps)
    assert all(isinstance(e, liteshift.ProgressEvent) and e.total == total for e in events)
    assert [e.event for e in events] == ["step_started", "step_finished"] * total
    assert [e.step for e in events] == [n for n in range(1, total + 1) for _ in (0, 1)]
    copy = next(e for e in events if e.event == "step_started" and e.cost.kind == "rewrite")
    assert (copy.cost.table, copy.cost.rows) == ("t", 10000)
    assert copy.cost.bytes > 50000
    done = next(e for e in events if e.event == "step_finished" and e.step == copy.step)
    assert done.rows_changed == 10000 and done.seconds >= 0
    # The plan carries the same costs.
    step = report.plan.steps[copy.step - 1]
    assert step.cost == copy.cost and step.rewrites_rows


def test_a_failing_on_progress_does_not_stop_the_migration(monkeypatch):
    seen = []
    monkeypatch.setattr("sys.unraisablehook", lambda u: seen.append(u.exc_value))
    conn = sqlite3.connect(":memory:")
    conn.executescript(BIG)

    def broken(event):
        raise RuntimeError("the display broke")

    report = liteshift.migrate(conn, BIG_NEW, on_progress=broken)
    assert report.steps_applied > 0
    assert seen and all(isinstance(e, RuntimeError) for e in seen)
    assert conn.execute("SELECT count(*) FROM t").fetchone() == (10000,)
    with pytest.raises(liteshift.InvalidOption, match="on_progress"):
        liteshift.migrate(conn, BIG, on_progress="yes")
