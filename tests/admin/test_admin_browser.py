"""The embedded admin in Debian's chromium, against the running app, inside a stand-in Shopify
admin (tests/admin/standins/). Screenshots of every page go to tests/artifacts/admin/."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.widget.conftest import record_measurement

pytestmark = pytest.mark.browser

PAGES = ["home", "dashboard", "demand", "subscribers", "messages", "settings", "activity"]
LCP_BUDGET_MS, CLS_BUDGET = 1000, 0.05


@pytest.mark.parametrize("name", PAGES)
def test_every_page_loads_fast_and_steady(admin, name):
    # given a running server
    admin.warm(name)

    # when
    page = admin.open(name)
    vitals = admin.vitals()
    admin.screenshot(name)

    # then
    record_measurement(f"admin web vitals /app{'' if name == 'home' else '/' + name}: "
                       f"LCP {vitals['lcp']:.0f} ms, CLS {vitals['cls']:.3f} "
                       f"(first byte {vitals['ttfb']:.0f} ms, DOM ready {vitals['dcl']:.0f} ms)")
    expect(page.locator("#bb-not-loaded")).to_be_hidden()
    assert vitals["lcp"] is not None and vitals["lcp"] <= LCP_BUDGET_MS
    assert vitals["cls"] <= CLS_BUDGET
