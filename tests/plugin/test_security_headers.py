"""Security headers on every HTML and JSON response of every route (issue #7), walked from the URL map."""

from __future__ import annotations

import threading
import urllib.request

import pytest
from werkzeug.serving import make_server

from plugin import create_app
from plugin.security_headers import QuietRequestHandler
from tests.route_requests import ROUTES, Credentials, provider_settings, rules_and_methods, seed_shop_activity

ADMIN_POLICIES = ("frame-ancestors https://admin.shopify.com;",
                  "frame-ancestors https://backbell-demo.myshopify.com https://admin.shopify.com;")


@pytest.fixture
def app_config(app_config):
    app_config.update(provider_settings())  # so the provider callbacks reach their handlers
    return app_config


@pytest.fixture
def credentials(app_config, installed_shop, session, runtime) -> Credentials:
    credentials = Credentials(app_config["shopify_api_key"], app_config["shopify_api_secret"])
    seed_shop_activity(session, runtime.vault, session.merge(installed_shop), credentials)
    return credentials


def _problems(path: str, response) -> list[str]:
    headers, problems = response.headers, []
    expect = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store",
              "Referrer-Policy": "no-referrer" if path.startswith(("/u/", "/r/")) else "strict-origin-when-cross-origin"}
    problems += [f"{name}={headers.get(name)!r}" for name, value in expect.items() if headers.get(name) != value]
    policy = headers.get("Content-Security-Policy")
    if path.split("?")[0] == "/app" or path.startswith("/app/"):
        if policy not in ADMIN_POLICIES or "X-Frame-Options" in headers:
            problems.append(f"admin framing: {policy!r} {headers.get('X-Frame-Options')!r}")
    elif policy != "frame-ancestors 'none'" or headers.get("X-Frame-Options") != "DENY":
        problems.append(f"framing: {policy!r} {headers.get('X-Frame-Options')!r}")
    if "Strict-Transport-Security" in headers:
        problems.append("HSTS outside production")
    if "Server" in headers:
        problems.append(f"Server={headers['Server']!r}")
    if "Set-Cookie" in headers:  # no cookie session, no cookie of any kind
        problems.append(f"Set-Cookie={headers['Set-Cookie']!r}")
    return problems


def test_every_route_and_method_answers_html_and_json_with_the_security_headers(app, client, credentials):
    # given every (rule, method) of the URL map, each reached with valid and with bad credentials
    served = rules_and_methods(app)
    assert {(rule, endpoint) for rule, endpoint, _ in served} == set(ROUTES), "a route has no entry in ROUTES"
    checked, failures = set(), []

    # when
    for rule, endpoint, method in served:
        for call in ROUTES[(rule, endpoint)](credentials, method):
            response = call.send(client)
            if response.mimetype not in ("application/json", "text/html") and response.status_code != 302:
                continue
            checked.add((rule, endpoint, method))
            failures += [f"{method} {call.path[:70]} → {response.status_code}: {p}" for p in _problems(call.path, response)]

    # then every rule and method gave at least one HTML or JSON answer, and each had the headers
    assert failures == []
    assert sorted(checked) == served


def test_the_unsubscribe_page_cannot_be_framed_and_the_admin_can(client, credentials):
    page = client.get(f"/u/{credentials.unsubscribe_token()}")
    admin = client.get(f"/app?embedded=1&shop={credentials.shop}&host=YWRtaW4&id_token={credentials.session_token()}")

    assert (page.status_code, admin.status_code) == (200, 200)
    assert (page.headers["Content-Security-Policy"], page.headers["X-Frame-Options"]) == ("frame-ancestors 'none'",
                                                                                          "DENY")
    assert admin.headers["Content-Security-Policy"] == ADMIN_POLICIES[1]
    assert "X-Frame-Options" not in admin.headers


def test_production_adds_hsts(app_config):
    client = create_app({**app_config, "environment": "production"}).test_client()

    response = client.get("/")

    assert response.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


def test_a_views_own_policy_and_caching_are_kept_and_its_weaker_headers_replaced(app_config):
    # given a view that sets its own caching and policy, and headers of ours in weaker forms
    app = create_app(app_config)

    @app.get("/views-own-headers")
    def views_own_headers():
        return "ok", 200, [("Cache-Control", "public, max-age=60"), ("Content-Security-Policy", "default-src 'self'"),
                           ("X-Frame-Options", "SAMEORIGIN"), ("referrer-policy", "unsafe-url"), ("Server", "Test/1.0")]

    # when
    headers = app.test_client().get("/views-own-headers").headers

    # then the view's caching and policy stay, ours replace the rest, and each header appears once
    assert headers.getlist("Cache-Control") == ["public, max-age=60"]
    assert headers.getlist("Content-Security-Policy") == ["default-src 'self'"]
    assert headers.getlist("X-Frame-Options") == ["DENY"]
    assert headers.getlist("Referrer-Policy") == ["strict-origin-when-cross-origin"]
    assert headers.getlist("X-Content-Type-Options") == ["nosniff"]
    assert "Server" not in headers


def test_the_development_server_names_no_server_software(app):
    # given the app on werkzeug's server with the handler `backbell serve` uses
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        # when
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/") as response:
            headers = dict(response.headers)
    finally:
        server.shutdown()
        thread.join(timeout=5)

    # then
    assert "Server" not in headers
    assert headers["X-Content-Type-Options"] == "nosniff"


def test_no_request_has_a_cookie_session_to_write_or_to_be_handed(app):
    # given: a request carrying a session cookie signed with the app's own key (one Flask's default
    # interface would accept), and code handling it that reads and writes Flask's session
    from flask import session
    from flask.sessions import SecureCookieSessionInterface

    forged = SecureCookieSessionInterface().get_signing_serializer(app).dumps({"shop": "someone-else.myshopify.com"})
    with app.test_request_context("/health", headers={"Cookie": f"session={forged}"}):
        app.preprocess_request()

        # then: the cookie is not read, and a write is refused
        assert "shop" not in session
        with pytest.raises(RuntimeError):
            session["shop"] = "x"
