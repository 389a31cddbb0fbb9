"""Inbox tasks: thin wrappers taking an inbox row id or nothing (never a payload: nothing personal
travels through the broker).

How a stored webhook reaches a worker (``queue_delivery``): not one message per webhook, but one
``drain_inbox`` per burst. The web view sets a flag on the broker's Redis (``SET … NX EX``) and
queues a drain only when it set it; the drain clears the flag first thing, then claims the new
rows. Why no row is missed: a webhook whose SET found the flag standing had committed its row
before, and the flag was still there, so the drain that clears it claims after that commit and
sees the row. A drain that is lost (task gone, Redis flushed, worker killed) leaves its rows to the
re-drive after their lease, as a lost ``process_webhook`` always has; its flag lasts
``DRAIN_PENDING_TTL`` at most.
"""

from __future__ import annotations

from celery import shared_task
from flask import current_app

from plugin.inbox.deliveries import DRAIN_BATCH
from plugin.inbox.processing import claim_new_deliveries, due_for_redrive, handle_claimed, process_delivery
from plugin.logging import get_logger
from plugin.publisher import TaskPublisher

log = get_logger(__name__)
# The names a message carries; the web view queues by them (``plugin.publisher``) without resolving
# the shared task's proxy on every request.
PROCESS_WEBHOOK = "backbell.process_webhook"
DRAIN_INBOX = "backbell.drain_inbox"
# "A drain is queued and has not started." Its lifetime bounds how long a lost drain holds back the
# next one (rows stored meanwhile wait for that one or for the re-drive); a drain normally starts,
# and clears it, within milliseconds — expiring under a long queue only costs an extra drain.
DRAIN_PENDING = "backbell:inbox:drain-pending"
DRAIN_PENDING_TTL = 10  # seconds


def _runtime():
    return current_app.extensions["backbell"]


def queue_delivery(publisher: TaskPublisher, inbox_id: int) -> None:
    """Have a stored webhook handled: a drain unless one is queued already; with tasks in-process,
    this row's task, here and now. Raises the broker's errors (the row waits for the re-drive)."""
    if publisher.in_process:
        publisher.send(PROCESS_WEBHOOK, inbox_id)
    else:
        publisher.send_unless_pending(DRAIN_PENDING, DRAIN_PENDING_TTL, DRAIN_INBOX)


@shared_task(name=DRAIN_INBOX)
def drain_inbox() -> None:
    """Handle the new inbox rows, oldest first, a batch per task: clear the pending flag, claim a
    batch, and when it is full queue another drain before working through it — so a burst is
    shared by the worker's free processes while this one handles its rows (and a row's restocks,
    as ``process_webhook`` does)."""
    current_app.extensions["task_publisher"].clear_pending(DRAIN_PENDING)
    runtime = _runtime()
    claimed = claim_new_deliveries(runtime)
    if claimed:
        log.info("inbox_claimed", count=len(claimed), webhook_ids=[row.webhook_id for row in claimed])
    if len(claimed) == DRAIN_BATCH:
        drain_inbox.delay()
    for row in claimed:
        _dispatch_here(handle_claimed(runtime, row))


@shared_task(name=PROCESS_WEBHOOK)
def process_webhook(inbox_id: int) -> None:
    """Handle one stored webhook (the re-drive's way, and in-process), then dispatch the restocks
    it found right here. Never raises for a failing handler: the failure is kept on the row, which
    the re-drive queues again after its backoff."""
    _dispatch_here(process_delivery(_runtime(), inbox_id))


def _dispatch_here(event_ids: list[int]) -> None:
    """Dispatch a handled row's restocks in this task (a hop through the broker would wait for a
    free worker process a second time: during another shop's fan-out, that is one more bulk batch).
    A dispatch that fails here goes through the broker instead (and the beat's ``recover_dispatch``
    restarts any restock left pending)."""
    from plugin.dispatch.tasks import dispatch_restock

    for event_id in event_ids:
        try:
            dispatch_restock(event_id)
        except Exception as err:  # noqa: BLE001 — the restock stays pending; queue it on its own
            log.warning("dispatch_inline_failed", restock_event_id=event_id, error=type(err).__name__)
            dispatch_restock.delay(event_id)


@shared_task(name="backbell.redrive_inbox")
def redrive_inbox() -> None:
    """Beat: queue again every unhandled delivery whose lease is over (lost, failed or overdue)."""
    inbox_ids = due_for_redrive(_runtime())
    for inbox_id in inbox_ids:
        process_webhook.delay(inbox_id)
    if inbox_ids:
        log.info("inbox_redriven", count=len(inbox_ids))
