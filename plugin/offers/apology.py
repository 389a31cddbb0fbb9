"""Stock-out cancellations won back: ``orders/cancelled`` with ``cancel_reason`` "inventory" earns
the customer an apology in their order's language, with a personal code and, per cancelled
variant, a one-click "tell me when it's back" link.

``record_apology`` runs inside the webhook's transaction: it stores the customer's email as a
contact (encrypted, like every contact), one *offered* subscription per cancelled variant (the
link turns it into a waiting one, with consent recorded) and one pending ``apology`` notice. The
beat's offers sweep sends pending apologies (``send_pending_apologies``): it creates the code in
Shopify first (a one-code discount on the cancelled products), then writes the message. One
apology per order: the order's discount row is the key, so a repeated webhook adds nothing.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from plugin.clock import utcnow
from plugin.db import insert_for
from plugin.dispatch.channels import channel_for
from plugin.dispatch.channels.base import OutgoingMessage
from plugin.dispatch.messages.locales import normalise_locale
from plugin.intake.contacts import ContactError, find_or_create_contact, normalise_email
from plugin.links.tokens import subscribe_url, unsubscribe_url
from plugin.logging import get_logger
from plugin.models import (
    FAILED, OFFERED, PENDING, SENDING, SENT, Contact, Decision, Discount, Notification, Shop, Subscription,
)
from plugin.offers.apology_words import render_apology
from plugin.offers.discounts import DiscountSpec, ensure_discount, new_code
from plugin.offers.notice import local_time
from plugin.offers.shopify_calls import OfferFailed, ShopifyOffers
from plugin.shop_settings import settings_for

log = get_logger(__name__)

APOLOGY_CONSENT_VERSION = "backbell-apology-link-1"


def record_apology(session: Session, vault, shop: Shop, order: dict) -> int | None:
    """The pending apology notice for an inventory cancellation (None for any other, or a repeat)."""
    if order.get("cancel_reason") != "inventory" or not isinstance(order.get("id"), int):
        return None
    lines = _cancelled_variants(order)
    email = _email(order)
    if not lines or email is None:
        session.add(Decision(shop_id=shop.id, decision="apology skipped: no email or no variant",
                             detail={"order_id": order["id"]}))
        return None
    settings = settings_for(shop)
    first = session.execute(insert_for(session)(Discount).values(
        shop_id=shop.id, order_id=order["id"], kind="apology", percent=settings.apology_discount_percent or 0,
        product_ids=sorted({p for _, p, _ in lines if p}), status="pending", created_at=utcnow(),
        ends_at=(utcnow() + timedelta(hours=settings.discount_expires_hours)).replace(microsecond=0),
    ).on_conflict_do_nothing().returning(Discount.id)).scalar_one_or_none()
    if first is None:
        return None  # this order's apology exists already
    customer_id = (order.get("customer") or {}).get("id") if isinstance(order.get("customer"), dict) else None
    contact = find_or_create_contact(session, vault, shop.id, "email", email,
                                     customer_id if isinstance(customer_id, int) else None)
    locale = normalise_locale(order.get("customer_locale"))
    offered = [Subscription(shop_id=shop.id, contact_id=contact.id, variant_id=variant_id, product_id=product_id,
                            channel="email", status=OFFERED, locale=locale, customer_id=contact.customer_id)
               for variant_id, product_id, _ in lines]
    session.add_all(offered)
    session.flush()
    notice = Notification(shop_id=shop.id, subscription_id=offered[0].id, channel="email", kind="apology",
                          status=PENDING, attempts=0)
    session.add(notice)
    session.flush()
    session.add(Decision(shop_id=shop.id, decision="apology planned", notification_id=notice.id, detail={
        "order_id": order["id"], "subscriptions": [s.id for s in offered],
        "titles": {str(v): title for v, _, title in lines}}))
    return notice.id


def _cancelled_variants(order: dict) -> list[tuple[int, int | None, str]]:
    seen: dict[int, tuple[int, int | None, str]] = {}
    for item in order.get("line_items") or []:
        if isinstance(item, dict) and isinstance(item.get("variant_id"), int):
            product = item.get("product_id") if isinstance(item.get("product_id"), int) else None
            seen.setdefault(item["variant_id"], (item["variant_id"], product, str(item.get("title") or "")))
    return list(seen.values())


def _email(order: dict) -> str | None:
    customer = order.get("customer") if isinstance(order.get("customer"), dict) else {}
    for value in (order.get("email"), order.get("contact_email"), customer.get("email")):
        if isinstance(value, str) and value.strip():
            try:
                return normalise_email(value)
            except ContactError:
                # Shopify took the order with it: an address our intake would query (a test
                # domain, say) is still the customer's. Only the shape is required.
                if value.count("@") == 1 and "." in value.split("@")[1]:
                    return value.strip().lower()
    return None


def send_pending_apologies(runtime, limit: int = 50) -> int:
    """Send the pending apologies (code first, in Shopify); how many went out."""
    with runtime.db.session() as session:
        ids = list(session.scalars(select(Notification.id).where(
            Notification.kind == "apology", Notification.status == PENDING).order_by(Notification.id).limit(limit)))
    return sum(_send_one(runtime, notification_id) for notification_id in ids)


def _send_one(runtime, notification_id: int) -> bool:
    with runtime.db.session() as session:
        claimed = session.execute(update(Notification).where(Notification.id == notification_id,
                                                             Notification.status == PENDING)
                                  .values(status=SENDING, attempts=Notification.attempts + 1,
                                          claimed_at=utcnow(), discount_code=Notification.discount_code)).rowcount
        if not claimed:
            return False
        notice = session.get(Notification, notification_id)
        shop = session.get(Shop, notice.shop_id)
        discount = _order_discount(session, notice)
        if discount.percent and notice.discount_code is None:
            notice.discount_code = new_code("SORRY")  # kept across retries: the discount is made with it
        spec = DiscountSpec(shop_id=shop.id, kind="apology", product_ids=tuple(discount.product_ids),
                            percent=discount.percent, ends_at=discount.ends_at, order_id=discount.order_id,
                            title=f"Sorry: order {discount.order_id}", code=notice.discount_code)
        domain = shop.domain
    code_problem = None
    if spec.percent:
        try:
            ensure_discount(runtime.db, ShopifyOffers(runtime, domain), spec)
        except OfferFailed as err:
            code_problem = str(err)
    with runtime.db.session() as session:
        notice = session.get(Notification, notification_id)
        if code_problem:
            notice.discount_code = None
        message = _message(runtime, session, notice, spec)
    result = channel_for(runtime.settings, "email").send([message])[0]
    with runtime.db.session() as session:
        notice = session.get(Notification, notification_id)
        notice.status, notice.sent_at = (SENT, utcnow()) if result.ok else (FAILED, None)
        notice.error, notice.provider_message_id = result.error, result.provider_message_id
        detail = {"reason": code_problem[:300]} if code_problem else None
        session.add(Decision(shop_id=notice.shop_id, decision="apology sent" if result.ok else "apology failed",
                             notification_id=notice.id, subscription_id=notice.subscription_id, detail=detail))
    return result.ok


def _plan(session: Session, notice: Notification) -> dict:
    """What ``record_apology`` noted for this notice: the order, the offered subscriptions, the titles."""
    return session.scalar(select(Decision.detail).where(Decision.notification_id == notice.id,
                                                        Decision.decision == "apology planned"))


def _order_discount(session: Session, notice: Notification) -> Discount:
    return session.scalar(select(Discount).where(Discount.shop_id == notice.shop_id,
                                                 Discount.order_id == _plan(session, notice)["order_id"]))


def _message(runtime, session: Session, notice: Notification, spec: DiscountSpec) -> OutgoingMessage:
    settings = runtime.settings
    first = session.get(Subscription, notice.subscription_id)
    shop = session.get(Shop, notice.shop_id)
    plan = _plan(session, notice)
    offered = list(session.scalars(select(Subscription).where(Subscription.id.in_(plan["subscriptions"]))
                                   .order_by(Subscription.id)))
    titles = {int(k): v for k, v in (plan.get("titles") or {}).items()}
    links = [(titles.get(s.variant_id) or str(s.variant_id), subscribe_url(settings.app_url, settings.link_secret, s.id))
             for s in offered]
    until = local_time(spec.ends_at, shop.timezone, first.locale, "MMMd") if notice.discount_code else None
    words = render_apology(first.locale, shop.name or shop.domain, links, notice.discount_code, spec.percent, until)
    contact = session.get(Contact, first.contact_id)
    notice.expires_at = spec.ends_at if notice.discount_code else None
    return OutgoingMessage(
        notification_id=notice.id, channel="email", to=runtime.vault.decrypt(contact.value_ciphertext),
        shop=shop.domain, kind="apology", variant_id=first.variant_id, locale=words.locale, subject=words.subject,
        text=words.text, html=words.html, url=links[0][1],
        unsubscribe_url=unsubscribe_url(settings.app_url, settings.link_secret, first.id),
        discount_code=notice.discount_code, expires_at=notice.expires_at,
        tracking={"notification_id": str(notice.id), "shop_id": str(shop.id)})

