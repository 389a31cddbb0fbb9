"""A worker pool process's warm-up (``plugin.warm_up``), run by Celery's ``worker_process_init``: one
pooled connection per engine ready for the first task, and a database that is down skipped, not fatal."""

from __future__ import annotations

import re

import pytest
from celery.signals import worker_process_init
from sqlalchemy import event, text

from plugin import create_app
from plugin.warm_up import warm_up
from tests.doubles.worker import wait_for


def _idle(runtime) -> tuple[int, int]:
    return runtime.db.engine.pool.checkedin(), runtime.db.autocommit_engine.pool.checkedin()


def test_the_first_task_after_the_warm_up_finds_its_connections_open(runtime):
    # given a process that has connected nowhere yet
    assert _idle(runtime) == (0, 0)

    # when it warms up
    warm_up(runtime)

    # then each engine has a connection waiting, and the first statements open no new one
    assert _idle(runtime) == (1, 1)
    opened = []
    for engine in (runtime.db.engine, runtime.db.autocommit_engine):
        event.listen(engine, "connect", lambda *_: opened.append(1))
    with runtime.db.session() as session:
        assert session.execute(text("SELECT 1")).scalar_one() == 1
    with runtime.db.autocommit() as connection:
        assert connection.execute(text("SELECT 2")).scalar_one() == 2
    assert opened == []


def test_a_database_that_is_down_is_skipped_and_logged(app_config, capsys):
    # given a worker whose database refuses connections
    app = create_app({**app_config, "database_url": "postgresql+psycopg://backbell@127.0.0.1:9/down"})

    # when its pool process warms up
    warm_up(app.extensions["backbell"])

    # then it goes on (its tasks retry as always), saying so once
    err = capsys.readouterr().err
    assert err.count("event='warm_up_no_database'") == 1 and "error='OperationalError'" in err
    assert "event='worker_process_warmed' level='info' connected=False" in err


def test_each_pool_process_warms_up_as_it_starts(app, runtime):
    # given the worker's app (the default Celery app of this process, as in a pool process)
    assert _idle(runtime) == (0, 0)

    # when Celery announces a new pool process
    worker_process_init.send(sender="bbtest@host")

    # then that process warmed up
    assert _idle(runtime) == (1, 1)


@pytest.mark.worker
@pytest.mark.pg_only
def test_a_real_worker_warms_up_every_pool_process_before_its_first_task(celery_worker):
    # when a worker starts with Celery's prefork pool of two processes (``backbell worker``'s pool)
    celery_worker.stop()
    celery_worker.start(processes=2)

    # then each pool process — not the main process — warmed up and connected, with no task run
    lines = wait_for(lambda: _warmed(celery_worker.log_path) if len(_warmed(celery_worker.log_path)) == 2 else None,
                     timeout=30, worker=celery_worker)
    pids = {int(re.search(r"pid=(\d+)", line).group(1)) for line in lines}
    assert len(pids) == 2 and celery_worker.process.pid not in pids
    assert all("connected=True" in line for line in lines)
    assert "succeeded" not in celery_worker.log_path.read_text()


def _warmed(log_path) -> list[str]:
    return [line for line in log_path.read_text(errors="replace").splitlines() if "worker_process_warmed" in line]
