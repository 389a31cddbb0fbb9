"""Render the theme app extension's Liquid into a product page, the way Shopify would.

python-liquid is a real Liquid engine; Shopify-only pieces are stood in for here (and only here):
the ``schema`` tag (parsed for the block's settings, JavaScript and stylesheet), the ``t`` filter
(the extension's ``locales/`` with Shopify's fallback to ``en.default.json``), ``json`` and the
objects a product template sees (``product``, ``request``, ``localization``, ``block``).

Shopify's ``json`` writes ``<``, ``>`` and ``&`` as ``\\u003c``, ``\\u003e``, ``\\u0026`` ("Escape every value
for its context", shopify.dev), so its output cannot end a ``<script>``; ``ShopifyJSON`` does the same.
``PlainJSON`` (python-liquid's own, no escaping) shows the block stays safe even without that.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from liquid import Environment, FileSystemLoader
from liquid.builtin.tags.comment_tag import CommentNode, CommentTag
from liquid.exceptions import LiquidSyntaxError
from liquid.stream import TokenStream
from liquid.token import TOKEN_EOF, TOKEN_TAG
from liquid.extra.filters._json import JSON
from liquid.filter import with_context

ROOT = Path(__file__).resolve().parents[2]
EXTENSION = ROOT / "storefront_widget"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SCHEMA = re.compile(r"{%-?\s*schema\s*-?%}(.*?){%-?\s*endschema\s*-?%}", re.S)


class SchemaTag(CommentTag):
    """``{% schema %}…{% endschema %}`` renders nothing; Shopify reads it when installing the block."""

    name = "schema"
    end = "endschema"

    def parse(self, stream: TokenStream) -> CommentNode:
        token = stream.eat(TOKEN_TAG)
        text: list[str] = []
        while not (stream.current.kind == TOKEN_TAG and stream.current.value == self.end):
            if stream.current.kind == TOKEN_EOF:
                raise LiquidSyntaxError("schema tag was never closed", token=token)
            text.append(stream.current.value)
            next(stream)
        return self.node_class(token, text="".join(text))


def _lookup(catalog: dict, key: str) -> Any:
    node: Any = catalog
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def load_locale(locale: str) -> dict:
    """The extension's strings for ``locale`` (exact file, then language, else none)."""
    folder = EXTENSION / "locales"
    for name in (locale, locale.split("-")[0]):
        path = folder / f"{name}.json"
        if path.is_file():
            return json.loads(path.read_text())
    return {}


@with_context
def translate(key: str, *, context, **values) -> str:
    """Shopify's ``t``: the storefront locale's string, else English, with ``{{ name }}`` filled in."""
    locale = context.resolve("request")["locale"]["iso_code"]
    text = _lookup(load_locale(locale), key) or _lookup(load_locale("en.default"), key)
    if text is None:
        return f"translation missing: en.{key}"
    return re.sub(r"{{\s*(\w+)\s*}}", lambda m: str(values.get(m.group(1), m.group(0))), text)


class ShopifyJSON(JSON):
    """Shopify's ``json``: JSON with ``<``, ``>`` and ``&`` as unicode escapes."""

    ESCAPES = {ord("<"): "\\u003c", ord(">"): "\\u003e", ord("&"): "\\u0026"}

    def __call__(self, obj: object, indent: object = None) -> str:
        return super().__call__(obj, indent).translate(self.ESCAPES)


class PlainJSON(JSON):
    """A ``json`` that escapes nothing (python-liquid's own)."""


JSON_FILTERS = {"shopify": ShopifyJSON, "plain": PlainJSON}


def make_environment(*search_path: Path, json_filter: str = "shopify") -> Environment:
    env = Environment(loader=FileSystemLoader([EXTENSION / "snippets", *search_path], ext=".liquid"))
    env.add_tag(SchemaTag)
    env.add_filter("t", translate)
    env.add_filter("json", JSON_FILTERS[json_filter]())
    env.add_filter("asset_url", asset_url)
    return env


def asset_url(name: str) -> str:
    """Shopify's ``asset_url`` in an extension: the file in its ``assets/`` (Shopify's CDN; here the
    storefront serves them at /assets/)."""
    if not (EXTENSION / "assets" / name).is_file():
        raise ValueError(f"asset_url: storefront_widget/assets/{name} does not exist")
    return f"/assets/{name}"


@dataclass(frozen=True)
class Block:
    """One of the extension's blocks: its Liquid source and its parsed schema."""

    path: Path
    schema: dict

    @classmethod
    def load(cls, name: str) -> "Block":
        path = EXTENSION / "blocks" / f"{name}.liquid"
        source = path.read_text()
        return cls(path=path, schema=json.loads(SCHEMA.search(source).group(1)))

    def default_settings(self) -> dict:
        return {s["id"]: s.get("default") for s in self.schema["settings"] if "id" in s}

    def head_tags(self) -> str:
        """What Shopify adds to the page's head (content_for_header) for a block whose schema names a
        stylesheet (render-blocking) or a script (deferred); nothing for a block that names neither."""
        tags = []
        if "stylesheet" in self.schema:
            tags.append(f'<link rel="stylesheet" href="/assets/{self.schema["stylesheet"]}">')
        if "javascript" in self.schema:
            tags.append(f'<script src="/assets/{self.schema["javascript"]}" defer></script>')
        return "\n".join(tags)


def load_product(handle: str = "merino-crew") -> dict:
    product = json.loads((FIXTURES / f"{handle}.json").read_text())
    return {**product, "url": f"/products/{handle}"}


def option_value_id(product: dict, position: int, index: int) -> int:
    """A stable id for each option value, like Shopify's ProductOptionValue ids (``?option_values=`` carries them)."""
    return product["id"] * 1000 + position * 100 + index


def option_values_of(product: dict) -> dict[int, tuple[str, str]]:
    """Every option value id → (``option1``…, value)."""
    ids = {}
    for position, _name in enumerate(product["options"], start=1):
        key = f"option{position}"
        for index, value in enumerate(dict.fromkeys(v[key] for v in product["variants"])):
            ids[option_value_id(product, position, index)] = (key, value)
    return ids


def first_available(product: dict, variant_id: int | None) -> dict:
    """Shopify's ``selected_or_first_available_variant`` for ``?variant=`` (which wins when it exists)."""
    by_id = {v["id"]: v for v in product["variants"]}
    if variant_id in by_id:
        return by_id[variant_id]
    return next((v for v in product["variants"] if v["available"]), product["variants"][0])


def selected_values(product: dict, variant_id: int | None = None, option_values: tuple = ()) -> dict[str, str]:
    """The selected value of each option: ``?option_values=`` (what Dawn 15 and Horizon fetch with)
    overrides the values of the ``?variant=`` / first available variant."""
    base = first_available(product, variant_id)
    chosen = {k: base[k] for k in base if k.startswith("option")}
    known = option_values_of(product)
    chosen.update(dict(known[i] for i in option_values if i in known))
    return chosen


def variant_for(product: dict, values: dict[str, str]) -> dict | None:
    """The variant with exactly these option values; None when that combination does not exist."""
    return next((v for v in product["variants"] if all(v.get(k) == x for k, x in values.items())), None)


def options_with_values(product: dict, chosen: dict[str, str]) -> list[dict]:
    """Shopify's ``product.options_with_values``: each value knows its id, whether it is selected, and the
    variant it leads to with the other options as selected (``value.variant``, nil when none) and
    whether that variant is available."""
    options = []
    for position, name in enumerate(product["options"], start=1):
        key = f"option{position}"
        values = []
        for index, value in enumerate(dict.fromkeys(v[key] for v in product["variants"])):
            match = variant_for(product, {**chosen, key: value})
            values.append({"name": value, "id": option_value_id(product, position, index), "selected": chosen[key] == value,
                           "available": bool(match and match["available"]), "variant": match, "product_url": ""})
        options.append({"name": name, "position": position, "values": values,
                        "selected_value": chosen[key]})
    return options


@dataclass
class PageRequest:
    """What a storefront page render depends on."""

    theme: str = "dawn"  # dawn | horizon | horizon-update | select | url — see theme_pages.py
    handle: str = "merino-crew"  # the product fixture in fixtures/<handle>.json
    json_filter: str = "shopify"  # shopify | plain — see ShopifyJSON and PlainJSON
    install: str = "block"  # block | embed | none
    locale: str = "en"
    direction: str = "ltr"
    variant_id: int | None = None
    option_values: tuple = ()  # ?option_values=<id>,<id> — option value ids, as Dawn 15 and Horizon send
    section_id: str | None = None  # ?section_id= — Shopify's Section Rendering API: that section alone
    weight: str = "light"  # light | real — ?weight=real: the dawn/horizon page with its theme's own weight (heavy_theme.py)
    settings: dict = field(default_factory=dict)
    countries: tuple = (("US", "United States"), ("GB", "United Kingdom"), ("BA", "Bosnia & Herzegovina"),
                        ("FR", "France"), ("DE", "Germany"))


def globals_for(request: PageRequest, product: dict) -> dict:
    chosen = selected_values(product, request.variant_id, request.option_values)
    return {
        "product": {
            **product,
            "selected_or_first_available_variant": variant_for(product, chosen),
            "options_with_values": options_with_values(product, chosen),
        },
        "request": {"locale": {"iso_code": request.locale}},
        "localization": {
            "available_countries": [{"iso_code": code, "name": name} for code, name in request.countries],
            "country": {"iso_code": request.countries[0][0]},
        },
        "shop": {"name": "Wool & Waves", "permanent_domain": "wool-and-waves.myshopify.com"},
    }


def render_block(env: Environment, block: Block, request: PageRequest, product: dict, block_id: str) -> str:
    settings = {**block.default_settings(), **request.settings}
    context = {**globals_for(request, product), "block": {"id": block_id, "settings": settings, "shopify_attributes": ""}}
    return env.from_string(block.path.read_text()).render(**context)
