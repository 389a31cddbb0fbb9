"""gunicorn settings for the benchmarks: each worker notes when it has loaded the app.

Workers load the app after they fork (no ``--preload``), and Backbell's import takes seconds on
a loaded machine, while the master listens at once: without this, the first seconds of a round
measured the workers starting (and wrk's first requests timed out). ``bench.harness.gunicorn``
waits for one file per worker in ``BENCH_READY_DIR``.
"""

import os
from pathlib import Path


def post_worker_init(worker):
    folder = os.environ.get("BENCH_READY_DIR")
    if folder:
        (Path(folder) / f"ready-{worker.pid}").touch()
