import threading
from datetime import timedelta

import pytest

from plugin import clock
from plugin.clock import utcnow
from plugin.models import Shop
from plugin.shopify.errors import ShopNotInstalled
from plugin.shopify.tokens import ensure_fresh_token
from tests.doubles.shopify_admin import DEMO_SHOP, install_shop_directly, make_session_token


def _expire_in(session, shop_id: int, delta: timedelta) -> None:
    session.get(Shop, shop_id).access_token_expires_at = utcnow() + delta
    session.commit()


def test_a_fresh_token_is_returned_without_calling_shopify(shopify_admin, installed_shop, runtime, session):
    # when
    token = ensure_fresh_token(runtime, session, DEMO_SHOP)

    # then
    assert token == runtime.vault.decrypt(installed_shop.access_token)
    assert shopify_admin.token_calls == []


def test_a_token_expiring_within_five_minutes_is_refreshed_and_both_tokens_stored(
        shopify_admin, installed_shop, runtime, session):
    # given
    _expire_in(session, installed_shop.id, timedelta(minutes=4))
    old_refresh = runtime.vault.decrypt(installed_shop.refresh_token)

    # when
    token = ensure_fresh_token(runtime, session, DEMO_SHOP)

    # then
    assert shopify_admin.refreshes == 1
    stored = session.get(Shop, installed_shop.id)
    assert runtime.vault.decrypt(stored.access_token) == token
    assert shopify_admin.token_valid(DEMO_SHOP, token)
    new_refresh = runtime.vault.decrypt(stored.refresh_token)
    assert new_refresh != old_refresh and new_refresh in shopify_admin.refresh_tokens
    assert stored.access_token_expires_at > utcnow() + timedelta(minutes=55)


def test_a_token_with_six_minutes_left_is_not_refreshed(shopify_admin, installed_shop, runtime, session):
    # given
    _expire_in(session, installed_shop.id, timedelta(minutes=6))

    # when
    ensure_fresh_token(runtime, session, DEMO_SHOP)

    # then
    assert shopify_admin.token_calls == []


def test_a_revoked_refresh_token_means_the_shop_must_reinstall(shopify_admin, installed_shop, runtime, session):
    # given: Shopify no longer knows our refresh token
    _expire_in(session, installed_shop.id, timedelta(minutes=-1))
    shopify_admin.refresh_tokens.clear()

    # when
    with pytest.raises(ShopNotInstalled):
        ensure_fresh_token(runtime, session, DEMO_SHOP)

    # then: the dead pair is forgotten (the next /app load exchanges a new one), and a second
    # caller does not ask Shopify again
    session.expire_all()
    row = session.get(Shop, installed_shop.id)
    assert (row.access_token, row.refresh_token, row.uninstalled_at) == (None, None, None)
    with pytest.raises(ShopNotInstalled):
        ensure_fresh_token(runtime, session, DEMO_SHOP)
    assert [c["ok"] for c in shopify_admin.token_calls] == [False]


def test_an_expired_refresh_token_is_not_even_sent(shopify_admin, installed_shop, runtime, session):
    # given
    row = session.get(Shop, installed_shop.id)
    row.access_token_expires_at = utcnow() - timedelta(minutes=1)
    row.refresh_token_expires_at = utcnow() - timedelta(seconds=1)
    session.commit()

    # when / then
    with pytest.raises(ShopNotInstalled):
        ensure_fresh_token(runtime, session, DEMO_SHOP)
    assert shopify_admin.token_calls == []


@pytest.mark.pg_only  # SELECT … FOR UPDATE row locks; SQLite has none (one writer, in-process tasks)
def test_concurrent_callers_share_one_refresh(shopify_admin, installed_shop, runtime, session):
    # given: an expiring token and a slow token endpoint, so both callers are in flight together
    _expire_in(session, installed_shop.id, timedelta(minutes=1))
    shopify_admin.token_delay = 0.3
    barrier, results, errors = threading.Barrier(2), [], []

    def caller():
        own = runtime.db.sessionmaker()
        try:
            barrier.wait()
            results.append(ensure_fresh_token(runtime, own, DEMO_SHOP))
        except Exception as err:  # surfaced below with its message
            errors.append(err)
        finally:
            own.close()

    threads = [threading.Thread(target=caller) for _ in range(2)]

    # when
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    # then
    assert errors == []
    assert shopify_admin.refreshes == 1
    assert len(results) == 2 and results[0] == results[1]
    assert shopify_admin.token_valid(DEMO_SHOP, results[0])


def test_after_a_refused_refresh_the_next_app_load_installs_again(
        shopify_admin, installed_shop, runtime, session, client, app_config):
    # given Shopify refused our refresh token (revoked grant) during background work
    _expire_in(session, installed_shop.id, timedelta(minutes=-1))
    shopify_admin.refresh_tokens.clear()
    with pytest.raises(ShopNotInstalled):
        ensure_fresh_token(runtime, session, DEMO_SHOP)
    # when the merchant opens the app
    id_token = make_session_token(DEMO_SHOP, app_config["shopify_api_key"], app_config["shopify_api_secret"])
    response = client.get(f"/app?embedded=1&shop={DEMO_SHOP}&host=YWRtaW4&id_token={id_token}")
    # then a token exchange replaced the dead pair, and background work has a token again
    assert response.status_code == 200
    assert shopify_admin.exchanges == 1
    session.expire_all()
    token = ensure_fresh_token(runtime, session, DEMO_SHOP)
    assert shopify_admin.token_valid(DEMO_SHOP, token)


def test_a_refreshed_pair_expires_on_the_app_clock_when_it_runs_ahead(shopify_admin, runtime, session):
    # given the app's clock years ahead of the wall clock (shopify_app stamps expiries on the wall clock),
    # and a shop installed on it whose access token has just expired
    with clock.travel(timedelta(days=5 * 365)):
        shop = install_shop_directly(runtime, shopify_admin)
        _expire_in(session, shop.id, timedelta(minutes=-1))

        # when
        ensure_fresh_token(runtime, session, DEMO_SHOP)
        token = ensure_fresh_token(runtime, session, DEMO_SHOP)

        # then one refresh, and the new pair lives an hour and 90 days from the app's now
        stored = session.get(Shop, shop.id)
        assert shopify_admin.refreshes == 1
        assert runtime.vault.decrypt(stored.access_token) == token
        assert timedelta(minutes=59) < stored.access_token_expires_at - utcnow() <= timedelta(hours=1)
        assert timedelta(days=89) < stored.refresh_token_expires_at - utcnow() <= timedelta(days=90)
