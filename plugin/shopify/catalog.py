"""Plain-data reads of variants and their stock, built on ``AdminClient``.

Callers (inventory webhooks, reconciliation, intake) get frozen ``VariantSnapshot`` values with
integer ids and no GraphQL shapes, so nothing outside ``plugin.shopify`` knows the schema.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from plugin.logging import get_logger
from plugin.shopify.documents import load_document
from plugin.shopify.gids import gid, parse_gid

log = get_logger(__name__)

# Shopify refuses a query whose *requested* cost exceeds 1000; a variant with 25 inventory levels
# requests about 81, so 12 variants per call (see fragments/VariantStockFields.graphql).
BATCH_SIZE = 12


@dataclass(frozen=True)
class VariantSnapshot:
    variant_id: int
    product_id: int
    inventory_item_id: int | None
    title: str
    product_title: str
    product_handle: str
    price: str | None
    inventory_policy: str  # "DENY" | "CONTINUE"
    tracked: bool
    product_status: str  # "ACTIVE" | "DRAFT" | "ARCHIVED"
    levels: dict[int, int] = field(default_factory=dict)  # location_id -> available

    @property
    def can_alert(self) -> bool:
        """Backorderable, untracked, draft and archived variants never alert."""
        return self.tracked and self.inventory_policy == "DENY" and self.product_status == "ACTIVE"


def fetch_variants(client, variant_ids: list[int]) -> list[VariantSnapshot]:
    """Snapshots of the given variants in the order asked, in batches of 12; unknown ids skipped."""
    unique_ids = list(dict.fromkeys(int(v) for v in variant_ids))
    snapshots: list[VariantSnapshot] = []
    for start in range(0, len(unique_ids), BATCH_SIZE):
        batch = unique_ids[start:start + BATCH_SIZE]
        data = client.execute("VariantStock", {"ids": [gid("ProductVariant", v) for v in batch]})
        for node in data.get("nodes") or []:
            # A deleted variant comes back as null, an id of another type as an empty object.
            if node and node.get("id"):
                snapshots.append(snapshot_from_node(node))
    return snapshots


def fetch_variant_by_inventory_item(client, inventory_item_id: int) -> VariantSnapshot | None:
    """The variant whose inventory item this is, or None when Shopify does not know the item."""
    data = client.execute("VariantByInventoryItem", {"id": gid("InventoryItem", inventory_item_id)})
    item = data.get("inventoryItem")
    if not item or not item.get("variant"):
        return None
    return snapshot_from_node(item["variant"])


def snapshot_from_node(node: dict[str, Any]) -> VariantSnapshot:
    """A ``VariantStockFields`` fragment result → ``VariantSnapshot``."""
    product = node.get("product") or {}
    item = node.get("inventoryItem") or {}
    return VariantSnapshot(
        variant_id=parse_gid(node["id"], "ProductVariant"),
        product_id=parse_gid(product["id"], "Product"),
        inventory_item_id=parse_gid(item["id"], "InventoryItem") if item.get("id") else None,
        title=node.get("title") or "",
        product_title=product.get("title") or "",
        product_handle=product.get("handle") or "",
        price=str(node["price"]) if node.get("price") is not None else None,
        inventory_policy=node.get("inventoryPolicy") or "DENY",
        tracked=bool(item.get("tracked")),
        product_status=product.get("status") or "ACTIVE",
        levels=_levels(item),
    )


def _levels(item: dict[str, Any]) -> dict[int, int]:
    connection = item.get("inventoryLevels") or {}
    if (connection.get("pageInfo") or {}).get("hasNextPage"):
        # More than 25 stocking locations: rare; the mirror from webhooks still covers the rest.
        log.warning("shopify_inventory_levels_truncated", inventory_item_id=item.get("id"))
    levels: dict[int, int] = {}
    for level in connection.get("nodes") or []:
        location_id = parse_gid(level["location"]["id"], "Location")
        available = next((q["quantity"] for q in level.get("quantities") or [] if q.get("name") == "available"), None)
        levels[location_id] = int(available or 0)
    return levels


# -- the same snapshots from a bulk query's JSONL (bulk/VariantStockExport) ------------------------

_RANGE_PLACEHOLDER = '"ID_RANGE"'


def variant_stock_export(variant_ids: list[int]) -> str:
    """The bulk query text reading every variant whose id lies between the smallest and largest given.

    One id range rather than a list of ids keeps the query short for any number of variants; the
    variants in between that nobody waits for come along (bulk reads are not charged per object)
    and the caller skips them.
    """
    low, high = min(variant_ids), max(variant_ids)
    return load_document("bulk/VariantStockExport").replace(_RANGE_PLACEHOLDER, json.dumps(f"id:>={low} AND id:<={high}"))


@dataclass
class BulkReadStats:
    lines: int = 0
    variants: int = 0
    bad_lines: list[int] = field(default_factory=list)  # line numbers (from 0) that were unusable
    skipped_variants: list[int] = field(default_factory=list)  # ids not yielded because a line near them was bad


def snapshots_from_bulk(lines: Iterable[tuple[int, dict | None]], stats: BulkReadStats,
                        complete: bool = True) -> Iterator[VariantSnapshot]:
    """``VariantSnapshot`` values from ``bulk/VariantStockExport`` result lines, in constant memory.

    The file is grouped: a variant's line, then one line per inventory level carrying the variant's
    id as ``__parentId``. A variant is yielded when the next variant's line (or the end) shows its
    levels are all there. A variant touched by an unusable line (not JSON, wrong shape, a level
    that does not follow its variant) is skipped, never applied with levels missing; the line
    numbers are in ``stats`` and logged. ``complete=False`` (a partial file of a failed operation):
    the last variant may have lost levels at the cut, so it is not yielded.
    """
    current: dict | None = None
    levels: list[dict] = []
    tainted = False

    def finish() -> Iterator[VariantSnapshot]:
        if current is None:
            return
        variant_id = _variant_number(current)
        if tainted:
            if variant_id is not None:
                stats.skipped_variants.append(variant_id)
            return
        try:
            node = {**current, "inventoryItem": {**(current.get("inventoryItem") or {}),
                                                 "inventoryLevels": {"nodes": levels}}}
            snapshot = snapshot_from_node(node)
        except (KeyError, TypeError, ValueError, AttributeError):
            log.error("shopify_bulk_variant_unusable", variant_id=variant_id)
            if variant_id is not None:
                stats.skipped_variants.append(variant_id)
            return
        stats.variants += 1
        yield snapshot

    for number, value in lines:
        stats.lines += 1
        parent = value.get("__parentId") if value is not None else None
        if value is not None and parent is None and isinstance(value.get("id"), str):
            yield from finish()
            current, levels, tainted = value, [], False
        elif value is not None and current is not None and parent == current.get("id") and _is_level(value):
            levels.append(value)
        else:
            # Not JSON, no id, or a level without its variant just before: whatever variant it
            # belonged to is incomplete. Skip the one being assembled too.
            log.error("shopify_bulk_line_unusable", line=number, parent=parent if isinstance(parent, str) else None)
            stats.bad_lines.append(number)
            tainted = current is not None
    if complete:
        yield from finish()
    elif current is not None:
        variant_id = _variant_number(current)
        if variant_id is not None:
            stats.skipped_variants.append(variant_id)


def _is_level(value: dict) -> bool:
    return isinstance(value.get("location"), dict) and isinstance(value.get("quantities"), list)


def _variant_number(line: dict) -> int | None:
    try:
        return parse_gid(line.get("id"), "ProductVariant")
    except (ValueError, TypeError):
        return None
