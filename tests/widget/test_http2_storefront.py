"""The storefront double over HTTPS and HTTP/2 (``serve_storefront(..., http2=True)``), which
bench/storefront.py measures with Lighthouse: the whole Horizon-weight page — document, stylesheets,
fonts, module scripts, photo, the extension's files and the app proxy's answers — comes over h2, the
widget works through it, and Chromium trusts the run's certificate only when given its key's pin."""

from __future__ import annotations

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect, sync_playwright

from tests.widget.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.widget.shopper import MEDIUM
from tests.widget.storefront_server import page_path

pytestmark = pytest.mark.browser

PROTOCOLS = """() => [performance.getEntriesByType('navigation')[0], ...performance.getEntriesByType('resource')]
  .map((e) => [e.name.split('?')[0].split('/').pop(), e.nextHopProtocol])"""


def launch(playwright, *extra: str):
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=[*CHROMIUM_ARGS, *extra])


def test_the_horizon_weight_page_and_the_widget_come_over_http2_with_the_pinned_certificate(
        browser_tools, storefront_h2, artifacts):
    url = storefront_h2.url + page_path(theme="horizon", weight="real", variant=MEDIUM)
    with sync_playwright() as p:
        # given Chromium told to trust the run's certificate by its key's pin
        browser = launch(p, f"--ignore-certificate-errors-spki-list={storefront_h2.spki}")
        page = browser.new_page()
        page.set_default_timeout(10000)

        # when a shopper opens the sold-out Horizon-weight page and the widget has loaded
        page.goto(url)
        page.wait_for_function("window.Backbell")
        expect(page.locator(".bb__open")).to_be_visible()
        page.locator(".bb__open").click()
        expect(page.locator(".bb input[type=email]")).to_be_focused()
        page.fill('.bb input[name="email"]', "ada@fastmail.com")
        page.click(".bb__submit")
        expect(page.locator("[data-bb-status]")).to_have_text(
            "You're on the list! We'll let you know when Medium is back.")
        page.wait_for_load_state("networkidle")
        page.screenshot(path=artifacts / "horizon4-real-weight-h2-signed-up.png")

        # then every file of the page, the theme's and the extension's, came over HTTP/2
        files = page.evaluate(PROTOCOLS)
        assert len(files) > 40  # Horizon's 30-odd scripts, its stylesheets, fonts and photo
        assert {name for name, _ in files} >= {"merino-crew", "base.css", "product-photo.webp", "backbell.js",
                                                "backbell.css"}
        assert [f for f in files if f[1] != "h2"] == []
        # and the sign-up went through the storefront's app proxy to the app, once
        assert [(e.method, e.path, e.status) for e in storefront_h2.exchanges if e.method == "POST"] == [
            ("POST", "/apps/backbell/subscriptions", 201)]
        assert [f[1] for f in files if f[0] == "subscriptions"] == ["h2"]
        browser.close()

        # and without the pin Chromium refuses the certificate: nothing is trusted by accident
        untrusting = launch(p)
        with pytest.raises(PlaywrightError, match="ERR_CERT_AUTHORITY_INVALID"):
            untrusting.new_page().goto(url)
        untrusting.close()
