"""Links in a notice: the tracked link (``/r/<token>``), one-click unsubscribe (``/u/<token>``) and
the double opt-in confirmation (``/c/<token>``: a page whose button confirms, for the same reason).

``POST /u/<token>`` with ``List-Unsubscribe=One-Click`` is what mail clients send unattended
(RFC 8058), so it needs no page and no session; the GET only shows a confirmation page, because
link scanners and prefetchers follow GETs and must not unsubscribe anybody.
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, redirect, render_template_string, request
from sqlalchemy import select, update

from plugin.clock import utcnow
from plugin.dispatch.plan import find_variant
from plugin.dispatch.confirmation import confirm_subscription
from plugin.links.tokens import (
    InvalidLinkToken, read_click_token, read_confirm_token, read_subscribe_token, read_unsubscribe_token,
)
from plugin.logging import get_logger
from plugin.measurement import aggregates
from plugin.offers.apology import APOLOGY_CONSENT_VERSION
from plugin.offers.links import storefront_url
from plugin.models import OFFERED, UNSUBSCRIBED, WAITING, Decision, Notification, RestockEvent, Shop, Subscription

bp = Blueprint("plugin_links", __name__)
MAX_ROW_ID = 2**63 - 1
log = get_logger(__name__)

_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title></head>
<body style="font-family:Helvetica,Arial,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem;color:#111827;">
<h1 style="font-size:1.4rem;">{{ title }}</h1><p>{{ message }}</p>
{% if ask %}<form method="post"><input type="hidden" name="List-Unsubscribe" value="One-Click">
<button type="submit" style="padding:.6rem 1.2rem;font-size:1rem;">Unsubscribe</button></form>{% endif %}
{% if confirm %}<form method="post">
<button type="submit" style="padding:.6rem 1.2rem;font-size:1rem;">Confirm</button></form>{% endif %}
</body></html>"""


def _secrets() -> tuple[str, ...]:
    """Every key a link may be signed with: BACKBELL_LINK_SECRETS, newest first, then the Shopify
    secrets that signed links before the link secrets existed (mail sent before the upgrade)."""
    settings = current_app.extensions["backbell"].settings
    return settings.link_secrets + settings.shopify_secrets


def _db():
    return current_app.extensions["backbell"].db


@bp.get("/r/<token>")
def follow(token: str):
    """Record the first click on a notice and send the shopper to the variant on the storefront."""
    notification_id = _read(read_click_token, token)
    with _db().session() as session:
        notification = session.get(Notification, notification_id)
        if notification is None:
            abort(404, description="This link has expired: the notice it belonged to no longer exists.")
        first = session.execute(update(Notification).where(Notification.id == notification_id,
                                                           Notification.clicked_at.is_(None))
                                .values(clicked_at=utcnow())).rowcount
        if first:
            aggregates.notice_clicked(session, notification.shop_id, notification.subscription.variant_id)
        target = _storefront_url(session, notification)
    log.info("notice_clicked", notification_id=notification_id)
    return redirect(target, code=302)


def _storefront_url(session, notification: Notification) -> str:
    shop = session.get(Shop, notification.shop_id)
    event = session.get(RestockEvent, notification.restock_event_id) if notification.restock_event_id else None
    subscription = session.get(Subscription, notification.subscription_id)
    variant_id = event.variant_id if event else subscription.variant_id
    variant = find_variant(session, shop.id, variant_id)
    # Offers: the code applied, the cart, or the held unit's checkout (plugin.offers.links).
    return storefront_url(session, shop, notification, variant, variant_id)


@bp.get("/s/<token>")
def subscribe_from_apology(token: str):
    """One click from an apology: wait for the cancelled variant, consent recorded with the click."""
    subscription_id = _read(read_subscribe_token, token)
    with _db().session() as session:
        offered = session.get(Subscription, subscription_id)
        if offered is None:
            abort(404, description="This link has expired.")
        waiting = session.scalar(select(Subscription.id).where(
            Subscription.contact_id == offered.contact_id, Subscription.variant_id == offered.variant_id,
            Subscription.status == WAITING))
        if offered.status == OFFERED and waiting is None:
            aggregates.status_changed(session, offered.shop_id, offered.variant_id, offered.contact_id, OFFERED, WAITING)
            offered.status, offered.consent_at, offered.consent_version = WAITING, utcnow(), APOLOGY_CONSENT_VERSION
            session.add(Decision(shop_id=offered.shop_id, decision="subscribed", variant_id=offered.variant_id,
                                 subscription_id=offered.id, detail={"via": "apology link"}))
            log.info("subscribed_from_apology", subscription_id=offered.id, shop_id=offered.shop_id)
    return render_template_string(_PAGE, title="You're on the list", ask=False,
                                  message="We will tell you as soon as it is back in stock.")


@bp.get("/u/<token>")
def confirm_unsubscribe(token: str):
    """A small page asking the shopper to confirm (GETs are followed by link scanners)."""
    _read(read_unsubscribe_token, token)
    return render_template_string(_PAGE, title="Unsubscribe", ask=True,
                                  message="Stop the back-in-stock alert you asked for?")


@bp.post("/u/<token>")
def unsubscribe(token: str):
    """Unsubscribe: one-click from a mail client (RFC 8058) or the confirmation page's form."""
    subscription_id = _read(read_unsubscribe_token, token)
    if request.form.get("List-Unsubscribe") != "One-Click":
        abort(400, description="Send List-Unsubscribe=One-Click in the form body to unsubscribe.")
    with _db().session() as session:
        subscription = session.get(Subscription, subscription_id)
        if subscription is None:
            abort(404, description="This alert no longer exists; there is nothing to unsubscribe from.")
        for stopped in [subscription, *_later_waits(session, subscription)]:
            _unsubscribe(session, stopped)
    return render_template_string(_PAGE, title="Unsubscribed", ask=False,
                                  message="You will not get this alert any more.")


def _later_waits(session, subscription: Subscription) -> list[Subscription]:
    """The same shopper's waiting subscription for the same variant: the link in an old notice
    must stop the alert the page promises to stop, even after the shopper signed up again."""
    return list(session.scalars(select(Subscription).where(
        Subscription.contact_id == subscription.contact_id, Subscription.variant_id == subscription.variant_id,
        Subscription.status == WAITING, Subscription.id != subscription.id)))


def _unsubscribe(session, subscription: Subscription) -> None:
    if subscription.status == UNSUBSCRIBED:
        return
    aggregates.status_changed(session, subscription.shop_id, subscription.variant_id, subscription.contact_id,
                              subscription.counted_status, UNSUBSCRIBED)
    subscription.status, subscription.unsubscribed_at = UNSUBSCRIBED, utcnow()
    session.add(Decision(shop_id=subscription.shop_id, decision="unsubscribed", variant_id=subscription.variant_id,
                         subscription_id=subscription.id, detail={"via": "link"}))
    log.info("unsubscribed", subscription_id=subscription.id, shop_id=subscription.shop_id)


def _read(reader, token: str) -> int:
    try:
        row_id = reader(_secrets(), token)
    except InvalidLinkToken as err:
        abort(400, description=str(err))
    if not 0 < row_id <= MAX_ROW_ID:
        # Signed, but no row can have this id (a BIGINT column would raise: a 500).
        abort(400, description="this link is not valid")
    return row_id


@bp.get("/c/<token>")
def confirm_page(token: str):
    """Double opt-in: a page with the button that confirms (link scanners follow GETs)."""
    _read(read_confirm_token, token)
    return render_template_string(_PAGE, title="Confirm your alert", ask=False, confirm=True,
                                  message="Confirm that you want to be told when this item is back in stock.")


@bp.post("/c/<token>")
def confirm(token: str):
    """Confirm a double opt-in subscription: from now on the shopper waits for the restock."""
    subscription_id = _read(read_confirm_token, token)
    with _db().session() as session:
        confirmed = confirm_subscription(session, subscription_id, utcnow())
        target = (confirmed.shop_id, confirmed.variant_id) if confirmed else None
    if target is not None:
        _sync_variant(*target)
    title = "Confirmed" if target else "Nothing to confirm"
    message = ("You will be told when this item is back in stock." if target
               else "This alert is already confirmed, or it expired: sign up again on the product page.")
    return render_template_string(_PAGE, title=title, ask=False, confirm=False, message=message)


def _sync_variant(shop_id: int, variant_id: int) -> None:
    """A variant already back in stock is released to the shopper who just confirmed (the sync
    finds it in stock with somebody waiting); a failure here is left to reconciliation."""
    from plugin.inventory.tasks import sync_variant

    try:
        sync_variant.delay(shop_id, variant_id)
    except Exception as err:  # noqa: BLE001
        log.warning("variant_sync_enqueue_failed", shop_id=shop_id, variant_id=variant_id, error=type(err).__name__)
