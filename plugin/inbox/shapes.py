"""Is a signed webhook body the shape its topic sends? Checked before anything is written or queued.

Shopify's HMAC covers the body only. ``X-Shopify-Topic`` and ``X-Shopify-Shop-Domain`` are not
signed, so a captured inventory delivery replayed with ``X-Shopify-Topic: shop/redact`` and another
shop's domain would purge that shop if the handler trusted the headers. Each topic therefore
accepts only bodies that look like what Shopify sends for it, and the topics that act on a whole
shop or customer (uninstall, the three privacy topics) must name the header's shop in the body.
The same checks keep handlers from crashing on a body of the right topic with the wrong types
(a float where an id belongs, a list where a string belongs, ``variants`` that is not a list).

``payload_problem`` answers ``None`` (fine) or a ``Problem``; the caller maps it to 400. Fields the
handlers do not read are not checked, so Shopify adding a field never breaks delivery.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

MAX_SHOPIFY_ID = 2**63 - 1
MAX_INT32 = 2**31 - 1
SHOP_NAME_FIELDS = ("shop_domain", "myshopify_domain")


@dataclass(frozen=True)
class Problem:
    code: str  # invalid_json | invalid_payload | shop_mismatch
    message: str


def payload_problem(topic: str, shop_domain: str, payload: Any) -> Problem | None:
    """Why ``payload`` cannot be a ``topic`` delivery for ``shop_domain``; None when it can."""
    if not isinstance(payload, dict):
        return Problem("invalid_json", "The body must be a JSON object.")
    mismatch = _shop_mismatch(payload, shop_domain, required=topic in SHOP_NAMING_TOPICS)
    if mismatch:
        return mismatch
    check = TOPIC_SHAPES.get(topic)
    problem = check(payload) if check else None  # unknown topics: accepted, logged and ignored later
    return Problem("invalid_payload", f"The body is not a {topic} payload: {problem}.") if problem else None


def _shop_mismatch(payload: dict, shop_domain: str, required: bool) -> Problem | None:
    named = [payload[name] for name in SHOP_NAME_FIELDS if name in payload]
    if not named and "domain" in payload and required:
        # A shop object without myshopify_domain: its primary domain is the only name it carries.
        named = [payload["domain"]]
    if any(not isinstance(name, str) or name.strip().lower() != shop_domain for name in named):
        return Problem("shop_mismatch", "The body is for another shop than X-Shopify-Shop-Domain.")
    if required and not named:
        return Problem("shop_mismatch", "The body does not name the shop of X-Shopify-Shop-Domain "
                                        "(shop_domain, myshopify_domain or domain).")
    return None


# -- field checks: each returns what is wrong with one field, or None --------------------------------

Check = Callable[[dict], "str | None"]


def _shopify_id(data: dict, key: str, optional: bool = False) -> str | None:
    value = data.get(key)
    if (value is None and optional) or (_is_int(value) and 0 < value <= MAX_SHOPIFY_ID):
        return None
    return f"{key} must be a Shopify id (a positive 64-bit integer)"


def _int32(data: dict, key: str, optional: bool = False, minimum: int = -MAX_INT32) -> str | None:
    value = data.get(key)
    if (value is None and optional) or (_is_int(value) and minimum <= value <= MAX_INT32):
        return None
    return f"{key} must be a whole number from {minimum} to {MAX_INT32}"


def _present(data: dict, key: str, why: str) -> str | None:
    return None if key in data else f"{key} is missing ({why})"


def _text(data: dict, key: str, max_length: int = 255, choices: tuple[str, ...] | None = None) -> str | None:
    """An optional string (absent or null is fine), at most ``max_length`` long, one of ``choices``."""
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > max_length:
        return f"{key} must be a string of at most {max_length} characters"
    if choices is not None and value.strip().lower() not in choices:
        return f"{key} must be one of {', '.join(choices)}"
    return None


def _price(data: dict, key: str) -> str | None:
    value = data.get(key)
    if value is None or (isinstance(value, str) and len(value) <= 32):
        return None
    if (_is_int(value) or isinstance(value, float)) and abs(value) < 10**12:
        return None
    return f"{key} must be a decimal string"


def _time(data: dict, key: str) -> str | None:
    value = data.get(key)
    try:
        parsed = datetime.fromisoformat(value) if isinstance(value, str) and len(value) <= 64 else None
    except ValueError:
        parsed = None
    return None if parsed is not None and parsed.tzinfo is not None else f"{key} must be an ISO 8601 time with a UTC offset"


def _objects(data: dict, key: str, each: Check, optional: bool = False) -> str | None:
    value = data.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        return f"{key} must be a list of objects"
    return next((problem for problem in map(each, value) if problem), None)


def _object(data: dict, key: str, each: Check, optional: bool = False) -> str | None:
    value = data.get(key)
    if value is None and optional:
        return None
    return each(value) if isinstance(value, dict) else f"{key} must be an object"


def _ids(data: dict, key: str) -> str | None:
    value = data.get(key)
    if value is None or (isinstance(value, list) and all(_is_int(i) and 0 < i <= MAX_SHOPIFY_ID for i in value)):
        return None
    return f"{key} must be a list of Shopify ids"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# -- topics ---------------------------------------------------------------------------------------

def inventory_level(body: dict) -> str | None:
    return (_shopify_id(body, "inventory_item_id") or _shopify_id(body, "location_id")
            or _present(body, "available", "null when the item is not tracked")
            or _int32(body, "available", optional=True) or _time(body, "updated_at"))


def product(body: dict) -> str | None:
    return (_shopify_id(body, "id") or _text(body, "title") or _text(body, "handle")
            or _text(body, "status", choices=("active", "draft", "archived", "unlisted"))
            or _objects(body, "variants", _variant))


def _variant(variant: dict) -> str | None:
    return (_shopify_id(variant, "id") or _text(variant, "title") or _price(variant, "price")
            or _text(variant, "inventory_policy", choices=("deny", "continue"))
            or _text(variant, "inventory_management", max_length=64))


def order(body: dict) -> str | None:
    return (_shopify_id(body, "id") or _text(body, "email", max_length=320)
            or _text(body, "contact_email", max_length=320) or _text(body, "phone", max_length=64)
            or _text(body, "currency", max_length=8)
            or _object(body, "customer", _customer, optional=True)
            or _objects(body, "line_items", _line_item)
            or _objects(body, "discount_codes", lambda code: _text(code, "code"), optional=True))


def _line_item(item: dict) -> str | None:
    return (_shopify_id(item, "variant_id", optional=True) or _shopify_id(item, "product_id", optional=True)
            or _int32(item, "quantity", minimum=0) or _price(item, "price"))


def _customer(customer: dict) -> str | None:
    return (_shopify_id(customer, "id", optional=True) or _text(customer, "email", max_length=320)
            or _text(customer, "phone", max_length=64))


def shop_object(body: dict) -> str | None:
    """app/uninstalled sends the shop; the name check has already run."""
    return _shopify_id(body, "id", optional=True)


def shop_redact(body: dict) -> str | None:
    return _shopify_id(body, "shop_id", optional=True)


def customer_redact(body: dict) -> str | None:
    return (_shopify_id(body, "shop_id", optional=True) or _object(body, "customer", _customer)
            or _ids(body, "orders_to_redact"))


def customer_data_request(body: dict) -> str | None:
    return (_shopify_id(body, "shop_id", optional=True) or _object(body, "customer", _customer)
            or _ids(body, "orders_requested")
            or _object(body, "data_request", lambda request: _shopify_id(request, "id", optional=True),
                       optional=True))


TOPIC_SHAPES: dict[str, Check] = {
    "inventory_levels/update": inventory_level,
    "products/update": product,
    "orders/create": order,
    "orders/cancelled": order,  # the cancelled order, same shape (attribution takes its credit back)
    "app/uninstalled": shop_object,
    "shop/redact": shop_redact,
    "customers/redact": customer_redact,
    "customers/data_request": customer_data_request,
}
# Topics that act on a whole shop or customer: the body must name the header's shop.
SHOP_NAMING_TOPICS = frozenset({"app/uninstalled", "shop/redact", "customers/redact", "customers/data_request"})
