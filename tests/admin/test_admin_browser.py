"""The embedded admin in Debian's chromium, against the running app, inside a stand-in Shopify
admin (tests/admin/standins/). Screenshots of every page go to tests/artifacts/admin/."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from plugin.admin.subscribers import CSV_HEADER as SUBSCRIBER_HEADER
from plugin.clock import utcnow
from plugin.models import Shop, Subscription, Variant
from tests.dispatch.builders import VARIANT_ID, make_variant
from tests.doubles.shopify_admin import DEMO_SHOP, make_session_token
from tests.measurement.dashboard_builders import sign_up, told_and_bought
from tests.widget.conftest import record_measurement

pytestmark = pytest.mark.browser

PAGES = ["home", "dashboard", "demand", "subscribers", "messages", "settings", "activity"]
LCP_BUDGET_MS, CLS_BUDGET = 1000, 0.05


@pytest.mark.lighthouse  # a timing measurement: it runs in the stage that has the machine to itself
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


def _metric(page, name: str) -> str:
    return page.locator(f'.bb-metric[data-metric="{name}"] dd').inner_text()


def test_a_cold_home_paints_first_then_shows_the_theme_status_in_place(admin, shopify_admin):
    # given nothing read from the live theme yet (it has neither the block nor the embed)
    numbers = 'xpath=//s-section[.//*[contains(@class, "bb-metric")]]'

    # when
    page = admin.open("home")
    top = page.locator(numbers).first.evaluate("s => s.getBoundingClientRect().top")
    page.wait_for_selector("#bb-theme-slot[data-filled]", state="attached")
    admin.screenshot("home-theme-filled")

    # then the status came from /api/theme-status, the deep links are there, and nothing moved
    expect(page.locator("#bb-theme-status")).to_have_attribute("data-status", "off")
    expect(page.locator("#bb-add-block")).to_have_attribute("href", re.compile("addAppBlockId="))
    assert len(shopify_admin.graphql_requests("MainThemeFiles")) == 1
    assert page.locator(numbers).first.evaluate("s => s.getBoundingClientRect().top") == top
    assert admin.vitals()["cls"] <= CLS_BUDGET


def test_the_dashboard_shows_exactly_the_numbers_set_up(admin, app, client, session, runtime, installed_shop):
    # given 5 shoppers told of a restock, 2 of whom bought at 49.00, and 3 still waiting elsewhere
    told_and_bought(app, client, session, runtime, installed_shop, told=5, bought=2, price="49.00")
    sign_up(session, runtime, installed_shop, ["w1@gmail.com", "w2@gmail.com", "w3@gmail.com"], variant_id=77)

    # when
    page = admin.open("dashboard", period="all")
    admin.screenshot("dashboard-with-numbers")

    # then
    shown = {name: _metric(page, name) for name in ("waiting", "notified", "delivered", "opened", "clicked",
                                                    "purchased", "conversion", "revenue")}
    assert shown == {"waiting": "3", "notified": "5", "delivered": "0", "opened": "0", "clicked": "0",
                     "purchased": "2", "conversion": "40.0%", "revenue": "$98.00"}
    bars = page.locator("#bb-trend rect")
    assert sorted(int(v) for v in bars.evaluate_all("rs => rs.map(r => r.dataset.value)") if v != "0") == [2, 5]
    expect(page.locator("#bb-empty")).to_have_count(0)


def test_search_a_subscriber_by_email(admin, session, runtime, installed_shop):
    # given
    sign_up(session, runtime, installed_shop, ["ada@gmail.com", "bob@gmail.com"], variant_id=5)
    page = admin.open("subscribers")
    expect(page.locator("s-table-row[data-subscriber]")).to_have_count(2)

    # when the merchant searches (the form reloads the page through Shopify's ID-token bounce)
    page.locator('s-search-field[name="q"] input').fill("ADA@gmail.com")
    page.locator("#bb-subscriber-search s-button[type=submit]").click()
    page.wait_for_url("**/app/subscribers?*id_token=*")
    page.wait_for_selector("html[data-bb-ready]", state="attached")
    admin.screenshot("subscribers-search")

    # then
    rows = page.locator("s-table-row[data-subscriber]")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("ada@gmail.com")
    assert page.locator('s-search-field[name="q"]').evaluate("f => f.value") == "ADA@gmail.com"  # as typed


def test_page_through_subscribers_with_the_filter_kept(admin, session, runtime, installed_shop):
    # given 60 shoppers waiting for variant 5 and one for variant 6 (newest)
    five = sign_up(session, runtime, installed_shop, [f"s{i}@gmail.com" for i in range(60)], variant_id=5)
    sign_up(session, runtime, installed_shop, ["six@gmail.com"], variant_id=6)
    page = admin.open("subscribers", status="waiting")
    rows = page.locator("s-table-row[data-subscriber]")
    expect(rows).to_have_count(50)

    # when the merchant goes to the next page (a real URL: Shopify's ID-token bounce, then the page)
    page.locator("#bb-next").click()
    page.wait_for_url("**/app/subscribers?*cursor=*id_token=*")
    page.wait_for_selector("html[data-bb-ready]", state="attached")
    admin.screenshot("subscribers-page-2")

    # then the last 11 (the oldest of variant 5) are there, the filter kept, and back works
    shown = rows.evaluate_all("rs => rs.map(r => Number(r.dataset.subscriber))")
    assert shown == sorted(five, reverse=True)[49:]
    assert page.locator('s-select[name="status"]').evaluate("s => s.value") == "waiting"
    expect(page.locator("#bb-next")).to_have_attribute("disabled", "")
    page.locator("#bb-previous").click()
    page.wait_for_url("**/app/subscribers?*id_token=*")
    page.wait_for_selector("html[data-bb-ready]", state="attached")
    expect(rows).to_have_count(50)


def test_export_subscribers_as_csv_and_parse_it(admin, session, runtime, installed_shop):
    # given
    sign_up(session, runtime, installed_shop, ["ada@gmail.com", "bob@gmail.com"], variant_id=5)
    page = admin.open("subscribers")

    # when
    with page.expect_download() as download:
        page.locator("#bb-subscribers-csv").click()
    text = Path(download.value.path()).read_text(encoding="utf-8")

    # then
    rows = list(csv.reader(io.StringIO(text)))
    assert tuple(rows[0]) == SUBSCRIBER_HEADER
    assert sorted(row[1] for row in rows[1:]) == ["ada@gmail.com", "bob@gmail.com"]
    assert download.value.suggested_filename == "backbell-subscribers.csv"


def test_delete_a_subscriber(admin, session, runtime, installed_shop):
    # given
    ada, bob = sign_up(session, runtime, installed_shop, ["ada@gmail.com", "bob@gmail.com"], variant_id=5)
    page = admin.open("subscribers")

    # when
    page.locator(f'[data-delete="{ada}"]').click()

    # then
    expect(page.locator("s-table-row[data-subscriber]")).to_have_count(1)
    session.expire_all()
    assert [s.id for s in session.scalars(select(Subscription))] == [bob]


def test_messages_refuse_an_unknown_variable_inline_then_save_preview_and_test_send(
        admin, session, installed_shop, instance_path):
    # given
    page = admin.open("messages", language="en", channel="email")
    subject = page.locator('s-text-field[name="subject"]')

    # when the merchant types a misspelt variable and saves
    subject.locator("input").fill("Back: {prodcut} at {shop}")
    expect(page.locator("#bb-preview-subject")).to_have_text("Back: {prodcut} at Wool & Waves")
    page.locator("#bb-message-save").click()

    # then the field says what is wrong, and it stays said; nothing was stored
    error = subject.locator(".error")
    expect(error).to_contain_text("{prodcut} is not a variable here")
    page.wait_for_timeout(1500)
    expect(error).to_be_visible()
    admin.screenshot("messages-unknown-variable")
    assert _stored_wording(session, installed_shop) == {}

    # when the merchant fixes it, saves, and sends a test to themselves
    subject.locator("input").fill("Back: {product} at {shop}")
    expect(page.locator("#bb-preview-subject")).to_have_text("Back: Merino beanie at Wool & Waves")
    page.locator("#bb-message-save").click()
    expect(error).to_have_count(0)
    page.wait_for_function("window.__toasts.length > 0")
    page.locator('s-text-field[name="to"] input').fill("owner@gmail.com")
    page.locator("#bb-message-test").click()
    page.wait_for_function("window.__toasts.length > 1")

    # then the wording is stored and the test reached the outbox
    assert _stored_wording(session, installed_shop) == {
        "en": {"email": {"subject": "Back: {product} at {shop}",
                         "intro": "{item} is back in stock at {shop}. Stock may be limited."}}}
    sent = [json.loads(line) for line in (instance_path / "outbox" / "outbox.jsonl").read_text().splitlines()]
    assert [(m["kind"], m["to"], m["subject"]) for m in sent] == [
        ("test", "owner@gmail.com", "Back: Merino beanie at Wool & Waves")]


def test_the_app_nav_reaches_another_page_through_the_id_token_bounce(admin):
    # given
    page = admin.open("dashboard")
    minted = admin.tokens.minted

    # when the merchant picks Subscribers in the app nav
    page.locator("s-app-nav a", has_text="Subscribers").click()
    page.wait_for_selector('s-page[data-page="subscribers"]')

    # then App Bridge fetched a fresh ID token for the new document
    assert admin.tokens.minted == minted + 1
    expect(page.locator("#bb-empty")).to_contain_text("No subscribers yet")


def test_an_api_call_refused_for_its_token_is_retried_once_with_a_fresh_one(admin, app_config):
    # given the first token App Bridge hands out is forged
    page = admin.open("dashboard")
    admin.tokens.queued = [make_session_token(DEMO_SHOP, app_config["shopify_api_key"], "forged")]
    minted = admin.tokens.minted

    # when
    status = page.evaluate("window.backbellApi('/api/overview').then(r => r.status)")

    # then
    assert (status, admin.tokens.minted - minted) == (200, 2)


def test_a_page_stays_readable_when_polaris_does_not_load(admin, app, client, session, runtime, installed_shop):
    # given Shopify's CDN fails to deliver Polaris
    told_and_bought(app, client, session, runtime, installed_shop, told=3, bought=1, price="20.00")
    admin.page.route("https://cdn.shopify.com/shopifycloud/polaris-1.js", lambda route: route.abort())

    # when
    admin.page.goto(admin.address("dashboard", period="all"))

    # then the numbers are there as plain HTML and the merchant is told to reload
    expect(admin.page.locator("#bb-not-loaded")).to_be_visible()
    assert _metric(admin.page, "notified") == "3" and _metric(admin.page, "purchased") == "1"
    admin.screenshot("dashboard-without-polaris")


def test_the_admin_speaks_the_merchants_language(admin):
    # when
    page = admin.open("dashboard", locale="de")

    # then
    expect(page.locator("s-page")).to_have_attribute("heading", "Übersicht")
    expect(page.locator("s-app-nav a", has_text="Abonnenten")).to_have_count(1)
    assert page.locator("html").get_attribute("lang") == "de"
    admin.screenshot("dashboard-de")


def _stored_wording(session, shop) -> dict:
    session.expire_all()
    return (session.get(Shop, shop.id).settings or {}).get("message_overrides", {})


def _api_settings(page) -> dict:
    return page.evaluate("window.backbellApi('/api/settings').then(r => r.json())")["settings"]


def test_change_a_setting_and_see_it_stored_and_a_bad_value_refused_inline(admin, app, session, installed_shop):
    # given (the field keeps focus until the merchant clicks the save bar, which is in Shopify
    # admin's frame: the click blurs the field first, and its `change` reaches the page mid-click)
    page = admin.open("settings")
    save_bar = page.locator("#standin-save-bar")
    expect(save_bar).to_have_count(0)
    assert _api_settings(page)["batch_per_unit"] != 5

    # when the merchant changes a setting: the contextual save bar appears; saving stores it
    page.locator('[name="batch_per_unit"] input').fill("5")
    expect(save_bar).to_be_visible()
    admin.screenshot("settings-unsaved")
    save_bar.get_by_role("button", name="Save").click()
    expect(save_bar).to_have_count(0)
    page.wait_for_function("window.__toasts.some(t => t.message === 'Saved' && !t.isError)")
    assert _api_settings(page)["batch_per_unit"] == 5
    session.expire_all()
    assert session.get(Shop, installed_shop.id).settings["batch_per_unit"] == 5

    # when a bad value is saved: refused beside its field, in red, until edited; nothing stored
    page.locator('[name="quiet_hours_start"] input').fill("25")
    save_bar.get_by_role("button", name="Save").click()
    error = page.locator('[name="quiet_hours_start"] .error')
    expect(error).to_be_visible()
    expect(error).to_contain_text("must be a whole number from 0 to 23")
    assert error.evaluate("e => getComputedStyle(e).color") == "rgb(142, 11, 33)"  # Polaris' critical text
    page.wait_for_timeout(1500)
    expect(error).to_be_visible()
    expect(save_bar).to_be_visible()
    expect(save_bar.get_by_role("button", name="Save")).to_be_enabled()  # not stuck loading
    expect(page.locator(".error")).to_have_count(1)  # only beside the refused field
    admin.screenshot("settings-refused")
    assert _api_settings(page)["quiet_hours_start"] is None
    session.expire_all()
    stored = session.get(Shop, installed_shop.id).settings
    assert stored["batch_per_unit"] == 5 and stored.get("quiet_hours_start") is None

    # when the merchant corrects it: the error goes with the edit, and the good window is stored
    page.locator('[name="quiet_hours_start"] input').fill("22")
    expect(error).to_have_count(0)
    page.locator('[name="quiet_hours_end"] input').fill("7")
    save_bar.get_by_role("button", name="Save").click()
    expect(save_bar).to_have_count(0)
    stored = _api_settings(page)
    assert (stored["quiet_hours_start"], stored["quiet_hours_end"], stored["batch_per_unit"]) == (22, 7, 5)


def test_set_an_eta_on_the_demand_page(admin, app, session, runtime, installed_shop):
    expected = (utcnow() + timedelta(days=90)).date().isoformat()
    make_variant(session, installed_shop, available=0)
    session.commit()
    sign_up(session, runtime, installed_shop, ["ada@gmail.com", "bob@gmail.com"], variant_id=VARIANT_ID)
    page = admin.open("demand")

    # when
    page.locator(f'[data-eta-for="{VARIANT_ID}"] input').fill(expected)
    page.locator(f'[data-eta-save="{VARIANT_ID}"]').click()
    page.wait_for_function("window.__toasts.length > 0")
    admin.screenshot("demand-eta")

    # then
    session.expire_all()
    variant = session.scalar(select(Variant).where(Variant.variant_id == VARIANT_ID))
    assert variant.expected_at.date().isoformat() == expected
