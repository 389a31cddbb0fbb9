"""An HTTP double of Twilio's Messages API (``POST /2010-04-01/Accounts/{sid}/Messages.json``).

Every form is validated — when ``../shared`` is there (tests/doubles/provider_specs.py) — against the
CreateMessage request schema of Twilio's official OpenAPI
spec (``shared/twilio/twilio_api_v2010.json.gz``; form values arrive as strings, so each is read
as the type the schema declares before validating), plus the rules the spec states in words
(``To``, and ``From`` or ``MessagingServiceSid``, and ``Body``/``MediaUrl``/``ContentSid``; a
``ValidityPeriod`` of 1–36000). Answers 201 with a message sid like Twilio, 400 with Twilio's
error body for an opted-out number (21610), 401 for wrong credentials.

``faults``: a seeded ``FaultPlan`` (tests/doubles/provider_faults.py) failing a share of calls —
429 with ``Retry-After`` (a call before it is recorded in ``early_calls``), 5xx, refused
connections, and messages queued but answered after the client's timeout.

``status_callback(client, sid, status, error_code=None)`` then posts the status callback Twilio
would send for that message to its ``StatusCallback`` URL, signed with ``X-Twilio-Signature``.

Fixture ``twilio``: request it BEFORE ``app``/``client`` so the app is built pointing here.
"""

from __future__ import annotations

import gzip
import json
import threading
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlparse

import pytest
from openapi_schema_validator import OAS30Validator
from twilio.request_validator import RequestValidator
from werkzeug.wrappers import Request, Response

from tests.doubles.provider_faults import FaultPlan, GatedServer, now, peer_gone
from tests.doubles.provider_specs import provider_spec

ACCOUNT_SID, AUTH_TOKEN, FROM = "AC" + "1" * 32, "twilio-test-token", "+15005550006"
MESSAGES = "/2010-04-01/Accounts/{AccountSid}/Messages.json"
OPTED_OUT_NUMBERS = {"+15550009999"}


@lru_cache(maxsize=1)
def create_message_schema(spec_path: Path) -> dict:
    with gzip.open(spec_path, "rt", encoding="utf-8") as handle:
        spec = json.load(handle)
    operation = spec["paths"][MESSAGES]["post"]
    schema = operation["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
    # The few $refs it has are to enums in components: resolve them inline.
    return _inline(schema, spec)


def _inline(node, spec):
    if isinstance(node, dict):
        if "$ref" in node:
            target = spec
            for part in node["$ref"].lstrip("#/").split("/"):
                target = target[part]
            return _inline(target, spec)
        return {k: _inline(v, spec) for k, v in node.items()}
    if isinstance(node, list):
        return [_inline(v, spec) for v in node]
    return node


@dataclass
class TwilioDouble:
    schema: dict | None  # None without ../shared: only the rules stated below are checked
    url: str = ""
    messages: list[dict] = field(default_factory=list)
    validation_failures: list[str] = field(default_factory=list)
    faults: FaultPlan | None = None
    server: GatedServer | None = None
    not_before: float = 0.0  # the end of the latest 429's Retry-After (wall clock)
    early_calls: list[float] = field(default_factory=list)  # seconds before that a call came
    throttled_at: float = 0.0  # when the latest 429 was answered (wall clock)
    early_gaps: list[float] = field(default_factory=list)  # for each early call: seconds after that 429
    calls: int = 0
    unanswered: list[str] = field(default_factory=list)  # sids queued, but the caller had gone before the answer
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, environ, start_response):
        response = self._handle(Request(environ))
        if self.faults is not None:
            response.headers["Connection"] = "close"  # each call on a new connection (see provider_faults)
        return response(environ, start_response)

    def _handle(self, request: Request) -> Response:
        if request.method != "POST" or request.path != MESSAGES.replace("{AccountSid}", ACCOUNT_SID):
            return _error(404, 20404, "The requested resource was not found")
        auth = request.authorization
        if auth is None or (auth.username, auth.password) != (ACCOUNT_SID, AUTH_TOKEN):
            return _error(401, 20003, "Authenticate")
        form = request.form.to_dict()
        problems = self.problems(form)
        if problems:
            with self._lock:
                self.validation_failures.extend(problems)
            return _error(400, 21601, "; ".join(problems))
        if form["To"] in OPTED_OUT_NUMBERS:
            return _error(400, 21610, "Attempt to send to unsubscribed recipient")
        arrived = now()
        with self._lock:
            self.calls += 1
            if arrived < self.not_before:
                self.early_calls.append(self.not_before - arrived)
                self.early_gaps.append(arrived - self.throttled_at)
        fault = None
        if self.faults is not None:
            fault, refuse_next = self.faults.take()
            if refuse_next and self.server is not None:
                self.server.refuse_connections(self.faults.gate_seconds)
            if fault == "429":
                with self._lock:
                    self.not_before = max(self.not_before, arrived + self.faults.throttle_seconds)
                    self.throttled_at = arrived
                response = _error(429, 20429, "Too Many Requests")
                response.headers["Retry-After"] = str(self.faults.throttle_seconds)
                return response
            if fault is not None and fault.isdigit():
                return _error(int(fault), 20500, "An internal server error has occurred")
        with self._lock:
            sid = f"SM{len(self.messages) + 1:032x}"
            self.messages.append({**form, "sid": sid})
        if fault == "no_answer":
            time.sleep(self.faults.hang_seconds)
        if peer_gone(request.environ):  # the caller gave up before the answer (its timeout)
            with self._lock:
                self.unanswered.append(sid)
        return Response(json.dumps({"sid": sid, "status": "queued", "to": form["To"]}), status=201,
                        content_type="application/json")

    def problems(self, form: dict[str, str]) -> list[str]:
        properties = self.schema["properties"] if self.schema else {}
        typed = {name: _typed(value, properties.get(name, {"type": "integer"} if name == "ValidityPeriod" else {}))
                 for name, value in form.items()}
        found = []
        if self.schema:
            validator = OAS30Validator(self.schema, format_checker=OAS30Validator.FORMAT_CHECKER)
            found += [f"{'/'.join(map(str, e.absolute_path)) or '(form)'}: {e.message}"
                      for e in validator.iter_errors(typed)]
            found += [f"{name}: not a CreateMessage parameter" for name in sorted(set(form) - set(properties))]
        if "To" not in form or not ({"From", "MessagingServiceSid"} & set(form)):
            found.append("To and From (or MessagingServiceSid) are required")
        if not ({"Body", "MediaUrl", "ContentSid"} & set(form)):
            found.append("Body, MediaUrl or ContentSid is required")
        period = typed.get("ValidityPeriod")
        if period is not None and not (isinstance(period, int) and 1 <= period <= 36000):
            found.append("ValidityPeriod: 1 to 36000 seconds")
        return found

    def status_callback(self, client, sid: str, status: str, error_code: int | None = None,
                        auth_token: str = AUTH_TOKEN):
        """POST Twilio's status callback for ``sid`` to the StatusCallback it was sent with."""
        message = next(m for m in self.messages if m["sid"] == sid)
        callback = message["StatusCallback"]
        form = {"MessageSid": sid, "SmsSid": sid, "MessageStatus": status, "SmsStatus": status,
                "AccountSid": ACCOUNT_SID, "From": message["From"], "To": message["To"], "ApiVersion": "2010-04-01"}
        if error_code is not None:
            form["ErrorCode"] = str(error_code)
        signature = RequestValidator(auth_token).compute_signature(callback, form)
        return client.post(urlparse(callback).path, data=form, headers={"X-Twilio-Signature": signature})


def _typed(value: str, schema: dict):
    kind = schema.get("type")
    try:
        if kind == "integer":
            return int(value)
        if kind == "number":
            return float(value)
    except ValueError:
        return value
    if kind == "boolean":
        return {"true": True, "false": False}.get(value, value)
    if kind == "array":
        return [value]
    return value


def _error(status: int, code: int, message: str) -> Response:
    return Response(json.dumps({"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}",
                                "status": status}), status=status, content_type="application/json")


@pytest.fixture
def twilio(request, app_config):
    spec = provider_spec(request, "twilio/twilio_api_v2010.json.gz")
    double = TwilioDouble(schema=create_message_schema(spec) if spec else None)
    server = GatedServer(double)
    double.url, double.server = server.url, server
    app_config.update(twilio_account_sid=ACCOUNT_SID, twilio_auth_token=AUTH_TOKEN, twilio_from=FROM,
                      twilio_api_origin=server.url)
    yield double
    server.stop()
    assert double.validation_failures == [], f"Twilio double rejected requests: {double.validation_failures[:5]}"
