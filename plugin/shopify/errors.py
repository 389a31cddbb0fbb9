"""Errors raised by the Shopify side."""

from __future__ import annotations


class AdminApiError(Exception):
    """A call to Shopify failed. ``transient`` says whether trying again later may succeed
    (throttling, 429, 5xx, network) or not (invalid document, access denied, revoked token)."""

    def __init__(self, message: str, transient: bool, *, status: int | None = None, errors: list | None = None):
        super().__init__(message)
        self.message = message
        self.transient = transient
        self.status = status
        self.errors = errors or []


class ShopNotInstalled(AdminApiError):
    """No usable token for the shop: unknown, uninstalled, or its refresh token is gone.
    The merchant must open the app again (token exchange)."""

    def __init__(self, shop: str, reason: str):
        super().__init__(f"shop {shop} has no usable access token ({reason}); the merchant must open the app again",
                         transient=False)
        self.shop = shop
