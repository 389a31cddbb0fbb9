"""The shop an app-proxy request names, read as a plain snapshot (no ORM session), and kept briefly.

Every storefront request reads its shop first. As an ORM query in a session that cost about a
quarter of a sign-up's CPU; what the storefront needs of the shop is five columns, read with one
Core statement built once. ``StorefrontShops`` keeps each snapshot for ``TTL_SECONDS`` in the web
process, and forgets them all as soon as this process writes to the ``shops`` table (settings
saved, installed, uninstalled): a setting changed in another process reaches the storefront within
that time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import cached_property
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, event, select

from plugin.models import Shop
from plugin.shop_settings import ShopSettings, settings_for

_BY_DOMAIN = select(Shop.id, Shop.domain, Shop.timezone, Shop.settings, Shop.uninstalled_at).where(
    Shop.domain == bindparam("domain"))


@dataclass(frozen=True)
class StorefrontShop:
    """What the storefront endpoints use of a shop (duck-types ``Shop`` for ``settings_for``)."""

    id: int
    domain: str
    timezone: str
    settings: dict[str, Any]
    uninstalled_at: datetime | None

    @property
    def active(self) -> bool:
        return self.uninstalled_at is None

    @cached_property
    def parsed_settings(self) -> ShopSettings:
        """``settings_for`` once per snapshot, not once per request (raises ``SettingsError`` each
        time for stored settings no form would save)."""
        return settings_for(self)


def storefront_shop(connection: Connection, domain: str | None) -> StorefrontShop | None:
    if not domain:
        return None
    row = connection.execute(_BY_DOMAIN, {"domain": domain}).first()
    return StorefrontShop(row.id, row.domain, row.timezone, row.settings or {}, row.uninstalled_at) if row else None


class StorefrontShops:
    """Snapshots by domain (an unknown domain too), per process, for at most ``TTL_SECONDS``."""

    TTL_SECONDS = 2.0
    MAX_ENTRIES = 10_000  # then start over: a bound, not an eviction policy

    def __init__(self, *engines: Engine):
        self._kept: dict[str, tuple[float, StorefrontShop | None]] = {}
        for engine in engines:  # the app's engines: sessions, and autocommit connections
            event.listen(engine, "after_cursor_execute", self._forget_on_write)

    def get(self, connection: Connection, domain: str | None) -> StorefrontShop | None:
        now = time.monotonic()
        kept = self._kept.get(domain or "")
        if kept is not None and now - kept[0] < self.TTL_SECONDS:
            return kept[1]
        shop = storefront_shop(connection, domain)
        if len(self._kept) >= self.MAX_ENTRIES:
            self._kept.clear()
        self._kept[domain or ""] = (now, shop)
        return shop

    def _forget_on_write(self, _conn, _cursor, statement: str, *_args) -> None:
        # Any statement of this process's engine that may write the table (INSERT, UPDATE, DELETE,
        # TRUNCATE, an ORM flush) — a write to another table that merely mentions it forgets too.
        if "shops" in statement and not statement.startswith("SELECT"):
            self._kept.clear()
