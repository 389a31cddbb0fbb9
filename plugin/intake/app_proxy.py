"""Verification of Shopify app-proxy requests (the storefront widget posts through the proxy).

Shopify forwards ``/apps/backbell/<path>`` to ``{APP_URL}/proxy/<path>`` and adds ``shop``,
``logged_in_customer_id``, ``path_prefix``, ``timestamp`` and ``signature``: the hex HMAC-SHA256,
under the app secret, of the sorted ``key=value`` pairs (signature removed) concatenated with no
separator, the values of a repeated key joined with ``,``.

``shopify_app.verify_app_proxy_req`` does the same, but it reads the wall clock directly (so the
documented vector cannot be checked), strips the shop domain, and compares a non-ASCII signature
with ``hmac.compare_digest`` on ``str`` (a ``TypeError``, i.e. a 500). This is the small function
instead. It returns a result; the caller maps a failure to 401.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import parse_qs

from plugin.clock import timestamp

MAX_CLOCK_SKEW_SECONDS = 90
MAX_SHOPIFY_ID = 2**63 - 1
SHOP_DOMAIN = re.compile(r"^[a-z0-9][a-z0-9-]*\.myshopify\.com$")


@dataclass(frozen=True)
class ProxyVerification:
    ok: bool
    shop: str | None = None
    logged_in_customer_id: int | None = None
    reason: str | None = None  # why it failed: missing_signature, stale_timestamp, invalid_customer_id, ...


def signature_message(params: Mapping[str, Iterable[str]]) -> str:
    """The signed text: sorted ``key=value`` pairs, repeated values joined by ``,``, no separator."""
    return "".join(f"{key}={','.join(params[key])}" for key in sorted(params) if key != "signature")


def parse_query(query: str | bytes) -> dict[str, list[str]]:
    if isinstance(query, bytes):
        query = query.decode("utf-8", errors="replace")
    return parse_qs(query, keep_blank_values=True)


def verify_app_proxy(
    query: str | bytes | Mapping[str, list[str]],
    secrets: Iterable[str],
    clock: Callable[[], float] = timestamp,
) -> ProxyVerification:
    """Check an app-proxy query string (or its parsed ``{key: [values]}``) against every accepted secret."""
    params = parse_query(query) if isinstance(query, (str, bytes)) else {k: list(v) for k, v in query.items()}
    signatures = params.get("signature") or []
    if len(signatures) != 1 or not signatures[0]:
        return ProxyVerification(False, reason="missing_signature")
    timestamp_problem = _timestamp_problem(params.get("timestamp") or [], clock())
    if timestamp_problem:
        return ProxyVerification(False, reason=timestamp_problem)
    if not _signature_matches(signatures[0], signature_message(params), secrets):
        return ProxyVerification(False, reason="invalid_signature")
    shops = params.get("shop") or []
    if len(shops) != 1 or not SHOP_DOMAIN.match(shops[0]):
        return ProxyVerification(False, reason="invalid_shop")
    customer_ids = params.get("logged_in_customer_id") or [""]
    if len(customer_ids) != 1 or not (customer_ids[0] == "" or _shopify_id(customer_ids[0])):
        return ProxyVerification(False, shop=shops[0], reason="invalid_customer_id")
    return ProxyVerification(True, shop=shops[0], logged_in_customer_id=_shopify_id(customer_ids[0]))


def _timestamp_problem(values: list[str], now: float) -> str | None:
    if len(values) != 1 or not values[0].isascii() or not values[0].isdigit():
        return "missing_timestamp"
    if abs(now - int(values[0])) > MAX_CLOCK_SKEW_SECONDS:
        return "stale_timestamp"
    return None


def _signature_matches(given: str, message: str, secrets: Iterable[str]) -> bool:
    given_bytes = given.lower().encode("utf-8", errors="replace")
    matches = False
    for secret in secrets:
        expected = hmac.digest(secret.encode(), message.encode(), "sha256").hex().encode()
        # Check every secret (no early exit) so timing does not tell which one is current.
        matches |= hmac.compare_digest(given_bytes, expected)
    return matches


def _shopify_id(value: str) -> int | None:
    """A positive 64-bit id; None otherwise (Shopify sends ``logged_in_customer_id=`` for guests).

    A signed but out-of-range id (more than 2**63-1) must not reach a BIGINT column."""
    if not (value.isascii() and value.isdigit() and len(value) <= 19):
        return None
    number = int(value)
    return number if 0 < number <= MAX_SHOPIFY_ID else None
