"""The webhook storms of the fault tests: Shopify's true stock history, our mirror before it, and
the deliveries — shuffled, some sent again under the same id (Shopify's retries) and some under a
new one (the same change twice)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from plugin.clock import utcnow
from plugin.models import InventoryLevel
from tests.webhooks.delivery import DEMO_SHOP, add_variant_row, add_waiting, level_payload

LOCATIONS = (101, 102, 103)


@dataclass(frozen=True)
class StockHistory:
    """Per (inventory item, location), a walk of levels over the last hour, oldest first; variant
    ``first_variant + n`` has item ``first_item + n``."""

    first_item: int
    first_variant: int
    walks: dict[tuple[int, int], list[tuple[datetime, int]]]

    @classmethod
    def walk(cls, rng: random.Random, variants: int, changes: int, first_item: int, first_variant: int,
             step_seconds: int) -> StockHistory:
        start = utcnow() - timedelta(hours=1)
        walks = {}
        for v in range(variants):
            for location in LOCATIONS:
                level, walk = 0, []
                for step in range(changes):
                    level = max(0, level + rng.choice((-2, -1, 0, 1, 2)))
                    walk.append((start + timedelta(seconds=step * step_seconds + location % 7), level))
                if v % 3 == 0:  # a third end sold out everywhere, though they were in stock on the way
                    walk[-1] = (walk[-1][0], 0)
                walks[(first_item + v, location)] = walk
        return cls(first_item, first_variant, walks)

    @property
    def finals(self) -> dict[tuple[int, int], int]:
        return {key: walk[-1][1] for key, walk in self.walks.items()}

    @property
    def variants(self) -> int:
        return len(self.walks) // len(LOCATIONS)

    def final_sums(self) -> dict[int, int]:
        """Shopify's final available quantity of every variant (all locations)."""
        finals = self.finals
        return {self.first_variant + v: sum(finals[(self.first_item + v, location)] for location in LOCATIONS)
                for v in range(self.variants)}

    def came_back(self) -> list[int]:
        """The variants that truly went from sold out to in stock."""
        return sorted(variant for variant, available in self.final_sums().items() if available >= 1)

    def seed(self, session, vault, shopify_admin, shop_id: int) -> None:
        """Shopify already at its final numbers; every variant sold out in our mirror and watched."""
        finals = self.finals
        for v in range(self.variants):
            item, variant_id = self.first_item + v, self.first_variant + v
            shopify_admin.add_variant(DEMO_SHOP, variant_id, inventory_item_id=item,
                                      levels={location: finals[(item, location)] for location in LOCATIONS})
            add_variant_row(session, shop_id, variant_id, item, 0)
            for location in LOCATIONS:
                session.add(InventoryLevel(shop_id=shop_id, inventory_item_id=item, location_id=location,
                                           available=0, source_updated_at=utcnow() - timedelta(hours=2)))
            session.commit()
            add_waiting(session, vault, shop_id, variant_id, f"shopper{v}@gmail.com")

    def deliveries(self, rng: random.Random, prefix: str, retried: int, resent: int) -> list[tuple[str, dict]]:
        """(webhook id, payload) of every change, plus ``retried`` sent again under the same id and
        ``resent`` under a new one, shuffled."""
        deliveries = [(f"{prefix}-{item}-{location}-{n}", level_payload(item, location, level, at.isoformat()))
                      for (item, location), walk in self.walks.items() for n, (at, level) in enumerate(walk)]
        deliveries += rng.sample(deliveries, retried)
        deliveries += [(f"{webhook_id}-again", payload) for webhook_id, payload in rng.sample(deliveries, resent)]
        rng.shuffle(deliveries)
        return deliveries
