"""orders/create and orders/cancelled through POST /webhooks: which purchases the notices recovered."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select

from plugin.clock import utcnow
from plugin.models import Attribution, Notification, Shop, Subscription
from tests.dispatch.builders import PRODUCT_ID, VARIANT_ID, make_shop, subscribe
from tests.webhooks.delivery import DEMO_SHOP, deliver

CUSTOMER_ID = 6015123456789


def _sent_notice(session, runtime, email: str, sent_days_ago: float = 1, customer_id: int | None = None,
                 code: str | None = None) -> Notification:
    shop = session.scalar(select(Shop)) or make_shop(session, domain=DEMO_SHOP, currency="EUR")
    subscription = subscribe(session, runtime.vault, shop, email, customer_id=customer_id, status="notified")
    notice = Notification(shop_id=shop.id, subscription_id=subscription.id, channel="email", kind="restock",
                          status="sent", sent_at=utcnow() - timedelta(days=sent_days_ago), discount_code=code)
    session.add(notice)
    session.commit()
    return notice


def _order(order_id: int = 1001, email: str = "someone@else.com", customer_id: int | None = None,
           lines: list | None = None, codes: tuple[str, ...] = (), placed=None) -> dict:
    return {"id": order_id, "name": f"#{order_id}", "email": email, "currency": "EUR",
            "created_at": (placed or utcnow()).isoformat(),
            "customer": {"id": customer_id, "email": email} if customer_id else None,
            "discount_codes": [{"code": c, "amount": "5.00", "type": "percentage"} for c in codes],
            "line_items": lines if lines is not None else [
                {"id": 1, "variant_id": VARIANT_ID, "product_id": PRODUCT_ID, "quantity": 2, "price": "49.00",
                 "total_discount": "9.80"}]}


def _attributions(session) -> list[tuple]:
    session.expire_all()
    return [(a.notification_id, a.order_id, a.matched_by, a.revenue, a.currency, a.cancelled_at is not None)
            for a in session.scalars(select(Attribution).order_by(Attribution.id))]


def test_a_guests_order_within_the_window_counts_by_contact_hash(client, session, runtime):
    # given a notice to a guest (no customer account) yesterday
    notice = _sent_notice(session, runtime, "ada@gmail.com")
    # when she orders the variant with her address typed in another case
    response = deliver(client, "orders/create", _order(email="Ada@GMail.com"))
    # then it counts once, with that variant's revenue net of its discount, in the shop's currency
    assert response.status_code == 200
    assert _attributions(session) == [(notice.id, 1001, "contact", Decimal("88.20"), "EUR", False)]


def test_a_linked_customers_order_counts_by_customer_id(client, session, runtime):
    # given a notice to a shopper who was logged in when she subscribed
    notice = _sent_notice(session, runtime, "grace@gmail.com", customer_id=CUSTOMER_ID)
    # when she orders from another address
    deliver(client, "orders/create", _order(email="work@company.example", customer_id=CUSTOMER_ID))
    # then
    assert _attributions(session) == [(notice.id, 1001, "customer", Decimal("88.20"), "EUR", False)]


def test_an_order_outside_the_window_does_not_count(client, session, runtime):
    # given a notice eleven days ago (the window is 10 days)
    _sent_notice(session, runtime, "ada@gmail.com", sent_days_ago=11)
    # when
    deliver(client, "orders/create", _order(email="ada@gmail.com"))
    # then
    assert _attributions(session) == []


def test_an_order_with_the_notices_code_counts_whoever_places_it(client, session, runtime):
    # given a notice with a personal code, long ago
    notice = _sent_notice(session, runtime, "ada@gmail.com", sent_days_ago=30, code="BACK-7KQ2-M9XD")
    # when a different address orders with that code
    deliver(client, "orders/create", _order(email="friend@gmail.com", codes=("BACK-7KQ2-M9XD",)))
    # then
    assert _attributions(session) == [(notice.id, 1001, "code", Decimal("88.20"), "EUR", False)]


def test_lines_without_a_variant_break_nothing(client, session, runtime):
    # given a notice, and an order whose lines are a custom item and a deleted variant
    _sent_notice(session, runtime, "ada@gmail.com")
    lines = [{"id": 1, "variant_id": None, "title": "Gift wrap", "quantity": 1, "price": "3.00"},
             {"id": 2, "variant_id": None, "product_id": None, "title": "Gone", "quantity": 1, "price": "20.00"}]
    # when
    response = deliver(client, "orders/create", _order(email="ada@gmail.com", lines=lines))
    # then
    assert response.status_code == 200
    assert _attributions(session) == []


def test_a_second_purchase_is_not_counted_twice(client, session, runtime):
    # given a notice and a first order that counted
    notice = _sent_notice(session, runtime, "ada@gmail.com")
    deliver(client, "orders/create", _order(order_id=1001, email="ada@gmail.com"))
    # when she buys again, and Shopify repeats the first webhook under a new id
    deliver(client, "orders/create", _order(order_id=1002, email="ada@gmail.com"))
    deliver(client, "orders/create", _order(order_id=1001, email="ada@gmail.com"))
    # then only the first purchase counts
    assert _attributions(session) == [(notice.id, 1001, "contact", Decimal("88.20"), "EUR", False)]


def test_the_last_notice_before_the_order_gets_the_credit(client, session, runtime):
    # given two notices to the same shopper for the same variant (two restocks)
    older = _sent_notice(session, runtime, "ada@gmail.com", sent_days_ago=5)
    newer = Notification(shop_id=older.shop_id, subscription_id=older.subscription_id, channel="email",
                         kind="reminder", status="sent", sent_at=utcnow() - timedelta(days=1))
    session.add(newer)
    session.commit()
    # when
    deliver(client, "orders/create", _order(email="ada@gmail.com"))
    # then
    assert [row[0] for row in _attributions(session)] == [newer.id]


def test_a_cancellation_takes_it_back(client, session, runtime):
    # given a recovered order
    notice = _sent_notice(session, runtime, "ada@gmail.com")
    deliver(client, "orders/create", _order(order_id=1001, email="ada@gmail.com"))
    # when it is cancelled, and another order is cancelled
    deliver(client, "orders/cancelled", {**_order(order_id=1001, email="ada@gmail.com"), "cancel_reason": "customer"})
    deliver(client, "orders/cancelled", {**_order(order_id=5555), "cancel_reason": "customer"})
    # then it stops counting (the row stays, marked)
    assert _attributions(session) == [(notice.id, 1001, "contact", Decimal("88.20"), "EUR", True)]


def test_a_notice_that_failed_or_another_shoppers_order_does_not_count(client, session, runtime):
    # given a failed notice to ada, and a sent one to grace
    failed = _sent_notice(session, runtime, "ada@gmail.com")
    failed.status = "failed"
    _sent_notice(session, runtime, "grace@gmail.com")
    session.commit()
    # when ada orders
    deliver(client, "orders/create", _order(email="ada@gmail.com"))
    # then nothing counts
    assert _attributions(session) == []
    assert session.scalar(select(Subscription.status).where(Subscription.id == failed.subscription_id)) == "notified"
