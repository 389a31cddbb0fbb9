"""The merchant's own wording of the restock notice, per language and channel.

Stored in ``Shop.settings["message_overrides"]`` as ``{locale: {channel: {part: text}}}`` (the
settings column keeps keys it does not know, so no table is needed for a few strings). The parts
a merchant edits: the email's subject and opening sentence, the SMS text. Each may use only the
variables the renderer fills in (``VARIABLES``): anything else in braces is refused when saving,
so a typo can never reach a shopper as ``{prodcut}``.
"""

from __future__ import annotations

from string import Formatter
from typing import Any

from plugin.dispatch.messages.locales import LOCALES
from plugin.dispatch.messages.restock_strings import RESTOCK_STRINGS

SETTINGS_KEY = "message_overrides"
# The form's fields per channel → the restock strings they replace.
PARTS = {"email": {"subject": "subject", "text": "intro"}, "sms": {"text": "sms"}}
VARIABLES = {"subject": ("shop", "product", "item"), "intro": ("shop", "product", "item"),
             "sms": ("shop", "product", "item", "url")}
MAX_LENGTH = {"subject": 200, "intro": 1000, "sms": 480}
SAMPLE = {"shop": "Wool & Waves", "product": "Merino beanie", "item": "Merino beanie (Navy)",
          "url": "https://wool-and-waves.example/r/sample"}


class WordingError(ValueError):
    """``field`` is the form's field name (``subject`` or ``text``)."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


def wording(raw_settings: dict | None, locale: str, channel: str) -> dict[str, str]:
    """The form's fields for ``locale`` and ``channel``: the merchant's text, else the shipped one."""
    stored = _stored(raw_settings).get(locale, {}).get(channel, {})
    return {field: stored.get(part, RESTOCK_STRINGS[locale][part]) for field, part in PARTS[channel].items()}


def restock_strings(raw_settings: dict | None, locale: str) -> tuple[tuple[str, str], ...]:
    """The restock strings this shop overrides in ``locale`` (both channels), for the renderer."""
    by_channel = _stored(raw_settings).get(locale, {})
    return tuple(sorted((part, text) for parts in by_channel.values() for part, text in parts.items()))


def checked_wording(locale: str, channel: str, values: Any) -> dict[str, str]:
    """The restock strings for the form's ``values``; ``WordingError`` names the first bad field."""
    if locale not in LOCALES:
        raise WordingError("locale", f"must be one of {', '.join(LOCALES)}")
    if channel not in PARTS:
        raise WordingError("channel", "must be email or sms")
    if not isinstance(values, dict):
        raise WordingError("text", "send a JSON object with the message's fields")
    checked = {}
    for field, part in PARTS[channel].items():
        text = values.get(field)
        if not isinstance(text, str) or not text.strip():
            raise WordingError(field, "must not be empty")
        if len(text) > MAX_LENGTH[part]:
            raise WordingError(field, f"must be at most {MAX_LENGTH[part]} characters")
        _check_variables(field, text, VARIABLES[part])
        checked[part] = text.strip()
    return checked


def with_wording(raw_settings: dict | None, locale: str, channel: str, parts: dict[str, str] | None) -> dict:
    """A copy of the settings with ``parts`` stored (``None``: back to the shipped wording)."""
    settings = dict(raw_settings or {})
    stored = {loc: {ch: dict(p) for ch, p in chans.items()} for loc, chans in _stored(settings).items()}
    if parts is None:
        stored.get(locale, {}).pop(channel, None)
    else:
        stored.setdefault(locale, {})[channel] = parts
    settings[SETTINGS_KEY] = {loc: chans for loc, chans in stored.items() if chans}
    return settings


def fill(text: str, values: dict[str, str] = SAMPLE) -> str:
    return text.format(**values)


def _check_variables(field: str, text: str, allowed: tuple[str, ...]) -> None:
    try:
        parsed = list(Formatter().parse(text))
    except ValueError:
        raise WordingError(field, "has a { or } without its partner; write variables as {product}") from None
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if name not in allowed or spec or conversion:
            raise WordingError(field, f"{{{name}}} is not a variable here; use {', '.join('{' + a + '}' for a in allowed)}")


def _stored(raw_settings: dict | None) -> dict:
    value = (raw_settings or {}).get(SETTINGS_KEY)
    return value if isinstance(value, dict) else {}
