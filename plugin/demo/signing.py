"""Shopify's side of the signatures: what Shopify signs and the app verifies.

The demo signs its app-proxy requests, webhooks and App Bridge session tokens with these, and the
test suite's doubles use the same helpers. They are written from Shopify's documentation,
independently of the app's verifiers (``plugin.intake.app_proxy``, ``webhooks``, ``shopify_app``):
a helper that called the code under test could not catch a wrong algorithm. The documented vectors in
``shared/shopify/signature_vectors.json`` pin both sides (``tests/intake/test_app_proxy.py``,
``tests/webhooks/test_receive.py``).

Signed timestamps come from ``plugin.clock``, which the app verifies against — except session
tokens: ``shopify_app`` checks those with PyJWT against the wall clock, as Shopify signs them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import uuid
from datetime import datetime
from urllib.parse import urlencode

import jwt

from plugin import clock

PATH_PREFIX = "/apps/backbell"
API_VERSION = "2026-10"


# -- app proxy -------------------------------------------------------------------------------------


def proxy_params(shop: str, logged_in_customer_id: int | str | None = None,
                 timestamp: int | None = None) -> dict[str, str]:
    """The parameters Shopify adds to a forwarded storefront request (guest → empty customer id)."""
    return {
        "shop": shop,
        "logged_in_customer_id": "" if logged_in_customer_id is None else str(logged_in_customer_id),
        "path_prefix": PATH_PREFIX,
        "timestamp": str(int(clock.timestamp()) if timestamp is None else timestamp),
    }


def proxy_signature(params: dict[str, str | list[str]], secret: str) -> str:
    """Hex HMAC-SHA256 of sorted ``key=value`` pairs, no separator, repeated values joined by ``,``."""
    pairs = []
    for key in sorted(params):
        if key == "signature":
            continue
        value = params[key]
        pairs.append(f"{key}={','.join(value) if isinstance(value, list) else value}")
    return hmac.new(secret.encode(), "".join(pairs).encode(), hashlib.sha256).hexdigest()


def sign_proxy_query(params: dict[str, str | list[str]], secret: str) -> str:
    """The URL query string (without ``?``) of ``params`` plus their ``signature``."""
    signed = {**params, "signature": proxy_signature(params, secret)}
    return urlencode(signed, doseq=True)


def signed_proxy_url(path: str, shop: str, secret: str, logged_in_customer_id=None, timestamp=None) -> str:
    """``/proxy/<path>?<signed query>`` for a storefront request to ``/apps/backbell/<path>``."""
    query = sign_proxy_query(proxy_params(shop, logged_in_customer_id, timestamp), secret)
    return f"/proxy/{path.lstrip('/')}?{query}"


# -- webhooks --------------------------------------------------------------------------------------


def webhook_hmac(body: bytes, secret: str) -> str:
    """Base64 HMAC-SHA256 of the raw body: ``X-Shopify-Hmac-Sha256``."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def webhook_headers(body: bytes, topic: str, shop: str, webhook_id: str, secret: str,
                    triggered_at: datetime | None = None) -> dict[str, str]:
    """The headers of one webhook delivery, signed; ``triggered_at`` defaults to the app clock's now."""
    triggered_at = triggered_at or clock.utcnow()
    return {
        "X-Shopify-Hmac-Sha256": webhook_hmac(body, secret),
        "X-Shopify-Topic": topic,
        "X-Shopify-Shop-Domain": shop,
        "X-Shopify-Webhook-Id": webhook_id,
        "X-Shopify-Triggered-At": triggered_at.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        "X-Shopify-API-Version": API_VERSION,
        "Content-Type": "application/json",
    }


# -- App Bridge session tokens ---------------------------------------------------------------------


def make_session_token(shop: str, api_key: str, secret: str, **claims) -> str:
    """An App Bridge session (ID) token for ``shop`` as Shopify signs it; ``claims`` override
    (``None`` drops a claim). Stamped with the wall clock: ``shopify_app`` checks it against that."""
    now = int(time.time())
    payload = {
        "iss": f"https://{shop}/admin",
        "dest": f"https://{shop}",
        "aud": api_key,
        "sub": "42",
        "exp": now + 60,
        "nbf": now - 5,
        "iat": now - 5,
        "jti": str(uuid.uuid4()),
        "sid": uuid.uuid4().hex,
    }
    payload.update(claims)
    return jwt.encode({k: v for k, v in payload.items() if v is not None}, secret, algorithm="HS256")
