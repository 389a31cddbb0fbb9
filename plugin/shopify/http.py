"""The HTTP client every call to a shop's Admin API and token endpoint goes through.

``shopify_app`` builds ``https://{name}.myshopify.com/...`` URLs itself but takes an injected
``httpx.Client``. Our client's transport moves such requests to
``settings.admin_origin_for("{name}.myshopify.com")`` (``SHOPIFY_ADMIN_ORIGIN``), keeping path and
query — identity in production (``https://{shop}``), a local double in tests.
"""

from __future__ import annotations

import httpx

from plugin.config import Settings
from plugin.tls import tls_context

SHOP_SUFFIX = ".myshopify.com"
# Shopify answers well within these; a stuck connection must not pin a worker.
TIMEOUT = httpx.Timeout(20.0, connect=5.0)


class AdminOriginTransport(httpx.BaseTransport):
    """Rewrites scheme, host and port (plus any path prefix) of ``*.myshopify.com`` requests."""

    def __init__(self, settings: Settings, inner: httpx.BaseTransport | None = None):
        self._settings = settings
        self._inner = inner or httpx.HTTPTransport(verify=tls_context())

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        if host.endswith(SHOP_SUFFIX):
            target = httpx.URL(self._settings.admin_origin_for(host) + request.url.raw_path.decode("ascii"))
            request.url = target
            request.headers["Host"] = target.netloc.decode("ascii")
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


def shopify_http_client(settings: Settings, timeout: httpx.Timeout = TIMEOUT) -> httpx.Client:
    """A client for Shopify calls, honouring ``SHOPIFY_ADMIN_ORIGIN``; close it when done."""
    return httpx.Client(transport=AdminOriginTransport(settings), timeout=timeout, follow_redirects=False)


def shop_name(domain: str) -> str:
    """``demo.myshopify.com`` → ``demo`` (what ``shopify_app`` expects as ``shop``)."""
    return domain[: -len(SHOP_SUFFIX)] if domain.endswith(SHOP_SUFFIX) else domain
