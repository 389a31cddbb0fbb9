"""POST /webhooks: signature, headers, body, duplicates and the queue (CONTRACT.md)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import timedelta

import psycopg
import pytest
from sqlalchemy import func, select

from plugin import clock, create_app
from plugin.inbox import deliveries
from plugin.models import InboxDelivery, Shop
from tests.webhooks.delivery import DEMO_SHOP, deliver, sign, webhook_headers

UNINSTALL = {"id": 548380009, "name": "Demo", "myshopify_domain": DEMO_SHOP}
# Bodies as Shopify signs them (secret "hush"): a compliance body naming a placeholder shop and an
# inventory level. "built here" signs them with the documented rule written out inline (base64
# HMAC-SHA256 of the raw bytes); "../shared" holds the known-good HMACs.
VECTOR_BODIES = [
    '{"shop_id":954889,"shop_domain":"{shop}.myshopify.com"}',
    '{"inventory_item_id":271878346596884015,"location_id":24826418,"available":6,'
    '"updated_at":"2021-12-31T19:00:00-05:00",'
    '"admin_graphql_api_id":"gid://shopify/InventoryLevel/24826418?inventory_item_id=271878346596884015"}',
]


@pytest.fixture(params=["built here", "known-good HMACs (../shared)"])
def webhook_vectors(request) -> list[dict]:
    if request.param == "built here":
        return [{"secret": "hush", "body": body,
                 "hmac": base64.b64encode(hmac.new(b"hush", body.encode(), hashlib.sha256).digest()).decode()}
                for body in VECTOR_BODIES]
    shared_dir = request.getfixturevalue("shared_dir")
    return json.loads((shared_dir / "shopify" / "signature_vectors.json").read_text())["webhook_hmac_base64"]


@pytest.fixture
def shop(session) -> Shop:
    shop = Shop(domain=DEMO_SHOP, name="Demo", settings={}, access_token="ciphertext")
    session.add(shop)
    session.commit()
    return shop


def receipts(session) -> int:
    return session.execute(select(func.count()).select_from(InboxDelivery)).scalar_one()


def inbox_row(session, webhook_id: str) -> InboxDelivery:
    session.expire_all()
    return session.execute(select(InboxDelivery).where(InboxDelivery.webhook_id == webhook_id)).scalar_one()


def still_installed(session, shop: Shop) -> bool:
    session.expire_all()
    return session.get(Shop, shop.id).uninstalled_at is None


def test_known_good_signature_vector_is_accepted(client, session, webhook_vectors):
    # given Shopify's signed inventory body (secret "hush")
    vector = next(v for v in webhook_vectors if "inventory_item_id" in v["body"])
    headers = webhook_headers(vector["body"].encode(), "inventory_levels/update", webhook_id="vector-1")
    headers["X-Shopify-Hmac-Sha256"] = vector["hmac"]
    # when
    response = client.post("/webhooks", data=vector["body"].encode(), headers=headers)
    # then
    assert response.status_code == 200
    assert response.get_json() == {"status": "accepted"}
    assert inbox_row(session, "vector-1").topic == "inventory_levels/update"


def test_signed_body_naming_another_shop_is_refused(client, session, shop, webhook_vectors):
    # given the compliance vector: valid HMAC, but its body names "{shop}.myshopify.com", not the header's shop
    vector = next(v for v in webhook_vectors if "shop_domain" in v["body"])
    headers = webhook_headers(vector["body"].encode(), "shop/redact")
    headers["X-Shopify-Hmac-Sha256"] = vector["hmac"]
    # when
    response = client.post("/webhooks", data=vector["body"].encode(), headers=headers)
    # then the signature passed (not 401) and the mismatch is a 400; the shop is not purged
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "shop_mismatch"
    assert receipts(session) == 0
    assert session.execute(select(func.count()).select_from(Shop)).scalar_one() == 1


@pytest.mark.parametrize(
    "header", ["X-Shopify-Hmac-Sha256", "X-Shopify-Topic", "X-Shopify-Shop-Domain", "X-Shopify-Webhook-Id"]
)
def test_missing_header_is_400_and_nothing_happens(client, session, shop, header):
    # given
    body = json.dumps(UNINSTALL).encode()
    headers = webhook_headers(body, "app/uninstalled")
    del headers[header]
    # when
    response = client.post("/webhooks", data=body, headers=headers)
    # then
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "missing_header"
    assert header in response.get_json()["error"]["message"]
    assert receipts(session) == 0
    assert still_installed(session, shop)


def test_wrong_hmac_is_401_and_nothing_happens(client, session, shop):
    # given a body signed with another secret
    body = json.dumps(UNINSTALL).encode()
    headers = webhook_headers(body, "app/uninstalled", secret="not-hush")
    # when
    response = client.post("/webhooks", data=body, headers=headers)
    # then
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "invalid_hmac"
    assert receipts(session) == 0
    assert still_installed(session, shop)


def test_body_changed_after_signing_is_401(client, session, shop):
    # given a signature of one body sent with another
    headers = webhook_headers(json.dumps(UNINSTALL).encode(), "app/uninstalled")
    tampered = json.dumps({**UNINSTALL, "name": "Someone else"}).encode()
    # when
    response = client.post("/webhooks", data=tampered, headers=headers)
    # then
    assert response.status_code == 401
    assert receipts(session) == 0
    assert still_installed(session, shop)


def test_old_secret_is_accepted_during_rotation(app_config, session, shop):
    # given the app rotated its secret and still lists the old one
    rotated = {**app_config, "shopify_api_secret": "new-secret", "shopify_api_secret_old": "hush"}
    client = create_app(rotated).test_client()
    # when Shopify still signs with the old one
    response = deliver(client, "app/uninstalled", UNINSTALL, secret="hush", webhook_id="rotation-1")
    # then
    assert response.status_code == 200
    assert receipts(session) == 1
    assert not still_installed(session, shop)


def test_old_secret_is_refused_once_it_is_not_configured(app_config, session, shop):
    # given the rotation is over (no old secret)
    client = create_app({**app_config, "shopify_api_secret": "new-secret"}).test_client()
    # when
    response = deliver(client, "app/uninstalled", UNINSTALL, secret="hush")
    # then
    assert response.status_code == 401
    assert receipts(session) == 0
    assert still_installed(session, shop)


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b"\xff\xfe{}"])
def test_body_that_is_not_a_json_object_is_400(client, session, shop, body):
    # given a correctly signed body that is not a JSON object
    headers = webhook_headers(body, "app/uninstalled")
    # when
    response = client.post("/webhooks", data=body, headers=headers)
    # then
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] in ("invalid_json", "invalid_body")
    assert receipts(session) == 0
    assert still_installed(session, shop)


def test_shop_domain_header_must_be_a_myshopify_domain(client, session):
    # when
    response = deliver(client, "app/uninstalled", {}, shop="evil.example.com")
    # then
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_header"
    assert receipts(session) == 0


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_other_methods_are_405_json(client, session, method):
    # when
    response = client.open("/webhooks", method=method)
    # then
    assert response.status_code == 405
    assert response.get_json()["error"]["code"] == "method_not_allowed"
    assert response.headers["Allow"] == "POST"
    assert receipts(session) == 0


def test_repeated_webhook_id_is_200_and_handled_once(client, session, shop):
    # given a first delivery that uninstalled the shop, then the merchant reinstalled
    assert deliver(client, "app/uninstalled", UNINSTALL, webhook_id="same-id").status_code == 200
    session.expire_all()
    reinstalled = session.get(Shop, shop.id)
    reinstalled.uninstalled_at = None
    session.commit()
    # when Shopify delivers the same webhook again
    response = deliver(client, "app/uninstalled", UNINSTALL, webhook_id="same-id")
    # then it is acknowledged and not handled again
    assert response.status_code == 200
    assert response.get_json() == {"status": "duplicate"}
    assert receipts(session) == 1
    assert still_installed(session, shop)


def test_unknown_topic_is_accepted_and_ignored(client, session, shop):
    # when
    response = deliver(client, "carts/update", {"id": 1}, webhook_id="cart-1")
    # then
    assert response.status_code == 200
    assert inbox_row(session, "cart-1").topic == "carts/update"
    assert inbox_row(session, "cart-1").processed_at is not None
    assert still_installed(session, shop)


def test_queue_down_still_accepts_and_the_redrive_handles_it_later(app, app_config, session, shop):
    # given a broker nobody listens on
    client = create_app({**app_config, "redis_url": "redis://127.0.0.1:1/0"}).test_client()
    # when Shopify delivers an uninstall
    response = deliver(client, "app/uninstalled", UNINSTALL, webhook_id="queue-down")
    # then it is accepted: stored (encrypted), not yet handled
    assert response.status_code == 200
    row = inbox_row(session, "queue-down")
    assert (row.processed_at, row.attempts) == (None, 0)
    assert DEMO_SHOP not in row.payload_ciphertext
    assert json.loads(app.extensions["backbell"].vault.decrypt(row.payload_ciphertext)) == UNINSTALL
    assert still_installed(session, shop)
    # when the re-drive runs after the row's lease (tasks in-process again: the fixture's app)
    celery = app.extensions["celery"]
    celery.set_current()
    with clock.travel(deliveries.FIRST_LEASE + timedelta(seconds=1)):
        celery.tasks["backbell.redrive_inbox"].apply(throw=True)
    # then it was handled once
    assert inbox_row(session, "queue-down").processed_at is not None
    assert inbox_row(session, "queue-down").attempts == 1
    assert not still_installed(session, shop)


@pytest.mark.pg_only
def test_connection_the_server_closed_is_503_then_the_pool_recovers(app, client, session, shop, database_url):
    # given a pooled autocommit connection, the webhook's (the web app does not ping it before use:
    # one round trip less)
    assert deliver(client, "carts/update", {"id": 1}, webhook_id="before-restart").status_code == 200
    engine = app.extensions["backbell"].db.autocommit_engine
    pids = []
    with engine.connect() as conn:
        pids.append(conn.connection.dbapi_connection.info.backend_pid)
    # when the server ends it, as a PostgreSQL restart or failover does
    admin = psycopg.connect(database_url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True)
    with admin:
        assert admin.execute("SELECT pg_terminate_backend(%s)", (pids[0],)).fetchone() == (True,)
    response = deliver(client, "carts/update", {"id": 2}, webhook_id="during-restart")
    # then that delivery is refused with a status Shopify retries, and nothing is stored for it
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert response.get_json()["error"]["code"] == "unavailable"
    session.expire_all()
    assert session.scalar(select(InboxDelivery).where(InboxDelivery.webhook_id == "during-restart")) is None
    # and the pool dropped the dead connection: Shopify's retry is stored
    assert deliver(client, "carts/update", {"id": 2}, webhook_id="during-restart").status_code == 200
    assert inbox_row(session, "during-restart").topic == "carts/update"


def test_signature_helper_matches_the_known_good_vectors(webhook_vectors):
    # given / when / then: the helper the other tests rely on signs like Shopify
    assert [sign(v["body"].encode(), v["secret"]) for v in webhook_vectors] == [v["hmac"] for v in webhook_vectors]
