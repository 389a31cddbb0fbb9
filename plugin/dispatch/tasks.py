"""Dispatch tasks: thin wrappers over ``plugin.dispatch.plan`` / ``plugin.dispatch.delivery`` taking plain ids.

``dispatch_restock`` plans and enqueues one ``send_batch`` per channel; ``send_batch`` delivers
ONE batch and re-enqueues itself while rows remain, so every task stays short (``acks_late`` is
on and Redis redelivers unacked tasks). Transient provider errors are retried with exponential
backoff. In-process (no Redis) ``send_batch`` loops instead of recursing through eager calls.
"""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from celery.exceptions import MaxRetriesExceededError
from flask import current_app
from sqlalchemy import select

from plugin.dispatch.channels import channel_for
from plugin.dispatch.delivery import ChannelSender, send_next_batch
from plugin.dispatch.plan import (
    LEASE, channels_with_pending, finish_if_done, open_batches, plan_restock, recover_stalled,
)
from plugin.logging import get_logger
from plugin.models import RestockEvent

log = get_logger(__name__)

BACKOFF_BASE_SECONDS = 10
BACKOFF_MAX_SECONDS = 600
MAX_RETRIES = 6
# Bound on batches one in-process call sends (100,000 shoppers / 500 per outbox batch = 200).
IN_PROCESS_MAX_BATCHES = 10_000


def _runtime():
    return current_app.extensions["backbell"]


def delivery_for(runtime, channel: str) -> ChannelSender:
    settings = runtime.settings
    return ChannelSender(channel=channel_for(settings, channel), vault=runtime.vault, app_url=settings.app_url,
                    secret=settings.shopify_api_secret)


def backoff_seconds(retries: int) -> int:
    return min(BACKOFF_BASE_SECONDS * 2**retries, BACKOFF_MAX_SECONDS)


@shared_task(name="backbell.dispatch_restock")
def dispatch_restock(restock_event_id: int) -> None:
    """Plan the restock's notices (idempotent), then start one send chain per channel."""
    runtime = _runtime()
    with runtime.db.session() as session:
        event = session.get(RestockEvent, restock_event_id)
        if event is None:
            log.warning("dispatch_unknown_event", restock_event_id=restock_event_id)
            return
        plan_restock(session, event)
        channels = channels_with_pending(session, restock_event_id)
        if not channels:  # nobody left to tell: no send chain will finish the event
            finish_if_done(session, restock_event_id)
    for channel in channels:  # after the commit: the worker must see the planned rows
        send_batch.delay(restock_event_id, channel)


@shared_task(bind=True, name="backbell.send_batch", max_retries=MAX_RETRIES)
def send_batch(self, restock_event_id: int, channel: str) -> None:
    """Deliver one batch; re-enqueue while rows remain; back off after transient errors."""
    runtime = _runtime()
    delivery = delivery_for(runtime, channel)
    if runtime.settings.tasks_in_process:
        _drain_in_process(runtime, restock_event_id, channel, delivery)
        return
    outcome = send_next_batch(runtime.db, restock_event_id, channel, delivery)
    if outcome.retrying:
        try:
            raise self.retry(countdown=backoff_seconds(self.request.retries))
        except MaxRetriesExceededError:
            # The rows stay pending; recover_dispatch picks the event up again later.
            log.warning("dispatch_retries_exhausted", restock_event_id=restock_event_id, channel=channel)
            return
    if outcome.remaining:
        send_batch.delay(restock_event_id, channel)


def _drain_in_process(runtime, restock_event_id: int, channel: str, delivery: ChannelSender) -> None:
    for _ in range(IN_PROCESS_MAX_BATCHES):
        outcome = send_next_batch(runtime.db, restock_event_id, channel, delivery)
        if not outcome.remaining:
            return


@shared_task(name="backbell.recover_dispatch")
def recover_dispatch(lease_seconds: int | None = None) -> None:
    """Beat: sort out rows stuck in ``sending``, then restart every event that has pending rows."""
    runtime = _runtime()
    lease = LEASE if lease_seconds is None else timedelta(seconds=lease_seconds)
    with runtime.db.session() as session:
        recover_stalled(session, lease)
        batches = open_batches(session)
        unplanned = list(session.scalars(select(RestockEvent.id).where(RestockEvent.status == "pending")))
    for event_id in unplanned:
        dispatch_restock.delay(event_id)
    for event_id, channel in batches:
        send_batch.delay(event_id, channel)
