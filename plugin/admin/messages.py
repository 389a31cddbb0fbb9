"""Messages: the restock notice's wording per language and channel, with a live preview on sample
data and a test send. ``/app/messages`` (the page), ``PUT``/``DELETE /api/messages/<locale>/<channel>``
and ``POST /api/messages/<locale>/<channel>/test``; the wording rules are in
``plugin.dispatch.messages.overrides``."""

from __future__ import annotations

from flask import Blueprint, current_app, g, jsonify, request
from sqlalchemy import select

from plugin.admin.pages import KEPT_PARAMS, admin_page, render_page
from plugin.admin.views import session_token_required
from plugin.dispatch.channels import channel_for
from plugin.dispatch.channels.base import OutgoingMessage
from plugin.dispatch.messages.locales import LOCALES, normalise_locale
from plugin.dispatch.messages.overrides import (
    PARTS,
    SAMPLE,
    VARIABLES,
    WordingError,
    checked_wording,
    fill,
    with_wording,
    wording,
)
from plugin.intake.contacts import ContactError, normalise_email, normalise_phone
from plugin.logging import get_logger
from plugin.models import Shop
from plugin.web_errors import json_error

log = get_logger(__name__)
bp = Blueprint("admin_messages", __name__)
LANGUAGE_NAMES = {"en": "English", "zh-CN": "简体中文", "es": "Español", "fr": "Français", "de": "Deutsch",
                  "ja": "日本語"}


def _runtime():
    return current_app.extensions["backbell"]


@bp.get("/app/messages")
@admin_page
def messages_page():
    """The wording of one language and channel, its preview, and the test send."""
    language = request.args.get("language") or normalise_locale(g.shop.primary_locale)
    language = language if language in LOCALES else "en"
    channel = request.args.get("channel") if request.args.get("channel") in PARTS else "email"
    fields = wording(g.shop.settings, language, channel)
    parts = PARTS[channel]
    variables = sorted({v for part in parts.values() for v in VARIABLES[part]})
    kept = {key: request.args[key] for key in KEPT_PARAMS if request.args.get(key)}
    return render_page("messages.html", "messages", title=g.t("messages.title"), language=language,
                       channel=channel, languages=LANGUAGE_NAMES, fields=fields, kept=kept, sample=SAMPLE,
                       preview={name: fill(text) for name, text in fields.items()},
                       variables=", ".join("{" + v + "}" for v in variables))


@bp.put("/api/messages/<locale>/<channel>")
@session_token_required
def save_wording(locale: str, channel: str):
    """Store the shop's wording; a variable the notice does not have is 422 naming the field."""
    try:
        parts = checked_wording(locale, channel, request.get_json(silent=True))
    except WordingError as err:
        return json_error(422, "invalid_wording", err.message, field=err.field)
    _store(locale, channel, parts)
    log.info("message_wording_saved", shop_id=g.shop.id, locale=locale, channel=channel)
    return jsonify(message={"locale": locale, "channel": channel, **_fields(channel, parts)})


@bp.delete("/api/messages/<locale>/<channel>")
@session_token_required
def reset_wording(locale: str, channel: str):
    """Back to the shipped wording of ``locale`` and ``channel``."""
    if locale not in LOCALES or channel not in PARTS:
        return json_error(404, "not_found", "No such language or channel.")
    _store(locale, channel, None)
    return jsonify(message={"locale": locale, "channel": channel, **wording({}, locale, channel)})


@bp.post("/api/messages/<locale>/<channel>/test")
@session_token_required
def send_test(locale: str, channel: str):
    """Send the wording (saved or not) on sample data to the merchant's own address or number."""
    body = request.get_json(silent=True)
    try:
        parts = checked_wording(locale, channel, body)
    except WordingError as err:
        return json_error(422, "invalid_wording", err.message, field=err.field)
    to = _recipient(channel, body.get("to"))
    if to is None:
        what = "an email address" if channel == "email" else "a phone number with its country code"
        return json_error(422, "invalid_recipient", f"Enter {what} to send the test to.", field="to")
    settings = _runtime().settings
    message = OutgoingMessage(
        notification_id=0, channel=channel, to=to, shop=g.shop.domain, kind="test", variant_id=0, locale=locale,
        subject=fill(parts["subject"]) if "subject" in parts else None,
        text=fill(parts.get("intro") or parts["sms"]), url=SAMPLE["url"], unsubscribe_url="")
    result = channel_for(settings, channel).send([message])[0]
    if not result.ok:
        log.warning("message_test_failed", shop_id=g.shop.id, channel=channel, error=result.error)
        return json_error(502, "test_not_sent", "The provider did not accept the test message. Try again later.")
    return jsonify(sent=True, to=to)


def _store(locale: str, channel: str, parts: dict | None) -> None:
    with _runtime().db.session() as session:
        shop = session.scalar(select(Shop).where(Shop.id == g.shop.id).with_for_update())
        shop.settings = with_wording(shop.settings, locale, channel, parts)


def _fields(channel: str, parts: dict[str, str]) -> dict[str, str]:
    return {field: parts[part] for field, part in PARTS[channel].items()}


def _recipient(channel: str, value) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        return normalise_email(value) if channel == "email" else normalise_phone(value, None)
    except ContactError:
        return None
