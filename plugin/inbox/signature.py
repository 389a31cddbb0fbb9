"""Shopify's webhook signature: base64 HMAC-SHA256 of the raw body bytes, current or old secret.

Why not ``shopify_app.verify_webhook_req`` (1.0.2): before it compares anything it runs
``redact_http_log``, which ``json.loads`` the body — so an unsigned 3,000-deep array or a
5,000-digit number answered 500 before the HMAC was looked at. It also wants the body as ``str``
(a non-UTF-8 body cannot even be checked), compares a non-ASCII header with
``hmac.compare_digest`` on ``str`` (``TypeError``, another 500), and strips ``.myshopify.com`` from
the shop. Here the bytes are checked first and nothing is parsed until they match.

Shopify signs the body only: the topic, shop and webhook id headers are *not* covered, so what a
signed body may do is checked separately against its topic (``plugin.inbox.shapes``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass

_DIGEST_SIZE = hashlib.sha256().digest_size


@dataclass(frozen=True)
class SignatureCheck:
    ok: bool
    reason: str | None = None  # malformed_hmac | invalid_hmac


def verify_webhook_signature(body: bytes, header_value: str, secrets: Iterable[str]) -> SignatureCheck:
    """Does ``header_value`` (``X-Shopify-Hmac-Sha256``) sign ``body`` under any accepted secret?"""
    given = _decoded(header_value)
    if given is None:
        return SignatureCheck(False, "malformed_hmac")
    matches = False
    for secret in secrets:
        expected = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
        # Every secret is tried (no early exit): timing does not tell which one is current.
        matches |= hmac.compare_digest(given, expected)
    return SignatureCheck(True) if matches else SignatureCheck(False, "invalid_hmac")


def _decoded(header_value: str) -> bytes | None:
    value = header_value.strip()
    if not value.isascii() or len(value) > 4 * _DIGEST_SIZE:
        return None
    try:
        digest = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None
    return digest if len(digest) == _DIGEST_SIZE else None
