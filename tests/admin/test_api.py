import time

from sqlalchemy import func, select

from plugin.clock import utcnow
from plugin.models import Shop
from tests.doubles.shopify_admin import DEMO_SHOP, make_session_token

RETRY = "X-Shopify-Retry-Invalid-Session-Request"


def _bearer(app_config, shop=DEMO_SHOP, secret=None, **claims):
    token = make_session_token(shop, app_config["shopify_api_key"], secret or app_config["shopify_api_secret"], **claims)
    return {"Authorization": f"Bearer {token}"}


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
