"""Real activity for the dashboard tests: shoppers sign up through intake, a restock is dispatched to
the outbox, orders arrive as signed ``orders/create`` webhooks — every counter is reached the way
production reaches it."""

from __future__ import annotations

import itertools
from datetime import datetime
from decimal import Decimal

from plugin.clock import utcnow
from plugin.dispatch.tasks import dispatch_restock
from plugin.intake.subscriptions import SubscribeRequest, subscribe
from plugin.models import Shop
from tests.admin.test_api import _bearer
from tests.dispatch.builders import PRODUCT_ID, VARIANT_ID, make_event, make_variant
from tests.webhooks.delivery import deliver

_orders = itertools.count(5001)


def sign_up(session, runtime, shop: Shop, emails: list[str], variant_id: int = VARIANT_ID,
            consent: bool = False) -> list[int]:
    ids = [subscribe(session, runtime.vault, shop, SubscribeRequest(variant_id=variant_id, email=email,
                                                                    consent=consent or None)).subscription_id
           for email in emails]
    session.commit()
    return ids


def tell(app, session, shop: Shop, variant_id: int = VARIANT_ID) -> None:
    event = make_event(session, shop, variant_id=variant_id)
    session.commit()
    with app.app_context():
        dispatch_restock.delay(event.id)


def told_and_bought(app, client, session, runtime, shop: Shop, told: int, bought: int,
                    price: str = "49.00", prefix: str = "buyer") -> list[str]:
    """``told`` shoppers told of a restock; the first ``bought`` of them order one unit at ``price``."""
    make_variant(session, shop, price=price)
    emails = [f"{prefix}{i}@gmail.com" for i in range(told)]
    sign_up(session, runtime, shop, emails)
    tell(app, session, shop)
    for email in emails[:bought]:
        order(client, shop, email, price)
    return emails


def order(client, shop: Shop, email: str, price: str, placed: datetime | None = None,
          order_id: int | None = None) -> int:
    order_id = order_id or next(_orders)
    payload = {"id": order_id, "email": email, "currency": shop.currency,
               "created_at": (placed or utcnow()).isoformat(), "discount_codes": [],
               "line_items": [{"id": 1, "variant_id": VARIANT_ID, "product_id": PRODUCT_ID, "quantity": 1,
                               "price": price, "total_discount": "0.00"}]}
    response = deliver(client, "orders/create", payload, shop=shop.domain)
    assert response.status_code == 200
    return order_id


def get_overview(client, app_config, shop_domain: str, **params):
    return client.get("/api/overview", query_string=params, headers=_bearer(app_config, shop=shop_domain))


def money(amount: str, currency: str = "USD") -> dict:
    return {"amount": str(Decimal(amount)), "currency_code": currency}
