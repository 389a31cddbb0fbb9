"""The app-proxy endpoints the storefront widget calls (``/apps/backbell/*`` → ``/proxy/*``).

Both answer JSON only — never ``application/liquid``, so no request input is ever rendered by the
storefront's template engine.
"""

from __future__ import annotations

from contextlib import ExitStack

from flask import Blueprint, current_app, g, jsonify, request
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from plugin.intake.app_proxy import verify_app_proxy
from plugin.logging import get_logger
from plugin.safe_json import parse_json
from plugin.web_errors import json_error
from plugin.intake.messages import intake_message
from plugin.dispatch.messages.locales import normalise_locale
from plugin.models import WAITING, Shop, Subscription, Variant
from plugin.intake.ratelimit import RateLimiter
from plugin.intake.shops import StorefrontShop, StorefrontShops
from plugin.intake.client_address import parse_networks, shopper_address
from plugin.intake.subscriptions import (
    IntakeError,
    SubscribeRequest,
    ValidRequest,
    parse_variant_id,
    store_subscription,
    store_subscription_at_once,
    validate_request,
)
from plugin.shop_settings import SettingsError, ShopSettings

bp = Blueprint("plugin_storefront", __name__, url_prefix="/proxy")
log = get_logger(__name__)

MAX_BODY_BYTES = 8 * 1024  # the widget sends ~200 bytes
HONEYPOT_FIELD = "website"
LIMITER = "backbell.intake_limiter"
TRUSTED_PROXIES = "backbell.trusted_proxies"
SHOPS = "backbell.storefront_shops"


@bp.record_once
def _attach_limiter(state) -> None:
    runtime = state.app.extensions["backbell"]
    state.app.extensions[LIMITER] = RateLimiter.for_settings(runtime.settings)
    state.app.extensions[TRUSTED_PROXIES] = parse_networks(runtime.settings.trusted_proxies)
    state.app.extensions[SHOPS] = StorefrontShops(runtime.db.engine, runtime.db.autocommit_engine)


@bp.before_request
def _verify_proxy_request():
    """Every proxy request must be signed by Shopify and name an installed shop."""
    runtime = current_app.extensions["backbell"]
    verification = verify_app_proxy(request.query_string, runtime.settings.shopify_secrets)
    if verification.reason == "invalid_customer_id":
        log.info("app_proxy_rejected", reason=verification.reason, path=request.path)
        return json_error(400, "invalid_customer_id", "logged_in_customer_id is not a Shopify customer id.")
    if not verification.ok and verification.reason != "invalid_shop":
        log.info("app_proxy_rejected", reason=verification.reason, path=request.path)
        return json_error(401, "invalid_signature", "The request is not signed by Shopify's app proxy.")
    shop = current_app.extensions[SHOPS].get(_connection(), verification.shop)
    if shop is None or not shop.active:
        log.info("app_proxy_unknown_shop", installed=shop is not None)
        return _unknown_shop()
    g.shop, g.customer_id = shop, verification.logged_in_customer_id
    return None


def _unknown_shop():
    """No installed shop by that name: never installed, uninstalled, or erased since its snapshot was read."""
    return json_error(404, "unknown_shop", "This shop does not have Backbell installed.")


def _connection():
    """The request's autocommit connection (each statement its own transaction), checked out once
    for the shop read and the sign-up; back in the pool when the request ends."""
    request_globals = g._get_current_object()  # one proxy read, not one per attribute
    connection = request_globals.get("proxy_connection")
    if connection is None:
        request_globals.proxy_connection_scope = scope = ExitStack()
        request_globals.proxy_connection = connection = scope.enter_context(
            current_app.extensions["backbell"].db.autocommit())
    return connection


@bp.teardown_request
def _release_connection(error) -> None:
    scope = g.pop("proxy_connection_scope", None)
    g.pop("proxy_connection", None)
    if scope is not None:
        scope.close()


@bp.post("/subscriptions")
def create_subscription():
    """Subscribe a shopper to a sold-out variant: 201 subscribed, 200 already subscribed, 422 invalid."""
    # An address that has spent its small budget of invalid requests waits, whatever it sends now:
    # an invalid request is counted against that budget (429 once it is spent), a valid one is
    # refused while it is spent (tested with its own counts, in one round trip).
    ip = _client_ip()
    body, problem = _json_body()
    locale = normalise_locale(body.get("locale") or _accept_language())
    if problem:
        return _rate_limit(ip_invalid=ip) or _intake_error(IntakeError(problem, problem, None), locale,
                                                           status=413 if problem == "too_long" else 422)
    if body.get(HONEYPOT_FIELD):
        # Answer exactly like a success so a bot learns nothing; store nothing.
        log.info("honeypot_triggered", shop_id=g.shop.id)
        return _rate_limit(ip_invalid=ip) or (jsonify(status="subscribed"), 201)
    try:
        valid = validate_request(g.shop, SubscribeRequest.from_body(body, g.customer_id))
    except IntakeError as err:
        log.info("intake_rejected", shop_id=g.shop.id, code=err.code, field=err.field)
        return _rate_limit(ip_invalid=ip) or _intake_error(err, locale)
    try:
        return _subscribe(valid, ip)
    except IntakeError as err:
        log.info("intake_rejected", shop_id=g.shop.id, code=err.code, field=err.field)
        return _intake_error(err, locale)


def _subscribe(valid: ValidRequest, ip: str):
    """Count a valid sign-up (per IP, per contact in this shop, per shop), then store it."""
    runtime, shop = current_app.extensions["backbell"], g.shop  # each proxy read once: this is the hot path
    value_hash = runtime.vault.hash(valid.channel, valid.value)
    settings = _shop_settings(shop)
    limited = _rate_limit(ip=ip, contact=f"{shop.id}:{value_hash}", shop=str(shop.id),
                          limits={"shop": f"{settings.intake_per_minute}/minute"}, checks={"ip_invalid": ip})
    if limited is not None:
        return limited
    try:
        result = store_subscription_at_once(_connection(), runtime.vault, shop, valid, settings, value_hash)
    except IntegrityError:  # the contact's shop is gone: erased (shop/redact) since the snapshot was read
        return _unknown_shop()
    if result is None:
        with runtime.db.session() as session:
            stored_shop = session.get(Shop, shop.id)
            if stored_shop is None:  # erased (shop/redact) since the kept snapshot was read
                return _unknown_shop()
            result = store_subscription(session, runtime.vault, stored_shop, valid, settings)
    # Debug, not info: a line per sign-up cost ~7 % of its CPU (bench/README.md), and the rows are
    # the record (a log holds no contact to search by); refusals and limits stay at info.
    log.debug("intake_" + result.status, shop_id=shop.id, subscription_id=result.subscription_id,
              variant_id=result.variant_id, channel=valid.channel)
    if not result.variant_known:
        _request_variant_sync(shop.id, result.variant_id)
    if result.confirmation:
        _request_confirmation_send(valid.channel)
    return jsonify(status=result.status), 201 if result.status == "subscribed" else 200


@bp.get("/variants/<path:variant_ref>")
def variant_status(variant_ref: str):
    """What the widget shows for a variant: sold out?, may shoppers wait?, how many wait, ETA."""
    runtime = current_app.extensions["backbell"]
    try:
        variant_id = parse_variant_id(variant_ref)
    except IntakeError as err:
        return _intake_error(err, _accept_language())
    with runtime.db.session() as session:
        variant = session.scalars(
            select(Variant).where(Variant.shop_id == g.shop.id, Variant.variant_id == variant_id)
        ).first()
        waiting = session.scalar(
            select(func.count(Subscription.id)).where(
                Subscription.shop_id == g.shop.id, Subscription.variant_id == variant_id, Subscription.status == WAITING,
                Subscription.confirm_by.is_(None),  # unconfirmed (double opt-in) shoppers do not wait yet
            )
        )
    response = jsonify(_variant_payload(variant_id, variant, waiting))
    response.headers["Cache-Control"] = "no-store"
    return response


def _variant_payload(variant_id: int, variant: Variant | None, waiting: int) -> dict:
    if variant is None:
        # Not mirrored yet: let the shopper wait; the first subscription triggers a sync.
        return {"variant_id": variant_id, "known": False, "sold_out": None, "waiting_allowed": True,
                "waiting_count": waiting, "expected_at": None}
    return {
        "variant_id": variant_id,
        "known": True,
        "sold_out": None if variant.available is None else variant.available < 1,
        "waiting_allowed": variant.can_alert,
        "waiting_count": waiting,
        "expected_at": variant.expected_at.isoformat() if variant.expected_at else None,
    }


def _json_body() -> tuple[dict, str | None]:
    """The JSON object sent, or the problem (``too_long`` / ``invalid_json``) — never an exception."""
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        return {}, "too_long"
    raw = request.get_data(cache=False)
    if len(raw) > MAX_BODY_BYTES:
        return {}, "too_long"
    parsed = parse_json(raw)
    return (parsed.value, None) if isinstance(parsed.value, dict) else ({}, "invalid_json")


def _rate_limit(limits: dict[str, str] | None = None, checks: dict[str, str] | None = None, **keys: str):
    """None when allowed (and counted; ``checks`` only tested); the 429 response otherwise."""
    decision = current_app.extensions[LIMITER].hit(limits=limits, checks=checks, **keys)
    if decision.allowed:
        return None
    log.info("intake_rate_limited", shop_id=g.shop.id, scope=decision.scope)
    response = json_error(429, "rate_limited", "Too many requests. Please try again later.")
    response.headers["Retry-After"] = str(decision.retry_after)
    return response


def _request_variant_sync(shop_id: int, variant_id: int) -> None:
    """Ask for the variant's mirror row. The subscription is already stored, so a failing sync
    (broker down, Admin API error, eager task raising) must never fail the shopper's request."""
    from plugin.inventory.tasks import sync_variant

    try:
        sync_variant.delay(shop_id, variant_id)
    except Exception as err:  # noqa: BLE001 — any failure here is logged and left to reconciliation
        log.warning("variant_sync_enqueue_failed", shop_id=shop_id, variant_id=variant_id, error=type(err).__name__)


def _request_confirmation_send(channel: str) -> None:
    """Start the send chain of notices of no restock (the double opt-in ``confirm`` notice); if it
    cannot be queued, the beat's recovery starts it (the row is pending)."""
    from plugin.dispatch.tasks import send_batch

    try:
        send_batch.delay(None, channel)
    except Exception as err:  # noqa: BLE001 — logged; recover_dispatch sends the pending row
        log.warning("confirmation_enqueue_failed", shop_id=g.shop.id, error=type(err).__name__)


def _client_ip() -> str:
    """The shopper's address behind Shopify's app proxy (see ``plugin.intake.client_address``)."""
    return shopper_address(request.remote_addr, request.headers.get("X-Forwarded-For"),
                           current_app.extensions[TRUSTED_PROXIES])


def _shop_settings(shop: StorefrontShop) -> ShopSettings:
    try:
        return shop.parsed_settings
    except SettingsError as err:
        # A broken stored setting must not close the shop's sign-ups: the defaults hold.
        log.warning("shop_settings_invalid", shop_id=shop.id, field=err.field)
        return ShopSettings()


def _accept_language() -> str:
    return request.accept_languages.best or "en"


def _intake_error(err: IntakeError, locale: str, status: int = 422):
    message = intake_message(err.message_key, locale, **err.params)
    extra = {"suggestion": err.params["suggestion"]} if "suggestion" in err.params else {}
    return json_error(status, err.code, message, field=err.field, **extra)
