"""Fuzz every route of the URL map with hostile requests, signed where needed so handlers are reached.

Hypothesis generates, per route and method, requests an attacker or a confused client could send:
random and mutated Shopify webhook bodies signed with the app's secret (and some with a bad HMAC),
app-proxy requests signed like Shopify with random bodies, customer ids and addresses, session
tokens signed with the secret but carrying random claims, link tokens signed like
``plugin.links.tokens`` around random ids and payloads, and random query strings and methods.

Asserts: no answer is a 5xx, and the captured logs hold no traceback. Runs only with ``-m fuzz``
(its own stage: one to two minutes on this project's two-core machines, depending on load); reproducible
(``derandomize=True``, no example database). The request count goes to the run's measurements.
"""

from __future__ import annotations

import copy
import ipaddress
import itertools
import json
import logging
import random
import time
from collections import Counter
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from itsdangerous import URLSafeSerializer

from plugin.logging import configure_logging
from tests.conftest import MEASUREMENTS
from tests.doubles.shopify_admin import install_shop_directly
from tests.inbox.test_shapes import SHOPIFY_BODIES
from tests.route_requests import (
    INVENTORY_ITEM_ID,
    VARIANT_ID,
    Call,
    Credentials,
    provider_settings,
    rules_and_methods,
    seed_shop_activity,
)

# The faults stage runs two groups side by side (`--dist loadgroup`): this and the provider faults
# in one, the storms and the fan-out kill in the other — about the same time each.
pytestmark = [pytest.mark.fuzz, pytest.mark.xdist_group("faults-a")]

MIN_REQUESTS = 10_000
SPARE_SHOP = "spare-shop.myshopify.com"  # the one shop/redact and app/uninstalled may act on
TOPICS = sorted(SHOPIFY_BODIES)
OTHER_METHODS = ["PUT", "PATCH", "DELETE"]
_webhook_ids = itertools.count(1)

# -- values ------------------------------------------------------------------------------------------

HEADER_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=40)
ANY_TEXT = st.text(max_size=40)  # surrogates, NUL, any script
HUGE_INTS = st.integers(min_value=2**63 - 2, max_value=2**80) | st.integers(max_value=-1, min_value=-(2**70))
IDS = st.integers(min_value=1, max_value=2**63 - 1) | HUGE_INTS | st.just(0)
SCALARS = (st.none() | st.booleans() | st.integers(-(2**40), 2**40) | HUGE_INTS | st.floats() | ANY_TEXT
           | st.sampled_from(["", "gid://shopify/ProductVariant/1", "2021-12-31T19:00:00-05:00", "deny", "active"]))
# Values at the edges of what columns and parsers take, where type confusion crashes handlers.
EDGE = [2**31, -(2**31) - 1, 2**63, 2**64, -(2**63) - 1, 10**30, 1e308, -1e308, 1.5, 0, -1, True, None, "",
        "x" * 300, "9" * 30, "\udcff", "a\x00b", [], {}, [1], {"a": 1}, [None], "2021-12-31T19:00:00", "nope"]
JSON_VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=12), inner, max_size=4), max_leaves=10)
RAW_BODIES = st.one_of(
    st.binary(max_size=120),
    st.integers(1, 4000).map(lambda n: b"[" * n + b"]" * n),
    st.integers(1, 3000).map(lambda n: b'{"a":' * n + b"1" + b"}" * n),
    st.integers(18, 6000).map(lambda n: b'{"id": ' + b"9" * n + b"}"),
    st.sampled_from([b'{"available": NaN}', b'{"x": 1e999}', b'"\\udcff"', b"{", b"null", b""]),
)
EMAILS = st.emails() | ANY_TEXT | st.sampled_from(["jöhn@exämple.de", "a@gmail.con", "a@example.com", "x" * 300])


def _json_bytes(value) -> bytes:
    return json.dumps(value).encode()  # NaN/Infinity and lone surrogates (escaped) included on purpose


def _rnd(draw) -> random.Random:
    """A uniform generator seeded from Hypothesis's data (so runs stay reproducible). Hypothesis's
    own choices lean towards the first and last options and towards edge values — good for finding
    boundaries, bad for keeping the mix of requests that reach handlers at the stated weights."""
    return random.Random(draw(st.integers(0, 2**32 - 1)))


def _pick(draw, *weighted):
    """Draw from one of ``(weight, strategy)`` pairs, chosen by weight (``|`` weighs them equally)."""
    rnd = _rnd(draw)
    strategy = rnd.choices([strategy for _, strategy in weighted], weights=[weight for weight, _ in weighted])[0]
    return draw(strategy)


@st.composite
def mutated_payload(draw, topic: str, shop: str):
    """Shopify's body for ``topic`` with fields replaced, removed or added (mostly just one)."""
    rnd = _rnd(draw)
    body = json.loads(json.dumps(SHOPIFY_BODIES[topic]))
    for name in ("shop_domain", "myshopify_domain"):
        if name in body:
            body[name] = shop
    for _ in range(rnd.choices([0, 1, 2, 3], weights=[2, 6, 1, 1])[0]):
        target = body
        nested = [v if isinstance(v, dict) else v[0] for v in body.values()
                  if isinstance(v, dict) or (isinstance(v, list) and v and isinstance(v[0], dict))]
        if nested and rnd.random() < 0.4:
            target = rnd.choice(nested)
        key = rnd.choice(sorted(target) + ["extra"])
        if rnd.random() < 0.15:
            target.pop(key, None)
        else:
            target[key] = copy.deepcopy(rnd.choice(EDGE)) if rnd.random() < 0.6 else draw(JSON_VALUES)
    return body


def webhook_calls(c: Credentials, method: str):
    @st.composite
    def calls(draw):
        topic = _pick(draw, (17, st.sampled_from(TOPICS)), (1, st.just("made/up")), (2, HEADER_TEXT))
        destructive = topic in ("shop/redact", "app/uninstalled")
        shop = _pick(draw, (17, st.just(SPARE_SHOP) if destructive else st.sampled_from([c.shop, SPARE_SHOP])),
                     (2, HEADER_TEXT), (1, st.just("other-shop.myshopify.com")))
        body = _pick(draw, (12, mutated_payload(topic if topic in SHOPIFY_BODIES else "orders/create", shop)),
                     (4, JSON_VALUES), (4, RAW_BODIES))
        body = body if isinstance(body, bytes) else _json_bytes(body)
        # Mostly fresh ids (a repeated id is answered as a duplicate without reaching the handler).
        webhook_id = _pick(draw, (19, st.builds(lambda: f"fuzz-{next(_webhook_ids)}")), (1, HEADER_TEXT))
        headers = c.webhook_headers(body, topic, webhook_id, shop=shop)
        rnd = _rnd(draw)
        if rnd.random() < 0.07:
            headers["X-Shopify-Hmac-Sha256"] = draw(HEADER_TEXT)
        if rnd.random() < 0.5:
            headers["X-Shopify-Triggered-At"] = draw(HEADER_TEXT | st.just("2021-12-31T19:00:00Z"))
        return Call(method, "/webhooks", {"data": body, "headers": headers})

    return calls()


def _shopper_address(draw, rnd: random.Random) -> str:
    """Mostly distinct addresses (the per-address limits would otherwise answer most requests with
    429 before a handler runs), some repeated ones, and some junk."""
    roll = rnd.random()
    if roll < 0.7:
        return ".".join(str(rnd.randint(1, 254)) for _ in range(4))
    if roll < 0.85:
        return str(ipaddress.IPv6Address(rnd.getrandbits(128)))
    if roll < 0.95:
        return rnd.choice(["203.0.113.7", "6.6.6.6, 203.0.113.8"])
    return draw(HEADER_TEXT)


def proxy_subscription_calls(c: Credentials, method: str):
    @st.composite
    def calls(draw):
        rnd = _rnd(draw)
        customer = _pick(draw, (6, st.none()), (2, st.integers(1, 2**63 - 1)), (1, IDS), (1, HEADER_TEXT))
        path = c.proxy_url("subscriptions", customer_id=customer) if rnd.random() < 0.9 else \
            "/proxy/subscriptions?" + urlencode({"shop": c.shop, "signature": draw(HEADER_TEXT)})
        if rnd.random() < 0.15:
            body = draw(RAW_BODIES)
        else:
            fields = {"variant_id": _pick(draw, (5, st.sampled_from([VARIANT_ID, f"gid://shopify/ProductVariant/{VARIANT_ID}"])),
                                          (3, st.integers(1, 2**63 - 1)), (2, IDS | ANY_TEXT | st.sampled_from(EDGE))),
                      "email": _pick(draw, (6, st.emails()), (3, EMAILS), (1, JSON_VALUES))}
            if rnd.random() < 0.25:
                fields.update(channel="sms", consent=True, phone=draw(ANY_TEXT | st.sampled_from(["+14155552671",
                                                                                                   "+44 7911 123456"])))
            for name in ("channel", "locale", "consent", "country", "website", "phone"):
                if rnd.random() < 0.1:
                    fields[name] = copy.deepcopy(rnd.choice(EDGE)) if rnd.random() < 0.5 else draw(JSON_VALUES)
            if rnd.random() < 0.05:
                fields.pop(rnd.choice(sorted(fields)))
            body = _json_bytes(fields)
        headers = {"Content-Type": "application/json", "X-Forwarded-For": _shopper_address(draw, rnd)}
        return Call(method, path, {"data": body, "headers": headers})

    return calls()


def proxy_variant_calls(c: Credentials, method: str):
    refs = IDS.map(str) | ANY_TEXT | st.just(str(VARIANT_ID)) | st.just("gid://shopify/ProductVariant/1")
    return refs.map(lambda ref: Call(method, c.proxy_url(f"variants/{quote(ref, safe='/:') or '1'}")))


def link_calls(prefix: str, salt: str, key: str, with_form: bool):
    def factory(c: Credentials, method: str):
        signed = JSON_VALUES.map(lambda value: URLSafeSerializer(c.secret, salt=salt).dumps(value))
        signed_id = (IDS | st.sampled_from([c.notification_id, c.subscription_id])).map(
            lambda row: URLSafeSerializer(c.secret, salt=salt).dumps({key: row}))
        tokens = signed_id | signed | ANY_TEXT.map(lambda t: quote(t, safe="") or "x")
        forms = st.dictionaries(HEADER_TEXT, HEADER_TEXT, max_size=3) | st.just({"List-Unsubscribe": "One-Click"})
        if with_form:
            return st.builds(lambda t, f: Call(method, f"{prefix}{t}", {"data": f}), tokens, forms)
        return tokens.map(lambda t: Call(method, f"{prefix}{t}"))

    return factory


@st.composite
def random_claims(draw, c: Credentials) -> str:
    """A session token signed with the app's secret, with some claims replaced by random values."""
    claims = draw(st.dictionaries(st.sampled_from(["iss", "dest", "aud", "sub", "sid", "jti", "exp", "nbf", "iat"]),
                                  JSON_VALUES, max_size=3))
    return c.forged_session_token(**claims) if claims else c.session_token()


def app_home_calls(c: Credentials, method: str):
    params = st.fixed_dictionaries({}, optional={
        "shop": st.sampled_from([c.shop, "*", "evil.example.com"]) | ANY_TEXT, "host": ANY_TEXT,
        "embedded": st.sampled_from(["1", "0"]), "id_token": random_claims(c) | ANY_TEXT})
    return params.map(lambda p: Call(method, "/app?" + urlencode({k: v.encode("utf-8", "surrogatepass")
                                                                  for k, v in p.items()})))


def admin_page_calls(path: str):
    """An admin page: Shopify's query (a valid ID token mostly) plus the page's own random parameters."""
    def factory(c: Credentials, method: str):
        extra = st.dictionaries(st.sampled_from(["period", "q", "status", "channel", "variant_id", "kind", "locale",
                                                 "before", "cursor"]) | st.text(max_size=8), ANY_TEXT, max_size=3)

        @st.composite
        def calls(draw):
            token = c.session_token() if _rnd(draw).random() < 0.8 else draw(random_claims(c) | ANY_TEXT)
            query = {"shop": c.shop, "host": "YWRtaW4", "embedded": "1", "id_token": token, **draw(extra)}
            return Call(method, path + "?" + urlencode({k.encode("utf-8", "surrogatepass"): v.encode("utf-8", "surrogatepass")
                                                       for k, v in query.items()}))
        return calls()
    return factory


def patch_calls(c: Credentials, method: str):
    params = st.fixed_dictionaries({}, optional={"shop": st.just(c.shop) | ANY_TEXT, "shopify-reload": ANY_TEXT})
    return params.map(lambda p: Call(method, "/app/patch-id-token?" + urlencode(
        {k: v.encode("utf-8", "surrogatepass") for k, v in p.items()})))


def api_calls(path: str):
    def factory(c: Credentials, method: str):
        authorization = random_claims(c).map(lambda t: f"Bearer {t}") | HEADER_TEXT
        return authorization.map(lambda a: Call(method, path, {"headers": {"Authorization": a}}))

    return factory


def api_query_calls(path: str, params: tuple[str, ...]):
    """A valid session token (mostly) with random values for the route's query parameters."""
    def factory(c: Credentials, method: str):
        values = SCALARS.map(str) | ANY_TEXT | st.dates().map(str) | IDS.map(str)
        queries = st.dictionaries(st.sampled_from(params) | HEADER_TEXT, values, max_size=4)

        @st.composite
        def calls(draw):
            token = c.session_token() if _rnd(draw).random() < 0.85 else draw(random_claims(c))
            query = urlencode({k: v for k, v in draw(queries).items() if "\x00" not in k}, errors="replace")
            return Call(method, f"{path}?{query}", {"headers": {"Authorization": f"Bearer {token}"}})
        return calls()
    return factory


def subscriber_delete_calls(c: Credentials, method: str):
    token = st.just(c.session_token()) | random_claims(c)
    return st.builds(lambda row, t: Call(method, f"/api/subscribers/{row}", {"headers": {"Authorization": f"Bearer {t}"}}),
                     IDS.filter(lambda n: n >= 0) | st.just(c.subscription_id), token)


def json_api_calls(path: str, names: tuple[str, ...]):
    """A valid session token (mostly) with a random JSON body over the route's field names."""
    def factory(c: Credentials, method: str):
        keys = (st.sampled_from(names) | st.text(max_size=12)) if names else st.text(max_size=12)
        fields = st.dictionaries(keys, JSON_VALUES, max_size=4)

        @st.composite
        def calls(draw):
            token = c.session_token() if _rnd(draw).random() < 0.85 else draw(random_claims(c))
            body = _json_bytes(draw(fields)) if _rnd(draw).random() < 0.85 else draw(RAW_BODIES)
            suffix = draw(st.sampled_from([str(VARIANT_ID), f"gid://shopify/ProductVariant/{VARIANT_ID}"])
                          | IDS.map(str) | ANY_TEXT.map(lambda s: quote(s, safe="") or "x")) if "{id}" in path else ""
            return Call(method, path.replace("{id}", suffix), {"data": body, "headers": {
                "Authorization": f"Bearer {token}", "Content-Type": "application/json"}})
        return calls()
    return factory


def sendgrid_calls(c: Credentials, method: str):
    """SendGrid event batches signed with the configured key: random events around ours."""
    @st.composite
    def calls(draw):
        rnd = _rnd(draw)
        events = draw(st.lists(st.fixed_dictionaries({
            "event": st.sampled_from(["delivered", "open", "click", "bounce", "dropped", "spamreport", "unsubscribe",
                                      "processed"]) | ANY_TEXT,
            "sg_event_id": st.text(max_size=20) | st.integers(),
            "notification_id": st.sampled_from([str(c.notification_id), c.notification_id]) | IDS.map(str) | SCALARS,
            "shop_id": st.sampled_from(["1", 1]) | SCALARS,
            "timestamp": st.integers(-(2**40), 2**50) | SCALARS,
            "reason": SCALARS}), max_size=5))
        body = _json_bytes(events) if rnd.random() < 0.8 else draw(RAW_BODIES)
        headers = c.sendgrid_headers(body) if rnd.random() < 0.9 else {"X-Twilio-Email-Event-Webhook-Signature": "AAAA"}
        return Call(method, "/webhooks/sendgrid", {"data": body, "headers": headers})
    return calls()


def twilio_calls(c: Credentials, method: str):
    """Twilio status callbacks signed with the configured token, with random statuses and codes."""
    @st.composite
    def calls(draw):
        form = {"MessageSid": draw(st.sampled_from(["SM" + "0" * 32]) | HEADER_TEXT),
                "MessageStatus": draw(st.sampled_from(["delivered", "undelivered", "failed", "sent"]) | HEADER_TEXT),
                "ErrorCode": draw(st.sampled_from(["21610", "30005", ""]) | st.integers().map(str) | HEADER_TEXT)}
        signed = _rnd(draw).random() < 0.9
        headers = {"X-Twilio-Signature": c.twilio_signature(form)} if signed else {}
        return Call(method, "/webhooks/twilio", {"data": form, "headers": headers})
    return calls()


def plain_calls(path: str):
    def factory(c: Credentials, method: str):
        return st.dictionaries(st.text(max_size=8), ANY_TEXT, max_size=3).map(
            lambda q: Call(method, path + "?" + urlencode({k.encode("utf-8", "surrogatepass"):
                                                           v.encode("utf-8", "surrogatepass") for k, v in q.items()})))

    return factory


FUZZERS = {
    ("/", "health.index"): plain_calls("/"),
    ("/healthz", "health.healthz"): plain_calls("/healthz"),
    ("/webhooks", "webhooks_views.receive_webhook"): webhook_calls,
    ("/webhooks/sendgrid", "provider_webhooks.sendgrid_events"): sendgrid_calls,
    ("/webhooks/twilio", "provider_webhooks.twilio_status"): twilio_calls,
    ("/proxy/subscriptions", "plugin_storefront.create_subscription"): proxy_subscription_calls,
    ("/proxy/variants/<path:variant_ref>", "plugin_storefront.variant_status"): proxy_variant_calls,
    ("/r/<token>", "plugin_links.follow"): link_calls("/r/", "backbell.click", "n", with_form=False),
    ("/u/<token>", "plugin_links.confirm_unsubscribe"): link_calls("/u/", "backbell.unsubscribe", "s",
                                                                   with_form=False),
    ("/u/<token>", "plugin_links.unsubscribe"): link_calls("/u/", "backbell.unsubscribe", "s", with_form=True),
    ("/app", "admin_views.app_home"): app_home_calls,
    ("/app/patch-id-token", "admin_views.patch_id_token"): patch_calls,
    ("/api/overview", "admin_api.api_overview"): api_query_calls("/api/overview", ("since", "until")),
    ("/api/theme-status", "admin_api.api_theme_status"): api_query_calls(
        "/api/theme-status", ("shop", "host", "embedded", "locale")),
    ("/api/demand", "admin_api.api_demand"): api_query_calls(
        "/api/demand", ("since", "until", "limit", "before", "cursor", "offset", "min_waiting")),
    ("/api/demand.csv", "admin_api.api_demand_csv"): api_query_calls("/api/demand.csv", ("since", "until")),
    ("/api/subscribers", "admin_api.api_subscribers"): api_query_calls(
        "/api/subscribers", ("status", "variant_id", "channel", "q", "before", "limit", "cursor")),
    ("/api/subscribers.csv", "admin_api.api_subscribers_csv"): api_query_calls(
        "/api/subscribers.csv", ("status", "variant_id", "channel", "q")),
    ("/api/subscribers/<int:subscription_id>", "admin_api.api_delete_subscriber"): subscriber_delete_calls,
    ("/api/activity", "admin_api.api_activity"): api_query_calls(
        "/api/activity", ("variant_id", "subscription_id", "kind", "before", "limit", "cursor")),
    ("/s/<token>", "plugin_links.subscribe_from_apology"): link_calls("/s/", "backbell.subscribe", "w", with_form=False),
    ("/api/settings", "admin_views.api_settings"): api_calls("/api/settings"),
    ("/api/settings", "admin_views.api_change_settings"): json_api_calls("/api/settings", (
        "batch_per_unit", "batch_interval_minutes", "vip_tags", "quiet_hours_start", "quiet_hours_end",
        "restock_minimum", "cooldown_minutes", "frequency_cap_hours", "discount_percent", "discount_expires_hours",
        "link_target", "reserve_minutes", "reminder_hours", "double_opt_in", "counted_location_ids",
        "link_customers_by_email", "max_alerts_per_subscription")),
    ("/api/variants/<path:variant_ref>", "admin_views.api_change_variant"): json_api_calls(
        "/api/variants/{id}", ("expected_at",)),
    ("/c/<token>", "plugin_links.confirm_page"): link_calls("/c/", "backbell.confirm", "c", with_form=False),
    ("/c/<token>", "plugin_links.confirm"): link_calls("/c/", "backbell.confirm", "c", with_form=True),
    **{(f"/app/{name}", endpoint): admin_page_calls(f"/app/{name}") for name, endpoint in (
        ("dashboard", "admin_pages.dashboard"), ("settings", "admin_pages.settings_page"),
        ("messages", "admin_messages.messages_page"), ("demand", "admin_lists.demand_page"),
        ("subscribers", "admin_lists.subscribers_page"), ("activity", "admin_lists.activity_page_view"))},
    ("/app/assets/<name>", "admin_pages.asset"): plain_calls("/app/assets/admin.js"),
    ("/api/variants/<int:variant_id>/notify", "admin_lists.notify_now"): json_api_calls(
        f"/api/variants/{VARIANT_ID}/notify", ()),
    ("/api/messages/<locale>/<channel>", "admin_messages.save_wording"): json_api_calls(
        "/api/messages/en/email", ("subject", "intro", "sms", "footer")),
    ("/api/messages/<locale>/<channel>", "admin_messages.reset_wording"): json_api_calls("/api/messages/fr/sms", ()),
    ("/api/messages/<locale>/<channel>/test", "admin_messages.send_test"): json_api_calls(
        "/api/messages/ja/email/test", ("to", "subject", "intro")),
}
# Examples per (rule, method); the routes whose handlers write get the most.
EXAMPLES = {("/webhooks", "POST"): 3000, ("/proxy/subscriptions", "POST"): 2000}
DEFAULT_EXAMPLES = 100
MISDIRECTED_EXAMPLES = 300


# -- the test ------------------------------------------------------------------------------------

@pytest.fixture
def app_config(app_config):
    app_config.update(provider_settings())  # so the provider callbacks reach their handlers
    return app_config


@pytest.fixture
def fuzz_target(shopify_admin, installed_shop, app, app_config, runtime, session):
    credentials = Credentials(app_config["shopify_api_key"], app_config["shopify_api_secret"])
    seed_shop_activity(session, runtime.vault, session.merge(installed_shop), credentials)
    install_shop_directly(runtime, shopify_admin, SPARE_SHOP)
    shopify_admin.add_variant(credentials.shop, VARIANT_ID, inventory_item_id=INVENTORY_ITEM_ID, levels={1: 0})
    return credentials


def test_no_request_to_any_route_gets_a_5xx_or_logs_a_traceback(app, client, fuzz_target, capfd, caplog):
    # given every (rule, method) of the URL map, each with a request generator
    served = rules_and_methods(app)
    assert {(rule, endpoint) for rule, endpoint, _ in served} == set(FUZZERS), "a route has no fuzzer"
    configure_logging(logging.WARNING)  # every traceback is logged at ERROR; INFO lines only cost time
    statuses: Counter = Counter()
    server_errors: list[str] = []
    started = time.monotonic()

    def send(call: Call) -> None:
        response = call.send(client)
        statuses[response.status_code // 100 * 100] += 1
        if response.status_code >= 500:
            server_errors.append(f"{call.method} {call.path[:100]} → {response.status_code}")
        assert response.status_code < 500, server_errors[-1]

    # when
    try:
        for rule, endpoint, method in served:
            strategy = FUZZERS[(rule, endpoint)](fuzz_target, method)
            _run(strategy, send, EXAMPLES.get((rule, method), DEFAULT_EXAMPLES))
        misdirected = st.builds(lambda m, r: Call(m, r), st.sampled_from(OTHER_METHODS),
                                st.sampled_from(sorted({rule.split("<")[0] + "x" for rule, _, _ in served})))
        _run(misdirected | st.builds(lambda p: Call("GET", "/" + quote(p)), ANY_TEXT), send, MISDIRECTED_EXAMPLES)
    finally:
        configure_logging()
        elapsed = time.monotonic() - started
        captured = capfd.readouterr()
        logged = captured.out + captured.err
        tracebacks = logged.count("Traceback (most recent call last)") + sum(1 for r in caplog.records if r.exc_info)
        requests = sum(statuses.values())
        _record(f"fuzz: {requests} requests over {len(served)} routes x methods, {len(server_errors)} 5xx, "
                f"{tracebacks} tracebacks, {elapsed:.0f} s ({dict(sorted(statuses.items()))})")

    # then
    assert server_errors == []
    assert tracebacks == 0, (captured.err[-3000:] or caplog.text[-3000:])
    assert requests >= MIN_REQUESTS
    # (Bounded by the example counts, not by a clock: its time on a loaded 2-core machine varies
    # two-fold; the run's measurements show it.)


def _run(strategy, send, examples: int) -> None:
    @settings(max_examples=examples, derandomize=True, database=None, deadline=None, print_blob=True,
              suppress_health_check=list(HealthCheck))
    @given(call=strategy)
    def fuzz(call):
        send(call)

    fuzz()


def _record(line: str) -> None:
    """Into the run's measurements (printed in the summary; xdist hides workers' output)."""
    print(f"\n{line}")
    MEASUREMENTS.parent.mkdir(parents=True, exist_ok=True)
    with MEASUREMENTS.open("a") as out:
        out.write(line + "\n")
