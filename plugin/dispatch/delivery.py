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

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from plugin.dispatch.channels.base import Channel, DeliveryResult, OutgoingMessage
from plugin.crypto import Vault
from plugin.db import Database
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
    CONFIRM, ETA, FAILED, NOTIFIED, PENDING, RESTOCK, SENT, SKIPPED, UNCERTAIN, Contact, Decision, Notification,
    RestockEvent, Shop, Subscription, Variant,
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
    # claimed batch is sent; returns the claim without the notices that must wait for a unit.
    prepare_offers: Callable[[Claim], Claim] | None = None

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


def send_next_batch(db: Database, event_id: int | None, channel: str, sender: ChannelSender,
                    retry_window: timedelta = timedelta(0)) -> BatchOutcome:
    """Re-check stock, claim one batch, deliver it, record the results; safe to call repeatedly.

    ``retry_window``: how long the caller's retry may take to come back after a transient failure
    (stored as the rows' ``retry_at``, so the beat's recovery does not start a second chain).
    """
    outcome, claim = BatchOutcome(), None
    with db.session() as session:
        event = session.get(RestockEvent, event_id) if event_id is not None else None
        if event_id is not None and event is None:
            return outcome
        reason = _stop_reason(session, event)
        if reason:
            outcome.skipped = skip_remaining(session, event_id, channel, reason)
            outcome.stopped = reason
        else:
            claim = claim_batch(session, event_id, channel, sender.channel.max_batch, sender.lease_for)
    if claim is not None:
        outcome.notification_ids, outcome.claimed = claim.notification_ids, len(claim.notification_ids)
        if sender.prepare_offers is not None:  # offers hook (plugin.offers)
            claim = sender.prepare_offers(claim)
            outcome.skipped += outcome.claimed - len(claim.notification_ids)
        deliver_batch(db, claim, sender, outcome, retry_window)
    with db.session() as session:
        outcome.remaining = _has_pending(session, event_id, channel)
        finish_if_done(session, event_id)
    log.info("dispatch_batch", restock_event_id=event_id, channel=channel, claimed=outcome.claimed,
             sent=outcome.sent, failed=outcome.failed, skipped=outcome.skipped, retrying=outcome.retrying,
             uncertain=outcome.uncertain, lost=outcome.lost)
    return outcome


def _stop_reason(session: Session, event: RestockEvent | None) -> str | None:
    """Why the rest of a restock's rows may not go (sold out again, …); notices of no restock
    are checked one by one instead (``_skip_reason``)."""
    if event is None:
        return None
    return stop_reason(session.get(Shop, event.shop_id), find_variant(session, event.shop_id, event.variant_id))


def deliver_batch(db: Database, claim: Claim, sender: ChannelSender, outcome: BatchOutcome,
                  retry_window: timedelta = timedelta(0)) -> None:
    """Deliver claimed rows: skip the unsubscribed, hand off, send, record — all under the claim."""
    with db.session() as session:
        messages = _prepare(session, claim, sender, outcome)
        # Committed on leaving the block, right before the provider call: the hand-off marker.
        handed_off = _hand_off(session, claim, [m.notification_id for m in messages])
    if len(handed_off) < len(messages):
        outcome.lost += len(messages) - len(handed_off)
        log.warning("dispatch_claim_lost", step="hand_off", notices=len(messages) - len(handed_off))
        messages = [m for m in messages if m.notification_id in handed_off]
    if not messages:
        return
    results = sender.channel.send(messages)
    waits = [r.retry_after for r in results if r.retry_after is not None]
    if waits:  # a 429's wait: the retry comes no earlier, and the rows say so (see ``retry_at``)
        outcome.retry_after = max(waits)
        retry_window = max(retry_window, timedelta(seconds=outcome.retry_after))
    with db.session() as session:
        _record(session, claim, results, outcome, retry_at=utcnow() + retry_window)


def _hand_off(session: Session, claim: Claim, ids: list[int]) -> set[int]:
    if not ids:
        return set()
    return set(session.scalars(update(Notification).where(Notification.id.in_(ids), *held_by(claim.token))
                               .values(handed_off_at=utcnow()).returning(Notification.id)))


def _prepare(session: Session, claim: Claim, sender: ChannelSender, outcome: BatchOutcome) -> list[OutgoingMessage]:
    # Everything a message needs in one query: a per-row look-up would also autoflush the
    # previous row's changes, costing several statements per shopper on the fan-out path.
    rows = session.execute(
        select(Notification, Subscription, Contact, RestockEvent, Shop)
        .join(Subscription, Subscription.id == Notification.subscription_id)
        .join(Contact, Contact.id == Subscription.contact_id)
        .outerjoin(RestockEvent, RestockEvent.id == Notification.restock_event_id)
        .join(Shop, Shop.id == Notification.shop_id)
        .where(Notification.id.in_(claim.notification_ids), *held_by(claim.token))
        .order_by(Notification.id)
        .with_for_update(of=Notification)
    ).all()
    if len(rows) < len(claim.notification_ids):
        outcome.lost += len(claim.notification_ids) - len(rows)
        log.warning("dispatch_claim_lost", step="prepare", notices=len(claim.notification_ids) - len(rows))
    messages = []
    for notification, subscription, contact, event, shop in rows:
        variant = find_variant_cached(session, shop.id, subscription.variant_id)
        held = _quiet_until(session, shop) if notification.kind != CONFIRM else None
        if held is not None:
            # Planned outside quiet hours but reaching the provider inside them (a retry, a slow
            # chain): back to pending until the window ends; the release job lets it go then.
            _hold(session, notification, subscription, held, shop)
            outcome.held += 1
            continue
        reason = skip_reason(notification, subscription, contact, event, variant, shop)
        if reason:
            _finish(session, notification, SKIPPED, reason, subscription=subscription)
            outcome.skipped += 1
            continue
        try:
            messages.append(_message(session, notification, subscription, contact, event, shop, sender))
        except ValueError:
            # Only a contact stored under a key since removed from BACKBELL_ENCRYPTION_KEYS gets here.
            # Failing the row alone keeps it from being re-claimed forever and blocking its batch.
            notification.error = "contact ciphertext matches no configured encryption key"
            _finish(session, notification, FAILED, UNREADABLE_CONTACT, subscription=subscription)
            outcome.failed += 1
    return messages


def _message(session: Session, notification: Notification, subscription: Subscription, contact: Contact,
             event: RestockEvent | None, shop: Shop, sender: ChannelSender) -> OutgoingMessage:
    variant = find_variant_cached(session, shop.id, subscription.variant_id)
    kind = wording(notification.kind, variant)
    offer = offer_for(session, shop, notification, subscription.locale)  # offers hook (plugin.offers)
    notice = render_notice(kind, _context(shop, variant, subscription.locale, kind, offer), notification.channel)
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
    rows = {n.id: (n, s) for n, s in session.execute(
        select(Notification, Subscription).join(Subscription, Subscription.id == Notification.subscription_id)
        .where(Notification.id.in_([r.notification_id for r in results]), *held_by(claim.token))
        .with_for_update(of=Notification))}
    reminder_hours = _reminder_hours(session, {n.shop_id for n, _ in rows.values()})
    for result in results:
        if result.notification_id not in rows:
            outcome.lost += 1
            continue
        notification, subscription = rows[result.notification_id]
        if not result.counted:  # not tried, or throttled (429): this attempt does not count
            notification.attempts -= 1
        if result.ok:
            _mark_sent(session, notification, subscription, result, reminder_hours[notification.shop_id])
            outcome.sent += 1
        elif result.uncertain:
            notification.status, notification.error, notification.lease_until = UNCERTAIN, result.error, None
            _finish(session, notification, UNCERTAIN, NO_ANSWER, subscription=subscription)
            outcome.uncertain += 1
        elif result.transient and notification.attempts < MAX_ATTEMPTS:
            notification.status, notification.error, notification.retry_at = PENDING, result.error, retry_at
            notification.handed_off_at = notification.claim_token = notification.lease_until = None
            outcome.retrying += 1
        else:
            _mark_failed(session, notification, subscription, result)
            outcome.failed += 1
    if len(rows) < len(results):
        log.warning("dispatch_claim_lost", step="record", notices=len(results) - len(rows))


def _mark_sent(session: Session, notification: Notification, subscription: Subscription,
               result: DeliveryResult, reminder_hours: int | None) -> None:
    now = utcnow()
    if notification.kind == RESTOCK:
        aggregates.status_changed(session, subscription.shop_id, subscription.variant_id, subscription.contact_id,
                                  subscription.status, NOTIFIED, now)
        aggregates.notice_sent(session, subscription.shop_id, subscription.variant_id, now)
        subscription.status, subscription.notified_at = NOTIFIED, now
        subscription.alerts_sent = (subscription.alerts_sent or 0) + 1  # the re-enrolment cap (dispatch.alert_cap)
        if reminder_hours is not None:
            notification.remind_at = now + timedelta(hours=reminder_hours)
    notification.sent_at, notification.provider_message_id = now, result.provider_message_id
    _finish(session, notification, SENT, "sent", subscription=subscription)


def _reminder_hours(session: Session, shop_ids: set[int]) -> dict[int, int | None]:
    """Each shop's ``reminder_hours`` (a sent restock notice stores when its reminder is due)."""
    shops = session.scalars(select(Shop).where(Shop.id.in_(shop_ids))) if shop_ids else []
    return {shop.id: settings_for(shop).reminder_hours for shop in shops}


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
    detail = {"channel": notification.channel, "attempts": notification.attempts}
    if notification.kind != RESTOCK:
        detail["kind"] = notification.kind
    if notification.error and status == FAILED:
        detail["error"] = notification.error[:300]
    session.add(Decision(
        shop_id=notification.shop_id, decision=decision, variant_id=subscription.variant_id,
        subscription_id=subscription.id, restock_event_id=notification.restock_event_id,
        notification_id=notification.id, detail=detail,
    ))


def _has_pending(session: Session, event_id: int | None, channel: str) -> bool:
    return session.scalar(select(Notification.id).where(*sendable(event_id, channel)).limit(1)) is not None
