"""Where the app embed puts the widget, rule by rule, on small pages built for each rule (the built
backbell.js on each; the real Dawn 15 and Horizon 4 pages are in test_real_themes.py)."""

from __future__ import annotations

import pytest

from tests.widget.liquid_theme import EXTENSION, Block, PageRequest, load_product, make_environment, render_block

pytestmark = pytest.mark.browser

INSTALLMENTS = '<form id="installments" action="/cart/add"><input name="id"><shopify-payment-terms></shopify-payment-terms></form>'

PAGES = {
    # Dawn 15 / Horizon 4: the installments form comes first; the product form holds button[name=add]
    "the form holding the add button": (
        f'{INSTALLMENTS}<div id="picker"></div><form id="product" action="/cart/add"><input name="id"><button name="add">Add</button></form><p id="rest"></p>',
        "product",
    ),
    # the add button outside its form, tied to it by form=: under the button
    "the add button of a form it is tied to by form=": (
        f'{INSTALLMENTS}<form id="product" action="/cart/add"><input name="id"></form><button id="add" name="add" form="product">Add</button>',
        "add",
    ),
    "a form marked as the add-to-cart form": (
        f'{INSTALLMENTS}<form id="product" action="/cart/add" data-type="add-to-cart-form"><input name="id"><button>Add</button></form>',
        "product",
    ),
    "the cart form that is not an installments form": (
        f'{INSTALLMENTS}<form id="product" action="/cart/add"><input name="id"><button>Add</button></form>',
        "product",
    ),
    "a custom element the form ends: after the element": (
        f'{INSTALLMENTS}<product-form id="wrapper"><div></div><form id="product" action="/cart/add"><input name="id"><button name="add">Add</button></form></product-form>',
        "wrapper",
    ),
    "a custom element with more after the form: after the form": (
        f'{INSTALLMENTS}<product-form><form id="product" action="/cart/add"><button name="add">Add</button></form><p></p></product-form>',
        "product",
    ),
    "a cart form in main before one outside it": (
        '<header><form id="quick" action="/cart/add"><button name="add">Add</button></form></header>'
        '<main><form id="product" action="/cart/add"><button name="add">Add</button></form></main>',
        "product",
    ),
}


@pytest.fixture(scope="module")
def embed_html() -> str:
    env = make_environment()
    return render_block(env, Block.load("notify-me-embed"), PageRequest(variant_id=44100000000002), load_product(), "EmBd456")


@pytest.mark.parametrize("rule", PAGES)
def test_the_embed_goes_right_after(page, embed_html, rule):
    # given a page with that arrangement of cart forms, and the app embed
    body, expected = PAGES[rule]
    page.set_content(f"<!doctype html><html><body>{body}{embed_html}</body></html>")

    # when the widget script runs
    page.add_script_tag(path=str(EXTENSION / "assets" / "backbell.js"))

    # then the widget is placed once, right after the expected element
    assert page.evaluate("[...document.querySelectorAll('.bb')].map((w) => w.previousElementSibling.getAttribute('id'))") == [expected]
