"""A look at an App Bridge session (ID) token before ``shopify_app`` verifies it.

``shopify_app`` (1.0.2) checks the signature, ``exp`` and ``aud``, then runs ``urlparse`` on
``dest`` and ``.replace`` on its host: a correctly signed token whose ``dest`` is a number or a list
answered 500, and whatever host ``dest`` named went into the ``Content-Security-Policy`` header. A
token from Shopify always carries string claims and a ``dest`` of ``https://<shop>.myshopify.com``,
so anything else is refused here as an invalid token (401). This look needs no secret: refusing a
token early is always safe; accepting one is still ``shopify_app``'s signature check.
"""

from __future__ import annotations

import base64
import binascii
import re
from urllib.parse import urlparse

from plugin.safe_json import parse_json

MAX_TOKEN_CHARS = 4096  # Shopify's tokens are under 1 KB
SHOP_HOST = re.compile(r"^[a-z0-9][a-z0-9-]{0,99}\.myshopify\.com$")
STRING_CLAIMS = ("iss", "dest", "aud", "sub", "sid", "jti")
NUMERIC_CLAIMS = ("exp", "nbf", "iat")


def token_problem(token: str) -> str | None:
    """Why ``token`` cannot be a session token Shopify issued (None when it may be; the signature is
    checked afterwards)."""
    if len(token) > MAX_TOKEN_CHARS or not token.isascii():
        return "the token is too long or not ASCII"
    parts = token.split(".")
    if len(parts) != 3:
        return "the token is not a JWT"
    claims = _segment(parts[1])
    if not isinstance(claims, dict) or not isinstance(_segment(parts[0]), dict):
        return "the token's header or claims are not JSON objects"
    wrong = [name for name in STRING_CLAIMS if name in claims and not isinstance(claims[name], str)]
    wrong += [name for name in NUMERIC_CLAIMS
              if name in claims and (isinstance(claims[name], bool) or not isinstance(claims[name], (int, float)))]
    if wrong:
        return f"claims of the wrong type: {', '.join(wrong)}"
    if not SHOP_HOST.match(_host(claims.get("dest", ""))):
        return "dest is not a *.myshopify.com shop"
    return None


def _host(url: str) -> str:
    try:
        return urlparse(url).hostname or ""
    except ValueError:  # e.g. "https://[::1"
        return ""


def _segment(segment: str):
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError):
        return None
    return parse_json(raw).value
