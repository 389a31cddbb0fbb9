"""A restock's batches sent in parallel by every worker process, and other shops' first batches
ahead of a big fan-out's queued ones — real Celery workers on Redis, the SendGrid double."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest

from plugin.celery_app import BULK_QUEUE
from plugin.dispatch.plan import plan_restock
from plugin.dispatch.tasks import dispatch_restock, send_batch
from plugin.priority import BULK_NICENESS
from tests.dispatch.builders import make_event, make_shop, make_variant, subscribe_many
from tests.dispatch.test_worker_dispatch import _event_status, _seed, _statuses
from tests.doubles.worker import wait_for

pytestmark = [pytest.mark.worker, pytest.mark.pg_only]


def test_two_worker_processes_send_one_restocks_batches_at_the_same_time_and_each_shopper_once(
        sendgrid, celery_worker, app, runtime, session):
    # given 3,000 waiting shoppers (the restock's first batch of 100, then batches of 1,000), a
    # worker with two processes and a provider that takes three seconds to answer each request (more
    # than a loaded machine spends on a batch's own work, so the two chains meet at the provider)
    event_id, emails = _seed(session, runtime, 3000)
    celery_worker.stop()
    celery_worker.start(processes=2)
    sendgrid.delay_seconds = 3.0

    # when
    with app.app_context():
        dispatch_restock.delay(event_id)
    wait_for(lambda: _event_status(runtime, event_id) == "done", timeout=90, worker=celery_worker)

    # then two batches were at the provider at once, and nobody was told twice or left out
    assert sendgrid.most_held == 2
    assert [len(r["body"]["personalizations"]) for r in sendgrid.requests][0] == 100
    assert len(sendgrid.requests) == 4
    assert Counter(sendgrid.recipients()) == Counter(emails)
    assert _statuses(runtime, event_id) == {"sent": 3000}


def _shop_of(request: dict) -> int:
    return int(request["body"]["personalizations"][0]["custom_args"]["shop_id"])


def test_small_shops_first_batches_go_ahead_of_a_big_shops_queued_batches(
        sendgrid, celery_worker, app, runtime, session):
    # given a big shop's fan-out with three batches queued on the bulk queue (its chains), and —
    # queued after them — the restocks of three small shops, while no worker runs
    celery_worker.stop()
    big = make_shop(session, domain="big-fan-out.myshopify.com", settings={"batch_per_unit": None})
    make_variant(session, big, available=10)
    subscribe_many(session, runtime.vault, big, 3000)
    big_event = make_event(session, big, available=10)
    plan_restock(session, big_event)
    small_events = []
    for n in range(3):
        shop = make_shop(session, domain=f"small-{n}.myshopify.com", settings={"batch_per_unit": None})
        make_variant(session, shop, available=10)
        subscribe_many(session, runtime.vault, shop, 2)
        small_events.append((shop.id, make_event(session, shop, available=10).id))
    session.commit()
    with app.app_context():
        for _ in range(3):
            send_batch.apply_async((big_event.id, "email"), queue=BULK_QUEUE)
        for _, event_id in small_events:
            dispatch_restock.delay(event_id)

    # when one worker process takes them one at a time
    celery_worker.start()
    wait_for(lambda: all(_event_status(runtime, e) == "done" for e in [big_event.id, *(e for _, e in small_events)]),
             timeout=90, worker=celery_worker)

    # then every small shop's mail went before any of the big shop's batches
    order = [_shop_of(r) for r in sendgrid.requests]
    assert order == [shop_id for shop_id, _ in small_events] + [big.id] * 3
    assert _statuses(runtime, big_event.id) == {"sent": 3000}


def test_a_big_restock_holds_at_most_its_chains_so_another_shops_first_mail_finds_a_free_process(
        sendgrid, celery_worker, app, runtime, session, worker_turns):
    # given a big shop's 6,000 waiting shoppers (six batches), a worker with three processes (one
    # more than the two send chains, as `backbell worker` runs by default) and a provider that
    # takes three seconds to answer each request (more than a loaded machine spends on a batch's own
    # work, so the two chains meet at the provider)
    big_event, _ = _seed(session, runtime, 6000)
    small = make_shop(session, domain="small-shop.myshopify.com", settings={"batch_per_unit": None})
    make_variant(session, small, available=10)
    subscribe_many(session, runtime.vault, small, 2)
    small_event = make_event(session, small, available=10).id
    session.commit()
    celery_worker.stop()
    celery_worker.start(processes=3)
    sendgrid.delay_seconds = 3.0
    # and no other shop restocking just now (``worker_turns``: that narrows a fan-out to one batch at a time)

    # when the big restock is under way: three of its batches have reached the provider (the
    # double records a request as it arrives)
    with app.app_context():
        dispatch_restock.delay(big_event)
    wait_for(lambda: len(sendgrid.requests) >= 3, timeout=30, worker=celery_worker)

    # then it never had more than its two chains' batches at the provider at once
    assert sendgrid.most_held == 2

    # when another shop restocks meanwhile
    with app.app_context():
        dispatch_restock.delay(small_event)
    wait_for(lambda: all(_event_status(runtime, e) == "done" for e in (big_event, small_event)), timeout=90,
             worker=celery_worker)

    # then its mail went out while the big fan-out was still sending (two batches at a time, three
    # seconds each: it had at least two more rounds to go), and each shopper was told once
    order = [_shop_of(r) for r in sendgrid.requests]
    assert order.index(small.id) < len(order) - 2
    assert sendgrid.most_held <= 3
    assert _statuses(runtime, big_event) == {"sent": 6000}
    assert _statuses(runtime, small_event) == {"sent": 2}
    # and the bulk batches ran on low-priority threads of the pool's processes (plugin.priority),
    # while every process's own thread kept the worker's priority
    base = os.getpriority(os.PRIO_PROCESS, celery_worker.process.pid)
    threads = _threads_of_session(celery_worker.process.pid)
    assert min(19, base + BULK_NICENESS) in {nice for _, _, nice in threads}
    assert {nice for pid, tid, nice in threads if pid == tid} == {base}


def _threads_of_session(session: int) -> list[tuple[int, int, int]]:
    """(process, thread, nice) of every thread of every process in the session (the worker was
    started in its own): /proc/<pid>/task/<tid>/stat, fields after the command name."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if int((proc / "stat").read_text().rpartition(")")[2].split()[3]) != session:
                continue
            for task in (proc / "task").iterdir():
                fields = (task / "stat").read_text().rpartition(")")[2].split()
                found.append((int(proc.name), int(task.name), int(fields[16])))
        except (FileNotFoundError, ProcessLookupError):
            continue
    return found
