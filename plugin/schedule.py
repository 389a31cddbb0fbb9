"""The periodic jobs, in one table: Celery beat drives them in production, and ``backbell serve``
runs the same tasks from a thread when there is no Redis (the embedded default), so re-driving
the inbox, recovering stalled sends, reconciliation and pruning happen there too.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import timedelta

from plugin.logging import get_logger

log = get_logger(__name__)


@dataclass(frozen=True)
class Job:
    name: str
    task: str  # the Celery task name
    every: timedelta


JOBS = (
    Job("redrive-inbox", "backbell.redrive_inbox", timedelta(minutes=1)),
    Job("recover-stalled-dispatch", "backbell.recover_dispatch", timedelta(minutes=5)),
    Job("reconcile-inventory", "backbell.reconcile_all", timedelta(minutes=15)),
    Job("prune-history", "backbell.prune_history", timedelta(hours=24)),
    Job("sync-customers", "backbell.sync_customers", timedelta(minutes=15)),
    # Hourly: each shop's digest goes at the first run after it is due (daily or weekly).
    Job("send-digests", "backbell.send_digests", timedelta(hours=1)),
    # Held units past their end pass to the next in line within a minute; ended codes are deactivated.
    Job("offers-sweep", "backbell.offers_sweep", timedelta(minutes=1)),
)


def beat_schedule() -> dict:
    return {job.name: {"task": job.task, "schedule": job.every} for job in JOBS}


def run_job(celery, job: Job) -> None:
    """Run one job now, in this process; a failure is logged and never stops the others."""
    try:
        celery.tasks[job.task].apply(throw=True)
    except Exception as err:  # noqa: BLE001 — a scheduler keeps going
        log.warning("scheduled_job_failed", job=job.name, error=type(err).__name__)


class InProcessScheduler:
    """A daemon thread that runs each job when due (wall-clock intervals, first run after one
    interval), for the embedded default's single process."""

    def __init__(self, celery, jobs: tuple[Job, ...] = JOBS, tick_seconds: float = 5.0):
        self._celery, self._jobs, self._tick = celery, jobs, tick_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="backbell-scheduler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        due = {job.name: time.monotonic() + job.every.total_seconds() for job in self._jobs}
        while not self._stop.wait(self._tick):
            for job in self._jobs:
                if time.monotonic() >= due[job.name]:
                    run_job(self._celery, job)
                    due[job.name] = time.monotonic() + job.every.total_seconds()
