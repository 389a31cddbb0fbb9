"""What the block costs a product page as heavy as Dawn 15's real one (``weight=real``, heavy_theme.py),
in the browser: no file of the extension before the page has loaded, the button painted in place from
the inline styles (nothing shifts when the script and the form's styles arrive), the form's styles only
when the widget is shown — and a shopper quicker than the script loses nothing. Lighthouse's view of
the same page is in test_tooling.py. Screenshots: tests/artifacts/widget/dawn15-real-weight-*.png."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.widget.shopper import MEDIUM, SMALL, pick
from tests.widget.storefront_server import page_path

pytestmark = pytest.mark.browser

PHONE = {"viewport": {"width": 412, "height": 823}, "device_scale_factor": 1.75, "is_mobile": True}
RECORD_SHIFTS = (
    "window.__cls = 0; new PerformanceObserver((list) => { for (const e of list.getEntries())"
    " { if (!e.hadRecentInput) window.__cls += e.value; } }).observe({type: 'layout-shift', buffered: true});"
)
# Each extension file the page fetched, and whether the fetch started after the page's load event.
APP_FILES = """() => {
  const loaded = performance.getEntriesByType('navigation')[0].loadEventEnd;
  return performance.getEntriesByType('resource').filter((r) => r.name.includes('/assets/'))
    .map((r) => [r.name.split('/').pop(), loaded > 0 && r.startTime >= loaded]);
}"""


@pytest.fixture
def phone(browser):
    context = browser.new_context(**PHONE, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(10000)
    page.add_init_script(RECORD_SHIFTS)
    yield page
    context.close()


def heavy_page(storefront, variant: int) -> str:
    return storefront.url + page_path(theme="dawn", weight="real", variant=variant)


def hold_script(page) -> list:
    """Keep the request for backbell.js pending until the test lets it go (``held[0].continue_()``)."""
    held: list = []
    page.route("**/assets/backbell.js", lambda route: held.append(route))
    return held


def wait_for_request(page, held: list) -> None:
    while not held:
        page.wait_for_timeout(20)


def test_sold_out_the_button_paints_in_place_before_any_file_of_the_extension(phone, storefront, artifacts):
    # given the Dawn-weight page on a sold-out variant, with the widget's script held back
    held = hold_script(phone)
    phone.goto(heavy_page(storefront, MEDIUM))
    phone.wait_for_load_state("load")

    # then the button is already shown, styled by the inline styles alone (its final size)
    button = phone.locator(".bb__open")
    expect(button).to_be_visible()
    before = button.bounding_box()
    assert before["height"] >= 48 and before["width"] > 300
    phone.screenshot(path=artifacts / "dawn15-real-weight-sold-out-before-script.png", full_page=True)

    # when the script arrives (requested after load) and loads the form's styles
    wait_for_request(phone, held)
    held[0].continue_()
    phone.wait_for_function("window.Backbell")
    phone.wait_for_function("[...document.styleSheets].some((s) => (s.href || '').endsWith('/assets/backbell.css'))")
    phone.wait_for_load_state("networkidle")

    # then nothing moved, and each file came once, after the page's load event
    assert button.bounding_box() == before
    assert phone.evaluate("window.__cls") == 0
    assert sorted(phone.evaluate(APP_FILES)) == [["backbell.css", True], ["backbell.js", True]]
    phone.screenshot(path=artifacts / "dawn15-real-weight-sold-out.png")

    # and the form opens styled
    button.click()
    expect(phone.locator(".bb input[type=email]")).to_be_focused()
    assert phone.locator(".bb__panel").evaluate("(el) => getComputedStyle(el).borderRadius") == "8px"
    phone.screenshot(path=artifacts / "dawn15-real-weight-form-open.png", full_page=True)


def test_in_stock_the_page_fetches_the_script_after_load_and_never_the_styles(phone, storefront):
    # when the Dawn-weight page loads on an in-stock variant
    phone.goto(heavy_page(storefront, SMALL))
    phone.wait_for_function("window.Backbell")
    phone.wait_for_load_state("networkidle")

    # then the widget takes no space, nothing moved, and only the script came, after load
    assert phone.locator(".bb-block").bounding_box()["height"] == 0
    assert phone.evaluate("window.__cls") == 0
    assert phone.evaluate(APP_FILES) == [["backbell.js", True]]


def test_a_tap_before_the_script_arrives_opens_the_form_when_it_does(phone, storefront):
    # given a sold-out page whose widget script has not arrived yet
    held = hold_script(phone)
    phone.goto(heavy_page(storefront, MEDIUM))
    phone.wait_for_load_state("load")

    # when the shopper taps the button, then the script arrives
    phone.locator(".bb__open").click()
    wait_for_request(phone, held)
    expect(phone.locator(".bb__panel")).to_be_hidden()
    held[0].continue_()

    # then the form opens, ready to type in
    expect(phone.locator(".bb__panel")).to_be_visible()
    expect(phone.locator(".bb input[type=email]")).to_be_focused()
    expect(phone.locator(".bb__open")).to_have_attribute("aria-expanded", "true")


def test_a_variant_picked_before_the_script_arrives_is_the_one_it_shows(phone, storefront):
    # given an in-stock page whose widget script has not arrived yet
    held = hold_script(phone)
    phone.goto(heavy_page(storefront, SMALL))
    phone.wait_for_load_state("load")
    widget = phone.locator(".bb")
    expect(widget).to_be_hidden()

    # when the shopper picks Medium (sold out: Dawn fetches its section, sets ?variant=, publishes) and
    # only then the script arrives
    pick(phone, "dawn", MEDIUM)
    phone.wait_for_function(f"location.search.includes('variant={MEDIUM}')")
    wait_for_request(phone, held)
    held[0].continue_()

    # then the widget shows, for Medium
    expect(widget).to_be_visible()
    expect(phone.locator('.bb input[name="variant_id"]')).to_have_value(str(MEDIUM))


# Two larger paints after `load`, as on a store: a heading repainted when its web font swaps in, then a
# bigger block (a late image, a review widget) a quarter second later. Each is a new largest-paint
# candidate; every candidate's time is kept.
LATE_PAINTS = """
window.__lcp = [];
new PerformanceObserver((list) => window.__lcp.push(...list.getEntries().map((e) => e.startTime)))
  .observe({ type: 'largest-contentful-paint', buffered: true });
addEventListener('load', () => {
  const block = (tag, text, size) => document.body.prepend(Object.assign(document.createElement(tag),
    { textContent: text, style: `font-size:${size}px;line-height:1.1;margin:0` }));
  setTimeout(() => block('h2', 'Merino, knitted slowly. '.repeat(8), 48), 30);
  setTimeout(() => block('p', 'Soft on bare skin, warm in a sea breeze. '.repeat(40), 36), 280);
}, { once: true });
"""


def test_the_script_waits_until_the_largest_paint_has_settled(phone, storefront):
    # given an in-stock Dawn-weight page whose largest paint changes twice after `load`
    phone.add_init_script(LATE_PAINTS)

    # when it loads, the widget's script arrives and both late candidates have been reported
    phone.goto(heavy_page(storefront, SMALL))
    phone.wait_for_function("window.Backbell")
    phone.wait_for_function("window.__lcp.filter((t) => t > performance.getEntriesByType('navigation')[0].loadEventEnd)"
                            ".length >= 2")

    # then the script was requested after the last of them (before it, Lighthouse counts the request into
    # the largest paint's time)
    candidates = phone.evaluate("window.__lcp")
    requested = phone.evaluate("performance.getEntriesByName(new URL(document.querySelector('[data-backbell]')"
                               ".dataset.script, location.href).href)[0].startTime")
    assert requested > max(candidates), (requested, candidates)
