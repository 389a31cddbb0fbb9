from datetime import timedelta

import pytest

from plugin.clock import utcnow
from plugin.models import Shop
from plugin.shopify.admin_api import AdminApiError, AdminClient
from plugin.shopify.errors import ShopNotInstalled
from tests.doubles.shopify_admin import DEMO_SHOP


class RecordingSleep:
    """Collects the delays the client asked for instead of sleeping."""

    def __init__(self):
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def _client(runtime, session, **options):
    return AdminClient.for_shop(runtime, session, DEMO_SHOP, **options)


def test_execute_returns_data_and_sends_the_token_to_the_shops_origin(shopify_admin, installed_shop, runtime, session):
    # given
    shopify_admin.add_shop(DEMO_SHOP, name="Demo Goods", timezone="Europe/Berlin", currency="EUR")

    # when
    with _client(runtime, session) as client:
        data = client.execute("ShopBasics")

    # then
    assert data == {"shop": {"name": "Demo Goods", "myshopifyDomain": DEMO_SHOP, "ianaTimezone": "Europe/Berlin",
                             "currencyCode": "EUR", "contactEmail": "owner@example.com"}}
    [sent] = shopify_admin.graphql_requests("ShopBasics")
    assert (sent["shop"], sent["version"]) == (DEMO_SHOP, "2026-10")
    assert shopify_admin.token_valid(DEMO_SHOP, sent["token"])


def test_throttled_answer_waits_for_the_restore_rate_then_succeeds(shopify_admin, installed_shop, runtime, session):
    # given: Shopify answers THROTTLED once; the bucket holds 50 points less than requested at 100/s
    shopify_admin.add_variant(DEMO_SHOP, 5, levels={1: 2})
    shopify_admin.throttle_next(1)
    sleep = RecordingSleep()

    # when
    with _client(runtime, session, sleep=sleep) as client:
        data = client.execute("VariantStock", {"ids": ["gid://shopify/ProductVariant/5"]})

    # then
    assert data["nodes"][0]["id"] == "gid://shopify/ProductVariant/5"
    assert sleep.delays == [0.5]
    assert len(shopify_admin.graphql_requests("VariantStock")) == 2


def test_429_with_retry_after_waits_as_long_as_shopify_asks(shopify_admin, installed_shop, runtime, session):
    # given
    shopify_admin.fail_next(429, retry_after=3)
    sleep = RecordingSleep()

    # when
    with _client(runtime, session, sleep=sleep) as client:
        data = client.execute("ShopBasics")

    # then
    assert data["shop"]["myshopifyDomain"] == DEMO_SHOP
    assert sleep.delays == [3.0]


def test_5xx_raises_a_transient_error_at_once_for_the_tasks_retry(shopify_admin, installed_shop, runtime, session):
    # given
    shopify_admin.fail_next(502, n=10)
    sleep = RecordingSleep()

    # when
    with _client(runtime, session, sleep=sleep) as client:
        with pytest.raises(AdminApiError) as raised:
            client.execute("ShopBasics")

    # then: no backoff sleeps inside the request; Celery's autoretry backs off instead
    assert raised.value.transient is True
    assert raised.value.status == 502
    assert sleep.delays == []
    assert len(shopify_admin.graphql_requests()) == 1


def test_total_wait_is_bounded(shopify_admin, installed_shop, runtime, session):
    # given: Shopify asks for a 30 s pause, more than the client may wait in total
    shopify_admin.fail_next(429, retry_after=30)
    sleep = RecordingSleep()

    # when
    with _client(runtime, session, sleep=sleep, max_total_wait=10.0) as client:
        with pytest.raises(AdminApiError) as raised:
            client.execute("ShopBasics")

    # then
    assert raised.value.transient is True
    assert sleep.delays == []


def test_graphql_errors_raise_a_permanent_error_without_retrying(shopify_admin, installed_shop, runtime, session):
    # given: a query with a variable of the wrong shape (valid document, bad input)
    sleep = RecordingSleep()

    # when
    with _client(runtime, session, sleep=sleep) as client:
        with pytest.raises(AdminApiError) as raised:
            client.execute("VariantStock", {"ids": "not-a-list-of-gids"})

    # then
    assert raised.value.transient is False
    assert sleep.delays == []
    assert len(shopify_admin.graphql_requests()) == 1


def test_401_refreshes_the_token_once_and_retries(shopify_admin, installed_shop, runtime, session):
    # given: Shopify revoked the access token we hold
    with _client(runtime, session) as client:
        shopify_admin.revoke_access_token(client._token)
        old_ciphertext = session.get(Shop, installed_shop.id).access_token

        # when
        data = client.execute("ShopBasics")

    # then
    assert data["shop"]["myshopifyDomain"] == DEMO_SHOP
    assert shopify_admin.refreshes == 1
    stored = session.get(Shop, installed_shop.id)
    assert stored.access_token != old_ciphertext
    assert shopify_admin.token_valid(DEMO_SHOP, runtime.vault.decrypt(stored.access_token))


def test_second_401_after_refresh_is_a_permanent_error(shopify_admin, installed_shop, runtime, session):
    # given: Shopify rejects every token (e.g. the app lost its access) — emulate by revoking after refresh
    with _client(runtime, session) as client:
        shopify_admin.revoke_access_token(client._token)
        shopify_admin.access_token_ttl = -10  # refreshed tokens come back already expired

        # when
        with pytest.raises(AdminApiError) as raised:
            client.execute("ShopBasics")

    # then
    assert raised.value.transient is False
    assert raised.value.status == 401
    assert shopify_admin.refreshes == 1


def test_for_shop_refreshes_a_token_about_to_expire(shopify_admin, installed_shop, runtime, session):
    # given: the stored token expires in two minutes
    row = session.get(Shop, installed_shop.id)
    row.access_token_expires_at = utcnow() + timedelta(minutes=2)
    session.commit()

    # when
    with _client(runtime, session) as client:
        client.execute("ShopBasics")

    # then
    assert shopify_admin.refreshes == 1
    session.expire_all()
    assert session.get(Shop, installed_shop.id).access_token_expires_at > utcnow() + timedelta(minutes=55)


def test_for_shop_refuses_an_uninstalled_shop(shopify_admin, installed_shop, runtime, session):
    # given
    row = session.get(Shop, installed_shop.id)
    row.uninstalled_at = utcnow()
    session.commit()

    # when / then
    with pytest.raises(ShopNotInstalled):
        _client(runtime, session)
    assert shopify_admin.requests == []


def test_for_shop_refuses_an_unknown_shop(shopify_admin, runtime, session):
    with pytest.raises(ShopNotInstalled):
        AdminClient.for_shop(runtime, session, "nobody.myshopify.com")
    assert shopify_admin.requests == []


def test_for_shop_accepts_the_shop_row(shopify_admin, installed_shop, runtime, session):
    # when
    with AdminClient.for_shop(runtime, session, installed_shop) as client:
        data = client.execute("ShopBasics")

    # then
    assert client.shop == DEMO_SHOP
    assert data["shop"]["myshopifyDomain"] == DEMO_SHOP


def test_a_document_that_fails_schema_validation_is_refused_and_recorded(shopify_admin, installed_shop, runtime, session):
    # given: a field Shopify does not have
    document = "query Broken { shop { name inventoryCount } }"

    # when
    with _client(runtime, session) as client:
        with pytest.raises(AdminApiError) as raised:
            client.execute(document)

    # then: the client gives up at once, and the double kept the failure for the fixture to report
    assert raised.value.transient is False
    assert "inventoryCount" in raised.value.message
    recorded = list(shopify_admin.validation_failures)
    shopify_admin.validation_failures.clear()  # expected here; any other test would fail at teardown
    assert recorded == ["Broken: Cannot query field 'inventoryCount' on type 'Shop'. Did you mean 'inventoryItems'?"]
