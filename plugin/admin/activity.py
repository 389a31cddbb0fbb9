"""The decision log for the merchant: what Backbell decided and why, newest first.

``kind`` matches a decision exactly ("sent") or by its prefix before the colon ("skipped" finds
"skipped: sold out again", "skipped: unsubscribed", …). Pages are keyset on the id
(``plugin.admin.paging``).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from plugin.admin.paging import Cursor, Order, Page, keyset_page
from plugin.models import Decision

ORDER = (Order(Decision.id, descending=True),)


@dataclass(frozen=True)
class ActivityFilters:
    variant_id: int | None = None
    subscription_id: int | None = None
    kind: str | None = None


def activity_page(session: Session, shop_id: int, filters: ActivityFilters, limit: int,
                  cursor: Cursor | None = None) -> Page:
    query = select(Decision).where(Decision.shop_id == shop_id)
    if filters.variant_id:
        query = query.where(Decision.variant_id == filters.variant_id)
    if filters.subscription_id:
        query = query.where(Decision.subscription_id == filters.subscription_id)
    if filters.kind:
        escaped = filters.kind.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(or_(Decision.decision == filters.kind,
                                Decision.decision.like(escaped + ":%", escape="\\")))
    page = keyset_page(session, query, ORDER, lambda d: (d.id,), limit, cursor, scalars=True)
    return Page([_line(d) for d in page.rows], page.next, page.previous)


def _line(d: Decision) -> dict:
    return {"id": d.id, "decision": d.decision, "kind": d.decision.split(":", 1)[0], "variant_id": d.variant_id,
            "subscription_id": d.subscription_id, "restock_event_id": d.restock_event_id,
            "notification_id": d.notification_id, "detail": d.detail or {},
            "created_at": d.created_at.isoformat() if d.created_at else None}
