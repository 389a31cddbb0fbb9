"""The job table: Celery beat's schedule and the in-process scheduler of `backbell serve` run the
same tasks."""

from __future__ import annotations

import json
import time
from datetime import timedelta

from sqlalchemy import select

from plugin import clock
from plugin.inbox import deliveries
from plugin.models import InboxDelivery, Shop
from plugin.schedule import JOBS, InProcessScheduler, Job, beat_schedule
from tests.webhooks.delivery import DEMO_SHOP


def test_beat_runs_every_job_of_the_table(app):
    # given / when
    schedule = app.extensions["celery"].conf.beat_schedule
    # then
    assert schedule == beat_schedule()
    assert {entry["task"] for entry in schedule.values()} == {job.task for job in JOBS}
    assert all(job.task in app.extensions["celery"].tasks for job in JOBS)


def test_the_in_process_scheduler_redrives_a_stranded_webhook(app, runtime, session):
    # given an installed shop and an uninstall whose task was lost, its lease long over
    session.add(Shop(domain=DEMO_SHOP, name="Demo", settings={}, access_token="ciphertext"))
    session.commit()
    with clock.travel(-timedelta(hours=1)), runtime.db.session() as s:
        deliveries.accept(s, runtime.vault, webhook_id="lost", shop_domain=DEMO_SHOP, topic="app/uninstalled",
                          body=json.dumps({"myshopify_domain": DEMO_SHOP}), triggered_at=None)
    # when the scheduler of a process without Redis ticks past the job's interval
    job = next(j for j in JOBS if j.task == "backbell.redrive_inbox")
    scheduler = InProcessScheduler(app.extensions["celery"], (Job(job.name, job.task, timedelta(seconds=0.2)),),
                                   tick_seconds=0.05)
    scheduler.start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not _processed(session):
        time.sleep(0.05)
    scheduler.stop()
    # then the delivery was handled by the scheduled re-drive
    assert _processed(session)
    assert session.scalar(select(Shop.uninstalled_at)) is not None


def _processed(session) -> bool:
    session.expire_all()
    return session.scalar(select(InboxDelivery.processed_at)) is not None
