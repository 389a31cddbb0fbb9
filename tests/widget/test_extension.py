"""The theme app extension without a browser: what Shopify CLI would deploy, the Liquid it renders
(with python-liquid), its strings, and the size of what shoppers download."""

from __future__ import annotations

import gzip
import json
import re

import pytest

from tests.widget.conftest import record_measurement
from tests.widget.liquid_theme import (
    EXTENSION,
    Block,
    PageRequest,
    load_product,
    make_environment,
    render_block,
)
from tests.widget.theme_pages import render_product_page

SMALL, MEDIUM, LARGE, XLARGE = 44100000000001, 44100000000002, 44100000000003, 44100000000004
ALLOWED = {
    "assets": {".js", ".css", ".json", ".svg", ".png", ".jpg", ".jpeg", ".gif", ".webp", ".wasm"},
    "blocks": {".liquid"},
    "snippets": {".liquid"},
    "locales": {".json"},
}
JS_GZIP_BUDGET = 8 * 1024
BOOT_GZIP_BUDGET = 1536  # inline in every product page's HTML, widget shown or not
THEME_CHECK_RAW_JS_LIMIT = 10_000  # Theme Check's AssetSizeAppBlockJavaScript threshold (raw bytes)


def widget_root(html: str) -> str:
    match = re.search(r'<div\s+class="bb"(.*?)>', html, re.S)
    assert match, "the widget is not on the page"
    return match.group(1)


def block_html(**request) -> str:
    product = load_product()
    return render_block(make_environment(), Block.load("notify-me"), PageRequest(**request), product, "b1")


def test_extension_folder_holds_only_what_shopify_cli_deploys():
    # given / when every file of the extension
    problems = []
    for path in EXTENSION.rglob("*"):
        relative = path.relative_to(EXTENSION)
        if path.is_dir():
            if len(relative.parts) > 1 or relative.parts[0] not in ALLOWED:
                problems.append(f"folder {relative}")
        elif relative.parts == ("shopify.extension.toml",):
            continue
        elif len(relative.parts) != 2 or path.suffix not in ALLOWED.get(relative.parts[0], set()):
            problems.append(f"file {relative}")

    # then nothing would make `shopify app deploy` fail
    assert problems == []


def test_liquid_stays_under_shopifys_100_kb_total():
    total = sum(p.stat().st_size for p in EXTENSION.rglob("*.liquid"))
    record_measurement(f"Liquid total: {total} bytes (Shopify's limit: 102400)")
    assert total < 100 * 1024


def test_block_schemas_are_valid_and_name_no_asset_for_the_pages_head():
    for name, target in (("notify-me", "section"), ("notify-me-embed", "body")):
        schema = Block.load(name).schema
        assert schema["target"] == target
        # Shopify would link a schema "stylesheet" render-blocking and a "javascript" in every product
        # page's head; the boot snippet loads them when needed (see the next test)
        assert "stylesheet" not in schema and "javascript" not in schema
        assert Block.load(name).head_tags() == ""
        ids = [s["id"] for s in schema["settings"] if "id" in s]
        assert ids == ["button_text", "button_color", "button_text_color", "channels", "require_consent",
                       "consent_text", "show_waiting", "show_eta"]


@pytest.mark.parametrize("variant_id", [SMALL, MEDIUM], ids=["in-stock", "sold-out"])
def test_the_page_gets_the_button_styles_inline_and_the_files_by_url_only(variant_id):
    # when the block renders (either variant)
    html = block_html(variant_id=variant_id)

    # then the button's styles and the boot script are in the page, and the script and the form's
    # styles are named by URL for the boot script to load later: no <link> or <script src> at all
    root = widget_root(html)
    assert 'data-script="/assets/backbell.js"' in root and 'data-stylesheet="/assets/backbell.css"' in root
    assert re.search(r"<style>\.bb\{", html) and "window.BackbellBoot" in html
    assert "<link" not in html and "<script src" not in html
    assert (EXTENSION / "assets" / "backbell.js").is_file() and (EXTENSION / "assets" / "backbell.css").is_file()


def test_every_locale_has_exactly_the_english_keys():
    english = json.loads((EXTENSION / "locales" / "en.default.json").read_text())
    for code in ("zh-CN", "es", "fr", "de", "ja"):
        strings = json.loads((EXTENSION / "locales" / f"{code}.json").read_text())
        assert set(strings["backbell"]) == set(english["backbell"]), code
        for key, text in strings["backbell"].items():
            assert re.findall(r"{\w+}", text) == re.findall(r"{\w+}", english["backbell"][key]), (code, key)


@pytest.mark.parametrize(
    ("variant_id", "hidden"),
    [(SMALL, True), (MEDIUM, False), (LARGE, True), (XLARGE, False), (None, True)],
    ids=["in-stock", "sold-out", "sold-out-but-continue", "sold-out-2", "no-variant-param"],
)
def test_the_widget_renders_hidden_unless_the_selected_variant_is_sold_out(variant_id, hidden):
    # when the block renders for the selected variant
    root = widget_root(block_html(variant_id=variant_id))

    # then in-stock and backorderable variants render it hidden (no request, no layout shift)
    assert ("hidden" in root.split()) is hidden


def test_the_variant_data_on_the_page_is_what_the_widget_decides_with():
    html = block_html()
    raw = re.search(r"<script type=\"application/json\" data-bb-variants>(.*?)</script>", html, re.S).group(1)
    assert json.loads(raw) == [
        {"id": SMALL, "title": "Small", "available": True, "policy": "deny"},
        {"id": MEDIUM, "title": "Medium", "available": False, "policy": "deny"},
        {"id": LARGE, "title": "Large", "available": True, "policy": "continue"},
        {"id": XLARGE, "title": "X-Large", "available": False, "policy": "deny"},
    ]


@pytest.mark.parametrize("json_filter", ["shopify", "plain"])
def test_a_variant_title_cannot_end_the_data_script(json_filter):
    # given a sold-out variant titled with markup, and a json filter that escapes (Shopify's) or not
    product = load_product("script-title")
    env = make_environment(json_filter=json_filter)

    # when the block renders
    html = render_block(env, Block.load("notify-me"), PageRequest(variant_id=MEDIUM), product, "b1")

    # then the title never appears as markup, and the data still reads back exactly
    assert "</script><script>alert(1)" not in html
    raw = re.search(r"<script type=\"application/json\" data-bb-variants>(.*?)</script>", html, re.S).group(1)
    assert [v["title"] for v in json.loads(raw)] == ["Small", "</script><script>alert(1)</script>"]


@pytest.mark.parametrize(
    ("locale", "button"),
    [("en", "Notify me when available"), ("zh-CN", "到货通知我"), ("es", "Avisarme cuando esté disponible"),
     ("fr", "M&#x27;avertir quand c&#x27;est disponible"), ("de", "Benachrichtigen, wenn verfügbar"),
     ("ja", "入荷したら通知する"), ("pt-BR", "Notify me when available")],
)
def test_strings_follow_the_storefront_locale_and_fall_back_to_english(locale, button):
    html = block_html(locale=locale, variant_id=MEDIUM)
    assert f"<span>{button}</span>" in html
    assert f'data-locale="{locale}"' in html


def test_merchant_text_is_escaped():
    # given a merchant typing markup into the button and consent settings
    html = block_html(variant_id=MEDIUM, settings={"button_text": "<img src=x onerror=alert(1)>",
                                                   "consent_text": '"><script>x()</script>'})

    # then it is shown as text, never as markup
    assert "<img src=x" not in html and "<script>x()" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


def test_channels_setting_decides_the_fields():
    email_only = block_html(variant_id=MEDIUM)
    both = block_html(variant_id=MEDIUM, settings={"channels": "email_sms"})
    sms_only = block_html(variant_id=MEDIUM, settings={"channels": "sms"})
    assert 'name="email"' in email_only and 'name="phone"' not in email_only
    assert 'name="email"' in both and 'name="phone"' in both and 'value="sms"' in both
    assert 'name="email"' not in sms_only and 'name="phone"' in sms_only
    assert re.search(r'<option\s+value="US"\s+selected', sms_only)


def test_the_app_embed_waits_in_an_inert_template():
    html = render_product_page(PageRequest(install="embed", variant_id=MEDIUM))
    assert re.search(r"<template data-backbell-embed>\s*<div\s+class=\"bb\"", html)
    assert html.index("<template data-backbell-embed>") > html.index("</main>")


def test_bundle_size_is_measured_and_within_budget():
    # given what the block adds to a product page (built from widget/src/): the boot snippet inline in
    # the HTML of every page, backbell.js after load, backbell.css when the widget is shown
    sizes = {}
    for name in ("snippets/backbell-boot.liquid", "assets/backbell.js", "assets/backbell.css"):
        raw = (EXTENSION / name).read_bytes()
        sizes[name] = (len(raw), len(gzip.compress(raw, compresslevel=9)))

    # then they are printed, and each fits its budget
    for name, (raw, gz) in sizes.items():
        record_measurement(f"{name}: {raw} bytes raw, {gz} bytes gzipped (built by esbuild from widget/src/)")
    assert sizes["snippets/backbell-boot.liquid"][1] <= BOOT_GZIP_BUDGET
    assert sizes["assets/backbell.js"][1] <= JS_GZIP_BUDGET
    assert sizes["assets/backbell.js"][0] <= THEME_CHECK_RAW_JS_LIMIT
