"""ETA notices: PATCH /api/variants/<id> sets the expected date; waiting shoppers get one ``eta``
notice per new date, an hour after the first change (changes within that hour merge)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from plugin import clock
from plugin.dispatch.quiet_hours import shop_zone
from plugin.models import Notification, Variant
from tests.dispatch.release_helpers import (
    VARIANT, email, outbox, run_release_job, sold_out_variant, waiting_shoppers,
)
from tests.doubles.shopify_admin import DEMO_SHOP, make_session_token

HOUR = timedelta(hours=1, minutes=1)


def _bearer(app_config) -> dict:
    token = make_session_token(DEMO_SHOP, app_config["shopify_api_key"], app_config["shopify_api_secret"])
    return {"Authorization": f"Bearer {token}"}


def _days_ahead(shop, days: int) -> str:
    return (clock.utcnow().astimezone(shop_zone(shop.timezone)).date() + timedelta(days=days)).isoformat()


def _set(client, app_config, value, variant=VARIANT):
    return client.patch(f"/api/variants/{variant}", headers=_bearer(app_config), json={"expected_at": value})


def _expected(runtime) -> str | None:
    with runtime.db.session() as s:
        value = s.scalar(select(Variant.expected_at).where(Variant.variant_id == VARIANT))
    return value.date().isoformat() if value else None


@pytest.fixture
def waiting(shopify_admin, installed_shop, runtime, session):
    sold_out_variant(session, shopify_admin, installed_shop.id)
    return waiting_shoppers(runtime, session, shopify_admin, installed_shop.id, 2)


def test_setting_a_date_answers_the_variants_status_and_the_widget_shows_it(
        waiting, installed_shop, client, app_config):
    # given
    date = _days_ahead(installed_shop, 10)

    # when
    response = _set(client, app_config, date)

    # then
    assert response.status_code == 200
    assert response.get_json() == {"variant": {"variant_id": VARIANT, "available": 0, "sold_out": True,
                                               "waiting_allowed": True, "waiting_count": 2, "expected_at": date}}


def test_waiting_shoppers_get_one_eta_notice_an_hour_after_the_first_change_with_the_latest_date(
        waiting, installed_shop, app, client, runtime, app_config):
    # given the merchant sets a date, then corrects it twenty minutes later
    first, corrected = _days_ahead(installed_shop, 10), _days_ahead(installed_shop, 12)
    assert _set(client, app_config, first).status_code == 200
    with clock.travel(timedelta(minutes=20)):
        assert _set(client, app_config, corrected).status_code == 200

    # when the release job runs within the hour, then after it (twice)
    run_release_job(app, after=timedelta(minutes=50))
    assert outbox(app_config) == []
    run_release_job(app, after=HOUR)
    run_release_job(app, after=HOUR + timedelta(minutes=1))

    # then each waiting shopper got one eta notice, with the corrected date
    lines = outbox(app_config)
    assert [(line["to"], line["kind"]) for line in lines] == [(email(0), "eta"), (email(1), "eta")]
    assert "expected back on" in lines[0]["subject"]
    with runtime.db.session() as s:
        assert set(s.scalars(select(Notification.dedupe_key))) == {f"eta:{corrected}"}


def test_a_new_date_is_announced_again_but_a_date_already_announced_is_not(
        waiting, installed_shop, app, client, runtime, app_config):
    # given a date announced
    first, later = _days_ahead(installed_shop, 10), _days_ahead(installed_shop, 20)
    _set(client, app_config, first)
    run_release_job(app, after=HOUR)
    assert len(outbox(app_config)) == 2

    # when the merchant moves it, and later moves it back
    with clock.travel(timedelta(hours=2)):
        _set(client, app_config, later)
    run_release_job(app, after=timedelta(hours=3, minutes=1))
    with clock.travel(timedelta(hours=4)):
        _set(client, app_config, first)
    run_release_job(app, after=timedelta(hours=5, minutes=1))

    # then the new date was announced once; the old one not twice
    assert [line["kind"] for line in outbox(app_config)] == ["eta"] * 4
    assert _expected(runtime) == first


def test_clearing_the_date_within_the_hour_announces_nothing(waiting, installed_shop, app, client, runtime,
                                                              app_config):
    # given
    _set(client, app_config, _days_ahead(installed_shop, 10))

    # when
    with clock.travel(timedelta(minutes=10)):
        cleared = _set(client, app_config, None)
    run_release_job(app, after=HOUR)

    # then
    assert cleared.get_json()["variant"]["expected_at"] is None
    assert outbox(app_config) == []
    assert _expected(runtime) is None


@pytest.mark.parametrize("body", [
    {"expected_at": "2031-02-30"},
    {"expected_at": "next week"},
    {"expected_at": "2031-1-5"},
    {"expected_at": 20310105},
    {"expected_at": "YESTERDAY"},
    {"expected": "2031-01-05"},
    {"expected_at": None, "title": "x"},
    ["2031-01-05"],
])
def test_bad_input_is_422_naming_the_field_and_nothing_is_stored(waiting, installed_shop, client, runtime,
                                                                 app_config, body):
    # given a valid date already stored
    stored = _days_ahead(installed_shop, 10)
    _set(client, app_config, stored)
    if body == {"expected_at": "YESTERDAY"}:
        body = {"expected_at": _days_ahead(installed_shop, -1)}

    # when
    response = client.patch(f"/api/variants/{VARIANT}", headers=_bearer(app_config), json=body)

    # then
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert set(error) == {"code", "message", "field"}
    assert error["field"] in ("expected_at", "title")
    assert _expected(runtime) == stored


def test_an_unknown_variant_is_404_and_a_bad_id_422(waiting, installed_shop, client, app_config):
    # when
    unknown = _set(client, app_config, None, variant=123456)
    bad = _set(client, app_config, None, variant="gid://shopify/Product/5")

    # then
    assert (unknown.status_code, unknown.get_json()["error"]["code"]) == (404, "unknown_variant")
    assert (bad.status_code, bad.get_json()["error"]["field"]) == (422, "variant_id")


def test_the_variant_api_needs_a_session_token(waiting, client):
    # when
    response = client.patch(f"/api/variants/{VARIANT}", json={"expected_at": None})

    # then
    assert response.status_code == 401
