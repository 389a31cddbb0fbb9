"""Who is calling from Shopify admin, and installing a shop by token exchange.

Flask-free: callers pass the request as ``shopify_app``'s ``RequestInput`` dict and map the
results to HTTP answers. ``shopify_app`` verifies the ID token (HS256 under the current or old
secret, ``aud`` = our API key, 10 s leeway) and builds Shopify's expected responses (the
patch-ID-token bounce for document loads, 401 + retry header for fetches).
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

from shopify_app import IdTokenDetails, ResultWithExchangeableIdToken, TokenExchangeAccessToken
from shopify_app.types import LogWithReq, Res
from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.db import insert_for
from plugin.clock import utcnow
from plugin.logging import get_logger
from plugin.models import Shop
from plugin.shopify.admin_api import AdminClient
from plugin.shopify.errors import AdminApiError
from plugin.shopify.http import SHOP_SUFFIX, shopify_http_client
from plugin.shopify.session_tokens import token_problem
from plugin.shopify.tokens import shopify_app_for, store_tokens

log = get_logger(__name__)

PATCH_ID_TOKEN_PATH = "/app/patch-id-token"


class InstallFailure(Exception):
    """Token exchange did not give us a token. ``reauthenticate``: the ID token was refused,
    so the browser should fetch a fresh one (answer with the verification's invalid-token response)."""

    def __init__(self, code: str, reauthenticate: bool):
        super().__init__(f"token exchange failed: {code}")
        self.code = code
        self.reauthenticate = reauthenticate


def verify_app_home(settings, request_input: dict) -> ResultWithExchangeableIdToken:
    """Verify an App Home document load (``id_token`` query) or fetch (``Authorization``).

    A token whose claims are not what Shopify issues is refused before ``shopify_app`` sees it
    (``plugin.shopify.session_tokens``: it would answer 500 on a non-string ``dest``)."""
    token = presented_token(request_input)
    problem = token_problem(token) if token else None
    if problem:
        log.info("session_token_refused", problem=problem)
        return _refused(request_input)
    return shopify_app_for(settings).verify_app_home_req(request_input, PATCH_ID_TOKEN_PATH)


def presented_token(request_input: dict) -> str | None:
    """The ``Authorization: Bearer`` token, else the ``id_token`` query parameter of a document load."""
    headers = {k.lower(): v for k, v in request_input.get("headers", {}).items()}
    authorization = headers.get("authorization", "")
    if authorization:
        return authorization[len("Bearer "):] if authorization.startswith("Bearer ") else None
    values = parse_qs(urlparse(request_input.get("url", "")).query).get("id_token") or [""]
    return values[0] or None


def _refused(request_input: dict) -> ResultWithExchangeableIdToken:
    return ResultWithExchangeableIdToken(
        ok=False, shop=None, user_id=None, id_token=None, invalid_token_response=None,
        log=LogWithReq(code="invalid_id_token", detail="The session token's claims are malformed.",
                       req={**request_input, "headers": {}, "url": ""}),
        response=Res(status=401, body="Unauthorized", headers={"X-Shopify-Retry-Invalid-Session-Request": "1"}),
    )


def verify_session_token(settings, request_input: dict) -> str | None:
    """The shop domain of a valid ``Authorization: Bearer <session token>``, or None.

    A missing header is refused here: ``shopify_app`` would treat it as a document load and
    redirect, which is wrong for a JSON API.
    """
    headers = {k.lower(): v for k, v in request_input.get("headers", {}).items()}
    if not headers.get("authorization", "").startswith("Bearer "):
        return None
    result = verify_app_home(settings, request_input)
    return shop_domain(result.shop) if result.ok and result.shop else None


def shop_domain(name: str) -> str:
    return name if name.endswith(SHOP_SUFFIX) else f"{name}{SHOP_SUFFIX}"


def needs_token_exchange(row: Shop | None) -> bool:
    """First load, after an uninstall, or when no token can be used or refreshed any more."""
    if row is None or row.uninstalled_at is not None or not row.access_token:
        return True
    now = utcnow()
    if row.refresh_token:
        return row.refresh_token_expires_at is not None and row.refresh_token_expires_at <= now
    return row.access_token_expires_at is not None and row.access_token_expires_at <= now


def install_if_needed(runtime, session: Session, domain: str, id_token: IdTokenDetails) -> Shop:
    """The shop's row, after a token exchange and a read of the shop's basics when needed."""
    row = session.scalar(select(Shop).where(Shop.domain == domain))
    if not needs_token_exchange(row):
        return row
    token = exchange_id_token(runtime, id_token)
    row = _locked_shop_row(session, domain)
    store_tokens(runtime.vault, row, token)
    if row.uninstalled_at is not None:
        row.uninstalled_at, row.installed_at = None, utcnow()
    session.flush()
    _read_shop_basics(runtime, session, row)
    log.info("shop_installed", shop=domain, scopes=row.scopes)
    return row


def exchange_id_token(runtime, id_token: IdTokenDetails) -> TokenExchangeAccessToken:
    """An expiring offline token for the ID token's shop (raises ``InstallFailure``)."""
    with shopify_http_client(runtime.settings) as http:
        result = shopify_app_for(runtime.settings).exchange_using_token_exchange(
            "offline", id_token=id_token, expiring=True, http_client=http)
    if result.ok and result.access_token is not None:
        return result.access_token
    log.warning("shopify_token_exchange_failed", shop=result.shop, code=result.log.code,
                status=result.response.status)
    raise InstallFailure(result.log.code, reauthenticate=result.log.code == "invalid_subject_token")


def _locked_shop_row(session: Session, domain: str) -> Shop:
    # Two first loads at once must not both insert; the second waits on the row lock.
    session.execute(insert_for(session)(Shop).values(domain=domain).on_conflict_do_nothing(
        index_elements=["domain"]))
    return session.scalar(select(Shop).where(Shop.domain == domain).with_for_update()
                          .execution_options(populate_existing=True))


def _read_shop_basics(runtime, session: Session, row: Shop) -> None:
    try:
        # The merchant is looking at a loading page: retry briefly, not for a minute.
        with AdminClient.for_shop(runtime, session, row.domain, max_attempts=2, max_total_wait=1.0) as client:
            shop = client.execute("ShopBasics")["shop"]
            row.name, row.timezone, row.currency = shop["name"], shop["ianaTimezone"], shop["currencyCode"]
            row.contact_email = shop.get("contactEmail") or row.contact_email  # the merchant digest's address
            row.primary_locale = _primary_locale(client) or row.primary_locale
    except AdminApiError as err:
        # The install stands; the defaults (UTC, USD, en) hold until the next load re-reads them.
        log.warning("shop_basics_unavailable", shop=row.domain, error=err.message)


def _primary_locale(client) -> str | None:
    try:
        locales = client.execute("ShopPrimaryLocale")["shopLocales"]
    except AdminApiError as err:
        log.info("shop_locale_unavailable", shop=client.shop, error=err.message)
        return None
    return next((item["locale"] for item in locales if item.get("primary")), None)
