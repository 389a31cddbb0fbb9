"""Subscribers reach the shop's Shopify customers: a handful of Admin API calls per thousand
subscribers (bulk mutations), every document valid on the schema, consent only as given."""

from __future__ import annotations

import json
import threading

import pytest
from sqlalchemy import insert, select, update

from plugin.clock import utcnow
from plugin.links.tokens import unsubscribe_url
from plugin.models import Contact, Shop, Subscription
from plugin.measurement.aggregates import wait_ended, write_pending
from plugin.measurement.customers import claim_due_shoppers
from plugin.measurement.tasks import sync_customers
from plugin.shopify.documents import customer_document_names, load_document
from tests.doubles.shopify_admin import DEMO_SHOP, validate_document
from tests.measurement.dashboard_builders import sign_up

NAMESPACE_KEY = ("$app:backbell", "waiting_variants")


def _shoppers(session, vault, shop, count: int, channel: str, consenting: int, variant_id: int = 5,
              customer_ids: dict[int, int] | None = None) -> list[str]:
    values = [f"bulk{i:05d}@gmail.com" if channel == "email" else f"+1415555{i:04d}" for i in range(count)]
    session.execute(insert(Contact), [{"shop_id": shop.id, "channel": channel, "value_ciphertext": vault.encrypt(v),
                                       "value_hash": vault.hash(channel, v)} for v in values])
    ids = dict(session.execute(select(Contact.value_hash, Contact.id).where(Contact.channel == channel)).all())
    now = utcnow()
    session.execute(insert(Subscription), [
        {"shop_id": shop.id, "contact_id": ids[vault.hash(channel, v)], "variant_id": variant_id, "channel": channel,
         "status": "waiting", "locale": "en", "consent_at": now if i < consenting else None,
         "customer_id": (customer_ids or {}).get(i)} for i, v in enumerate(values)])
    session.commit()
    return values


def _run(app):
    with app.app_context():
        sync_customers.delay()


def _customers(shopify_admin) -> dict:
    return {c["email"] or c["phone"]: c for c in shopify_admin.shops[DEMO_SHOP].customers.values()}


def test_a_thousand_subscribers_take_a_handful_of_calls(shopify_admin, installed_shop, runtime, app, session):
    # given 600 email shoppers (250 ticked marketing consent) and 400 texters (all consented to the
    # alert), waiting for variant 5; one of the emails is already a customer with the merchant's tags
    emails = _shoppers(session, runtime.vault, installed_shop, 600, "email", consenting=250)
    phones = _shoppers(session, runtime.vault, installed_shop, 400, "sms", consenting=400)
    state = shopify_admin.shops[DEMO_SHOP]
    state.customers[99] = {"id": 99, "email": emails[599], "phone": None, "tags": ["vip"], "metafields": {},
                           "email_consent": None}

    # when
    _run(app)

    # then: 7 Admin API calls (staged uploads, upsert + its poll, four runs, one poll for them all)
    operations = [r["operation"] for r in shopify_admin.graphql_requests()]
    assert operations == ["StagedUploadsCreate", "BulkMutationRun", "BulkOperations", "BulkMutationRun",
                          "BulkMutationRun", "BulkMutationRun", "BulkOperations"]
    assert shopify_admin.file_requests.count("upload") == 4
    customers = _customers(shopify_admin)
    assert len(customers) == 1000
    assert customers[emails[599]]["id"] == 99
    assert customers[emails[599]]["tags"] == ["vip", "backbell-waiting"]
    assert all(c["tags"][-1:] == ["backbell-waiting"] for c in customers.values())
    assert {c["metafields"][NAMESPACE_KEY] for c in customers.values()} == {
        ("list.variant_reference", json.dumps(["gid://shopify/ProductVariant/5"]))}
    consented = sorted(v for v, c in customers.items() if c["email_consent"])
    assert consented == sorted(emails[:250])
    assert {c["email_consent"]["marketingState"] for c in customers.values() if c["email_consent"]} == {"SUBSCRIBED"}
    assert all(not customers[p]["email_consent"] for p in phones)
    session.expire_all()
    assert session.scalar(select(Contact.id).where(Contact.customer_sync_due)) is None
    assert session.scalar(select(Contact.id).where(Contact.customer_id.is_(None))) is None


def test_nothing_due_means_no_call(shopify_admin, installed_shop, runtime, app, session):
    # given one shopper, synced once
    _shoppers(session, runtime.vault, installed_shop, 1, "email", consenting=0)
    _run(app)
    calls = len(shopify_admin.graphql_requests())
    # when
    _run(app)
    # then
    assert calls == 6
    assert len(shopify_admin.graphql_requests()) == calls


def test_a_linked_customer_is_not_looked_up_and_a_finished_wait_takes_the_tag_off(
        shopify_admin, installed_shop, runtime, app, client, session):
    # given a logged-in shopper (customer 7000) waiting, synced
    state = shopify_admin.shops[DEMO_SHOP]
    state.customers[7000] = {"id": 7000, "email": "grace@gmail.com", "phone": None, "tags": [], "metafields": {},
                             "email_consent": None}
    _shoppers(session, runtime.vault, installed_shop, 1, "email", consenting=0, customer_ids={0: 7000})
    _run(app)
    first = [r["operation"] for r in shopify_admin.graphql_requests()]

    # when her wait ends (she unsubscribes) while another shopper starts waiting, and the sync runs again
    subscription_id = session.scalar(select(Subscription.id))
    sign_up(session, runtime, installed_shop, ["keep@gmail.com"], variant_id=6)
    link = unsubscribe_url(runtime.settings.app_url, runtime.settings.link_secret, subscription_id)
    client.post(link, data={"List-Unsubscribe": "One-Click"})
    _run(app)

    # then no upsert was needed for her, and now she carries no tag and an empty list
    assert first == ["StagedUploadsCreate", "BulkMutationRun", "BulkMutationRun", "BulkOperations"]
    assert state.customers[7000]["tags"] == []
    assert state.customers[7000]["metafields"][NAMESPACE_KEY] == ("list.variant_reference", "[]")
    assert _customers(shopify_admin)["keep@gmail.com"]["tags"] == ["backbell-waiting"]


def test_a_shop_that_turned_it_off_sends_nothing(shopify_admin, installed_shop, runtime, app, session):
    # given
    session.execute(update(Shop).values(settings={"sync_customers": False}))
    _shoppers(session, runtime.vault, installed_shop, 3, "email", consenting=3)
    # when
    _run(app)
    # then
    assert shopify_admin.graphql_requests() == []
    assert shopify_admin.shops[DEMO_SHOP].customers == {}
    assert len(list(session.scalars(select(Contact.id).where(Contact.customer_sync_due)))) == 3


@pytest.mark.pg_only
def test_a_wait_ending_while_the_sync_reads_is_synced_or_stays_due(installed_shop, runtime, session):
    # given a shopper waiting for variant 5, due for the sync; her wait ends (a restock notice is
    # recorded) in a transaction that has marked her and not committed yet
    _shoppers(session, runtime.vault, installed_shop, 1, "email", consenting=0)
    contact_id, subscription_id = session.execute(select(Subscription.contact_id, Subscription.id)).one()
    recording = runtime.db.sessionmaker()
    recording.execute(update(Subscription).where(Subscription.id == subscription_id).values(status="notified"))
    wait_ended(recording, installed_shop.id, 5, contact_id)
    write_pending(recording)

    # when the sync claims its due shoppers meanwhile, and the notice's transaction then commits
    claimed = {}

    def sync_claims() -> None:
        with runtime.db.session() as sync:
            claimed["shoppers"] = claim_due_shoppers(sync, runtime.vault, installed_shop)

    sync = threading.Thread(target=sync_claims)
    sync.start()
    sync.join(timeout=1.0)
    waited_on_the_row = sync.is_alive()
    recording.commit()
    recording.close()
    sync.join(timeout=10)

    # then the sync waited for the commit and read the ended wait: Shopify gets no stale "waiting"
    assert waited_on_the_row
    [shopper] = claimed["shoppers"]
    assert (shopper.contact_id, shopper.waited) == (contact_id, [])
    session.expire_all()
    assert session.scalar(select(Contact.customer_sync_due).where(Contact.id == contact_id)) is False


@pytest.mark.parametrize("name", customer_document_names())
def test_every_customer_document_validates_against_the_admin_schema(name):
    assert validate_document(load_document(name)) == []
