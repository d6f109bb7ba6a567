"""The front-end contract's cases (tests/contract/cases.json) through the Python API: each
output must equal the Rust facade's (tests/contract/expected.json, written by
``cargo test -p liteshift-contract``), with the names snake_cased — the one documented mapping
(``rewritesRows`` -> ``rewrites_rows``, ``stepStarted`` -> ``step_started``) — and Python's
message for errors. Options are the contract's, passed as keywords under the same mapping
(``busy_timeout`` aside, none of these cases use it).
"""

import dataclasses
import json
import pathlib
import re
import sqlite3

import pytest

import liteshift

DIR = pathlib.Path(__file__).resolve().parents[2] / "tests" / "contract"
CASES = json.loads((DIR / "cases.json").read_text())["cases"]
EXPECTED = json.loads((DIR / "expected.json").read_text())


def snake(name):
    return re.sub(r"[A-Z]", lambda m: "_" + m.group(0).lower(), name)


def snaked(v):
    """The expected JSON as Python names it."""
    if isinstance(v, dict):
        return {
            snake(k): (snake(x) if k == "event" else snaked(x)) for k, x in v.items()
        }
    if isinstance(v, list):
        return [snaked(x) for x in v]
    return v


def plain(v):
    """A result of the API as JSON-like values: dataclasses as dicts without the fields the
    contract leaves out when absent (a ``Cost``'s ``table``/``rows``/``bytes``, a progress
    event's fields of other events)."""
    if dataclasses.is_dataclass(v):
        out = {}
        for f in dataclasses.fields(v):
            x = getattr(v, f.name)
            if x is None and f.default is None:
                continue
            out[f.name] = plain(x)
        return out
    if isinstance(v, (list, tuple)):
        return [plain(x) for x in v]
    return v


def error_of(e):
    fields = {"code": e.code}
    for name in ("source_name", "line", "column", "path"):
        if getattr(e, name, None) is not None:
            fields[name] = getattr(e, name)
    if isinstance(e, liteshift.DataLossRefused):
        fields["steps"] = list(e.steps)
    if isinstance(e, liteshift.DataViolatesSchema):
        fields["violations"] = [plain(v) for v in e.violations]
    return fields


def run(case):
    conn = sqlite3.connect(":memory:")
    if case.get("setup"):
        conn.executescript(case["setup"])
    options = {snake(k): v for k, v in case["options"].items()}
    events = []
    out = {}
    try:
        call = case["call"]
        if call == "plan":
            out["ok"] = plain(liteshift.plan(conn, case["schema"], **options))
        elif call == "check":
            out["ok"] = liteshift.check(conn, case["schema"], **options)
        elif call == "diff":
            out["ok"] = plain(liteshift.diff(case["from"], case["schema"], **options))
        else:
            report = liteshift.migrate(
                conn, case["schema"], on_progress=events.append, **options
            )
            out["ok"] = plain(report)
            out["in_sync_after"] = liteshift.check(
                conn, case["schema"], **{k: v for k, v in options.items() if k != "dry_run"}
            )
    except liteshift.LiteshiftError as e:
        out = {"error": error_of(e), "message": str(e)}
    if case["call"] == "migrate":
        out["progress"] = [
            {**plain(e), **({"milliseconds": 0} if e.milliseconds is not None else {})}
            for e in events
        ]
    return out


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_contract_case(case):
    want = snaked(EXPECTED[case["name"]])
    got = run(case)
    if "error" in want and "without_error_offset" in want["error"]:
        # Python's sqlite3 does not say where in a statement SQLite found an error.
        want["error"] = want["error"]["without_error_offset"]
    if "error" in want:
        assert got.pop("message") == want["error"].pop("messages")["python"]
    assert got == want
