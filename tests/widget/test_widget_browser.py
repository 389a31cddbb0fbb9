"""The widget in headless Chromium on a rendered product page, talking to the real app through a
local signing app proxy. Screenshots of each state go to tests/artifacts/widget/."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from plugin.models import Subscription, Variant
from tests.widget.shopper import LARGE, MEDIUM, NAVY_SMALL, SMALL, WHITE_MEDIUM, XLARGE, choose, open_product, pick

pytestmark = pytest.mark.browser

THEMES = ["dawn", "horizon", "horizon-update", "select", "url"]
MARKUP_TITLE = "</script><script>alert(1)</script>"  # script-title's sold-out variant


def subscriptions(session) -> list[Subscription]:
    session.expire_all()
    return list(session.scalars(select(Subscription).order_by(Subscription.id)))


@pytest.mark.parametrize("theme", THEMES)
def test_button_follows_the_selected_variant(page, storefront, theme, artifacts):
    # given a product page whose first available variant (Small) is in stock
    widget = open_product(page, storefront, theme=theme)
    expect(widget).to_be_hidden()

    # when the shopper picks each variant in turn, then the button shows only for sold-out ones
    for variant_id, shown in ((MEDIUM, True), (LARGE, False), (XLARGE, True), (SMALL, False), (MEDIUM, True)):
        pick(page, theme, variant_id)
        if shown:
            expect(widget).to_be_visible()
            expect(page.locator('.bb input[name="variant_id"]')).to_have_value(str(variant_id))
        else:
            expect(widget).to_be_hidden()
    page.screenshot(path=artifacts / f"{theme}-sold-out-button.png")


@pytest.mark.parametrize("theme", ["dawn", "horizon", "horizon-update"])
def test_a_combination_that_does_not_exist_hides_the_button(page, storefront, theme, artifacts):
    # given the linen shirt in White / Small (in stock); Navy is not made in Medium
    widget = open_product(page, storefront, handle="linen-shirt", theme=theme)
    variant_field = page.locator('.bb input[name="variant_id"]')
    choose(page, "Medium")
    expect(widget).to_be_visible()
    expect(variant_field).to_have_value(str(WHITE_MEDIUM))

    # when the shopper picks Navy while Medium is selected: no such variant
    choose(page, "Navy")

    # then the theme shows "Unavailable" and the button for White / Medium is gone
    expect(page.locator('button[name="add"]')).to_have_text("Unavailable")
    expect(widget).to_be_hidden()
    page.screenshot(path=artifacts / f"{theme}-no-such-combination.png")

    # and picking Small (Navy / Small, sold out) brings it back for exactly that variant
    choose(page, "Small")
    expect(widget).to_be_visible()
    expect(variant_field).to_have_value(str(NAVY_SMALL))


def test_a_dawn_variant_change_without_a_variant_hides_the_button(page, storefront):
    # given Medium (sold out) picked on a Dawn page
    widget = open_product(page, storefront, theme="dawn")
    pick(page, "dawn", MEDIUM)
    expect(widget).to_be_visible()

    # when the theme publishes Dawn's variant-change with no variant (older Dawn forks do this for a
    # combination that does not exist; Dawn 15 clears input[name=id] instead, tested above)
    page.evaluate(
        "publish(PUB_SUB_EVENTS.variantChange, {data: {sectionId: 'template--1__main', html: document, variant: null}})"
    )

    # then the widget hides
    expect(widget).to_be_hidden()


@pytest.mark.parametrize("json_filter", ["shopify", "plain"])
def test_a_variant_title_with_markup_cannot_break_the_page(page, storefront, json_filter):
    # given a sold-out variant titled </script><script>alert(1)</script>, rendered with Shopify's json
    # filter (escapes <, >, &) and with one that escapes nothing
    dialogs, errors = [], []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.on("pageerror", lambda error: errors.append(str(error)))

    # when the page opens on that variant and the form is opened
    widget = open_product(page, storefront, handle="script-title", variant=MEDIUM, json=json_filter)
    expect(widget).to_be_visible()
    page.click(".bb__open")

    # then the title is shown as text, no script ran and nothing failed
    expect(page.locator("[data-bb-intro]")).to_have_text(
        f"{MARKUP_TITLE} is sold out. Leave your details and we'll tell you as soon as it's back in stock."
    )
    assert dialogs == []
    assert errors == []


COUNTRY_NAMES_CLIPPED = """(select) => {
  const style = getComputedStyle(select);
  const pen = document.createElement('canvas').getContext('2d');
  pen.font = style.font;
  pen.letterSpacing = style.letterSpacing;
  const arrow = 24;  // Chromium's drop-down arrow and its gap
  const room = select.clientWidth - parseFloat(style.paddingInlineStart) - parseFloat(style.paddingInlineEnd) - arrow;
  return Array.from(select.options, (o) => o.text).filter((name) => pen.measureText(name).width > room);
}"""


@pytest.mark.parametrize("width", [1100, 390])
def test_country_names_are_not_cut_off(browser, storefront, artifacts, width):
    # given a block offering text messages, on a desktop and on a phone
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()

    # when the form is opened
    open_product(page, storefront, variant=XLARGE, settings={"channels": "sms"})
    page.click(".bb__open")
    expect(page.locator('.bb select[name="country"]')).to_be_visible()

    # then every country name fits inside the select (e.g. not "United Kingdor")
    assert page.locator('.bb select[name="country"]').evaluate(COUNTRY_NAMES_CLIPPED) == []
    page.locator(".bb").screenshot(path=artifacts / f"sms-form-{width}.png")
    context.close()


def test_page_opened_on_a_sold_out_variant_shows_the_button(page, storefront):
    # given / when the URL names a sold-out variant
    widget = open_product(page, storefront, variant=MEDIUM)

    # then the widget is there from the first paint
    expect(widget).to_be_visible()
    expect(page.locator(".bb__open")).to_have_text("Notify me when available")


@pytest.mark.parametrize("theme", ["dawn", "horizon"])
def test_submitting_stores_a_subscription_for_exactly_the_selected_variant(page, storefront, session, runtime, theme, artifacts):
    # given the shopper moved from Medium to X-Large (both sold out)
    open_product(page, storefront, theme=theme)
    pick(page, theme, MEDIUM)
    pick(page, theme, XLARGE)
    expect(page.locator('.bb input[name="variant_id"]')).to_have_value(str(XLARGE))

    # when they open the form and subscribe
    page.click(".bb__open")
    page.screenshot(path=artifacts / f"{theme}-form-open.png")
    page.fill('.bb input[name="email"]', "Ada@FastMail.COM")
    page.click(".bb__submit")

    # then they see the success state and exactly one subscription exists, for X-Large
    status = page.locator("[data-bb-status]")
    expect(status).to_have_text("You're on the list! We'll let you know when X-Large is back.")
    expect(status).to_be_focused()
    expect(page.locator(".bb__form")).to_be_hidden()
    expect(page.locator("[data-bb-intro]")).to_be_hidden()  # "X-Large is sold out. Leave your details…" is done
    page.screenshot(path=artifacts / f"{theme}-success.png")
    rows = subscriptions(session)
    assert [(r.variant_id, r.channel, r.status, r.locale) for r in rows] == [(XLARGE, "email", "waiting", "en")]
    assert runtime.vault.decrypt(rows[0].contact.value_ciphertext) == "ada@fastmail.com"
    assert [(e.method, e.path, e.status, e.content_type) for e in storefront.exchanges if e.method == "POST"] == [
        ("POST", "/apps/backbell/subscriptions", 201, "application/json")
    ]


def test_a_bad_email_shows_the_servers_message_next_to_the_field(page, storefront, session, artifacts):
    # given the form for a sold-out variant
    open_product(page, storefront, variant=MEDIUM)
    page.click(".bb__open")

    # when the shopper submits an address the server rejects
    page.fill('.bb input[name="email"]', "ada@@example")
    with page.expect_response("**/apps/backbell/subscriptions") as answer:
        page.click(".bb__submit")

    # then the server's own message sits under the email field, which is marked invalid and focused
    body = answer.value.json()
    assert answer.value.status == 422
    assert body["error"]["field"] == "email"
    email = page.locator('.bb input[name="email"]')
    expect(page.locator('[data-bb-error="email"]')).to_have_text(body["error"]["message"])
    expect(email).to_have_attribute("aria-invalid", "true")
    expect(email).to_be_focused()
    page.screenshot(path=artifacts / "bad-email.png")
    assert subscriptions(session) == []


def test_server_messages_come_in_the_shoppers_language(page, storefront, session):
    # given a French storefront
    open_product(page, storefront, variant=MEDIUM, locale="fr")
    expect(page.locator(".bb__open")).to_have_text("M'avertir quand c'est disponible")
    page.click(".bb__open")

    # when an empty form is sent
    with page.expect_response("**/apps/backbell/subscriptions") as answer:
        page.click(".bb__submit")

    # then the message is French and nothing is stored
    message = answer.value.json()["error"]["message"]
    assert message.startswith("Veuillez")
    expect(page.locator("[data-bb-error], [data-bb-status]").filter(has_text=message)).to_have_count(1)
    assert subscriptions(session) == []


def test_the_whole_flow_works_with_the_keyboard_alone(page, storefront, session, artifacts):
    # given a Dawn 15 page, the shopper using only the keyboard
    open_product(page, storefront, theme="dawn")
    page.locator('input[type="radio"][value="Small"]').focus()  # the Size radio group (Small checked)

    # when they arrow to Medium (sold out): Dawn re-renders the picker and focuses the new Medium radio
    page.keyboard.press("ArrowRight")
    expect(page.locator(".bb")).to_be_visible()
    expect(page.locator('input[type="radio"][value="Medium"]:visible')).to_be_focused()

    # and tab past the quantity selector (the disabled Sold out and Buy it now buttons are skipped)
    passed = []
    for _ in range(3):
        page.keyboard.press("Tab")
        passed.append(page.evaluate("document.activeElement.name"))
    assert passed == ["minus", "quantity", "plus"]
    page.keyboard.press("Tab")
    expect(page.locator(".bb__open")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator(".bb__open")).to_have_attribute("aria-expanded", "true")
    expect(page.locator('.bb input[name="email"]')).to_be_focused()
    page.keyboard.type("grace@proton.me")
    page.keyboard.press("Enter")

    # then the result is announced and focused, and Medium is subscribed
    status = page.locator("[data-bb-status]")
    expect(status).to_have_text("You're on the list! We'll let you know when Medium is back.")
    expect(status).to_be_focused()
    assert [r.variant_id for r in subscriptions(session)] == [MEDIUM]

    # and Escape closes the panel, returning focus to the button
    page.keyboard.press("Escape")
    expect(page.locator(".bb__panel")).to_be_hidden()
    expect(page.locator(".bb__open")).to_be_focused()


def test_a_second_submit_shows_already_subscribed(page, storefront, session, artifacts):
    # given the shopper already subscribed to Medium
    for attempt in range(2):
        open_product(page, storefront, variant=MEDIUM)
        page.click(".bb__open")
        page.fill('.bb input[name="email"]', "ada@fastmail.com")
        page.click(".bb__submit")
        expect(page.locator("[data-bb-status]")).not_to_be_empty()

    # then the second answer says so and there is still one subscription
    expect(page.locator("[data-bb-status]")).to_have_text(
        "You're already on the list for Medium. We'll be in touch when it's back."
    )
    page.screenshot(path=artifacts / "already-subscribed.png")
    assert len(subscriptions(session)) == 1


def test_a_reply_for_a_variant_the_shopper_left_is_not_shown(page, storefront, session):
    # given a subscription request for Medium held in flight
    held, errors = [], []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.route("**/apps/backbell/subscriptions", lambda route: held.append(route))
    open_product(page, storefront, variant=MEDIUM)
    page.click(".bb__open")
    page.fill('.bb input[name="email"]', "ada@fastmail.com")
    page.click(".bb__submit")
    page.wait_for_function("() => document.querySelector('.bb__submit').getAttribute('aria-busy') === 'true'")
    for _ in range(100):  # the route handler runs on Playwright's side a moment after the request leaves
        if held:
            break
        page.wait_for_timeout(50)
    assert len(held) == 1

    # when the shopper moves to X-Large before the answer arrives
    pick(page, "dawn", XLARGE)
    with page.expect_response("**/apps/backbell/subscriptions"):
        held[0].continue_()
    page.wait_for_function("() => document.querySelector('.bb__submit').getAttribute('aria-busy') === 'false'")

    # then Medium's answer is not shown against X-Large, and the X-Large form is still there
    expect(page.locator("[data-bb-status]")).to_be_empty()
    expect(page.locator(".bb__form")).to_be_visible()
    expect(page.locator('.bb input[name="variant_id"]')).to_have_value(str(XLARGE))
    assert errors == []
    assert [r.variant_id for r in subscriptions(session)] == [MEDIUM]


def test_sms_with_a_country_and_consent(page, storefront, session, runtime, artifacts):
    # given a block offering email and SMS
    open_product(page, storefront, variant=XLARGE, settings={"channels": "email_sms"})
    page.click(".bb__open")
    expect(page.locator(".bb__consent")).to_be_hidden()

    # when the shopper picks SMS, a country, and their national number, without consent first
    page.locator(".bb__pill", has_text="Text message").click()
    expect(page.locator(".bb__consent")).to_be_visible()
    page.select_option('.bb select[name="country"]', "GB")
    page.fill('.bb input[name="phone"]', "07400 123456")
    with page.expect_response("**/apps/backbell/subscriptions") as refused:
        page.click(".bb__submit")
    expect(page.locator('[data-bb-error="consent"]')).to_have_text(refused.value.json()["error"]["message"])
    page.mouse.move(0, 0)  # the screenshot shows the form at rest, not the button's hover fading in
    page.wait_for_timeout(200)
    page.screenshot(path=artifacts / "sms-consent-required.png")
    assert subscriptions(session) == []
    page.check('.bb input[name="consent"]')
    page.click(".bb__submit")

    # then the number is stored in E.164 with the consent time, for X-Large
    expect(page.locator("[data-bb-status]")).to_have_text("You're on the list! We'll let you know when X-Large is back.")
    rows = subscriptions(session)
    assert [(r.variant_id, r.channel) for r in rows] == [(XLARGE, "sms")]
    assert runtime.vault.decrypt(rows[0].contact.value_ciphertext) == "+447400123456"
    assert rows[0].consent_at is not None


def test_the_honeypot_looks_like_success_and_stores_nothing(page, storefront, session):
    # given a bot that fills every field, including the hidden one
    open_product(page, storefront, variant=MEDIUM)
    page.click(".bb__open")
    page.fill('.bb input[name="email"]', "bot@fastmail.com")
    page.locator('.bb input[name="website"]').fill("http://spam.example", force=True)

    # when it submits
    page.click(".bb__submit")

    # then it sees success and nothing is stored
    expect(page.locator("[data-bb-status]")).to_have_text("You're on the list! We'll let you know when Medium is back.")
    assert subscriptions(session) == []


def test_app_embed_places_the_widget_under_the_product_form(page, storefront, session):
    # given a theme without app blocks: only the app embed is on
    widget = open_product(page, storefront, install="embed", theme="select")

    # when the shopper picks a sold-out variant
    expect(widget).to_be_hidden()
    page.select_option('select[name="id"]', str(MEDIUM))

    # then the widget appears right after the product form and subscribes that variant
    expect(widget).to_be_visible()
    assert page.evaluate("document.querySelector('form[action=\"/cart/add\"]').nextElementSibling.matches('.bb')")
    page.click(".bb__open")
    page.fill('.bb input[name="email"]', "lin@gmail.com")
    page.click(".bb__submit")
    expect(page.locator("[data-bb-status]")).to_have_text("You're on the list! We'll let you know when Medium is back.")
    assert [r.variant_id for r in subscriptions(session)] == [MEDIUM]


def test_waiting_count_and_eta_come_from_the_variant_endpoint(page, storefront, session, shop):
    # given two shoppers already wait for Medium, which the merchant expects back on 5 December
    for email in ("ann@gmail.com", "bob@outlook.com"):
        open_product(page, storefront, variant=MEDIUM)
        page.click(".bb__open")
        page.fill('.bb input[name="email"]', email)
        page.click(".bb__submit")
        expect(page.locator("[data-bb-status]")).not_to_be_empty()
    session.add(Variant(shop_id=shop.id, variant_id=MEDIUM, available=0, expected_at=datetime(2026, 12, 5, 12, tzinfo=UTC)))
    session.commit()

    # when a third opens the page with "show waiting" and "show ETA" on
    open_product(page, storefront, variant=MEDIUM, settings={"show_waiting": True, "show_eta": True})

    # then both are shown under the button
    expect(page.locator("[data-bb-meta]")).to_have_text("2 people are waiting for this · Expected back around December 5")


def test_right_to_left_page_keeps_the_widget_usable(page, storefront, artifacts):
    # given a right-to-left storefront in a locale the widget does not ship (falls back to English)
    open_product(page, storefront, variant=MEDIUM, locale="ar", dir="rtl", settings={"channels": "email_sms"})

    # when the form is opened
    page.click(".bb__open")

    # then the strings are English, the close button sits on the left, and the text starts on the right
    expect(page.locator(".bb__open")).to_have_text("Notify me when available")
    box = page.locator(".bb__panel").bounding_box()
    close = page.locator(".bb__close").bounding_box()
    assert close["x"] < box["x"] + box["width"] / 2
    assert page.locator(".bb__heading").evaluate("el => getComputedStyle(el).direction") == "rtl"
    page.screenshot(path=artifacts / "rtl-form-open.png")


def test_no_layout_shift_when_the_variant_is_in_stock(page, storefront):
    # given a page observing layout shifts from the start
    page.add_init_script(
        "window.__cls = 0; new PerformanceObserver((list) => { for (const e of list.getEntries())"
        " { if (!e.hadRecentInput) window.__cls += e.value; } }).observe({type: 'layout-shift', buffered: true});"
    )

    # when an in-stock product page loads with the block installed
    open_product(page, storefront, theme="dawn")
    page.wait_for_timeout(300)

    # then nothing moved and the widget takes no space
    assert page.evaluate("window.__cls") == 0
    assert page.locator(".bb-block").bounding_box()["height"] == 0


def test_mobile_screenshot_of_the_form(browser, storefront, artifacts):
    # given a phone-sized viewport
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True)
    page = context.new_page()

    # when the form is opened for a sold-out variant
    open_product(page, storefront, variant=MEDIUM, settings={"channels": "email_sms", "require_consent": True})
    page.click(".bb__open")

    # then it fits the screen width
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.locator(".bb").screenshot(path=artifacts / "mobile-form-open.png")
    context.close()
