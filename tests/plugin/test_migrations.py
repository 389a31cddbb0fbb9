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
