"""The reconciliation sweep: re-read, through the Admin API, every variant somebody waits for.

Webhooks can be late or lost (Shopify gives up after 8 retries over 4 hours), so every
``reconcile_all`` beat (and ``backbell reconcile``) re-reads the watched variants and runs the same
crossing detection as the webhooks, with ``source="reconcile"``. Each batch is one transaction;
its restocks are handed to dispatch after it commits. A shop whose read fails is reported and
skipped; the others still run.

Two ways to read, the same way to apply (``_apply_snapshots``):
- up to ``BULK_FROM - 1`` watched variants: ``VariantStock`` pages of 12 (about 8 actual cost
  points per variant, answered at once);
- from ``BULK_FROM`` on: one bulk query (``bulk/VariantStockExport`` over the watched id range),
  polled until done, its JSONL result downloaded to a temporary file and applied line by line,
  ``APPLY_BATCH`` variants per transaction — a few cost points for the whole sweep whatever its size (bench/RESULTS.md §5).
  Shopify runs one bulk query per app and shop: when one is already running the shop is skipped
  this sweep and the report says so. A FAILED/CANCELED operation's partial file is applied for the
  variants it holds whole and the shop is reported failed; an expired result URL is asked for
  again once; unusable lines are logged and their variants left for the next sweep.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.clock import utcnow
from plugin.inventory.mirror import mirror_snapshot, read_variants, sellable_quantity
from plugin.logging import get_logger
from plugin.models import WAITING, RestockEvent, Shop, Subscription, Variant
from plugin.inventory.restock import record_in_stock_for_waiting, record_restock
from plugin.shop_settings import settings_for
from plugin.shopify import bulk
from plugin.shopify.admin_api import AdminApiError, AdminClient
from plugin.shopify.catalog import BATCH_SIZE, BulkReadStats, VariantSnapshot, snapshots_from_bulk, \
    variant_stock_export
from plugin.shopify.http import shopify_http_client

log = get_logger(__name__)

# From this many watched variants a shop is read with one bulk query (see the module doc and
# bench/RESULTS.md §5: ~100 requested points per page of 12 answered at once, against ~20 points
# and a few seconds' wait for a bulk query of any size).
BULK_FROM = 25
APPLY_BATCH = 200  # variants applied per transaction from a bulk result
POLL_SECONDS = 2.0


class UnknownShop(LookupError):
    """``--shop`` named a shop that is not installed; ``str(err)`` is the message to print."""


@dataclass
class ReconcileReport:
    shops_checked: int = 0
    variants_reread: int = 0
    restocks_found: int = 0
    failed_shops: list[str] = field(default_factory=list)
    busy_shops: list[str] = field(default_factory=list)  # a bulk query was already running there

    def lines(self) -> list[str]:
        lines = [
            f"Shops checked: {self.shops_checked}",
            f"Variants re-read: {self.variants_reread}",
            f"Restocks found: {self.restocks_found}",
        ]
        lines += [f"Could not read {domain}; it is retried on the next sweep" for domain in self.failed_shops]
        lines += [f"Skipped {domain}: another bulk query of the app is running there; it is read on the next sweep"
                  for domain in self.busy_shops]
        return lines

    def as_log(self) -> dict:
        return {"shops_checked": self.shops_checked, "variants_reread": self.variants_reread,
                "restocks_found": self.restocks_found, "failed_shops": len(self.failed_shops),
                "busy_shops": len(self.busy_shops)}


def reconcile_shops(runtime, shop_domain: str | None, *, bulk_from: int = BULK_FROM,
                    sleep: Callable[[float], None] = time.sleep) -> ReconcileReport:
    """Sweep one installed shop (``shop_domain``) or all of them; raises ``UnknownShop`` for a bad name.

    Shops with ``bulk_from`` or more watched variants are read with a bulk query; ``sleep`` waits
    between its polls.
    """
    report = ReconcileReport()
    for shop_id, domain in _shops_to_check(runtime, shop_domain):
        try:
            _reconcile_shop(runtime, shop_id, report, bulk_from, sleep)
        except bulk.BulkBusy as err:
            log.warning("reconcile_shop_busy", shop_domain=domain, error=err.message)
            report.busy_shops.append(domain)
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


def _reconcile_shop(runtime, shop_id: int, report: ReconcileReport, bulk_from: int, sleep) -> None:
    with runtime.db.session() as session:
        variant_ids = _watched_variant_ids(session, shop_id)
    if variant_ids and len(variant_ids) >= bulk_from:
        _reconcile_in_bulk(runtime, shop_id, variant_ids, report, sleep)
        return
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
    return _apply_snapshots(session, shop, variant_ids, snapshots, read_at)


def _reconcile_in_bulk(runtime, shop_id: int, variant_ids: list[int], report: ReconcileReport, sleep) -> None:
    """Read the shop's watched variants with one bulk query and apply them batch by batch."""
    watched = set(variant_ids)
    # The bulk query reads Shopify after it starts: levels Shopify stamped later than this (a
    # delivery handled meanwhile) are kept by apply_snapshot, as for a page read.
    read_at = utcnow()
    with runtime.db.session() as session:
        domain = session.get(Shop, shop_id).domain
        with AdminClient.for_shop(runtime, session, domain) as client, \
                shopify_http_client(runtime.settings) as http:
            operation_id = bulk.start_query(client, variant_stock_export(variant_ids))
            done = bulk.finished(client, [operation_id], sleep, POLL_SECONDS)[0]
            session.commit()  # nothing of this session stays open while the batches below write
            stats = BulkReadStats()
            seen = _apply_bulk_result(runtime, shop_id, client, http, done, watched, read_at, report, stats, sleep)
    if stats.bad_lines or stats.skipped_variants:
        log.error("reconcile_bulk_lines_unusable", shop_id=shop_id, operation_id=operation_id,
                  bad_lines=stats.bad_lines[:20], bad_line_count=len(stats.bad_lines),
                  variants_left_for_next_sweep=sorted(set(stats.skipped_variants) & watched)[:20])
    if done.status != "COMPLETED":
        raise AdminApiError(f"bulk query {operation_id} ended {done.status} ({done.error_code or 'no error code'}); "
                            f"{len(seen)} variants re-read from its partial data", transient=True)
    missing = watched - seen - set(stats.skipped_variants)
    if missing:
        log.info("reconcile_variants_gone", shop_id=shop_id, variant_ids=sorted(missing)[:50], count=len(missing))


def _apply_bulk_result(runtime, shop_id: int, client, http, done: bulk.FinishedOperation, watched: set[int],
                       read_at: datetime, report: ReconcileReport, stats: BulkReadStats, sleep) -> set[int]:
    """Stream the operation's (full or partial) file and apply the watched variants in it; their ids."""
    seen: set[int] = set()
    if done.result_url is None:
        return seen
    lines = _lines_with_one_url_renewal(client, http, done, sleep)
    snapshots = (s for s in snapshots_from_bulk(lines, stats, complete=done.status == "COMPLETED")
                 if s.variant_id in watched)
    batch: list[VariantSnapshot] = []
    for snapshot in snapshots:
        batch.append(snapshot)
        if len(batch) >= APPLY_BATCH:
            _apply_bulk_batch(runtime, shop_id, batch, read_at, report, seen)
            batch = []
    _apply_bulk_batch(runtime, shop_id, batch, read_at, report, seen)
    return seen


def _lines_with_one_url_renewal(client, http, done: bulk.FinishedOperation, sleep) -> Iterable:
    """The file's lines; when its signed URL has expired before the first line, poll once for a fresh one."""
    try:
        stream = bulk.stream_lines(http, done.result_url)
        first = next(stream, None)
    except bulk.ResultUnavailable as err:
        log.warning("reconcile_bulk_url_refused", operation_id=done.operation_id, status=err.status)
        renewed = bulk.finished(client, [done.operation_id], sleep, POLL_SECONDS)[0]
        if renewed.result_url is None:
            raise
        stream = bulk.stream_lines(http, renewed.result_url)
        first = next(stream, None)
    if first is not None:
        yield first
        yield from stream


def _apply_bulk_batch(runtime, shop_id: int, snapshots: list[VariantSnapshot], read_at: datetime,
                      report: ReconcileReport, seen: set[int]) -> None:
    if not snapshots:
        return
    with runtime.db.session() as session:
        shop = session.get(Shop, shop_id)
        ids = [s.variant_id for s in snapshots]
        event_ids = [event.id for event in _apply_snapshots(session, shop, ids, snapshots, read_at)]
    seen.update(ids)
    report.variants_reread += len(snapshots)
    report.restocks_found += len(event_ids)
    _dispatch(event_ids)


def _apply_snapshots(session: Session, shop: Shop, variant_ids: list[int], snapshots: list[VariantSnapshot],
                     read_at: datetime) -> list[RestockEvent]:
    """Mirror what Shopify said and record the restocks it makes (the webhooks' detection)."""
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
