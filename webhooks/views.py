"""``POST /webhooks``: Shopify's webhooks, every topic (including the privacy topics).

Verify → record the webhook id → queue → answer, in milliseconds: nothing here calls Shopify.
What a topic means is decided in ``plugin.inbox.topics`` (reached through the
``handle_webhook`` task), so this package depends on ``plugin`` and never the other way round.

Status codes (pinned in CONTRACT.md): 400 missing header or unusable body, 401 bad HMAC,
405 other methods, 200 accepted — also for a repeated ``X-Shopify-Webhook-Id``, which is not
handled again — and 503 when the queue is down, so that Shopify delivers again later.
"""

from __future__ import annotations

import json
import re

from flask import Blueprint, current_app, jsonify, request
from shopify_app.verify.webhook import verify_webhook_req

from plugin.inbox import receipts as webhook_receipts
from plugin.logging import get_logger
from plugin.web_errors import json_error
from plugin.inventory.tasks import handle_webhook

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
    return _queue(topic, shop_domain, webhook_id, json.loads(body), triggered_at)


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


def _queue(topic: str, shop_domain: str, webhook_id: str, payload: dict, triggered_at: str | None):
    runtime = current_app.extensions["backbell"]
    with runtime.db.session() as session:
        is_new = webhook_receipts.record_receipt(session, webhook_id, shop_domain, topic)
    if not is_new:
        log.info("webhook_duplicate", topic=topic, shop_domain=shop_domain, webhook_id=webhook_id)
        return jsonify(status="duplicate"), 200
    try:
        handle_webhook.delay(topic, shop_domain, payload, webhook_id, triggered_at=triggered_at)
    except Exception:
        # Broker down (or, in-process, the handler failed): forget the id so Shopify's retry is handled.
        log.exception("webhook_queue_failed", topic=topic, shop_domain=shop_domain, webhook_id=webhook_id)
        with runtime.db.session() as session:
            webhook_receipts.forget_receipt(session, webhook_id)
        return json_error(503, "unavailable", "The webhook could not be queued; deliver it again later.")
    log.info("webhook_accepted", topic=topic, shop_domain=shop_domain, webhook_id=webhook_id)
    return jsonify(status="accepted"), 200

