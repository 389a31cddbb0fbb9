"""Fixtures for the widget tests: an installed shop, the app served over HTTP behind a local
Shopify-style app proxy, and Debian's chromium driven by Playwright."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from plugin.models import Shop
from tests.doubles.server import serve_wsgi
from tests.widget.storefront_server import serve_storefront

SHOP_DOMAIN = "wool-and-waves.myshopify.com"
SECRET = "hush"  # the app_config fixture's shopify_api_secret
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
# For Lighthouse (its --chrome-flags): PaintHolding off, because headless Chromium otherwise withholds the
# first frame of a page whose render-blocking stylesheets take more than ~170 ms — viz stops sending
# BeginFrames to a renderer that has not acked ten (it holds its first commit meanwhile) and sends the next
# only a second later (Lighthouse issue #17148). The first paint then lands 1 or 2 s after `load` and
# Lantern's LCP graph takes in every request made before it. A one-line page with a 300 ms stylesheet:
# first paint 1,215 and 1,247 ms with the feature, 391 and 414 ms without (bench/RESULTS.md section 6).
LIGHTHOUSE_CHROME_FLAGS = " ".join(["--headless=new", "--disable-features=PaintHolding", *CHROMIUM_ARGS])
WIDGET_DIR = Path(__file__).resolve().parent
LIGHTHOUSE = WIDGET_DIR / "node_modules" / ".bin" / "lighthouse"
ARTIFACTS = WIDGET_DIR.parents[1] / "tests" / "artifacts" / "widget"


def run_lighthouse(url: str, scratch: Path, spki: str, save_trace: bool = False) -> tuple[dict, dict | None]:
    """One Lighthouse run (mobile emulation, simulated throttling, performance only) of ``url`` served
    over HTTPS with the certificate whose SPKI hash is ``spki``: its JSON report, and with
    ``save_trace`` the trace it simulated from. The one command line of CI's ``lighthouse`` test and
    ``bench/storefront.py``; a failed run raises with the end of Lighthouse's output."""
    report = scratch / "report.json"
    command = [str(LIGHTHOUSE), url, "--only-categories=performance", "--output=json", f"--output-path={report}",
               "--quiet", f"--chrome-flags={LIGHTHOUSE_CHROME_FLAGS} --ignore-certificate-errors-spki-list={spki}",
               *(["--save-assets"] if save_trace else [])]
    done = subprocess.run(command, env={**os.environ, "CHROME_PATH": CHROMIUM}, capture_output=True, text=True,
                          timeout=180)
    if done.returncode != 0:
        raise RuntimeError(f"lighthouse exited {done.returncode}: {done.stderr[-2000:]}")
    trace = json.loads((scratch / "report-0.trace.json").read_text()) if save_trace else None
    return json.loads(report.read_text()), trace


def _tools_missing() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is missing: run scripts/ensure-browser"
    if not (WIDGET_DIR / "node_modules").is_dir() or not shutil.which("node"):
        return "node or tests/widget/node_modules is missing: run scripts/ensure-browser"
    return None


@pytest.fixture(scope="session")
def browser_tools() -> None:
    """Fail loudly (not skip) when the browser tooling is absent: these tests are part of the suite."""
    problem = _tools_missing()
    if problem:
        pytest.fail(problem)


@pytest.fixture(scope="module")
def browser(browser_tools):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1100, "height": 1000}, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(5000)
    yield page
    context.close()


@pytest.fixture
def shop(session) -> Shop:
    shop = Shop(domain=SHOP_DOMAIN, name="Wool & Waves", settings={})
    session.add(shop)
    session.commit()
    return shop


@pytest.fixture
def storefront(app, shop):
    """The storefront at ``storefront.url``; ``/apps/backbell/*`` reaches the app, signed."""
    backend = serve_wsgi(app)
    server, front = serve_storefront(backend.url, SHOP_DOMAIN, SECRET)
    front.url = server.url
    yield front
    server.stop()
    backend.stop()


@pytest.fixture
def storefront_h2(app, shop):
    """The same storefront over HTTPS and HTTP/2 on one connection, as Shopify serves a store;
    Chromium trusts its certificate only with ``--ignore-certificate-errors-spki-list={storefront_h2.spki}``."""
    backend = serve_wsgi(app)
    server, front = serve_storefront(backend.url, SHOP_DOMAIN, SECRET, http2=True)
    front.url, front.spki = server.url, server.spki
    yield front
    server.stop()
    backend.stop()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


MEASUREMENTS = ARTIFACTS / "measurements.txt"


def record_measurement(line: str) -> None:
    """Print a measured number and keep it in tests/artifacts/widget/measurements.txt, because
    pytest-xdist workers' output is not shown; the root conftest's terminal summary prints the file."""
    print(f"\n{line}")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with MEASUREMENTS.open("a") as out:
        out.write(line + "\n")


def run_node(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(["node", *args], cwd=WIDGET_DIR, capture_output=True, text=True, timeout=timeout)
