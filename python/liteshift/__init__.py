"""liteshift: declarative schema evolution for SQLite.

Declare the schema you want as plain SQL (``CREATE TABLE / INDEX / VIEW / TRIGGER``);
liteshift reads your database through the connection you already hold, computes the smallest
safe migration, and applies it in one transaction, verified before it commits::

    import sqlite3, liteshift

    conn = sqlite3.connect("app.db")
    report = liteshift.migrate(conn, open("schema.sql").read())
    print(report.steps_applied)

Everything runs on ``conn`` and its SQLite (Python's own): the package contains no SQLite and
never opens the file a second time. The migration itself is liteshift's Rust core, the same
for the CLI, the npm package and the Kotlin/Swift bindings; this package converts values.
Its values are liteshift's one front-end contract, the same in every package: the same
fields (snake_case here, camelCase in JavaScript, Kotlin and Swift), durations in
milliseconds (``busy_timeout`` keeps ``sqlite3``'s seconds), the same error codes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, Mapping, Optional, Sequence, Tuple, Union

from . import _native
from .errors import (
    DatabaseError,
    DataLossRefused,
    DataViolatesSchema,
    InTransaction,
    InvalidOption,
    LiteshiftError,
    Refused,
    SchemaError,
    Violation,
)

__all__ = [
    "migrate",
    "plan",
    "check",
    "diff",
    "sqlite_version_of",
    "Plan",
    "Step",
    "Cost",
    "Check",
    "HealthCheck",
    "FkCheck",
    "Report",
    "ProgressEvent",
    "LiteshiftError",
    "SchemaError",
    "Refused",
    "DataLossRefused",
    "DataViolatesSchema",
    "Violation",
    "InTransaction",
    "InvalidOption",
    "DatabaseError",
]

__version__ = "0.1.0"

Renames = Union[Mapping[str, str], Iterable[Tuple[str, str]], None]


@dataclass(frozen=True)
class Cost:
    """What a step costs in the size of the data."""

    #: ``"constant"`` (O(1): the schema only), ``"rewrite"`` (writes every row of ``table``
    #: again), ``"scan"`` (reads them: an index build, a constraint SQLite verifies) or
    #: ``"free"`` (frees its pages: ``DROP TABLE``).
    kind: str
    table: Optional[str] = None
    #: Estimated without scanning (``max(rowid)``, or ``sqlite_stat1``); ``None`` when unknown.
    rows: Optional[int] = None
    #: ``rows`` times the average size of a few records.
    bytes: Optional[int] = None


@dataclass(frozen=True)
class ProgressEvent:
    """What ``migrate(..., on_progress=f)`` tells ``f`` while the steps run."""

    #: ``"step_started"``, ``"rows"`` (rows a step has written so far, on hosts with an update
    #: hook; Python's ``sqlite3`` has none) or ``"step_finished"``.
    event: str
    #: The step's number, from 1, of ``total``.
    step: int
    total: int
    reason: Optional[str] = None
    #: ``step_started``: what the step costs.
    cost: Optional[Cost] = None
    rows: Optional[int] = None
    #: ``step_finished``: the rows its last statement changed.
    rows_changed: Optional[int] = None
    #: ``step_started``: whether the step rewrites every row of a table.
    rewrites_rows: Optional[bool] = None
    #: ``step_finished``: how long it took, in milliseconds (the unit of every liteshift
    #: package; :attr:`seconds` is the same in seconds).
    milliseconds: Optional[float] = None

    @property
    def seconds(self) -> Optional[float]:
        """``step_finished``: how long the step took, in seconds."""
        return None if self.milliseconds is None else self.milliseconds / 1000.0

    @classmethod
    def _from(cls, d: Dict[str, Any]) -> "ProgressEvent":
        cost = d.pop("cost", None)
        return cls(cost=Cost(**cost) if cost is not None else None, **d)


@dataclass(frozen=True)
class Step:
    """One step of a plan."""

    #: The SQL, exactly as ``migrate`` runs it.
    sql: str
    #: The change this step serves, for people.
    reason: str
    #: Whether it loses data (refused unless ``allow_data_loss=True``).
    destructive: bool
    #: Whether it rewrites every row of a table (otherwise it is O(1), or builds an index).
    rewrites_rows: bool
    #: What it costs: O(1), or the rows and bytes of the table it rewrites, reads or frees.
    cost: Cost

    @classmethod
    def _from(cls, d: Dict[str, Any]) -> "Step":
        return cls(**{**d, "cost": Cost(**d["cost"])})


@dataclass(frozen=True)
class Check:
    """A check of existing rows against a constraint of the target, run before any step."""

    constraint: str
    table: str
    column: Optional[str]
    #: Selects one ``example`` text per offending row.
    sql: str
    #: Run only if a step stops at a violating row (SQLite enforces the constraint itself).
    deferred: bool


@dataclass(frozen=True)
class HealthCheck:
    """``PRAGMA quick_check`` of a table whose rows are rewritten: it must say ``ok`` first."""

    table: str
    sql: str


@dataclass(frozen=True)
class FkCheck:
    """A table whose ``PRAGMA foreign_key_check`` runs before and after the steps, by its name
    before (``None``: created by the migration) and after."""

    before: Optional[str]
    after: str


@dataclass(frozen=True)
class Plan:
    """A migration: what ``migrate`` would run, and why."""

    #: Whether the database already matches the declared schema.
    in_sync: bool
    steps: Tuple[Step, ...]
    #: The whole script, exactly what ``migrate`` runs (foreign-key switch, transaction,
    #: checks, steps, verification): runnable as is in the ``sqlite3`` shell.
    sql: str
    #: The SQLite version the plan is for.
    sqlite_version: str
    #: Fingerprint of the schema the plan was made from.
    fingerprint: str
    #: Whether foreign-key enforcement is switched off around the transaction.
    foreign_keys_off: bool
    #: One line per change, for people.
    changes: Tuple[str, ...]
    warnings: Tuple[str, ...]
    suggestions: Tuple[str, ...]
    #: What the database holds and the declaration does not, kept because of
    #: ``keep_undeclared=True``: ``"table extra"``, ``"column t.old"``, ``"index t_old"``.
    kept: Tuple[str, ...]
    #: The reasons of the steps that lose data.
    destructive_steps: Tuple[str, ...]
    #: Whether tables are rebuilt online (``online=True``, for the tables that can be):
    #: ``steps`` then begin with its preparation and each table's copy (run in short
    #: transactions), and go on with the swap.
    online: bool = False
    #: The checks of existing rows run before the steps.
    checks: Tuple[Check, ...] = ()
    #: ``PRAGMA quick_check`` of each table whose rows are rewritten.
    health_checks: Tuple[HealthCheck, ...] = ()
    #: The tables whose foreign keys are checked before and after the steps; ``None``: the
    #: whole database.
    fk_checks: Optional[Tuple[FkCheck, ...]] = None

    @classmethod
    def _from(cls, d: Dict[str, Any]) -> "Plan":
        return cls(
            in_sync=d["in_sync"],
            steps=tuple(Step._from(s) for s in d["steps"]),
            sql=d["sql"],
            sqlite_version=d["sqlite_version"],
            fingerprint=d["fingerprint"],
            foreign_keys_off=d["foreign_keys_off"],
            changes=tuple(d["changes"]),
            warnings=tuple(d["warnings"]),
            suggestions=tuple(d["suggestions"]),
            kept=tuple(d["kept"]),
            destructive_steps=tuple(d["destructive_steps"]),
            online=d["online"],
            checks=tuple(Check(**c) for c in d["checks"]),
            health_checks=tuple(HealthCheck(**h) for h in d["health_checks"]),
            fk_checks=None
            if d["fk_checks"] is None
            else tuple(FkCheck(**f) for f in d["fk_checks"]),
        )


@dataclass(frozen=True)
class Report:
    """What ``migrate`` did."""

    #: Steps run: 0 when the database was already in sync (or on a dry run, the steps that
    #: ran and were rolled back).
    steps_applied: int
    #: Whether foreign-key enforcement was switched off around the transaction (and restored).
    foreign_keys_toggled: bool
    #: The plan that was applied (made again under the write lock if another connection
    #: changed the schema in between).
    plan: Plan

    @classmethod
    def _from(cls, d: Dict[str, Any]) -> "Report":
        return cls(
            steps_applied=d["steps_applied"],
            foreign_keys_toggled=d["foreign_keys_toggled"],
            plan=Plan._from(d["plan"]),
        )


def _pairs(name: str, value: Renames) -> list:
    if value is None:
        return []
    items = value.items() if isinstance(value, Mapping) else value
    out = []
    for item in items:
        try:
            a, b = item
        except (TypeError, ValueError):
            raise InvalidOption(
                f"{name}: expected a mapping of str to str (or pairs), got {item!r}",
                {"code": "invalid_option"},
            ) from None
        if not isinstance(a, str) or not isinstance(b, str):
            raise InvalidOption(
                f"{name}: expected str keys and values, got {a!r}: {b!r}",
                {"code": "invalid_option"},
            )
        out.append((a, b))
    return out


def _patterns(value: Sequence[str]) -> list:
    if isinstance(value, (str, bytes)):
        raise InvalidOption(
            f"ignore: expected a sequence of GLOB patterns, got the single value {value!r}"
            f" (write ignore=[{value!r}])",
            {"code": "invalid_option"},
        )
    try:
        items = list(value)
    except TypeError:
        raise InvalidOption(
            f"ignore: expected a sequence of GLOB patterns (str), got {value!r}",
            {"code": "invalid_option"},
        ) from None
    for p in items:
        if not isinstance(p, str):
            raise InvalidOption(
                f"ignore: expected str patterns, got {p!r}", {"code": "invalid_option"}
            )
    return items


def _options(
    *,
    allow_data_loss: bool = False,
    rename_tables: Renames = None,
    rename_columns: Renames = None,
    values: Renames = None,
    exact_column_order: bool = False,
    dry_run: bool = False,
    sqlite_version: Optional[str] = None,
    deny_dangling_foreign_keys: bool = False,
    source_name: Optional[str] = None,
    busy_timeout: Optional[float] = None,
    on_progress: Optional[Callable[[ProgressEvent], None]] = None,
    ignore: Sequence[str] = (),
    keep_undeclared: bool = False,
    online: bool = False,
    online_chunk_ms: Optional[int] = None,
    online_pause_ms: Optional[int] = None,
) -> Dict[str, Any]:
    for name, flag in (("keep_undeclared", keep_undeclared), ("online", online)):
        if not isinstance(flag, bool):
            raise InvalidOption(
                f"{name}: expected True or False, got {flag!r}", {"code": "invalid_option"}
            )
    for name, ms in (("online_chunk_ms", online_chunk_ms), ("online_pause_ms", online_pause_ms)):
        if ms is not None and (isinstance(ms, bool) or not isinstance(ms, int) or ms < 0):
            raise InvalidOption(
                f"{name}: expected a whole number of milliseconds, got {ms!r}",
                {"code": "invalid_option"},
            )
    o: Dict[str, Any] = {
        "allow_data_loss": bool(allow_data_loss),
        "rename_tables": _pairs("rename_tables", rename_tables),
        "rename_columns": _pairs("rename_columns", rename_columns),
        "values": _pairs("values", values),
        "exact_column_order": bool(exact_column_order),
        "dry_run": bool(dry_run),
        "deny_dangling_foreign_keys": bool(deny_dangling_foreign_keys),
        "sqlite_version": sqlite_version,
        "source_name": source_name,
        "ignore": _patterns(ignore),
        "keep_undeclared": keep_undeclared,
        "online": online,
        "online_chunk_ms": online_chunk_ms,
        "online_pause_ms": online_pause_ms,
    }
    if busy_timeout is not None:
        o["busy_timeout_ms"] = int(busy_timeout * 1000)
    if on_progress is not None:
        if not callable(on_progress):
            raise InvalidOption(
                f"on_progress must be a callable taking a ProgressEvent, got {on_progress!r}",
                {"code": "invalid_option"},
            )
        o["on_progress"] = lambda d: on_progress(ProgressEvent._from(d))
    return o


def migrate(
    conn: Any,
    schema_sql: str,
    *,
    allow_data_loss: bool = False,
    rename_tables: Renames = None,
    rename_columns: Renames = None,
    values: Renames = None,
    exact_column_order: bool = False,
    dry_run: bool = False,
    sqlite_version: Optional[str] = None,
    deny_dangling_foreign_keys: bool = False,
    source_name: Optional[str] = None,
    busy_timeout: Optional[float] = None,
    on_progress: Optional[Callable[[ProgressEvent], None]] = None,
    ignore: Sequence[str] = (),
    keep_undeclared: bool = False,
    online: bool = False,
    online_chunk_ms: Optional[int] = None,
    online_pause_ms: Optional[int] = None,
) -> Report:
    """Migrate the database of ``conn`` to the declared schema ``schema_sql``.

    ``conn`` is a ``sqlite3.Connection`` (any ``isolation_level``); liteshift runs its own
    transaction on it and leaves it as it found it. Called inside your open transaction, the
    migration joins it as a savepoint (commit to keep it) — unless it must switch foreign-key
    enforcement off, which raises :class:`InTransaction`. Does nothing when the database
    already matches.

    :param allow_data_loss: allow steps that drop a table or a column.
    :param rename_tables: ``{"old": "new"}``: a table renamed, not dropped and created.
    :param rename_columns: ``{"table.old": "new"}``.
    :param values: ``{"table.column": "EXPR"}``: the value each existing row takes, computed
        by SQLite from the row as it was (e.g. ``{"users.email": "name || '@example.com'"}``).
    :param exact_column_order: a column order change plans a rebuild.
    :param dry_run: run every step, check and verification, then roll back.
    :param sqlite_version: plan for this SQLite instead of the connection's (``"3.40.1"``,
        ``"android-26"``, ``"ios-15"``).
    :param deny_dangling_foreign_keys: a foreign key to an undeclared table is an error.
    :param source_name: the schema's file name, for error messages.
    :param busy_timeout: seconds to wait for another connection's write lock (default 5).
    :param on_progress: called with a :class:`ProgressEvent` as each step starts and
        finishes (in the migrating thread; it must not use ``conn``). An exception it raises
        goes to ``sys.unraisablehook`` and the migration goes on.
    :param ignore: name patterns (GLOB: ``*``, ``?``, ``[...]``; ignoring case) of objects
        that are not the schema's, e.g. ``["_sqlx_*"]``: never compared or dropped (a table
        with its indexes and triggers). Declaring a matching object raises
        :class:`SchemaError`; a malformed pattern, :class:`InvalidOption`. Tables a platform
        owns (``android_metadata``, ``_cf_*``, ``_litestream_*``) are always left alone.
    :param keep_undeclared: never drop a table, column, index, view or trigger the schema
        does not declare; ``plan.kept`` names what was kept.
    :param online: rebuild tables online: other connections (other threads, processes) keep
        writing while the rows are copied, in short transactions that each hold the write
        lock about ``online_chunk_ms``, then a swap in one transaction. The result is the
        blocking rebuild's (``plan.online`` says whether tables are rebuilt so). It commits
        as it copies, so ``dry_run=True`` or your open transaction raise
        :class:`InvalidOption`. See README, *Online rebuilds*.
    :param online_chunk_ms: with ``online``: about how long one chunk of the copy holds the
        write lock, in milliseconds (default 50).
    :param online_pause_ms: with ``online``: at most how long the lock is left to other
        connections after each chunk, in milliseconds (default 25). Either without
        ``online`` raises :class:`InvalidOption`.
    :raises DataLossRefused, DataViolatesSchema: refused; nothing changed.
    :raises SchemaError: the declared schema is invalid (``.line``, ``.column``).
    :raises InTransaction: see above.
    :raises DatabaseError: the database cannot be used.
    """
    o = _options(
        allow_data_loss=allow_data_loss,
        rename_tables=rename_tables,
        rename_columns=rename_columns,
        values=values,
        exact_column_order=exact_column_order,
        dry_run=dry_run,
        sqlite_version=sqlite_version,
        deny_dangling_foreign_keys=deny_dangling_foreign_keys,
        source_name=source_name,
        busy_timeout=busy_timeout,
        on_progress=on_progress,
        ignore=ignore,
        keep_undeclared=keep_undeclared,
        online=online,
        online_chunk_ms=online_chunk_ms,
        online_pause_ms=online_pause_ms,
    )
    return Report._from(_native.migrate(conn, schema_sql, o))


def plan(
    conn: Any,
    schema_sql: str,
    *,
    allow_data_loss: bool = False,
    rename_tables: Renames = None,
    rename_columns: Renames = None,
    values: Renames = None,
    exact_column_order: bool = False,
    sqlite_version: Optional[str] = None,
    deny_dangling_foreign_keys: bool = False,
    source_name: Optional[str] = None,
    ignore: Sequence[str] = (),
    keep_undeclared: bool = False,
    online: bool = False,
    online_chunk_ms: Optional[int] = None,
    online_pause_ms: Optional[int] = None,
) -> Plan:
    """The migration of ``conn``'s database to ``schema_sql``, without running it.

    Takes the options of :func:`migrate`, and ``sqlite_version`` (``"3.40.1"``,
    ``"android-26"``, ``"ios-15"``) to plan for another SQLite than the connection's.
    ``plan(...).sql`` is the whole script ``migrate`` would run.
    """
    o = _options(
        allow_data_loss=allow_data_loss,
        rename_tables=rename_tables,
        rename_columns=rename_columns,
        values=values,
        exact_column_order=exact_column_order,
        sqlite_version=sqlite_version,
        deny_dangling_foreign_keys=deny_dangling_foreign_keys,
        source_name=source_name,
        ignore=ignore,
        keep_undeclared=keep_undeclared,
        online=online,
        online_chunk_ms=online_chunk_ms,
        online_pause_ms=online_pause_ms,
    )
    return Plan._from(_native.plan(conn, schema_sql, o))


def check(
    conn: Any,
    schema_sql: str,
    *,
    allow_data_loss: bool = False,
    rename_tables: Renames = None,
    rename_columns: Renames = None,
    values: Renames = None,
    exact_column_order: bool = False,
    sqlite_version: Optional[str] = None,
    deny_dangling_foreign_keys: bool = False,
    source_name: Optional[str] = None,
    ignore: Sequence[str] = (),
    keep_undeclared: bool = False,
    online: bool = False,
    online_chunk_ms: Optional[int] = None,
    online_pause_ms: Optional[int] = None,
) -> bool:
    """Whether ``conn``'s database already matches ``schema_sql`` (nothing to migrate); the
    options are :func:`plan`'s."""
    return plan(
        conn,
        schema_sql,
        allow_data_loss=allow_data_loss,
        rename_tables=rename_tables,
        rename_columns=rename_columns,
        values=values,
        exact_column_order=exact_column_order,
        sqlite_version=sqlite_version,
        deny_dangling_foreign_keys=deny_dangling_foreign_keys,
        source_name=source_name,
        ignore=ignore,
        keep_undeclared=keep_undeclared,
        online=online,
        online_chunk_ms=online_chunk_ms,
        online_pause_ms=online_pause_ms,
    ).in_sync


def diff(
    from_sql: str,
    to_sql: str,
    sqlite_version: Optional[str] = None,
    *,
    allow_data_loss: bool = False,
    rename_tables: Renames = None,
    rename_columns: Renames = None,
    values: Renames = None,
    exact_column_order: bool = False,
    source_name: Optional[str] = None,
    ignore: Sequence[str] = (),
    keep_undeclared: bool = False,
) -> Plan:
    """The migration from the schema ``from_sql`` to ``to_sql``, with no database: for
    generating migration files. ``diff(...).sql`` run on a database at ``from_sql`` yields
    ``to_sql``.

    Both schemas are loaded into in-memory databases of Python's ``sqlite3``; the plan is for
    its SQLite version, or for ``sqlite_version`` (``"3.40.1"``, ``"android-26"``,
    ``"ios-15"``: see :func:`sqlite_version_of`).
    """
    o = _options(
        allow_data_loss=allow_data_loss,
        rename_tables=rename_tables,
        rename_columns=rename_columns,
        values=values,
        exact_column_order=exact_column_order,
        sqlite_version=sqlite_version,
        source_name=source_name,
        ignore=ignore,
        keep_undeclared=keep_undeclared,
    )
    return Plan._from(_native.diff(from_sql, to_sql, o))


def sqlite_version_of(name: str) -> str:
    """The SQLite version a name stands for: ``"3.40.1"`` itself, or the SQLite a platform
    release ships (``"android-26"`` → ``"3.18.0"``, ``"ios-15"`` → ``"3.36.0"``)."""
    return _native.sqlite_version_of(name)
