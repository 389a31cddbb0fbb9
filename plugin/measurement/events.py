"""Delivery events from the providers, recorded against the notice they are about.

SendGrid's event webhook posts batches of events; each carries the ``custom_args`` we sent
(``notification_id``, ``shop_id``). Twilio posts one status callback per change of a message,
found by its message sid. Every event is stored once (``DeliveryEvent.provider_event_id`` is
unique, so SendGrid's at-least-once redeliveries count once) and moves the notice along:
delivered, opened, clicked, bounced. Bounces, spam reports and opt-outs suppress the address for
that shop — the next restock skips it and says why — and unsubscribes unsubscribe.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.clock import utcnow
from plugin.db import insert_for
from plugin.logging import get_logger
from plugin.measurement import aggregates
from plugin.models import UNSUBSCRIBED, Contact, Decision, DeliveryEvent, Notification, Subscription

log = get_logger(__name__)

SENDGRID_EVENTS = frozenset({"delivered", "open", "click", "bounce", "dropped", "spamreport", "unsubscribe",
                             "group_unsubscribe"})
# Events after which mail to the address must stop, with the reason the merchant sees.
SUPPRESSING = {"bounce": "bounced", "dropped": "dropped", "spamreport": "spam_report",
               "unsubscribe": "unsubscribed", "group_unsubscribe": "unsubscribed"}
UNSUBSCRIBING = frozenset({"spamreport", "unsubscribe", "group_unsubscribe"})
TWILIO_STATUSES = frozenset({"delivered", "undelivered", "failed"})
# Twilio error codes that mean the number will never take our messages.
TWILIO_PERMANENT = {21610: "opted_out", 30005: "undeliverable", 30006: "undeliverable", 21614: "undeliverable"}
MAX_ID = 2**63 - 1


@dataclass(frozen=True)
class ProviderEvent:
    provider: str
    provider_event_id: str
    notification_id: int
    shop_id: int | None  # SendGrid says which shop; a Twilio sid is enough on its own
    event: str
    occurred_at: datetime
    reason: str | None = None
    suppress_as: str | None = None
    unsubscribe: bool = False


@dataclass
class EventReport:
    recorded: int = 0
    duplicates: int = 0
    ignored: int = 0
    events: list[str] = field(default_factory=list)


def sendgrid_event(raw: object) -> ProviderEvent | None:
    """One SendGrid event, or None when it is not one of ours or not usable."""
    if not isinstance(raw, dict):
        return None
    event, event_id = raw.get("event"), raw.get("sg_event_id")
    notification_id, shop_id = _id(raw.get("notification_id")), _id(raw.get("shop_id"))
    if event not in SENDGRID_EVENTS or not isinstance(event_id, str) or not 0 < len(event_id) <= 120:
        return None
    if notification_id is None or shop_id is None:
        return None
    reason = raw.get("reason") if isinstance(raw.get("reason"), str) else raw.get("type")
    return ProviderEvent("sendgrid", f"sendgrid:{event_id}", notification_id, shop_id, event,
                         _time(raw.get("timestamp")), reason[:300] if isinstance(reason, str) else None,
                         SUPPRESSING.get(event), event in UNSUBSCRIBING)


def twilio_event(session: Session, form: dict[str, str]) -> ProviderEvent | None:
    """A Twilio status callback as an event (None for intermediate statuses or unknown messages)."""
    sid, status = form.get("MessageSid") or form.get("SmsSid"), form.get("MessageStatus") or form.get("SmsStatus")
    if status not in TWILIO_STATUSES or not sid or len(sid) > 64:
        return None
    notification_id = session.scalar(select(Notification.id).where(Notification.provider_message_id == sid))
    if notification_id is None:
        return None
    code = _id(form.get("ErrorCode"))
    suppress = TWILIO_PERMANENT.get(code) if code is not None else None
    return ProviderEvent("twilio", f"twilio:{sid}:{status}", notification_id, None, status, utcnow(),
                         f"error {code}" if code is not None else None, suppress, suppress == "opted_out")


def record_events(session: Session, events: list[ProviderEvent | None]) -> EventReport:
    """Store new events and apply them to their notices; repeats and strangers change nothing."""
    report = EventReport()
    usable = [e for e in events if e is not None]
    report.ignored = len(events) - len(usable)
    notifications = _notifications(session, {e.notification_id for e in usable})
    for event in usable:
        notification = notifications.get(event.notification_id)
        if notification is None or (event.shop_id is not None and notification.shop_id != event.shop_id):
            report.ignored += 1
            continue
        if not _insert(session, notification, event):
            report.duplicates += 1
            continue
        _apply(session, notification, event)
        report.recorded += 1
        report.events.append(event.event)
    return report


def _notifications(session: Session, ids: set[int]) -> dict[int, Notification]:
    found: dict[int, Notification] = {}
    ordered = sorted(ids)
    for start in range(0, len(ordered), 1000):
        chunk = ordered[start:start + 1000]
        found.update((n.id, n) for n in session.scalars(select(Notification).where(Notification.id.in_(chunk))))
    return found


def _insert(session: Session, notification: Notification, event: ProviderEvent) -> bool:
    statement = insert_for(session)(DeliveryEvent).values(
        provider_event_id=event.provider_event_id, shop_id=notification.shop_id, notification_id=notification.id,
        provider=event.provider, event=event.event, reason=event.reason, occurred_at=event.occurred_at,
        created_at=utcnow(),
    ).on_conflict_do_nothing(index_elements=["provider_event_id"]).returning(DeliveryEvent.id)
    return session.execute(statement).scalar() is not None


def _apply(session: Session, notification: Notification, event: ProviderEvent) -> None:
    at = event.occurred_at
    counts = _counts(session, notification)
    if event.event == "delivered":
        if notification.delivered_at is None:
            counts(aggregates.notice_delivered, at)
        notification.delivered_at = min(filter(None, (notification.delivered_at, at)))
    elif event.event == "open":
        if notification.opened_at is None:
            counts(aggregates.notice_opened, at)
        notification.opened_at = notification.opened_at or at
    elif event.event == "click":
        if notification.clicked_at is None:
            counts(aggregates.notice_clicked, at)
        notification.clicked_at = notification.clicked_at or at
    elif event.event in ("bounce", "dropped", "undelivered", "failed"):
        notification.bounced_at = notification.bounced_at or at
    if event.suppress_as or event.unsubscribe:
        _stop_contact(session, notification, event)


def _counts(session: Session, notification: Notification):
    """Counts the notice's first delivery, open or click for its variant, on the day it happened."""

    def count(counter, at: datetime) -> None:
        counter(session, notification.shop_id, notification.subscription.variant_id, at)

    return count


def _stop_contact(session: Session, notification: Notification, event: ProviderEvent) -> None:
    subscription = session.get(Subscription, notification.subscription_id)
    contact = session.get(Contact, subscription.contact_id) if subscription else None
    if contact is not None and event.suppress_as and contact.suppressed_at is None:
        contact.suppressed_at, contact.suppressed_reason = utcnow(), event.suppress_as
        session.add(Decision(shop_id=notification.shop_id, decision=f"suppressed: {event.suppress_as}",
                             variant_id=subscription.variant_id, subscription_id=subscription.id,
                             notification_id=notification.id, detail={"provider": event.provider}))
        log.info("contact_suppressed", shop_id=notification.shop_id, reason=event.suppress_as,
                 notification_id=notification.id)
    if subscription is not None and event.unsubscribe and subscription.status != UNSUBSCRIBED:
        aggregates.status_changed(session, subscription.shop_id, subscription.variant_id, subscription.contact_id,
                                  subscription.counted_status, UNSUBSCRIBED)
        subscription.status, subscription.unsubscribed_at = UNSUBSCRIBED, utcnow()
        session.add(Decision(shop_id=notification.shop_id, decision="unsubscribed", variant_id=subscription.variant_id,
                             subscription_id=subscription.id, detail={"via": event.provider, "event": event.event}))


def _id(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 19:
        value = int(value)
    return value if isinstance(value, int) and 0 < value <= MAX_ID else None


def _time(value: object) -> datetime:
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**40:
        return datetime.fromtimestamp(value, timezone.utc)
    return utcnow()
