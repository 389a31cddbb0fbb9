"""Shoppers who signed up by email unlinked are linked to Shopify customers by their address,
in bulk (``customers(query:)``, 100 addresses a call), when the merchant allows it — so a VIP who
did not log in still goes first. The double runs each search on Shopify's syntax."""

from __future__ import annotations

from sqlalchemy import insert, select

from plugin.dispatch.email_links import LOOKUP_FAILED
from plugin.dispatch.vip import refresh_customer_tags
from plugin.logging import configure_logging
from plugin.models import Contact, Decision, RestockEvent, Subscription
from tests.dispatch.release_helpers import (
    FIRST_CUSTOMER, VARIANT, decisions, email, outbox, restock, set_settings, sold_out_variant,
)
from tests.webhooks.delivery import DEMO_SHOP, add_waiting


def _unlinked(runtime, session, shop_id: int, addresses: list[str]) -> list[int]:
    """Waiting email shoppers in registration order, linked to no customer."""
    return [add_waiting(session, runtime.vault, shop_id, VARIANT, address).id for address in addresses]


def _customer_ids(runtime, subscription_ids: list[int]) -> list[int | None]:
    with runtime.db.session() as s:
        rows = dict(s.execute(select(Subscription.id, Subscription.customer_id)
                              .where(Subscription.id.in_(subscription_ids))).all())
    return [rows[i] for i in subscription_ids]


def _searches(shopify_admin) -> list[dict]:
    return [call["variables"] for call in shopify_admin.graphql_requests("CustomersByEmail")]


def test_a_vip_linked_by_email_goes_first_and_later_restocks_do_not_ask_again(
        shopify_admin, installed_shop, app, client, runtime, session, app_config):
    # given 3 shoppers who typed their address; the third is a VIP customer of the shop, the first
    # a customer without the tag, the second no customer at all
    set_settings(runtime, vip_tags=["VIP"], link_customers_by_email=True, batch_per_unit=1)
    sold_out_variant(session, shopify_admin, installed_shop.id)
    subscriptions = _unlinked(runtime, session, installed_shop.id, [email(0), email(1), email(2)])
    shopify_admin.add_customer(DEMO_SHOP, FIRST_CUSTOMER, ["newsletter"], email=email(0))
    shopify_admin.add_customer(DEMO_SHOP, FIRST_CUSTOMER + 2, ["VIP"], email=email(2).upper())

    # when one unit comes back (one shopper told)
    restock(client, shopify_admin, 1)

    # then one search found both customers, their tags came with it, and the VIP was told
    assert [line["to"] for line in outbox(app_config)] == [email(2)]
    assert len(_searches(shopify_admin)) == 1
    assert shopify_admin.graphql_requests("CustomerTags") == []
    assert _customer_ids(runtime, subscriptions) == [FIRST_CUSTOMER, None, FIRST_CUSTOMER + 2]

    # when the tags are needed again for another restock of the same shoppers
    session.add(RestockEvent(shop_id=installed_shop.id, variant_id=VARIANT, previous_available=0, available=1,
                             source="webhook"))
    session.commit()
    refresh_customer_tags(runtime, session.scalar(select(RestockEvent.id).order_by(RestockEvent.id.desc())))

    # then nobody is searched for again: the two are linked, the third was looked up moments ago
    assert len(_searches(shopify_admin)) == 1


def test_1000_unlinked_shoppers_cost_ten_searches_of_100_addresses(
        shopify_admin, installed_shop, app, client, runtime, session):
    # given 1,000 shoppers who typed their address; every 100th is a customer of the shop
    set_settings(runtime, vip_tags=["VIP"], link_customers_by_email=True)
    sold_out_variant(session, shopify_admin, installed_shop.id)
    vault = runtime.vault
    session.execute(insert(Contact), [
        {"shop_id": installed_shop.id, "channel": "email", "value_ciphertext": vault.encrypt(email(p)),
         "value_hash": vault.hash("email", email(p))} for p in range(1000)])
    contacts = session.execute(select(Contact.id).where(Contact.shop_id == installed_shop.id)
                               .order_by(Contact.id)).scalars().all()
    session.execute(insert(Subscription), [
        {"shop_id": installed_shop.id, "contact_id": contact_id, "variant_id": VARIANT, "channel": "email",
         "locale": "en", "status": "waiting"} for contact_id in contacts])
    session.commit()
    for p in range(0, 1000, 100):
        shopify_admin.add_customer(DEMO_SHOP, FIRST_CUSTOMER + p, ["VIP"] if p == 500 else [], email=email(p))

    # when one unit comes back
    restock(client, shopify_admin, 1)

    # then 10 searches of 100 addresses each (every document valid on Shopify's schema), 10 links
    searches = _searches(shopify_admin)
    assert [(call["first"], call["query"].count(" OR ") + 1) for call in searches] == [(100, 100)] * 10
    assert shopify_admin.validation_failures == []
    with runtime.db.session() as s:
        linked = s.scalars(select(Subscription.customer_id).where(Subscription.customer_id.is_not(None))
                           .order_by(Subscription.customer_id)).all()
    assert linked == [FIRST_CUSTOMER + p for p in range(0, 1000, 100)]


def test_without_the_merchants_permission_nobody_is_looked_up(
        shopify_admin, installed_shop, app, client, runtime, session, app_config):
    # given VIP tags but no permission to look customers up by email
    set_settings(runtime, vip_tags=["VIP"], batch_per_unit=None)
    sold_out_variant(session, shopify_admin, installed_shop.id)
    subscriptions = _unlinked(runtime, session, installed_shop.id, [email(0), email(1)])
    shopify_admin.add_customer(DEMO_SHOP, FIRST_CUSTOMER + 1, ["VIP"], email=email(1))

    # when
    restock(client, shopify_admin, 5)

    # then no search was made, nobody was linked, and registration order decided
    assert _searches(shopify_admin) == []
    assert _customer_ids(runtime, subscriptions) == [None, None]
    assert [line["to"] for line in outbox(app_config)] == [email(0), email(1)]


CRAFTED = [
    'a@x.com" OR tag:"VIP',      # closes the quotes and adds a term
    'b@x.com OR tag:VIP',        # unquoted connective
    'tag:VIP@x.com',             # a field inside the address
    'c\\" OR email:*@x.com',     # an escape that would eat the closing quote
    '"vip" OR (VIP)@x.com',      # parentheses and a free-text term
]


def test_an_address_with_quotes_or_connectives_cannot_widen_the_search(
        shopify_admin, installed_shop, app, client, runtime, session, app_config):
    # given shoppers with crafted addresses (stored as typed), a VIP customer none of them is, and a
    # customer whose quoted address is exactly one of them
    set_settings(runtime, vip_tags=["VIP"], link_customers_by_email=True, batch_per_unit=1)
    sold_out_variant(session, shopify_admin, installed_shop.id)
    subscriptions = _unlinked(runtime, session, installed_shop.id, [*CRAFTED, '"john doe"@x.com'])
    shopify_admin.add_customer(DEMO_SHOP, FIRST_CUSTOMER, ["VIP"], email="vip@x.com")
    shopify_admin.add_customer(DEMO_SHOP, FIRST_CUSTOMER + 1, [], email='"john doe"@x.com')

    # when one unit comes back
    restock(client, shopify_admin, 1)

    # then only the exact address was linked; the VIP customer matched no search, so registration
    # order decided
    assert _customer_ids(runtime, subscriptions) == [None] * len(CRAFTED) + [FIRST_CUSTOMER + 1]
    assert [line["to"] for line in outbox(app_config)] == [CRAFTED[0]]
    assert len(_searches(shopify_admin)) == 1


def test_a_failed_lookup_leaves_shoppers_unlinked_and_the_log_says_so(
        shopify_admin, installed_shop, app, client, runtime, session, app_config, capsys):
    # given structlog writing to this test's captured stderr, and 2 shoppers, the second a VIP customer; Shopify refuses the search (no read_customers)
    set_settings(runtime, vip_tags=["VIP"], link_customers_by_email=True, batch_per_unit=None)
    sold_out_variant(session, shopify_admin, installed_shop.id)
    subscriptions = _unlinked(runtime, session, installed_shop.id, [email(0), email(1)])
    shopify_admin.add_customer(DEMO_SHOP, FIRST_CUSTOMER + 1, ["VIP"], email=email(1))
    shopify_admin.deny("CustomersByEmail")
    configure_logging()

    # when
    restock(client, shopify_admin, 5)

    # then the restock still goes out, in registration order, each shopper with the reason
    assert [line["to"] for line in outbox(app_config)] == [email(0), email(1)]
    assert _customer_ids(runtime, subscriptions) == [None, None]
    assert decisions(runtime, Decision.decision == LOOKUP_FAILED) == [(s, LOOKUP_FAILED) for s in subscriptions]
    # and the log says why without naming anybody
    captured = capsys.readouterr()
    assert "customer_lookup_failed" in captured.err
    assert "shopper0@" not in captured.out + captured.err and "shopper1@" not in captured.out + captured.err
