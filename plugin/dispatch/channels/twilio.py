"""SMS through Twilio's Messages API (one request per message; Twilio has no batch send).

Error 21610 means the number replied STOP: permanent, and the contact is suppressed so nobody
tries again. 429/5xx and errors before the request was written whole are transient, and end the
batch: the messages not tried yet wait for the retry (after a 429, no call before its
``Retry-After``). A request written whole that got no answer is *uncertain* — Twilio may have
queued the SMS and takes no idempotency key — and is never sent again
(``plugin.dispatch.channels.http``). Other 4xx are permanent.
"""

from __future__ import annotations

import httpx

from plugin.dispatch.channels.base import DeliveryResult, OutgoingMessage
from plugin.dispatch.channels.http import never_sent, requested_wait
from plugin.logging import get_logger, mask_contacts
from plugin.tls import tls_context

log = get_logger(__name__)

OPTED_OUT = 21610
DEFAULT_TIMEOUT_SECONDS = 15.0
CONNECT_SECONDS = 5.0
# A restock alert stuck in Twilio's queue for hours is stale (the variant may be gone again):
# Twilio drops it after this many seconds instead of sending it late.
VALIDITY_SECONDS = 4 * 3600


class TwilioChannel:
    name = "sms"
    max_batch = 50

    def __init__(self, account_sid: str, auth_token: str, from_number: str, origin: str,
                 status_callback: str | None = None, timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS):
        self.auth = (account_sid, auth_token)
        connect = min(CONNECT_SECONDS, timeout_seconds)
        self.timeout = httpx.Timeout(timeout_seconds, connect=connect)
        # connect + write + read: the longest one request can take before httpx gives up.
        self.request_seconds = connect + 2 * timeout_seconds
        self.from_number = from_number
        self.url = f"{origin.rstrip('/')}/2010-04-01/Accounts/{account_sid}/Messages.json"
        self.status_callback = status_callback  # POST /webhooks/twilio: delivered, undelivered, failed

    def max_send_seconds(self, count: int) -> float:
        return count * self.request_seconds  # one request per message (50 × 35 s for a full batch)

    def send(self, messages: list[OutgoingMessage]) -> list[DeliveryResult]:
        results: list[DeliveryResult] = []
        with httpx.Client(timeout=self.timeout, auth=self.auth, verify=tls_context()) as client:
            for message in messages:
                busy = next((r for r in results if r.transient), None)
                if busy is not None:  # Twilio refused a call of this batch: no more until the retry
                    results.append(DeliveryResult(message.notification_id, ok=False, transient=True, counted=False,
                                                  retry_after=busy.retry_after,
                                                  error="twilio: not tried (an earlier request of the batch failed)"))
                else:
                    results.append(self._send_one(client, message))
        return results

    def _send_one(self, client: httpx.Client, message: OutgoingMessage) -> DeliveryResult:
        _, text, _ = message.rendered()
        form = {"To": message.to, "From": self.from_number, "Body": text, "ValidityPeriod": str(VALIDITY_SECONDS)}
        if self.status_callback:
            form["StatusCallback"] = self.status_callback
        try:
            response = client.post(self.url, data=form)
        except httpx.HTTPError as err:
            if never_sent(err):
                log.warning("twilio_unreachable", error=type(err).__name__, notification_id=message.notification_id)
                return DeliveryResult(message.notification_id, ok=False, transient=True,
                                      error=f"twilio unreachable: {type(err).__name__}")
            log.warning("twilio_no_answer", error=type(err).__name__, notification_id=message.notification_id)
            return DeliveryResult(message.notification_id, ok=False, uncertain=True,
                                  error=f"twilio did not answer ({type(err).__name__}): it may have queued the message")
        if response.status_code in (200, 201):
            return DeliveryResult(message.notification_id, ok=True, provider_message_id=_json(response).get("sid"))
        body = _json(response)
        code = body.get("code")
        transient = response.status_code == 429 or response.status_code >= 500
        wait = requested_wait(response.headers) if response.status_code == 429 else None
        error = mask_contacts(f"twilio {response.status_code} code {code}: {body.get('message', '')}"[:500])
        log.warning("twilio_rejected", status=response.status_code, code=code, notification_id=message.notification_id,
                    retry_after=wait)
        return DeliveryResult(message.notification_id, ok=False, transient=transient, error=error,
                              suppress=code == OPTED_OUT, retry_after=wait, counted=response.status_code != 429)


def _json(response: httpx.Response) -> dict:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
