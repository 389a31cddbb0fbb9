"""Signed tokens for the links in a message: ids only, never contact data.

Unsubscribe links must keep working for as long as the mail sits in an inbox (RFC 8058 clients
call them unattended), so the tokens do not expire; the signature (a link secret, a per-purpose
salt) is what makes them unforgeable.

The secrets are ``BACKBELL_LINK_SECRETS``, newest first, and nothing else: rotating
``SHOPIFY_API_SECRET`` leaves every link working. New links are signed with the newest secret;
a token verifies under any listed one, so a rotation puts the new secret first and keeps the old
one listed for as long as mail signed with it may still be read.
"""

from __future__ import annotations

import hashlib
import hmac
import zlib
from collections.abc import Sequence
from functools import lru_cache

from itsdangerous import BadSignature, URLSafeSerializer
from itsdangerous.encoding import base64_encode

_CLICK_SALT = "backbell.click"
_UNSUBSCRIBE_SALT = "backbell.unsubscribe"
_SUBSCRIBE_SALT = "backbell.subscribe"  # "tell me when it's back" in an apology (plugin.offers.apology)
_CONFIRM_SALT = "backbell.confirm"


class InvalidLinkToken(ValueError):
    """The token was not made by this app (tampered, truncated, for another purpose or under a
    secret no longer listed)."""


def _serializer(secrets: str | Sequence[str], salt: str) -> URLSafeSerializer:
    keys = (secrets,) if isinstance(secrets, str) else tuple(secrets)
    if not keys:
        raise ValueError("no link secret configured")
    return _built(keys, salt)


@lru_cache(maxsize=64)
def _built(keys: tuple[str, ...], salt: str) -> URLSafeSerializer:
    """Built once per secrets and purpose (a fan-out signs two links per shopper); serializers
    keep no state between calls, so one is shared."""
    # itsdangerous signs with the LAST key and verifies with any; our lists are newest first.
    return URLSafeSerializer(list(reversed(keys)), salt=salt)


@lru_cache(maxsize=64)
def _signing(secret: str, salt: str):
    """The signer's separator and an HMAC primed with its derived key, for one secret and purpose."""
    signer = _serializer(secret, salt).make_signer()
    return signer.sep, hmac.new(signer.derive_key(), digestmod=hashlib.sha1)


def _dumps(secret: str, salt: str, key: str, value: int) -> str:
    """Exactly ``URLSafeSerializer(...).dumps({key: value})`` (tests compare them for many ids):
    compact JSON (zlib-compressed when shorter), URL-safe base64, ``.``, the
    HMAC-SHA1 under itsdangerous' derived key — without deriving that key and building a signer
    again for every link; a fan-out signs two links per shopper."""
    sep, primed = _signing(secret, salt)
    raw = b'{"%s":%d}' % (key.encode(), value)
    compressed = zlib.compress(raw)  # itsdangerous' rule: compressed when that is shorter
    payload = b"." + base64_encode(compressed) if len(compressed) < len(raw) - 1 else base64_encode(raw)
    mac = primed.copy()
    mac.update(payload)
    return (payload + sep + base64_encode(mac.digest())).decode()


def click_token(secret: str, notification_id: int) -> str:
    return _dumps(secret, _CLICK_SALT, "n", notification_id)


def unsubscribe_token(secret: str, subscription_id: int) -> str:
    return _dumps(secret, _UNSUBSCRIBE_SALT, "s", subscription_id)


def confirm_token(secret: str, subscription_id: int) -> str:
    """Double opt-in: the link in the ``confirm`` notice (the subscription expires unconfirmed)."""
    return _serializer(secret, _CONFIRM_SALT).dumps({"c": subscription_id})


def read_click_token(secrets: str | Sequence[str], token: str) -> int:
    return _load(secrets, _CLICK_SALT, token, "n")


def read_unsubscribe_token(secrets: str | Sequence[str], token: str) -> int:
    return _load(secrets, _UNSUBSCRIBE_SALT, token, "s")


def read_confirm_token(secrets: str | Sequence[str], token: str) -> int:
    return _load(secrets, _CONFIRM_SALT, token, "c")


def _load(secrets: str | Sequence[str], salt: str, token: str, key: str) -> int:
    try:
        payload = _serializer(secrets, salt).loads(token)
    except BadSignature:
        raise InvalidLinkToken("this link is not valid (it may have been altered or cut short)") from None
    value = payload.get(key) if isinstance(payload, dict) else None
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidLinkToken("this link is not valid")
    return value


def click_url(app_url: str, secret: str, notification_id: int) -> str:
    return f"{app_url.rstrip('/')}/r/{click_token(secret, notification_id)}"


def unsubscribe_url(app_url: str, secret: str, subscription_id: int) -> str:
    return f"{app_url.rstrip('/')}/u/{unsubscribe_token(secret, subscription_id)}"


def subscribe_url(app_url: str, secret: str, subscription_id: int) -> str:
    token = _serializer(secret, _SUBSCRIBE_SALT).dumps({"w": subscription_id})
    return f"{app_url.rstrip('/')}/s/{token}"


def read_subscribe_token(secrets: str | Sequence[str], token: str) -> int:
    return _load(secrets, _SUBSCRIBE_SALT, token, "w")
def confirm_url(app_url: str, secret: str, subscription_id: int) -> str:
    return f"{app_url.rstrip('/')}/c/{confirm_token(secret, subscription_id)}"
