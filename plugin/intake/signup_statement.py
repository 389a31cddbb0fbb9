"""A sign-up on PostgreSQL as one statement: the common case of ``store_subscription`` in one round trip.

``store_subscription`` (the general path, every backend) takes a session and seven statements plus
BEGIN and COMMIT: the contact, the variant, the subscription, three counter upserts, the contact's
sync mark. Under a burst of sign-ups (a product drop) that was most of a sign-up's time. Here the
same writes are one ``WITH … INSERT … ON CONFLICT`` statement on an autocommit connection: its own
transaction, atomic, durable when it returns.

It covers what nearly every sign-up is — one contact key (no rotation under way), no double
opt-in — and answers exactly what the general path answers, writing the same rows and counters
(``tests/intake/test_signup_statement.py`` runs the same sign-ups through both and compares the
tables). Where it cannot decide, it writes nothing and returns None, and the caller takes the
general path:

- a concurrent first sign-up of the same contact, or of the same contact and variant, is still
  uncommitted when the statement starts: ``ON CONFLICT DO NOTHING`` then waits for it, but the
  statement's snapshot cannot see the row it committed.
"""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache

from sqlalchemy import Connection, bindparam, text
from sqlalchemy.types import BigInteger, Boolean, Date, String

from plugin.db import UTCDateTime, driver_sql, first_row
from plugin.models import WAITING

# The funnel counters every aggregate row carries (plugin.models._Funnel), all zero but ``subscribed``.
_ZEROS = "0, 0, 0, 0, 0, 0, 0"
_FUNNEL = "subscribed, unwaited, told, delivered, opened, clicked, purchased, revenue"

# Row locks in the order the dashboard counters are always taken (plugin.measurement.aggregates:
# shop_days, variant_days, variant_totals): the final SELECT reads the CTEs in that order.
# ``known_contact``: a known contact starting a wait is due for the customer sync, and a signed-in
# shopper's customer id is kept when the contact had none (a contact inserted here has both already).
SIGNUP_SQL = f"""
WITH variant AS (
    SELECT product_id, (tracked AND inventory_policy = 'DENY' AND product_status = 'ACTIVE') AS can_alert
    FROM variants WHERE shop_id = :shop_id AND variant_id = :variant_id
), allowed AS (
    SELECT NOT EXISTS (SELECT 1 FROM variant WHERE NOT can_alert) AS ok
), new_contact AS (
    INSERT INTO contacts (shop_id, channel, value_ciphertext, value_hash, customer_id, created_at, customer_sync_due)
    SELECT :shop_id, :channel, :ciphertext, :value_hash, :customer_id, :now, true
    FROM allowed WHERE allowed.ok
    ON CONFLICT (shop_id, channel, value_hash) DO NOTHING
    RETURNING id, suppressed_at, customer_id, true AS created
), contact AS (
    SELECT id, suppressed_at, customer_id, created FROM new_contact
    UNION ALL
    SELECT id, suppressed_at, customer_id, false FROM contacts
    WHERE shop_id = :shop_id AND channel = :channel AND value_hash = :value_hash
      AND NOT EXISTS (SELECT 1 FROM new_contact)
), new_sub AS (
    INSERT INTO subscriptions (shop_id, contact_id, variant_id, product_id, channel, status, locale, customer_id,
                               consent_at, consent_version, created_at, alerts_sent)
    SELECT :shop_id, contact.id, :variant_id, (SELECT product_id FROM variant), :channel, '{WAITING}', :locale,
           :customer_id, :consent_at, :consent_version, :now, 0
    FROM contact, allowed WHERE contact.suppressed_at IS NULL AND allowed.ok
    ON CONFLICT (contact_id, variant_id) WHERE status = '{WAITING}' DO NOTHING
    RETURNING id
), old_sub AS (
    SELECT s.id FROM subscriptions s, contact
    WHERE s.contact_id = contact.id AND s.variant_id = :variant_id AND s.status = '{WAITING}'
      AND NOT EXISTS (SELECT 1 FROM new_sub)
), shop_day AS (
    INSERT INTO shop_days (shop_id, day, {_FUNNEL})
    SELECT :shop_id, :day, 1, {_ZEROS} FROM new_sub
    ON CONFLICT (shop_id, day) DO UPDATE SET subscribed = shop_days.subscribed + excluded.subscribed
    RETURNING 1
), variant_day AS (
    INSERT INTO variant_days (shop_id, variant_id, day, {_FUNNEL})
    SELECT :shop_id, :variant_id, :day, 1, {_ZEROS} FROM new_sub
    ON CONFLICT (shop_id, variant_id, day) DO UPDATE SET subscribed = variant_days.subscribed + excluded.subscribed
    RETURNING 1
), variant_total AS (
    INSERT INTO variant_totals (shop_id, variant_id, waiting, {_FUNNEL})
    SELECT :shop_id, :variant_id, 1, 1, {_ZEROS} FROM new_sub
    ON CONFLICT (shop_id, variant_id) DO UPDATE SET subscribed = variant_totals.subscribed + excluded.subscribed,
                                                    waiting = variant_totals.waiting + excluded.waiting
    RETURNING 1
), known_contact AS (
    UPDATE contacts
    SET customer_sync_due = contacts.customer_sync_due OR EXISTS (SELECT 1 FROM new_sub),
        customer_id = COALESCE(contacts.customer_id, :customer_id)
    FROM contact
    WHERE contacts.id = contact.id AND NOT contact.created AND contact.suppressed_at IS NULL
      AND (SELECT ok FROM allowed)
      AND (EXISTS (SELECT 1 FROM new_sub)
           OR (CAST(:customer_id AS BIGINT) IS NOT NULL AND contacts.customer_id IS NULL))
    RETURNING 1
)
SELECT (SELECT count(*) FROM shop_day) + (SELECT count(*) FROM variant_day) + (SELECT count(*) FROM variant_total)
         + (SELECT count(*) FROM known_contact) AS rows_written,
       (SELECT id FROM contact) AS contact_id,
       (SELECT suppressed_at IS NOT NULL FROM contact) AS suppressed,
       EXISTS (SELECT 1 FROM variant) AS variant_known,
       (SELECT ok FROM allowed) AS allowed,
       (SELECT id FROM new_sub) AS inserted_id,
       (SELECT id FROM old_sub) AS waiting_id
"""


@lru_cache(maxsize=1)
def _statement():
    """Parsed and typed once per process. The whitespace is collapsed: psycopg caches its
    conversion of a query only up to ``MAX_CACHED_STATEMENT_LENGTH`` (4,096) characters, and
    converting this one anew cost a sign-up more than the rest of the statement's client side."""
    return text(" ".join(SIGNUP_SQL.split())).bindparams(
        bindparam("shop_id", type_=BigInteger), bindparam("variant_id", type_=BigInteger),
        bindparam("channel", type_=String), bindparam("ciphertext", type_=String),
        bindparam("value_hash", type_=String), bindparam("customer_id", type_=BigInteger),
        bindparam("now", type_=UTCDateTime), bindparam("locale", type_=String),
        bindparam("consent_at", type_=UTCDateTime), bindparam("consent_version", type_=String),
        bindparam("day", type_=Date),
    ).columns(suppressed=Boolean, variant_known=Boolean, allowed=Boolean)


@lru_cache(maxsize=1)
def _driver_sql() -> str:
    return driver_sql(_statement())


def run(connection: Connection, *, shop_id: int, variant_id: int, channel: str, ciphertext: str, value_hash: str,
        customer_id: int | None, locale: str, consent_at: datetime | None, consent_version: str | None,
        now: datetime, day: date):
    """The statement's one row on an autocommit connection (see ``plugin.intake.subscriptions``),
    run on the driver (``plugin.db.first_row``): every sign-up takes this path."""
    return first_row(connection, _driver_sql(), {
        "shop_id": shop_id, "variant_id": variant_id, "channel": channel, "ciphertext": ciphertext,
        "value_hash": value_hash, "customer_id": customer_id, "now": now, "locale": locale,
        "consent_at": consent_at, "consent_version": consent_version, "day": day,
    })
