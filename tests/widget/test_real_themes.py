"""The app embed on the Dawn 15 and Horizon 4 product pages (theme_pages.py), whose first cart form is
the price block's installments form: the widget goes directly under the form with the Add to cart
button and follows the variant the way each theme announces it. The first two tests check the pages
themselves behave like those themes. Screenshots: tests/artifacts/widget/{dawn15,horizon4}-embed.png."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.widget.conftest import record_measurement
from tests.widget.liquid_theme import load_product, option_value_id
from tests.widget.shopper import LARGE, MEDIUM, SMALL, XLARGE, open_product, pick
from tests.widget.theme_pages import MAIN_SECTION

pytestmark = pytest.mark.browser

DAWN, HORIZON = MAIN_SECTION["dawn"], MAIN_SECTION["horizon"]
SIZE_MEDIUM = option_value_id(load_product(), 1, 1)  # the option value id of Size: Medium

# Logs, in order, what a theme does when the variant changes: its fetches, history updates, 'change'
# events on input[name=id] (with the form's id), Horizon's ProductSelectEvent and what its promise
# resolves to, and Dawn's variantChange publication.
RECORD_THEME = """
window.__log = [];
const log = (...entry) => window.__log.push(entry);
const path = (url) => String(url).replace(location.origin, '');
const originalFetch = window.fetch;
window.fetch = (url, ...rest) => (log('fetch', path(url)), originalFetch(url, ...rest));
const originalReplace = history.replaceState;
history.replaceState = function (state, title, url) { log('replaceState', path(url)); return originalReplace.apply(this, arguments); };
document.addEventListener('change', (e) => e.target.name === 'id' && log('change', e.target.form.getAttribute('id'), e.target.value), true);
document.addEventListener('shopify:product:select', (e) => {
  log('select', e.detail.variantId);
  e.promise.then((r) => log('resolved', r.variant && r.variant.id, r.detail.resource && r.detail.resource.id), () => {});
}, true);
document.addEventListener('DOMContentLoaded', () => {
  if (typeof subscribe === 'function') subscribe(PUB_SUB_EVENTS.variantChange, (e) => log('variantChange', e.data.variant.id));
});
"""

PLACEMENT = """() => {
  const widget = document.querySelector('.bb');
  const forms = [...document.querySelectorAll('form[action*="/cart/add"]')];
  const productForm = forms.find((form) => form.querySelector('button[name="add"]'));
  const follows = (a, b) => Boolean(a.compareDocumentPosition(b) & Node.DOCUMENT_POSITION_FOLLOWING);
  const before = widget.previousElementSibling;
  return {
    cartForms: forms.map((form) => form.getAttribute('id')),  // form.id is its input[name=id]
    justAfter: before.localName,
    justAfterHoldsProductForm: before === productForm || before.contains(productForm),
    afterEveryCartForm: forms.every((form) => follows(form, widget)),
    afterVariantPicker: follows(document.querySelector('variant-selects, variant-picker'), widget),
  };
}"""


def theme_log(page) -> list:
    return page.evaluate("window.__log")


def test_the_dawn_15_page_changes_the_variant_the_way_dawn_15_does(page, storefront):
    # given the Dawn 15 page without the app, logging what the theme does
    page.add_init_script(RECORD_THEME)
    open_product(page, storefront, theme="dawn", install="none")
    # whose option radios sit in <variant-selects>, outside the product form, tied to it by form=
    radios = page.locator("variant-selects input[type=radio]")
    assert radios.evaluate_all("(rs) => rs.map((r) => [r.closest('form'), r.form.getAttribute('id')])") == [
        [None, f"product-form-{DAWN}"]
    ] * 4

    # when the shopper picks Medium
    pick(page, "dawn", MEDIUM)
    page.wait_for_function("window.__log.some((entry) => entry[0] === 'variantChange')")

    # then Dawn fetches its section for the chosen option value, puts ?variant= in the URL, sets the
    # variant in the installments form and the product form (a change event each), then publishes
    assert theme_log(page) == [
        ["fetch", f"/products/merino-crew?section_id={DAWN}&option_values={SIZE_MEDIUM}"],
        ["replaceState", f"/products/merino-crew?variant={MEDIUM}"],
        ["change", f"product-form-installment-{DAWN}", str(MEDIUM)],
        ["change", f"product-form-{DAWN}", str(MEDIUM)],
        ["variantChange", MEDIUM],
    ]



def test_the_horizon_4_page_changes_the_variant_the_way_horizon_4_does(page, storefront):
    # given the Horizon 4 page without the app, logging what the theme does
    page.add_init_script(RECORD_THEME)
    open_product(page, storefront, theme="horizon", install="none")

    # when the shopper picks Medium
    pick(page, "horizon", MEDIUM)
    page.wait_for_function("window.__log.some((entry) => entry[0] === 'resolved')")

    # then Horizon fires shopify:product:select at the click, before it fetches the whole page for the
    # chosen option value; ?variant= is set and the promise resolves to the variant after the fetch
    log = theme_log(page)
    assert log[:2] == [["select", str(MEDIUM)], ["fetch", f"/products/merino-crew?option_values={SIZE_MEDIUM}"]]
    assert sorted(log[2:]) == [
        ["replaceState", f"/products/merino-crew?theme=horizon&install=none&variant={MEDIUM}"],
        ["resolved", f"gid://shopify/ProductVariant/{MEDIUM}", MEDIUM],
    ]
    # and input[name=id] changed silently in the product form (no change event: none logged above)
    expect(page.locator('product-form-component input[name="id"]')).to_have_value(str(MEDIUM))


@pytest.mark.parametrize(("theme", "screenshot"), [("dawn", "dawn15-embed.png"), ("horizon", "horizon4-embed.png")])
def test_the_embed_sits_directly_under_the_add_to_cart_form(page, storefront, artifacts, theme, screenshot):
    # given only the app embed, on a page opened on a sold-out variant (installments on)
    widget = open_product(page, storefront, theme=theme, install="embed", variant=MEDIUM)
    expect(widget).to_be_visible()

    # when we look at where the widget landed
    placement = page.evaluate(PLACEMENT)

    # then the first cart form is the installments form, and the widget follows the product form (its
    # wrapper element), after the variant picker — not between the price and the picker
    first_form, product_form = {
        "dawn": (f"product-form-installment-{DAWN}", f"product-form-{DAWN}"),
        "horizon": ("product-form-installment-price", "BuyButtons-ProductForm-buy_buttons"),
    }[theme]
    assert placement == {
        "cartForms": [first_form, product_form],
        "justAfter": {"dawn": "product-form", "horizon": "product-form-component"}[theme],
        "justAfterHoldsProductForm": True,
        "afterEveryCartForm": True,
        "afterVariantPicker": True,
    }
    # and on screen it starts below the Add to cart button and the rest of the product form
    installments = page.locator(f"#{first_form}").bounding_box()
    button = page.locator(f'#{product_form} button[name="add"]').bounding_box()
    form = page.locator(f"#{product_form}").bounding_box()
    top = widget.bounding_box()["y"]
    record_measurement(
        f"{theme} embed (page {page.viewport_size['width']}px wide): installments form bottom "
        f"{installments['y'] + installments['height']:.0f}px, Add to cart bottom {button['y'] + button['height']:.0f}px, "
        f"product form bottom {form['y'] + form['height']:.0f}px, widget top {top:.0f}px"
    )
    assert top >= button["y"] + button["height"]
    assert top >= form["y"] + form["height"]
    page.screenshot(path=artifacts / screenshot, full_page=True)


@pytest.mark.parametrize("theme", ["dawn", "horizon"])
def test_the_embed_follows_the_variant_on_the_real_themes(page, storefront, theme):
    # given only the app embed, on a page opened on Small (in stock)
    widget = open_product(page, storefront, theme=theme, install="embed")
    expect(widget).to_be_hidden()

    # when the shopper picks each variant in turn, then the widget shows only for sold-out ones
    for variant_id, shown in ((MEDIUM, True), (LARGE, False), (XLARGE, True), (SMALL, False), (MEDIUM, True)):
        pick(page, theme, variant_id)
        expect(page).to_have_url(re.compile(rf"variant={variant_id}$"))
        if shown:
            expect(widget).to_be_visible()
            expect(page.locator('.bb input[name="variant_id"]')).to_have_value(str(variant_id))
        else:
            expect(widget).to_be_hidden()

    # and the theme's updates left it where it was placed
    assert page.evaluate(PLACEMENT)["justAfterHoldsProductForm"] is True
