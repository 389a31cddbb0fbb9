"""What a shopper does on the test storefront's product pages, whichever theme renders them."""

from __future__ import annotations

from playwright.sync_api import Locator, Page

from tests.widget.storefront_server import page_path

SMALL, MEDIUM, LARGE, XLARGE = 44100000000001, 44100000000002, 44100000000003, 44100000000004  # merino-crew
TITLES = {SMALL: "Small", MEDIUM: "Medium", LARGE: "Large", XLARGE: "X-Large"}
WHITE_MEDIUM, NAVY_SMALL = 44200000000002, 44200000000003  # linen-shirt; Navy / Medium does not exist


def open_product(page: Page, storefront, **query) -> Locator:
    """Open a product page and wait for the widget's script, which the boot snippet loads after the page
    has loaded and painted (test_widget_browser.py covers a shopper who is quicker than that)."""
    page.goto(storefront.url + page_path(**query))
    page.wait_for_load_state("load")
    page.wait_for_function("() => window.Backbell || !document.querySelector('[data-backbell]')")
    return page.locator(".bb")


def option_label(page: Page, value: str) -> Locator:
    """The label of one option value: Dawn puts it after its radio, Horizon around it. Dawn keeps the
    replaced picker, hidden, for 500 ms after a change, so only the visible one counts."""
    radio = f'input[type="radio"][value="{value}"]'
    return page.locator(f"main {radio} + label, main label:has(> {radio})").filter(visible=True)


def choose(page: Page, value: str) -> None:
    """Click one option value (e.g. "Navy") on a multi-option product.

    Horizon marks a sold-out value aria-disabled="true" yet lets shoppers pick it (to see it, and to ask
    to be told); Playwright counts aria-disabled as disabled, so on Horizon's <variant-picker> the click
    skips that check (Horizon morphs its picker in place, so the label stays put). Dawn swaps in a new
    picker after each change, so there the click keeps Playwright's checks and retries."""
    horizon = page.locator("variant-picker").count() > 0
    option_label(page, value).click(force=horizon)


def pick(page: Page, theme: str, variant_id: int) -> None:
    """Choose a merino-crew variant the way a shopper does on that theme."""
    if theme == "select":
        page.select_option('select[name="id"]', str(variant_id))
    else:
        choose(page, TITLES[variant_id])
