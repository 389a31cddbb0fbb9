"""A storm of inventory webhooks through the real endpoint: 10,000 deliveries for 3 locations,
shuffled and duplicated (the same id again, and the same change under a new id), arriving after
Shopify's stock has settled. The mirror must end at Shopify's final numbers, and every variant
that truly went from sold out to in stock must get exactly one restock — none for a variant that
only passed through stock on the way back to zero."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import timedelta

import pytest
from sqlalchemy import select

from plugin.clock import utcnow
from plugin.models import InventoryLevel, RestockEvent, Variant
from tests.webhooks.delivery import DEMO_SHOP, add_variant_row, add_waiting, deliver, level_payload

pytestmark = [pytest.mark.pg_only, pytest.mark.fault, pytest.mark.xdist_group("faults-b")]

VARIANTS, LOCATIONS, CHANGES = 40, (101, 102, 103), 80  # 40 × 3 × 80 = 9,600 changes, + duplicates
SEED = 20261201


def _true_history(rng: random.Random):
    """Per (item, location) a walk of CHANGES levels over the last hour, oldest first."""
    start = utcnow() - timedelta(hours=1)
    history = {}
    for v in range(VARIANTS):
        item = 90_000 + v
        for location in LOCATIONS:
            level, walk = 0, []
            for step in range(CHANGES):
                level = max(0, level + rng.choice((-2, -1, 0, 1, 2)))
                walk.append((start + timedelta(seconds=step * 40 + location % 7), level))
            # A third of the variants end sold out everywhere, though they were in stock on the way.
            if v % 3 == 0:
                walk[-1] = (walk[-1][0], 0)
            history[(item, location)] = walk
    return history


def test_shuffled_duplicated_deliveries_end_at_shopifys_numbers_with_one_restock_per_crossing(
        shopify_admin, installed_shop, client, runtime, session):
    rng = random.Random(SEED)
    history = _true_history(rng)
    finals = {key: walk[-1][1] for key, walk in history.items()}
    # given every variant sold out and watched, and Shopify already at its final numbers
    for v in range(VARIANTS):
        item, variant_id = 90_000 + v, 80_000 + v
        shopify_admin.add_variant(DEMO_SHOP, variant_id, inventory_item_id=item,
                                  levels={location: finals[(item, location)] for location in LOCATIONS})
        add_variant_row(session, installed_shop.id, variant_id, item, 0)
        for location in LOCATIONS:
            session.add(InventoryLevel(shop_id=installed_shop.id, inventory_item_id=item, location_id=location,
                                       available=0, source_updated_at=utcnow() - timedelta(hours=2)))
        session.commit()
        add_waiting(session, runtime.vault, installed_shop.id, variant_id, f"shopper{v}@gmail.com")
    deliveries = [(f"storm-{item}-{location}-{n}", level_payload(item, location, level, at.isoformat()))
                  for (item, location), walk in history.items() for n, (at, level) in enumerate(walk)]
    deliveries += rng.sample(deliveries, 250)  # Shopify's retries: the same webhook id again
    deliveries += [(f"{webhook_id}-again", payload) for webhook_id, payload in rng.sample(deliveries, 150)]
    rng.shuffle(deliveries)
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
    assert mirrored == finals
    # and exactly the variants that truly came back have one restock each
    came_back = sorted(80_000 + v for v in range(VARIANTS)
                       if sum(finals[(90_000 + v, location)] for location in LOCATIONS) >= 1)
    events = session.scalars(select(RestockEvent.variant_id).order_by(RestockEvent.variant_id)).all()
    assert events == came_back
    assert len(came_back) < VARIANTS  # (the seed leaves some sold out: the test covers both)
    sums = {v.variant_id: v.available for v in session.scalars(select(Variant))}
    assert sums == {80_000 + v: sum(finals[(90_000 + v, location)] for location in LOCATIONS) for v in range(VARIANTS)}
