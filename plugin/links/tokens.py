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

from collections.abc import Sequence

from itsdangerous import BadSignature, URLSafeSerializer

_CLICK_SALT = "backbell.click"
_UNSUBSCRIBE_SALT = "backbell.unsubscribe"
_SUBSCRIBE_SALT = "backbell.subscribe"  # "tell me when it's back" in an apology (plugin.offers.apology)


class InvalidLinkToken(ValueError):
    """The token was not made by this app (tampered, truncated, for another purpose or under a
    secret no longer listed)."""


def _serializer(secrets: str | Sequence[str], salt: str) -> URLSafeSerializer:
    keys = [secrets] if isinstance(secrets, str) else list(secrets)
    if not keys:
        raise ValueError("no link secret configured")
    # itsdangerous signs with the LAST key and verifies with any; our lists are newest first.
    return URLSafeSerializer(list(reversed(keys)), salt=salt)


def click_token(secret: str, notification_id: int) -> str:
    return _serializer(secret, _CLICK_SALT).dumps({"n": notification_id})


def unsubscribe_token(secret: str, subscription_id: int) -> str:
    return _serializer(secret, _UNSUBSCRIBE_SALT).dumps({"s": subscription_id})


def read_click_token(secrets: str | Sequence[str], token: str) -> int:
    return _load(secrets, _CLICK_SALT, token, "n")


def read_unsubscribe_token(secrets: str | Sequence[str], token: str) -> int:
    return _load(secrets, _UNSUBSCRIBE_SALT, token, "s")


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
