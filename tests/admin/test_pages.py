"""The admin's page documents through the Flask client: verified like App Home, links that keep
Shopify's parameters (never the ID token), the merchant's language, fingerprinted assets."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlparse

import pytest

from plugin.admin.pages import NAV
from plugin.dispatch.messages.restock import NoticeContext, render_restock
from plugin.models import Shop
from tests.doubles.shopify_admin import DEMO_SHOP, make_session_token

PAGES = ["/app", *(f"/app/{name}" for name in NAV)]


def _load(client, app_config, path, shop=DEMO_SHOP, **params):
    token = make_session_token(shop, app_config["shopify_api_key"], app_config["shopify_api_secret"])
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return client.get(f"{path}?embedded=1&shop={shop}&host=YWRtaW4&locale=fr&id_token={token}&{query}")


@pytest.mark.parametrize("path", PAGES)
def test_every_page_renders_in_the_layout_with_shopifys_scripts_and_framing(installed_shop, client, app_config, path):
    # when
    response = _load(client, app_config, path)

    # then
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert response.headers["Content-Security-Policy"] == f"frame-ancestors https://{DEMO_SHOP} https://admin.shopify.com;"
    assert page.index("app-bridge.js") < page.index("polaris-1.js") < page.index("/app/assets/admin.js")
    assert f'<meta name="shopify-api-key" content="{app_config["shopify_api_key"]}">' in page
    assert '<html lang="fr">' in page and "<s-app-nav>" in page


@pytest.mark.parametrize("path", PAGES)
def test_links_keep_shopifys_parameters_but_never_the_id_token(installed_shop, client, app_config, path):
    # when
    page = _load(client, app_config, path).get_data(as_text=True)

    # then
    links = re.findall(r'<s-link href="([^"]+)"', page)
    assert len(links) >= len(NAV) + 1
    for link in links:
        query = parse_qs(urlparse(link.replace("&amp;", "&")).query)
        assert query == {"shop": [DEMO_SHOP], "host": ["YWRtaW4"], "embedded": ["1"], "locale": ["fr"]}


@pytest.mark.parametrize("path", PAGES[1:])
def test_a_page_without_an_id_token_bounces_to_app_bridge_and_outside_admin_says_where_to_go(client, path):
    # when
    bounced = client.get(f"{path}?embedded=1&shop={DEMO_SHOP}&host=YWRtaW4")
    outside = client.get(path)

    # then
    assert bounced.status_code == 302
    assert urlparse(bounced.headers["Location"]).path == "/app/patch-id-token"
    assert parse_qs(urlparse(bounced.headers["Location"]).query)["shopify-reload"] == [
        f"{path}?embedded=1&shop={DEMO_SHOP}&host=YWRtaW4"]
    assert outside.status_code == 400 and "Open Backbell from your Shopify admin" in outside.get_data(as_text=True)


def test_empty_states_tell_a_new_merchant_the_next_step(installed_shop, client, app_config):
    # when
    pages = {name: _load(client, app_config, f"/app/{name}").get_data(as_text=True)
             for name in ("demand", "subscribers", "activity")}

    # then (French, as the admin asked)
    assert "Personne n’attend encore de variante épuisée" in pages["demand"]
    assert "Aucun abonné pour l’instant" in pages["subscribers"]
    assert "Rien ne s’est encore passé" in pages["activity"]


def test_assets_are_fingerprinted_and_cached_and_nothing_else_is_served(client):
    # when
    script, missing = client.get("/app/assets/admin.js"), client.get("/app/assets/../../config.py")

    # then
    assert script.status_code == 200 and script.mimetype == "text/javascript"
    assert script.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert missing.status_code == 404


def test_saved_wording_is_what_the_shoppers_get(installed_shop, client, app_config, session):
    # given
    bearer = {"Authorization": "Bearer " + make_session_token(DEMO_SHOP, app_config["shopify_api_key"],
                                                               app_config["shopify_api_secret"])}

    # when
    saved = client.put("/api/messages/de/sms", headers=bearer, json={"text": "{shop}: {item} ist da! {url}"})

    # then
    assert saved.status_code == 200
    settings = session.get(Shop, installed_shop.id).settings
    from plugin.dispatch.messages.overrides import restock_strings

    notice = render_restock(NoticeContext("Laden", "Mütze", "Blau", "10.00", "EUR", "de",
                                          wording=restock_strings(settings, "de")), "sms")
    assert notice.text == "Laden: Mütze (Blau) ist da! -bb_url-"


def test_unknown_variables_and_stray_braces_are_refused_naming_the_field(installed_shop, client, app_config, session):
    bearer = {"Authorization": "Bearer " + make_session_token(DEMO_SHOP, app_config["shopify_api_key"],
                                                               app_config["shopify_api_secret"])}

    unknown = client.put("/api/messages/en/email", headers=bearer, json={"subject": "{price} off", "text": "{item}"})
    stray = client.put("/api/messages/en/email", headers=bearer, json={"subject": "{product}", "text": "a { b"})
    url_in_email = client.put("/api/messages/en/email", headers=bearer, json={"subject": "{url}", "text": "x"})

    assert [(r.status_code, r.get_json()["error"]["field"]) for r in (unknown, stray, url_in_email)] == [
        (422, "subject"), (422, "text"), (422, "subject")]
    assert (session.get(Shop, installed_shop.id).settings or {}).get("message_overrides") is None


def test_the_settings_page_shows_linking_by_email_and_the_alert_limit_in_the_merchants_language(
        installed_shop, client, app_config):
    # when a French-speaking merchant opens the Settings page
    page = _load(client, app_config, "/app/settings").get_data(as_text=True)

    # then both settings have their field, labelled in French, with their current values
    assert ('<s-checkbox label="Retrouver les clients par l’adresse e-mail des abonnés (ordre VIP, relances)" '
            'name="link_customers_by_email" data-kind="bool"></s-checkbox>') in page
    assert re.search(r'<s-number-field label="Clore l’abonnement après ce nombre d’alertes sans achat" '
                     r'name="max_alerts_per_subscription" value="3" data-kind="int_or_off"', page)
