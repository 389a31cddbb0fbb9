"""The embedded admin under attack (issues #6, #7): untrusted shop names near headers, malformed
but signed session tokens, and a browser that opens /app outside Shopify admin."""

from __future__ import annotations

import socket

import pytest
from sqlalchemy import func, select

from plugin.models import Shop
from tests.doubles.server import serve_wsgi
from tests.doubles.shopify_admin import DEMO_SHOP
from tests.route_requests import Credentials

RETRY = "X-Shopify-Retry-Invalid-Session-Request"
FIXED_POLICY = "frame-ancestors https://admin.shopify.com;"


def _shops(session) -> int:
    return session.scalar(select(func.count()).select_from(Shop))


@pytest.mark.parametrize("shop", [
    "evil.myshopify.com%0d%0aSet-Cookie:%20a=b",   # CR/LF: used to answer 500
    "%E2%98%83.myshopify.com",                      # not Latin-1: used to hang the connection
    "*",                                            # used to yield frame-ancestors https://*
    "evil.example.com",
    "a.myshopify.com%20https://evil.example.com",
    "",
])
def test_an_untrusted_shop_never_reaches_the_patch_pages_policy(client, session, shop):
    # when
    response = client.get(f"/app/patch-id-token?shop={shop}&shopify-reload=%2Fapp")

    # then a short page for browsers outside Shopify admin, with the fixed policy
    assert response.status_code == 400
    assert response.mimetype == "text/html"
    assert response.headers["Content-Security-Policy"] == FIXED_POLICY
    assert "Open Backbell from your Shopify admin" in response.get_data(as_text=True)
    assert "Set-Cookie" not in response.headers
    assert _shops(session) == 0


def test_a_valid_shop_is_named_in_the_patch_pages_policy(client, app_config):
    response = client.get(f"/app/patch-id-token?shop={DEMO_SHOP}&shopify-reload=%2Fapp")

    assert response.status_code == 200
    assert response.headers["Content-Security-Policy"] == f"frame-ancestors https://{DEMO_SHOP} https://admin.shopify.com;"
    assert f'data-api-key="{app_config["shopify_api_key"]}"' in response.get_data(as_text=True)


def test_a_non_latin1_shop_gets_a_whole_answer_from_a_real_server(app):
    # given the app behind werkzeug's HTTP server (the hang was in encoding the header)
    server = serve_wsgi(app)
    port = int(server.url.rsplit(":", 1)[1])
    try:
        # when
        with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
            conn.sendall(b"GET /app/patch-id-token?shop=%E2%98%83.myshopify.com&shopify-reload=%2Fapp HTTP/1.1\r\n"
                         b"Host: 127.0.0.1\r\nConnection: close\r\n\r\n")
            reply = b""
            while chunk := conn.recv(65536):
                reply += chunk
    finally:
        server.stop()

    # then
    assert reply.startswith(b"HTTP/1.1 400")
    assert f"Content-Security-Policy: {FIXED_POLICY}".encode() in reply
    assert b"Open Backbell from your Shopify admin" in reply


def test_opening_the_app_outside_shopify_admin_explains_where_to_open_it(client, session):
    # when a merchant types the app's URL into a browser
    response = client.get("/app")

    # then
    assert response.status_code == 400
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert "<h1>Open Backbell from your Shopify admin</h1>" in page
    assert "Bad Request" not in page
    assert _shops(session) == 0


def _signed_token(shop: str, api_key: str, secret: str, **claims) -> str:
    return Credentials(api_key, secret, shop=shop).forged_session_token(**claims)


BAD_CLAIMS = {
    "dest is a number": {"dest": 12345},
    "dest is a list": {"dest": ["https://backbell-demo.myshopify.com"]},
    "dest is another host": {"dest": "https://evil.example.com"},
    "dest is a wildcard": {"dest": "https://*"},
    "dest is a broken URL": {"dest": "https://[::1"},
    "iss is an object": {"iss": {"a": 1}},
    "sub is a number": {"sub": 42},
    "sid is a list": {"sid": [1]},
    "exp is a string": {"exp": "soon"},
}


@pytest.mark.parametrize("name", sorted(BAD_CLAIMS))
def test_a_signed_bearer_token_with_malformed_claims_is_401(installed_shop, client, app_config, session, name):
    # given a token signed with the app's secret but with claims Shopify never issues
    token = _signed_token(DEMO_SHOP, app_config["shopify_api_key"], app_config["shopify_api_secret"],
                               **BAD_CLAIMS[name])

    # when
    response = client.get("/api/overview", headers={"Authorization": f"Bearer {token}"})

    # then
    assert response.status_code == 401
    assert response.headers[RETRY] == "1"
    assert response.get_json()["error"]["code"] == "invalid_session_token"
    assert _shops(session) == 1


@pytest.mark.parametrize("name", sorted(BAD_CLAIMS))
def test_a_signed_id_token_with_malformed_claims_is_401_and_installs_nothing(shopify_admin, client, app_config,
                                                                            session, name):
    token = _signed_token("fresh-goods.myshopify.com", app_config["shopify_api_key"],
                               app_config["shopify_api_secret"], **BAD_CLAIMS[name])

    response = client.get(f"/app?embedded=1&shop=fresh-goods.myshopify.com&host=YWRtaW4&id_token={token}")

    assert response.status_code == 401
    assert shopify_admin.exchanges == 0
    assert _shops(session) == 0


@pytest.mark.parametrize("token", ["x" * 5000, "a.b", "é.é.é", "e30.W10.x", "eyJ" + "W" * 3000 + ".e30.x"])
def test_malformed_bearer_tokens_are_401(installed_shop, client, token):
    response = client.get("/api/overview", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 401
    assert response.headers[RETRY] == "1"


def test_the_forging_helper_makes_tokens_the_app_accepts(installed_shop, client, app_config):
    # given the same helper with well-formed claims (so the refusals above are about the claims)
    token = _signed_token(DEMO_SHOP, app_config["shopify_api_key"], app_config["shopify_api_secret"])

    response = client.get("/api/overview", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 200
