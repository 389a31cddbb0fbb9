"""Recovered sales: which orders the notices brought back.

An order counts for a notice when it contains the told variant, was placed by the told shopper —
the customer linked at sign-up, or an order email/phone whose keyed hash is the contact's — within
the shop's window after the notice (default 10 days), or when it used the notice's discount code
(then the window and the shopper do not matter: the code was personal). Each notice counts once,
for its first purchase, with the revenue of the told variant's lines in the shop's currency; the
last notice before the order gets the credit. ``orders/cancelled`` takes it back.

Shopify sends ``orders/create`` at least once and sometimes late or twice: the unique notice
key makes a repeat a no-op. Line items without a variant (custom items, deleted variants) are
skipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from plugin.clock import utcnow
from plugin.crypto import Vault
from plugin.db import insert_for
from plugin.intake.contacts import ContactError, normalise_email, normalise_phone
from plugin.logging import get_logger
from plugin.measurement import aggregates
from plugin.models import SENT, Attribution, Contact, Notification, Shop, Subscription
from plugin.shop_settings import settings_for

log = get_logger(__name__)
MAX_ID = 2**63 - 1


@dataclass(frozen=True)
class OrderLine:
    variant_id: int
    revenue: Decimal


@dataclass(frozen=True)
class Order:
    order_id: int
    placed_at: datetime
    currency: str
    customer_id: int | None
    emails: tuple[str, ...]
    phones: tuple[str, ...]
    codes: tuple[str, ...]
    lines: tuple[OrderLine, ...]

    def revenue_for(self, variant_id: int) -> Decimal:
        return sum((line.revenue for line in self.lines if line.variant_id == variant_id), Decimal("0"))


def parse_order(payload: dict, shop_currency: str) -> Order | None:
    """The parts of an order webhook that attribution reads; None without a usable order id."""
    order_id = _id(payload.get("id"))
    if order_id is None:
        return None
    customer = payload.get("customer") if isinstance(payload.get("customer"), dict) else {}
    emails = {v for v in (payload.get("email"), payload.get("contact_email"), customer.get("email")) if _text(v)}
    phones = {v for v in (payload.get("phone"), customer.get("phone")) if _text(v)}
    codes = {c.get("code") for c in _dicts(payload.get("discount_codes")) if _text(c.get("code"))}
    lines = tuple(line for line in (_line(item) for item in _dicts(payload.get("line_items"))) if line)
    currency = payload.get("currency") if _text(payload.get("currency")) and len(payload["currency"]) == 3 else None
    return Order(order_id, _time(payload.get("created_at")), currency or shop_currency, _id(customer.get("id")),
                 tuple(sorted(emails)), tuple(sorted(phones)), tuple(sorted(codes)), lines)


def attribute_order(session: Session, vault: Vault, shop: Shop, order: Order) -> list[Attribution]:
    """Record the notices this order recovers (none twice); returns the new attributions."""
    window = timedelta(days=settings_for(shop).attribution_window_days)
    found: dict[int, tuple[Notification, int, str]] = {}
    for notification, variant_id in _told_with_code(session, shop, order):
        found.setdefault(notification.id, (notification, variant_id, "code"))
    for notification, variant_id, matched_by in _told_this_shopper(session, vault, shop, order, window):
        found.setdefault(notification.id, (notification, variant_id, matched_by))
    created = []
    for notification, variant_id, matched_by in _latest_per_variant(found.values()):
        attribution = _insert(session, shop, order, notification, variant_id, matched_by)
        if attribution is not None:
            created.append(attribution)
    if created:
        log.info("order_attributed", shop_id=shop.id, order_id=order.order_id, notices=[a.notification_id for a in created])
    return created


def cancel_order(session: Session, shop: Shop, order_id: int) -> int:
    """A cancelled order no longer counts; returns how many attributions it took back."""
    rows = session.scalars(select(Attribution).where(
        Attribution.shop_id == shop.id, Attribution.order_id == order_id, Attribution.cancelled_at.is_(None)))
    taken_back = 0
    for attribution in rows:
        attribution.cancelled_at = utcnow()
        aggregates.purchase(session, shop.id, attribution.variant_id, attribution.purchased_at, attribution.revenue,
                            attribution.told_at, sign=-1)
        taken_back += 1
    return taken_back


def _told_with_code(session: Session, shop: Shop, order: Order):
    if not order.codes:
        return []
    query = (select(Notification, Subscription.variant_id)
             .join(Subscription, Subscription.id == Notification.subscription_id)
             .where(Notification.shop_id == shop.id, Notification.status == SENT,
                    Notification.discount_code.in_(order.codes)))
    return session.execute(query).all()


def _told_this_shopper(session: Session, vault: Vault, shop: Shop, order: Order, window: timedelta):
    variant_ids = sorted({line.variant_id for line in order.lines})
    who = _shopper_matches(session, vault, shop, order)
    if not variant_ids or who is None:
        return []
    query = (select(Notification, Subscription.variant_id, Subscription.customer_id, Subscription.contact_id)
             .join(Subscription, Subscription.id == Notification.subscription_id)
             .where(Notification.shop_id == shop.id, Notification.status == SENT,
                    Subscription.variant_id.in_(variant_ids),
                    Notification.sent_at >= order.placed_at - window, Notification.sent_at <= order.placed_at, who))
    matches = []
    for notification, variant_id, customer_id, _contact_id in session.execute(query).all():
        by_customer = order.customer_id is not None and customer_id == order.customer_id
        matches.append((notification, variant_id, "customer" if by_customer else "contact"))
    return matches


def _shopper_matches(session: Session, vault: Vault, shop: Shop, order: Order):
    """The SQL condition 'this subscription is the ordering shopper's', or None when unknowable."""
    hashes = [h for email in order.emails for h in _hashes(vault, "email", email)]
    hashes += [h for phone in order.phones for h in _hashes(vault, "sms", phone)]
    contact_ids = list(session.scalars(select(Contact.id).where(
        Contact.shop_id == shop.id, Contact.value_hash.in_(hashes)))) if hashes else []
    conditions = []
    if order.customer_id is not None:
        conditions.append(Subscription.customer_id == order.customer_id)
    if contact_ids:
        conditions.append(Subscription.contact_id.in_(contact_ids))
    return or_(*conditions) if conditions else None


def _hashes(vault: Vault, kind: str, value: str) -> list[str]:
    try:
        normalised = normalise_email(value) if kind == "email" else normalise_phone(value, None)
    except ContactError:
        return []
    return vault.hashes(kind, normalised)


def _latest_per_variant(found):
    """One notice per variant gets the credit: one whose code was used, else the last one before
    the order."""
    best: dict[int, tuple[Notification, int, str]] = {}
    for candidate in found:
        notification, variant_id, matched_by = candidate
        current = best.get(variant_id)
        rank = (matched_by == "code", notification.sent_at, notification.id)
        if current is None or rank > (current[2] == "code", current[0].sent_at, current[0].id):
            best[variant_id] = candidate
    return best.values()


def _insert(session: Session, shop: Shop, order: Order, notification: Notification, variant_id: int,
            matched_by: str) -> Attribution | None:
    # The first purchase counts; a later one (or a repeated webhook) conflicts and does not.
    revenue = order.revenue_for(variant_id)
    values = dict(shop_id=shop.id, notification_id=notification.id, order_id=order.order_id, variant_id=variant_id,
                  matched_by=matched_by, revenue=revenue, currency=order.currency, purchased_at=order.placed_at,
                  told_at=notification.sent_at, created_at=utcnow())
    statement = (insert_for(session)(Attribution).values(**values)
                 .on_conflict_do_nothing(index_elements=["notification_id"]).returning(Attribution.id))
    attribution_id = session.execute(statement).scalar()
    if attribution_id is None:
        return None
    aggregates.purchase(session, shop.id, variant_id, order.placed_at, revenue, notification.sent_at)
    return session.get(Attribution, attribution_id)


def _line(item: dict) -> OrderLine | None:
    variant_id, quantity = _id(item.get("variant_id")), item.get("quantity")
    if variant_id is None or isinstance(quantity, bool) or not isinstance(quantity, int) or not 0 < quantity < 10**6:
        return None
    price, discount = _money(item.get("price")), _money(item.get("total_discount")) or Decimal("0")
    if price is None:
        return None
    return OrderLine(variant_id, max(Decimal("0"), price * quantity - discount))


def _money(value: object) -> Decimal | None:
    if not isinstance(value, (str, int)) or isinstance(value, bool) or len(str(value)) > 20:
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return None
    return amount if amount.is_finite() and amount >= 0 else None


def _id(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if 0 < value <= MAX_ID else None


def _text(value: object) -> bool:
    return isinstance(value, str) and 0 < len(value) <= 320


def _dicts(value: object) -> list[dict]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _time(value: object) -> datetime:
    if isinstance(value, str) and len(value) <= 40:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            parsed = None
        if parsed is not None and parsed.tzinfo is not None:
            return parsed
    return utcnow()
