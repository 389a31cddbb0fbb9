"""Plain-data reads of variants and their stock, built on ``AdminClient``.

Callers (inventory webhooks, reconciliation, intake) get frozen ``VariantSnapshot`` values with
integer ids and no GraphQL shapes, so nothing outside ``plugin.shopify`` knows the schema.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from plugin.logging import get_logger
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
