"""The one interface every channel (SendGrid, Twilio, the outbox) sits behind.

A message's ``subject``/``text``/``html`` may hold substitution tags (``-bb_url-``…) with the
per-recipient values in ``substitutions``: SendGrid then sends a thousand shoppers one body with
a thousand small substitution maps; channels without substitutions call :meth:`rendered`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class OutgoingMessage:
    notification_id: int
    channel: str  # email | sms
    to: str
    shop: str  # *.myshopify.com domain
    kind: str
    variant_id: int
    locale: str
    text: str
    url: str  # the tracked link
    unsubscribe_url: str
    subject: str | None = None
    html: str | None = None
    discount_code: str | None = None
    # When the offer in the message ends (the code's expiry, or a held unit's), if it has one.
    expires_at: datetime | None = None
    substitutions: dict[str, str] = field(default_factory=dict)
    # Carried along with the message and its provider events (ids only).
    tracking: dict[str, str] = field(default_factory=dict)

    def rendered(self) -> tuple[str | None, str, str | None]:
        """Subject, text and html with every substitution applied."""
        return (_apply(self.subject, self.substitutions), _apply(self.text, self.substitutions) or "",
                _apply(self.html, self.substitutions))


def _apply(template: str | None, substitutions: dict[str, str]) -> str | None:
    if template is None:
        return None
    for tag, value in substitutions.items():
        template = template.replace(tag, value)
    return template


@dataclass(frozen=True)
class DeliveryResult:
    notification_id: int
    ok: bool
    transient: bool = False
    provider_message_id: str | None = None
    error: str | None = None
    # The provider says this contact must never be messaged again (e.g. Twilio 21610, STOP).
    suppress: bool = False
    # The request was complete but no answer came (a read timeout, a dropped connection): the
    # provider may have accepted the message, so it must never be sent again. Final, like ``ok``.
    uncertain: bool = False
    # False: this attempt does not count towards the message's limit — the channel did not try it
    # (an earlier call of the batch failed, the rest waits for the retry) or the provider refused
    # to look at it (429: throttled, nothing about the message itself).
    counted: bool = True
    # Seconds the provider asked us to wait before the next call (429 Retry-After / X-RateLimit-Reset).
    retry_after: float | None = None


class Channel(Protocol):
    name: str
    max_batch: int

    def send(self, messages: list[OutgoingMessage]) -> list[DeliveryResult]:
        """Deliver the messages; one result per message, in any order. Never raises for provider errors."""
        ...

    def max_send_seconds(self, count: int) -> float:
        """An upper bound on how long ``send`` takes for ``count`` messages (its requests × their
        timeouts): a claimed batch's lease is longer than this, so recovery never takes back rows
        whose worker may still be inside the provider call."""
        ...
