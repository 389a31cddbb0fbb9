"""The storefront product pages the widget is tested on, one per ``?theme=``.

``dawn`` and ``horizon`` are the product pages of Dawn 15 and Horizon 4 as their default product
templates render them with "Show installments" on (fixtures/dawn15/, fixtures/horizon4/): the same
markup — including Shopify's installments form in the price block, the first cart form on the page —
and stand-ins for the themes' own scripts (fixtures/theme/dawn15/, fixtures/theme/horizon4/) that change
the variant the way those themes do, fetching the new state from this storefront: Dawn 15 a section
(``?section_id=…&option_values=…``), Horizon 4 the whole page (``?option_values=…``). ``?weight=real``
gives either page the weight of the theme's real product page (Dawn 15.4.1's, Horizon 4.1's): its
fonts, stylesheets, scripts and product photo (heavy_theme.py) — what the storefront's cost is measured on.

``horizon-update``, ``select`` and ``url`` keep a small generic page (fixtures/product_page.liquid) that
speaks one other variant signal each: older Horizon's ``variant:update``, a theme's own
``<select name="id">``, and ``?variant=`` in the URL alone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from liquid import Environment

from tests.widget.heavy_theme import heavy_context
from tests.widget.liquid_theme import (
    FIXTURES,
    Block,
    PageRequest,
    ShopifyJSON,
    globals_for,
    load_product,
    make_environment,
    render_block,
    selected_values,
)

THEME_PAGES = {"dawn": "dawn15", "horizon": "horizon4"}  # ?theme= → fixtures/<folder>/{page,main-product}.liquid
MAIN_SECTION = {"dawn": "template--24837451382948__main", "horizon": "template--25347611541844__main"}
BLOCK_ID, EMBED_ID = "AbCd123", "EmBd456"


@dataclass(frozen=True)
class InstalledApp:
    """What the extension adds to a page: its assets in the head, the app block, the app embed."""

    head: str = ""
    block: str = ""
    embed: str = ""


def install_app(env: Environment, request: PageRequest, product: dict) -> InstalledApp:
    if request.install == "block":
        block = Block.load("notify-me")
        return InstalledApp(head=block.head_tags(), block=render_block(env, block, request, product, BLOCK_ID))
    if request.install == "embed":
        block = Block.load("notify-me-embed")
        return InstalledApp(head=block.head_tags(), embed=render_block(env, block, request, product, EMBED_ID))
    return InstalledApp()


def render_product_page(request: PageRequest, product: dict | None = None) -> str | None:
    """The page (or, with ``section_id``, the section Shopify's Section Rendering API answers);
    None for a section this page does not have."""
    product = product or load_product(request.handle)
    env = make_environment(FIXTURES, json_filter=request.json_filter)
    app = install_app(env, request, product)
    if request.theme not in THEME_PAGES:
        return None if request.section_id else render_generic_page(env, request, product, app)
    folder = THEME_PAGES[request.theme]
    context = theme_context(request, product)
    section = env.get_template(f"{folder}/main-product").render(**context, app_block=app.block, app_block_id=BLOCK_ID)
    if request.section_id:
        return section if request.section_id == context["section_id"] else None
    return env.get_template(f"{folder}/page").render(**context, main_section=section, app_head=app.head, app_embed=app.embed)


def theme_context(request: PageRequest, product: dict) -> dict:
    shared = globals_for(request, product)
    selected = shared["product"]["selected_or_first_available_variant"]
    return {
        **shared,
        **(heavy_context(request.theme, product["id"]) if request.weight == "real" else {"real_weight": False}),
        "selected": selected,
        # The theme's own copy of the variant, as Shopify's json writes it (script-safe whatever
        # ?json= the widget's block is rendered with).
        "selected_json": json.dumps(selected).translate(ShopifyJSON.ESCAPES),
        "section_id": MAIN_SECTION[request.theme],
        "installment": installment(selected) if selected else "",
        "payment_terms_meta": json.dumps({"installments": {str(v["id"]): installment(v) for v in product["variants"]}}),
        "view_event_payload": json.dumps(product_view_payload(request, product, selected)),
        "lang": request.locale,
        "direction": request.direction,
    }


def installment(variant: dict) -> str:
    """One of four Shop Pay installments of the variant's price ("$89.00" → "$22.25")."""
    return f"${float(variant['price'].lstrip('$')) / 4:.2f}"


def product_view_payload(request: PageRequest, product: dict, selected: dict | None) -> dict:
    """Shopify's standard product view event payload (``standard_event_data: 'view'``), which Horizon
    reads the resolved ``variant`` of a ProductSelectEvent from."""
    chosen = selected_values(product, request.variant_id, request.option_values)
    options = [{"name": name, "value": chosen[f"option{i}"]} for i, name in enumerate(product["options"], start=1)]
    variant = selected and {
        "id": f"gid://shopify/ProductVariant/{selected['id']}",
        "title": selected["title"],
        "availableForSale": selected["available"],
        "price": {"amount": selected["price"].lstrip("$"), "currencyCode": "USD"},
        "selectedOptions": options,
    }
    product_fields = {"id": f"gid://shopify/Product/{product['id']}", "title": product["title"], "handle": product["handle"]}
    return {"context": "page", "selectedOptions": options, "product": {**product_fields, "selectedVariant": variant}}


def render_generic_page(env: Environment, request: PageRequest, product: dict, app: InstalledApp) -> str:
    shared = globals_for(request, product)
    return env.get_template("product_page").render(
        **shared,
        selected=shared["product"]["selected_or_first_available_variant"],
        product_json=json.dumps(product).translate(ShopifyJSON.ESCAPES),  # the page script's own data, script-safe
        theme=request.theme,
        app_head=app.head,
        app_block=app.block,
        app_embed=app.embed,
        lang=request.locale,
        direction=request.direction,
    )
