"""GET /api/activity: the decision log, newest first, filtered and paged, per shop."""

from __future__ import annotations

from plugin.models import Decision
from tests.admin.test_api import _bearer
from tests.doubles.shopify_admin import DEMO_SHOP, install_shop_directly


def _activity(client, app_config, shop=DEMO_SHOP, **params):
    return client.get("/api/activity", query_string=params, headers=_bearer(app_config, shop=shop))


def _log(session, shop_id, *lines):
    rows = [Decision(shop_id=shop_id, decision=d, variant_id=v, subscription_id=s) for d, v, s in lines]
    session.add_all(rows)
    session.commit()
    return [r.id for r in rows]


def test_filters_by_variant_subscription_and_kind(shopify_admin, installed_shop, runtime, client, app_config,
                                                 session):
    # given
    ids = _log(session, installed_shop.id, ("sent", 1, 10), ("skipped: sold out again", 1, 11),
               ("skipped: unsubscribed", 2, 12), ("sent", 2, 13), ("skippedish", 2, 14))
    other = install_shop_directly(runtime, shopify_admin, "other-shop.myshopify.com")
    _log(session, other.id, ("sent", 1, 99))

    # when
    def decisions(**params):
        return [(a["id"], a["decision"]) for a in _activity(client, app_config, **params).get_json()["activity"]]

    # then
    assert decisions() == [(ids[4], "skippedish"), (ids[3], "sent"), (ids[2], "skipped: unsubscribed"),
                           (ids[1], "skipped: sold out again"), (ids[0], "sent")]
    assert decisions(variant_id="1") == [(ids[1], "skipped: sold out again"), (ids[0], "sent")]
    assert decisions(subscription_id="12") == [(ids[2], "skipped: unsubscribed")]
    assert decisions(kind="skipped") == [(ids[2], "skipped: unsubscribed"), (ids[1], "skipped: sold out again")]
    assert decisions(kind="sent", variant_id="gid://shopify/ProductVariant/2") == [(ids[3], "sent")]
    assert decisions(subscription_id="99") == []


def test_pages_newest_first(installed_shop, client, app_config, session):
    # given
    ids = _log(session, installed_shop.id, *[("sent", 1, n) for n in range(5)])
    # when
    first = _activity(client, app_config, limit="2").get_json()
    second = _activity(client, app_config, limit="2", before=str(first["next_before"])).get_json()
    last = _activity(client, app_config, limit="2", before=str(second["next_before"])).get_json()
    # then
    assert [a["id"] for a in first["activity"]] == [ids[4], ids[3]]
    assert [a["id"] for a in second["activity"]] == [ids[2], ids[1]]
    assert ([a["id"] for a in last["activity"]], last["next_before"]) == ([ids[0]], None)
    assert first["activity"][0] == {"id": ids[4], "decision": "sent", "kind": "sent", "variant_id": 1,
                                    "subscription_id": 4, "restock_event_id": None, "notification_id": None,
                                    "detail": {}, "created_at": first["activity"][0]["created_at"]}


def test_bad_parameters_are_422(installed_shop, client, app_config):
    for params, field in (({"variant_id": "abc"}, "variant_id"), ({"limit": "251"}, "limit"),
                          ({"before": "0"}, "before"), ({"kind": "x" * 65}, "kind"), ({"shopper": "1"}, "shopper")):
        response = _activity(client, app_config, **params)
        assert response.status_code == 422, params
        assert response.get_json()["error"]["field"] == field
