"""The webhook inbox: every verified delivery is stored before Shopify gets its 200.

Shopify retries a failed delivery for about four hours and then gives up, and a broker can lose
a queued task (a flushed Redis, a worker killed mid-task). So the view stores each new delivery —
payload encrypted with the contact keys, because privacy and order topics carry emails, phones
and names — in the same transaction that answers 200, and queues only its id. Whatever happens to
that task, the re-drive (a scheduled job) queues every unhandled row again once its lease is over,
with backoff; a row that keeps failing is parked for an operator (``backbell inbox``), except
the privacy topics, which are retried for as long as it takes.

A row is marked processed inside the handler's own transaction (see ``plugin.inbox.topics``), so
driving it twice — a re-drive racing the original task — takes effect once.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from sqlalchemy import Connection, bindparam, delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from plugin.clock import utcnow
from plugin.crypto import Vault
from plugin.db import driver_sql, first_row
from plugin.models import InboxDelivery

PRIVACY_TOPICS = frozenset({"customers/data_request", "customers/redact", "shop/redact"})
# How long a queued or running delivery is left alone before the re-drive queues it again. A
# handler re-reads Shopify (with its own retries), so give it minutes, not seconds.
FIRST_LEASE = timedelta(minutes=2)
BACKOFF_BASE, BACKOFF_CAP = timedelta(seconds=30), timedelta(hours=1)
MAX_ATTEMPTS = 8  # then parked (privacy topics excepted)
PAYLOAD_RETENTION = timedelta(days=1)  # after processing
ROW_RETENTION = timedelta(days=7)  # the duplicate-id memory; Shopify retries for ~4 hours
REDRIVE_BATCH = 500
# New rows one drain claims and handles in turn (``claim_new``). Small: a full batch queues another
# drain first, so a burst is shared by the worker's processes, a restock waits behind at most this
# many handlers, and the batch's last row is started well inside its lease.
DRAIN_BATCH = 10


@dataclass(frozen=True)
class Accepted:
    inbox_id: int | None  # None for a repeat delivery
    duplicate: bool


@dataclass(frozen=True)
class Pending:
    """What a handler needs from a stored delivery (the payload decrypted)."""

    inbox_id: int
    webhook_id: str
    shop_domain: str
    topic: str
    body: str
    triggered_at: datetime | None
    attempts: int


@dataclass(frozen=True)
class Claimed:
    """A row whose attempt has started; the payload still encrypted."""

    inbox_id: int
    webhook_id: str
    shop_domain: str
    topic: str
    payload_ciphertext: str
    triggered_at: datetime | None
    attempts: int

    def decrypted(self, vault: Vault) -> Pending:
        return Pending(self.inbox_id, self.webhook_id, self.shop_domain, self.topic,
                       vault.decrypt(self.payload_ciphertext), self.triggered_at, self.attempts)


def accept(executor: Session | Connection, vault: Vault, *, webhook_id: str, shop_domain: str, topic: str,
           body: str, triggered_at: datetime | None) -> Accepted:
    """Store a verified delivery unless its webhook id was seen.

    ``executor`` is a session (the caller commits, then queues) or an autocommit connection (the
    web view: the one ``INSERT … ON CONFLICT DO NOTHING`` is its own transaction, durable when it
    returns — one round trip instead of BEGIN, INSERT and COMMIT). On PostgreSQL that connection
    runs the statement on the driver (``plugin.db.first_row``): every webhook takes this path.
    """
    now = utcnow()
    params = {"webhook_id": webhook_id, "shop_domain": shop_domain, "topic": topic,
              "payload_ciphertext": vault.encrypt(body), "triggered_at": triggered_at, "received_at": now,
              "attempts": 0, "next_attempt_at": now + FIRST_LEASE}
    if isinstance(executor, Connection) and executor.dialect.name == "postgresql":
        row = first_row(executor, _accept_sql(tuple(params)), params)
        inbox_id = row.id if row is not None else None
    else:
        dialect = executor.dialect.name if isinstance(executor, Connection) else executor.get_bind().dialect.name
        inbox_id = executor.execute(_accept_statement(dialect), params).scalar()
    return Accepted(inbox_id=inbox_id, duplicate=inbox_id is None)


@lru_cache(maxsize=None)
def _accept_statement(dialect: str):
    """Built once per dialect: a Core INSERT on the table with bound parameters (building an ORM
    insert with ``values()`` per request cost more CPU than the round trip)."""
    table = InboxDelivery.__table__
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    # RETURNING, not rowcount: psycopg reports -1 for an INSERT … ON CONFLICT.
    return insert(table).on_conflict_do_nothing(index_elements=["webhook_id"]).returning(table.c.id)


@lru_cache(maxsize=1)
def _accept_sql(columns: tuple[str, ...]) -> str:
    """The PostgreSQL statement as psycopg runs it: the same INSERT, compiled once."""
    return driver_sql(_accept_statement("postgresql"), *columns)


def start_attempt(session: Session, inbox_id: int) -> Claimed | None:
    """Count an attempt and extend the lease (before running, so a killed worker's attempt counts
    too); None when the row is gone, handled or parked."""
    row = session.get(InboxDelivery, inbox_id)
    if row is None or row.processed_at is not None or row.parked_at is not None or row.payload_ciphertext is None:
        return None
    row.attempts += 1
    row.next_attempt_at = utcnow() + _lease_after(row.attempts)
    return Claimed(row.id, row.webhook_id, row.shop_domain, row.topic, row.payload_ciphertext,
                   row.triggered_at, row.attempts)


def claim_new(session: Session | Connection, limit: int = DRAIN_BATCH) -> list[Claimed]:
    """Start the first attempt of up to ``limit`` new rows (never attempted, not handled, not
    parked), oldest first: the attempt counted and the lease extended as ``start_attempt`` does, in
    one ``UPDATE … WHERE id IN (SELECT … LIMIT n) RETURNING``.

    "Oldest" is by due time (a new row's is its arrival + ``FIRST_LEASE``), not by id: in that order
    the re-drive's partial index hands over the first rows without a sort, whatever the planner's
    statistics say. By id, statistics taken while a burst was still new (most rows unhandled) led
    PostgreSQL to walk the primary key through a week of handled rows: ~160 ms per claim over 200k
    rows, against ~0.5 ms.

    Two drains at once never claim the same row: on PostgreSQL the inner SELECT locks its rows
    ``FOR UPDATE SKIP LOCKED`` (another drain's rows are passed over, and a row another drain has
    just committed no longer has ``attempts = 0`` when it is re-checked); SQLite runs one writing
    statement at a time, so the whole UPDATE is one step there.

    ``session``: a session, or a connection in autocommit mode (the statement is then its own
    transaction, committed when it returns)."""
    dialect = session.get_bind().dialect if isinstance(session, Session) else session.dialect
    rows = session.execute(_claim_statement(dialect.name),
                           {"limit": limit, "lease_until": utcnow() + _lease_after(1)})
    return sorted((Claimed(*row) for row in rows), key=lambda claimed: claimed.inbox_id)


@lru_cache(maxsize=None)
def _claim_statement(dialect: str):
    """``claim_new``'s UPDATE, built once per dialect (the batch size and the lease are parameters)."""
    table = InboxDelivery.__table__
    new = (select(table.c.id)
           .where(table.c.attempts == 0, table.c.processed_at.is_(None), table.c.parked_at.is_(None),
                  table.c.payload_ciphertext.is_not(None))
           .order_by(table.c.next_attempt_at).limit(bindparam("limit")))
    if dialect == "postgresql":
        new = new.with_for_update(skip_locked=True)
    return (update(table).where(table.c.id.in_(new.scalar_subquery()))
            .values(attempts=table.c.attempts + 1, next_attempt_at=bindparam("lease_until"))
            .returning(table.c.id, table.c.webhook_id, table.c.shop_domain, table.c.topic,
                       table.c.payload_ciphertext, table.c.triggered_at, table.c.attempts))


def mark_processed(session: Session, inbox_id: int) -> bool:
    """Mark the row handled inside the handler's transaction; False if another run already did
    (the caller then rolls its work back). A row this transaction deleted (``shop/redact`` purges
    the shop's inbox rows, its own included) counts as handled."""
    statement = (update(InboxDelivery)
                 .where(InboxDelivery.id == inbox_id, InboxDelivery.processed_at.is_(None))
                 .values(processed_at=utcnow(), last_error=None)
                 .returning(InboxDelivery.id))
    if session.execute(statement).scalar() is not None:
        return True
    return session.scalar(select(InboxDelivery.id).where(InboxDelivery.id == inbox_id)) is None


def record_failure(session: Session, inbox_id: int, error: str) -> bool:
    """Keep the reason (no contact data: an error class and a masked message) and park the row
    after ``MAX_ATTEMPTS``; True when it was parked now."""
    row = session.get(InboxDelivery, inbox_id)
    if row is None or row.processed_at is not None:
        return False
    row.last_error = error[:300]
    if row.attempts >= MAX_ATTEMPTS and row.topic not in PRIVACY_TOPICS:
        row.parked_at, row.next_attempt_at = utcnow(), None
        return True
    return False


def claim_due(session: Session, limit: int = REDRIVE_BATCH) -> list[int]:
    """Unhandled rows whose lease is over, leased again for the task about to be queued."""
    now = utcnow()
    query = (select(InboxDelivery.id, InboxDelivery.attempts)
             .where(InboxDelivery.processed_at.is_(None), InboxDelivery.parked_at.is_(None),
                    InboxDelivery.next_attempt_at <= now)
             .order_by(InboxDelivery.next_attempt_at).limit(limit))
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    rows = session.execute(query).all()
    for inbox_id, attempts in rows:
        session.execute(update(InboxDelivery).where(InboxDelivery.id == inbox_id)
                        .values(next_attempt_at=now + _lease_after(attempts)))
    return [inbox_id for inbox_id, _ in rows]


def retry_parked(session: Session, inbox_id: int | None = None) -> int:
    """Un-park one row (or all): they are due now and get a fresh set of attempts."""
    where = [InboxDelivery.parked_at.is_not(None)]
    if inbox_id is not None:
        where.append(InboxDelivery.id == inbox_id)
    return session.execute(update(InboxDelivery).where(*where)
                           .values(parked_at=None, attempts=0, next_attempt_at=utcnow())).rowcount


def prune(session: Session) -> tuple[int, int]:
    """Erase handled payloads after a day and handled rows after a week; unhandled and parked
    rows are kept whatever their age. Returns (payloads erased, rows deleted)."""
    now = utcnow()
    erased = session.execute(
        update(InboxDelivery)
        .where(InboxDelivery.processed_at < now - PAYLOAD_RETENTION, InboxDelivery.payload_ciphertext.is_not(None))
        .values(payload_ciphertext=None)
    ).rowcount
    deleted = session.execute(
        delete(InboxDelivery).where(InboxDelivery.processed_at < now - ROW_RETENTION)
    ).rowcount
    return erased, deleted


def unhandled(session: Session, limit: int = 100) -> list[InboxDelivery]:
    """Parked rows first, then the oldest still failing: what an operator looks at."""
    query = (select(InboxDelivery)
             .where(InboxDelivery.processed_at.is_(None),
                    or_(InboxDelivery.parked_at.is_not(None), InboxDelivery.attempts > 0))
             .order_by(InboxDelivery.parked_at.is_(None), InboxDelivery.received_at).limit(limit))
    return list(session.scalars(query))


def _lease_after(attempts: int) -> timedelta:
    """Exponential backoff with full jitter on the second half, capped; the first lease is fixed."""
    if attempts <= 0:
        return FIRST_LEASE
    backoff = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (attempts - 1))
    return max(FIRST_LEASE, backoff / 2 + backoff / 2 * random.random())
