"""gunicorn settings for ``backbell serve --workers N`` (``gunicorn --config python:plugin.gunicorn_config``).

Each web worker loads the app after the fork (no ``--preload``), then warms up before it takes its
first request (``plugin.warm_up``: one connection per engine, the TLS context, the collector's
full walks spared the ~136,000 objects it holds for good) — as Celery's pool processes do.
"""

from __future__ import annotations

from plugin.warm_up import warm_up


def post_worker_init(worker) -> None:
    runtime = getattr(worker.wsgi, "extensions", {}).get("backbell")
    if runtime is not None:
        warm_up(runtime)
