"""The exceptions liteshift raises. Each message says what went wrong, where, and what to do.

Every exception is a :class:`LiteshiftError` with a stable machine-readable ``code``
(``"schema_error"``, ``"data_loss_refused"``, ...). A refusal (:class:`Refused` and its
subclasses) and every error before the migration's commit leave the database unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Optional, Tuple

__all__ = [
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


class LiteshiftError(Exception):
    """Base class of every liteshift error.

    ``code`` is stable across versions, and the same in every liteshift package:
    ``schema_error``, ``database_error``, ``sqlite_error``, ``data_loss_refused``,
    ``data_violates_schema``, ``in_transaction``, ``invalid_option``, ``stale_plan``,
    ``no_transaction``, ``verification_failed``, ``step_failed``.
    """

    code: str

    def __init__(self, message: str, details: Optional[Mapping[str, Any]] = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = (details or {}).get("code", "liteshift_error")

    def __str__(self) -> str:
        return self.message


class SchemaError(LiteshiftError, ValueError):
    """The declared schema is invalid (SQLite rejected it, or an annotation is wrong).

    ``line`` and ``column`` are 1-based positions in the schema text; ``source_name`` is the
    ``source_name`` given to the call (``"<schema>"`` by default).
    """

    line: int
    column: int
    source_name: str

    def __init__(self, message: str, details: Optional[Mapping[str, Any]] = None) -> None:
        super().__init__(message, details)
        details = details or {}
        self.line = details.get("line", 0)
        self.column = details.get("column", 0)
        self.source_name = details.get("source_name", "<schema>")


class Refused(LiteshiftError):
    """The migration was refused before it changed anything."""


class DataLossRefused(Refused):
    """The migration would lose data (drop a table or a column) and ``allow_data_loss`` is
    off. ``steps`` names each step that would lose data. Pass ``allow_data_loss=True``, or
    declare a rename (``rename_tables``/``rename_columns``) if it is one."""

    steps: Tuple[str, ...]

    def __init__(self, message: str, details: Optional[Mapping[str, Any]] = None) -> None:
        super().__init__(message, details)
        self.steps = tuple((details or {}).get("steps", ()))


@dataclass(frozen=True)
class Violation:
    """Existing rows that violate a declared constraint."""

    #: What is violated: ``NOT NULL``, ``CHECK (price > 0)``, ``UNIQUE (email)``, ``FOREIGN KEY``.
    constraint: str
    table: str
    column: Optional[str]
    #: How many rows violate it.
    count: int
    #: A few of them, as text (rowid and values).
    examples: Tuple[str, ...]

    def __str__(self) -> str:
        at = f"{self.table}.{self.column}" if self.column else self.table
        return f"{at}: {self.constraint}: {self.count} row(s), e.g. {', '.join(self.examples)}"


class DataViolatesSchema(Refused):
    """Existing rows violate the declared schema (a new NOT NULL, CHECK, UNIQUE, foreign key
    or type). ``violations`` names each ``table.column`` with counts and example rows. Fix or
    delete those rows, change the schema, or declare the value existing rows take
    (``values={"table.column": "EXPR"}``)."""

    violations: Tuple[Violation, ...]

    def __init__(self, message: str, details: Optional[Mapping[str, Any]] = None) -> None:
        super().__init__(message, details)
        self.violations = tuple(
            Violation(
                constraint=v["constraint"],
                table=v["table"],
                column=v["column"],
                count=v["count"],
                examples=tuple(v["examples"]),
            )
            for v in (details or {}).get("violations", ())
        )


class InTransaction(LiteshiftError):
    """The connection is inside a transaction, and the migration must switch foreign-key
    enforcement off first, which SQLite allows only outside one. Commit or roll back, then
    migrate."""


class InvalidOption(LiteshiftError, ValueError):
    """An option is malformed (a rename, a value, a SQLite version)."""


class DatabaseError(LiteshiftError):
    """The database cannot be used (locked, read-only, corrupt, full, ...), or SQLite failed.
    ``path`` is the database file when known."""

    path: Optional[str]

    def __init__(self, message: str, details: Optional[Mapping[str, Any]] = None) -> None:
        super().__init__(message, details)
        self.path = (details or {}).get("path")
