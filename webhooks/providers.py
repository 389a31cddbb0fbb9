"""``POST /webhooks/sendgrid`` and ``POST /webhooks/twilio``: the providers' delivery events.

Verify the provider's signature first (403 and nothing recorded otherwise), then record the
events in one transaction; a batch is answered 200 also when some events were repeats or not
ours, so the provider does not retry them forever. The work is a few indexed writes per event.
"""

from __future__ import annotations

import json

from flask import Blueprint, current_app, jsonify, request

from plugin.clock import timestamp
from plugin.logging import get_logger
from plugin.measurement.events import record_events, sendgrid_event, twilio_event
from plugin.measurement.signatures import verify_sendgrid_events, verify_twilio
from plugin.web_errors import json_error

log = get_logger(__name__)
bp = Blueprint("provider_webhooks", __name__)

MAX_EVENTS = 10_000


@bp.route("/webhooks/sendgrid", methods=["POST"], provide_automatic_options=False)
def sendgrid_events():
    """Record SendGrid's signed event webhook (delivered, open, bounce, …)."""
    runtime = current_app.extensions["backbell"]
    body = request.get_data()
    verification = verify_sendgrid_events(
        runtime.settings.sendgrid_webhook_public_key,
        request.headers.get("X-Twilio-Email-Event-Webhook-Signature"),
        request.headers.get("X-Twilio-Email-Event-Webhook-Timestamp"), body, timestamp())
    if not verification.ok:
        log.warning("sendgrid_events_rejected", reason=verification.reason)
        return json_error(403, "invalid_signature", "The event webhook signature does not verify.")
    events = _event_list(body)
    if events is None:
        return json_error(400, "invalid_json", f"The body must be a JSON array of at most {MAX_EVENTS} events.")
    with runtime.db.session() as session:
        report = record_events(session, [sendgrid_event(e) for e in events])
    log.info("sendgrid_events", recorded=report.recorded, duplicates=report.duplicates, ignored=report.ignored)
    return jsonify(recorded=report.recorded, duplicates=report.duplicates, ignored=report.ignored), 200


@bp.route("/webhooks/twilio", methods=["POST"], provide_automatic_options=False)
def twilio_status():
    """Record a Twilio message status callback (delivered, undelivered, failed)."""
    runtime = current_app.extensions["backbell"]
    settings = runtime.settings
    form = {key: request.form.get(key, "") for key in request.form}
    # Twilio signs the URL it was given (the StatusCallback we sent), not what a proxy made of it.
    url = settings.app_url + request.full_path.rstrip("?")
    verification = verify_twilio(settings.twilio_auth_token, url, form, request.headers.get("X-Twilio-Signature"))
    if not verification.ok:
        log.warning("twilio_callback_rejected", reason=verification.reason)
        return json_error(403, "invalid_signature", "X-Twilio-Signature does not verify.")
    with runtime.db.session() as session:
        report = record_events(session, [twilio_event(session, form)])
    log.info("twilio_status", recorded=report.recorded, duplicates=report.duplicates, ignored=report.ignored)
    return jsonify(recorded=report.recorded, duplicates=report.duplicates, ignored=report.ignored), 200


def _event_list(body: bytes) -> list | None:
    try:
        events = json.loads(body)
    except (ValueError, RecursionError):
        return None
    if not isinstance(events, list) or len(events) > MAX_EVENTS:
        return None
    return events
