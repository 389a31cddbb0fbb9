"""GET /api/demand and /api/demand.csv: the restocking list from the counters."""

from __future__ import annotations

import csv
import io

from plugin.models import Variant
from tests.admin.test_api import _bearer
from tests.doubles.shopify_admin import DEMO_SHOP, install_shop_directly
from tests.dispatch.builders import make_variant
from tests.measurement.dashboard_builders import money, sign_up, told_and_bought


def _demand(client, app_config, shop=DEMO_SHOP, path="/api/demand", **params):
    return client.get(path, query_string=params, headers=_bearer(app_config, shop=shop))


def test_a_shop_without_history_uses_the_prior_and_says_so(shopify_admin, installed_shop, runtime, client,
                                                          app_config, session):
    # given 25 shoppers waiting for a sold-out 30.00 variant with 1 unit on hand, nobody told yet
    make_variant(session, installed_shop, variant_id=44002, available=1, price="30.00", title="Red / S")
    session.add(Variant(shop_id=installed_shop.id, variant_id=44003, available=0, price="5.00"))
    sign_up(session, runtime, installed_shop, [f"w{i}@gmail.com" for i in range(25)], variant_id=44002)
    sign_up(session, runtime, installed_shop, ["solo@gmail.com"], variant_id=44003)

    # when
    body = _demand(client, app_config).get_json()

    # then: 10 % of 25 = 2.5 → 3 likely buyers, less the 1 unit on hand
    assert body["conversion_rate"] == {"rate": 0.1, "basis": "prior", "told": 0, "purchased": 0,
                                       "prior_rate": 0.1, "prior_weight": 20}
    assert body["variants"][0] == {
        "variant_id": 44002, "product_id": 8001, "product_title": "Linen Shirt", "variant_title": "Red / S",
        "waiting": 25, "stock": 1, "price": money("30.00"), "value_waiting": money("750.00"),
        "expected_at": None, "told": 0, "purchased": 0, "revenue": money("0.00"), "expected_buyers": 3,
        "reorder_suggestion": 2}
    assert [(v["variant_id"], v["waiting"], v["expected_buyers"]) for v in body["variants"]] == [
        (44002, 25, 3), (44003, 1, 1)]
    assert body["next_offset"] is None


def test_the_shops_own_conversion_rate_is_smoothed_towards_the_prior(shopify_admin, installed_shop, runtime, app,
                                                                    client, app_config, session):
    # given 20 told and 10 bought (50 %), and 40 now waiting for another variant
    told_and_bought(app, client, session, runtime, installed_shop, told=20, bought=10)
    make_variant(session, installed_shop, variant_id=44002, available=0, price="12.50")
    sign_up(session, runtime, installed_shop, [f"n{i}@gmail.com" for i in range(40)], variant_id=44002)

    # when
    body = _demand(client, app_config).get_json()

    # then (10 + 0.1 × 20) / (20 + 20) = 30 %; 40 × 0.3 = 12; the told variant waits no more
    assert body["conversion_rate"]["rate"] == 0.3
    assert body["conversion_rate"]["basis"] == "shop"
    assert [(v["variant_id"], v["waiting"], v["expected_buyers"], v["reorder_suggestion"], v["value_waiting"])
            for v in body["variants"]] == [(44002, 40, 12, 12, money("500.00"))]
    everything = _demand(client, app_config, min_waiting="0").get_json()["variants"]
    assert [(v["variant_id"], v["told"], v["purchased"], v["revenue"]) for v in everything] == [
        (44002, 0, 0, money("0.00")), (44001, 20, 10, money("490.00"))]


def test_pages_and_another_shops_variants(shopify_admin, installed_shop, runtime, client, app_config, session):
    # given three waited variants here, one in another shop
    for variant_id, count in ((1, 3), (2, 2), (3, 1)):
        sign_up(session, runtime, installed_shop, [f"v{variant_id}-{i}@gmail.com" for i in range(count)],
                variant_id=variant_id)
    other = install_shop_directly(runtime, shopify_admin, "other-shop.myshopify.com")
    sign_up(session, runtime, other, ["elsewhere@gmail.com"], variant_id=9)

    # when
    first = _demand(client, app_config, limit="2").get_json()
    second = _demand(client, app_config, limit="2", offset="2").get_json()
    theirs = _demand(client, app_config, shop="other-shop.myshopify.com").get_json()

    # then
    assert [v["variant_id"] for v in first["variants"]] == [1, 2]
    assert first["next_offset"] == 2
    assert [v["variant_id"] for v in second["variants"]] == [3]
    assert [v["variant_id"] for v in theirs["variants"]] == [9]


def test_bad_parameters_are_422_naming_them(installed_shop, client, app_config):
    for params, field in (({"limit": "0"}, "limit"), ({"limit": "abc"}, "limit"), ({"offset": "-1"}, "offset"),
                          ({"min_waiting": "1.5"}, "min_waiting"), ({"sort": "x"}, "sort")):
        # when
        response = _demand(client, app_config, **params)
        # then
        assert response.status_code == 422, params
        assert response.get_json()["error"]["field"] == field


def test_the_csv_has_a_header_and_a_row_per_waited_variant(shopify_admin, installed_shop, runtime, client,
                                                           app_config, session):
    # given a variant whose title a spreadsheet would run as a formula
    make_variant(session, installed_shop, variant_id=44002, available=0, price="30.00", title="=HYPERLINK(\"x\")",
                 product_title="Shirt, \"linen\"")
    sign_up(session, runtime, installed_shop, ["a@gmail.com", "b@gmail.com"], variant_id=44002)

    # when
    response = _demand(client, app_config, path="/api/demand.csv")

    # then
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows == [
        ["variant_id", "product_id", "product_title", "variant_title", "waiting", "stock", "price", "value_waiting",
         "currency", "expected_at", "told", "purchased", "revenue", "expected_buyers", "reorder_suggestion"],
        ["44002", "8001", "Shirt, \"linen\"", "'=HYPERLINK(\"x\")", "2", "0", "30.00", "60.00", "USD", "", "0", "0",
         "0.00", "1", "1"]]
    assert b'"Shirt, ""linen"""' in response.get_data()
