"""``POST /webhooks``: Shopify's webhooks, every topic (including the privacy topics).

Verify → store in the inbox → queue the row id → answer, in milliseconds: nothing here calls
Shopify. What a topic means is decided in ``plugin.inbox.topics`` (reached through the
``process_webhook`` task), so this package depends on ``plugin`` and never the other way round.

Status codes (pinned in CONTRACT.md): 400 missing header or unusable body, 401 bad HMAC,
405 other methods, 200 accepted — also for a repeated ``X-Shopify-Webhook-Id``, which is not
handled again. A broker that is down does not lose the delivery: it is already stored, and the
inbox's re-drive queues it later. A database that is down answers 5xx, so Shopify retries.
"""

from __future__ import annotations

import json
import re
from datetime import datetime

from flask import Blueprint, current_app, jsonify, request
from shopify_app.verify.webhook import verify_webhook_req

from plugin.inbox import deliveries
from plugin.inbox.tasks import process_webhook
from plugin.logging import get_logger
from plugin.web_errors import json_error

log = get_logger(__name__)
bp = Blueprint("webhooks_views", __name__)

REQUIRED_HEADERS = ("X-Shopify-Hmac-Sha256", "X-Shopify-Topic", "X-Shopify-Shop-Domain", "X-Shopify-Webhook-Id")
SHOP_DOMAIN = re.compile(r"^[a-z0-9][a-z0-9-]{0,99}\.myshopify\.com$")
MAX_TOPIC, MAX_WEBHOOK_ID = 64, 128


@bp.route("/webhooks", methods=["POST"], provide_automatic_options=False)
def receive_webhook():
    """Verify a Shopify webhook, record its id and queue it for the topic's handler."""
    missing = [name for name in REQUIRED_HEADERS if not request.headers.get(name)]
    if missing:
        return json_error(400, "missing_header", f"Required header(s) missing: {', '.join(missing)}.", headers=missing)
    try:
        body = request.get_data().decode("utf-8")
    except UnicodeDecodeError:
        return json_error(400, "invalid_body", "The body must be UTF-8 encoded JSON.")
    rejection = _verify_signature(body)
    if rejection is not None:
        return rejection
    topic, shop_domain, webhook_id = (request.headers[name].strip() for name in REQUIRED_HEADERS[1:])
    shop_domain = shop_domain.lower()
    problem = _header_problem(topic, shop_domain, webhook_id) or _body_problem(body, shop_domain)
    if problem:
        return json_error(400, *problem)
    triggered_at = request.headers.get("X-Shopify-Triggered-At", "")[:64] or None
    return _store_and_queue(topic, shop_domain, webhook_id, body, triggered_at)


def _verify_signature(body: str):
    """None when the HMAC matches the current or the previous app secret; the error response otherwise."""
    settings = current_app.extensions["backbell"].settings
    result = verify_webhook_req(
        {"method": request.method, "headers": dict(request.headers), "url": request.url, "body": body},
        {"client_id": settings.shopify_api_key, "client_secret": settings.shopify_api_secret,
         "old_client_secret": settings.shopify_api_secret_old},
    )
    if result.ok:
        return None
    log.warning("webhook_rejected", reason=result.log.code, shop_domain=request.headers.get("X-Shopify-Shop-Domain"))
    if result.response.status == 401:
        return json_error(401, "invalid_hmac", "X-Shopify-Hmac-Sha256 does not match the body for this app's secret.")
    if result.response.status == 400:
        return json_error(400, "missing_header", "Required header(s) missing: X-Shopify-Hmac-Sha256.")
    return json_error(result.response.status, result.log.code, result.log.detail)


def _header_problem(topic: str, shop_domain: str, webhook_id: str) -> tuple[str, str] | None:
    if not SHOP_DOMAIN.match(shop_domain):
        return "invalid_header", "X-Shopify-Shop-Domain must be a *.myshopify.com domain."
    if len(topic) > MAX_TOPIC or len(webhook_id) > MAX_WEBHOOK_ID:
        return "invalid_header", "X-Shopify-Topic or X-Shopify-Webhook-Id is too long."
    return None


def _body_problem(body: str, shop_domain: str) -> tuple[str, str] | None:
    try:
        payload = json.loads(body)
    except ValueError:
        return "invalid_json", "The body must be a JSON object."
    if not isinstance(payload, dict):
        return "invalid_json", "The body must be a JSON object."
    # Privacy and uninstall bodies name their shop; it must be the shop the headers name.
    named = payload.get("shop_domain") or payload.get("myshopify_domain")
    if isinstance(named, str) and named.strip().lower() != shop_domain:
        return "shop_mismatch", "The body is for another shop than X-Shopify-Shop-Domain."
    return None


def _store_and_queue(topic: str, shop_domain: str, webhook_id: str, body: str, triggered_at: str | None):
    """Store the delivery in the inbox (committed before Shopify hears 200), then queue its id."""
    runtime = current_app.extensions["backbell"]
    with runtime.db.session() as session:
        accepted = deliveries.accept(session, runtime.vault, webhook_id=webhook_id, shop_domain=shop_domain,
                                     topic=topic, body=body, triggered_at=_parse_time(triggered_at))
    if accepted.duplicate:
        log.info("webhook_duplicate", topic=topic, shop_domain=shop_domain, webhook_id=webhook_id)
        return jsonify(status="duplicate"), 200
    try:
        process_webhook.delay(accepted.inbox_id)
    except Exception as err:  # noqa: BLE001 — the row is stored: the re-drive queues it after its lease
        log.warning("webhook_queue_failed", topic=topic, shop_domain=shop_domain, webhook_id=webhook_id,
                    error=type(err).__name__)
    log.info("webhook_accepted", topic=topic, shop_domain=shop_domain, webhook_id=webhook_id)
    return jsonify(status="accepted"), 200


def _parse_time(value: str | None) -> datetime | None:
    """An ISO 8601 time with an offset ("…Z" included), or None when absent or unusable."""
    try:
        parsed = datetime.fromisoformat(value.strip()) if value else None
    except ValueError:
        return None
    return parsed if parsed is not None and parsed.tzinfo is not None else None
