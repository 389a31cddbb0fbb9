"""What an engine sent while a block ran (its SQL statements, connection checkouts and commits), and what psycopg sent."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import psycopg
from sqlalchemy import Engine, event


@dataclass
class SqlLog:
    statements: list[str] = field(default_factory=list)
    checkouts: int = 0
    commits: int = 0


@contextmanager
def sql_log(engine: Engine) -> Iterator[SqlLog]:
    log = SqlLog()

    def statement(_conn, _cursor, sql, *_args):
        log.statements.append(sql)

    def checkout(*_args):
        log.checkouts += 1

    def commit(*_args):
        log.commits += 1

    listeners = (("before_cursor_execute", statement), ("checkout", checkout), ("commit", commit))
    for name, listener in listeners:
        event.listen(engine, name, listener)
    try:
        yield log
    finally:
        for name, listener in listeners:
            event.remove(engine, name, listener)


@contextmanager
def driver_log() -> Iterator[list[str]]:
    """Every statement psycopg sent while a block ran, whoever sent it: SQLAlchemy, or our code
    on the driver itself (``plugin.db.first_row``), which the engine's events do not see."""
    sent: list[str] = []
    execute = psycopg.Cursor.execute

    def recording(cursor, query, *args, **kwargs):
        sent.append(query if isinstance(query, str) else repr(query))
        return execute(cursor, query, *args, **kwargs)

    psycopg.Cursor.execute = recording
    try:
        yield sent
    finally:
        psycopg.Cursor.execute = execute
