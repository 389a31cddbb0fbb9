"""Which shoppers a restock may tell, as SQL terms over ``Subscription`` (joined to ``Contact``).

A subscription is a candidate for a restock of its variant when it is

- waiting (and confirmed, when the shop asked for double opt-in), or
- told at an earlier restock (before this one was declared) without buying since: shoppers who
  did not convert stay enrolled for the next restock, in their registration place. Only a true
  crossing (stock was below the minimum before) enrolls them again: an event declared for
  shoppers who subscribed while the variant was in stock must not tell the others twice.

Bought = a purchase attributed to one of the subscription's notices (``plugin.measurement.attribution``
matches orders by linked customer or contact hash) that was not cancelled.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import lru_cache

from sqlalchemy import ColumnElement, and_, bindparam, exists, false, func, or_, select
from sqlalchemy.orm import aliased

from plugin.db import UTCDateTime
from plugin.models import (
    NOTIFIED, PENDING, REMINDER, RESTOCK, SENDING, SENT, WAITING, Attribution, Contact, CustomerTags, Notification,
    RestockEvent, Subscription,
)


def linked_customer() -> ColumnElement[int]:
    """The Shopify customer a subscription belongs to: linked at sign-up, or through its contact."""
    return func.coalesce(Subscription.customer_id, Contact.customer_id)


def bought() -> ColumnElement[bool]:
    return exists(
        select(Attribution.id)
        .join(Notification, Notification.id == Attribution.notification_id)
        .where(Notification.subscription_id == Subscription.id, Attribution.cancelled_at.is_(None))
    )


def told_before(event: RestockEvent) -> ColumnElement[bool]:
    """Told at an earlier restock (the ORDER BY puts these after the shoppers still waiting)."""
    return _told_before(event.previous_available is not None, event.created_at)


def _told_before(crossing: bool, declared_at: datetime) -> ColumnElement[bool]:
    if not crossing:
        return false()
    return and_(Subscription.status == NOTIFIED, Subscription.notified_at < declared_at)


def candidate_terms(event: RestockEvent) -> list[ColumnElement[bool]]:
    """WHERE terms: the subscriptions this restock may tell (those already planned for it included)."""
    return enrolled_terms(event.shop_id, event.variant_id, told_before(event))


def enrolled_count(session, shop_id: int, variant_id: int, crossing: bool, now: datetime) -> int:
    """How many shoppers a restock declared now would have to tell (before it exists)."""
    params = {"shop_id": shop_id, "variant_id": variant_id, "declared_at": now} if crossing else \
        {"shop_id": shop_id, "variant_id": variant_id}
    return session.scalar(_enrolled_count_statement(crossing), params) or 0


@lru_cache(maxsize=None)
def _enrolled_count_statement(crossing: bool):
    """Built once (with bound parameters): building it costs more CPU than running it."""
    told = _told_before(crossing, bindparam("declared_at", type_=UTCDateTime()))
    terms = enrolled_terms(bindparam("shop_id"), bindparam("variant_id"), told)
    return select(func.count(Subscription.id)).where(*terms)


# Another waiting subscription of the same contact and variant (built once: an alias copies every column).
_AGAIN = Subscription.__table__.alias("waiting_again")
_OTHER_NOTICE, _OTHER_SUBSCRIPTION = aliased(Notification), aliased(Subscription)


def enrolled_terms(shop_id, variant_id, told: ColumnElement[bool]) -> list[ColumnElement[bool]]:
    """``shop_id`` and ``variant_id``: values or bound parameters."""
    signed_up_again = exists(select(_AGAIN.c.id).where(
        _AGAIN.c.contact_id == Subscription.contact_id, _AGAIN.c.variant_id == Subscription.variant_id,
        _AGAIN.c.status == WAITING))
    enrolled = or_(Subscription.status == WAITING, and_(told, ~bought(), ~signed_up_again))
    return [Subscription.shop_id == shop_id, Subscription.variant_id == variant_id,
            Subscription.confirm_by.is_(None), enrolled]


def not_planned_for(event_id: int) -> ColumnElement[bool]:
    return ~exists(select(Notification.id).where(
        Notification.subscription_id == Subscription.id, Notification.restock_event_id == event_id,
        Notification.kind == RESTOCK))


def is_vip(vip_tags: tuple[str, ...]) -> ColumnElement[bool] | None:
    """The subscription's linked customer carries one of ``vip_tags`` (cached tags, see
    ``plugin.dispatch.vip``); None when the shop has no VIP tags."""
    if not vip_tags:
        return None
    matches = [CustomerTags.tags.contains(f",{tag.lower()},", autoescape=True) for tag in vip_tags]
    return exists(select(CustomerTags.customer_id).where(
        CustomerTags.shop_id == Subscription.shop_id, CustomerTags.customer_id == linked_customer(), or_(*matches)))


def frequency_capped(event_id: int, now: datetime, cap_hours: int | None) -> ColumnElement[bool] | None:
    """The shopper (same contact, any variant) had an alert within ``cap_hours``, or has one on its
    way; None when the shop has no cap."""
    if cap_hours is None:
        return None
    other_notice, other_subscription = _OTHER_NOTICE, _OTHER_SUBSCRIPTION
    since = now - timedelta(hours=cap_hours)
    return exists(
        select(other_notice.id)
        .join(other_subscription, other_subscription.id == other_notice.subscription_id)
        .where(other_subscription.contact_id == Subscription.contact_id,
               other_notice.kind.in_((RESTOCK, REMINDER)),
               or_(other_notice.restock_event_id.is_(None), other_notice.restock_event_id != event_id),
               or_(and_(other_notice.status == SENT, other_notice.sent_at > since),
                   other_notice.status.in_((PENDING, SENDING))))
    )


def candidates(event: RestockEvent, *columns):
    """SELECT ``columns`` FROM subscriptions JOIN contacts WHERE candidate and not yet planned."""
    return (select(*columns)
            .select_from(Subscription)
            .join(Contact, Contact.id == Subscription.contact_id)
            .where(*candidate_terms(event), not_planned_for(event.id)))
