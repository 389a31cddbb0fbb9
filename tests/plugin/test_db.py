"""The worker's engine pings a pooled connection only after it sat idle (``plugin.db.make_engine``); the
autocommit engine; statements on the driver (``plugin.db.first_row``)."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError

from plugin.db import first_row, make_engine
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


def test_a_statement_on_the_driver_fails_as_sqlalchemy_would_without_listing_its_parameters(database_url):
    # given an autocommit engine and a row the next insert collides with
    engine = make_engine(database_url, autocommit=True)
    with engine.connect() as connection:
        connection.exec_driver_sql("CREATE TEMPORARY TABLE driver_probe (k text PRIMARY KEY)")
        assert first_row(connection, "INSERT INTO driver_probe VALUES (%(k)s) RETURNING k", {"k": "k1"}).k \
            == "k1"
        # when the same key is inserted again on the driver
        with pytest.raises(IntegrityError) as raised:
            first_row(connection, "INSERT INTO driver_probe VALUES (%(k)s) RETURNING k", {"k": "k1"})
        # then the error is SQLAlchemy's (the app's handlers know it), its text does not list the
        # parameters (a ciphertext, a hash), and the connection is still usable: it was not lost
        assert "[parameters:" not in str(raised.value)
        assert not raised.value.connection_invalidated
        assert first_row(connection, "SELECT count(*) AS n FROM driver_probe", {}).n == 1
    engine.dispose()


def test_a_connection_lost_under_a_driver_statement_is_dropped_from_the_pool(database_url):
    # given an autocommit engine whose pooled connection the server ended (a restart or failover)
    engine = make_engine(database_url, autocommit=True)
    dead = _backend_pid(engine)
    _terminate(database_url, dead)
    # when a statement runs on it straight on the driver
    with pytest.raises(OperationalError) as raised, engine.connect() as connection:
        first_row(connection, "SELECT 1 AS one", {})
    # then it failed as SQLAlchemy's disconnect (answered 503) and the pool connects afresh
    assert raised.value.connection_invalidated
    assert _backend_pid(engine) != dead
    engine.dispose()


def test_an_autocommit_engine_commits_each_statement_without_a_transaction(database_url):
    # given the app's autocommit engine
    engine = make_engine(database_url, autocommit=True)
    with sql_log(engine) as sent, engine.connect() as connection:
        # when a statement runs
        in_transaction = connection.exec_driver_sql("SELECT now() <> statement_timestamp()").scalar_one()
    # then it ran outside any BEGIN … COMMIT (its statement time is its transaction's) and nothing was committed by us
    assert in_transaction is False
    assert (sent.statements, sent.commits) == (["SELECT now() <> statement_timestamp()"], 0)
    engine.dispose()
