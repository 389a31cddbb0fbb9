"""EXPLAIN the beat's scans over a large ``notifications`` table.

Creates a scratch PostgreSQL database, migrates it to head, bulk-loads N notifications with
``generate_series`` (1,000 shoppers × N/1,000 restocks: all finished but the last restock's,
which has 900 pending and 100 sending rows — what the table looks like after months of use),
runs ANALYZE, then prints ``EXPLAIN`` of each statement ``plugin.dispatch.plan.beat_scans``
returns, and drops the database.

    python bench/explain_scans.py [--rows 1000000] [--admin-url postgresql://postgres@127.0.0.1:5432/postgres]

``tests/dispatch/test_beat_scans.py`` runs the same load on 200,000 rows and asserts the plans.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from pathlib import Path

import psycopg
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from plugin.clock import utcnow  # noqa: E402
from plugin.dispatch.plan import beat_scans  # noqa: E402
from plugin.migrate import upgrade  # noqa: E402

SHOPPERS = 1000
OPEN_PENDING, OPEN_SENDING = 900, 100
ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"

LOAD = [
    """INSERT INTO shops (id, domain, timezone, currency, primary_locale, installed_at, settings, created_at)
       VALUES (1, 'bench.myshopify.com', 'UTC', 'USD', 'en', now(), '{}', now())""",
    """INSERT INTO contacts (shop_id, channel, value_ciphertext, value_hash, created_at)
       SELECT 1, 'email', 'x', md5(i::text), now() FROM generate_series(1, :shoppers) AS i""",
    """INSERT INTO subscriptions (shop_id, contact_id, variant_id, channel, status, locale, created_at)
       SELECT 1, id, 1, 'email', 'notified', 'en', now() FROM contacts ORDER BY id""",
    """INSERT INTO restock_events (shop_id, variant_id, available, source, status, created_at)
       SELECT 1, 1, 5, 'bench', CASE WHEN e = :events THEN 'planned' ELSE 'done' END,
              now() - (:events - e) * interval '1 hour'
       FROM generate_series(1, :events) AS e""",
    # Finished restocks: mostly sent, a few failed / skipped / uncertain.
    """INSERT INTO notifications (shop_id, subscription_id, restock_event_id, channel, kind, status, attempts,
                                  claimed_at, handed_off_at, sent_at, created_at)
       SELECT 1, s.id, e.id, 'email', 'restock',
              CASE WHEN s.id % 97 = 0 THEN 'failed' WHEN s.id % 89 = 0 THEN 'skipped'
                   WHEN s.id % 997 = 0 THEN 'uncertain' ELSE 'sent' END,
              1, e.created_at, e.created_at, e.created_at, e.created_at
       FROM restock_events e CROSS JOIN subscriptions s WHERE e.status = 'done'""",
    # The restock being dispatched now: 100 sending inside their lease, 900 pending.
    """INSERT INTO notifications (shop_id, subscription_id, restock_event_id, channel, kind, status, attempts,
                                  claimed_at, claim_token, lease_until, created_at)
       SELECT 1, s.id, e.id, 'email', 'restock',
              CASE WHEN s.id <= :sending THEN 'sending' ELSE 'pending' END, CASE WHEN s.id <= :sending THEN 1 ELSE 0 END,
              CASE WHEN s.id <= :sending THEN now() END, CASE WHEN s.id <= :sending THEN 'bench' END,
              CASE WHEN s.id <= :sending THEN now() + interval '10 minutes' END, now()
       FROM restock_events e CROSS JOIN subscriptions s WHERE e.status = 'planned'""",
]


def create_database(admin_url: str, name: str) -> str:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    base = admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    return f"{base}/{name}"


def drop_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def load(conn: Connection, rows: int) -> None:
    """Bulk-load ``rows`` notifications (a multiple of 1,000) and ANALYZE."""
    events = max(rows // SHOPPERS, 2)
    params = {"shoppers": SHOPPERS, "events": events, "sending": OPEN_SENDING}
    for statement in LOAD:
        conn.execute(text(statement), params)
    conn.commit()
    conn.execute(text("ANALYZE"))
    conn.commit()


def explain(conn: Connection) -> dict[str, str]:
    """EXPLAIN of every beat scan, by name (nothing is executed: plain EXPLAIN)."""
    plans = {}
    for name, statement in beat_scans(utcnow()).items():
        compiled = statement.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
        lines = conn.exec_driver_sql("EXPLAIN " + compiled.string, compiled.params).scalars()
        plans[name] = "\n".join(lines)
    conn.rollback()
    return plans


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--admin-url", default=ADMIN_URL)
    args = parser.parse_args(argv)
    name = f"backbell_bench_{uuid.uuid4().hex[:8]}"
    url = create_database(args.admin_url, name)
    engine = None
    try:
        upgrade(url)
        engine = create_engine(url)
        with engine.connect() as conn:
            started = time.monotonic()
            load(conn, args.rows)
            count = conn.execute(text("SELECT count(*) FROM notifications")).scalar_one()
            size = conn.execute(text("SELECT pg_size_pretty(pg_relation_size('ix_notifications_open')), "
                                     "pg_size_pretty(pg_relation_size('notifications'))")).one()
            print(f"loaded {count:,} notifications in {time.monotonic() - started:.1f} s; "
                  f"ix_notifications_open {size[0]}, table {size[1]}\n")
            for scan, plan in explain(conn).items():
                print(f"-- {scan}\n{plan}\n")
    finally:
        if engine is not None:
            engine.dispose()
        drop_database(args.admin_url, name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
