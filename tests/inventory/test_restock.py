"""detect_restock (pure) and record_restock (one event per crossing, decisions logged)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from plugin.clock import utcnow
from plugin.models import Decision, RestockEvent, Shop, Variant
from plugin.inventory.restock import detect_restock, lock_variant, record_in_stock_for_waiting, record_restock
from tests.sql_log import sql_log
from tests.webhooks.delivery import add_variant_row, add_waiting


@pytest.mark.parametrize(
    ("previous", "current", "minimum", "expected"),
    [
        (0, 1, 1, True),
        (None, 3, 1, True),
        (-2, 1, 1, True),
        (2, 5, 3, True),
        (0, 0, 1, False),
        (1, 5, 1, False),
        (None, 0, 1, False),
        (2, 2, 3, False),
        (5, 0, 1, False),
    ],
)
def test_detect_restock_is_a_crossing_of_the_minimum(previous, current, minimum, expected):
    assert detect_restock(previous, current, minimum) is expected


@pytest.fixture
def shop(session) -> Shop:
    shop = Shop(domain="bells.myshopify.com", name="Bells", settings={})
    session.add(shop)
    session.commit()
    return shop


def events(session) -> list[tuple]:
    return [(e.variant_id, e.previous_available, e.available, e.source)
            for e in session.scalars(select(RestockEvent).order_by(RestockEvent.id))]


def decisions(session) -> list[str]:
    return list(session.scalars(select(Decision.decision).order_by(Decision.id)))


def test_crossing_with_a_waiting_shopper_creates_one_event(session, runtime, shop):
    # given
    variant = add_variant_row(session, shop.id, 10, 20, 0)
    add_waiting(session, runtime.vault, shop.id, 10)
    # when the same quantity is recorded twice
    first = record_restock(session, shop, variant, 3, "webhook")
    second = record_restock(session, shop, variant, 3, "webhook")
    session.commit()
    # then
    assert first is not None and second is None
    assert events(session) == [(10, 0, 3, "webhook")]
    assert decisions(session) == ["restock_detected"]
    assert session.get(Variant, variant.id).last_restock_at is not None


def test_no_event_when_nobody_waits(session, shop):
    # given
    variant = add_variant_row(session, shop.id, 10, 20, 0)
    # when
    event = record_restock(session, shop, variant, 3, "webhook")
    session.commit()
    # then the quantity is still recorded
    assert event is None
    assert events(session) == []
    assert decisions(session) == ["skipped: nobody waiting"]
    assert session.get(Variant, variant.id).available == 3


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"inventory_policy": "CONTINUE"}, "skipped: backorder allowed"),
        ({"tracked": False}, "skipped: inventory not tracked"),
        ({"product_status": "DRAFT"}, "skipped: product draft"),
        ({"product_status": "ARCHIVED"}, "skipped: product archived"),
    ],
)
def test_variants_that_cannot_alert_get_no_event(session, runtime, shop, fields, reason):
    # given
    variant = add_variant_row(session, shop.id, 10, 20, 0, **fields)
    add_waiting(session, runtime.vault, shop.id, 10)
    # when
    event = record_restock(session, shop, variant, 3, "webhook")
    session.commit()
    # then
    assert event is None
    assert events(session) == []
    assert decisions(session) == [reason]


def test_cooldown_follows_the_shop_setting(session, runtime, shop):
    # given a restock 20 minutes ago, and a shop cool-down of 15 minutes
    shop.settings = {"cooldown_minutes": 15}
    variant = add_variant_row(session, shop.id, 10, 20, 0, last_restock_at=utcnow() - timedelta(minutes=20))
    add_waiting(session, runtime.vault, shop.id, 10)
    # when
    event = record_restock(session, shop, variant, 1, "reconcile")
    session.commit()
    # then
    assert event is not None
    assert events(session) == [(10, 0, 1, "reconcile")]


def test_inside_the_cooldown_no_event(session, runtime, shop):
    # given the default 30-minute cool-down and a restock 5 minutes ago
    variant = add_variant_row(session, shop.id, 10, 20, 0, last_restock_at=utcnow() - timedelta(minutes=5))
    add_waiting(session, runtime.vault, shop.id, 10)
    # when
    event = record_restock(session, shop, variant, 1, "webhook")
    session.commit()
    # then
    assert event is None
    assert decisions(session) == ["skipped: cool-down"]


def test_minimum_above_one_needs_that_many(session, runtime, shop):
    # given the merchant alerts only from 5 units
    shop.settings = {"restock_minimum": 5}
    variant = add_variant_row(session, shop.id, 10, 20, 0)
    add_waiting(session, runtime.vault, shop.id, 10)
    # when 3 then 6 arrive
    below = record_restock(session, shop, variant, 3, "webhook")
    above = record_restock(session, shop, variant, 6, "webhook")
    session.commit()
    # then
    assert below is None and above is not None
    assert events(session) == [(10, 3, 6, "webhook")]


def test_in_stock_with_waiters_and_no_open_event_is_a_restock_once(session, runtime, shop):
    # given a variant already in stock when somebody started waiting
    variant = add_variant_row(session, shop.id, 10, 20, 4)
    add_waiting(session, runtime.vault, shop.id, 10)
    # when checked twice
    first = record_in_stock_for_waiting(session, shop, variant, "sync")
    second = record_in_stock_for_waiting(session, shop, variant, "sync")
    session.commit()
    # then one event (the second finds it still pending)
    assert first is not None and second is None
    assert events(session) == [(10, None, 4, "sync")]


def test_a_variant_is_locked_once_per_transaction_and_read_afresh_in_the_next(runtime, session, shop):
    # given a mirrored variant and a count of the statements sent
    variant_pk = add_variant_row(session, shop.id, 3301, 3401, 0).id
    session.commit()
    with sql_log(runtime.db.engine) as sent, runtime.db.session() as work:
        # when the same transaction locks it twice (the webhook's path, then recording the restock)
        first = lock_variant(work, variant_pk)
        first.available = 7  # a change of this transaction, not yet flushed
        second = lock_variant(work, variant_pk)
        # then the second lock asked nothing and handed back the object with its change
        assert second is first and second.available == 7
        assert sum("FROM variants" in sql for sql in sent.statements) == 1
    # and once another transaction changed the row, the next transaction's lock reads it again
    with runtime.db.session() as other:
        other.get(Variant, variant_pk).available = 9
    with sql_log(runtime.db.engine) as sent, runtime.db.session() as work:
        assert lock_variant(work, variant_pk).available == 9
    assert sum("FROM variants" in sql for sql in sent.statements) == 1
