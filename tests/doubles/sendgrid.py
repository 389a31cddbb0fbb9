"""An HTTP double of SendGrid's ``POST /v3/mail/send``.

Every body is validated against the request schema of SendGrid's official OpenAPI spec
(``../shared/sendgrid/tsg_mail_v3.json``; without ``../shared`` only its basic shape is checked and the
run's summary says the provider-spec checks did not run), with its known defect corrected (message-level
``custom_args`` is an object in the live API, not a string), plus the live API's rules the spec
does not express (a subject and content for every message, ``text/plain`` before
``text/html``, string-valued ``custom_args`` and headers, ≤ 1000 personalizations).

Answers 202 with ``X-Message-Id`` and records one received message per recipient, with the
personalization's substitutions applied — or a SendGrid-style 400/401. ``fail_next(n, status)``
makes the next requests fail (a 429 with SendGrid's ``X-RateLimit-*`` headers, the reset one
``throttle_seconds`` ahead on the wall clock; a call before that reset is recorded in
``early_calls``); ``delay_seconds`` (as it was when a request arrived) holds the answer back
*after* recording (the provider got the mail, the caller never heard back: a worker killed
mid-send, or a slow provider); ``most_held`` is how many requests it held back at the same time.
``faults``: a seeded ``FaultPlan`` (tests/doubles/provider_faults.py) failing a share of calls with
429/5xx, refused connections and accepted-but-unanswered requests.
``reject(address)`` makes SendGrid refuse every request that has that recipient the way the live
API does: the whole request is 400 (nothing is sent to anybody in it), with one error per bad
address naming its ``personalizations.N.to.0.email`` field.

Fixture ``sendgrid``: request it BEFORE ``app``/``client``/``runtime`` so the app is built with
``sendgrid_api_origin`` and ``sendgrid_api_key`` pointing here. Teardown asserts that no request
failed validation (a test that sends invalid bodies on purpose clears ``validation_failures``).
"""

from __future__ import annotations

import copy
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import pytest
from openapi_schema_validator import OAS30Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4
from werkzeug.wrappers import Request, Response

from tests.doubles.provider_faults import FaultPlan, GatedServer, now, peer_gone
from tests.doubles.provider_specs import provider_spec

API_KEY = "SG.test-key"
SPEC_URI = "urn:sendgrid:mail-v3"
REQUEST_SCHEMA = "/components/requestBodies/PostMailSend/content/application~1json/schema"


@lru_cache(maxsize=1)
def request_validator(spec_path: Path) -> OAS30Validator:
    spec = copy.deepcopy(json.loads(spec_path.read_text()))
    schema = _resolve_pointer(spec, REQUEST_SCHEMA)
    schema["properties"]["custom_args"] = {"type": "object", "additionalProperties": {"type": "string"}}
    registry = Registry().with_resource(SPEC_URI, Resource.from_contents(spec, default_specification=DRAFT4))
    return OAS30Validator({"$ref": f"{SPEC_URI}#{REQUEST_SCHEMA}"}, registry=registry,
                          format_checker=OAS30Validator.FORMAT_CHECKER)


def _resolve_pointer(document: dict, pointer: str) -> dict:
    node = document
    for part in pointer.strip("/").split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


@dataclass
class SendGridDouble:
    validator: OAS30Validator | None  # None: the official spec is not at hand (no ../shared)
    api_key: str = API_KEY
    url: str = ""
    delay_seconds: float = 0.0
    # Accepted requests being held back by ``delay_seconds`` right now, and the most at once
    # (batches of one restock at the provider in parallel).
    held: int = 0
    most_held: int = 0
    rejected: set[str] = field(default_factory=set)
    messages: list[dict] = field(default_factory=list)
    requests: list[dict] = field(default_factory=list)
    validation_failures: list[str] = field(default_factory=list)
    faults: FaultPlan | None = None
    server: GatedServer | None = None
    throttle_seconds: int = 1
    not_before: float = 0.0  # the reset of the latest 429 (wall clock)
    early_calls: list[float] = field(default_factory=list)  # seconds before that reset a call came
    throttled_at: float = 0.0  # when the latest 429 was answered (wall clock)
    early_gaps: list[float] = field(default_factory=list)  # for each early call: seconds after that 429
    _failures: list[int] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def fail_next(self, count: int = 1, status: int = 503) -> None:
        with self._lock:
            self._failures.extend([status] * count)

    def reject(self, *addresses: str) -> None:
        self.rejected.update(addresses)

    def recipients(self) -> list[str]:
        return [m["to"] for m in self.messages]

    def __call__(self, environ, start_response):
        request = Request(environ)
        response = self._handle(request)
        if self.faults is not None:
            response.headers["Connection"] = "close"  # each call on a new connection (see provider_faults)
        return response(environ, start_response)

    def _handle(self, request: Request) -> Response:
        if request.method != "POST" or request.path != "/v3/mail/send":
            return _errors(404, "not found")
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return _errors(401, "The provided authorization grant is invalid, expired, or revoked")
        arrived = now()
        # Read as the request arrives: a test that sets a delay once it saw request N recorded
        # must not hold back request N itself (its handler may not have reached the sleep yet).
        delay = self.delay_seconds
        with self._lock:
            if arrived < self.not_before:
                self.early_calls.append(self.not_before - arrived)
                self.early_gaps.append(arrived - self.throttled_at)
        try:
            body = json.loads(request.get_data())
        except ValueError:
            return self._invalid({}, ["Bad Request: body is not JSON"])
        with self._lock:
            forced = self._failures.pop(0) if self._failures else None
        if forced:
            return self._fail(body, forced)
        fault = None
        if self.faults is not None:  # throttling and outages answer before the body is looked at
            fault, refuse_next = self.faults.take()
            if refuse_next and self.server is not None:
                self.server.refuse_connections(self.faults.gate_seconds)
            if fault is not None and fault.isdigit():
                return self._fail(body, int(fault))
        problems = self.problems(body)
        if problems:
            return self._invalid(body, problems)
        refused = self._refused(body)
        if refused:
            with self._lock:
                self.requests.append({"body": body, "status": 400, "refused": [e["field"] for e in refused]})
            return Response(json.dumps({"errors": refused}), status=400, content_type="application/json")
        message_id = uuid.uuid4().hex[:22]
        accepted = {"body": body, "status": 202, "message_id": message_id, "answered": True}
        with self._lock:
            self.requests.append(accepted)
            self.messages.extend(_received(body, message_id))
        if fault == "no_answer":
            time.sleep(self.faults.hang_seconds)
        elif delay:
            with self._lock:
                self.held += 1
                self.most_held = max(self.most_held, self.held)
            time.sleep(delay)
            with self._lock:
                self.held -= 1
        # Whether the caller was still there for the answer (it gives up at its timeout, which a
        # ``no_answer`` hang outlasts — and so may a double slowed down by a loaded machine).
        accepted["answered"] = not peer_gone(request.environ)
        return Response(status=202, headers={"X-Message-Id": message_id})

    def _fail(self, body, status: int) -> Response:
        if status != 429:
            with self._lock:
                self.requests.append({"body": body, "status": status})
            return _errors(status, "forced failure (test double)")
        # SendGrid's rate-limit answer: X-RateLimit-Reset is Unix seconds on SendGrid's own clock.
        reset = int(now()) + 1 + self.throttle_seconds
        with self._lock:
            self.not_before = max(self.not_before, float(reset))
            self.throttled_at = now()
            self.requests.append({"body": body, "status": 429, "not_before": reset})
        response = _errors(429, "too many requests")
        response.headers.update({"X-RateLimit-Limit": "600", "X-RateLimit-Remaining": "0",
                                 "X-RateLimit-Reset": str(reset)})
        return response

    def problems(self, body) -> list[str]:
        if self.validator is None:
            found = _basic_shape(body)
        else:
            found = [f"{'/'.join(map(str, e.absolute_path)) or '(body)'}: {e.message}"
                     for e in self.validator.iter_errors(body)]
        if found or not isinstance(body, dict):
            return found
        return _live_api_rules(body)

    def _refused(self, body: dict) -> list[dict]:
        return [{"message": "Does not contain a valid address.", "field": f"personalizations.{i}.to.{j}.email",
                 "help": "http://sendgrid.com/docs/API_Reference/Web_API_v3/Mail/errors.html#message.personalizations.to"}
                for i, p in enumerate(body["personalizations"]) for j, to in enumerate(p["to"])
                if to["email"] in self.rejected]

    def _invalid(self, body, problems: list[str]) -> Response:
        with self._lock:
            self.validation_failures.extend(problems)
            self.requests.append({"body": body, "status": 400, "problems": problems})
        return Response(json.dumps({"errors": [{"message": p, "field": None} for p in problems]}),
                        status=400, content_type="application/json")


def _basic_shape(body) -> list[str]:
    """What the live-API rules below need, when the spec that checks far more is not at hand."""
    if not isinstance(body, dict):
        return ["(body): must be an object"]
    problems = []
    if not isinstance(body.get("from"), dict) or not isinstance(body["from"].get("email"), str):
        problems.append("from: an object with an email is required")
    personalizations = body.get("personalizations")
    if not isinstance(personalizations, list) or not all(
            isinstance(p, dict) and isinstance(p.get("to"), list) and p["to"]
            and all(isinstance(r, dict) and isinstance(r.get("email"), str) for r in p["to"])
            for p in personalizations):
        problems.append("personalizations: a list of objects, each with a non-empty 'to' list of {email}")
    content = body.get("content", [])
    if not isinstance(content, list) or not all(isinstance(c, dict) and {"type", "value"} <= c.keys() for c in content):
        problems.append("content: a list of {type, value}")
    return problems


def _live_api_rules(body: dict) -> list[str]:
    problems = []
    personalizations = body["personalizations"]
    if not personalizations or len(personalizations) > 1000:
        problems.append("personalizations: between 1 and 1000 are allowed")
    content = body.get("content") or []
    if not content and not body.get("template_id"):
        problems.append("content: required unless a template_id is given")
    types = [c["type"] for c in content]
    if "text/plain" in types and types.index("text/plain") != 0:
        problems.append("content: text/plain must come first")
    for index, p in enumerate(personalizations):
        if not (p.get("subject") or body.get("subject") or body.get("template_id")):
            problems.append(f"personalizations/{index}/subject: a subject is required")
        for name, values in (("custom_args", p.get("custom_args", {})), ("headers", p.get("headers", {}))):
            if any(not isinstance(v, str) for v in values.values()):
                problems.append(f"personalizations/{index}/{name}: values must be strings")
    return problems


def _received(body: dict, message_id: str) -> list[dict]:
    content = {c["type"]: c["value"] for c in body.get("content", [])}
    received = []
    for p in body["personalizations"]:
        subs = p.get("substitutions", {})
        for recipient in p["to"]:
            received.append({
                "to": recipient["email"],
                "from": body["from"]["email"],
                "subject": _substitute(p.get("subject") or body.get("subject"), subs),
                "text": _substitute(content.get("text/plain"), subs),
                "html": _substitute(content.get("text/html"), subs),
                "headers": p.get("headers", {}),
                "custom_args": {**body.get("custom_args", {}), **p.get("custom_args", {})},
                "message_id": message_id,
            })
    return received


def _substitute(value: str | None, substitutions: dict[str, str]) -> str | None:
    if value is None:
        return None
    for tag, replacement in substitutions.items():
        value = value.replace(tag, replacement)
    return value


def _errors(status: int, message: str) -> Response:
    return Response(json.dumps({"errors": [{"message": message, "field": None, "help": None}]}),
                    status=status, content_type="application/json")


@pytest.fixture
def sendgrid(app_config, request):
    spec = provider_spec(request, "sendgrid/tsg_mail_v3.json")
    double = SendGridDouble(validator=request_validator(spec) if spec else None)
    server = GatedServer(double)
    double.url, double.server = server.url, server
    app_config["sendgrid_api_origin"] = server.url
    app_config["sendgrid_api_key"] = double.api_key
    yield double
    server.stop()
    assert double.validation_failures == [], f"SendGrid double rejected requests: {double.validation_failures[:5]}"
