"""Re-reading a variant's stock before releasing more notices (a batch, a reminder).

Two steps, like the inventory webhooks (``plugin.inventory.mirror``): read through the Admin API
with nothing locked, then apply the read to the mirror in the caller's transaction. Applying runs
the same crossing detection as a webhook, so a variant found back in stock after selling out
becomes a new restock event of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from plugin.clock import utcnow
from plugin.inventory.mirror import mirror_snapshot, read_variants, sellable_quantity
from plugin.inventory.restock import record_restock
from plugin.models import RestockEvent, Shop, Variant
from plugin.shop_settings import settings_for
from plugin.shopify.catalog import VariantSnapshot


@dataclass(frozen=True)
class StockRead:
    read_at: datetime
    snapshots: dict[int, VariantSnapshot]  # by variant id; a variant Shopify no longer has is missing


@dataclass(frozen=True)
class StockNow:
    variant: Variant | None  # None: Shopify no longer has it
    quantity: int | None  # summed over the counted locations
    sellable: bool  # in stock (at or above the minimum) and allowed to alert
    new_restock: RestockEvent | None  # the read found a new crossing


def read_stock(runtime, session: Session, shop: Shop, variant_ids: list[int]) -> StockRead:
    """Read the variants through the Admin API (raises ``AdminApiError``); lock nothing first."""
    read_at = utcnow()
    snapshots = read_variants(runtime, session, shop, variant_ids)
    return StockRead(read_at, {s.variant_id: s for s in snapshots})


def apply_stock(session: Session, shop: Shop, read: StockRead, variant_id: int) -> StockNow:
    """Mirror what was read for ``variant_id`` and say whether it may be released now."""
    snapshot = read.snapshots.get(variant_id)
    if snapshot is None:
        return StockNow(None, None, False, None)
    variant = mirror_snapshot(session, shop, snapshot, read.read_at)
    settings = settings_for(shop)
    quantity = sellable_quantity(session, shop.id, variant.inventory_item_id, settings)
    new_restock = record_restock(session, shop, variant, quantity, "release") if quantity is not None else None
    sellable = quantity is not None and quantity >= settings.restock_minimum and variant.can_alert
    return StockNow(variant, quantity, sellable, new_restock)
