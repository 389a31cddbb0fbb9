"""The test storefront answers the fetches Dawn 15 and Horizon 4 make when the variant changes, the way
Shopify does (no browser: the storefront's WSGI app through werkzeug's test client)."""

from __future__ import annotations

import html
import json
import re

from werkzeug.test import Client

from tests.widget.liquid_theme import load_product, option_value_id
from tests.widget.shopper import NAVY_SMALL, WHITE_MEDIUM
from tests.widget.storefront_server import Storefront
from tests.widget.theme_pages import MAIN_SECTION

LINEN = load_product("linen-shirt")
NAVY, SMALL, MEDIUM = option_value_id(LINEN, 1, 1), option_value_id(LINEN, 2, 0), option_value_id(LINEN, 2, 1)


def storefront() -> Client:
    return Client(Storefront(app_url="http://127.0.0.1:9", shop_domain="wool-and-waves.myshopify.com", secret="hush"))


def selected_in(page: str, script: str) -> dict | None:
    return json.loads(re.search(rf"<script type=\"application/json\"{script}>(.*?)</script>", page, re.S).group(1))


def test_dawn_section_fetches_get_the_section_for_the_option_values_or_the_variant():
    # given a shopper on the Dawn 15 page
    client = storefront()
    assert client.get("/products/linen-shirt?theme=dawn").status_code == 200
    section = MAIN_SECTION["dawn"]

    # when Dawn fetches its section by option values (a variant change, and a combination that does not
    # exist), by variant (its quantity-rules refresh), and a section the page does not have
    navy_small = client.get(f"/products/linen-shirt?section_id={section}&option_values={NAVY},{SMALL}")
    navy_medium = client.get(f"/products/linen-shirt?section_id={section}&option_values={NAVY},{MEDIUM}")
    white_medium = client.get(f"/products/linen-shirt?section_id={section}&variant={WHITE_MEDIUM}")
    footer = client.get("/products/linen-shirt?section_id=footer")

    # then each answer is that section alone, naming the variant (null when there is none)
    assert [r.status_code for r in (navy_small, navy_medium, white_medium, footer)] == [200, 200, 200, 404]
    for answer in (navy_small, navy_medium, white_medium):
        assert answer.text.startswith(f'<section id="shopify-section-{section}" class="shopify-section section">')
        assert "<html" not in answer.text
    assert selected_in(navy_small.text, " data-selected-variant")["id"] == NAVY_SMALL
    assert selected_in(navy_medium.text, " data-selected-variant") is None
    assert selected_in(white_medium.text, " data-selected-variant")["id"] == WHITE_MEDIUM


def test_horizon_page_fetches_get_the_whole_horizon_page_for_the_option_values():
    # given a shopper on the Horizon 4 page (the storefront remembers the page's settings in a cookie)
    client = storefront()
    assert client.get("/products/linen-shirt?theme=horizon").status_code == 200

    # when Horizon fetches the product page with only ?option_values=
    answer = client.get(f"/products/linen-shirt?option_values={NAVY},{SMALL}")

    # then it is the Horizon page (not the default theme's) for Navy / Small, with the standard view payload
    assert answer.status_code == 200
    assert "<variant-picker" in answer.text and "<html" in answer.text
    assert selected_in(answer.text, "")["id"] == NAVY_SMALL
    payload = json.loads(html.unescape(re.search(r'view-event-payload="(.*?)"', answer.text).group(1)))
    assert payload["product"]["selectedVariant"]["id"] == f"gid://shopify/ProductVariant/{NAVY_SMALL}"
    assert payload["selectedOptions"] == [{"name": "Colour", "value": "Navy"}, {"name": "Size", "value": "Small"}]
