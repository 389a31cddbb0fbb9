"""Every ``/api`` route of the URL map refuses a request without a session token, with a forged
one, or for a shop that is not installed (401/403), and never reaches another shop's rows; in
every case nothing in the database changes and nothing is sent."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select, text

from plugin.models import Base, Shop, Subscription, Variant
from tests.doubles.shopify_admin import (
    DEMO_SHOP,
    install_shop_directly,
    make_session_token,
)
from tests.measurement.dashboard_builders import sign_up

RETRY = "X-Shopify-Retry-Invalid-Session-Request"
OTHER = "other-shop.myshopify.com"


def _api_rules(app) -> list[tuple[str, str]]:
    rules = [(rule.rule, method) for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/")
             for method in sorted(rule.methods - {"HEAD", "OPTIONS"})]
    assert len(rules) >= 11  # overview, demand(.csv), subscribers(.csv), delete, activity, messages ×3, notify …
    return rules


def _path(rule: str, ids: dict) -> str:
    return re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(ids[m[1]]), rule)


def _snapshot(session) -> dict:
    session.expire_all()
    counts = {t.name: session.scalar(select(func.count()).select_from(text(t.name))) for t in Base.metadata.sorted_tables}
    settings = {s.domain: s.settings for s in session.scalars(select(Shop))}
    expected = {v.variant_id: v.expected_at for v in session.scalars(select(Variant))}
    statuses = {s.id: s.status for s in session.scalars(select(Subscription))}
    return {"counts": counts, "settings": settings, "expected": expected, "statuses": statuses}


@pytest.fixture
def two_shops(shopify_admin, installed_shop, runtime, session):
    """Ours with a waiting shopper, and another shop with a shopper and an in-stock variant of its own."""
    other = install_shop_directly(runtime, shopify_admin, OTHER)
    sign_up(session, runtime, installed_shop, ["ours@gmail.com"], variant_id=5)
    (theirs,) = sign_up(session, runtime, other, ["theirs@gmail.com"], variant_id=9)
    session.add(Variant(shop_id=other.id, variant_id=9, product_title="Theirs", available=4))
    session.commit()
    return {"subscription_id": theirs, "variant_id": 9, "variant_ref": 9, "locale": "en", "channel": "email"}


def _send(client, rule, method, ids, headers):
    return client.open(_path(rule, ids), method=method, headers=headers,
                       json={"subject": "Hi {product}", "text": "{item} is back", "to": "x@gmail.com",
                             "expected_at": "2031-01-01"} if method in ("PUT", "PATCH", "POST") else None)


def test_without_a_token_every_api_route_is_401_with_the_retry_header_and_changes_nothing(
        app, client, session, two_shops, instance_path):
    before = _snapshot(session)
    for rule, method in _api_rules(app):
        response = _send(client, rule, method, two_shops, {})
        assert (rule, method, response.status_code, response.headers.get(RETRY)) == (rule, method, 401, "1")
    assert _snapshot(session) == before
    assert not (instance_path / "outbox" / "outbox.jsonl").exists()


def test_with_a_forged_or_foreign_app_token_every_api_route_is_401_and_changes_nothing(
        app, client, session, two_shops, app_config, instance_path):
    key, secret = app_config["shopify_api_key"], app_config["shopify_api_secret"]
    forged = [make_session_token(DEMO_SHOP, key, "guessed-secret"), make_session_token(DEMO_SHOP, "another-app", secret),
              make_session_token(DEMO_SHOP, key, secret, exp=1)]
    before = _snapshot(session)
    for rule, method in _api_rules(app):
        for token in forged:
            response = _send(client, rule, method, two_shops, {"Authorization": f"Bearer {token}"})
            assert (rule, method, response.status_code, response.headers.get(RETRY)) == (rule, method, 401, "1")
    assert _snapshot(session) == before
    assert not (instance_path / "outbox" / "outbox.jsonl").exists()


def test_a_valid_token_for_a_shop_that_is_not_installed_is_403_and_changes_nothing(
        app, client, session, two_shops, app_config):
    token = make_session_token("stranger.myshopify.com", app_config["shopify_api_key"], app_config["shopify_api_secret"])
    before = _snapshot(session)
    for rule, method in _api_rules(app):
        response = _send(client, rule, method, two_shops, {"Authorization": f"Bearer {token}"})
        assert (rule, method, response.status_code) == (rule, method, 403)
    assert _snapshot(session) == before


def test_another_shops_rows_cannot_be_read_deleted_or_notified(app, client, session, two_shops, app_config):
    # given our token, and the other shop's subscription and variant ids
    bearer = {"Authorization": "Bearer " + make_session_token(DEMO_SHOP, app_config["shopify_api_key"],
                                                               app_config["shopify_api_secret"])}
    before = _snapshot(session)

    # when
    deleted = client.delete(f"/api/subscribers/{two_shops['subscription_id']}", headers=bearer)
    notified = client.post("/api/variants/9/notify", headers=bearer, json={})
    listed = client.get("/api/subscribers", headers=bearer).get_json()
    exported = client.get("/api/subscribers.csv", headers=bearer).get_data(as_text=True)
    demand = client.get("/api/demand", headers=bearer).get_json()

    # then
    assert (deleted.status_code, notified.status_code) == (404, 404)
    assert [s["contact"] for s in listed["subscribers"]] == ["ours@gmail.com"]
    assert "theirs@gmail.com" not in exported and "ours@gmail.com" in exported
    assert [v["variant_id"] for v in demand["variants"]] == [5]
    assert _snapshot(session) == before
