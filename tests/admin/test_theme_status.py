import json

from plugin.admin.theme_status import (
    block_in_product_template,
    block_link,
    embed_enabled,
    embed_link,
    read_theme_status,
)
from tests.doubles.shopify_admin import DEMO_SHOP

BLOCK = "shopify://apps/backbell/blocks/notify-me/0199a7c4-5e7b-7c1e-9d64-1f3e2b9a0c11"
EMBED = "shopify://apps/backbell/blocks/notify-me-embed/0199a7c4-5e7b-7c1e-9d64-1f3e2b9a0c11"
HEADER = "/*\n * IMPORTANT: The contents of this file are auto-generated.\n */\n"


def _product(*blocks: dict) -> str:
    return HEADER + json.dumps({"sections": {"main": {"type": "main-product", "blocks": {
        f"b{i}": block for i, block in enumerate(blocks)}}}, "order": ["main"]})


def _settings(*blocks: dict, preset: bool = False) -> str:
    current = {"blocks": {f"e{i}": block for i, block in enumerate(blocks)}}
    body = {"current": "Default", "presets": {"Default": current}} if preset else {"current": current}
    return HEADER + json.dumps(body)


def test_the_block_counts_when_it_is_in_a_product_section_and_not_disabled():
    assert block_in_product_template(_product({"type": "title"}, {"type": BLOCK, "settings": {}}))
    assert not block_in_product_template(_product({"type": BLOCK, "disabled": True}))
    assert not block_in_product_template(_product({"type": "shopify://apps/other-app/blocks/notify-me/1"}))
    assert not block_in_product_template(_product({"type": EMBED}))
    assert not block_in_product_template("not json {")


def test_the_embed_counts_when_listed_and_not_disabled_also_in_a_named_preset():
    assert embed_enabled(_settings({"type": EMBED, "disabled": False}))
    assert embed_enabled(_settings({"type": EMBED}, preset=True))
    assert not embed_enabled(_settings({"type": EMBED, "disabled": True}))
    assert not embed_enabled(_settings({"type": BLOCK}))
    assert not embed_enabled("")


def test_deep_links_open_the_theme_editor_on_the_product_page():
    assert block_link(DEMO_SHOP, "key") == (f"https://{DEMO_SHOP}/admin/themes/current/editor?template=product"
                                            "&addAppBlockId=key/notify-me&target=mainSection")
    assert embed_link(DEMO_SHOP, "key") == (f"https://{DEMO_SHOP}/admin/themes/current/editor?context=apps"
                                            "&template=product&activateAppId=key/notify-me-embed")


def test_status_is_read_from_the_live_theme_through_admin_graphql(shopify_admin, installed_shop, runtime, session):
    # given the live theme has the embed on and no block
    state = shopify_admin.shops[DEMO_SHOP]
    state.theme_name = "Horizon"
    state.theme_files = {"templates/product.json": _product({"type": "title"}),
                         "config/settings_data.json": _settings({"type": EMBED, "disabled": False})}

    # when
    status = read_theme_status(runtime, session, DEMO_SHOP)

    # then
    assert (status.readable, status.theme_name, status.block_on, status.embed_on) == (True, "Horizon", False, True)
    assert [r["operation"] for r in shopify_admin.graphql_requests()] == ["MainThemeFiles"]


def test_status_is_unknown_not_an_error_when_shopify_fails(shopify_admin, installed_shop, runtime, session):
    # given
    shopify_admin.fail_next(503, n=5)

    # when
    status = read_theme_status(runtime, session, DEMO_SHOP)

    # then
    assert (status.readable, status.widget_on) == (False, False)


def test_home_reads_the_theme_once_a_minute_per_shop(shopify_admin, installed_shop, runtime, session):
    # given Home opened twice within the minute, then once after it
    from datetime import timedelta

    from plugin import clock
    from plugin.admin.theme_status import THEME_STATUS_TTL, cached_theme_status

    first = cached_theme_status(runtime, session, DEMO_SHOP)
    second = cached_theme_status(runtime, session, DEMO_SHOP)
    with clock.travel(THEME_STATUS_TTL + timedelta(seconds=1)):
        cached_theme_status(runtime, session, DEMO_SHOP)
    # then Shopify was asked twice, and the answers agree
    assert first == second and first.readable
    assert len(shopify_admin.graphql_requests("MainThemeFiles")) == 2


# -- Home without waiting for Shopify ---------------------------------------------------------------
def _home(client, app_config, locale="en"):
    from tests.doubles.shopify_admin import make_session_token

    token = make_session_token(DEMO_SHOP, app_config["shopify_api_key"], app_config["shopify_api_secret"])
    response = client.get("/app", query_string={"embedded": "1", "shop": DEMO_SHOP, "host": "YWRtaW4",
                                                "locale": locale, "id_token": token})
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _theme_status(client, app_config, **params):
    from tests.admin.test_api import _bearer

    return client.get("/api/theme-status", query_string=params, headers=_bearer(app_config))


def test_a_first_home_is_sent_without_asking_shopify_and_the_api_fills_it_in(
        shopify_admin, installed_shop, client, app_config):
    # given the live theme has the block, and nothing was read in the last minute
    state = shopify_admin.shops[DEMO_SHOP]
    state.theme_name = "Dawn"
    state.theme_files = {"templates/product.json": _product({"type": BLOCK}),
                         "config/settings_data.json": _settings()}

    # when Home is opened
    page = _home(client, app_config, locale="de")

    # then it did not wait for Shopify: a placeholder (with the theme editor's link) says it is checking
    assert shopify_admin.graphql_requests("MainThemeFiles") == []
    assert 'data-status="checking"' in page and 'data-api="/api/theme-status"' in page
    assert "Wir prüfen" in page and "addAppBlockId=" in page.replace("&amp;", "&")

    # when the page's script asks
    response = _theme_status(client, app_config, locale="de", shop=DEMO_SHOP, host="YWRtaW4", embedded="1")

    # then the status, and the fragment in the merchant's language with the page's link parameters
    body = response.get_json()
    assert response.status_code == 200
    assert body["theme"] == {"readable": True, "theme_name": "Dawn", "block_on": True, "embed_on": False}
    assert 'data-status="block"' in body["html"] and "Live-Theme: Dawn" in body["html"]
    assert f"/app/settings?shop={DEMO_SHOP}&amp;host=YWRtaW4&amp;embedded=1&amp;locale=de" in body["html"]
    assert len(shopify_admin.graphql_requests("MainThemeFiles")) == 1

    # and Home within the minute shows it at once, without asking again
    again = _home(client, app_config)
    assert 'data-status="block"' in again and 'data-api=' not in again
    assert len(shopify_admin.graphql_requests("MainThemeFiles")) == 1


def test_the_theme_status_api_says_unknown_when_shopify_fails_and_refuses_unknown_parameters(
        shopify_admin, installed_shop, client, app_config):
    # given
    shopify_admin.fail_next(503, n=5)

    # when
    body = _theme_status(client, app_config).get_json()
    refused = _theme_status(client, app_config, theme="1")

    # then
    assert body["theme"]["readable"] is False and 'data-status="unknown"' in body["html"]
    assert refused.status_code == 422 and refused.get_json()["error"]["field"] == "theme"
