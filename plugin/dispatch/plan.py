"""Dispatch a restock: plan the outbox rows, claim them in batches, hand batches to a channel.

Planning is one set-based ``INSERT … SELECT … ON CONFLICT DO NOTHING`` into ``notifications``
(the outbox) per batch of shoppers (``plugin.dispatch.waves``: sized by the stock, VIPs first), so
100,000 waiting shoppers cost one statement and constant memory, and planning twice adds nothing.
ChannelSender then walks the outbox a send batch at a time (``plugin.dispatch.delivery``); rows
held by quiet hours (``due_at``) wait for the release job (``plugin.dispatch.due``).

Never twice on the same channel for the same restock, even when a worker dies mid-send or a
provider is slow:

1. A batch is *claimed* (``pending → sending``, ``attempts + 1``) with a fresh ``claim_token``
   and a ``lease_until`` sized to the batch — the channel's upper bound for sending that many
   messages (its request timeouts) plus a margin — and committed before anything is sent; on
   PostgreSQL ``FOR UPDATE SKIP LOCKED`` keeps two workers apart.
2. Right before the provider call, ``handed_off_at`` is set and committed in its own statement.
3. After the call the result is committed (``sent`` / ``failed`` / back to ``pending`` with a
   ``retry_at`` by which the chain's Celery retry comes back).

Steps 2 and 3 change only rows that are still ``sending`` under the same ``claim_token`` (the
rows are locked while they are checked), so a row that recovery took back and another worker
claimed again is never overwritten by the first worker's late result.

A worker that dies leaves rows in ``sending``. Once their lease has run out — never while the
worker could still be inside the provider call — :func:`recover_stalled` sorts them by step 2:
without ``handed_off_at`` the provider was never called, so the row is simply ``pending`` again;
with it, the provider may have accepted the message (SendGrid has no idempotency key, so asking
again could send a second mail). Those rows become ``uncertain`` — a shopper who possibly missed
one notice is better than one who surely got two — and the merchant sees "skipped: delivery
uncertain (worker stopped mid-send)".
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from sqlalchemy import and_, bindparam, exists, func, insert, literal, or_, select, update
from sqlalchemy.orm import Session

from plugin.db import UTCDateTime
from plugin.clock import utcnow
from plugin.logging import get_logger
from plugin.models import (
    PENDING, SENDING, SKIPPED, UNCERTAIN, Decision, Notification, RestockEvent, Shop, Variant,
)
from plugin.dispatch.vip import log_unreadable
from plugin.dispatch.waves import plan_wave
from plugin.shop_settings import settings_for

log = get_logger(__name__)

# Rows claimed before leases were stored per row (migration 0002) have no lease_until.
LEGACY_LEASE = timedelta(minutes=10)
SOLD_OUT_AGAIN = "skipped: sold out again"
UNCERTAIN_DECISION = "skipped: delivery uncertain (worker stopped mid-send)"


def plan_restock(session: Session, event: RestockEvent, unreadable_customers: list[int] | None = None) -> int:
    """Plan the restock's first wave (``plugin.dispatch.waves``); returns the notices added.

    ``unreadable_customers``: linked customers whose tags could not be read just now
    (``plugin.dispatch.vip``); their shoppers are not VIPs and the decision log says so.
    """
    if event.status != "pending":
        return 0
    shop = session.get(Shop, event.shop_id)
    variant = find_variant(session, event.shop_id, event.variant_id)
    reason = stop_reason(shop, variant)
    if reason:
        _cancel(session, event, reason)
        return 0
    if unreadable_customers:
        log_unreadable(session, event, unreadable_customers)
    wave = plan_wave(session, event, shop, event.available, utcnow())
    event.status = "planned"
    return wave.planned


_VARIANT = select(Variant).where(Variant.shop_id == bindparam("shop_id"), Variant.variant_id == bindparam("variant_id"))


def find_variant(session: Session, shop_id: int, variant_id: int) -> Variant | None:
    return session.scalar(_VARIANT, {"shop_id": shop_id, "variant_id": variant_id})


def stop_reason(shop: Shop | None, variant: Variant | None) -> str | None:
    """Why nothing (more) may be sent for this restock right now, or ``None`` to go on."""
    if shop is None or not shop.active:
        return "skipped: shop uninstalled"
    if variant is None or not variant.can_alert:
        return "skipped: variant cannot alert"
    if variant.available is None or variant.available < settings_for(shop).restock_minimum:
        return SOLD_OUT_AGAIN
    return None


def _cancel(session: Session, event: RestockEvent, reason: str) -> None:
    event.status, event.finished_at = "cancelled", utcnow()
    session.add(Decision(shop_id=event.shop_id, decision=reason, variant_id=event.variant_id, restock_event_id=event.id))
    log.info("restock_cancelled", restock_event_id=event.id, shop_id=event.shop_id, reason=reason)


@dataclass(frozen=True)
class Claim:
    """One claimed batch: only the holder of ``token`` may change these rows until ``lease_until``."""

    token: str
    notification_ids: list[int]
    lease_until: datetime


def of_chain(event_id: int | None, channel: str) -> tuple:
    """WHERE terms: the rows one send chain walks — a restock's on one channel, or (``event_id``
    None) the notices of no restock (eta, confirm) on that channel."""
    return (_of_event(event_id), Notification.channel == channel)


def _of_event(event_id: int | None):
    return Notification.restock_event_id.is_(None) if event_id is None else Notification.restock_event_id == event_id


def sendable(event_id: int | None, channel: str) -> tuple:
    """WHERE terms: rows of the chain a send may claim now (pending and not held)."""
    return (*of_chain(event_id, channel), Notification.status == PENDING, Notification.due_at.is_(None))


def claim_batch(session: Session, event_id: int | None, channel: str, size: int,
                lease_for: Callable[[int], timedelta]) -> Claim | None:
    """Claim up to ``size`` sendable rows in plan order; the caller commits before sending.

    ``lease_for(n)`` is how long sending ``n`` messages may take at most (see ``ChannelSender``).
    """
    dialect = session.get_bind().dialect.name
    of_event = {} if event_id is None else {"event_id": event_id}
    ids = list(session.scalars(_claim_candidates(dialect, event_id is None),
                               {**of_event, "channel": channel, "size": size}))
    if not ids:
        return None
    now, token = utcnow(), uuid.uuid4().hex
    lease_until = now + lease_for(len(ids))
    claimed = session.scalars(_CLAIM, {"ids": ids, "now": now, "token": token, "lease_until": lease_until})
    claimed_ids = sorted(claimed)
    return Claim(token, claimed_ids, lease_until) if claimed_ids else None


@lru_cache(maxsize=None)
def _claim_candidates(dialect: str, no_event: bool):
    """``claim_batch``'s SELECT, built once per dialect and kind of chain, with bound parameters."""
    terms = sendable(None if no_event else bindparam("event_id"), bindparam("channel"))
    candidates = select(Notification.id).where(*terms).order_by(Notification.id).limit(bindparam("size"))
    return candidates.with_for_update(skip_locked=True) if dialect == "postgresql" else candidates


# The status guard makes the claim safe where SKIP LOCKED does not exist (SQLite).
_CLAIM = (
    update(Notification)
    .where(Notification.id.in_(bindparam("ids", expanding=True)), Notification.status == PENDING,
           Notification.due_at.is_(None))
    .values(status=SENDING, claimed_at=bindparam("now", type_=UTCDateTime()), attempts=Notification.attempts + 1,
            handed_off_at=None, claim_token=bindparam("token"),
            lease_until=bindparam("lease_until", type_=UTCDateTime()), retry_at=None)
    .returning(Notification.id)
)


def held_by(token: str) -> tuple:
    """WHERE terms: the row is still ``sending`` under this claim (nobody recovered or re-claimed it)."""
    return (Notification.status == SENDING, Notification.claim_token == token)


def skip_remaining(session: Session, event_id: int, channel: str, reason: str) -> int:
    """Every pending row of the event on ``channel`` → ``skipped`` with a Decision each (set-based).

    The subscriptions stay ``waiting``, so those shoppers keep their place for the next restock.
    """
    pending = (Notification.restock_event_id == event_id, Notification.channel == channel,
               Notification.status == PENDING)
    session.execute(
        insert(Decision).from_select(
            ["shop_id", "decision", "variant_id", "subscription_id", "restock_event_id", "notification_id",
             "created_at"],
            select(Notification.shop_id, literal(reason), RestockEvent.variant_id, Notification.subscription_id,
                   Notification.restock_event_id, Notification.id, literal(utcnow(), UTCDateTime()))
            .join(RestockEvent, RestockEvent.id == Notification.restock_event_id)
            .where(*pending),
        )
    )
    skipped = session.execute(update(Notification).where(*pending).values(status=SKIPPED, error=reason)).rowcount
    log.info("dispatch_skipped_remaining", restock_event_id=event_id, channel=channel, reason=reason, notices=skipped)
    return skipped or 0


def recover_stalled(session: Session) -> dict[str, int]:
    """Rows stuck in ``sending`` past their lease: never handed off → pending; handed off → uncertain."""
    scans = beat_scans(utcnow())
    requeued = session.execute(scans["recover_stalled: requeue"]).rowcount
    uncertain = session.execute(scans["recover_stalled: uncertain"]).all()
    uncertain_ids = [notification_id for notification_id, _ in uncertain]
    for chunk in _chunks(uncertain_ids, 1000):
        session.execute(
            insert(Decision).from_select(
                ["shop_id", "decision", "subscription_id", "restock_event_id", "notification_id", "created_at"],
                select(Notification.shop_id, literal(UNCERTAIN_DECISION), Notification.subscription_id,
                       Notification.restock_event_id, Notification.id, literal(utcnow(), UTCDateTime()))
                .where(Notification.id.in_(chunk)),
            )
        )
    # No send chain is left to finish these events (requeued rows get one from recover_dispatch).
    for event_id in sorted({event_id for _, event_id in uncertain if event_id is not None}):
        finish_if_done(session, event_id)
    counts = {"requeued": requeued or 0, "uncertain": len(uncertain_ids)}
    if requeued or uncertain_ids:
        log.warning("dispatch_recovered_stalled", **counts)
    return counts


def open_batches(session: Session) -> list[tuple[int | None, str]]:
    """(restock event id or None, channel) pairs with sendable rows and no send chain looking after them.

    A chain is alive while one of its batches is ``sending`` inside its lease, or while its rows
    wait out a backoff (``retry_at`` still ahead): re-queueing those would start a second chain
    that hammers a provider which just asked us to slow down.
    """
    now = utcnow()
    scans = beat_scans(now)
    pending = session.execute(scans["open_batches: pending"]).all()
    if not pending:
        return []
    sending = set(session.execute(scans["open_batches: sending"]).all())
    return [(event_id, channel) for event_id, channel, retry_at in pending
            if (event_id, channel) not in sending and (retry_at is None or retry_at <= now)]


def beat_scans(now: datetime) -> dict:
    """The statements the beat's recovery runs over ``notifications`` (``bench/explain_scans.py``
    EXPLAINs them): each filters on ``status`` = pending/sending, which the partial index
    ``ix_notifications_open`` covers, so none reads the finished rows that make up the table."""
    expired = or_(Notification.lease_until <= now,
                  and_(Notification.lease_until.is_(None), Notification.claimed_at <= now - LEGACY_LEASE))
    stalled = (Notification.status == SENDING, expired)
    return {
        "open_batches: pending": (
            select(Notification.restock_event_id, Notification.channel, func.max(Notification.retry_at))
            .where(Notification.status == PENDING, Notification.due_at.is_(None))
            .group_by(Notification.restock_event_id, Notification.channel)
            .order_by(Notification.restock_event_id, Notification.channel)),
        "open_batches: sending": (
            select(Notification.restock_event_id, Notification.channel)
            .where(Notification.status == SENDING, Notification.lease_until > now)
            .group_by(Notification.restock_event_id, Notification.channel)),
        "recover_stalled: requeue": (
            update(Notification).where(*stalled, Notification.handed_off_at.is_(None))
            .values(status=PENDING, claim_token=None, lease_until=None)),
        "recover_stalled: uncertain": (
            update(Notification).where(*stalled).values(status=UNCERTAIN, error="worker stopped mid-send",
                                                        lease_until=None)
            .returning(Notification.id, Notification.restock_event_id)),
    }


def channels_with_pending(session: Session, event_id: int | None) -> list[str]:
    """Channels with rows of the event that a send chain may claim now (held rows wait)."""
    return list(session.scalars(
        select(Notification.channel)
        .where(_of_event(event_id), Notification.status == PENDING, Notification.due_at.is_(None))
        .group_by(Notification.channel).order_by(Notification.channel)
    ))


def finish_if_done(session: Session, event_id: int | None) -> bool:
    """Mark the event ``done`` once no row is pending or sending and no wave is still due."""
    if event_id is None:
        return False
    # Whether any row is open, not how many: counting them read every open row of a big restock
    # after each of its batches (9 ms a batch at 100,000 shoppers, 6 % of PostgreSQL's time).
    if session.scalar(select(exists().where(Notification.restock_event_id == event_id,
                                            Notification.status.in_((PENDING, SENDING))))):
        return False
    session.execute(
        update(RestockEvent).where(RestockEvent.id == event_id, RestockEvent.status == "planned",
                                   RestockEvent.next_wave_at.is_(None))
        .values(status="done", finished_at=utcnow())
    )
    return True


def _chunks(items: list[int], size: int):
    for start in range(0, len(items), size):
        yield items[start:start + size]
