"""Where a notice's link lands: the variant with the shopper's code applied, the cart with it, or
the held unit's checkout. Links go to the storefront's primary domain (the myshopify one until it
is known).

- product: ``/discount/<code>?redirect=/products/<handle>?variant=<id>`` (Shopify applies the code
  and redirects), or ``/products/<handle>?variant=<id>`` without a code;
- cart: ``/cart/<variant_id>:1?discount=<code>`` (a cart permalink: straight to checkout);
- a unit still held for the shopper: the draft order's checkout (``invoiceUrl``).

A variant that sold out again lands on the product page whatever the link target: an empty cart
is worse than a "sold out" page with the "notify me" form on it.
"""

from __future__ import annotations

from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.models import OFFER_ACTIVE, Hold, Notification, Shop, Variant
from plugin.shop_settings import settings_for


def storefront_url(session: Session, shop: Shop, notification: Notification, variant: Variant | None,
                   variant_id: int) -> str:
    host = f"https://{shop.primary_domain or shop.domain}"
    hold_url = session.scalar(select(Hold.invoice_url).where(Hold.notification_id == notification.id,
                                                             Hold.status == OFFER_ACTIVE))
    if hold_url:
        return hold_url
    settings = settings_for(shop)
    code = notification.discount_code
    in_stock = variant is not None and variant.available is not None and variant.available >= settings.restock_minimum
    if settings.link_target == "cart" and in_stock:
        cart = f"{host}/cart/{variant_id}:1"
        return f"{cart}?discount={quote(code, safe='')}" if code else cart
    if variant is None or not variant.product_handle:
        return f"{host}/discount/{quote(code, safe='')}" if code else f"{host}/"
    path = f"/products/{quote(variant.product_handle)}?variant={variant_id}"
    if code:
        return f"{host}/discount/{quote(code, safe='')}?redirect={quote(path, safe='')}"
    return host + path
