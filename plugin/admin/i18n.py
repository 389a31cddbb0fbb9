"""The admin's own strings in the six shipped languages, picked by the merchant's admin locale.

Shopify adds ``locale`` (e.g. ``de``, ``zh-CN``, ``pt-BR``) to the App Home URL; the same mapping
as the storefront's (``plugin.dispatch.messages.locales``) turns it into one of ours, English
otherwise. Catalogues are ``locales/<locale>.json``; every one has exactly English's keys and
placeholders (``tests/admin/test_i18n.py``).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from plugin.dispatch.messages.locales import DEFAULT_LOCALE, LOCALES, normalise_locale

CATALOGUE_DIR = Path(__file__).resolve().parent / "locales"


@cache
def catalogue(locale: str) -> dict[str, str]:
    return json.loads((CATALOGUE_DIR / f"{locale}.json").read_text(encoding="utf-8"))


class Translator:
    """``t("key", name=value)``: the string in the merchant's language, else English, else the key."""

    def __init__(self, raw_locale: object):
        self.locale = normalise_locale(raw_locale)

    def __call__(self, key: str, **values) -> str:
        text = catalogue(self.locale).get(key) or catalogue(DEFAULT_LOCALE).get(key) or key
        return text.format(**values) if values else text

    def has(self, key: str) -> bool:
        return key in catalogue(DEFAULT_LOCALE)

    def catalogue_for_scripts(self, prefix: str = "") -> dict[str, str]:
        """The strings the page's scripts show (toasts, errors), so they need no second request."""
        english = catalogue(DEFAULT_LOCALE)
        return {key: self(key) for key in english if key.startswith(prefix)}


__all__ = ["LOCALES", "Translator", "catalogue"]
