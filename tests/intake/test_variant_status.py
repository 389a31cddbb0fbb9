from datetime import timedelta

from plugin.clock import utcnow

from plugin.models import Variant
from tests.doubles.app_proxy import signed_proxy_url
from tests.intake.conftest import SECRET

VARIANT = 44012345678901


def _status(client, shop, ref):
    return client.get(signed_proxy_url(f"variants/{ref}", shop.domain, SECRET))


def test_unknown_variant_allows_waiting(client, shop):
    response = _status(client, shop, VARIANT)

    assert response.status_code == 200
    assert response.get_json() == {"variant_id": VARIANT, "known": False, "sold_out": None,
                                   "waiting_allowed": True, "waiting_count": 0, "expected_at": None}


def test_sold_out_variant_with_waiting_shoppers_and_eta(client, shop, session, post_subscription):
    # given an ETA a month ahead
    expected = (utcnow() + timedelta(days=30)).replace(hour=9, minute=0, second=0, microsecond=0)
    session.add(Variant(shop_id=shop.id, variant_id=VARIANT, available=0, expected_at=expected))
    session.commit()
    post_subscription({"variant_id": VARIANT, "email": "a@shopper.dev"})
    post_subscription({"variant_id": VARIANT, "email": "b@shopper.dev"})
    post_subscription({"variant_id": VARIANT + 1, "email": "c@shopper.dev"})

    # when
    response = _status(client, shop, f"gid://shopify/ProductVariant/{VARIANT}")

    # then
    assert response.get_json() == {"variant_id": VARIANT, "known": True, "sold_out": True,
                                   "waiting_allowed": True, "waiting_count": 2,
                                   "expected_at": expected.isoformat()}
    assert response.headers["Cache-Control"] == "no-store"


def test_in_stock_and_backorder_variants(client, shop, session):
    session.add_all([
        Variant(shop_id=shop.id, variant_id=1, available=4),
        Variant(shop_id=shop.id, variant_id=2, available=0, inventory_policy="CONTINUE"),
        Variant(shop_id=shop.id, variant_id=3, available=None, tracked=False),
    ])
    session.commit()

    bodies = [_status(client, shop, n).get_json() for n in (1, 2, 3)]

    assert [(b["known"], b["sold_out"], b["waiting_allowed"]) for b in bodies] == [
        (True, False, True), (True, True, False), (True, None, False)]


def test_invalid_variant_reference_is_422(client, shop):
    response = _status(client, shop, "banana")

    assert response.status_code == 422
    assert (response.get_json()["error"]["code"], response.get_json()["error"]["field"]) == ("invalid_variant", "variant_id")


def test_other_shops_variants_are_not_visible(client, shop, session):
    from plugin.models import Shop

    other = Shop(domain="other.myshopify.com", settings={})
    session.add(other)
    session.flush()
    session.add(Variant(shop_id=other.id, variant_id=VARIANT, available=0))
    session.commit()

    assert _status(client, shop, VARIANT).get_json()["known"] is False
