"""Every consecutive pair of ../shared/corpus (real schema histories of five apps) migrated
through Python's sqlite3: a database at version N, migrated to N+1 on the connection, must then
be in sync with a clean integrity check, and a second run must do nothing. SKIPPED when the
corpus is absent (a user's clone has no ../shared)."""

import os
import pathlib
import sqlite3

import pytest

import liteshift

CORPUS = pathlib.Path(
    os.environ.get("LITESHIFT_CORPUS", pathlib.Path(__file__).resolve().parents[2] / ".." / "shared" / "corpus")
)


def pairs():
    if not CORPUS.is_dir():
        return []
    out = []
    for app in sorted(p for p in CORPUS.iterdir() if p.is_dir()):
        versions = sorted(app.glob("v*.sql"))
        out += [(app.name, a, b) for a, b in zip(versions, versions[1:])]
    return out


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"SKIPPED: {CORPUS} is not present")
def test_every_corpus_pair_migrates_through_python():
    migrated, steps, failures = 0, 0, []
    for app, a, b in pairs():
        old, new = a.read_text(), b.read_text()
        conn = sqlite3.connect(":memory:")
        conn.executescript(old)
        try:
            report = liteshift.migrate(conn, new, allow_data_loss=True, source_name=b.name)
            assert liteshift.check(conn, new), "not in sync after migrating"
            assert liteshift.migrate(conn, new).steps_applied == 0, "a second run did something"
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            migrated += 1
            steps += report.steps_applied
        except Exception as e:  # noqa: BLE001 - collected and reported together
            failures.append(f"{app} {a.name} -> {b.name}: {type(e).__name__}: {e}")
        finally:
            conn.close()
    print(f"corpus through Python's sqlite3 {sqlite3.sqlite_version}: {migrated} pairs migrated, {steps} steps, {len(failures)} failures")
    assert not failures, "\n".join(failures)
    assert migrated == len(pairs()) > 0
