"""VIP ordering from customer tags read in bulk (``nodes(ids:)``, 250 a call), cached for minutes;
a shopper whose tags cannot be read is not a VIP and the decision log says so."""

from __future__ import annotations

from sqlalchemy import insert, select

from plugin.dispatch.vip import UNREADABLE, refresh_customer_tags
from plugin.models import Contact, Decision, RestockEvent, Subscription
from tests.dispatch.release_helpers import (
    FIRST_CUSTOMER, VARIANT, decisions, email, outbox, restock, set_settings, sold_out_variant, waiting_shoppers,
)
from tests.webhooks.delivery import DEMO_SHOP


def _linked_shoppers(runtime, session, shopify_admin, shop_id: int, count: int, vips: set[int]) -> None:
    """``count`` waiting shoppers in registration order, each linked to a customer the double knows."""
    vault = runtime.vault
    session.execute(insert(Contact), [
        {"shop_id": shop_id, "channel": "email", "value_ciphertext": vault.encrypt(email(p)),
         "value_hash": vault.hash("email", email(p))} for p in range(count)])
    contact_ids = dict(session.execute(select(Contact.value_hash, Contact.id).where(Contact.shop_id == shop_id)).tuples().all())
    session.execute(insert(Subscription), [
        {"shop_id": shop_id, "contact_id": contact_ids[vault.hash("email", email(p))], "variant_id": VARIANT,
         "channel": "email", "locale": "en", "status": "waiting", "customer_id": FIRST_CUSTOMER + p}
        for p in range(count)])
    session.commit()
    for p in range(count):
        shopify_admin.add_customer(DEMO_SHOP, FIRST_CUSTOMER + p, ["VIP"] if p in vips else ["newsletter"])


def test_tags_of_1000_linked_shoppers_cost_four_calls_and_vips_go_first(
        shopify_admin, installed_shop, app, client, runtime, session, app_config):
    # given 1,000 waiting shoppers linked to customers; two of them are VIPs
    set_settings(runtime, vip_tags=["VIP"])
    sold_out_variant(session, shopify_admin, installed_shop.id)
    _linked_shoppers(runtime, session, shopify_admin, installed_shop.id, 1000, vips={500, 999})

    # when one unit comes back (3 shoppers)
    restock(client, shopify_admin, 1)

    # then the tags cost 4 calls of at most 250 ids (each validated against Shopify's schema by the
    # double), and the VIPs are told first
    calls = shopify_admin.graphql_requests("CustomerTags")
    assert [len(call["variables"]["ids"]) for call in calls] == [250, 250, 250, 250]
    assert shopify_admin.validation_failures == []
    assert [line["to"] for line in outbox(app_config)] == [email(500), email(999), email(0)]


def test_tags_read_minutes_ago_are_not_read_again(shopify_admin, installed_shop, app, client, runtime, session):
    # given tags read for a restock's candidates
    set_settings(runtime, vip_tags=["VIP"])
    sold_out_variant(session, shopify_admin, installed_shop.id)
    waiting_shoppers(runtime, session, shopify_admin, installed_shop.id, 5, vips=(3,))
    session.add(RestockEvent(shop_id=installed_shop.id, variant_id=VARIANT, previous_available=0, available=1,
                             source="webhook"))
    session.commit()
    event_id = session.scalar(select(RestockEvent.id))
    assert refresh_customer_tags(runtime, event_id) == []

    # when the tags are needed again right away
    unreadable = refresh_customer_tags(runtime, event_id)

    # then Shopify is not asked again
    assert unreadable == []
    assert len(shopify_admin.graphql_requests("CustomerTags")) == 1


def test_a_shopper_whose_tags_cannot_be_read_is_not_a_vip_and_the_log_says_so(
        shopify_admin, installed_shop, app, client, runtime, session, app_config):
    # given 4 shoppers; shopper 3 was a VIP but the customer was deleted in Shopify
    set_settings(runtime, vip_tags=["VIP"], batch_per_unit=1)
    sold_out_variant(session, shopify_admin, installed_shop.id)
    subscriptions = waiting_shoppers(runtime, session, shopify_admin, installed_shop.id, 4, vips=(2, 3))
    shopify_admin.shops[DEMO_SHOP].customers.pop(FIRST_CUSTOMER + 3)

    # when 2 units come back (2 shoppers)
    restock(client, shopify_admin, 2)

    # then the readable VIP goes first, the unreadable one takes a registration place
    assert [line["to"] for line in outbox(app_config)] == [email(2), email(0)]
    assert decisions(runtime, Decision.decision == UNREADABLE) == [(subscriptions[3], UNREADABLE)]


def test_when_shopify_refuses_the_tags_nobody_is_a_vip_and_the_restock_still_goes_out(
        shopify_admin, installed_shop, app, client, runtime, session, app_config):
    # given 3 shoppers, one a VIP; Shopify will refuse the tags read (the grant lacks read_customers)
    set_settings(runtime, vip_tags=["VIP"], batch_per_unit=None)
    sold_out_variant(session, shopify_admin, installed_shop.id)
    subscriptions = waiting_shoppers(runtime, session, shopify_admin, installed_shop.id, 3, vips=(2,))
    shopify_admin.deny("CustomerTags")

    # when
    restock(client, shopify_admin, 5)

    # then everybody is told in registration order, each with the reason they were not ranked
    assert [line["to"] for line in outbox(app_config)] == [email(0), email(1), email(2)]
    assert decisions(runtime, Decision.decision == UNREADABLE) == [(s, UNREADABLE) for s in subscriptions]
