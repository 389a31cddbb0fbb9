"""Dispatch tasks: thin wrappers over ``plugin.dispatch.plan`` / ``plugin.dispatch.delivery`` taking plain ids.

``dispatch_restock`` plans and enqueues one ``send_batch`` per channel; ``send_batch`` delivers
ONE batch and re-enqueues itself while rows remain, so every task stays short (``acks_late`` is
on and Redis redelivers unacked tasks). A batch with transient provider failures raises
``ProviderBusy``, which Celery retries with exponential backoff and full jitter
(``autoretry_for``/``retry_backoff``/``retry_jitter``); the rows carry the latest time that retry
can come (``retry_at``) so the beat's ``recover_dispatch`` does not start a second chain meanwhile.
In-process (no Redis) ``send_batch`` loops instead of recursing through eager calls.
"""

from __future__ import annotations

from datetime import timedelta
from functools import partial

from celery import shared_task
from celery.utils.time import get_exponential_backoff_interval
from flask import current_app
from sqlalchemy import select

from plugin.dispatch.channels import channel_for
from plugin.dispatch.delivery import ChannelSender, send_next_batch
from plugin.dispatch.plan import channels_with_pending, finish_if_done, open_batches, plan_restock, recover_stalled
from plugin.logging import get_logger
from plugin.models import RestockEvent
from plugin.offers.batch import prepare_batch

log = get_logger(__name__)

RETRY_BACKOFF_SECONDS = 10
RETRY_BACKOFF_MAX_SECONDS = 600
MAX_RETRIES = 6
# Bound on batches one in-process call sends (100,000 shoppers / 500 per outbox batch = 200).
IN_PROCESS_MAX_BATCHES = 10_000


class ProviderBusy(Exception):
    """Some notices of a batch failed transiently (429, 5xx, timeout); they are pending again."""


def _runtime():
    return current_app.extensions["backbell"]


def delivery_for(runtime, channel: str) -> ChannelSender:
    settings = runtime.settings
    return ChannelSender(channel=channel_for(settings, channel), vault=runtime.vault, app_url=settings.app_url,
                         link_secret=settings.link_secret,
                         lease_margin=timedelta(seconds=settings.dispatch_lease_margin_seconds),
                         prepare_offers=partial(prepare_batch, runtime))  # offers hook (plugin.offers)


def latest_retry(retries: int) -> timedelta:
    """The longest Celery's autoretry can wait before retry number ``retries + 1``: the same
    interval it computes, without the jitter (full jitter picks a time between 0 and this)."""
    return timedelta(seconds=get_exponential_backoff_interval(
        factor=RETRY_BACKOFF_SECONDS, retries=retries, maximum=RETRY_BACKOFF_MAX_SECONDS, full_jitter=False))


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


@shared_task(bind=True, name="backbell.send_batch", autoretry_for=(ProviderBusy,), retry_backoff=RETRY_BACKOFF_SECONDS,
             retry_backoff_max=RETRY_BACKOFF_MAX_SECONDS, retry_jitter=True, max_retries=MAX_RETRIES)
def send_batch(self, restock_event_id: int, channel: str) -> None:
    """Deliver one batch; re-enqueue while rows remain; transient failures retry the task.

    Once the retries are exhausted the rows stay pending and ``recover_dispatch`` restarts the
    chain after their ``retry_at``.
    """
    runtime = _runtime()
    delivery = delivery_for(runtime, channel)
    if runtime.settings.tasks_in_process:
        _drain_in_process(runtime, restock_event_id, channel, delivery)
        return
    outcome = send_next_batch(runtime.db, restock_event_id, channel, delivery,
                              retry_window=latest_retry(self.request.retries))
    if outcome.retrying:
        raise ProviderBusy(f"{outcome.retrying} notices of restock {restock_event_id} on {channel} failed transiently")
    if outcome.remaining:
        send_batch.delay(restock_event_id, channel)


def _drain_in_process(runtime, restock_event_id: int, channel: str, delivery: ChannelSender) -> None:
    for _ in range(IN_PROCESS_MAX_BATCHES):
        outcome = send_next_batch(runtime.db, restock_event_id, channel, delivery)
        if not outcome.remaining:
            return


@shared_task(name="backbell.recover_dispatch")
def recover_dispatch() -> None:
    """Beat: sort out rows whose lease ran out, then restart every event no chain looks after."""
    runtime = _runtime()
    with runtime.db.session() as session:
        recover_stalled(session)
        batches = open_batches(session)
        unplanned = list(session.scalars(select(RestockEvent.id).where(RestockEvent.status == "pending")))
    for event_id in unplanned:
        dispatch_restock.delay(event_id)
    for event_id, channel in batches:
        send_batch.delay(event_id, channel)
