"""Online rebuilds (``online=True``) through Python's own sqlite3: the rows are copied in short
transactions while other connections keep writing, and the result is the blocking rebuild's.
"""

import sqlite3

import pytest

import liteshift

ROWS = 5000

OLD = """
CREATE TABLE items(id INTEGER PRIMARY KEY, qty TEXT NOT NULL, note TEXT);
CREATE INDEX items_note ON items(note);
"""

# qty's type changes: a rebuild (no ALTER changes a column's type).
NEW = """
CREATE TABLE items(id INTEGER PRIMARY KEY, qty INTEGER NOT NULL, note TEXT);
CREATE INDEX items_note ON items(note);
"""


def seeded(path):
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.executescript(OLD)
    with conn:
        conn.executemany(
            "INSERT INTO items VALUES (?, ?, ?)",
            ((i, str(i * 7 % 1000), f"note {i % 97}") for i in range(1, ROWS + 1)),
        )
        # A gap in the rowids, as deletes leave.
        conn.execute("DELETE FROM items WHERE id BETWEEN 100 AND 199")
    return conn


def contents(conn):
    rows = conn.execute("SELECT id, qty, typeof(qty), note FROM items ORDER BY id").fetchall()
    schema = conn.execute(
        "SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY name"
    ).fetchall()
    return rows, schema


def test_an_online_migrate_gives_the_blocking_ones_rows_and_schema(tmp_path):
    blocking = seeded(tmp_path / "blocking.db")
    online = seeded(tmp_path / "online.db")

    assert liteshift.plan(blocking, NEW).online is False
    planned = liteshift.plan(online, NEW, online=True)
    assert planned.online is True
    # The script shows the copy, which the blocking plan does not run apart.
    assert "_liteshift_online" in planned.sql
    assert "_liteshift_online" not in liteshift.plan(blocking, NEW).sql

    liteshift.migrate(blocking, NEW)
    events = []
    report = liteshift.migrate(
        online, NEW, online=True, online_chunk_ms=5, online_pause_ms=0, on_progress=events.append
    )
    assert report.plan.online is True
    # The plan's steps are every step the migration ran, in order, the copy among them.
    reasons = [s.reason for s in report.plan.steps]
    assert len(reasons) == report.steps_applied
    assert [e.reason for e in events if e.event == "step_started"] == reasons
    assert any(r.startswith("online rebuild of items: copy every row") for r in reasons), reasons

    assert contents(online) == contents(blocking)
    rows, _ = contents(online)
    assert len(rows) == ROWS - 100
    assert {t for _, _, t, _ in rows} == {"integer"}
    # Nothing of the online rebuild is left.
    assert online.execute(
        "SELECT name FROM sqlite_schema WHERE name LIKE '%liteshift%'"
    ).fetchall() == []
    assert online.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    assert liteshift.check(online, NEW)


def test_the_online_options_without_online_are_an_invalid_option(tmp_path):
    conn = seeded(tmp_path / "db")
    for name in ("online_chunk_ms", "online_pause_ms"):
        with pytest.raises(liteshift.InvalidOption, match=f"^{name}: ") as e:
            liteshift.migrate(conn, NEW, **{name: 10})
        assert e.value.code == "invalid_option"
    with pytest.raises(liteshift.InvalidOption, match="online_chunk_ms"):
        liteshift.plan(conn, NEW, online=True, online_chunk_ms=-1)
    with pytest.raises(liteshift.InvalidOption, match="online"):
        liteshift.migrate(conn, NEW, online="yes")
    # Nothing ran.
    assert conn.execute("SELECT typeof(qty) FROM items LIMIT 1").fetchone() == ("text",)
