"""Signed tokens for the links in a message: ids only, never contact data.

Unsubscribe links must keep working for as long as the mail sits in an inbox (RFC 8058 clients
call them unattended), so the tokens do not expire; the signature (the app secret, a per-purpose
salt) is what makes them unforgeable.
"""

from __future__ import annotations

from itsdangerous import BadSignature, URLSafeSerializer

_CLICK_SALT = "backbell.click"
_UNSUBSCRIBE_SALT = "backbell.unsubscribe"


class InvalidLinkToken(ValueError):
    """The token was not made by this app (tampered, truncated or for another purpose)."""


def _serializer(secret: str, salt: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt=salt)


def click_token(secret: str, notification_id: int) -> str:
    return _serializer(secret, _CLICK_SALT).dumps({"n": notification_id})


def unsubscribe_token(secret: str, subscription_id: int) -> str:
    return _serializer(secret, _UNSUBSCRIBE_SALT).dumps({"s": subscription_id})


def read_click_token(secret: str, token: str) -> int:
    return _load(secret, _CLICK_SALT, token, "n")


def read_unsubscribe_token(secret: str, token: str) -> int:
    return _load(secret, _UNSUBSCRIBE_SALT, token, "s")


def _load(secret: str, salt: str, token: str, key: str) -> int:
    try:
        payload = _serializer(secret, salt).loads(token)
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
