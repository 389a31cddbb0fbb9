"""The languages Backbell ships, and the one mapping from a storefront locale to one of them."""

from __future__ import annotations

import re

LOCALES = ("en", "zh-CN", "es", "fr", "de", "ja")
DEFAULT_LOCALE = "en"


def normalise_locale(raw: object) -> str:
    """One of ``LOCALES`` for a storefront locale such as ``fr-CA``, ``zh_Hans`` or ``JA``; else English.

    Every Chinese variant maps to zh-CN: Simplified Chinese is the only Chinese we ship and reads
    better than English for most Traditional readers too.
    """
    if not isinstance(raw, str):
        return DEFAULT_LOCALE
    language = re.split(r"[-_]", raw.strip().lower(), maxsplit=1)[0]
    if language == "zh":
        return "zh-CN"
    return language if language in LOCALES else DEFAULT_LOCALE
