"""The one-statement sign-up (PostgreSQL) against the general path: same answers, same rows, same counters."""

from __future__ import annotations

import threading

import pytest
from psycopg._queries import MAX_CACHED_STATEMENT_LENGTH
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import psycopg as pg_psycopg

from plugin.clock import frozen, utcnow
from plugin.intake import signup_statement
from plugin.intake.shops import storefront_shop
from plugin.intake.subscriptions import (
    IntakeError,
    SubscribeRequest,
    store_subscription,
    store_subscription_at_once,
    validate_request,
)
from plugin.shop_settings import settings_for
from plugin.models import Contact, Shop, ShopDay, Subscription, Variant, VariantDay, VariantTotal
from tests.doubles.app_proxy import signed_proxy_url
from tests.intake.conftest import SECRET
from tests.sql_log import driver_log, sql_log

pytestmark = pytest.mark.pg_only  # reason: the one-statement path is PostgreSQL's; elsewhere it declines

KNOWN, UNKNOWN, NEVER = 44012345678901, 44012345678902, 44012345678903


@pytest.fixture
def variants(session, shop):
    session.add_all([Variant(shop_id=shop.id, variant_id=KNOWN, product_id=801, available=0),
                     Variant(shop_id=shop.id, variant_id=NEVER, product_id=802, available=0,
                             inventory_policy="CONTINUE")])
    session.commit()


# A shopper's story, told the same way to both paths: (what happens, the request or the set-up).
STORY = [
    ("sign up", dict(variant_id=KNOWN, email="ana@shopper.dev", locale="fr", consent=True)),
    ("sign up", dict(variant_id=KNOWN, email="ANA@shopper.dev")),  # already waiting
    ("sign up", dict(variant_id=UNKNOWN, email="ana@shopper.dev", customer_id=7001)),  # keeps the customer id
    ("sign up", dict(variant_id=NEVER, email="ben@shopper.dev")),  # never alerts: nothing stored
    ("sign up", dict(variant_id=NEVER, email="ana@shopper.dev")),  # never alerts, known contact
    ("sign up", dict(variant_id=KNOWN, phone="+4915123456789", channel="sms", consent=True, customer_id=7002)),
    ("synced", "ana@shopper.dev"),
    ("sign up", dict(variant_id=KNOWN, email="ana@shopper.dev", customer_id=7003)),  # waiting: no new wait
    ("notified", "ana@shopper.dev"),
    ("sign up", dict(variant_id=KNOWN, email="ana@shopper.dev")),  # a new wait: due for the sync again
    ("suppress", "cat@shopper.dev"),
    ("sign up", dict(variant_id=KNOWN, email="cat@shopper.dev")),  # suppressed
]


def _tell(story_path, runtime, session, shop_id):
    answers = []
    for step, detail in STORY:
        if step == "sign up":
            customer_id = detail.pop("customer_id", None) if isinstance(detail, dict) else None
            request = SubscribeRequest(**detail, customer_id=customer_id)
            detail["customer_id"] = customer_id
            with runtime.db.autocommit() as connection:
                shop = storefront_shop(connection, "bells-and-boots.myshopify.com")
            try:
                answers.append(story_path(runtime, shop, validate_request(shop, request)))
            except IntakeError as err:
                answers.append(err.code)
        else:
            value_hash = runtime.vault.hash("email", detail)
            if step == "suppress":
                session.add(Contact(shop_id=shop_id, channel="email", value_ciphertext=runtime.vault.encrypt(detail),
                                    value_hash=value_hash, suppressed_at=utcnow(), suppressed_reason="bounce"))
            elif step == "synced":
                session.execute(update(Contact).where(Contact.value_hash == value_hash).values(customer_sync_due=False))
            elif step == "notified":
                contact_id = session.scalar(select(Contact.id).where(Contact.value_hash == value_hash))
                session.execute(update(Subscription).where(Subscription.contact_id == contact_id)
                                .values(status="notified"))
            session.commit()
    return answers


def _general(runtime, shop, valid):
    with runtime.db.session() as own:
        result = store_subscription(own, runtime.vault, own.get(Shop, shop.id), valid)
    return result.status, result.variant_known


def _at_once(runtime, shop, valid):
    with runtime.db.autocommit() as connection:
        result = store_subscription_at_once(connection, runtime.vault, shop, valid, settings_for(shop))
    assert result is not None, "the one-statement path declined a plain sign-up"
    return result.status, result.variant_known


def _tables(session):
    """Every column of every row the paths write, but ids (the contact as its hash) and Fernet's
    ciphertext (random per encryption)."""
    session.expire_all()
    hashes = dict(session.execute(select(Contact.id, Contact.value_hash)).all())

    def rows(model, leave_out=("id",), mapped=None):
        columns = [c for c in model.__table__.columns if c.key not in leave_out]
        return sorted((tuple(hashes[getattr(row, c.key)] if c.key == mapped else getattr(row, c.key) for c in columns)
                       for row in session.scalars(select(model))), key=repr)

    return {
        "contacts": rows(Contact, leave_out=("id", "value_ciphertext")),
        "subscriptions": rows(Subscription, mapped="contact_id"),
        **{model.__tablename__: rows(model, leave_out=()) for model in (ShopDay, VariantDay, VariantTotal)},
    }


def test_one_statement_answers_and_writes_what_the_general_path_does(runtime, session, shop, variants):
    # given the same story told through the general path, then (on a clean slate) in one statement,
    # at the same moment of the app's clock
    with frozen(utcnow()):
        general = _tell(_general, runtime, session, shop.id)
        written_by_general = _tables(session)
        session.execute(Subscription.__table__.delete())
        session.execute(Contact.__table__.delete())
        for model in (ShopDay, VariantDay, VariantTotal):
            session.execute(model.__table__.delete())
        session.commit()

        # when
        at_once = _tell(_at_once, runtime, session, shop.id)

    # then: every answer and every row the same (ids aside)
    assert at_once == general
    assert general == [("subscribed", True), ("already_subscribed", True), ("subscribed", False),
                       "waiting_not_allowed", "waiting_not_allowed", ("subscribed", True),
                       ("already_subscribed", True), ("subscribed", True), "suppressed_contact"]
    assert _tables(session) == written_by_general
    assert written_by_general["variant_totals"]  # the counters were written, not just equal and empty


def test_a_sign_up_is_the_shop_read_and_one_statement_then_one_statement(client, runtime, shop, variants):
    # given the autocommit pool connected (a first connection asks the server for its version and settings)
    with runtime.db.autocommit():
        pass
    # when two shoppers sign up, one after the other
    url = signed_proxy_url("subscriptions", shop.domain, SECRET)
    with sql_log(runtime.db.engine) as sessions, sql_log(runtime.db.autocommit_engine) as connections:
        with driver_log() as first:
            response = client.post(url, json={"variant_id": KNOWN, "email": "dee@shopper.dev"})
        with driver_log() as second:
            again = client.post(url, json={"variant_id": KNOWN, "email": "eli@shopper.dev"})

    # then: one connection per request, no BEGIN/COMMIT round trips, nothing read twice; the second
    # finds the shop kept
    assert (response.status_code, again.status_code) == (201, 201)
    assert len(first) == 2, first
    assert "FROM shops" in first[0]
    assert [sql[:15] for sql in first[1:] + second] == ["WITH variant AS"] * 2
    assert (sessions.checkouts, connections.checkouts, connections.commits) == (0, 2, 0)


def test_concurrent_first_sign_ups_of_one_shopper_store_one_wait(app, runtime, session, shop, variants):
    # given five identical sign-ups at the same moment (the statement's snapshot cannot see a row
    # another one commits meanwhile: those take the general path); five: the per-contact limit
    barrier, statuses = threading.Barrier(5), []
    body = {"variant_id": KNOWN, "email": "race@shopper.dev"}

    def attempt():
        own = app.test_client()
        url = signed_proxy_url("subscriptions", shop.domain, SECRET)
        barrier.wait()
        statuses.append(own.post(url, json=body).status_code)

    threads = [threading.Thread(target=attempt) for _ in range(5)]

    # when
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # then
    assert sorted(statuses) == [200] * 4 + [201]
    assert session.scalars(select(Subscription.status)).all() == ["waiting"]
    assert len(session.scalars(select(Contact.id)).all()) == 1
    assert session.scalars(select(VariantTotal.waiting)).all() == [1]


def test_the_statement_stays_short_enough_for_psycopgs_query_cache():
    # psycopg re-parses a longer query on every execution (that cost a sign-up more than the rest
    # of the statement's client side)
    compiled = str(signup_statement._statement().compile(dialect=pg_psycopg.dialect()))

    assert len(compiled) <= MAX_CACHED_STATEMENT_LENGTH
