"""The test storefront answers the fetches Dawn 15 and Horizon 4 make when the variant changes, the way
Shopify does, and serves the Horizon-weight page with what Horizon 4.1 loads (no browser: the
storefront's WSGI app through werkzeug's test client)."""

from __future__ import annotations

import gzip
import html
import json
import re
from html.parser import HTMLParser

from werkzeug.test import Client

from tests.widget.heavy_theme import HORIZON, HORIZON_MODULEPRELOADS
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


class Tags(HTMLParser):
    """Every <link>, <script>, <img> and <style> of a page: (tag, attributes, in the head?, text)."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict, bool, str]] = []
        self.in_head = False

    def handle_starttag(self, tag, attrs):
        if tag == "head":
            self.in_head = True
        elif tag in ("link", "script", "img", "style"):
            self.tags.append((tag, {k: v for k, v in attrs}, self.in_head, ""))

    def handle_endtag(self, tag):
        if tag == "head":
            self.in_head = False

    def handle_data(self, data):
        if self.tags and self.tags[-1][0] in ("script", "style") and not self.tags[-1][3]:
            tag, attrs, head, _ = self.tags[-1]
            self.tags[-1] = (tag, attrs, head, data)


def test_the_horizon_weight_page_loads_what_horizon_4_1_loads_at_its_sizes_and_priorities():
    # given the Horizon 4 page with Horizon 4.1's weight, without the block
    client = storefront()
    answer = client.get("/products/merino-crew?theme=horizon&weight=real&install=none", headers={"Accept-Encoding": "gzip"})
    assert answer.status_code == 200 and answer.headers["Content-Encoding"] == "gzip"
    parser = Tags()
    parser.feed(gzip.decompress(answer.data).decode())
    tags = parser.tags
    src = lambda attrs: attrs.get("src") or attrs.get("href") or ""  # noqa: E731
    horizon = lambda attrs: src(attrs).removeprefix(HORIZON.url(""))  # noqa: E731

    # then the head's render-blocking CSS is base.css and the compiled {% stylesheet %} bundle, in that
    # order; overflow-list.css is only preloaded
    blocking = [horizon(a) for t, a, head, _ in tags if t == "link" and a.get("rel") == "stylesheet" and head and "onload" not in a]
    assert blocking == ["base.css", "styles.css"]
    assert [horizon(a) for t, a, _, _ in tags if t == "link" and a.get("rel") == "preload" and a.get("as") == "style"] == ["overflow-list.css"]
    # and no script blocks the parser: every classic script with a src is async or defer
    classic = [a for t, a, _, _ in tags if t == "script" and a.get("src") and a.get("type") != "module"]
    assert classic and all("async" in a or "defer" in a for a in classic)
    # and Horizon's ES modules: 9 modulepreloads and 30 module scripts (one twice, as scripts.liquid
    # names fly-to-cart.js again for the product template), all at low priority, resolved by the importmap
    preloads = [a for t, a, _, _ in tags if t == "link" and a.get("rel") == "modulepreload"]
    modules = [a for t, a, _, _ in tags if t == "script" and a.get("type") == "module" and a.get("src")]
    assert [horizon(a) for a in preloads] == list(HORIZON_MODULEPRELOADS)
    assert len(modules) == 31 and len({src(a) for a in modules}) == 30
    assert all(a.get("fetchpriority") == "low" for a in preloads + modules)
    importmap = json.loads(next(text for t, a, _, text in tags if t == "script" and a.get("type") == "importmap"))["imports"]
    # and the four font preloads (heading and accent share a file) at low priority, faces with swap
    fonts = [a for t, a, _, _ in tags if t == "link" and a.get("as") == "font"]
    assert len(fonts) == 4 and all(a.get("fetchpriority") == "low" and "crossorigin" in a for a in fonts)
    faces = re.findall(r"@font-face \{[^}]*\}", "".join(text for t, _, head, text in tags if t == "style" and head))
    assert len(faces) == 3 and all("font-display: swap" in face for face in faces)
    # and the product photo is the eager, high-priority image
    photo = next(a for t, a, _, _ in tags if t == "img")
    assert (photo["loading"], photo["fetchpriority"]) == ("eager", "high") and photo.get("srcset")

    # and every file is served gzipped at the size the table gives it (±1 %: stand-ins' non-ASCII)
    files = {horizon(a) for t, a, _, _ in tags if t in ("link", "script") and src(a).startswith(HORIZON.url(""))}
    assert files == set(HORIZON.stylesheets) | set(HORIZON.scripts)
    total = 0
    for name in sorted(files):
        served = client.get(HORIZON.url(name), headers={"Accept-Encoding": "gzip"})
        assert served.status_code == 200 and served.headers["Content-Encoding"] == "gzip", name
        body = gzip.decompress(served.data).decode()
        expected = {**HORIZON.stylesheets, **HORIZON.scripts}[name]
        assert abs(len(body.encode()) - expected) <= max(expected // 100, 2), name
        total += len(body.encode())
        # each module's imports resolve: '@theme/…' through the page's importmap, the rest relative
        for specifier in re.findall(r"^import .*? from '([^']+)';", body, re.M):
            assert specifier in importmap or specifier.startswith("./"), (name, specifier)
    assert 500_000 < total < 530_000
