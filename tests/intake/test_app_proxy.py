import hashlib
import hmac
import json

import pytest

from plugin import clock
from plugin.intake.app_proxy import signature_message, verify_app_proxy
from tests.doubles.app_proxy import proxy_params, sign_proxy_query

# Shopify's documented app-proxy example, signed here by the documented rule written out by hand
# (sorted pairs, repeated values joined with ",", no separator), independent of the code under test.
DOC_QUERY = ("extra=1&extra=2&shop=shop-name.myshopify.com&logged_in_customer_id=1"
             "&path_prefix=%2Fapps%2Fawesome_reviews&timestamp=1317327555")
DOC_MESSAGE = "extra=1,2logged_in_customer_id=1path_prefix=/apps/awesome_reviewsshop=shop-name.myshopify.comtimestamp=1317327555"


@pytest.fixture(params=["built here", "Shopify's docs (../shared)"])
def vector(request) -> dict:
    if request.param == "built here":
        signature = hmac.new(b"hush", DOC_MESSAGE.encode(), hashlib.sha256).hexdigest()
        return {"secret": "hush", "query": DOC_QUERY, "message": DOC_MESSAGE, "signature": signature}
    shared_dir = request.getfixturevalue("shared_dir")
    return json.loads((shared_dir / "shopify" / "signature_vectors.json").read_text())["app_proxy_signature_hex"][0]


def test_documented_vector_verifies_at_its_own_time(vector):
    # given Shopify's documented example, whose timestamp is from 2011
    query = f"{vector['query']}&signature={vector['signature']}"

    # when
    result = verify_app_proxy(query, [vector["secret"]], clock=lambda: 1317327555 + 30)

    # then
    assert result.ok is True
    assert result.shop == "shop-name.myshopify.com"
    assert result.logged_in_customer_id == 1
    assert result.reason is None


def test_documented_vector_message_joins_repeated_keys_with_commas(vector):
    params = {"extra": ["1", "2"], "shop": ["shop-name.myshopify.com"], "logged_in_customer_id": ["1"],
              "path_prefix": ["/apps/awesome_reviews"], "timestamp": ["1317327555"], "signature": ["x"]}
    assert signature_message(params) == vector["message"]


def test_documented_vector_is_stale_today(vector):
    query = f"{vector['query']}&signature={vector['signature']}"

    result = verify_app_proxy(query, [vector["secret"]])

    assert (result.ok, result.reason) == (False, "stale_timestamp")


def test_test_helper_signs_the_documented_vector(vector):
    # the helper other tests rely on produces Shopify's own signature
    params = {"extra": ["1", "2"], "shop": "shop-name.myshopify.com", "logged_in_customer_id": "1",
              "path_prefix": "/apps/awesome_reviews", "timestamp": "1317327555"}
    assert sign_proxy_query(params, "hush").endswith(f"signature={vector['signature']}")


def test_fresh_query_signed_with_current_secret_verifies():
    query = sign_proxy_query(proxy_params("a-shop.myshopify.com", 42), "current")

    result = verify_app_proxy(query, ["current", "old"])

    assert (result.ok, result.shop, result.logged_in_customer_id) == (True, "a-shop.myshopify.com", 42)


def test_query_signed_with_old_secret_verifies_during_rotation():
    query = sign_proxy_query(proxy_params("a-shop.myshopify.com"), "old")

    assert verify_app_proxy(query, ["current", "old"]).ok is True
    assert verify_app_proxy(query, ["current"]).reason == "invalid_signature"


def test_guest_has_no_customer_id():
    query = sign_proxy_query(proxy_params("a-shop.myshopify.com"), "s")

    result = verify_app_proxy(query, ["s"])

    assert (result.ok, result.logged_in_customer_id) == (True, None)


def test_clock_skew_limit_is_ninety_seconds_each_way():
    now = 2_000_000_000
    for offset, ok in ((-90, True), (90, True), (-91, False), (91, False)):
        query = sign_proxy_query(proxy_params("a-shop.myshopify.com", timestamp=now + offset), "s")
        assert verify_app_proxy(query, ["s"], clock=lambda: now).ok is ok, offset


def test_rejections_name_the_reason():
    fresh = proxy_params("a-shop.myshopify.com")
    signed = sign_proxy_query(fresh, "s")
    cases = {
        "missing_signature": "shop=a-shop.myshopify.com&timestamp=%d" % clock.timestamp(),
        "missing_timestamp": sign_proxy_query({"shop": "a-shop.myshopify.com"}, "s"),
        "invalid_signature": signed.replace("a-shop", "b-shop"),
        "invalid_shop": sign_proxy_query(proxy_params("evil.example.com"), "s"),
    }
    for reason, query in cases.items():
        assert verify_app_proxy(query, ["s"]).reason == reason, reason
    assert verify_app_proxy(signed + "&signature=abc", ["s"]).reason == "missing_signature"


def test_non_ascii_signature_is_a_failure_not_a_crash():
    query = "&".join(p for p in sign_proxy_query(proxy_params("a-shop.myshopify.com"), "s").split("&")
                     if not p.startswith("signature=")) + "&signature=%C3%A9%C3%A9"

    assert verify_app_proxy(query, ["s"]).reason == "invalid_signature"
