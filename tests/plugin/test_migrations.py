"""The migrations build exactly the schema the models declare (on the suite's backend), so a model
change without its migration — or two branches' migrations out of step — fails here."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from plugin.clock import utcnow
from plugin.migrate import upgrade
from plugin.models import Base


def test_migrated_database_matches_the_models(runtime):
    # given the test database, migrated to head at session start
    with runtime.db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        # when
        differences = compare_metadata(context, Base.metadata)
    # then
    assert differences == []


def test_seen_webhook_ids_survive_the_move_to_the_inbox(tmp_path):
    # given a database at the first schema with a seen webhook id
    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    upgrade(url, "0001")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO webhook_receipts (webhook_id, shop_domain, topic, received_at) "
                             "VALUES ('seen-1', 'a.myshopify.com', 'orders/create', ?)",
                             (utcnow().replace(tzinfo=None).isoformat(" "),))
    # when it is migrated to head
    upgrade(url)
    # then the id is a handled inbox row without a payload, so a repeat is still a duplicate
    with engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT webhook_id, topic, payload_ciphertext, processed_at IS NOT NULL "
                                    "FROM webhook_inbox").all()
    assert rows == [("seen-1", "orders/create", None, 1)]
    engine.dispose()


def test_the_counters_are_filled_from_the_rows_and_daily_counts_on_upgrade(tmp_path):
    # given a database at 0004 with a shop (UTC), a waiting and a told shopper, a purchase, and
    # 3 notices retention had already rolled up into daily_counts
    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    upgrade(url, "0004")
    engine = create_engine(url)
    at = "2026-03-02 10:00:00.000000"
    with engine.begin() as conn:
        run = conn.exec_driver_sql
        run("INSERT INTO shops (id, domain, timezone, currency, primary_locale, installed_at, settings, created_at) "
            "VALUES (1, 'a.myshopify.com', 'UTC', 'USD', 'en', ?, '{}', ?)", (at, at))
        for contact in (1, 2):
            run("INSERT INTO contacts (id, shop_id, channel, value_ciphertext, value_hash, created_at) "
                "VALUES (?, 1, 'email', 'x', ?, ?)", (contact, f"h{contact}", at))
        run("INSERT INTO subscriptions (id, shop_id, contact_id, variant_id, channel, status, locale, created_at, "
            "notified_at) VALUES (1, 1, 1, 7, 'email', 'waiting', 'en', ?, NULL), "
            "(2, 1, 2, 7, 'email', 'notified', 'en', ?, ?)", (at, at, at))
        run("INSERT INTO notifications (id, shop_id, subscription_id, channel, kind, status, attempts, sent_at, "
            "clicked_at, created_at) VALUES (1, 1, 2, 'email', 'restock', 'sent', 1, ?, ?, ?)", (at, at, at))
        run("INSERT INTO attributions (shop_id, notification_id, order_id, variant_id, matched_by, revenue, currency, "
            "purchased_at, created_at) VALUES (1, 1, 9, 7, 'contact', 49.00, 'USD', ?, ?)", (at, at))
        run("INSERT INTO daily_counts (shop_id, day, name, count) VALUES (1, '2026-01-05', 'notifications_sent', 3)")

    # when
    upgrade(url)

    # then
    with engine.connect() as conn:
        days = conn.exec_driver_sql("SELECT day, subscribed, unwaited, told, clicked, purchased, revenue "
                                    "FROM shop_days ORDER BY day").all()
        totals = conn.exec_driver_sql("SELECT variant_id, waiting, told, purchased FROM variant_totals").all()
        told_at = conn.exec_driver_sql("SELECT told_at IS NOT NULL FROM attributions").scalar()
    assert [tuple(d) for d in days] == [("2026-01-05", 0, 0, 3, 0, 0, 0), ("2026-03-02", 2, 1, 1, 1, 1, 49)]
    assert [tuple(t) for t in totals] == [(7, 1, 1, 1)]
    assert told_at == 1
    engine.dispose()
