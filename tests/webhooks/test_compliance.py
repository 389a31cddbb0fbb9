"""app/uninstalled and the privacy webhooks, delivered through POST /webhooks."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from plugin.models import (
    PENDING, SENT, SKIPPED, Contact, DataExport, Decision, InventoryLevel, Notification, RestockEvent, Shop,
    Subscription, Variant,
)
from tests.webhooks import payloads
from tests.webhooks.delivery import add_variant_row, add_waiting, deliver

SHOP, OTHER = "bells.myshopify.com", "boots.myshopify.com"
CUSTOMER_ID = payloads.CUSTOMER_ID


def count(session, model, **where) -> int:
    session.expire_all()
    query = select(func.count()).select_from(model)
    for name, value in where.items():
        query = query.where(getattr(model, name) == value)
    return session.execute(query).scalar_one()


@pytest.fixture
def shops(session) -> tuple[Shop, Shop]:
    pair = (Shop(domain=SHOP, name="Bells", settings={}, access_token="a", refresh_token="r"),
            Shop(domain=OTHER, name="Boots", settings={}))
    session.add_all(pair)
    session.commit()
    return pair


def notice(session, subscription: Subscription, status: str = PENDING) -> Notification:
    event = RestockEvent(shop_id=subscription.shop_id, variant_id=subscription.variant_id, available=3,
                         source="webhook")
    session.add(event)
    session.flush()
    row = Notification(shop_id=subscription.shop_id, subscription_id=subscription.id, restock_event_id=event.id,
                       channel=subscription.channel, status=status)
    session.add(row)
    session.commit()
    return row


def test_customer_redact_deletes_that_customers_contacts_only(client, session, runtime, shops):
    # given the customer by id, by email (as a guest) and by phone, and another shopper
    bells, boots = shops
    by_id = add_waiting(session, runtime.vault, bells.id, 1, value="someone@gmail.com", customer_id=CUSTOMER_ID)
    by_email = add_waiting(session, runtime.vault, bells.id, 2, value="john@example.com")
    by_phone = add_waiting(session, runtime.vault, bells.id, 3, value="+14155550123", channel="sms")
    stranger = add_waiting(session, runtime.vault, bells.id, 1, value="jane.doe@gmail.com")
    same_email_other_shop = add_waiting(session, runtime.vault, boots.id, 1, value="john@example.com")
    notice(session, by_email, status=SENT)
    payload = payloads.customers_redact(SHOP, email="John@Example.com", phone="+1 415-555-0123")
    kept = {stranger.id, same_email_other_shop.id}
    redacted = {by_id.id, by_email.id, by_phone.id}
    assert (count(session, Contact), count(session, Subscription), count(session, Notification)) == (5, 5, 1)
    # when
    response = deliver(client, "customers/redact", payload, shop=SHOP)
    # then
    assert response.status_code == 200
    remaining = set(session.scalars(select(Subscription.id)))
    assert remaining == kept
    assert not redacted & remaining
    assert (count(session, Contact), count(session, Notification)) == (2, 0)


def test_shop_redact_deletes_the_shop_and_everything_of_it(client, session, runtime, shops):
    # given data in both shops
    bells, boots = shops
    bells_id, boots_id = bells.id, boots.id
    notice(session, add_waiting(session, runtime.vault, bells.id, 1))
    add_variant_row(session, bells.id, 1, 11, 0)
    session.add(InventoryLevel(shop_id=bells.id, inventory_item_id=11, location_id=5, available=0))
    session.add(Decision(shop_id=bells.id, decision="restock_detected", variant_id=1))
    session.add(DataExport(shop_id=bells.id, customer_id=CUSTOMER_ID, payload_ciphertext="x"))
    session.commit()
    add_waiting(session, runtime.vault, boots.id, 1)
    # when
    response = deliver(client, "shop/redact", payloads.shop_redact(SHOP), shop=SHOP)
    # then
    assert response.status_code == 200
    assert [s.domain for s in session.scalars(select(Shop))] == [OTHER]
    for model in (Contact, Subscription, Notification, RestockEvent, InventoryLevel, Variant, Decision, DataExport):
        assert count(session, model, shop_id=bells_id) == 0
    assert count(session, Subscription, shop_id=boots_id) == 1


def test_data_request_exports_the_customers_data_encrypted(client, session, runtime, shops):
    # given
    bells, _ = shops
    subscription = add_waiting(session, runtime.vault, bells.id, 77, value="john@example.com")
    notice(session, subscription, status=SENT)
    add_waiting(session, runtime.vault, bells.id, 78, value="jane.doe@gmail.com")
    # when
    response = deliver(client, "customers/data_request", payloads.customers_data_request(SHOP),
                       shop=SHOP)
    # then
    assert response.status_code == 200
    export = session.scalars(select(DataExport)).one()
    assert (export.shop_id, export.shopify_request_id, export.customer_id) == (bells.id, 9999, CUSTOMER_ID)
    assert "john@example.com" not in export.payload_ciphertext
    data = json.loads(runtime.vault.decrypt(export.payload_ciphertext))
    assert [(c["channel"], c["value"]) for c in data["contacts"]] == [("email", "john@example.com")]
    [exported] = data["contacts"][0]["subscriptions"]
    assert (exported["variant_id"], exported["status"]) == (77, "waiting")
    assert [(n["kind"], n["channel"]) for n in exported["notifications_sent"]] == [("restock", "email")]


def test_uninstall_drops_tokens_and_skips_pending_notices(client, session, runtime, shops):
    # given a pending notice
    bells, _ = shops
    pending = notice(session, add_waiting(session, runtime.vault, bells.id, 1))
    # when
    response = deliver(client, "app/uninstalled", payloads.app_uninstalled(SHOP), shop=SHOP)
    # then
    assert response.status_code == 200
    session.expire_all()
    shop = session.get(Shop, bells.id)
    assert shop.uninstalled_at is not None
    assert (shop.access_token, shop.refresh_token) == (None, None)
    assert session.get(Notification, pending.id).status == SKIPPED
    assert session.get(RestockEvent, pending.restock_event_id).status == "cancelled"
    assert list(session.scalars(select(Decision.decision))) == ["skipped: app uninstalled"]


def test_privacy_webhook_for_an_unknown_shop_changes_nothing(client, session, runtime, shops):
    # given
    add_waiting(session, runtime.vault, shops[0].id, 1, value="john@example.com")
    # when
    payload = payloads.customers_redact("nobody.myshopify.com")
    response = deliver(client, "customers/redact", payload, shop="nobody.myshopify.com")
    # then
    assert response.status_code == 200
    assert count(session, Contact) == 1


def test_uninstall_triggered_before_a_reinstall_is_ignored(client, session, runtime, shops):
    # given the shop was uninstalled an hour ago and installed again since; Shopify's delivery of
    # that uninstall was late (retried) and arrives now
    bells, _ = shops
    waiting = add_waiting(session, runtime.vault, bells.id, 1)
    pending = notice(session, waiting)
    triggered_at = bells.installed_at - timedelta(hours=1)
    payload = payloads.app_uninstalled(SHOP)
    # when
    response = deliver(client, "app/uninstalled", payload, shop=SHOP, triggered_at=triggered_at)
    # then the new installation stands: tokens kept, notices still pending, nothing logged
    assert response.status_code == 200
    session.expire_all()
    shop = session.get(Shop, bells.id)
    assert (shop.uninstalled_at, shop.access_token, shop.refresh_token) == (None, "a", "r")
    assert session.get(Notification, pending.id).status == PENDING
    assert session.get(RestockEvent, pending.restock_event_id).status == "pending"
    assert count(session, Decision) == 0


def test_uninstall_triggered_after_the_install_is_applied(client, session, runtime, shops):
    # given
    bells, _ = shops
    payload = payloads.app_uninstalled(SHOP)
    # when
    response = deliver(client, "app/uninstalled", payload, shop=SHOP,
                       triggered_at=bells.installed_at + timedelta(seconds=1))
    # then
    assert response.status_code == 200
    session.expire_all()
    shop = session.get(Shop, bells.id)
    assert shop.uninstalled_at is not None
    assert (shop.access_token, shop.refresh_token) == (None, None)


def test_customer_redact_deletes_the_customers_decisions_and_subscriptions_under_a_shared_contact(
        client, session, runtime, shops):
    # given the customer's notice was sent and logged; logged in, they also waited with an address
    # another customer had registered first; a stranger's decisions stay
    bells, _ = shops
    mine = add_waiting(session, runtime.vault, bells.id, 1, value="john@example.com")
    sent = notice(session, mine, status=SENT)
    shared = add_waiting(session, runtime.vault, bells.id, 2, value="family@example.com", customer_id=555)
    session.get(Subscription, shared.id).customer_id = CUSTOMER_ID
    stranger = add_waiting(session, runtime.vault, bells.id, 1, value="jane.doe@gmail.com")
    session.add_all([
        Decision(shop_id=bells.id, decision="sent", subscription_id=mine.id, notification_id=sent.id),
        Decision(shop_id=bells.id, decision="skipped: app uninstalled", notification_id=sent.id),
        Decision(shop_id=bells.id, decision="unsubscribed", subscription_id=shared.id),
        Decision(shop_id=bells.id, decision="unsubscribed", subscription_id=stranger.id),
        Decision(shop_id=bells.id, decision="restock_detected", variant_id=1),
    ])
    session.commit()
    # when
    response = deliver(client, "customers/redact", payloads.customers_redact(SHOP), shop=SHOP)
    # then
    assert response.status_code == 200
    assert set(session.scalars(select(Subscription.id))) == {stranger.id}
    remaining = session.execute(select(Decision.decision, Decision.subscription_id).order_by(Decision.id)).all()
    assert remaining == [("unsubscribed", stranger.id), ("restock_detected", None)]
