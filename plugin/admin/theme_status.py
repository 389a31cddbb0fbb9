"""Is the Notify me widget on the live theme? The most common reason a merchant sees no subscribers.

Shopify does not say whether an app block or embed is in use; the live theme's files do. An app
block added to the product page is a block of type ``shopify://apps/<app>/blocks/notify-me/<uuid>``
in ``templates/product.json``; the app embed is a block of type ``…/blocks/notify-me-embed/<uuid>``
in ``config/settings_data.json`` (``current.blocks``), switched off with ``"disabled": true``.
Both are read through Admin GraphQL (``MainThemeFiles``, scope ``read_themes``); when the read
fails the status is unknown, and Home says so instead of guessing.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlencode

from plugin.clock import utcnow
from plugin.logging import get_logger
from plugin.shopify.admin_api import AdminApiError, AdminClient

log = get_logger(__name__)

THEME_STATUS_TTL = timedelta(minutes=1)
APP_HANDLE = "backbell"  # shopify.app.toml `handle`
BLOCK_HANDLE = "notify-me"  # storefront_widget/blocks/notify-me.liquid
EMBED_HANDLE = "notify-me-embed"  # storefront_widget/blocks/notify-me-embed.liquid
_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)  # Shopify writes a comment header above the JSON


@dataclass(frozen=True)
class ThemeStatus:
    readable: bool
    theme_name: str | None = None
    block_on: bool = False
    embed_on: bool = False

    @property
    def widget_on(self) -> bool:
        return self.block_on or self.embed_on


def cached_theme_status(runtime, session, shop_domain: str) -> ThemeStatus:
    """``read_theme_status``, remembered for a minute per shop: Home is opened often, the live theme
    rarely changes, and reading its files is one of the slowest Admin API calls the admin makes."""
    cache = runtime.caches.setdefault("theme_status", {})
    hit = cache.get(shop_domain)
    if hit is not None and hit[0] > utcnow():
        return hit[1]
    status = read_theme_status(runtime, session, shop_domain)
    if status.readable:
        cache[shop_domain] = (utcnow() + THEME_STATUS_TTL, status)
    return status


def remembered_theme_status(runtime, shop_domain: str) -> ThemeStatus | None:
    """The status read within the last minute, or None: Home renders it at once when it has it,
    and otherwise leaves the read to ``GET /api/theme-status`` after the page has painted."""
    hit = runtime.caches.get("theme_status", {}).get(shop_domain)
    return hit[1] if hit is not None and hit[0] > utcnow() else None


def read_theme_status(runtime, session, shop_domain: str) -> ThemeStatus:
    """The live theme's status for ``shop_domain``; unreadable (not an error) when Shopify says no."""
    try:
        with AdminClient.for_shop(runtime, session, shop_domain, max_attempts=2, max_total_wait=1.0) as client:
            themes = client.execute("MainThemeFiles")["themes"]["nodes"]
    except AdminApiError as err:
        log.info("theme_status_unavailable", shop=shop_domain, error=err.message)
        return ThemeStatus(readable=False)
    if not themes:
        return ThemeStatus(readable=False)
    files = {node["filename"]: (node.get("body") or {}).get("content") or "" for node in themes[0]["files"]["nodes"]}
    return ThemeStatus(readable=True, theme_name=themes[0]["name"],
                       block_on=block_in_product_template(files.get("templates/product.json", "")),
                       embed_on=embed_enabled(files.get("config/settings_data.json", "")))


def block_in_product_template(text: str) -> bool:
    """Whether an enabled Notify me block sits in any section of the product template."""
    template = _json(text)
    for section in (template.get("sections") or {}).values():
        blocks = section.get("blocks") if isinstance(section, dict) else None  # "apps" sections too
        if isinstance(blocks, dict) and any(_is_ours(b, BLOCK_HANDLE) for b in blocks.values()):
            return True
    return False


def embed_enabled(text: str) -> bool:
    """Whether the Notify me app embed is listed and not disabled in the theme's settings."""
    data = _json(text)
    current = data.get("current")
    if isinstance(current, str):  # older themes name a preset instead of inlining it
        current = (data.get("presets") or {}).get(current)
    blocks = current.get("blocks") if isinstance(current, dict) else None
    return any(_is_ours(block, EMBED_HANDLE) for block in (blocks or {}).values())


def block_link(shop_domain: str, api_key: str) -> str:
    """The theme editor, adding the Notify me block to the product page's main section."""
    query = {"template": "product", "addAppBlockId": f"{api_key}/{BLOCK_HANDLE}", "target": "mainSection"}
    return f"https://{shop_domain}/admin/themes/current/editor?{urlencode(query, safe='/')}"


def embed_link(shop_domain: str, api_key: str) -> str:
    """The theme editor's app embeds panel, turning the Notify me embed on."""
    query = {"context": "apps", "template": "product", "activateAppId": f"{api_key}/{EMBED_HANDLE}"}
    return f"https://{shop_domain}/admin/themes/current/editor?{urlencode(query, safe='/')}"


def _is_ours(block, handle: str) -> bool:
    if not isinstance(block, dict) or block.get("disabled") is True:
        return False
    kind = block.get("type")
    return isinstance(kind, str) and kind.startswith(f"shopify://apps/{APP_HANDLE}/blocks/{handle}/")


def _json(text: str) -> dict:
    try:
        value = json.loads(_COMMENT.sub("", text or "", count=1) or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
