import time

from sqlalchemy import create_engine, delete, func, select, update

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


def test_a_setting_saved_in_this_process_reaches_the_next_storefront_request(client, shop, session):
    # given the shop was read (and is kept) by a first sign-up
    url = lambda: signed_proxy_url("subscriptions", shop.domain, SECRET)  # noqa: E731
    assert client.post(url(), json={"variant_id": 1, "email": "a@shopper.dev"}).status_code == 201

    # when the merchant requires consent for email (saved through this process's database engine)
    shop.settings = {"require_email_consent": True}
    session.commit()

    # then the next sign-up without consent is refused at once
    response = client.post(url(), json={"variant_id": 1, "email": "b@shopper.dev"})
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "consent_required"


def test_an_uninstall_in_another_process_closes_the_storefront_within_the_kept_time(app, client, shop, session):
    # given the shop was read (and is kept) by a first request
    url = lambda: signed_proxy_url("variants/1", shop.domain, SECRET)  # noqa: E731
    assert client.get(url()).status_code == 200
    kept = app.extensions["backbell.storefront_shops"]

    # when another process (its own engine) marks the shop uninstalled
    other = create_engine(app.extensions["backbell"].settings.database_url)
    with other.begin() as connection:
        connection.execute(update(Shop).where(Shop.id == shop.id).values(uninstalled_at=utcnow()))
    other.dispose()

    # then this process answers from what it keeps until that is older than TTL_SECONDS
    assert client.get(url()).status_code == 200
    kept.TTL_SECONDS = 0.05  # (instead of waiting 2 s)
    time.sleep(0.06)
    assert client.get(url()).status_code == 404


def test_a_shop_erased_in_another_process_while_kept_answers_404_and_stores_nothing(app, client, shop, session):
    # given the shop was read (and is kept) by a first request
    assert client.get(signed_proxy_url("variants/1", shop.domain, SECRET)).status_code == 200

    # when another process erases the shop (shop/redact) and a shopper signs up within the kept time
    other = create_engine(app.extensions["backbell"].settings.database_url)
    with other.begin() as connection:
        connection.execute(delete(Shop).where(Shop.id == shop.id))
    other.dispose()
    response = client.post(signed_proxy_url("subscriptions", shop.domain, SECRET), json=BODY)

    # then
    assert response.status_code == 404
    assert _nothing_written(session)
