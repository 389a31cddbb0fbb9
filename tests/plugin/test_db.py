"""The worker's engine pings a pooled connection only after it sat idle (``plugin.db.make_engine``)."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from plugin.db import make_engine
from tests.sql_log import sql_log

pytestmark = pytest.mark.pg_only


def _backend_pid(engine) -> int:
    with engine.connect() as connection:
        return connection.execute(text("SELECT pg_backend_pid()")).scalar_one()


def _terminate(database_url: str, pid: int) -> None:
    with psycopg.connect(database_url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone() == (True,)


def _pings(engine) -> list[int]:
    """Counts the dialect's pings (psycopg's is an empty statement, sent by ``do_ping``)."""
    pings = [0]
    original = engine.dialect.do_ping

    def counted(dbapi_connection):
        pings[0] += 1
        return original(dbapi_connection)

    engine.dialect.do_ping = counted
    return pings


def test_a_connection_idle_longer_than_the_threshold_is_pinged_and_a_dead_one_replaced(database_url):
    # given a worker engine that pings any connection idle for more than 0 s, and its one pooled
    # connection ended by the server (a restart or failover)
    engine = make_engine(database_url, pre_ping=True, ping_after=0.0)
    pings = _pings(engine)
    dead = _backend_pid(engine)
    _terminate(database_url, dead)
    # when the next transaction checks out a connection
    fresh = _backend_pid(engine)
    # then the ping found the dead one and the pool gave a new connection: no error reached the caller
    assert pings[0] == 1
    assert fresh != dead
    engine.dispose()


def test_a_connection_back_in_the_pool_moments_ago_is_not_pinged(database_url):
    # given a worker engine with the default threshold and a connection just used
    engine = make_engine(database_url, pre_ping=True)
    pings = _pings(engine)
    with sql_log(engine) as sent:
        first = _backend_pid(engine)
        # when transactions follow each other back to back
        assert [_backend_pid(engine) for _ in range(5)] == [first] * 5
    # then none paid a ping round trip (the first, a new connection, needs none either)
    assert pings[0] == 0
    assert len(sent.statements) == 6
    engine.dispose()


def test_a_connection_the_server_ended_within_the_threshold_fails_once_then_the_pool_recovers(database_url):
    # given a worker engine (not pinging a connection used moments ago) whose pooled connection
    # the server ended just now
    engine = make_engine(database_url, pre_ping=True, ping_after=3600.0)
    dead = _backend_pid(engine)
    _terminate(database_url, dead)
    # when a transaction runs on it, it fails as a connection lost mid-transaction would
    with pytest.raises(OperationalError):
        _backend_pid(engine)
    # then the pool dropped it: the next transaction connects afresh
    assert _backend_pid(engine) != dead
    engine.dispose()


def test_the_web_engine_never_pings(database_url):
    # given the web app's engine (no pre_ping) and a connection idle "for long"
    engine = make_engine(database_url, ping_after=0.0)
    pings = _pings(engine)
    _backend_pid(engine)
    # when it is checked out again
    _backend_pid(engine)
    # then no ping was sent
    assert pings[0] == 0
    engine.dispose()
