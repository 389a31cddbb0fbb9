from sqlalchemy import func, select

from plugin.clock import utcnow
from plugin.models import Contact, Shop, Subscription
from tests.doubles.app_proxy import signed_proxy_url
from tests.intake.conftest import SECRET

BODY = {"variant_id": 44012345678901, "email": "jane@shopper.dev"}


def _nothing_written(session) -> bool:
    return all(session.scalar(select(func.count()).select_from(m)) == 0 for m in (Contact, Subscription))


def test_unsigned_request_is_401(client, shop, session):
    response = client.post(f"/proxy/subscriptions?shop={shop.domain}", json=BODY)

    assert (response.status_code, response.get_json()["error"]["code"]) == (401, "invalid_signature")
    assert _nothing_written(session)


def test_wrong_secret_is_401(client, shop, session):
    response = client.post(signed_proxy_url("subscriptions", shop.domain, "not-the-secret"), json=BODY)

    assert response.status_code == 401
    assert _nothing_written(session)


def test_tampered_query_is_401(client, shop, session):
    url = signed_proxy_url("subscriptions", shop.domain, SECRET, logged_in_customer_id=1)

    response = client.post(url.replace("logged_in_customer_id=1", "logged_in_customer_id=2"), json=BODY)

    assert response.status_code == 401
    assert _nothing_written(session)


def test_stale_timestamp_is_401(client, shop, session):
    stale = int(utcnow().timestamp()) - 91
    url = signed_proxy_url("subscriptions", shop.domain, SECRET, timestamp=stale)

    response = client.post(url, json=BODY)

    assert response.status_code == 401
    assert _nothing_written(session)


def test_variant_status_needs_the_signature_too(client, shop):
    assert client.get(f"/proxy/variants/1?shop={shop.domain}").status_code == 401


def test_unknown_shop_is_404(client, shop, session):
    response = client.post(signed_proxy_url("subscriptions", "other.myshopify.com", SECRET), json=BODY)

    assert response.status_code == 404
    assert response.get_json()["error"] == {"code": "unknown_shop", "message": "This shop does not have Backbell installed."}
    assert _nothing_written(session)


def test_uninstalled_shop_is_404(client, shop, session):
    shop.uninstalled_at = utcnow()
    session.commit()

    response = client.post(signed_proxy_url("subscriptions", shop.domain, SECRET), json=BODY)

    assert response.status_code == 404
    assert _nothing_written(session)


def test_signed_non_myshopify_domain_is_404(client, session):
    session.add(Shop(domain="shop.example.com", settings={}))
    session.commit()

    response = client.post(signed_proxy_url("subscriptions", "shop.example.com", SECRET), json=BODY)

    assert response.status_code == 404
    assert _nothing_written(session)


def test_answers_are_json_never_liquid(post_subscription):
    response = post_subscription({**BODY, "email": "{{ shop.secret }}@x"})

    assert response.status_code == 422
    assert response.mimetype == "application/json"
