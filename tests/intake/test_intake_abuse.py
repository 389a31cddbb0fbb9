"""Intake under attack (issue #7): junk floods, cross-shop contacts, hostile JSON and ids.

Each test asserts the status and what was (not) written.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from plugin import create_app
from plugin.models import Contact, Shop, Subscription, Variant
from tests.doubles.app_proxy import signed_proxy_url
from tests.intake.conftest import SECRET

VARIANT = 44012345678901


def _count(session, model, **where) -> int:
    query = select(func.count()).select_from(model)
    for name, value in where.items():
        query = query.where(getattr(model, name) == value)
    return session.scalar(query)


@pytest.fixture
def sold_out(session, shop) -> Variant:
    variant = Variant(shop_id=shop.id, variant_id=VARIANT, available=0)
    session.add(variant)
    session.commit()
    return variant


def _post(client, shop_domain: str, body, forwarded_for: str | None = None, customer_id=None):
    url = signed_proxy_url("subscriptions", shop_domain, SECRET, logged_in_customer_id=customer_id)
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post(url, data=data, headers={**headers, "Content-Type": "application/json"})


JUNK = [
    {"variant_id": VARIANT, "email": "not-an-address"},
    {"variant_id": "nope", "email": "a@gmail.com"},
    {"variant_id": VARIANT, "email": "a@gmail.com", "website": "http://spam.example"},  # honeypot
    b"{not json",
]


def test_a_rotating_address_flood_of_junk_does_not_close_the_shops_sign_ups(client, session, shop, sold_out):
    # given a shop whose ceiling is 100 valid sign-ups a minute
    shop.settings = {"intake_per_minute": 100}
    session.commit()

    # when 600 invalid requests arrive, each from a new address (as Shopify would forward a botnet)
    flood = [_post(client, shop.domain, JUNK[n % len(JUNK)], forwarded_for=f"198.18.{n // 250}.{n % 250}").status_code
             for n in range(600)]

    # then none was stored, and real shoppers still subscribe
    assert set(flood) <= {201, 422}  # the honeypot answers like a success
    assert 429 not in flood
    assert (_count(session, Subscription), _count(session, Contact)) == (0, 0)
    shoppers = [_post(client, shop.domain, {"variant_id": VARIANT, "email": f"shopper{n}@gmail.com"},
                      forwarded_for=f"203.0.113.{n}").status_code for n in range(3)]
    assert shoppers == [201, 201, 201]
    assert _count(session, Subscription) == 3


def test_junk_from_one_address_spends_only_that_addresss_small_budget(client, session, shop, sold_out):
    # given a shopper who fakes a new X-Forwarded-For each time: Shopify appends the real address
    attacker = "192.0.2.66"
    answers = [_post(client, shop.domain, JUNK[0], forwarded_for=f"10.9.9.{n}, {attacker}").status_code
               for n in range(8)]

    # when
    same_address_valid = _post(client, shop.domain, {"variant_id": VARIANT, "email": "x@gmail.com"},
                               forwarded_for=f"10.9.9.99, {attacker}")
    someone_else = _post(client, shop.domain, {"variant_id": VARIANT, "email": "jane@gmail.com"},
                         forwarded_for="203.0.113.5")

    # then the attacker's address waits after five invalid requests; nobody else does
    assert answers == [422] * 5 + [429] * 3
    assert same_address_valid.status_code == 429
    assert same_address_valid.get_json()["error"]["code"] == "rate_limited"
    assert someone_else.status_code == 201
    assert _count(session, Subscription) == 1


def test_the_shop_ceiling_counts_valid_sign_ups_only(client, session, shop, sold_out):
    # given a ceiling of 10 a minute, and invalid requests from many addresses first
    shop.settings = {"intake_per_minute": 10}
    session.commit()
    junk = [_post(client, shop.domain, JUNK[0], forwarded_for=f"198.18.0.{n}").status_code for n in range(30)]

    # when eleven different shoppers sign up
    answers = [_post(client, shop.domain, {"variant_id": VARIANT, "email": f"s{n}@gmail.com"},
                     forwarded_for=f"203.0.113.{n}").status_code for n in range(11)]

    # then
    assert junk == [422] * 30
    assert answers == [201] * 10 + [429]
    assert _count(session, Subscription) == 10


def test_the_default_ceiling_is_a_product_drop_not_a_trickle(shop):
    from plugin.shop_settings import settings_for

    assert settings_for(shop).intake_per_minute == 6000


def test_five_sign_ups_in_one_shop_do_not_block_the_address_in_another(client, session, shop):
    # given a second shop, and one address that signed up five times in the first
    other = Shop(domain="other-shop.myshopify.com", name="Other", settings={})
    session.add(other)
    session.commit()
    first = [_post(client, shop.domain, {"variant_id": VARIANT + n, "email": "jane@gmail.com"},
                   forwarded_for=f"203.0.113.{n}").status_code for n in range(5)]

    # when
    sixth_here = _post(client, shop.domain, {"variant_id": VARIANT + 9, "email": "jane@gmail.com"},
                       forwarded_for="203.0.113.50")
    in_other_shop = _post(client, other.domain, {"variant_id": VARIANT, "email": "jane@gmail.com"},
                          forwarded_for="203.0.113.51")

    # then
    assert first == [201] * 5
    assert sixth_here.status_code == 429
    assert in_other_shop.status_code == 201
    assert _count(session, Subscription, shop_id=shop.id) == 5
    assert _count(session, Subscription, shop_id=other.id) == 1


def test_forwarded_for_is_believed_only_from_configured_proxies(app_config, session, shop, sold_out):
    # given the app behind a load balancer on 127.0.0.0/8 (the test client's address)
    client = create_app({**app_config, "trusted_proxies": ("127.0.0.0/8",)}).test_client()
    shopper = "198.51.100.7"

    # when the shopper rotates the entry they control, left of Shopify's and the balancer's
    answers = [_post(client, shop.domain, JUNK[0], forwarded_for=f"6.6.6.{n}, {shopper}, 23.227.38.1").status_code
               for n in range(6)]

    # then all six count against the shopper's one address
    assert answers == [422] * 5 + [429]
    assert _count(session, Subscription) == 0


@pytest.mark.parametrize("body", [
    b'{"variant_id": 1, "email": "a@gmail.com", "x": ' + b"[" * 3000 + b"]" * 3000 + b"}",
    b"[" * 3000 + b"]" * 3000,
    b'{"variant_id": ' + b"9" * 5000 + b', "email": "a@gmail.com"}',
    b'{"variant_id": NaN, "email": "a@gmail.com"}',
    b'{"variant_id": 1, "email": "a\\u0000@gmail.com"}',
])
def test_hostile_json_is_422_and_stores_nothing(client, session, shop, body):
    response = _post(client, shop.domain, body)

    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "invalid_json"
    assert (_count(session, Subscription), _count(session, Contact)) == (0, 0)


@pytest.mark.parametrize("customer_id", [2**63, 10**30, "12abc", "-5", "0"])
def test_a_signed_customer_id_that_is_not_a_shopify_id_is_400(client, session, shop, sold_out, customer_id):
    response = _post(client, shop.domain, {"variant_id": VARIANT, "email": "a@gmail.com"}, customer_id=customer_id)

    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_customer_id"
    assert (_count(session, Subscription), _count(session, Contact)) == (0, 0)


def test_the_largest_shopify_customer_id_is_linked(client, session, shop, sold_out):
    response = _post(client, shop.domain, {"variant_id": VARIANT, "email": "a@gmail.com"}, customer_id=2**63 - 1)

    assert response.status_code == 201
    assert session.scalars(select(Subscription.customer_id)).one() == 2**63 - 1
