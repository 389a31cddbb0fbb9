"""Seen webhook ids: Shopify may deliver one webhook several times; only the first is handled.

A receipt is written (and committed) before the webhook is queued. If queueing fails the receipt
is removed again, so Shopify's retry is not mistaken for a duplicate. Receipts are kept for a
week: Shopify retries a failed delivery for about four hours.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete
from sqlalchemy.orm import Session

from plugin.db import insert_for
from plugin.clock import utcnow
from plugin.models import WebhookReceipt

RECEIPT_RETENTION = timedelta(days=7)


def record_receipt(session: Session, webhook_id: str, shop_domain: str, topic: str) -> bool:
    """True when this webhook id is new (and now recorded); False for a repeat delivery."""
    insert = insert_for(session)(WebhookReceipt).values(
        webhook_id=webhook_id, shop_domain=shop_domain, topic=topic, received_at=utcnow()
    )
    # RETURNING, not rowcount: psycopg reports -1 for an ORM INSERT … ON CONFLICT.
    statement = insert.on_conflict_do_nothing(index_elements=["webhook_id"]).returning(WebhookReceipt.webhook_id)
    return session.execute(statement).first() is not None


def forget_receipt(session: Session, webhook_id: str) -> None:
    session.execute(delete(WebhookReceipt).where(WebhookReceipt.webhook_id == webhook_id))


def prune_receipts(session: Session, older_than: timedelta = RECEIPT_RETENTION) -> int:
    """Delete receipts older than ``older_than``; returns how many."""
    cutoff = utcnow() - older_than
    return session.execute(delete(WebhookReceipt).where(WebhookReceipt.received_at < cutoff)).rowcount
