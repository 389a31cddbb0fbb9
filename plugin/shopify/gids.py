"""Shopify global ids (``gid://shopify/ProductVariant/123``) ↔ the integers we store."""

from __future__ import annotations

import re

_GID = re.compile(r"^gid://shopify/(?P<type>[A-Za-z]+)/(?P<id>\d+)(?:\?.*)?$")


def gid(type_name: str, numeric_id: int) -> str:
    """The GID of a Shopify object, e.g. ``gid("ProductVariant", 123)``."""
    if int(numeric_id) <= 0:
        raise ValueError(f"a Shopify id is a positive integer, got {numeric_id!r}")
    return f"gid://shopify/{type_name}/{int(numeric_id)}"


def parse_gid(value: str | int, expected_type: str | None = None) -> int:
    """The numeric id in a GID (or a bare positive integer / digit string).

    Raises ``ValueError`` for anything else, including a GID of another type than
    ``expected_type`` — a product id where a variant id belongs is a bug, not a variant.
    """
    if isinstance(value, bool):
        raise ValueError(f"not a Shopify id: {value!r}")
    if isinstance(value, int):
        if value <= 0:
            raise ValueError(f"not a Shopify id: {value!r}")
        return value
    text = str(value).strip()
    if text.isdigit() and int(text) > 0:
        return int(text)
    match = _GID.match(text)
    if not match:
        raise ValueError(f"not a Shopify id: {value!r}")
    if expected_type and match["type"] != expected_type:
        raise ValueError(f"expected a {expected_type} id, got a {match['type']} id")
    return int(match["id"])


def gid_type(value: str) -> str | None:
    """The type part of a GID, or None when ``value`` is not a GID."""
    match = _GID.match(str(value).strip())
    return match["type"] if match else None
