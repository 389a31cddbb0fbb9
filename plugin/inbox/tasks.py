"""Inbox tasks: thin wrappers taking an inbox row id (never a payload: nothing personal travels
through the broker)."""

from __future__ import annotations

from celery import shared_task
from flask import current_app

from plugin.inbox.processing import due_for_redrive, process_delivery
from plugin.logging import get_logger

log = get_logger(__name__)
# The name a message carries; the web view queues by it (``plugin.publisher``) without resolving the
# shared task's proxy on every request.
PROCESS_WEBHOOK = "backbell.process_webhook"


def _runtime():
    return current_app.extensions["backbell"]


@shared_task(name=PROCESS_WEBHOOK)
def process_webhook(inbox_id: int) -> None:
    """Handle one stored webhook, then dispatch the restocks it found right here (a hop through the
    broker would wait for a free worker process a second time: during another shop's fan-out, that
    is one more bulk batch). Never raises for a failing handler: the failure is kept on the row,
    which the re-drive queues again after its backoff. A dispatch that fails here goes through the
    broker instead (and the beat's ``recover_dispatch`` restarts any restock left pending)."""
    from plugin.dispatch.tasks import dispatch_restock

    for event_id in process_delivery(_runtime(), inbox_id):
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
