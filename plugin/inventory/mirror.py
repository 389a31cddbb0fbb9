"""The inventory mirror: per-location levels, the sellable quantity, and when to ask Shopify.

``inventory_levels/update`` arrives once per inventory item *and location*, possibly late,
duplicated or out of order. Each delivery updates one mirrored level unless Shopify's
``updated_at`` says it is older than what we hold. The sellable quantity of a variant is the sum
of ``available`` over the locations the shop counts.

The mirror is a cache. Before a restock is declared — and whenever the mirrored variant was never
read or is stale — the variant is re-read through the Admin API and the mirror is replaced by that
read: Shopify is the truth when the two disagree, and a false "back in stock" mail cannot be
taken back.

The read happens *before* the variant row is locked (it may wait out throttling for up to a
minute, and every other delivery for the variant would queue behind the lock meanwhile); the lock
only applies the result. Applying re-checks staleness: the read carries the time it began, and a
level or variant that changed after that (a delivery handled while we were reading) is not
overwritten by it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from sqlalchemy import bindparam, case, delete, or_, select, union_all
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from plugin.db import UTCDateTime, insert_for
from plugin.clock import utcnow
from plugin.logging import get_logger
from plugin.models import InventoryLevel, RestockEvent, Shop, Variant
from plugin.offers.holds import held_units_row
from plugin.inventory.restock import detect_restock, lock_variant, record_in_stock_for_waiting, record_restock
from plugin.shop_settings import ShopSettings, settings_for
from plugin.shopify.admin_api import AdminApiError, AdminClient
from plugin.shopify.catalog import VariantSnapshot, fetch_variants

log = get_logger(__name__)

# How far our clock may run ahead of Shopify's before a genuine delivery right after a read is dropped.
ADMIN_READ_SKEW = timedelta(seconds=5)


class BadPayload(ValueError):
    """A webhook body without the fields every delivery of its topic carries (retrying won't help)."""


@dataclass(frozen=True)
class LevelUpdate:
    inventory_item_id: int
    location_id: int
    available: int | None
    updated_at: datetime | None  # Shopify's; None for a level read through the Admin API


# Asked on every delivery for a watched item, so built once with bound parameters (building a
# statement costs about as much CPU as running it). The item's levels and (the row with no
# location) the units held for our shoppers: one round trip for the sum.
_LEVELS_AND_HELD = union_all(
    select(InventoryLevel.location_id, InventoryLevel.available, InventoryLevel.source_updated_at).where(
        InventoryLevel.shop_id == bindparam("shop_id"),
        InventoryLevel.inventory_item_id == bindparam("inventory_item_id")),
    held_units_row(bindparam("shop_id"), bindparam("inventory_item_id")),
)
_VARIANT_BY_ITEM = (select(Variant).where(Variant.shop_id == bindparam("shop_id"),
                                          Variant.inventory_item_id == bindparam("inventory_item_id"))
                    .order_by(Variant.id).limit(1))


def parse_level_update(payload: dict) -> LevelUpdate:
    try:
        item, location = int(payload["inventory_item_id"]), int(payload["location_id"])
        available = payload.get("available")
        available = None if available is None else int(available)
        stamp = payload.get("updated_at")
        updated_at = datetime.fromisoformat(stamp) if stamp else utcnow()
    except (KeyError, TypeError, ValueError) as err:
        raise BadPayload(f"inventory_levels/update body is missing or has a bad field: {err}") from None
    if updated_at.tzinfo is None:
        raise BadPayload("inventory_levels/update updated_at has no UTC offset")
    return LevelUpdate(item, location, available, updated_at)


@dataclass(frozen=True)
class AdminRead:
    """What the Admin API said about a variant, and when we started asking."""

    read_at: datetime
    snapshots: list[VariantSnapshot] | None  # None: Shopify refused (permanently); go on without


class ReadRaced(AdminApiError):
    """The variant changed between the unlocked look and the lock, and now needs a read: try again."""

    def __init__(self, variant_id: int):
        super().__init__(f"variant {variant_id} changed while it was being looked at; read it again", transient=True)


def apply_inventory_webhook(runtime, session: Session, shop: Shop, payload: dict) -> RestockEvent | None:
    """Mirror one delivery and, when it makes a watched variant sellable again, record the restock."""
    update = parse_level_update(payload)
    variant = find_variant_by_item(session, shop, update.inventory_item_id)
    read = None
    if variant is not None and update.available is not None and _read_wanted(session, shop, variant, update):
        read = read_variant_unlocked(runtime, session, shop, variant.variant_id)
    if variant is not None:
        # Serialise deliveries for one variant: the sum below must see every committed level.
        variant = lock_variant(session, variant.id)
    if update.available is None:
        log.info("inventory_level_untracked", shop_id=shop.id, inventory_item_id=update.inventory_item_id,
                 location_id=update.location_id)
        return None
    if not upsert_level(session, shop.id, update):
        log.info("inventory_level_stale", shop_id=shop.id, inventory_item_id=update.inventory_item_id,
                 location_id=update.location_id)
        return None
    if variant is None:
        return None  # nobody waits for this item
    return settle_variant(session, shop, variant, source="webhook", read=read)


def read_variant_unlocked(runtime, session: Session, shop: Shop, variant_id: int) -> AdminRead:
    """Read one variant from the Admin API; call it before locking anything (see the module doc)."""
    read_at = utcnow()
    try:
        return AdminRead(read_at, read_variants(runtime, session, shop, [variant_id]))
    except AdminApiError as err:
        if err.transient:
            raise
        # Without a read the webhook's own figures are still Shopify's; go on with them.
        log.warning("variant_reread_failed", shop_id=shop.id, variant_id=variant_id, error=err.message)
        return AdminRead(read_at, None)


def _read_wanted(session: Session, shop: Shop, variant: Variant, update: LevelUpdate) -> bool:
    """Would this delivery, once applied, need a read? Looked at without a lock."""
    stock = item_stock(session, shop.id, variant.inventory_item_id)
    stored = stock.stamps.get(update.location_id) if variant.inventory_item_id == update.inventory_item_id else None
    if stored is not None and stored > update.updated_at:
        return False  # older than what we hold: upsert_level will drop it
    settings = settings_for(shop)
    prospective = stock.sellable(settings, replacing={update.location_id: update.available})
    return _needs_reread(variant, prospective, settings)


def settle_variant(session: Session, shop: Shop, variant: Variant, source: str,
                   read: AdminRead | None = None) -> RestockEvent | None:
    """Compute the locked variant's sellable quantity (applying ``read`` first, when one was made)
    and record it.

    Raises ``ReadRaced`` (transient: the task runs again and reads first) when a read is needed
    that was not made: another delivery changed the levels after the unlocked look.
    """
    settings = settings_for(shop)
    if read is not None and read.snapshots:
        # Shopify's word, read for this delivery: applied before the sum, even if the locked rows no
        # longer need it (a level stamped after the read is kept), so the sum is taken once.
        apply_snapshot(session, shop, variant, read.snapshots[0], read.read_at)
    current = sellable_quantity(session, shop.id, variant.inventory_item_id, settings)
    if (read is None or read.snapshots == []) and _needs_reread(variant, current, settings):
        if read is None:
            raise ReadRaced(variant.variant_id)
        log.info("variant_gone", shop_id=shop.id, variant_id=variant.variant_id)
        return None
    if current is None:
        return None
    return record_restock(session, shop, variant, current, source)


def sync_variant_from_shopify(runtime, session: Session, shop: Shop, variant_id: int) -> RestockEvent | None:
    """Create or refresh the mirror of one variant from the Admin API (after a new subscription).

    A variant found in stock with shoppers waiting is a restock for them even without a crossing:
    the shopper who subscribed a second before the stock came back must not wait for the next one.
    """
    read_at = utcnow()
    snapshots = read_variants(runtime, session, shop, [variant_id])
    if not snapshots:
        log.info("variant_gone", shop_id=shop.id, variant_id=variant_id)
        return None
    variant = mirror_snapshot(session, shop, snapshots[0], read_at)
    current = sellable_quantity(session, shop.id, variant.inventory_item_id, settings_for(shop))
    event = record_restock(session, shop, variant, current, "sync") if current is not None else None
    return event or record_in_stock_for_waiting(session, shop, variant, "sync")


def read_variants(runtime, session: Session, shop: Shop, variant_ids: list[int]) -> list[VariantSnapshot]:
    """Snapshots from the Admin API (batched by ``fetch_variants``); raises ``AdminApiError``."""
    with AdminClient.for_shop(runtime, session, shop) as client:
        return fetch_variants(client, variant_ids)


def mirror_snapshot(session: Session, shop: Shop, snapshot: VariantSnapshot, read_at: datetime) -> Variant:
    """The locked ``Variant`` row for a snapshot read at ``read_at`` (created if new), refreshed from it."""
    insert = insert_for(session)(Variant).values(shop_id=shop.id, variant_id=snapshot.variant_id)
    session.execute(insert.on_conflict_do_nothing(index_elements=["shop_id", "variant_id"]))
    row_id = session.execute(
        select(Variant.id).where(Variant.shop_id == shop.id, Variant.variant_id == snapshot.variant_id)
    ).scalar_one()
    variant = lock_variant(session, row_id)
    apply_snapshot(session, shop, variant, snapshot, read_at)
    return variant


def apply_snapshot(session: Session, shop: Shop, variant: Variant, snapshot: VariantSnapshot,
                   read_at: datetime) -> None:
    """Replace the locked variant and its levels with what the Admin API said at ``read_at``,
    unless a newer read was applied meanwhile; levels changed after ``read_at`` are kept."""
    if variant.synced_at is not None and variant.synced_at > read_at:
        log.info("variant_read_superseded", shop_id=shop.id, variant_id=variant.variant_id)
        return
    variant.product_id = snapshot.product_id
    variant.inventory_item_id = snapshot.inventory_item_id
    variant.title, variant.product_title = snapshot.title, snapshot.product_title
    variant.product_handle, variant.price = snapshot.product_handle, snapshot.price
    variant.inventory_policy, variant.tracked = snapshot.inventory_policy, snapshot.tracked
    variant.product_status, variant.synced_at = snapshot.product_status, read_at
    if snapshot.inventory_item_id is None:
        return
    levels = {int(location): available for location, available in snapshot.levels.items() if available is not None}
    session.execute(
        delete(InventoryLevel).where(
            InventoryLevel.shop_id == shop.id,
            InventoryLevel.inventory_item_id == snapshot.inventory_item_id,
            InventoryLevel.location_id.not_in(list(levels) or [-1]),
            or_(InventoryLevel.source_updated_at.is_(None), InventoryLevel.source_updated_at <= read_at),
        )
    )
    for location_id, available in levels.items():
        update = LevelUpdate(snapshot.inventory_item_id, location_id, int(available), read_at)
        upsert_level(session, shop.id, update, from_admin_api=True)


def upsert_level(session: Session, shop_id: int, update: LevelUpdate, from_admin_api: bool = False) -> bool:
    """Store one level unless the stored one is newer; True when it was stored.

    For a level read from the Admin API, ``update.updated_at`` is when the read began. It replaces
    every level Shopify stamped up to then — but not one a delivery handled while we were reading
    says changed later — and is stored stamped ``ADMIN_READ_SKEW`` earlier: a delivery Shopify
    retries hours later cannot undo the read (a stale "0" would stop a dispatch as "sold out
    again"), while one stamped by Shopify's clock just after the read still gets through when the
    two clocks disagree a little.
    """
    stamp = update.updated_at - ADMIN_READ_SKEW if from_admin_api else update.updated_at
    params = {"shop_id": shop_id, "inventory_item_id": update.inventory_item_id, "location_id": update.location_id,
              "available": update.available, "source_updated_at": stamp}
    if from_admin_api:
        params |= {"as_of": update.updated_at, "read_stamp": stamp}
    statement = _upsert_level_statement(session.get_bind().dialect.name, from_admin_api)
    # RETURNING yields the row only when it was inserted or the WHERE let the update through.
    return session.execute(statement, params).first() is not None


@lru_cache(maxsize=None)
def _upsert_level_statement(dialect: str, from_admin_api: bool):
    """``upsert_level``'s statement, built once per dialect and kind, with bound parameters."""
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(InventoryLevel).values(
        shop_id=bindparam("shop_id"), inventory_item_id=bindparam("inventory_item_id"),
        location_id=bindparam("location_id"), available=bindparam("available"),
        source_updated_at=bindparam("source_updated_at", type_=UTCDateTime()),
    )
    stored = InventoryLevel.source_updated_at
    if from_admin_api:
        as_of, read_stamp = bindparam("as_of", type_=UTCDateTime()), bindparam("read_stamp", type_=UTCDateTime())
        statement = insert.on_conflict_do_update(
            index_elements=["shop_id", "inventory_item_id", "location_id"],
            set_={"available": insert.excluded.available,
                  "source_updated_at": case((or_(stored.is_(None), stored < read_stamp), read_stamp), else_=stored)},
            where=or_(stored.is_(None), stored <= as_of),
        )
    else:
        statement = insert.on_conflict_do_update(
            index_elements=["shop_id", "inventory_item_id", "location_id"],
            set_={"available": insert.excluded.available, "source_updated_at": insert.excluded.source_updated_at},
            where=or_(stored.is_(None), stored <= insert.excluded.source_updated_at),
        )
    return statement.returning(InventoryLevel.location_id)


def sellable_quantity(session: Session, shop_id: int, inventory_item_id: int | None,
                      settings: ShopSettings, replacing: dict[int, int] | None = None) -> int | None:
    """Sum of ``available`` over the counted locations; None when no counted location reports one.

    Negative levels (oversold) count too: Shopify sums them the same way when it decides whether
    a DENY variant can be bought, and we must not call a variant back that the storefront won't sell.
    """
    if inventory_item_id is None:
        return None
    return item_stock(session, shop_id, inventory_item_id).sellable(settings, replacing)


@dataclass(frozen=True)
class ItemStock:
    """An inventory item's mirrored levels and the units held for our shoppers, read together."""

    levels: dict[int, int]  # location → available (levels that report one)
    stamps: dict[int, datetime | None]  # location → Shopify's updated_at of the stored level (every level)
    held: int

    def sellable(self, settings: ShopSettings, replacing: dict[int, int] | None = None) -> int | None:
        levels = self.levels | (replacing or {})
        counted = [available for location_id, available in levels.items() if settings.counts_location(location_id)]
        if not counted:
            return None
        # Offers hook: units held in draft orders for told shoppers still count (plugin.offers.holds),
        # so Shopify's "available" going down when we hold and up when we release is no sell-out and
        # no restock.
        return sum(counted) + self.held


def item_stock(session: Session, shop_id: int, inventory_item_id: int | None) -> ItemStock:
    """The item's levels and held units (nothing for an item not known yet), in one statement."""
    if inventory_item_id is None:
        return ItemStock({}, {}, 0)
    levels, stamps, held = {}, {}, 0
    for location_id, available, stamp in session.execute(
            _LEVELS_AND_HELD, {"shop_id": shop_id, "inventory_item_id": inventory_item_id}):
        if location_id is None:  # the held units' row
            held = int(available or 0)
            continue
        stamps[location_id] = stamp
        if available is not None:
            levels[location_id] = available
    return ItemStock(levels, stamps, held)


def find_variant_by_item(session: Session, shop: Shop, inventory_item_id: int) -> Variant | None:
    return session.execute(_VARIANT_BY_ITEM, {"shop_id": shop.id, "inventory_item_id": inventory_item_id}
                           ).scalar_one_or_none()


def _needs_reread(variant: Variant, current: int | None, settings: ShopSettings) -> bool:
    if variant.synced_at is None or variant.inventory_item_id is None:
        return True
    if utcnow() - variant.synced_at > timedelta(minutes=settings.reconcile_stale_minutes):
        return True
    return current is not None and detect_restock(variant.available, current, settings.restock_minimum)


def apply_product_update(session: Session, shop: Shop, payload: dict) -> list[RestockEvent]:
    """Refresh status, policy and titles of the mirrored variants of a ``products/update``.

    A product made active again (or a variant switched back to DENY) while in stock, with shoppers
    waiting, counts as a restock for them: no quantity crossing will ever come.
    """
    try:
        product_id = int(payload["id"])
    except (KeyError, TypeError, ValueError):
        raise BadPayload("products/update body has no product id") from None
    query = select(Variant).where(Variant.shop_id == shop.id, Variant.product_id == product_id)
    variants = {v.variant_id: v for v in session.execute(query).scalars()}
    events = []
    for data in payload.get("variants") or []:
        variant = variants.get(data.get("id")) if isinstance(data, dict) else None
        if variant is None:
            continue
        could_alert = variant.can_alert
        _apply_product_fields(variant, payload, data)
        if variant.can_alert and not could_alert:
            event = record_in_stock_for_waiting(session, shop, variant, "webhook")
            events += [event] if event else []
    return events


def _apply_product_fields(variant: Variant, product: dict, data: dict) -> None:
    if product.get("status"):
        variant.product_status = str(product["status"]).upper()
    variant.product_title = product.get("title", variant.product_title)
    variant.product_handle = product.get("handle", variant.product_handle)
    variant.title = data.get("title", variant.title)
    if data.get("price") is not None:
        variant.price = str(data["price"])
    if data.get("inventory_policy"):
        variant.inventory_policy = str(data["inventory_policy"]).upper()
    if "inventory_management" in data:
        variant.tracked = data["inventory_management"] is not None
