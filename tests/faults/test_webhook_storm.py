"""A storm of inventory webhooks through the real endpoint: 10,000 deliveries for 3 locations,
shuffled and duplicated (the same id again, and the same change under a new id), arriving after
Shopify's stock has settled. The mirror must end at Shopify's final numbers, and every variant
that truly went from sold out to in stock must get exactly one restock — none for a variant that
only passed through stock on the way back to zero."""

from __future__ import annotations

import random
from collections import defaultdict

import pytest
from sqlalchemy import select

from plugin.models import InventoryLevel, RestockEvent, Variant
from tests.faults.storm import StockHistory
from tests.webhooks.delivery import deliver

pytestmark = [pytest.mark.pg_only, pytest.mark.fault, pytest.mark.xdist_group("faults-b")]

VARIANTS, CHANGES = 40, 80  # 40 × 3 locations × 80 = 9,600 changes, + duplicates
SEED = 20261201


def test_shuffled_duplicated_deliveries_end_at_shopifys_numbers_with_one_restock_per_crossing(
        shopify_admin, installed_shop, client, runtime, session):
    rng = random.Random(SEED)
    history = StockHistory.walk(rng, VARIANTS, CHANGES, first_item=90_000, first_variant=80_000, step_seconds=40)
    # given every variant sold out and watched, and Shopify already at its final numbers
    history.seed(session, runtime.vault, shopify_admin, installed_shop.id)
    deliveries = history.deliveries(rng, "storm", retried=250, resent=150)
    assert len(deliveries) >= 10_000
    # when they all arrive, in that order
    statuses = defaultdict(int)
    for webhook_id, payload in deliveries:
        statuses[deliver(client, "inventory_levels/update", payload, webhook_id=webhook_id).status_code] += 1
    # then every one was accepted
    assert dict(statuses) == {200: len(deliveries)}
    # and the mirror holds Shopify's final number at every location
    session.expire_all()
    mirrored = {(lvl.inventory_item_id, lvl.location_id): lvl.available for lvl in session.scalars(
        select(InventoryLevel).where(InventoryLevel.shop_id == installed_shop.id))}
    assert mirrored == history.finals
    # and exactly the variants that truly came back have one restock each
    events = session.scalars(select(RestockEvent.variant_id).order_by(RestockEvent.variant_id)).all()
    assert events == history.came_back()
    assert len(events) < VARIANTS  # (the seed leaves some sold out: the test covers both)
    sums = {v.variant_id: v.available for v in session.scalars(select(Variant))}
    assert sums == history.final_sums()
