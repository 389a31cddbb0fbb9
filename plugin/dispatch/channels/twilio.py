"""SMS through Twilio's Messages API (one request per message; Twilio has no batch send).

Error 21610 means the number replied STOP: permanent, and the contact is suppressed so nobody
tries again. 429/5xx and network errors are transient; other 4xx are permanent.
"""

from __future__ import annotations

import httpx

from plugin.dispatch.channels.base import DeliveryResult, OutgoingMessage
from plugin.logging import get_logger, mask_contacts
from plugin.tls import tls_context

log = get_logger(__name__)

OPTED_OUT = 21610
TIMEOUT = httpx.Timeout(15.0, connect=5.0)
# A restock alert stuck in Twilio's queue for hours is stale (the variant may be gone again):
# Twilio drops it after this many seconds instead of sending it late.
VALIDITY_SECONDS = 4 * 3600
# connect + write + read: the longest one request can take before httpx gives up.
REQUEST_SECONDS = 5.0 + 15.0 + 15.0


class TwilioChannel:
    name = "sms"
    max_batch = 50

    def __init__(self, account_sid: str, auth_token: str, from_number: str, origin: str,
                 status_callback: str | None = None):
        self.auth = (account_sid, auth_token)
        self.from_number = from_number
        self.url = f"{origin.rstrip('/')}/2010-04-01/Accounts/{account_sid}/Messages.json"
        self.status_callback = status_callback  # POST /webhooks/twilio: delivered, undelivered, failed

    def max_send_seconds(self, count: int) -> float:
        return count * REQUEST_SECONDS  # one request per message (50 × 35 s for a full batch)

    def send(self, messages: list[OutgoingMessage]) -> list[DeliveryResult]:
        with httpx.Client(timeout=TIMEOUT, auth=self.auth, verify=tls_context()) as client:
            return [self._send_one(client, m) for m in messages]

    def _send_one(self, client: httpx.Client, message: OutgoingMessage) -> DeliveryResult:
        _, text, _ = message.rendered()
        form = {"To": message.to, "From": self.from_number, "Body": text, "ValidityPeriod": str(VALIDITY_SECONDS)}
        if self.status_callback:
            form["StatusCallback"] = self.status_callback
        try:
            response = client.post(self.url, data=form)
        except httpx.HTTPError as err:
            return DeliveryResult(message.notification_id, ok=False, transient=True,
                                  error=f"twilio unreachable: {type(err).__name__}")
        if response.status_code in (200, 201):
            return DeliveryResult(message.notification_id, ok=True, provider_message_id=_json(response).get("sid"))
        body = _json(response)
        code = body.get("code")
        transient = response.status_code == 429 or response.status_code >= 500
        error = mask_contacts(f"twilio {response.status_code} code {code}: {body.get('message', '')}"[:500])
        log.warning("twilio_rejected", status=response.status_code, code=code, notification_id=message.notification_id)
        return DeliveryResult(message.notification_id, ok=False, transient=transient, error=error,
                              suppress=code == OPTED_OUT)


def _json(response: httpx.Response) -> dict:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
