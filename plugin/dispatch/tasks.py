"""Dispatch tasks: thin wrappers over ``plugin.dispatch.plan`` / ``plugin.dispatch.delivery`` /
``plugin.dispatch.due`` taking plain ids.

``dispatch_restock`` reads the VIP tags it needs, plans the first batch, sends each channel's
first batch itself (one hop less between the webhook and the first mail) and starts the send
chains for the rest; ``release_due`` (every minute, from the job table) plans whatever came due —
held notices, the next batch, ETA notices, reminders — and starts their sends; ``send_batch``
delivers ONE batch and re-enqueues itself while rows remain, so every task stays short
(``acks_late`` is on and Redis redelivers unacked tasks). A batch with transient provider
failures is tried again after an exponential backoff with full jitter
(``BACKBELL_DISPATCH_RETRY_BACKOFF`` doubling, at most ``RETRY_BACKOFF_MAX_SECONDS``), and never
before a 429's own wait: a Celery retry (``ProviderBusy`` once ``MAX_RETRIES`` batches in a row
sent nothing), or a fresh link of the chain when the batch got some notices through. The rows
carry the latest time that retry can come (``retry_at``) so the beat's ``recover_dispatch`` does
not start a second chain meanwhile.
In-process (no Redis) ``send_batch`` loops instead of recursing through eager calls.

Parallel and fair: a restock with more than one batch left gets ``dispatch_chains`` send chains
per channel (one per worker process), which claim disjoint batches (``plan.claim_batch``: a
claim token per batch, ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, a status guard on SQLite), so
the exactly-once rules of ``plugin.dispatch.plan`` hold per batch whatever chain sends it. A chain's
first task goes on the default queue with everything else that should happen soon; each batch after
it on the bulk queue (``plugin.celery_app.BULK_QUEUE``), which workers read only when the default
queue is empty — so another shop's first notice waits for a running batch at most, never for a
big fan-out's queued ones.
"""

from __future__ import annotations

import random
from datetime import timedelta
from functools import partial

from celery import shared_task
from flask import current_app
from sqlalchemy import select

from plugin.celery_app import BULK_QUEUE
from plugin.clock import utcnow
from plugin.dispatch.channels import channel_for
from plugin.dispatch.delivery import ChannelSender, claim_next_batch, pending_batches, send_next_batch, shop_of_event
from plugin.dispatch.due import run_due_work
from plugin.dispatch.pauses import pauses_for
from plugin.dispatch.plan import channels_with_pending, finish_if_done, open_batches, plan_restock, recover_stalled
from plugin.dispatch.turns import bulk_turns_for
from plugin.dispatch.vip import reads_customers, refresh_customer_tags
from plugin.logging import get_logger
from plugin.models import RestockEvent, Shop
from plugin.offers.batch import prepare_batch
from plugin.priority import run_at_low_priority

log = get_logger(__name__)

RETRY_BACKOFF_MAX_SECONDS = 600
# A restock's first batch (sent at the normal priority, on the default queue) holds at most this
# many notices: the first in line are told sooner, and the bulk of a big restock (recording
# included) is left to the low-priority chains, so it weighs least on other shops' first notices.
FIRST_BATCH = 100
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
                         prepare_offers=partial(prepare_batch, runtime),  # offers hook (plugin.offers)
                         pauses=pauses_for(settings.redis_url))


def latest_retry(retries: int, factor: float) -> timedelta:
    """The longest the retry after ``retries`` earlier ones can wait: ``factor`` doubled per retry,
    capped (full jitter then picks a time between 0 and this)."""
    return timedelta(seconds=min(RETRY_BACKOFF_MAX_SECONDS, factor * 2 ** retries))


@shared_task(name="backbell.dispatch_restock")
def dispatch_restock(restock_event_id: int) -> None:
    """Plan the restock's first batch (idempotent), send each channel's first batch, then start
    the send chains for the rest."""
    runtime = _runtime()
    first = None  # the first channel's first batch, claimed in the transaction that plans it
    in_process = runtime.settings.tasks_in_process
    with runtime.db.session() as session:
        event = session.get(RestockEvent, restock_event_id)
        if event is None:
            log.warning("dispatch_unknown_event", restock_event_id=restock_event_id)
            return
        shop = session.get(Shop, event.shop_id)  # held: the session's identity map keeps it for the plan
        turns = None if in_process else bulk_turns_for(runtime.settings.redis_url)
        if turns is not None:  # other shops' fan-outs take turns meanwhile (plugin.dispatch.turns)
            turns.restocking(event.shop_id)
        # Most shops: planned right here, in the transaction that read the event.
        channels = None if reads_customers(shop) else _plan(session, event, [])
        if channels and not in_process:  # one transaction (and its reads) less before the first mail
            first = claim_next_batch(session, restock_event_id, channels[0],
                                     delivery_for(runtime, channels[0]), most=FIRST_BATCH)
    if channels is None:
        # Before the plan's transaction: nothing is locked while Shopify is asked for customer tags.
        unreadable = refresh_customer_tags(runtime, restock_event_id)
        with runtime.db.session() as session:
            event = session.get(RestockEvent, restock_event_id)
            channels = _plan(session, event, unreadable) if event is not None else []  # purged meanwhile
    for channel in channels:  # after the commit: the worker must see the planned rows
        if in_process:
            send_batch.delay(restock_event_id, channel)
            continue
        # The rest is bulk, behind every other shop's first batch. This first batch counts as one
        # of the restock's ``dispatch_chains``: the others start as soon as it is claimed (they run
        # while it is at the provider), the last when it is done — so a big restock never holds
        # more processes than that, and another shop's webhook finds one free.
        chains = runtime.settings.dispatch_chains
        started = []
        latest = latest_retry(0, runtime.settings.dispatch_retry_backoff_seconds)
        outcome = send_next_batch(
            runtime.db, restock_event_id, channel, delivery_for(runtime, channel), retry_window=latest,
            on_claimed=lambda full: started.append(  # a claim short of FIRST_BATCH left nothing for a chain
                start_chains(runtime, restock_event_id, channel, queue=BULK_QUEUE, most=chains - 1) if full else 0),
            most=FIRST_BATCH, claimed=first if channel == channels[0] else None)
        if outcome.retrying:  # the first batch's retry, as send_batch's own would come: never before a 429's wait
            countdown = max(random.uniform(0, latest.total_seconds()), outcome.retry_after or 0)
            send_batch.apply_async((restock_event_id, channel), countdown=countdown)
        elif outcome.remaining:  # this batch's chain goes on (or, if rows came back and none started, walks them)
            start_chains(runtime, restock_event_id, channel, queue=BULK_QUEUE, most=chains - sum(started))


def _plan(session, event: RestockEvent, unreadable: list[int]) -> list[str]:
    """Plan the first batch; the channels with notices to send (none: the event is finished here)."""
    plan_restock(session, event, unreadable)
    channels = channels_with_pending(session, event.id)
    if not channels:  # nobody left to tell: no send chain will finish the event
        finish_if_done(session, event.id)
    return channels


def start_chains(runtime, restock_event_id: int | None, channel: str, queue: str | None = None,
                 most: int | None = None) -> int:
    """Start as many send chains as there are batches left, up to ``most`` (default
    ``dispatch_chains``); returns how many."""
    most = runtime.settings.dispatch_chains if most is None else most
    if most < 1:
        return 0
    with runtime.db.session() as session:
        batches = pending_batches(session, restock_event_id, channel, channel_for(runtime.settings, channel).max_batch,
                                  most)
    for _ in range(batches):
        send_batch.apply_async((restock_event_id, channel), queue=queue)
    return batches


@shared_task(bind=True, name="backbell.send_batch", max_retries=MAX_RETRIES)
def send_batch(self, restock_event_id: int | None, channel: str) -> None:
    """Deliver one batch of the restock's notices (``None``: of the notices of no restock — eta,
    confirm); re-enqueue on the bulk queue while sendable rows remain; transient failures retry
    the task.

    Once the retries are exhausted the rows stay pending and ``recover_dispatch`` restarts the
    chain after their ``retry_at``.
    """
    runtime = _runtime()
    delivery = delivery_for(runtime, channel)
    if runtime.settings.tasks_in_process:
        _drain_in_process(runtime, restock_event_id, channel, delivery)
        return
    latest = latest_retry(self.request.retries, runtime.settings.dispatch_retry_backoff_seconds)
    # A bulk batch gives way on the CPU to webhooks and first notices (plugin.priority), and takes
    # turns with the other bulk batches while other shops are restocking (plugin.dispatch.turns).
    bulk = (self.request.delivery_info or {}).get("routing_key") == BULK_QUEUE
    work = partial(send_next_batch, runtime.db, restock_event_id, channel, delivery, retry_window=latest)
    turns = bulk_turns_for(runtime.settings.redis_url) if bulk else None
    if turns is not None:
        work = partial(turns.run, work, partial(shop_of_event, runtime.db, restock_event_id))
    outcome = (run_at_low_priority if bulk else _now)(work)
    if outcome.retrying:
        # Full jitter, but never before the provider's own wait (the rows' retry_at covers both).
        countdown = max(random.uniform(0, latest.total_seconds()), outcome.retry_after or 0)
        if outcome.sent:  # progress: a fresh link of the chain, its retries counted from zero
            send_batch.apply_async((restock_event_id, channel), countdown=countdown)
            return
        raise self.retry(countdown=countdown, exc=ProviderBusy(
            f"{outcome.retrying} notices of restock {restock_event_id} on {channel} failed transiently"))
    if outcome.remaining:
        send_batch.apply_async((restock_event_id, channel), queue=BULK_QUEUE)


def _now(work, *args, **kwargs):
    return work(*args, **kwargs)


def _drain_in_process(runtime, restock_event_id: int | None, channel: str, delivery: ChannelSender) -> None:
    for _ in range(IN_PROCESS_MAX_BATCHES):
        outcome = send_next_batch(runtime.db, restock_event_id, channel, delivery)
        if outcome.retry_after is not None:
            # The provider asked us to wait (429): no sleeping here; the rows' retry_at holds the
            # wait and the in-process scheduler's recover_dispatch goes on after it.
            return
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
        _start(runtime, event_id, channel)


@shared_task(name="backbell.release_due")
def release_due() -> None:
    """Every minute: plan what came due (``plugin.dispatch.due``), then queue its sends."""
    runtime = _runtime()
    work = run_due_work(runtime, utcnow())
    for event_id in work.restocks:
        dispatch_restock.delay(event_id)
    for event_id, channel in sorted(work.chains, key=lambda chain: (chain[0] is None, chain[0] or 0, chain[1])):
        _start(runtime, event_id, channel)


def _start(runtime, event_id: int | None, channel: str) -> None:
    # In-process one call drains everything; with a broker, parallel chains.
    if runtime.settings.tasks_in_process:
        send_batch.delay(event_id, channel)
    else:
        start_chains(runtime, event_id, channel)
