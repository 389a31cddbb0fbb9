"""Double opt-in: a shopper who has not confirmed is not waiting anywhere the merchant or the
storefront looks — dashboard, demand table and CSV, reorder suggestion, the widget's count, the
admin's variant, the subscriber filter — until the link is followed; an expiry takes nothing back."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from sqlalchemy import select

from plugin.admin.overview import shop_overview
from plugin.models import Shop, Subscription, VariantTotal
from tests.dispatch.release_helpers import VARIANT, outbox, restock, run_release_job, set_settings, sold_out_variant
from tests.dispatch.test_double_opt_in import _confirm_path, _statuses, _subscribe
from tests.doubles.app_proxy import signed_proxy_url
from tests.doubles.shopify_admin import DEMO_SHOP, make_session_token

CONFIRMED, UNCONFIRMED = 10, 2


def _bearer(app_config) -> dict:
    token = make_session_token(DEMO_SHOP, app_config["shopify_api_key"], app_config["shopify_api_secret"])
    return {"Authorization": f"Bearer {token}"}


def _numbers(client, app_config, runtime) -> dict:
    """Every "waiting" the merchant and the storefront see, read through their own surfaces."""
    headers = _bearer(app_config)
    overview = client.get("/api/overview", headers=headers).get_json()
    demand = client.get("/api/demand", headers=headers).get_json()["variants"]
    demand_csv = list(csv.DictReader(io.StringIO(client.get("/api/demand.csv", headers=headers).get_data(True))))
    widget = client.get(signed_proxy_url(f"variants/{VARIANT}", DEMO_SHOP, "hush")).get_json()
    variant = client.patch(f"/api/variants/{VARIANT}", headers=headers, json={"expected_at": None}).get_json()
    listed = client.get("/api/subscribers?status=waiting", headers=headers).get_json()
    with runtime.db.session() as s:
        home = shop_overview(s, s.scalar(select(Shop.id).where(Shop.domain == DEMO_SHOP)))["waiting_subscriptions"]
        total = s.scalar(select(VariantTotal.waiting).where(VariantTotal.variant_id == VARIANT))
    return {
        "overview": (overview["waiting"], overview["subscribed"]),
        "demand": [(row["waiting"], row["value_waiting"]["amount"], row["expected_buyers"],
                    row["reorder_suggestion"]) for row in demand],
        "csv": [(row["waiting"], row["reorder_suggestion"]) for row in demand_csv],
        "widget": widget["waiting_count"],
        "variant": variant["variant"]["waiting_count"] if "variant" in variant else variant["waiting_count"],
        "list": len(listed["subscribers"]),
        "home": home,
        "total": total or 0,  # no row yet: nobody ever counted
    }


def _expected(waiting: int, subscribed: int) -> dict:
    # price 25.00 (the double's default); 10 % of 10 shoppers is 1 expected buyer, of 12 it would be 2
    demand = [(waiting, f"{25 * waiting}.00", 1, 1)] if waiting else []
    return {"overview": (waiting, subscribed), "demand": demand, "csv": [(str(d[0]), str(d[3])) for d in demand],
            "widget": waiting, "variant": waiting, "list": waiting, "home": waiting, "total": waiting}


def test_unconfirmed_shoppers_count_nowhere_and_expire_without_having_counted(
        shopify_admin, installed_shop, app, client, runtime, session, app_config):
    # given a shop asking for double opt-in; 12 shoppers subscribe, 10 of them confirm
    set_settings(runtime, double_opt_in=True)
    sold_out_variant(session, shopify_admin, installed_shop.id)
    addresses = [f"shopper{n}@gmail.com" for n in range(CONFIRMED + UNCONFIRMED)]
    for n, address in enumerate(addresses):
        assert _subscribe(client, address, n + 1).status_code == 201
    before_any_confirmation = _numbers(client, app_config, runtime)
    for address in addresses[:CONFIRMED]:
        assert client.post(_confirm_path(app_config, address)).status_code == 200

    # then nobody counted before confirming, and exactly the 10 confirmed count after
    assert before_any_confirmation == _expected(0, 0)
    assert _numbers(client, app_config, runtime) == _expected(CONFIRMED, CONFIRMED)
    listed = client.get("/api/subscribers", headers=_bearer(app_config)).get_json()["subscribers"]
    assert sorted(row["status"] for row in listed) == ["unconfirmed"] * UNCONFIRMED + ["waiting"] * CONFIRMED

    # when the two unconfirmed expire (7 days on)
    run_release_job(app, after=timedelta(days=7, minutes=1))

    # then every number is the same: they were never counted
    assert _statuses(runtime)[CONFIRMED:] == [("expired", False)] * UNCONFIRMED
    assert _numbers(client, app_config, runtime) == _expected(CONFIRMED, CONFIRMED)

    # when the variant comes back with plenty of stock
    set_settings(runtime, batch_per_unit=None)
    restock(client, shopify_admin, 50)

    # then the 10 confirmed were told and nobody waits any more
    told = [line["to"] for line in outbox(app_config) if line["kind"] == "restock"]
    assert sorted(told) == sorted(addresses[:CONFIRMED])
    assert _numbers(client, app_config, runtime)["overview"] == (0, CONFIRMED)


def test_an_unconfirmed_shopper_who_unsubscribes_takes_nothing_off_the_count(
        shopify_admin, installed_shop, app, client, runtime, session, app_config):
    # given one confirmed and one unconfirmed shopper
    set_settings(runtime, double_opt_in=True)
    sold_out_variant(session, shopify_admin, installed_shop.id)
    _subscribe(client, "ada@gmail.com", 1)
    _subscribe(client, "bob@gmail.com", 2)
    client.post(_confirm_path(app_config, "ada@gmail.com"))
    bob = session.scalar(select(Subscription.id).order_by(Subscription.id.desc()))

    # when the merchant deletes Bob's unconfirmed subscription
    deleted = client.delete(f"/api/subscribers/{bob}", headers=_bearer(app_config))

    # then Ada still waits, counted once
    assert deleted.status_code in (200, 204)
    overview = client.get("/api/overview", headers=_bearer(app_config)).get_json()
    assert (overview["waiting"], overview["subscribed"]) == (1, 1)
