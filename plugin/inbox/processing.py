"""Drive inbox rows through their topic handler — one by id, or the new ones a drain claims — and the
re-drive of rows whose task was lost.

Kept apart from ``tasks.py`` so it runs the same under Celery, in-process and from the CLI.
"""

from __future__ import annotations

from plugin.inbox import deliveries, topics
from plugin.logging import get_logger, mask_contacts
from plugin.models import Decision, Shop

log = get_logger(__name__)


def process_delivery(runtime, inbox_id: int) -> list[int]:
    """Handle the row once; the restock event ids to dispatch (empty when nothing to do or it failed)."""
    with runtime.db.session() as session:
        claimed = deliveries.start_attempt(session, inbox_id)
    return [] if claimed is None else handle_claimed(runtime, claimed)


def claim_new_deliveries(runtime, limit: int = deliveries.DRAIN_BATCH) -> list[deliveries.Claimed]:
    """Start the first attempt of the oldest new rows, committed before any is handled."""
    if runtime.db.is_postgres:  # one statement, its own transaction: no BEGIN and COMMIT round trips
        with runtime.db.autocommit() as connection:
            return deliveries.claim_new(connection, limit)
    with runtime.db.session() as session:
        return deliveries.claim_new(session, limit)


def handle_claimed(runtime, claimed: deliveries.Claimed) -> list[int]:
    """Run a claimed row's handler; the restock event ids to dispatch (empty when it failed)."""
    try:
        pending = claimed.decrypted(runtime.vault)
        return topics.handle_delivery(runtime, pending)
    except Exception as err:  # noqa: BLE001 — every failure is kept on the row and driven again
        _record_failure(runtime, claimed, err)
        return []


def due_for_redrive(runtime) -> list[int]:
    """Lease and return the rows to queue again (their task was lost, failed or is overdue)."""
    with runtime.db.session() as session:
        return deliveries.claim_due(session)


def _record_failure(runtime, claimed: deliveries.Claimed, err: Exception) -> None:
    reason = f"{type(err).__name__}: {mask_contacts(str(err))}"
    with runtime.db.session() as session:
        parked = deliveries.record_failure(session, claimed.inbox_id, reason)
        if parked:
            _tell_merchant(session, claimed)
    log.warning("webhook_failed", topic=claimed.topic, shop_domain=claimed.shop_domain,
                webhook_id=claimed.webhook_id, attempt=claimed.attempts, parked=parked, error=type(err).__name__)


def _tell_merchant(session, claimed: deliveries.Claimed) -> None:
    shop = session.query(Shop).filter(Shop.domain == claimed.shop_domain).one_or_none()
    if shop is not None:
        session.add(Decision(shop_id=shop.id, decision=f"webhook parked: {claimed.topic}",
                             detail={"inbox_id": claimed.inbox_id, "attempts": claimed.attempts}))
