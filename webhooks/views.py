"""``POST /webhooks``: Shopify's webhooks, every topic (including the privacy topics).

Verify → store in the inbox → have it drained → answer, in milliseconds: nothing here calls
Shopify. What a topic means is decided in ``plugin.inbox.topics`` (reached through the inbox's
tasks), so this package depends on ``plugin`` and never the other way round.

Status codes (pinned in CONTRACT.md): 400 missing header or unusable body (also a body that is
not the shape its topic sends: ``plugin.inbox.shapes``), 401 bad HMAC, 405 other methods, 413 a body
over 1 MiB, 200 accepted — also for a repeated ``X-Shopify-Webhook-Id``, which is not handled
again. A broker that is down does not lose the delivery: it is already stored, and the inbox's
re-drive queues it later. A database that is down answers 5xx, so Shopify retries.
"""

from __future__ import annotations

import re
from datetime import datetime

from flask import Blueprint, current_app, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from plugin.inbox import deliveries
from plugin.inbox.shapes import payload_problem
from plugin.inbox.signature import verify_webhook_signature
from plugin.inbox.tasks import queue_delivery
from plugin.logging import get_logger
from plugin.safe_json import parse_json
from plugin.web_errors import json_error

log = get_logger(__name__)
bp = Blueprint("webhooks_views", __name__)

REQUIRED_HEADERS = ("X-Shopify-Hmac-Sha256", "X-Shopify-Topic", "X-Shopify-Shop-Domain", "X-Shopify-Webhook-Id")
SHOP_DOMAIN = re.compile(r"^[a-z0-9][a-z0-9-]{0,99}\.myshopify\.com$")
MAX_TOPIC, MAX_WEBHOOK_ID = 64, 128
MAX_BODY_BYTES = 1024 * 1024  # the app's MAX_CONTENT_LENGTH; Shopify's bodies are far smaller
_READ_SIZE = 64 * 1024


@bp.route("/webhooks", methods=["POST"], provide_automatic_options=False)
def receive_webhook():
    """Verify a Shopify webhook, record its id and queue it for the topic's handler."""
    missing = [name for name in REQUIRED_HEADERS if not request.headers.get(name)]
    if missing:
        return json_error(400, "missing_header", f"Required header(s) missing: {', '.join(missing)}.", headers=missing)
    body = _read_body()
    if body is None:
        return json_error(413, "too_large", f"The body is larger than {MAX_BODY_BYTES} bytes.")
    # The signature first, on the raw bytes: nothing unauthenticated is ever parsed.
    settings = current_app.extensions["backbell"].settings
    check = verify_webhook_signature(body, request.headers["X-Shopify-Hmac-Sha256"], settings.shopify_secrets)
    if not check.ok:
        log.warning("webhook_rejected", reason=check.reason, shop_domain=request.headers["X-Shopify-Shop-Domain"][:120])
        return json_error(401, "invalid_hmac", "X-Shopify-Hmac-Sha256 does not match the body for this app's secret.")
    topic, shop_domain, webhook_id = (request.headers[name].strip() for name in REQUIRED_HEADERS[1:])
    shop_domain = shop_domain.lower()
    header_problem = _header_problem(topic, shop_domain, webhook_id)
    if header_problem:
        return json_error(400, *header_problem)
    parsed = parse_json(body)
    if not parsed.ok:
        return json_error(400, "invalid_json", f"The body must be a JSON object: {parsed.problem}.")
    # The topic and shop headers are not signed: the body must be what that topic sends for that shop.
    problem = payload_problem(topic, shop_domain, parsed.value)
    if problem:
        log.warning("webhook_payload_refused", topic=topic, shop_domain=shop_domain, webhook_id=webhook_id,
                    code=problem.code, problem=problem.message)
        return json_error(400, problem.code, problem.message)
    triggered_at = request.headers.get("X-Shopify-Triggered-At", "")[:64] or None
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return json_error(400, "invalid_body", "The body must be UTF-8 encoded JSON.")
    return _store_and_queue(topic, shop_domain, webhook_id, text, triggered_at)


def _read_body() -> bytes | None:
    """The raw body, or None when it is over ``MAX_BODY_BYTES``.

    A chunked body has no Content-Length to check up front, and a plain ``get_data()`` stops at the
    limit without saying so (a truncated body then failed the HMAC: 401 instead of 413). Read in
    pieces until the end, and give up as soon as the limit is passed.
    """
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        return None
    pieces, size = [], 0
    try:
        while piece := request.stream.read(_READ_SIZE):
            size += len(piece)
            if size > MAX_BODY_BYTES:
                return None
            pieces.append(piece)
    except RequestEntityTooLarge:
        return None
    return b"".join(pieces)


def _header_problem(topic: str, shop_domain: str, webhook_id: str) -> tuple[str, str] | None:
    if not SHOP_DOMAIN.match(shop_domain):
        return "invalid_header", "X-Shopify-Shop-Domain must be a *.myshopify.com domain."
    if not topic.isascii() or not webhook_id.isascii():
        return "invalid_header", "X-Shopify-Topic and X-Shopify-Webhook-Id must be ASCII."
    if len(topic) > MAX_TOPIC or len(webhook_id) > MAX_WEBHOOK_ID:
        return "invalid_header", "X-Shopify-Topic or X-Shopify-Webhook-Id is too long."
    return None


def _store_and_queue(topic: str, shop_domain: str, webhook_id: str, body: str, triggered_at: str | None):
    """Store the delivery in the inbox (committed before Shopify hears 200), then have it handled.

    The insert is one statement on an autocommit connection: its own transaction, committed when
    it returns (one PostgreSQL round trip, not three). Then one Redis command: a drain of the inbox
    is queued unless one already is (``plugin.inbox.tasks.queue_delivery``)."""
    runtime = current_app.extensions["backbell"]
    with runtime.db.autocommit() as connection:
        accepted = deliveries.accept(connection, runtime.vault, webhook_id=webhook_id, shop_domain=shop_domain,
                                     topic=topic, body=body, triggered_at=_parse_time(triggered_at))
    # Debug, not info: a line per webhook cost ~10 % of the request's CPU (bench/README.md); the
    # inbox row is the record, and the drain logs the ids it handled, a line per batch.
    if accepted.duplicate:
        log.debug("webhook_duplicate", topic=topic, shop_domain=shop_domain, webhook_id=webhook_id)
        return jsonify(status="duplicate"), 200
    try:
        queue_delivery(current_app.extensions["task_publisher"], accepted.inbox_id)
    except Exception as err:  # noqa: BLE001 — the row is stored: the re-drive queues it after its lease
        log.warning("webhook_queue_failed", topic=topic, shop_domain=shop_domain, webhook_id=webhook_id,
                    error=type(err).__name__)
    log.debug("webhook_accepted", topic=topic, shop_domain=shop_domain, webhook_id=webhook_id)
    return jsonify(status="accepted"), 200


def _parse_time(value: str | None) -> datetime | None:
    """An ISO 8601 time with an offset ("…Z" included), or None when absent or unusable."""
    try:
        parsed = datetime.fromisoformat(value.strip()) if value else None
    except ValueError:
        return None
    return parsed if parsed is not None and parsed.tzinfo is not None else None
