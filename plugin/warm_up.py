"""A new worker process's one-time costs, paid as it starts instead of in its first task.

Celery's pool processes are forked from the worker's main process with the app built and nothing
connected. The first task a pool process ran — often a shop's first notice after a deploy — paid
on top of its own work: importing httpx's transport (httpcore, h11: ~20 ms), loading the CA bundle
into the TLS context (``plugin.tls``), connecting to PostgreSQL on both engines, and SQLAlchemy
configuring its mappers. ``warm_up`` does those once per process, at ``worker_process_init``
(``plugin.celery_app``).

Then it freezes what the process holds (``gc.freeze``): the app, the libraries, the mappers —
~136,000 objects that live as long as the process. Python's full collection walked all of them
whenever enough new objects had survived: ~60 ms in one go, in the middle of whatever task was
running (a first notice, say). Frozen objects are never collected nor walked again; what tasks
allocate afterwards is collected as always.

It keeps nothing open that could go stale unnoticed: a pooled connection idle for more than a
second is pinged when a task takes it (``plugin.db.make_engine``). A database that is down only
skips the connections (logged); the tasks retry as always.
"""

from __future__ import annotations

import gc
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
            with engine.connect():
                pass  # the connection goes back to the pool, ready for the first task
        connected = True
    except SQLAlchemyError as err:
        log.warning("warm_up_no_database", error=type(err).__name__)
        connected = False
    gc.collect()  # what start-up left as garbage is not kept for good
    gc.freeze()
    log.info("worker_process_warmed", pid=os.getpid(), connected=connected, frozen_objects=gc.get_freeze_count(),
             ms=round((time.perf_counter() - started) * 1000, 1))
