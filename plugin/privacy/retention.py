"""Retention: old finished notices, decision-log lines and handled webhooks are deleted.

A beat task (``plugin.privacy.tasks.prune_history``) runs this daily with ``BACKBELL_RETENTION_DAYS``
(default 90). Only notices in a final state go (``sent``, ``failed``, ``skipped``, ``uncertain``);
pending and sending rows of a dispatch still running stay whatever their age. The merchant's
numbers do not come from these rows: ``plugin.measurement.aggregates`` counts every notice, event
and purchase as it happens, and nothing here touches those counters, so the dashboard reads the
same after pruning. A tracked link whose notice was pruned answers 404 ("this link has expired").
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from plugin.clock import utcnow
from plugin.inbox import deliveries
from plugin.models import FAILED, SENT, SKIPPED, UNCERTAIN, Decision, Notification

FINISHED = (SENT, FAILED, SKIPPED, UNCERTAIN)
CHUNK = 5000


def prune_notifications(session: Session, older_than: timedelta, limit: int = CHUNK) -> int:
    """Delete up to ``limit`` finished notices created before the cutoff; how many."""
    cutoff = utcnow() - older_than
    ids = list(session.scalars(
        select(Notification.id).where(Notification.created_at < cutoff, Notification.status.in_(FINISHED))
        .order_by(Notification.created_at).limit(limit)))
    if not ids:
        return 0
    session.execute(delete(Notification).where(Notification.id.in_(ids)))
    return len(ids)


def prune_decisions(session: Session, older_than: timedelta, limit: int = CHUNK) -> int:
    cutoff = utcnow() - older_than
    ids = list(session.scalars(select(Decision.id).where(Decision.created_at < cutoff)
                               .order_by(Decision.created_at).limit(limit)))
    if ids:
        session.execute(delete(Decision).where(Decision.id.in_(ids)))
    return len(ids)


def prune_history(db, older_than: timedelta) -> dict[str, int]:
    """Everything past retention, chunk by chunk (one short transaction each); counts deleted."""
    counts = {"notifications": 0, "decisions": 0, "inbox_payloads_erased": 0, "inbox_rows_deleted": 0}
    for name, prune in (("notifications", prune_notifications), ("decisions", prune_decisions)):
        while True:
            with db.session() as session:
                deleted = prune(session, older_than)
            counts[name] += deleted
            if deleted < CHUNK:
                break
    with db.session() as session:
        # The inbox keeps its own, shorter clock: payloads go a day after handling, the ids (which
        # only de-duplicate Shopify's retries, about four hours) after a week.
        counts["inbox_payloads_erased"], counts["inbox_rows_deleted"] = deliveries.prune(session)
    return counts
