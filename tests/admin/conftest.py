"""Fixtures for the embedded admin in a browser: the app served on a loopback port, Debian's
chromium with Shopify's CDN scripts answered by the stand-ins in ``tests/admin/standins/``, and
``window.shopify.idToken()`` returning session tokens the test mints."""

from __future__ import annotations

import urllib.request
from pathlib import Path

import pytest

from tests.doubles.server import serve_wsgi
from tests.doubles.shopify_admin import DEMO_SHOP, make_session_token
from tests.widget.conftest import CHROMIUM, CHROMIUM_ARGS

STANDINS = Path(__file__).resolve().parent / "standins"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "admin"
CDN_SCRIPTS = {
    "https://cdn.shopify.com/shopifycloud/app-bridge.js": "app-bridge.js",
    "https://cdn.shopify.com/shopifycloud/polaris-1.js": "polaris.js",
}
HOST = "YWRtaW4uc2hvcGlmeS5jb20vc3RvcmUvYmFja2JlbGwtZGVtbw"  # base64 of admin.shopify.com/store/backbell-demo
# Largest Contentful Paint and layout shifts, observed from the first byte of every document.
WEB_VITALS = """
window.__vitals = {lcp: null, cls: 0};
new PerformanceObserver(list => { for (const e of list.getEntries()) window.__vitals.lcp = e.renderTime || e.loadTime || e.startTime; })
  .observe({type: "largest-contentful-paint", buffered: true});
new PerformanceObserver(list => { for (const e of list.getEntries()) if (!e.hadRecentInput) window.__vitals.cls += e.value; })
  .observe({type: "layout-shift", buffered: true});
"""


@pytest.fixture(scope="module")
def chromium():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/ensure-browser")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def admin_server(app, installed_shop, runtime):
    """The app on a free loopback port, its APP_URL pointing there (Shopify's bounce URLs use it)."""
    server = serve_wsgi(app)
    runtime.settings = runtime.settings.with_overrides(app_url=server.url)
    yield server
    server.stop()


class Tokens:
    """What ``shopify.idToken()`` returns: a fresh token per call, or queued ones first (forged …)."""

    def __init__(self, api_key: str, secret: str, shop: str = DEMO_SHOP):
        self.api_key, self.secret, self.shop = api_key, secret, shop
        self.queued: list[str] = []
        self.minted = 0

    def __call__(self) -> str:
        self.minted += 1
        return self.queued.pop(0) if self.queued else make_session_token(self.shop, self.api_key, self.secret)


@pytest.fixture
def tokens(app_config) -> Tokens:
    return Tokens(app_config["shopify_api_key"], app_config["shopify_api_secret"])


@pytest.fixture
def admin(chromium, admin_server, tokens):
    """A browser page inside a stand-in Shopify admin; ``admin.open("dashboard")`` loads a page."""
    context = chromium.new_context(viewport={"width": 1200, "height": 900}, locale="en-US", accept_downloads=True)
    context.expose_function("__backbellMintToken", tokens)
    context.add_init_script(WEB_VITALS)
    context.route("https://cdn.shopify.com/**", _serve_standin)
    page = context.new_page()
    page.set_default_timeout(5000)
    yield AdminBrowser(page, admin_server.url, tokens)
    context.close()


def _serve_standin(route):
    name = CDN_SCRIPTS.get(route.request.url.split("?")[0])
    if name is None:
        return route.fulfill(status=404, body="not a stand-in")
    return route.fulfill(status=200, body=(STANDINS / name).read_text(), content_type="text/javascript",
                         headers={"Cache-Control": "max-age=300"})


class AdminBrowser:
    def __init__(self, page, url: str, tokens: Tokens):
        self.page, self.url, self.tokens = page, url, tokens

    def address(self, name: str, locale: str = "en", **params) -> str:
        path = "/app" if name == "home" else f"/app/{name}"
        query = "&".join(f"{k}={v}" for k, v in params.items())
        return (f"{self.url}{path}?embedded=1&shop={self.tokens.shop}&host={HOST}&locale={locale}"
                f"&id_token={self.tokens()}" + (f"&{query}" if query else ""))

    def open(self, name: str, locale: str = "en", **params):
        """Load a page as Shopify admin does (with an ID token) and wait for its scripts."""
        self.page.goto(self.address(name, locale, **params))
        self.page.wait_for_selector("html[data-bb-ready]", state="attached")
        return self.page

    def warm(self, name: str) -> None:
        """One request for the page before the browser's: a fresh app in each test would otherwise
        pay its cold start (database connections, template compilation) inside the measured load,
        which merchants on a running server never see."""
        with urllib.request.urlopen(self.address(name)) as response:
            assert response.status == 200

    def vitals(self) -> dict:
        self.page.wait_for_timeout(300)  # let the last paint be reported
        return self.page.evaluate("""() => {
          const nav = performance.getEntriesByType("navigation")[0];
          return {...window.__vitals, ttfb: nav.responseStart, dcl: nav.domContentLoadedEventEnd};
        }""")

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=path, full_page=True)
        return path
