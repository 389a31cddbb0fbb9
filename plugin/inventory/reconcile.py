"""The reconciliation sweep: re-read, through the Admin API, every variant somebody waits for.

Webhooks can be late or lost (Shopify gives up after 8 retries over 4 hours), so every
``reconcile_all`` beat (and ``backbell reconcile``) re-reads the watched variants in batches and
runs the same crossing detection as the webhooks, with ``source="reconcile"``. Each batch is one
transaction; its restocks are handed to dispatch after it commits. A shop whose read fails is
reported and skipped; the others still run.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.clock import utcnow
from plugin.inventory.mirror import mirror_snapshot, read_variants, sellable_quantity
from plugin.logging import get_logger
from plugin.models import WAITING, RestockEvent, Shop, Subscription, Variant
from plugin.inventory.restock import record_in_stock_for_waiting, record_restock
from plugin.shop_settings import settings_for
from plugin.shopify.admin_api import AdminApiError
from plugin.shopify.catalog import BATCH_SIZE

log = get_logger(__name__)


class UnknownShop(LookupError):
    """``--shop`` named a shop that is not installed; ``str(err)`` is the message to print."""


@dataclass
class ReconcileReport:
    shops_checked: int = 0
    variants_reread: int = 0
    restocks_found: int = 0
    failed_shops: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        lines = [
            f"Shops checked: {self.shops_checked}",
            f"Variants re-read: {self.variants_reread}",
            f"Restocks found: {self.restocks_found}",
        ]
        lines += [f"Could not read {domain}; it is retried on the next sweep" for domain in self.failed_shops]
        return lines

    def as_log(self) -> dict:
        return {"shops_checked": self.shops_checked, "variants_reread": self.variants_reread,
                "restocks_found": self.restocks_found, "failed_shops": len(self.failed_shops)}


def reconcile_shops(runtime, shop_domain: str | None) -> ReconcileReport:
    """Sweep one installed shop (``shop_domain``) or all of them; raises ``UnknownShop`` for a bad name."""
    report = ReconcileReport()
    for shop_id, domain in _shops_to_check(runtime, shop_domain):
        try:
            _reconcile_shop(runtime, shop_id, report)
        except AdminApiError as err:
            log.warning("reconcile_shop_failed", shop_domain=domain, error=err.message)
            report.failed_shops.append(domain)
        report.shops_checked += 1
    return report


def _shops_to_check(runtime, shop_domain: str | None) -> list[tuple[int, str]]:
    with runtime.db.session() as session:
        query = select(Shop.id, Shop.domain).where(Shop.uninstalled_at.is_(None)).order_by(Shop.id)
        if shop_domain is not None:
            query = query.where(Shop.domain == shop_domain.strip().lower())
        shops = [(row.id, row.domain) for row in session.execute(query)]
    if shop_domain is not None and not shops:
        raise UnknownShop(f"no installed shop named '{shop_domain}' (give the full *.myshopify.com domain)")
    return shops


def _reconcile_shop(runtime, shop_id: int, report: ReconcileReport) -> None:
    with runtime.db.session() as session:
        variant_ids = _watched_variant_ids(session, shop_id)
    for start in range(0, len(variant_ids), BATCH_SIZE):
        batch = variant_ids[start:start + BATCH_SIZE]
        with runtime.db.session() as session:
            shop = session.get(Shop, shop_id)
            events = _reconcile_batch(runtime, session, shop, batch)
            report.variants_reread += len(batch)
            event_ids = [event.id for event in events]
        report.restocks_found += len(event_ids)
        _dispatch(event_ids)


def _reconcile_batch(runtime, session: Session, shop: Shop, variant_ids: list[int]) -> list[RestockEvent]:
    # Read first, lock after (mirror_snapshot): nothing is locked while Shopify is asked.
    read_at = utcnow()
    snapshots = read_variants(runtime, session, shop, variant_ids)
    missing = set(variant_ids) - {s.variant_id for s in snapshots}
    if missing:
        log.info("reconcile_variants_gone", shop_id=shop.id, variant_ids=sorted(missing))
    settings, events = settings_for(shop), []
    could_alert = _mirrored_can_alert(session, shop, variant_ids)
    for snapshot in snapshots:
        variant = mirror_snapshot(session, shop, snapshot, read_at)
        current = sellable_quantity(session, shop.id, variant.inventory_item_id, settings)
        event = record_restock(session, shop, variant, current, "reconcile") if current is not None else None
        if event is None and could_alert.get(variant.variant_id) is False and variant.can_alert:
            # Made sellable again (published, back to DENY, tracked) while in stock, and the
            # products/update saying so was lost: no quantity crossing will ever come.
            event = record_in_stock_for_waiting(session, shop, variant, "reconcile")
        events += [event] if event else []
    return events


def _mirrored_can_alert(session: Session, shop: Shop, variant_ids: list[int]) -> dict[int, bool]:
    """Whether each already-mirrored variant could alert before this re-read (one query per batch)."""
    query = select(Variant).where(Variant.shop_id == shop.id, Variant.variant_id.in_(variant_ids))
    return {variant.variant_id: variant.can_alert for variant in session.scalars(query)}


def _watched_variant_ids(session: Session, shop_id: int) -> list[int]:
    query = (
        select(Subscription.variant_id)
        .where(Subscription.shop_id == shop_id, Subscription.status == WAITING, Subscription.confirm_by.is_(None))
        .distinct()
        .order_by(Subscription.variant_id)
    )
    return list(session.scalars(query))


def _dispatch(event_ids: list[int]) -> None:
    # Imported here so this module stays free of Celery for everything but the hand-off.
    from plugin.dispatch.tasks import dispatch_restock

    for event_id in event_ids:
        dispatch_restock.delay(event_id)
