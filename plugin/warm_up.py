"""A new worker process's one-time costs, paid as it starts instead of in its first task.

Celery's pool processes are forked from the worker's main process with the app built and nothing
connected. The first task a pool process ran — often a shop's first notice after a deploy — paid
on top of its own work: importing httpx's transport (httpcore, h11: ~20 ms), loading the CA bundle
into the TLS context (``plugin.tls``), connecting to PostgreSQL on both engines, and SQLAlchemy
configuring its mappers. ``warm_up`` does those once per process, at ``worker_process_init``
(``plugin.celery_app``).

Only the worker warms up. Freezing what a process holds out of the collector (``gc.freeze``)
and warming gunicorn's web workers the same way were tried and left out: neither changed the
benchmarks measurably except for the worse (bench/README.md, "Warming up").

It keeps nothing open that could go stale unnoticed: a pooled connection idle for more than a
second is pinged when a task takes it (``plugin.db.make_engine``). A database that is down only
skips the connections (logged); the tasks retry as always.
"""

from __future__ import annotations

import os
import time

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import configure_mappers

from plugin.logging import get_logger
from plugin.shopify.http import shopify_http_client
from plugin.tls import tls_context

log = get_logger(__name__)


def warm_up(runtime) -> None:
    started = time.perf_counter()
    tls_context()
    shopify_http_client(runtime.settings).close()  # builds a transport: httpcore's imports
    configure_mappers()
    try:
        for engine in (runtime.db.engine, runtime.db.autocommit_engine):
            engine.connect().close()  # back to the pool, open, for the first task
        connected = True
    except SQLAlchemyError as err:
        log.warning("warm_up_no_database", error=type(err).__name__)
        connected = False
    log.info("worker_process_warmed", pid=os.getpid(), connected=connected,
             ms=round((time.perf_counter() - started) * 1000, 1))
