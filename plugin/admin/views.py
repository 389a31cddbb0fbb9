"""The embedded admin: ``GET /app`` (App Home, installs on first load) and the session-token guard of
the ``/api`` JSON endpoints (``plugin.admin.api``)."""

from __future__ import annotations

import re
from functools import wraps

from flask import Blueprint, current_app, g, jsonify, render_template, request
from sqlalchemy import select

from plugin.admin.i18n import Translator
from plugin.admin.merchant_settings import change_settings, settings_payload
from plugin.admin.pages import render_home
from plugin.admin.variant_eta import VariantInputError, parse_expected_date, variant_status
from plugin.clock import utcnow
from plugin.dispatch.eta import set_expected_date
from plugin.dispatch.plan import find_variant
from plugin.intake.subscriptions import IntakeError, parse_variant_id
from plugin.logging import get_logger
from plugin.safe_json import parse_json
from plugin.shop_settings import SettingsError, settings_for
from plugin.web_errors import json_error
from plugin.models import Shop
from plugin.shopify.auth import (
    PATCH_ID_TOKEN_PATH,
    InstallFailure,
    install_if_needed,
    shop_domain,
    verify_app_home,
    verify_session_token,
)
from plugin.shopify.tokens import shopify_app_for

log = get_logger(__name__)
bp = Blueprint("admin_views", __name__, template_folder="templates")
RETRY_HEADER = "X-Shopify-Retry-Invalid-Session-Request"
SHOP_DOMAIN = re.compile(r"^[a-z0-9][a-z0-9-]{0,99}\.myshopify\.com$")
FIXED_FRAME_ANCESTORS = "frame-ancestors https://admin.shopify.com;"


def _runtime():
    return current_app.extensions["backbell"]


def _request_input() -> dict:
    # Shopify's helpers build redirect URLs from this URL: use the public APP_URL, not whatever
    # host a proxy forwarded.
    query = request.query_string.decode("latin-1")
    url = _runtime().settings.app_url + request.path + (f"?{query}" if query else "")
    return {"method": request.method, "headers": dict(request.headers), "url": url, "body": ""}


def _shopify_response(res):
    """A response ``shopify_app`` built (redirect to the patch page, 401 …) as a Flask response."""
    if res.status == 401:
        return json_error(401, "invalid_session_token", "The Shopify session token is missing or invalid.",
                          response_headers=res.headers)
    return current_app.response_class(res.body, status=res.status, headers=res.headers)


@bp.get("/app")
def app_home():
    """The embedded app home: verifies the ID token, installs the shop when needed, renders the page."""
    runtime = _runtime()
    if not request.headers.get("Authorization") and not any(request.args.get(k) for k in ("shop", "host", "id_token")):
        return _open_from_admin()  # a browser outside Shopify admin: nothing to verify, nothing to bounce to
    result = verify_app_home(runtime.settings, _request_input())
    if not result.ok:
        return _shopify_response(result.response)
    domain = shop_domain(result.shop)
    try:
        with runtime.db.session() as session:
            shop = install_if_needed(runtime, session, domain, result.id_token)
    except InstallFailure as failure:
        if failure.reauthenticate and result.invalid_token_response is not None:
            return _shopify_response(result.invalid_token_response)
        return json_error(502, "token_exchange_failed",
                      "Shopify did not grant Backbell access to this shop. Reload the app to try again.")
    g.shop, g.t = shop, Translator(request.args.get("locale"))
    html = render_home(runtime, shop)
    headers = {**result.response.headers, "Content-Security-Policy": frame_ancestors(domain)}
    return current_app.response_class(html, status=200, headers=headers, mimetype="text/html")


@bp.get(PATCH_ID_TOKEN_PATH)
def patch_id_token():
    """The bounce page on which App Bridge fetches a fresh ID token and reloads the app.

    Unauthenticated, so ``shop`` is untrusted: ``shopify_app`` copies it into the
    Content-Security-Policy header as is (CR/LF → 500, ``*`` → ``frame-ancestors https://*``). Only a
    ``*.myshopify.com`` domain reaches the header; anything else gets the page for browsers outside
    Shopify admin."""
    shop = request.args.get("shop", "")
    if not SHOP_DOMAIN.match(shop) or not request.args.get("shopify-reload"):
        return _open_from_admin()
    result = shopify_app_for(_runtime().settings).app_home_patch_id_token(_request_input())
    headers = {**result.response.headers, "Content-Security-Policy": frame_ancestors(shop)}
    return current_app.response_class(result.response.body, status=result.response.status, headers=headers)


def frame_ancestors(shop: str | None) -> str:
    """Who may frame an admin page: Shopify admin, and the shop's own admin domain when it is valid."""
    if shop and SHOP_DOMAIN.match(shop):
        return f"frame-ancestors https://{shop} https://admin.shopify.com;"
    return FIXED_FRAME_ANCESTORS


def _open_from_admin():
    """A short page for a browser that opened the app outside Shopify admin (issue #6)."""
    return current_app.response_class(render_template("admin/open_from_admin.html"), status=400, mimetype="text/html",
                                      headers={"Content-Security-Policy": FIXED_FRAME_ANCESTORS})


def session_token_required(view):
    """``/api`` views: a valid App Bridge session token for an installed shop, in ``g.shop``."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        runtime = _runtime()
        domain = verify_session_token(runtime.settings, _request_input())
        if domain is None:
            return json_error(401, "invalid_session_token", "The Shopify session token is missing or invalid.",
                              response_headers={RETRY_HEADER: "1"})
        with runtime.db.session() as session:
            shop = session.scalar(select(Shop).where(Shop.domain == domain))
        if shop is None or not shop.active:
            return json_error(403, "shop_not_installed", "Open Backbell from your Shopify admin to finish installing.")
        g.shop = shop
        return view(*args, **kwargs)

    return wrapper


def _json_body():
    """The request's JSON (bounded depth and numbers: plugin.safe_json), or None when it is not JSON;
    the handlers answer None with a 422 naming what they expected."""
    parsed = parse_json(request.get_data(cache=False))
    return parsed.value if parsed.ok else None


@bp.get("/api/settings")
@session_token_required
def api_settings():
    """Every merchant setting with its current value (defaults filled in)."""
    return jsonify(settings=settings_payload(settings_for(g.shop)))


@bp.patch("/api/settings")
@session_token_required
def api_change_settings():
    """Change some settings: 200 with all of them, or 422 naming the bad one (nothing stored)."""
    try:
        with _runtime().db.session() as session:
            settings = change_settings(session, g.shop.id, _json_body())
    except SettingsError as err:
        return json_error(422, "invalid_setting", err.message, field=err.field)
    log.info("settings_changed", shop_id=g.shop.id)
    return jsonify(settings=settings_payload(settings))


@bp.patch("/api/variants/<path:variant_ref>")
@session_token_required
def api_change_variant(variant_ref: str):
    """Set or clear the date a variant is expected back; waiting shoppers hear of a new date."""
    try:
        variant_id = parse_variant_id(variant_ref)
        expected = parse_expected_date(_json_body(), utcnow(), g.shop.timezone)
    except IntakeError:
        return json_error(422, "invalid_variant", "The variant id is not a Shopify variant id.", field="variant_id")
    except VariantInputError as err:
        return json_error(422, err.code, err.message, field=err.field)
    with _runtime().db.session() as session:
        variant = find_variant(session, g.shop.id, variant_id)
        if variant is None:
            return json_error(404, "unknown_variant", "Nobody has asked for this variant yet, so Backbell does "
                                                      "not know it.", field="variant_id")
        set_expected_date(session, variant, expected, utcnow())
        status = variant_status(session, g.shop, variant)
    return jsonify(variant=status)
