from datetime import timedelta
from urllib.parse import parse_qs, urlparse

from sqlalchemy import func, select

from plugin.clock import utcnow
from plugin.models import Shop
from tests.doubles.shopify_admin import make_session_token

SHOP = "fresh-goods.myshopify.com"


def _load(client, app_config, shop=SHOP, **claims):
    token = make_session_token(shop, app_config["shopify_api_key"], app_config["shopify_api_secret"], **claims)
    return client.get(f"/app?embedded=1&shop={shop}&host=YWRtaW4&id_token={token}")


def _shop_rows(session) -> int:
    return session.scalar(select(func.count()).select_from(Shop))


def test_first_load_exchanges_the_id_token_and_stores_tokens_encrypted(shopify_admin, client, app_config, runtime, session):
    # given
    shopify_admin.add_shop(SHOP, name="Fresh Goods", timezone="Asia/Tokyo", currency="JPY", locale="ja")

    # when
    response = _load(client, app_config)

    # then
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'data-page="home"' in page
    assert f'<meta name="shopify-api-key" content="{app_config["shopify_api_key"]}">' in page
    assert '<script src="https://cdn.shopify.com/shopifycloud/app-bridge.js"></script>' in page
    assert '<script src="https://cdn.shopify.com/shopifycloud/polaris-1.js"></script>' in page
    assert response.headers["Content-Security-Policy"] == f"frame-ancestors https://{SHOP} https://admin.shopify.com;"
    assert shopify_admin.exchanges == 1
    shop = session.scalar(select(Shop).where(Shop.domain == SHOP))
    access, refresh = runtime.vault.decrypt(shop.access_token), runtime.vault.decrypt(shop.refresh_token)
    assert shop.access_token != access and access not in shop.access_token
    assert shop.refresh_token != refresh and refresh not in shop.refresh_token
    assert shopify_admin.token_valid(SHOP, access)
    assert refresh in shopify_admin.refresh_tokens
    assert timedelta(minutes=59) < shop.access_token_expires_at - utcnow() <= timedelta(hours=1)
    assert timedelta(days=89) < shop.refresh_token_expires_at - utcnow() <= timedelta(days=90)
    assert (shop.name, shop.timezone, shop.currency, shop.primary_locale) == ("Fresh Goods", "Asia/Tokyo", "JPY", "ja")
    assert shop.scopes == shopify_admin.scopes
    assert shop.uninstalled_at is None


def test_exchange_asks_for_an_expiring_offline_token(shopify_admin, client, app_config):
    # when
    _load(client, app_config)

    # then
    assert [c["grant_type"] for c in shopify_admin.token_calls] == ["token_exchange"]
    assert shopify_admin.token_calls[0]["ok"] is True
    assert [r["host"] for r in shopify_admin.requests if r["kind"] == "token"] == [urlparse(shopify_admin.url).netloc]


def test_second_load_makes_no_exchange(shopify_admin, client, app_config, session):
    # given
    _load(client, app_config)

    # when
    response = _load(client, app_config)

    # then
    assert response.status_code == 200
    assert shopify_admin.exchanges == 1
    assert _shop_rows(session) == 1


def test_load_without_id_token_bounces_to_the_patch_page_and_writes_nothing(shopify_admin, client, app_config, session):
    # when
    response = client.get(f"/app?embedded=1&shop={SHOP}&host=YWRtaW4")

    # then
    assert response.status_code == 302
    location = urlparse(response.headers["Location"])
    assert (location.scheme + "://" + location.netloc, location.path) == (app_config["app_url"], "/app/patch-id-token")
    assert parse_qs(location.query)["shopify-reload"] == [f"/app?embedded=1&shop={SHOP}&host=YWRtaW4"]
    assert _shop_rows(session) == 0
    assert shopify_admin.token_calls == []


def test_load_with_a_forged_id_token_bounces_and_writes_nothing(shopify_admin, client, session):
    # given: signed with somebody else's secret
    token = make_session_token(SHOP, "test-api-key", "not-our-secret")

    # when
    response = client.get(f"/app?shop={SHOP}&id_token={token}")

    # then
    assert response.status_code == 302
    assert urlparse(response.headers["Location"]).path == "/app/patch-id-token"
    assert _shop_rows(session) == 0
    assert shopify_admin.token_calls == []


def test_load_with_a_token_for_another_app_is_refused_and_writes_nothing(shopify_admin, client, app_config, session):
    # when
    response = _load(client, app_config, aud="some-other-app")

    # then
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "invalid_session_token"
    assert _shop_rows(session) == 0
    assert shopify_admin.token_calls == []


def test_refused_exchange_answers_502_and_writes_nothing(shopify_admin, client, app_config, session):
    # given: Shopify does not recognise our client credentials
    shopify_admin.app_config = dict(app_config, shopify_api_secret="rotated-elsewhere")

    # when
    response = _load(client, app_config)

    # then
    assert response.status_code == 502
    assert response.get_json()["error"]["code"] == "token_exchange_failed"
    assert _shop_rows(session) == 0
    assert [c["ok"] for c in shopify_admin.token_calls] == [False]


def test_reinstall_after_uninstall_exchanges_again_and_clears_uninstalled_at(
        shopify_admin, client, app_config, session):
    # given
    _load(client, app_config)
    shop = session.scalar(select(Shop).where(Shop.domain == SHOP))
    old_token = shop.access_token
    shop.uninstalled_at = utcnow() - timedelta(days=1)
    session.commit()

    # when
    response = _load(client, app_config)

    # then
    assert response.status_code == 200
    assert shopify_admin.exchanges == 2
    session.expire_all()
    shop = session.scalar(select(Shop).where(Shop.domain == SHOP))
    assert shop.uninstalled_at is None
    assert shop.access_token != old_token
    assert _shop_rows(session) == 1


def test_install_survives_missing_shop_basics(shopify_admin, client, app_config, session):
    # given: Shopify is down for GraphQL right after the exchange
    shopify_admin.fail_next(503, n=20)

    # when
    response = _load(client, app_config)

    # then: installed with defaults; the basics are read on a later load
    assert response.status_code == 200
    shop = session.scalar(select(Shop).where(Shop.domain == SHOP))
    assert (shop.timezone, shop.currency, shop.access_token is not None) == ("UTC", "USD", True)


def test_patch_id_token_page_loads_app_bridge(client, app_config):
    # when
    response = client.get(f"/app/patch-id-token?shop={SHOP}&shopify-reload=%2Fapp")

    # then
    assert response.status_code == 200
    assert response.get_data(as_text=True) == (
        f'<script data-api-key="{app_config["shopify_api_key"]}" '
        'src="https://cdn.shopify.com/shopifycloud/app-bridge.js"></script>'
    )
