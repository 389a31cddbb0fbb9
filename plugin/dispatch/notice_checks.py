"""What each kind of notice checks right before it goes, and which words it uses.

Planning already chose who gets a notice; these checks catch what changed since (an unsubscribe,
a bounce, a second restock that told the shopper first, the variant back before its ETA notice).
"""

from __future__ import annotations

from plugin.models import (
    CONFIRM, ETA, NOTIFIED, REMINDER, RESTOCK, UNSUBSCRIBED, WAITING, Contact, Notification, RestockEvent, Shop,
    Subscription, Variant,
)
from plugin.shop_settings import settings_for

# A reminder says "only N left" at this stock or below.
LOW_STOCK = 5


def skip_reason(notification: Notification, subscription: Subscription, contact: Contact,
                event: RestockEvent | None, variant: Variant | None, shop: Shop) -> str | None:
    if subscription.status == UNSUBSCRIBED:
        return "skipped: unsubscribed"
    if contact.suppressed_at is not None:
        # bounced, spam_report, opted_out, … (see plugin.measurement.events)
        return f"skipped: address suppressed ({contact.suppressed_reason or 'unknown'})"
    check = _KIND_CHECKS.get(notification.kind)  # kinds of other modules (apology, …) check themselves
    return check(subscription, event, variant, shop) if check else None


def _restock_check(subscription, event, variant, shop) -> str | None:
    # Two overlapping restocks (a short cool-down, a slow first dispatch) both plan a shopper who
    # was waiting at planning time; whichever batch reaches them second must not tell them again.
    # A shopper told *before* this restock was declared is enrolled again (did not buy).
    if subscription.status == NOTIFIED and subscription.notified_at >= event.created_at:
        return "skipped: already notified"
    return None


def _reminder_check(subscription, event, variant, shop) -> str | None:
    return None if subscription.status == NOTIFIED else "skipped: no longer told (waiting again)"


def _eta_check(subscription, event, variant, shop) -> str | None:
    if subscription.status != WAITING:
        return "skipped: no longer waiting"
    if variant is not None and variant.available is not None \
            and variant.available >= settings_for(shop).restock_minimum:
        return "skipped: back in stock"
    return None


def _confirm_check(subscription, event, variant, shop) -> str | None:
    if subscription.status != WAITING or subscription.confirm_by is None:
        return "skipped: no confirmation needed"
    return None


_KIND_CHECKS = {RESTOCK: _restock_check, REMINDER: _reminder_check, ETA: _eta_check, CONFIRM: _confirm_check}


def wording(kind: str, variant: Variant | None) -> str:
    """A reminder for a variant running low says how many are left."""
    low = variant is not None and variant.available is not None and variant.available <= LOW_STOCK
    return "reminder_low" if kind == REMINDER and low else kind
