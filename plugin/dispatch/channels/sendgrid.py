"""Email through SendGrid v3 Mail Send, batched.

Messages with the same subject and bodies (one locale, one variant) share one request with one
personalization per shopper: their own ``to``, ``substitutions`` for the per-recipient links,
RFC 8058 one-click ``List-Unsubscribe`` headers and ``custom_args`` (ids as strings, per
personalization — the message-level field is mistyped in SendGrid's own spec). A request is
all-or-nothing: 202 accepted; 429/5xx and errors before the request was written whole are
transient; a request written whole that got no answer (read timeout, dropped connection) is
*uncertain* — SendGrid may have accepted it and takes no idempotency key, so it is never sent
again (``plugin.dispatch.channels.http``); other 4xx are permanent. A transient failure ends the
batch: the groups not tried yet wait for the retry (after a 429, no call before SendGrid's
``X-RateLimit-Reset``). Plain httpx with a timeout, because the ``sendgrid`` package waits forever
by default.

One address SendGrid refuses (400, e.g. "Does not contain a valid address") fails the whole
request, so a 400 splits the group in halves and sends each again: the bad address(es) end up
failing alone with SendGrid's reason while everybody else is sent. The splitting is bounded
(``MAX_REQUESTS`` per batch), and a 400 that names a field outside ``personalizations`` — a
problem of the body itself — is not split at all.
"""

from __future__ import annotations

from collections import defaultdict

import httpx

from plugin.dispatch.channels.base import DeliveryResult, OutgoingMessage
from plugin.dispatch.channels.http import never_sent, requested_wait
from plugin.logging import get_logger, mask_contacts
from plugin.tls import tls_context

log = get_logger(__name__)

MAX_PERSONALIZATIONS = 1000
DEFAULT_TIMEOUT_SECONDS = 20.0
CONNECT_SECONDS = 5.0
# Requests one send() may make: the groups plus the halves of split ones. Isolating one bad
# address among 1000 takes 1 + 2 × 10; two take at most 39.
MAX_REQUESTS = 48


class SendGridChannel:
    name = "email"
    max_batch = MAX_PERSONALIZATIONS

    def __init__(self, api_key: str, origin: str, from_email: str, from_name: str | None = None,
                 unsubscribe_mailto: str | None = None, timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS):
        self.api_key = api_key
        connect = min(CONNECT_SECONDS, timeout_seconds)
        self.timeout = httpx.Timeout(timeout_seconds, connect=connect)
        # connect, then writing the body and waiting for the answer (each bounded by the timeout).
        self.request_seconds = connect + 2 * timeout_seconds
        self.url = f"{origin.rstrip('/')}/v3/mail/send"
        self.from_email = from_email
        self.from_name = from_name
        self.unsubscribe_mailto = unsubscribe_mailto or from_email

    def max_send_seconds(self, count: int) -> float:
        # A split tree over ``count`` recipients has at most 2 × count - 1 requests.
        return min(MAX_REQUESTS, 2 * count - 1) * self.request_seconds

    def send(self, messages: list[OutgoingMessage]) -> list[DeliveryResult]:
        results: list[DeliveryResult] = []
        budget = [MAX_REQUESTS]
        with httpx.Client(timeout=self.timeout, verify=tls_context()) as client:
            for group in _groups(messages):
                results.extend(self._send_group(client, group, budget, results))
        return results

    def _send_group(self, client: httpx.Client, group: list[OutgoingMessage], budget: list[int],
                    done: list[DeliveryResult]) -> list[DeliveryResult]:
        busy = next((r for r in done if r.transient), None)
        if busy is not None:  # the provider refused a call of this batch: no more calls until the retry
            return _all(group, ok=False, transient=True, counted=False, retry_after=busy.retry_after,
                        error="sendgrid: not tried (an earlier request of the batch failed)")
        if budget[0] <= 0:
            return _all(group, ok=False, transient=True, error="sendgrid: request budget of the batch used up")
        budget[0] -= 1
        headers = {"Authorization": f"Bearer {self.api_key}"}
        try:
            response = client.post(self.url, json=self.request_body(group), headers=headers)
        except httpx.HTTPError as err:
            if never_sent(err):
                log.warning("sendgrid_unreachable", error=type(err).__name__, messages=len(group))
                return _all(group, ok=False, transient=True, error=f"sendgrid unreachable: {type(err).__name__}")
            log.warning("sendgrid_no_answer", error=type(err).__name__, messages=len(group),
                        notification_ids=[m.notification_id for m in group][:20])
            return _all(group, ok=False, uncertain=True,
                        error=f"sendgrid did not answer ({type(err).__name__}): it may have accepted the message")
        if response.status_code == 202:
            message_id = response.headers.get("X-Message-Id")
            return _all(group, ok=True, provider_message_id=message_id)
        text, fields = _error_details(response)
        if response.status_code == 400 and len(group) > 1 and budget[0] >= 2 and _may_be_a_recipient(fields):
            half = len(group) // 2
            log.info("sendgrid_batch_split", messages=len(group), notification_ids=[m.notification_id for m in group][:5])
            first = self._send_group(client, group[:half], budget, done)
            return first + self._send_group(client, group[half:], budget, done + first)
        transient = response.status_code == 429 or response.status_code >= 500
        wait = requested_wait(response.headers) if response.status_code == 429 else None
        error = mask_contacts(f"sendgrid {response.status_code}: {text}")
        log.warning("sendgrid_rejected", status=response.status_code, transient=transient, retry_after=wait,
                    notification_ids=[m.notification_id for m in group][:20], error=error[:500])
        return _all(group, ok=False, transient=transient, error=error, retry_after=wait,
                    counted=response.status_code != 429)

    def request_body(self, group: list[OutgoingMessage]) -> dict:
        first = group[0]
        sender = {"email": self.from_email} | ({"name": self.from_name} if self.from_name else {})
        content = [{"type": "text/plain", "value": first.text}]
        if first.html:
            content.append({"type": "text/html", "value": first.html})
        return {
            "personalizations": [self._personalization(m) for m in group],
            "from": sender,
            "subject": first.subject or " ",
            "content": content,
            "tracking_settings": {"click_tracking": {"enable": False, "enable_text": False}},
        }

    def _personalization(self, message: OutgoingMessage) -> dict:
        return {
            "to": [{"email": message.to}],
            "substitutions": dict(message.substitutions),
            "headers": {
                "List-Unsubscribe": f"<{message.unsubscribe_url}>, <mailto:{self.unsubscribe_mailto}?subject=unsubscribe>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            },
            "custom_args": {k: str(v) for k, v in message.tracking.items()},
        }


def _groups(messages: list[OutgoingMessage]) -> list[list[OutgoingMessage]]:
    """Same subject and bodies → one request, at most 1000 personalizations each."""
    by_body: dict[tuple, list[OutgoingMessage]] = defaultdict(list)
    for message in messages:
        by_body[(message.subject, message.text, message.html)].append(message)
    return [group[i:i + MAX_PERSONALIZATIONS] for group in by_body.values()
            for i in range(0, len(group), MAX_PERSONALIZATIONS)]


def _all(group: list[OutgoingMessage], **fields) -> list[DeliveryResult]:
    return [DeliveryResult(m.notification_id, **fields) for m in group]


def _error_details(response: httpx.Response) -> tuple[str, list[str | None]]:
    """SendGrid's error messages (they name fields, not recipients) and the fields they name."""
    try:
        body = response.json()
        errors = [e for e in (body.get("errors") or []) if isinstance(e, dict)] if isinstance(body, dict) else []
    except ValueError:
        return response.text[:200], []
    text = "; ".join(str(e.get("message")) for e in errors) or response.text[:200]
    return text, [e.get("field") if isinstance(e.get("field"), str) else None for e in errors]


def _may_be_a_recipient(fields: list[str | None]) -> bool:
    """False when every error names a field of the body itself (subject, from, content …)."""
    return not fields or any(f is None or f.startswith("personalizations") for f in fields)
