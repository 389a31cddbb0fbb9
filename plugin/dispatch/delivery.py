"""Deliver one claimed batch of notices through a channel (see ``plugin.dispatch.plan``).

A send chain walks the rows of one restock on one channel — its alerts and reminders — or, for
``event_id`` None, the notices tied to no restock (eta, confirm). Held rows (quiet hours) are not
claimed until the release job lets them go.

Each step is its own short transaction, so no database transaction is open during the provider
call and every step is durable before the next begins: re-check stock and claim → skip
unsubscribed rows and record the hand-off → call the channel → record the results. The last two
steps touch only rows still held under the batch's claim token (``plan.held_by``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from types import SimpleNamespace

from sqlalchemy import bindparam, func, insert, literal, select, update
from sqlalchemy.orm import Session

from plugin.dispatch.channels.base import Channel, DeliveryResult, OutgoingMessage
from plugin.dispatch.pauses import ProviderPauses
from plugin.crypto import Vault
from plugin.db import Database, UTCDateTime, ids_in, ids_in_param
from plugin.clock import utcnow
from plugin.dispatch.plan import (
    Claim, claim_batch, find_variant, finish_if_done, held_by, sendable, skip_remaining, stop_reason,
)
from plugin.links.tokens import click_url, confirm_url, unsubscribe_url
from plugin.logging import get_logger
from plugin.dispatch.messages.locales import normalise_locale
from plugin.dispatch.messages.overrides import restock_strings
from plugin.measurement import aggregates
from plugin.dispatch.messages.restock import (
    CODE_TAG, UNSUBSCRIBE_TAG, URL_TAG, NoticeContext, OfferText, render_notice,
)
from plugin.dispatch.notice_checks import skip_reason, wording
from plugin.dispatch.quiet_hours import held_decision, quiet_until
from plugin.offers.notice import offer_for
from plugin.models import (
    CONFIRM, ETA, FAILED, NOTIFIED, PENDING, RESTOCK, SENT, SKIPPED, UNCERTAIN, WAITING, Contact, Decision,
    Notification, RestockEvent, Shop, Subscription, Variant,
)
from plugin.shop_settings import settings_for

log = get_logger(__name__)

# Counted attempts (a 429 or a message not tried does not count) before a notice fails for good:
# at a provider failing one call in three, 8 leave about one notice in 15,000 unsent (5 left one in 400).
MAX_ATTEMPTS = 8
UNREADABLE_CONTACT = "failed: contact unreadable (key not configured)"
NO_ANSWER = "skipped: delivery uncertain (provider did not answer)"
# Added to the channel's own bound: claiming, decrypting, rendering and recording the batch.
DEFAULT_LEASE_MARGIN = timedelta(minutes=2)


@dataclass(frozen=True)
class ChannelSender:
    """What delivering needs besides the database: the channel, the vault and how to sign links."""

    channel: Channel
    vault: Vault
    app_url: str
    link_secret: str  # the newest of BACKBELL_LINK_SECRETS
    lease_margin: timedelta = DEFAULT_LEASE_MARGIN
    # Offers hook (plugin.offers.batch.prepare_batch): codes and held units in Shopify before a
    # claimed batch is sent; returns the claim without the notices that must wait for a unit. Gets
    # the restock's shop as the claim read it (None for notices of no restock).
    prepare_offers: Callable[[Claim, Shop | None], Claim] | None = None
    # A provider's 429 wait shared by every send chain (plugin.dispatch.pauses); None: per chain only.
    pauses: ProviderPauses | None = None

    def lease_for(self, count: int) -> timedelta:
        """How long a claim on ``count`` rows lasts: longer than the channel can take to send them."""
        return timedelta(seconds=self.channel.max_send_seconds(count)) + self.lease_margin


@dataclass
class BatchOutcome:
    claimed: int = 0
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    retrying: int = 0  # transient failures put back to pending
    held: int = 0  # reached inside quiet hours: pending again until the window ends
    lost: int = 0  # rows whose claim was taken back before their result could be recorded
    uncertain: int = 0  # the provider got the request but did not answer: maybe sent, never sent again
    retry_after: float | None = None  # seconds the provider asked us to wait (429), if it did
    remaining: bool = False  # pending rows left for this event and channel
    stopped: str | None = None  # why the rest was skipped (sold out again, …)
    notification_ids: list[int] = field(default_factory=list)


@dataclass
class NextBatch:
    """A batch claimed (or its event found finished or stopped), committed, not yet sent."""

    outcome: BatchOutcome
    claim: Claim | None = None
    full: bool = False  # the claim took as many rows as were asked for (some may be left)
    shop: Shop | None = None
    read: tuple = ()  # the restock's shop, event and variant as the claim's transaction read them
    gone: bool = False  # the restock event no longer exists (purged): nothing to do


def claim_next_batch(session: Session, event_id: int | None, channel: str, sender: ChannelSender,
                     most: int | None = None) -> NextBatch:
    """Re-check stock and claim one batch (of the channel's ``max_batch``, or fewer: ``most``) in
    the caller's transaction; the caller commits before ``send_next_batch(…, claimed=…)``."""
    outcome, shop, read = BatchOutcome(), None, ()
    event = session.get(RestockEvent, event_id) if event_id is not None else None
    if event_id is not None and event is None:
        return NextBatch(outcome, gone=True)
    if event is not None:
        shop = session.get(Shop, event.shop_id)
        variant = find_variant(session, event.shop_id, event.variant_id)
        read = tuple(row for row in (shop, event, variant) if row is not None)
        reason = stop_reason(shop, variant)
    else:  # notices of no restock are checked one by one instead (``skip_reason``)
        reason = None
    if reason:
        outcome.skipped = skip_remaining(session, event_id, channel, reason)
        outcome.stopped = reason
        return NextBatch(outcome, shop=shop, read=read)
    size = sender.channel.max_batch if most is None else min(most, sender.channel.max_batch)
    claim = claim_batch(session, event_id, channel, size, sender.lease_for)
    return NextBatch(outcome, claim, claim is not None and len(claim.notification_ids) >= size, shop, read)


def send_next_batch(db: Database, event_id: int | None, channel: str, sender: ChannelSender,
                    retry_window: timedelta = timedelta(0),
                    on_claimed: Callable[[bool], None] | None = None, most: int | None = None,
                    claimed: NextBatch | None = None) -> BatchOutcome:
    """Re-check stock, claim one batch (of the channel's ``max_batch``, or fewer: ``most``),
    deliver it, record the results; safe to call repeatedly.

    ``retry_window``: how long the caller's retry may take to come back after a transient failure
    (stored as the rows' ``retry_at``, so the beat's recovery does not start a second chain).
    ``on_claimed``: called once the claim is committed, before the batch is sent (the dispatcher
    starts the parallel chains for the rest then, so they run while this batch is at the provider),
    with whether the claim was full (False: it took every sendable row, none is left for a chain).
    ``claimed``: the batch already claimed and committed by ``claim_next_batch`` (the dispatcher
    claims a restock's first batch in the transaction that plans it).
    """
    if claimed is None:
        with db.session() as session:
            claimed = claim_next_batch(session, event_id, channel, sender, most)
    outcome, claim, shop, read = claimed.outcome, claimed.claim, claimed.shop, claimed.read
    if claimed.gone:
        return outcome
    if claim is not None and on_claimed is not None:
        on_claimed(claimed.full)
    if claim is not None:
        outcome.notification_ids, outcome.claimed = claim.notification_ids, len(claim.notification_ids)
        if sender.prepare_offers is not None:  # offers hook (plugin.offers)
            claim = sender.prepare_offers(claim, shop)
            outcome.skipped += outcome.claimed - len(claim.notification_ids)
        deliver_batch(db, claim, sender, outcome, retry_window, read=read)
    with db.session() as session:
        outcome.remaining = _has_pending(session, event_id, channel)
        finish_if_done(session, event_id)
    log.info("dispatch_batch", restock_event_id=event_id, channel=channel, claimed=outcome.claimed,
             sent=outcome.sent, failed=outcome.failed, skipped=outcome.skipped, retrying=outcome.retrying,
             uncertain=outcome.uncertain, lost=outcome.lost)
    return outcome


def shop_of_event(db: Database, event_id: int | None) -> int | None:
    """The restock's shop (None for notices of no restock, or an event purged meanwhile)."""
    if event_id is None:
        return None
    with db.session() as session:
        return session.scalar(select(RestockEvent.shop_id).where(RestockEvent.id == event_id))


def deliver_batch(db: Database, claim: Claim, sender: ChannelSender, outcome: BatchOutcome,
                  retry_window: timedelta = timedelta(0), read: tuple = ()) -> None:
    """Deliver claimed rows: skip the unsubscribed, hand off, send, record — all under the claim.

    ``read``: the restock's shop, event and variant as the claim's transaction read them moments
    ago; the messages are built from them instead of reading them a second time."""
    with db.session() as session:
        _known(session, read)
        messages = _prepare(session, claim, sender, outcome)
        # Committed on leaving the block, right before the provider call: the hand-off marker.
        handed_off = _hand_off(session, claim, [m.notification_id for m in messages])
    if len(handed_off) < len(messages):
        outcome.lost += len(messages) - len(handed_off)
        log.warning("dispatch_claim_lost", step="hand_off", notices=len(messages) - len(handed_off))
        messages = [m for m in messages if m.notification_id in handed_off]
    if not messages:
        return
    paused = sender.pauses.remaining(sender.channel.name) if sender.pauses is not None else 0.0
    if paused > 0:  # another chain got a 429: not tried, not counted, back after the provider's wait
        results = [DeliveryResult(m.notification_id, ok=False, transient=True, counted=False, retry_after=paused,
                                  error=f"{sender.channel.name}: not tried (the provider asked for a pause)")
                   for m in messages]
    else:
        results = sender.channel.send(messages)
    waits = [r.retry_after for r in results if r.retry_after is not None]
    if waits:  # a 429's wait: the retry comes no earlier, and the rows say so (see ``retry_at``)
        outcome.retry_after = max(waits)
        if sender.pauses is not None and not paused:  # every other chain holds its calls too
            sender.pauses.pause(sender.channel.name, outcome.retry_after)
        retry_window = max(retry_window, timedelta(seconds=outcome.retry_after))
    with db.session() as session:
        _known(session, read)
        _record(session, claim, results, outcome, retry_at=utcnow() + retry_window)


def _hand_off(session: Session, claim: Claim, ids: list[int]) -> set[int]:
    if not ids:
        return set()
    statement = _hand_off_statement(session.get_bind().dialect.name)
    return set(session.scalars(statement, {"ids": ids, "token": claim.token, "now": utcnow()}))


@lru_cache(maxsize=None)
def _hand_off_statement(dialect: str):
    """``_hand_off``'s UPDATE, built once per dialect (on every batch's way to the provider)."""
    return (update(Notification).where(ids_in_param(dialect, Notification.id, "ids"), *held_by(bindparam("token")))
            .values(handed_off_at=bindparam("now", type_=UTCDateTime())).returning(Notification.id)
            .execution_options(synchronize_session=False))


@dataclass(frozen=True)
class _Row:
    """What a message needs of one claimed notice, its subscription and contact — read as plain
    columns in one query: ORM objects for 1,000 rows × 3 tables cost more than everything else
    in the batch (only the rare held / skipped / failed rows are loaded as objects, to change them)."""

    notification: SimpleNamespace  # id, kind, channel, shop_id, restock_event_id, discount_code, expires_at
    subscription: SimpleNamespace  # id, status, notified_at, variant_id, locale, confirm_by
    contact: SimpleNamespace  # value_ciphertext, suppressed_at, suppressed_reason


_NOTIFICATION = (Notification.id, Notification.kind, Notification.channel, Notification.shop_id,
                 Notification.restock_event_id, Notification.discount_code, Notification.expires_at)
_SUBSCRIPTION = (Subscription.id, Subscription.status, Subscription.notified_at, Subscription.variant_id,
                 Subscription.locale, Subscription.confirm_by)
_CONTACT = (Contact.value_ciphertext, Contact.suppressed_at, Contact.suppressed_reason)


def _claimed_rows(session: Session, claim: Claim) -> list[_Row]:
    result = session.execute(_claimed_rows_statement(session.get_bind().dialect.name),
                             {"ids": claim.notification_ids, "token": claim.token})
    n, s = len(_NOTIFICATION), len(_NOTIFICATION) + len(_SUBSCRIPTION)
    keys = [c.key for c in (*_NOTIFICATION, *_SUBSCRIPTION, *_CONTACT)]
    rows = []
    for values in result:
        rows.append(_Row(SimpleNamespace(**dict(zip(keys[:n], values[:n]))),
                         SimpleNamespace(**dict(zip(keys[n:s], values[n:s]))),
                         SimpleNamespace(**dict(zip(keys[s:], values[s:])))))
    return rows


@lru_cache(maxsize=None)
def _claimed_rows_statement(dialect: str):
    """``_claimed_rows``' SELECT, built once per dialect (the claim's ids and token are parameters)."""
    columns = [c.label(f"n_{c.key}") for c in _NOTIFICATION] + [c.label(f"s_{c.key}") for c in _SUBSCRIPTION] \
        + [c.label(f"c_{c.key}") for c in _CONTACT]
    return (select(*columns)
            .join_from(Notification, Subscription, Subscription.id == Notification.subscription_id)
            .join(Contact, Contact.id == Subscription.contact_id)
            .where(ids_in_param(dialect, Notification.id, "ids"), *held_by(bindparam("token")))
            .order_by(Notification.id)
            .with_for_update(of=Notification))


def _prepare(session: Session, claim: Claim, sender: ChannelSender, outcome: BatchOutcome) -> list[OutgoingMessage]:
    rows = _claimed_rows(session, claim)
    if len(rows) < len(claim.notification_ids):
        outcome.lost += len(claim.notification_ids) - len(rows)
        log.warning("dispatch_claim_lost", step="prepare", notices=len(claim.notification_ids) - len(rows))
    messages, held, skipped, unreadable = [], [], [], []
    notices: dict[tuple, tuple] = {}  # rendered once per (shop, variant, kind, locale, offer) in the batch
    shops, events = {}, {}  # a batch is one restock (or a few shops' eta/confirm notices)
    for row in rows:
        notification, subscription, contact = row.notification, row.subscription, row.contact
        shop = shops.get(notification.shop_id) or shops.setdefault(notification.shop_id,
                                                                   session.get(Shop, notification.shop_id))
        event = None
        if notification.restock_event_id is not None:
            event = events.get(notification.restock_event_id) or events.setdefault(
                notification.restock_event_id, session.get(RestockEvent, notification.restock_event_id))
        variant = find_variant_cached(session, shop.id, subscription.variant_id)
        until = _quiet_until(session, shop) if notification.kind != CONFIRM else None
        if until is not None:
            # Planned outside quiet hours but reaching the provider inside them (a retry, a slow
            # chain): back to pending until the window ends; the release job lets it go then.
            held.append(notification.id)
            continue
        reason = skip_reason(notification, subscription, contact, event, variant, shop)
        if reason:
            skipped.append((notification.id, reason))
            continue
        try:
            messages.append(_message(session, notification, subscription, contact, event, shop, variant, sender,
                                     notices))
        except ValueError:
            # Only a contact stored under a key since removed from BACKBELL_ENCRYPTION_KEYS gets here.
            # Failing the row alone keeps it from being re-claimed forever and blocking its batch.
            unreadable.append(notification.id)
    if held or skipped or unreadable:
        _set_aside(session, held, skipped, unreadable, outcome)
    return messages


def _set_aside(session: Session, held: list[int], skipped: list[tuple[int, str]], unreadable: list[int],
               outcome: BatchOutcome) -> None:
    """The rows that do not go now, changed as ORM objects (rare: quiet hours, unsubscribes, lost keys)."""
    ids = held + [i for i, _ in skipped] + unreadable
    loaded = {n.id: (n, s) for n, s in session.execute(
        select(Notification, Subscription).join(Subscription, Subscription.id == Notification.subscription_id)
        .where(ids_in(session, Notification.id, ids)))}
    for notification_id in held:
        notification, subscription = loaded[notification_id]
        shop = session.get(Shop, notification.shop_id)
        _hold(session, notification, subscription, _quiet_until(session, shop), shop)
        outcome.held += 1
    for notification_id, reason in skipped:
        notification, subscription = loaded[notification_id]
        _finish(session, notification, SKIPPED, reason, subscription=subscription)
        outcome.skipped += 1
    for notification_id in unreadable:
        notification, subscription = loaded[notification_id]
        notification.error = "contact ciphertext matches no configured encryption key"
        _finish(session, notification, FAILED, UNREADABLE_CONTACT, subscription=subscription)
        outcome.failed += 1


def _message(session: Session, notification, subscription, contact, event: RestockEvent | None, shop: Shop,
             variant: Variant | None, sender: ChannelSender, notices: dict | None = None) -> OutgoingMessage:
    kind = wording(notification.kind, variant)
    offer = offer_for(session, shop, notification, subscription.locale)  # offers hook (plugin.offers)
    key = (shop.id, subscription.variant_id, kind, subscription.locale, offer, notification.channel)
    notice = notices.get(key) if notices is not None else None
    if notice is None:
        notice = render_notice(kind, _context(shop, variant, subscription.locale, kind, offer), notification.channel)
        if notices is not None:
            notices[key] = notice
    if notification.kind == CONFIRM:
        url = confirm_url(sender.app_url, sender.link_secret, subscription.id)
    else:
        url = click_url(sender.app_url, sender.link_secret, notification.id)
    unsubscribe = unsubscribe_url(sender.app_url, sender.link_secret, subscription.id)
    return OutgoingMessage(
        notification_id=notification.id, channel=notification.channel, to=sender.vault.decrypt(contact.value_ciphertext),
        shop=shop.domain, kind=notification.kind, variant_id=subscription.variant_id, locale=notice.locale,
        subject=notice.subject, text=notice.text, html=notice.html, url=url, unsubscribe_url=unsubscribe,
        discount_code=notification.discount_code, expires_at=notification.expires_at,
        substitutions={URL_TAG: url, UNSUBSCRIBE_TAG: unsubscribe, CODE_TAG: notification.discount_code or ""},
        tracking={"notification_id": str(notification.id), "shop_id": str(shop.id),
                  "restock_event_id": str(event.id) if event else ""},
    )


def _quiet_until(session: Session, shop: Shop) -> datetime | None:
    cache = session.info.setdefault("quiet_until", {})
    if shop.id not in cache:
        cache[shop.id] = quiet_until(utcnow(), shop.timezone, settings_for(shop))
    return cache[shop.id]


def _hold(session: Session, notification: Notification, subscription: Subscription, until: datetime,
          shop: Shop) -> None:
    notification.status, notification.due_at, notification.attempts = PENDING, until, notification.attempts - 1
    notification.claim_token = notification.lease_until = notification.handed_off_at = None
    session.add(Decision(shop_id=notification.shop_id, decision=held_decision(until, shop.timezone),
                         variant_id=subscription.variant_id, subscription_id=subscription.id,
                         restock_event_id=notification.restock_event_id, notification_id=notification.id,
                         detail={"until": until.isoformat()}))


def _known(session: Session, rows: tuple) -> None:
    """Put rows read by an earlier transaction into this session as they were (no SQL): ``get``
    and ``find_variant_cached`` then find them (held in ``session.info``: the identity map
    itself only keeps weak references)."""
    held = session.info.setdefault("known", [])
    for row in rows:
        merged = session.merge(row, load=False)
        held.append(merged)
        if isinstance(merged, Variant):
            session.info.setdefault("variants", {})[(merged.shop_id, merged.variant_id)] = merged


def find_variant_cached(session: Session, shop_id: int, variant_id: int) -> Variant:
    cache = session.info.setdefault("variants", {})
    if (shop_id, variant_id) not in cache:
        cache[(shop_id, variant_id)] = find_variant(session, shop_id, variant_id)
    return cache[(shop_id, variant_id)]


def _context(shop: Shop, variant: Variant, locale: str, kind: str, offer: OfferText | None = None) -> NoticeContext:
    return NoticeContext(
        shop_name=shop.name or shop.domain.removesuffix(".myshopify.com"),
        product_title=variant.product_title or "",
        variant_title=variant.title,
        price=variant.price,
        currency=shop.currency,
        locale=locale,
        offer=offer,
        left=variant.available if kind == "reminder_low" else None,
        expected_on=variant.expected_at.date() if kind == ETA and variant.expected_at else None,
        wording=restock_strings(shop.settings, normalise_locale(locale)),
    )


def _record(session: Session, claim: Claim, results: list[DeliveryResult], outcome: BatchOutcome,
            retry_at: datetime) -> None:
    # Locked and re-checked: a row recovered (lease run out) or claimed again by another worker
    # meanwhile belongs to somebody else now, and this late result must not overwrite it.
    rows = {row.id: row for row in session.execute(
        select(Notification.id, Notification.kind, Notification.channel, Notification.attempts, Notification.shop_id,
               Notification.restock_event_id, Subscription.id.label("subscription_id"),
               Subscription.status.label("subscription_status"), Subscription.variant_id, Subscription.contact_id)
        .join(Subscription, Subscription.id == Notification.subscription_id)
        .where(ids_in(session, Notification.id, [r.notification_id for r in results]), *held_by(claim.token))
        .with_for_update(of=Notification))}
    sent, retrying, failed, uncertain, uncounted = [], defaultdict(list), [], [], []
    for result in results:
        row = rows.get(result.notification_id)
        if row is None:
            outcome.lost += 1
            continue
        if not result.counted:  # not tried, or throttled (429): this attempt does not count
            uncounted.append(row.id)
        attempts = row.attempts - (0 if result.counted else 1)
        if result.ok:
            sent.append((row, result))
        elif result.uncertain:
            uncertain.append(result)
        elif result.transient and attempts < MAX_ATTEMPTS:
            retrying[result.error].append(row.id)
        else:
            failed.append(result)
    if uncounted:  # first, while the rows still carry this claim's token
        session.execute(update(Notification).where(ids_in(session, Notification.id, uncounted), *held_by(claim.token))
                        .values(attempts=Notification.attempts - 1).execution_options(synchronize_session=False))
    if sent:
        shops = [session.get(Shop, shop_id) for shop_id in sorted({row.shop_id for row, _ in sent})]  # held (see _known)
        _mark_sent(session, sent, {shop.id: settings_for(shop).reminder_hours for shop in shops if shop is not None})
        outcome.sent += len(sent)
    for error, ids in retrying.items():
        session.execute(update(Notification).where(ids_in(session, Notification.id, ids), *held_by(claim.token))
                        .values(status=PENDING, error=error, retry_at=retry_at, handed_off_at=None, claim_token=None,
                                lease_until=None).execution_options(synchronize_session=False))
        outcome.retrying += len(ids)
    if failed or uncertain:  # rare: loaded as objects to be changed one by one
        loaded = {n.id: (n, s) for n, s in session.execute(
            select(Notification, Subscription).join(Subscription, Subscription.id == Notification.subscription_id)
            .where(ids_in(session, Notification.id, [r.notification_id for r in failed + uncertain])))}
        for result in failed:
            notification, subscription = loaded[result.notification_id]
            _mark_failed(session, notification, subscription, result)
        for result in uncertain:
            notification, subscription = loaded[result.notification_id]
            notification.error, notification.lease_until = result.error, None
            _finish(session, notification, UNCERTAIN, NO_ANSWER, subscription=subscription)
        outcome.failed += len(failed)
        outcome.uncertain += len(uncertain)
    if len(rows) < len(results):
        log.warning("dispatch_claim_lost", step="record", notices=len(results) - len(rows))


def _mark_sent(session: Session, sent: list[tuple], reminder_hours: dict[int, int | None]) -> None:
    """Set-based: one UPDATE of the notices per provider message id, one of the told
    subscriptions, the dashboard's counters per variant, one multi-row INSERT of the decisions."""
    now = utcnow()
    notices: dict[tuple, list[int]] = defaultdict(list)
    told: dict[tuple[int, int], list] = defaultdict(list)
    for row, result in sent:
        hours = reminder_hours.get(row.shop_id) if row.kind == RESTOCK else None
        remind_at = now + timedelta(hours=hours) if hours is not None else None
        notices[(result.provider_message_id, remind_at)].append(row.id)
        if row.kind == RESTOCK:
            told[(row.shop_id, row.variant_id)].append(row)
    if len(notices) == 1:  # SendGrid: one message id per request (1,000 recipients)
        [((message_id, remind_at), ids)] = notices.items()
        values = {"status": SENT, "sent_at": now, "provider_message_id": message_id}
        if remind_at is not None:
            values["remind_at"] = remind_at
        session.execute(update(Notification).where(ids_in(session, Notification.id, ids)).values(**values)
                        .execution_options(synchronize_session=False))
    else:  # an id per message (Twilio, the outbox), or a batch split over requests: one executemany
        table = Notification.__table__
        session.execute(
            update(table).where(table.c.id == bindparam("b_id"))
            .values(status=SENT, sent_at=now, provider_message_id=bindparam("b_message_id"),
                    remind_at=func.coalesce(bindparam("b_remind_at", type_=table.c.remind_at.type), table.c.remind_at)),
            [{"b_id": i, "b_message_id": message_id, "b_remind_at": remind_at}
             for (message_id, remind_at), ids in notices.items() for i in ids])
    for (shop_id, variant_id), told_rows in told.items():
        aggregates.restock_notices_sent(session, shop_id, variant_id, len(told_rows),
                                        [r.contact_id for r in told_rows if r.subscription_status == WAITING], now)
    subscription_ids = sorted({r.subscription_id for rows in told.values() for r in rows})
    if subscription_ids:
        session.execute(update(Subscription).where(ids_in(session, Subscription.id, subscription_ids))
                        # alerts_sent: the re-enrolment cap (plugin.dispatch.alert_cap)
                        .values(status=NOTIFIED, notified_at=now, alerts_sent=func.coalesce(Subscription.alerts_sent, 0) + 1)
                        .execution_options(synchronize_session=False))
    decisions: dict[tuple, list[int]] = defaultdict(list)  # one detail for most batches
    for row, _ in sent:
        decisions[(row.kind, row.channel, row.attempts)].append(row.id)
    for (kind, channel, attempts), ids in decisions.items():
        session.execute(insert(Decision).from_select(
            ["shop_id", "decision", "variant_id", "subscription_id", "restock_event_id", "notification_id", "detail",
             "created_at"],
            select(Notification.shop_id, literal("sent"), Subscription.variant_id, Notification.subscription_id,
                   Notification.restock_event_id, Notification.id,
                   literal(_detail(kind, channel, attempts), Decision.detail.type), literal(now, UTCDateTime()))
            .join(Subscription, Subscription.id == Notification.subscription_id)
            .where(ids_in(session, Notification.id, ids))
            .order_by(Notification.id)))


def _detail(kind: str, channel: str, attempts: int, error: str | None = None) -> dict:
    detail = {"channel": channel, "attempts": attempts}
    if kind != RESTOCK:
        detail["kind"] = kind
    if error:
        detail["error"] = error[:300]
    return detail


def _mark_failed(session: Session, notification: Notification, subscription: Subscription,
                 result: DeliveryResult) -> None:
    if result.suppress:
        contact = subscription.contact  # loaded with the subscription (joined)
        contact.suppressed_at, contact.suppressed_reason = utcnow(), "opted_out"
    notification.error = result.error
    reason = "failed: provider unavailable" if result.transient else "failed: rejected by provider"
    _finish(session, notification, FAILED, reason, subscription=subscription)


def _finish(session: Session, notification: Notification, status: str, decision: str,
            subscription: Subscription) -> None:
    notification.status = status
    detail = _detail(notification.kind, notification.channel, notification.attempts,
                     notification.error if status == FAILED else None)
    session.add(Decision(
        shop_id=notification.shop_id, decision=decision, variant_id=subscription.variant_id,
        subscription_id=subscription.id, restock_event_id=notification.restock_event_id,
        notification_id=notification.id, detail=detail,
    ))


def _has_pending(session: Session, event_id: int | None, channel: str) -> bool:
    return session.scalar(select(Notification.id).where(*sendable(event_id, channel)).limit(1)) is not None


def pending_batches(session: Session, event_id: int | None, channel: str, batch_size: int, most: int) -> int:
    """How many batches of ``batch_size`` the chain's sendable rows make, counting no further than ``most``."""
    rows = session.scalar(select(func.count()).select_from(
        select(Notification.id).where(*sendable(event_id, channel)).limit(batch_size * most).subquery()))
    return min(most, -(-(rows or 0) // batch_size))
