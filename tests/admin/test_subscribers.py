"""GET /api/subscribers(.csv) and DELETE /api/subscribers/<id>: the merchant's shoppers, per shop."""

from __future__ import annotations

import csv
import io

from sqlalchemy import func, select

from plugin.intake.subscriptions import SubscribeRequest, subscribe
from plugin.models import Contact, Subscription
from tests.admin.test_api import _bearer
from tests.doubles.shopify_admin import DEMO_SHOP, install_shop_directly
from tests.measurement.dashboard_builders import get_overview, sign_up

OTHER = "other-shop.myshopify.com"


def _get(client, app_config, path="/api/subscribers", shop=DEMO_SHOP, **params):
    return client.get(path, query_string=params, headers=_bearer(app_config, shop=shop))


def _texter(session, runtime, shop, phone="+14155550123", variant_id=7):
    result = subscribe(session, runtime.vault, shop, SubscribeRequest(variant_id=variant_id, phone=phone,
                                                                      channel="sms", consent=True))
    session.commit()
    return result.subscription_id


def test_filters_and_exact_search(shopify_admin, installed_shop, runtime, client, app_config, session):
    # given two emails for variant 5, one of them also for variant 6, a texter, and the same
    # address in another shop
    ada5, bob5 = sign_up(session, runtime, installed_shop, ["ada@gmail.com", "bob@gmail.com"], variant_id=5)
    (ada6,) = sign_up(session, runtime, installed_shop, ["ada@gmail.com"], variant_id=6)
    texter = _texter(session, runtime, installed_shop)
    other = install_shop_directly(runtime, shopify_admin, OTHER)
    sign_up(session, runtime, other, ["ada@gmail.com"], variant_id=5)

    # when
    def ids(**params):
        response = _get(client, app_config, **params)
        assert response.status_code == 200, response.get_json()
        return [s["id"] for s in response.get_json()["subscribers"]]

    # then
    assert ids() == [texter, ada6, bob5, ada5]
    assert ids(variant_id="5") == [bob5, ada5]
    assert ids(channel="sms") == [texter]
    assert ids(status="notified") == []
    assert ids(q="  ADA@gmail.com ") == [ada6, ada5]
    assert ids(q="ada@gmail.com", variant_id="6") == [ada6]
    assert ids(q="+1 415-555-0123") == [texter]
    assert ids(q="nobody@gmail.com") == []
    row = _get(client, app_config, q="+14155550123").get_json()["subscribers"][0]
    assert {k: row[k] for k in ("contact", "channel", "status", "variant_id", "consent")} == {
        "contact": "+14155550123", "channel": "sms", "status": "waiting", "variant_id": 7, "consent": True}


def test_pages_by_id_newest_first(installed_shop, runtime, client, app_config, session):
    # given
    ids = sign_up(session, runtime, installed_shop, [f"p{i}@gmail.com" for i in range(5)])
    # when
    first = _get(client, app_config, limit="3").get_json()
    second = _get(client, app_config, limit="3", before=str(first["next_before"])).get_json()
    # then
    assert [s["id"] for s in first["subscribers"]] == ids[:1:-1]
    assert ([s["id"] for s in second["subscribers"]], second["next_before"]) == (ids[1::-1], None)


def test_bad_parameters_are_422_naming_them(installed_shop, client, app_config):
    cases = (({"status": "gone"}, "status"), ({"channel": "fax"}, "channel"), ({"variant_id": "x"}, "variant_id"),
             ({"q": "not an address"}, "q"), ({"q": "12345"}, "q"), ({"limit": "1000"}, "limit"),
             ({"page": "2"}, "page"))
    for params, field in cases:
        for path in ("/api/subscribers", "/api/subscribers.csv"):
            if path.endswith(".csv") and field in ("limit",):
                continue
            response = _get(client, app_config, path=path, **params)
            assert response.status_code == 422, (path, params)
            assert response.get_json()["error"]["field"] == field


def test_delete_removes_the_subscription_and_a_contact_left_without_any(
        shopify_admin, installed_shop, runtime, client, app_config, session):
    # given ada waits for two variants, bob for one
    ada5, bob5 = sign_up(session, runtime, installed_shop, ["ada@gmail.com", "bob@gmail.com"], variant_id=5)
    (ada6,) = sign_up(session, runtime, installed_shop, ["ada@gmail.com"], variant_id=6)
    headers = _bearer(app_config)

    # when
    first = client.delete(f"/api/subscribers/{ada5}", headers=headers)
    second = client.delete(f"/api/subscribers/{bob5}", headers=headers)

    # then ada's contact stays for her other wait, bob's goes; waiting drops by two
    assert (first.status_code, first.get_json()) == (200, {"deleted": {"id": ada5, "contact_deleted": False}})
    assert second.get_json() == {"deleted": {"id": bob5, "contact_deleted": True}}
    assert list(session.scalars(select(Subscription.id))) == [ada6]
    assert session.scalar(select(func.count()).select_from(Contact)) == 1
    assert get_overview(client, app_config, DEMO_SHOP).get_json()["waiting"] == 1


def test_another_shops_subscriber_cannot_be_deleted_or_seen(shopify_admin, installed_shop, runtime, client,
                                                            app_config, session):
    # given
    other = install_shop_directly(runtime, shopify_admin, OTHER)
    (theirs,) = sign_up(session, runtime, other, ["theirs@gmail.com"], variant_id=5)

    # when
    response = client.delete(f"/api/subscribers/{theirs}", headers=_bearer(app_config))
    listed = _get(client, app_config).get_json()["subscribers"]
    exported = _get(client, app_config, path="/api/subscribers.csv").get_data(as_text=True)

    # then
    assert response.status_code == 404
    assert session.scalar(select(func.count()).select_from(Subscription)) == 1
    assert session.scalar(select(func.count()).select_from(Contact)) == 1
    assert listed == []
    assert exported.count("\r\n") == 1


def test_the_csv_streams_every_match_with_formulas_neutralised(installed_shop, runtime, client, app_config,
                                                               session):
    # given a texter (a number starting with +) and an email shopper
    texter = _texter(session, runtime, installed_shop)
    (emailer,) = sign_up(session, runtime, installed_shop, ["ada@gmail.com"], variant_id=7)

    # when
    response = _get(client, app_config, path="/api/subscribers.csv", variant_id="7")

    # then
    assert response.status_code == 200
    assert response.is_streamed
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == ["id", "contact", "channel", "status", "variant_id", "product_title", "variant_title", "locale",
                       "consent", "consent_at", "customer_id", "created_at", "notified_at", "unsubscribed_at"]
    assert [(r[0], r[1], r[2], r[3], r[8]) for r in rows[1:]] == [
        (str(emailer), "ada@gmail.com", "email", "waiting", "false"),
        (str(texter), "'+14155550123", "sms", "waiting", "true")]


def test_deleting_an_id_beyond_bigint_is_404_not_500(installed_shop, client, app_config):
    # (found by the fuzzer: the id went straight into a BIGINT bind)
    response = client.delete(f"/api/subscribers/{2**63}", headers=_bearer(app_config))
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"
