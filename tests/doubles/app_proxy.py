"""Sign requests the way Shopify's app proxy does, for tests that call ``/proxy/...``.

Written independently of ``plugin.intake.app_proxy`` (a test that signs with the code under test could not
catch a wrong algorithm); the documented vector in ``shared/shopify/signature_vectors.json`` pins both.

    query = sign_proxy_query(proxy_params("demo.myshopify.com"), "hush")
    client.post(f"/proxy/subscriptions?{query}", json={...})
"""

from __future__ import annotations

import hashlib
import hmac

from urllib.parse import urlencode

from plugin import clock

PATH_PREFIX = "/apps/backbell"

def proxy_params(
    shop: str,
    logged_in_customer_id: int | str | None = None,
    timestamp: int | None = None,
) -> dict[str, str]:
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
