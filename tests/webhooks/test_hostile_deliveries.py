"""POST /webhooks under attack (issue #7): replayed bodies with swapped headers, hostile JSON before
and after the signature, bodies that crashed handlers, oversized chunked bodies.

Every case asserts the status and that nothing was written: no receipt, no change to either shop.
"""

from __future__ import annotations

import io
import json
import socket
import threading

import pytest
from sqlalchemy import func, select
from werkzeug.serving import make_server

from plugin.models import Contact, DataExport, InboxDelivery, InventoryLevel, RestockEvent, Shop, Subscription, Variant
from tests.webhooks.delivery import add_variant_row, add_waiting, level_payload, webhook_headers

VICTIM, ATTACKER = "victim.myshopify.com", "attacker.myshopify.com"
VARIANT, ITEM, LOCATION = 44012345678901, 271878346596884015, 24826418
MIB = 1024 * 1024


@pytest.fixture
def shops(session, runtime):
    """Two installed shops; the victim has a waiting shopper on a mirrored, sold-out variant."""
    victim = Shop(domain=VICTIM, name="Victim", settings={}, access_token="a", refresh_token="r")
    attacker = Shop(domain=ATTACKER, name="Attacker", settings={}, access_token="a", refresh_token="r")
    session.add_all([victim, attacker])
    session.commit()
    add_variant_row(session, victim.id, VARIANT, ITEM, available=0)
    add_waiting(session, runtime.vault, victim.id, VARIANT, customer_id=191167)
    return victim, attacker


def _state(session) -> dict:
    session.expire_all()
    counts = {model.__name__: session.scalar(select(func.count()).select_from(model))
              for model in (Shop, Contact, Subscription, Variant, InventoryLevel, RestockEvent, DataExport,
                            InboxDelivery)}
    shops = session.execute(select(Shop.domain, Shop.uninstalled_at, Shop.access_token).order_by(Shop.domain)).all()
    return {**counts, "shops": [tuple(row) for row in shops]}


def _post(client, body: bytes, topic: str, shop: str, **overrides):
    headers = {**webhook_headers(body, topic, shop=shop), **overrides}
    return client.post("/webhooks", data=body, headers=headers)


CAPTURED = {
    "inventory": level_payload(ITEM, LOCATION, 5),
    "product": {"id": 788032119674292922, "title": "Tee", "variants": [{"id": VARIANT, "price": "19.99"}]},
    "order": {"id": 820982911946154508, "line_items": [{"variant_id": VARIANT, "quantity": 1, "price": "19.99"}]},
}


@pytest.mark.parametrize("topic", ["shop/redact", "app/uninstalled", "customers/redact", "customers/data_request"])
@pytest.mark.parametrize("captured", sorted(CAPTURED))
def test_a_captured_signed_body_replayed_as_a_shop_wide_topic_for_another_shop_does_nothing(
        client, session, shops, topic, captured):
    # given a genuinely signed delivery body the attacker captured (it names no shop)
    body = json.dumps(CAPTURED[captured]).encode()
    before = _state(session)

    # when it is replayed with the topic and shop headers swapped (Shopify does not sign headers)
    response = _post(client, body, topic, VICTIM)

    # then it is refused and the victim is neither purged, uninstalled nor exported
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "shop_mismatch"
    assert _state(session) == before


def test_a_signed_redact_for_one_shop_replayed_against_another_does_nothing(client, session, shops):
    # given the attacker's own shop/redact delivery
    body = json.dumps({"shop_id": 2, "shop_domain": ATTACKER}).encode()
    before = _state(session)

    # when
    response = _post(client, body, "shop/redact", VICTIM)

    # then
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "shop_mismatch"
    assert _state(session) == before


@pytest.mark.parametrize("topic", ["inventory_levels/update", "products/update"])
def test_an_order_body_replayed_as_inventory_or_product_does_nothing(client, session, shops, topic):
    body = json.dumps(CAPTURED["order"]).encode()
    before = _state(session)

    response = _post(client, body, topic, VICTIM)

    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_payload"
    assert _state(session) == before


UNSIGNED_HOSTILE = {
    "deep array": b"[" * 3000 + b"]" * 3000,
    "deep object": b'{"a":' * 3000 + b"1" + b"}" * 3000,
    "5000-digit integer": b'{"id": ' + b"9" * 5000 + b"}",
    "NaN": b'{"available": NaN}',
    "not utf-8": b"\xff\xfe{}",
}


@pytest.mark.parametrize("name", sorted(UNSIGNED_HOSTILE))
def test_hostile_json_without_a_valid_signature_is_401_before_any_parsing(client, session, shops, name):
    before = _state(session)

    response = _post(client, UNSIGNED_HOSTILE[name], "shop/redact", VICTIM, **{"X-Shopify-Hmac-Sha256": "A" * 44})

    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "invalid_hmac"
    assert _state(session) == before


@pytest.mark.parametrize("name", sorted(UNSIGNED_HOSTILE))
def test_hostile_json_with_a_valid_signature_is_400(client, session, shops, name):
    before = _state(session)

    response = _post(client, UNSIGNED_HOSTILE[name], "inventory_levels/update", VICTIM)

    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_json"
    assert _state(session) == before


@pytest.mark.parametrize("header", ["ünïcödé" + "A" * 37, "\u2603", "Zm9v\t=", " " * 10])
def test_a_non_ascii_or_malformed_hmac_header_is_401(client, session, shops, header):
    body = json.dumps({"shop_domain": VICTIM}).encode()
    before = _state(session)

    response = _post(client, body, "shop/redact", VICTIM, **{"X-Shopify-Hmac-Sha256": header})

    assert response.status_code == 401
    assert _state(session) == before


HANDLER_CRASHERS = {
    "huge float available": ("inventory_levels/update", {**level_payload(ITEM, LOCATION, 0), "available": 1e308}),
    "list for available": ("inventory_levels/update", {**level_payload(ITEM, LOCATION, 0), "available": [5]}),
    "float item id": ("inventory_levels/update", {**level_payload(ITEM, LOCATION, 5), "inventory_item_id": 1.0e18}),
    "id above 2^63-1": ("inventory_levels/update", {**level_payload(ITEM, LOCATION, 5), "location_id": 2**63}),
    "list for updated_at": ("inventory_levels/update", {**level_payload(ITEM, LOCATION, 5), "updated_at": ["x"]}),
    "non-list variants": ("products/update", {"id": 1, "variants": {"id": VARIANT}}),
    "list for a title": ("products/update", {"id": 1, "title": ["Tee"], "variants": []}),
    "list for a price": ("products/update", {"id": 1, "variants": [{"id": VARIANT, "price": ["1"]}]}),
    "long status": ("products/update", {"id": 1, "status": "active" * 50, "variants": []}),
    "dict for a variant id": ("orders/create", {"id": 1, "line_items": [{"variant_id": {"a": 1}, "quantity": 1}]}),
    "list for an email": ("customers/redact", {"shop_domain": VICTIM, "customer": {"id": 191167,
                                                                                "email": ["jane@x.org"]}}),
    "string for the customer": ("customers/data_request", {"shop_domain": VICTIM, "customer": "jane",
                                                           "data_request": {"id": 1}}),
}


@pytest.mark.parametrize("name", sorted(HANDLER_CRASHERS))
def test_signed_bodies_that_crashed_handlers_behind_a_200_are_now_400(client, session, shops, name):
    # given a correctly signed body of the right topic with a field of the wrong type or size
    topic, payload = HANDLER_CRASHERS[name]
    body = json.dumps(payload).encode()
    before = _state(session)

    # when
    response = _post(client, body, topic, VICTIM)

    # then
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_payload"
    assert _state(session) == before


@pytest.mark.parametrize("escape", [b"\\udcff", b"\\u0000"])
def test_a_lone_surrogate_or_nul_in_an_email_is_400(client, session, shops, escape):
    # given a signed customers/redact whose email holds an unencodable character
    body = (b'{"shop_domain": "' + VICTIM.encode() + b'", "customer": {"id": 191167, "email": "jane'
            + escape + b'@gmail.com"}}')
    before = _state(session)

    # when
    response = _post(client, body, "customers/redact", VICTIM)

    # then
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_json"
    assert _state(session) == before


def test_a_body_over_one_mib_with_a_content_length_is_413(client, session, shops):
    body = b'{"pad": "' + b"x" * MIB + b'"}'
    before = _state(session)

    response = _post(client, body, "inventory_levels/update", VICTIM)

    assert response.status_code == 413
    assert _state(session) == before


def test_a_chunked_body_over_one_mib_is_413(client, session, shops):
    # given a chunked upload: no Content-Length, the server terminates the stream (as gunicorn and
    # werkzeug's server do for Transfer-Encoding: chunked)
    body = b'{"pad": "' + b"x" * (MIB + 10) + b'"}'
    headers = webhook_headers(body, "inventory_levels/update", shop=VICTIM)
    before = _state(session)

    # when
    response = client.post("/webhooks", input_stream=io.BytesIO(body), headers=headers,
                           environ_overrides={"wsgi.input_terminated": True})

    # then
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "too_large"
    assert _state(session) == before


def test_a_small_chunked_body_is_read_whole_and_accepted(client, session, shops):
    body = json.dumps(level_payload(ITEM, LOCATION, 0)).encode()
    headers = webhook_headers(body, "inventory_levels/update", shop=VICTIM, webhook_id="chunked-1")

    response = client.post("/webhooks", input_stream=io.BytesIO(body), headers=headers,
                           environ_overrides={"wsgi.input_terminated": True})

    assert response.status_code == 200
    assert session.scalar(select(InboxDelivery).where(InboxDelivery.webhook_id == "chunked-1")) is not None


def test_a_chunked_body_over_one_mib_is_413_from_a_real_server(app, session, shops):
    # given the app behind werkzeug's own HTTP server on a loopback port
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    body = b'{"pad": "' + b"x" * (MIB + 10) + b'"}'
    headers = {k: v for k, v in webhook_headers(body, "inventory_levels/update", shop=VICTIM).items()}
    before = _state(session)
    try:
        # when the body is sent in 64 KiB chunks
        status = _chunked_post(server.server_port, "/webhooks", headers, body)
    finally:
        server.shutdown()
        thread.join(timeout=5)

    # then
    assert status == 413
    assert _state(session) == before


def _chunked_post(port: int, path: str, headers: dict, body: bytes) -> int:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        head = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Transfer-Encoding: chunked", "Connection: close"]
        head += [f"{name}: {value}" for name, value in headers.items()]
        conn.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
        try:
            for start in range(0, len(body), 65536):
                chunk = body[start:start + 65536]
                conn.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            conn.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # the server may answer 413 and close before the upload ends
        reply = conn.makefile("rb").readline()
    return int(reply.split()[1])
