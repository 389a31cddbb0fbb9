"""Access tokens of a shop: store them encrypted, refresh them before they expire.

Tokens come from token exchange (``plugin.shopify.auth``) as *expiring offline* tokens: the
access token lives about an hour, the refresh token about 90 days, and every refresh rotates
both. A refresh therefore must happen once per shop at a time and be committed on its own:
two processes refreshing together would each burn the other's refresh token, and a caller's
rollback must not lose the only valid one.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from shopify_app import ShopifyApp, TokenExchangeAccessToken
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from plugin.config import Settings
from plugin.crypto import Vault
from plugin import clock
from plugin.clock import utcnow
from plugin.logging import get_logger
from plugin.models import Shop
from plugin.shopify.errors import AdminApiError, ShopNotInstalled
from plugin.shopify.http import shop_name, shopify_http_client

log = get_logger(__name__)

REFRESH_MARGIN = timedelta(minutes=5)
# Longer than one refresh call with shopify_app's retries, so waiting callers normally get through.
LOCK_TIMEOUT_MS = 60_000
# shopify_app's result codes that no retry will fix (revoked/expired grant, app uninstalled).
_PERMANENT_REFRESH_FAILURES = {"invalid_grant", "refresh_token_expired", "invalid_client", "refresh_error",
                               "configuration_error"}
# Of those, the ones that say this shop's grant is dead (not that our own credentials are wrong).
_DEAD_GRANT = {"invalid_grant", "refresh_token_expired"}


class _DeadGrant(ShopNotInstalled):
    """The refresh token was refused or has expired: only a new token exchange can help."""


def shopify_app_for(settings: Settings) -> ShopifyApp:
    return ShopifyApp(settings.shopify_api_key, settings.shopify_api_secret, settings.shopify_api_secret_old)


def store_tokens(vault: Vault, shop: Shop, token: TokenExchangeAccessToken) -> None:
    """Write an exchanged or refreshed token pair onto the shop row, encrypted."""
    shop.access_token = vault.encrypt(token.token)
    shop.access_token_expires_at = _on_app_clock(_parse_time(token.expires))
    shop.refresh_token = vault.encrypt(token.refresh_token) if token.refresh_token else None
    shop.refresh_token_expires_at = _on_app_clock(_parse_time(token.refresh_token_expires))
    shop.scopes = token.scope or shop.scopes


def ensure_fresh_token(runtime, session: Session, shop: str | Shop) -> str:
    """The shop's access token, refreshed first when it expires within five minutes.

    The refresh commits on its own connection; call this before writing to the shop's row in
    ``session`` (a pending row lock there would make the refresh wait for ``LOCK_TIMEOUT``).
    """
    row = _active_shop(session, shop)
    if not needs_refresh(row):
        return runtime.vault.decrypt(row.access_token)
    token = _refresh_locked(runtime, row.domain, rejected_token=None)
    session.refresh(row)
    return token


def refresh_rejected_token(runtime, session: Session, shop: str, rejected_token: str) -> str:
    """After Shopify answered 401: refresh, unless another process already replaced the token."""
    token = _refresh_locked(runtime, shop, rejected_token=rejected_token)
    row = session.scalar(select(Shop).where(Shop.domain == shop))
    if row is not None:
        session.refresh(row)
    return token


def needs_refresh(row: Shop, now: datetime | None = None) -> bool:
    if row.access_token_expires_at is None:  # a non-expiring token
        return False
    return row.access_token_expires_at <= (now or utcnow()) + REFRESH_MARGIN


def _active_shop(session: Session, shop: str | Shop, lock: bool = False) -> Shop:
    domain = getattr(shop, "domain", shop)
    if isinstance(shop, Shop) and not lock and shop in session:
        row = shop  # loaded by this session: a SELECT would hand back this very object (the identity map)
    else:
        query = select(Shop).where(Shop.domain == domain)
        row = session.scalar(query.with_for_update() if lock else query)
    if row is None:
        raise ShopNotInstalled(domain, "unknown shop")
    if row.uninstalled_at is not None:
        raise ShopNotInstalled(domain, "uninstalled")
    if not row.access_token:
        raise ShopNotInstalled(domain, "no token stored")
    return row


def _refresh_locked(runtime, shop: str, rejected_token: str | None) -> str:
    # Own short transaction; on PostgreSQL the row lock makes concurrent callers wait here and
    # then see the token the first one stored.
    with runtime.db.session() as locked:
        if runtime.db.is_postgres:
            # Bounded: a caller holding the row itself must get an error, not a hung worker.
            locked.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT_MS}ms'"))
        row = _active_shop(locked, shop, lock=True)
        current = runtime.vault.decrypt(row.access_token)
        if rejected_token is None and not needs_refresh(row):
            return current
        if rejected_token is not None and current != rejected_token:
            return current
        try:
            token = _call_refresh(runtime, row)
        except _DeadGrant:
            # Forget the dead pair and commit that, so the merchant's next /app load exchanges
            # a new one (needs_token_exchange) instead of every call asking Shopify in vain.
            row.access_token = row.refresh_token = None
            row.access_token_expires_at = row.refresh_token_expires_at = None
            locked.commit()
            raise
        store_tokens(runtime.vault, row, token)
        log.info("shopify_token_refreshed", shop=shop, expires_at=str(row.access_token_expires_at))
        return token.token


def _call_refresh(runtime, row: Shop) -> TokenExchangeAccessToken:
    if not row.refresh_token or (row.refresh_token_expires_at and row.refresh_token_expires_at <= utcnow()):
        raise _DeadGrant(row.domain, "refresh token expired")
    current = {
        "shop": shop_name(row.domain),
        "refresh_token": runtime.vault.decrypt(row.refresh_token),
        # We decide when to refresh (five minutes ahead, or after a 401); an empty expiry
        # stops shopify_app from second-guessing with its own 60-second rule.
        "expires": None,
        "refresh_token_expires": _format_time(_on_wall_clock(row.refresh_token_expires_at)),
        "access_mode": "offline",
    }
    with shopify_http_client(runtime.settings) as http:
        result = shopify_app_for(runtime.settings).refresh_token_exchanged_access_token(current, http_client=http)
    if result.ok and result.access_token is not None:
        return result.access_token
    status = result.response.status
    log.warning("shopify_token_refresh_failed", shop=row.domain, code=result.log.code, status=status)
    if result.log.code in _DEAD_GRANT:
        raise _DeadGrant(row.domain, f"refresh refused: {result.log.code}")
    if result.log.code in _PERMANENT_REFRESH_FAILURES:
        raise ShopNotInstalled(row.domain, f"refresh refused: {result.log.code}")
    raise AdminApiError(f"token refresh for {row.domain} failed: {result.log.code}", transient=True, status=status)


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(timezone.utc)


def _on_app_clock(wall_time: datetime | None) -> datetime | None:
    """shopify_app stamps expiries as wall time + ``expires_in``; we compare them with ``plugin.clock``."""
    return wall_time + clock.offset() if wall_time else None


def _on_wall_clock(app_time: datetime | None) -> datetime | None:
    return app_time - clock.offset() if app_time else None


def _format_time(value: datetime | None) -> str | None:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ") if value else None
