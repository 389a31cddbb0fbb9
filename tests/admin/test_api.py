import time

from sqlalchemy import func, select

from plugin.clock import utcnow
from plugin.models import SENT, WAITING, Contact, Notification, RestockEvent, Shop, Subscription
from tests.doubles.shopify_admin import DEMO_SHOP, install_shop_directly, make_session_token

RETRY = "X-Shopify-Retry-Invalid-Session-Request"


def _bearer(app_config, shop=DEMO_SHOP, secret=None, **claims):
    token = make_session_token(shop, app_config["shopify_api_key"], secret or app_config["shopify_api_secret"], **claims)
    return {"Authorization": f"Bearer {token}"}


def _activity(session, shop_id: int, waiting: int, restocks: int, sent: int) -> None:
    contact = Contact(shop_id=shop_id, channel="email", value_ciphertext="x", value_hash=f"h{shop_id}")
    session.add(contact)
    session.flush()
    subscriptions = [Subscription(shop_id=shop_id, contact_id=contact.id, variant_id=100 + i, channel="email",
                                  status=WAITING if i < waiting else "notified") for i in range(max(waiting, sent))]
    session.add_all(subscriptions)
    events = [RestockEvent(shop_id=shop_id, variant_id=100, available=3, source="webhook") for _ in range(restocks)]
    session.add_all(events)
    session.flush()
    session.add_all(Notification(shop_id=shop_id, subscription_id=subscriptions[i].id,
                                 restock_event_id=events[0].id, channel="email", status=SENT) for i in range(sent))
    session.commit()


def test_overview_counts_this_shops_activity(shopify_admin, installed_shop, runtime, client, app_config, session):
    # given: activity in this shop and in another one
    other = install_shop_directly(runtime, shopify_admin, "other-shop.myshopify.com")
    _activity(session, installed_shop.id, waiting=3, restocks=2, sent=1)
    _activity(session, other.id, waiting=5, restocks=1, sent=4)

    # when
    response = client.get("/api/overview", headers=_bearer(app_config))

    # then
    assert response.status_code == 200
    assert response.get_json() == {"shop": DEMO_SHOP, "waiting_subscriptions": 3, "restock_events": 2,
                                   "notifications_sent": 1}


def test_overview_without_a_token_is_401_with_the_retry_header(installed_shop, client):
    # when
    response = client.get("/api/overview")

    # then
    assert response.status_code == 401
    assert response.headers[RETRY] == "1"
    assert response.get_json()["error"]["code"] == "invalid_session_token"


def test_overview_with_a_forged_token_is_401_with_the_retry_header(installed_shop, client, app_config):
    # when
    response = client.get("/api/overview", headers=_bearer(app_config, secret="guess"))

    # then
    assert response.status_code == 401
    assert response.headers[RETRY] == "1"


def test_overview_with_an_expired_token_is_401(installed_shop, client, app_config):
    # when
    response = client.get("/api/overview", headers=_bearer(app_config, exp=int(time.time()) - 60))

    # then
    assert response.status_code == 401
    assert response.headers[RETRY] == "1"


def test_overview_with_a_token_for_another_app_is_401(installed_shop, client, app_config):
    # when
    response = client.get("/api/overview", headers=_bearer(app_config, aud="another-app"))

    # then
    assert response.status_code == 401
    assert response.headers[RETRY] == "1"


def test_overview_with_a_non_bearer_authorization_is_401(installed_shop, client):
    # when
    response = client.get("/api/overview", headers={"Authorization": "Basic dXNlcjpwYXNz"})

    # then
    assert response.status_code == 401
    assert response.headers[RETRY] == "1"


def test_overview_accepts_a_token_signed_with_the_old_secret_during_rotation(
        shopify_admin, installed_shop, client, app_config, app):
    # given: the app was configured with a new secret and the old one
    runtime = app.extensions["backbell"]
    runtime.settings = runtime.settings.with_overrides(shopify_api_secret="new-secret",
                                                       shopify_api_secret_old=app_config["shopify_api_secret"])

    # when
    response = client.get("/api/overview", headers=_bearer(app_config))

    # then
    assert response.status_code == 200


def test_overview_for_an_uninstalled_shop_is_403(installed_shop, client, app_config, session):
    # given
    session.get(Shop, installed_shop.id).uninstalled_at = utcnow()
    session.commit()

    # when
    response = client.get("/api/overview", headers=_bearer(app_config))

    # then
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "shop_not_installed"


def test_overview_for_an_unknown_shop_is_403_and_writes_nothing(shopify_admin, client, app_config, session):
    # when
    response = client.get("/api/overview", headers=_bearer(app_config, shop="stranger.myshopify.com"))

    # then
    assert response.status_code == 403
    assert session.scalar(select(func.count()).select_from(Shop)) == 0
