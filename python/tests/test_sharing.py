"""Sharing the database with a platform or another tool, on Python's own sqlite3: platform
tables (``android_metadata``), ``ignore=`` and ``keep_undeclared=``."""

import inspect
import sqlite3

import pytest

import liteshift

APP = """
CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE INDEX users_name ON users(name);
"""
# users.name changes its declared type: a rebuild of users on every SQLite.
APP_REBUILT = APP.replace("name TEXT NOT NULL", "name VARCHAR(40) NOT NULL")


def app_db(extra=""):
    conn = sqlite3.connect(":memory:")
    conn.executescript(APP + "INSERT INTO users(name) VALUES ('ada'), ('bob');" + extra)
    return conn


def test_an_android_database_is_in_sync_and_keeps_its_row_through_a_rebuild():
    conn = app_db(
        "CREATE TABLE android_metadata (locale TEXT);"
        "INSERT INTO android_metadata VALUES ('en_US');"
    )
    assert liteshift.check(conn, APP)
    assert liteshift.plan(conn, APP).kept == ()
    assert liteshift.migrate(conn, APP).steps_applied == 0
    report = liteshift.migrate(conn, APP_REBUILT)
    assert any(s.rewrites_rows for s in report.plan.steps)
    assert all("android_metadata" not in s.sql for s in report.plan.steps)
    assert conn.execute("SELECT locale FROM android_metadata").fetchall() == [("en_US",)]
    assert liteshift.check(conn, APP_REBUILT)


def test_ignore_leaves_another_tools_table_and_index_alone_while_a_table_is_rebuilt():
    conn = app_db(
        """CREATE TABLE _sqlx_migrations(version BIGINT PRIMARY KEY, description TEXT NOT NULL);
        CREATE INDEX _sqlx_migrations_description ON _sqlx_migrations(description);
        INSERT INTO _sqlx_migrations VALUES (20240101, 'init');"""
    )
    # Without the pattern, the table is the schema's, and dropping it loses data.
    with pytest.raises(liteshift.DataLossRefused):
        liteshift.migrate(conn, APP_REBUILT)
    assert liteshift.check(conn, APP, ignore=["_sqlx_*"])
    report = liteshift.migrate(conn, APP_REBUILT, ignore=("_SQLX_*",))  # any case
    assert any(s.rewrites_rows for s in report.plan.steps)
    assert all("_sqlx" not in s.sql for s in report.plan.steps), report.plan.sql
    assert conn.execute("SELECT * FROM _sqlx_migrations").fetchall() == [(20240101, "init")]
    assert conn.execute(
        "SELECT type, name FROM sqlite_master WHERE name LIKE '%sqlx%' AND sql IS NOT NULL"
        " ORDER BY name"
    ).fetchall() == [("table", "_sqlx_migrations"), ("index", "_sqlx_migrations_description")]
    assert conn.execute("SELECT name FROM users ORDER BY id").fetchall() == [("ada",), ("bob",)]
    assert liteshift.check(conn, APP_REBUILT, ignore=["_sqlx_*"])
    # The schema's own annotation does the same.
    assert liteshift.check(conn, "-- liteshift:ignore _sqlx_*\n" + APP_REBUILT)


def test_keep_undeclared_keeps_a_columns_values_and_plan_kept_names_them():
    conn = app_db(
        """ALTER TABLE users ADD COLUMN old TEXT;
        UPDATE users SET old = 'was ' || name;
        CREATE TABLE extra(x); INSERT INTO extra VALUES (7);"""
    )
    plan = liteshift.plan(conn, APP_REBUILT, keep_undeclared=True)
    assert plan.kept == ("table extra", "column users.old")
    assert plan.destructive_steps == ()
    report = liteshift.migrate(conn, APP_REBUILT, keep_undeclared=True)
    assert report.plan.kept == ("table extra", "column users.old")
    assert any(s.rewrites_rows for s in report.plan.steps)
    assert conn.execute("SELECT name, old FROM users ORDER BY id").fetchall() == [
        ("ada", "was ada"),
        ("bob", "was bob"),
    ]
    assert conn.execute("SELECT x FROM extra").fetchall() == [(7,)]
    assert liteshift.check(conn, APP_REBUILT, keep_undeclared=True)
    assert not liteshift.check(conn, APP_REBUILT)
    assert liteshift.plan(conn, APP_REBUILT).kept == ()
    # diff takes the options too: the schema-to-schema plan keeps what `to` leaves out.
    d = liteshift.diff(APP + "CREATE TABLE extra(x);", APP, keep_undeclared=True)
    assert d.in_sync and d.kept == ("table extra",)


def test_a_declared_ignored_name_is_a_schema_error_and_bad_options_are_invalid():
    conn = app_db()
    with pytest.raises(liteshift.SchemaError) as e:
        liteshift.migrate(conn, APP, ignore=["user?"])
    assert e.value.code == "schema_error" and e.value.line == 2
    assert "`user?`" in str(e.value)
    with pytest.raises(liteshift.InvalidOption, match=r"\[abc") as e:
        liteshift.plan(conn, APP, ignore=["[abc"])
    assert e.value.code == "invalid_option"
    with pytest.raises(liteshift.InvalidOption, match="ignore"):
        liteshift.plan(conn, APP, ignore="_sqlx_*")  # a str is not a list of patterns
    with pytest.raises(liteshift.InvalidOption, match="ignore"):
        liteshift.plan(conn, APP, ignore=[b"_sqlx_*"])
    with pytest.raises(liteshift.InvalidOption, match="keep_undeclared"):
        liteshift.migrate(conn, APP, keep_undeclared="yes")
    with pytest.raises(TypeError):
        liteshift.migrate(conn, APP, keep_undeclard=True)
    assert conn.execute("SELECT count(*) FROM users").fetchone() == (2,)


@pytest.mark.parametrize("fn", [liteshift.migrate, liteshift.plan, liteshift.check, liteshift.diff])
def test_every_planning_function_takes_the_sharing_options(fn):
    params = inspect.signature(fn).parameters
    assert params["ignore"].default == () and params["keep_undeclared"].default is False
    assert params["ignore"].kind is inspect.Parameter.KEYWORD_ONLY
