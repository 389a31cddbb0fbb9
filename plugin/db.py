"""Engine, sessions and the declarative base.

Domain code takes a ``Session`` argument; web requests and tasks each open their own short
session through :class:`Database` — there is no global scoped session, so an in-process task
never shares a transaction with the request that queued it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import timezone
from typing import Any, NamedTuple

import psycopg
from psycopg.rows import namedtuple_row
from sqlalchemy import (
    BigInteger, ColumnElement, Connection, DateTime, Engine, Executable, MetaData, any_, bindparam, create_engine,
    event,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only auto-increments INTEGER PRIMARY KEY, so big ids are INTEGER there.
BigId = BigInteger().with_variant(sqlite.INTEGER(), "sqlite")


class UTCDateTime(TypeDecorator):
    """A timezone-aware UTC datetime on every backend (SQLite stores naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given; use plugin.clock.utcnow()")
        return value.astimezone(timezone.utc) if value is not None else None

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


# A connection back in the pool for less than this was working that long ago: the worker pings only
# connections idle for longer (see ``make_engine``).
PING_AFTER_IDLE_SECONDS = 1.0


def make_engine(url: str, pre_ping: bool = False, ping_after: float = PING_AFTER_IDLE_SECONDS,
                autocommit: bool = False) -> Engine:
    """The engine for ``url``. ``pre_ping`` tests a connection as it leaves the pool if it sat there
    longer than ``ping_after`` seconds (one round trip; a dead one is replaced before the task sees
    it): the worker wants it (a task on a dead connection would fail and wait for its retry) — but
    not before each of the ten-odd transactions a restock's first notice takes back to back, which
    SQLAlchemy's own ``pool_pre_ping`` would do; a connection the server closed within the last
    ``ping_after`` fails its task like a connection lost mid-transaction does, and the pool drops it.
    The web app does not ping at all — a request that meets a connection the server closed gets a
    disconnect error, answered 503 + Retry-After (``plugin._register_error_handlers``, Shopify
    redelivers), and SQLAlchemy then drops every pooled connection older than the error, so the
    next request connects afresh. ``autocommit``: every connection of the engine's pool is in
    autocommit mode from the start (each statement its own transaction)."""
    options = {"isolation_level": "AUTOCOMMIT"} if autocommit else {}
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **options)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    engine = create_engine(url, pool_size=5, max_overflow=10, **options)
    if pre_ping:
        _ping_when_idle(engine, ping_after)
    return engine


def _ping_when_idle(engine: Engine, ping_after: float) -> None:
    """SQLAlchemy's recipe for pessimistic disconnect handling (raise ``DisconnectionError`` on
    checkout: the pool discards the connection and checks out another), limited to connections
    that sat idle for longer than ``ping_after`` seconds; a new connection is not pinged."""

    @event.listens_for(engine, "checkin")
    def _idle_from(_dbapi_connection, record):
        if record is not None:
            record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping(dbapi_connection, record, _proxy):
        idle_since = record.info.pop("idle_since", None)
        if idle_since is None or time.monotonic() - idle_since <= ping_after:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)  # the dialect's own ping (psycopg: ";" in autocommit)
        except Exception as err:  # noqa: BLE001 — whatever broke it, this connection is done
            raise DisconnectionError(f"idle connection failed its ping: {type(err).__name__}") from err


class Database:
    """One engine and session factory per app, and a second engine for autocommit connections.

    The second engine's pool holds connections that are in autocommit mode for good: taking one
    sets nothing and giving it back resets nothing, where switching a pooled connection of the
    first engine to autocommit and back cost a one-statement request ~60 µs of CPU
    (bench/README.md). Neither opens a connection before one is asked for."""

    def __init__(self, url: str, pre_ping: bool = False):
        self.url = url
        self.engine = make_engine(url, pre_ping)
        self.autocommit_engine = make_engine(url, pre_ping, autocommit=True)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on error."""
        session = self.sessionmaker()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    @contextmanager
    def autocommit(self) -> Iterator[Connection]:
        """A connection where each statement is its own transaction: for a request whose whole
        write is one statement (durable when it returns; no BEGIN or COMMIT round trip), or whose
        reads need no transaction."""
        with self.autocommit_engine.connect() as connection:
            yield connection

    def dispose(self) -> None:
        self.engine.dispose()
        self.autocommit_engine.dispose()


def driver_sql(statement: Executable, *keys: str) -> str:
    """A Core ``statement`` as the SQL psycopg runs, ``%(key)s`` for each bound parameter: built once,
    for ``first_row``. ``keys``: an INSERT's columns given values (its other columns get defaults)."""
    return str(statement.compile(dialect=postgresql.psycopg.dialect(), column_keys=list(keys) or None))


def first_row(connection: Connection, sql: str, params: Mapping[str, Any]) -> NamedTuple | None:
    """The first row of ``sql`` (from ``driver_sql``), or None: run straight on the psycopg
    connection under ``connection``, an autocommit connection of PostgreSQL.

    For a hot path's one statement (a webhook's insert into the inbox, a sign-up): SQLAlchemy's
    execution — its context, result and type processing — cost ~100 µs of CPU per statement,
    as much as the round trip's own (bench/README.md). What is skipped with it: the engine's
    statement events, and bind processing (a datetime must be aware, as ``UTCDateTime`` asks).
    psycopg prepares the statement on the server once it has run five times on a connection.
    Errors come out as SQLAlchemy's: a lost connection is invalidated (the pool opens another),
    and ``OperationalError`` is answered 503 like any other."""
    driver = connection.connection.driver_connection
    try:
        with driver.cursor(row_factory=namedtuple_row) as cursor:
            cursor.execute(sql, params)
            return cursor.fetchone()
    except psycopg.Error as err:
        lost = driver.broken
        if lost:
            connection.invalidate(err)
        # No parameters in the error (a ciphertext, a hash): SQLAlchemy's text lists none then.
        raise DBAPIError.instance(sql, None, err, psycopg.Error, connection_invalidated=lost) from err


def insert_for(session: Session):
    """The dialect's INSERT construct (both offer ``on_conflict_do_nothing``)."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert
    return sqlite.insert


def ids_in(session: Session, column, ids) -> ColumnElement[bool]:
    """``column IN ids`` as ONE bind parameter on PostgreSQL (``= ANY(%s::BIGINT[])``): a batch of
    1,000 ids is then one short statement psycopg can prepare, not 1,000 placeholders that make
    every batch a new statement. SQLite has no arrays: a plain ``IN``."""
    ids = list(ids)
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, ids, type_=postgresql.ARRAY(BigInteger)))
    return column.in_(ids)


def ids_in_param(dialect: str, column, name: str) -> ColumnElement[bool]:
    """``ids_in`` for a statement built once: the ids are the bound parameter ``name``."""
    if dialect == "postgresql":
        return column == any_(bindparam(name, type_=postgresql.ARRAY(BigInteger)))
    return column.in_(bindparam(name, expanding=True))
