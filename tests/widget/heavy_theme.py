"""The weight of a real theme's product page, for ``?theme=dawn&weight=real`` and ``?theme=horizon&weight=real``.

The fixture pages (fixtures/dawn15/, fixtures/horizon4/) carry only the markup and stand-in scripts the
widget depends on — a few KB — so a render-blocking stylesheet of the app's costs far more there than
on a store. With ``weight=real`` the same page also loads what the theme's layout and product section
load, at their sizes, in their order and with their attributes (``WEIGHTS``: one table per theme):

- Dawn 15.4.1 (layout/theme.liquid, sections/main-product.liquid): the render-blocking ``base.css`` in
  the head and the section's ``section-main-product.css`` / ``component-*.css`` in the body, the
  header's ``media="print"`` stylesheets, two preloaded woff2 fonts and a third on demand
  (``font-display: swap``), the product photo as the LCP element (eager, ``fetchpriority="high"``,
  srcset/sizes), and the theme's classic ``defer`` scripts.
- Horizon 4.1 (layout/theme.liquid and snippets/stylesheets, fonts, scripts, theme-styles-variables):
  the render-blocking ``base.css`` and Shopify's compiled ``{% stylesheet %}`` bundle, four font
  preloads at ``fetchpriority="low"`` (``font-display: swap``), an importmap, nine
  ``rel="modulepreload"`` and 27 ``type="module"`` scripts at ``fetchpriority="low"`` plus the header's,
  ``view-transitions.js`` (async) and ``auto-close-details.js`` (defer), and the product photo
  (eager, ``fetchpriority="high"``). Sources and what could not be found: ``HORIZON`` below.

Shopify serves them compressed; so does the test storefront. Nothing here is Shopify's code: the
functional stand-ins (fixtures/theme/dawn15/, fixtures/theme/horizon4/) are padded, and the other files
generated, to the byte sizes of the theme's files (unminified, as both themes ship them) with rules and
classes of the same kind (BEM selectors under media queries; custom elements with event handlers —
ES modules that import the theme's shared modules for Horizon), so the browser parses, matches and
compiles a comparable amount. Fonts and photo: fixtures/theme/heavy/ (make_heavy_binaries.py), shared
by both themes. Dawn's files are served at /theme/heavy/<name>, Horizon's at /theme/heavy/horizon/<name>.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from functools import lru_cache

from tests.widget.liquid_theme import FIXTURES

HEAVY = FIXTURES / "theme" / "heavy"
STAND_INS = FIXTURES / "theme"


@dataclass(frozen=True)
class Weight:
    """One theme's product-page files: their sizes as shipped (bytes, unminified) and the functional
    stand-in each padded file starts with (the rest of the page's behaviour relies on them)."""

    theme: str  # what the generated padding's header comment names
    folder: str  # where the storefront serves the files: /theme/heavy/<folder><name>
    stylesheets: dict[str, int]
    scripts: dict[str, int]
    stand_in: dict[str, str]
    modules: tuple[str, ...] = ()  # ES modules (Horizon); the rest are classic scripts
    libraries: tuple[str, ...] = ()  # modules the others import: they export, and import nothing
    fit: bool = False  # stop the generated rules/classes short of the size and fill the rest with a comment
    preambles: dict[str, str] = field(default_factory=dict)  # small generated heads instead of a stand-in

    def url(self, name: str) -> str:
        return f"/theme/heavy/{self.folder}{name}"


# Dawn 15.4.1's files on a product page (default settings, cart type "notification"), bytes as shipped.
DAWN = Weight(
    theme="Dawn 15",
    folder="",
    stylesheets={
        "base.css": 76_000,  # head, render-blocking
        "component-cart-items.css": 7_100,  # head, media="print" onload
        "component-list-menu.css": 1_000,  # header section, media="print" onload
        "component-search.css": 1_800,
        "component-menu-drawer.css": 5_600,
        "component-cart-notification.css": 2_700,
        "section-main-product.css": 26_000,  # main-product section, render-blocking in the body
        "component-accordion.css": 1_600,
        "component-price.css": 2_100,
        "component-slider.css": 8_300,
        "component-rating.css": 1_400,
        "component-deferred-media.css": 1_900,
    },
    scripts={
        "constants.js": 0,  # the stand-ins as they are
        "pubsub.js": 0,
        "global.js": 42_000,  # head, defer
        "details-disclosure.js": 1_900,
        "details-modal.js": 1_800,
        "search-form.js": 1_400,
        "animations.js": 2_600,
        "cart-notification.js": 3_000,  # header section, defer
        "product-info.js": 14_000,  # main-product section, defer
        "product-form.js": 5_200,
        "media-gallery.js": 4_100,
        "product-modal.js": 2_300,
        "show-more.js": 900,
        "share.js": 2_000,
    },
    stand_in={
        "base.css": "dawn15/base.css",
        "global.js": "dawn15/global.js",
        "product-info.js": "dawn15/product-info.js",
        "product-form.js": "dawn15/product-form.js",
        "constants.js": "constants.js",
        "pubsub.js": "pubsub.js",
    },
)

# Horizon 4.1's files on a product page (default settings), characters as shipped (the files are
# ASCII but for a few comments, so characters ≈ bytes). What the page loads and how: Horizon 4.1.x's
# layout/theme.liquid (Lantern-Sol/horizon @32e36ff, a Horizon 4 copy; Shopify/horizon @2e7fa6f, whose
# config/settings_schema.json says 4.1.3), snippets/stylesheets.liquid (swoclott91/access-threads-horizon
# @fc9db13, Horizon 4.1.1; Shopify/horizon @138be24), snippets/fonts.liquid (access-threads-horizon
# @8911635), snippets/scripts.liquid (access-threads-horizon @c647770 = Shopify/horizon @5838684 but
# for one line of the merchant's), snippets/theme-styles-variables.liquid (font_face with
# font_display: 'swap'; Shopify/horizon @05a1286), snippets/product-media.liquid (the main image with
# fetchpriority 'high'; access-threads-horizon @2ce4b7f), and Shopify's docs on {% stylesheet %}: its
# CSS is bundled per page into compiled_assets/styles.css, linked at the end of content_for_header.
# Sizes: "4.1.1" = access-threads-horizon @1235879 / @ce5c23a (config/settings_schema.json there:
# 4.1.1); "3.x" = brettelle9-ai/guillo-claude @f39eba7, a complete Horizon 3 copy, for the files no
# 4.1.x copy in the sources had; overflow-list.js from Tharin48/shopify-horizon @50494ba.
HORIZON = Weight(
    theme="Horizon 4.1",
    folder="horizon/",
    fit=True,  # many small files: a whole generated class over each would add 15 %
    stylesheets={
        "base.css": 123_497,  # 4.1.1; head, render-blocking (stylesheet_tag: preload: true)
        "overflow-list.css": 1_250,  # 3.x; head, rel="preload" as="style" only
        # NOT FOUND: the size of a product page's compiled_assets/styles.css (every rendered section,
        # block and snippet's {% stylesheet %}); 30 KB is an estimate. Render-blocking, end of content_for_header.
        "styles.css": 30_000,
    },
    scripts={
        "view-transitions.js": 3_962,  # 3.x; head, async
        # head, rel="modulepreload" fetchpriority="low"
        "utilities.js": 26_478,  # 3.x
        "component.js": 9_651,  # 3.x
        "section-renderer.js": 9_360,  # 4.1.1
        "section-hydration.js": 1_290,  # 3.x
        "morph.js": 19_582,  # 3.x
        "focus.js": 3_337,  # 3.x
        "recently-viewed-products.js": 1_155,  # 3.x
        "scrolling.js": 12_360,  # 3.x
        "events.js": 9_562,  # 3.x
        # head, type="module" fetchpriority="low", in scripts.liquid's order
        "popover-polyfill.js": 25_894,  # 3.x
        "overflow-list.js": 12_251,
        "quick-add.js": 11_779,  # 3.x
        "dialog.js": 4_572,  # 3.x
        "variant-picker.js": 21_068,  # 4.1.1
        "product-card.js": 21_659,  # 4.1.1
        "product-form.js": 32_884,  # 4.1.1
        "fly-to-cart.js": 2_567,  # 3.x
        "accordion-custom.js": 2_857,  # 3.x
        "media.js": 6_767,  # 3.x
        "product-price.js": 3_634,  # 4.1.1
        "product-sku.js": 2_605,  # 4.1.1
        "product-title-truncation.js": 2_312,  # 3.x
        "product-inventory.js": 1_785,  # 4.1.1
        "show-more.js": 3_965,  # 3.x
        "slideshow.js": 29_570,  # 4.1.1
        "layered-slideshow.js": 18_567,  # 3.x
        "anchored-popover.js": 4_938,  # 3.x
        "floating-panel.js": 1_840,  # 3.x
        "video-background.js": 850,  # 3.x
        "component-quantity-selector.js": 8_963,  # 3.x
        "media-gallery.js": 2_619,  # 3.x
        "rte-formatter.js": 741,  # 3.x
        "volume-pricing.js": 509,  # 3.x
        "price-per-item.js": 4_736,  # 4.1.1
        "volume-pricing-info.js": 2_302,  # 3.x
        "sticky-add-to-cart.js": 12_215,  # 3.x; product template only
        "auto-close-details.js": 594,  # 3.x; head, defer
        # The header section's modules. NOT FOUND: how sections/header.liquid loads them; used the form
        # scripts.liquid uses (type="module" fetchpriority="low"), in the header.
        "header.js": 8_633,  # 3.x
        "header-drawer.js": 5_470,  # 3.x
        "cart-icon.js": 4_233,  # 3.x
    },
    stand_in={
        "base.css": "horizon4/base.css",
        "events.js": "horizon4/events.js",
        "variant-picker.js": "horizon4/variant-picker.js",
        "product-price.js": "horizon4/product-price.js",
        "product-form.js": "horizon4/product-form.js",
    },
    modules=("utilities.js", "component.js", "section-renderer.js", "section-hydration.js", "morph.js", "focus.js",
             "recently-viewed-products.js", "scrolling.js", "events.js", "popover-polyfill.js", "overflow-list.js",
             "quick-add.js", "dialog.js", "variant-picker.js", "product-card.js", "product-form.js", "fly-to-cart.js",
             "accordion-custom.js", "media.js", "product-price.js", "product-sku.js", "product-title-truncation.js",
             "product-inventory.js", "show-more.js", "slideshow.js", "layered-slideshow.js", "anchored-popover.js",
             "floating-panel.js", "video-background.js", "component-quantity-selector.js", "media-gallery.js",
             "rte-formatter.js", "volume-pricing.js", "price-per-item.js", "volume-pricing-info.js",
             "sticky-add-to-cart.js", "header.js", "header-drawer.js", "cart-icon.js"),
    libraries=("utilities.js", "component.js", "section-renderer.js", "section-hydration.js", "morph.js", "focus.js",
               "recently-viewed-products.js", "scrolling.js", "events.js"),
    preambles={
        # what the product template's inline module imports (scripts.liquid)
        "recently-viewed-products.js": (
            "export const RecentlyViewed = {\n"
            "  addProduct(id) {\n"
            "    const ids = JSON.parse(localStorage.getItem('viewedProducts') || '[]').filter((seen) => seen !== id);\n"
            "    localStorage.setItem('viewedProducts', JSON.stringify([id, ...ids].slice(0, 12)));\n"
            "  },\n"
            "};\n"
        ),
    },
)
WEIGHTS = {"dawn": DAWN, "horizon": HORIZON}
# The importmap of Horizon's scripts.liquid, as far as this page's modules use it.
IMPORT_MAP = {f"@theme/{name[:-3]}": HORIZON.url(name) for name in HORIZON.libraries}
BINARY = ("body-regular.woff2", "body-bold.woff2", "heading.woff2", "product-photo.webp")

# Dawn's other components: selectors for them never match the product page, as on a real store
# where base.css styles the whole theme.
COMPONENTS = ("card", "collection-hero", "facets", "cart-drawer", "predictive-search", "slideshow", "multicolumn",
              "image-banner", "newsletter", "blog-articles", "article-template", "localization-form", "banner",
              "collage", "rich-text", "testimonial", "pagination", "totals", "quick-add-modal", "menu-drawer")
ELEMENTS = ("inner", "content", "heading", "media", "text", "link", "list", "item", "button", "wrapper", "caption",
            "badge", "icon", "form", "footer", "overlay", "title", "image", "summary", "close")
MODIFIERS = ("large", "small", "active", "hidden", "open", "secondary", "mobile", "desktop", "center", "left")
PROPERTIES = (
    ("display", ("flex", "grid", "block", "none", "inline-flex")), ("align-items", ("center", "flex-start", "stretch")),
    ("justify-content", ("space-between", "center", "flex-end")), ("gap", ("1rem", "0.5rem 1rem", "2rem")),
    ("padding", ("1.5rem", "0 1rem", "2rem 1.5rem", "0.8rem 1.6rem")), ("margin", ("0", "0 auto", "1rem 0 0")),
    ("color", ("rgb(var(--color-foreground))", "rgba(var(--color-foreground), 0.75)")),
    ("background-color", ("rgb(var(--color-background))", "rgba(var(--color-foreground), 0.04)")),
    ("border", ("0.1rem solid rgba(var(--color-foreground), 0.08)", "none")), ("border-radius", ("0.4rem", "50%")),
    ("font-size", ("1.4rem", "1.6rem", "calc(var(--font-heading-scale) * 2.4rem)")), ("line-height", ("1.3", "1.8")),
    ("letter-spacing", ("0.06rem", "0.1rem")), ("transition", ("opacity 0.3s ease", "transform var(--duration-default) ease")),
    ("position", ("relative", "absolute")), ("z-index", ("1", "2", "-1")), ("width", ("100%", "4.4rem", "auto")),
    ("max-width", ("var(--page-width)", "36rem")), ("opacity", ("0", "1", "0.7")), ("overflow", ("hidden", "auto")),
)


def _value(rng: random.Random, values: tuple) -> str:
    value = rng.choice(values)
    return value.replace("rem", f".{rng.randint(0, 9)}rem", 1) if value[0].isdigit() and "rem" in value and "." not in value else value


def _word(rng: random.Random) -> str:
    return rng.choice(ELEMENTS) + "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(0, 3)))


def _rule(rng: random.Random) -> str:
    block = rng.choice(COMPONENTS)
    selector = f".{block}__{_word(rng)}"
    if rng.random() < 0.3:
        selector += f"--{rng.choice(MODIFIERS)}"
    if rng.random() < 0.2:
        selector += f", .{block}--{rng.choice(MODIFIERS)} .{block}__{rng.choice(ELEMENTS)}"
    declarations = "\n".join(f"  {name}: {_value(rng, values)};" for name, values in rng.sample(PROPERTIES, rng.randint(2, 6)))
    return f"{selector} {{\n{declarations}\n}}\n"


def _stylesheet(rng: random.Random, size: int, _file: str, fit: bool = False) -> str:
    parts: list[str] = []
    total = 0
    while total < size:
        rule = _rule(rng)
        if rng.random() < 0.25:
            width = rng.choice((750, 990, 1200))
            rule = f"@media screen and (min-width: {width}px) {{\n" + rule.replace("\n  ", "\n    ") + "}\n"
        if fit and total + len(rule) + 1 > size:
            return _filled(parts, size - total)
        parts.append(rule)
        total += len(rule) + 1
    return "\n".join(parts)


def _filled(parts: list[str], room: int) -> str:
    """The generated parts, then a comment that takes the room left (at least its own delimiters)."""
    words = " ".join(ELEMENTS) + " "
    text = (words * (room // len(words) + 1))[: max(room - 6, 0)]
    return "\n".join(parts) + f"\n/* {text} */"


def _element_class(rng: random.Random, file: str, n: int, exported: bool = False) -> str:
    # Classic scripts share one global scope: names are unique across the page's files. A module the
    # others import exports its classes.
    block = rng.choice(COMPONENTS)
    name = "".join(part.capitalize() for part in f"{file}-{block}".split("-")) + f"Part{n}"
    tag = f"{file}-{block}-part-{n}"
    methods = []
    for m in range(rng.randint(3, 7)):
        element, other = _word(rng), _word(rng)
        methods.append(
            f"  {element}{m}(event) {{\n"
            f"    const target = event ? event.target.closest('.{block}__{element}') : this.querySelector('.{block}__{other}');\n"
            f"    if (!target) return;\n"
            f"    this.classList.toggle('{block}--{rng.choice(MODIFIERS)}', target.hasAttribute('aria-expanded'));\n"
            f"    target.setAttribute('aria-expanded', String(target.getAttribute('aria-expanded') !== 'true'));\n"
            f"    this.dispatchEvent(new CustomEvent('{block}:{element}', {{ bubbles: true, detail: {{ id: this.dataset.{_word(rng)}, step: {rng.randint(1, 999)} }} }}));\n"
            f"    return this.{_word(rng)}{m}?.({rng.choice(('target', 'event', 'null'))}) ?? {rng.randint(0, 99)};\n"
            f"  }}\n"
        )
    return (
        ("export " if exported else "") + f"class {name} extends HTMLElement {{\n"
        f"  constructor() {{\n    super();\n    this.handlers = [];\n  }}\n\n"
        f"  connectedCallback() {{\n"
        f"    this.querySelectorAll('.{block}__{rng.choice(ELEMENTS)}').forEach((element) =>\n"
        f"      element.addEventListener('click', this.{rng.choice(ELEMENTS)}0.bind(this))\n    );\n  }}\n\n"
        + "\n".join(methods)
        + f"}}\nif (!customElements.get('{tag}')) customElements.define('{tag}', {name});\n"
    )


def _script(rng: random.Random, size: int, file: str, exported: bool = False, fit: bool = False) -> str:
    parts: list[str] = []
    total = 0
    while total < size:
        part = _element_class(rng, file, len(parts), exported)
        if fit and total + len(part) + 1 > size:
            return _filled(parts, size - total)
        parts.append(part)
        total += len(part) + 1
    return "\n".join(parts)


# What each of Horizon's other modules imports, as its own modules import '@theme/component' and
# '@theme/utilities' (resolved by the page's importmap).
MODULE_IMPORTS = "import * as component from '@theme/component';\nimport * as utilities from '@theme/utilities';\n"


@lru_cache(maxsize=None)
def heavy_asset(name: str) -> bytes | None:
    """The file ``/theme/heavy/<name>``: one of the Dawn-weight page (``base.css``), of the Horizon-weight
    page (``horizon/base.css``), or a font or the photo both share; None for a name there is not."""
    if name in BINARY:
        return (HEAVY / name).read_bytes()
    folder, _, file = name.rpartition("/")
    weight = next((w for w in WEIGHTS.values() if w.folder == (folder + "/" if folder else "")), None)
    if weight is None or (file not in weight.stylesheets and file not in weight.scripts):
        return None
    if file in weight.stand_in:
        head = (STAND_INS / weight.stand_in[file]).read_text() + "\n"
    else:
        head = weight.preambles.get(file, "")
    rng = random.Random(name)  # the same bytes every run
    size = weight.stylesheets.get(file) or weight.scripts.get(file) or 0
    comment = f"/* Weight of {weight.theme}'s {file}: generated, see tests/widget/heavy_theme.py */\n"
    room = size - len(head) - (len(comment) if weight.fit else 0)  # Dawn's padding did not count the comment
    if size <= len(head):
        padding = ""
    elif file.endswith(".css"):
        padding = comment + _stylesheet(rng, room, file.split(".")[0], weight.fit)
    else:
        library = file in weight.libraries
        imports = MODULE_IMPORTS if file in weight.modules and not library else ""
        padding = comment + imports + _script(rng, room - len(imports), file.split(".")[0], library, weight.fit)
    return (head + padding).encode()


HEAD_SCRIPTS = ("constants.js", "pubsub.js", "global.js", "details-disclosure.js", "details-modal.js", "search-form.js",
                "animations.js")
HEADER_STYLES = ("component-list-menu.css", "component-search.css", "component-menu-drawer.css",
                 "component-cart-notification.css")
SECTION_STYLES = ("section-main-product.css", "component-accordion.css", "component-price.css", "component-slider.css",
                  "component-rating.css", "component-deferred-media.css")
SECTION_SCRIPTS = ("product-info.js", "product-form.js", "media-gallery.js", "product-modal.js", "show-more.js",
                   "share.js")
# The stand-in for Dawn's Assistant (body) and a heading font, as Dawn's {% style %} declares them.
FONT_FACES = """
@font-face { font-family: Assistant; font-weight: 400; font-style: normal; font-display: swap; src: url("/theme/heavy/body-regular.woff2") format("woff2"); }
@font-face { font-family: Assistant; font-weight: 700; font-style: normal; font-display: swap; src: url("/theme/heavy/body-bold.woff2") format("woff2"); }
@font-face { font-family: "Heading Serif"; font-weight: 400; font-style: normal; font-display: swap; src: url("/theme/heavy/heading.woff2") format("woff2"); }
"""


def _inline_style() -> str:
    """Dawn's inline {% style %}: font faces, :root settings, one block of variables per colour scheme."""
    rng = random.Random("inline-style")
    root = "\n".join(f"  --{rng.choice(COMPONENTS)}-{rng.choice(ELEMENTS)}-{n}: {rng.choice(('0.4rem', '1.2rem', '0.08', '60rem'))};"
                     for n in range(60))
    schemes = "\n".join(
        f".color-scheme-{n} {{\n" + "\n".join(f"  --color-{part}: {rng.randint(0, 255)}, {rng.randint(0, 255)}, {rng.randint(0, 255)};"
                                              for part in ("background", "foreground", "background-contrast", "shadow", "button",
                                                           "button-text", "secondary-button", "secondary-button-text", "link",
                                                           "badge-foreground", "badge-background", "badge-border"))
        + "\n}" for n in range(1, 6))
    return (FONT_FACES + f":root {{\n  --font-heading-family: \"Heading Serif\", serif;\n  --font-heading-scale: 1;\n{root}\n}}\n"
            + schemes + "\nhtml h1 { font-family: var(--font-heading-family); }\nbody { font-family: Assistant, sans-serif; }\n")


def _icon(rng: random.Random) -> str:
    points = " ".join(f"{rng.randint(0, 38)} {rng.randint(0, 24)}" for _ in range(60))
    return f'<svg class="icon icon--full-color" viewBox="0 0 38 24" width="38" height="24" aria-hidden="true"><path fill="#{rng.randint(0, 0xffffff):06x}" d="M{points}Z"/></svg>'


def _header() -> str:
    """The announcement bar, the header section's stylesheets and script, its menu drawer and search modal."""
    rng = random.Random("header")
    links = "".join(f'<li><a href="/collections/{rng.choice(COMPONENTS)}-{n}" class="header__menu-item list-menu__item link">Collection {n}</a></li>'
                    for n in range(24))
    sheets = "".join(f'<link rel="stylesheet" href="/theme/heavy/{name}" media="print" onload="this.media=\'all\'">' for name in HEADER_STYLES)
    return (
        '<div class="announcement-bar" role="region" aria-label="Announcement"><p class="announcement-bar__message h5">Free shipping over $75</p></div>'
        + sheets + '<script src="/theme/heavy/cart-notification.js" defer="defer"></script>'
        + f'<details class="header__drawer" hidden><summary aria-label="Menu">{_icon(rng)}</summary><nav><ul class="list-menu">{links}</ul></nav></details>'
        + f'<details-modal class="header__search" hidden><details><summary aria-label="Search">{_icon(rng)}</summary>'
        + '<form action="/search" method="get" role="search"><input type="search" name="q" placeholder="Search"></form></details></details-modal>'
    )


def _footer() -> str:
    """Footer menus, the newsletter form and the payment icons."""
    rng = random.Random("footer")
    menus = "".join(
        f'<div class="footer-block"><h2 class="footer-block__heading">Menu {m}</h2><ul class="footer-block__details-content list-unstyled">'
        + "".join(f'<li><a href="/pages/page-{m}-{n}" class="link list-menu__item">Page {m}.{n}</a></li>' for n in range(8))
        + "</ul></div>" for m in range(3))
    icons = "".join(f"<li class=\"list-payment__item\">{_icon(rng)}</li>" for _ in range(12))
    return (f'<div class="footer__blocks-wrapper" hidden>{menus}</div>'
            '<form class="footer__newsletter newsletter-form" hidden><input type="email" name="contact[email]" aria-label="Email"></form>'
            f'<ul class="list list-payment" role="list" hidden>{icons}</ul>')


def _dawn_context() -> dict:
    return {"real_weight": True, "heavy_head_scripts": HEAD_SCRIPTS, "heavy_section_styles": SECTION_STYLES,
            "heavy_section_scripts": SECTION_SCRIPTS, "heavy_inline_style": _inline_style(),
            "heavy_header": _header(), "heavy_footer": _footer()}


# Horizon 4.1's head, in layout/theme.liquid's order: snippets/stylesheets, fonts, scripts,
# theme-styles-variables, color-palette, then content_for_header (whose last tag is the compiled
# {% stylesheet %} bundle). The header section's modules sit in the header.
HORIZON_MODULEPRELOADS = ("utilities.js", "component.js", "section-renderer.js", "section-hydration.js", "morph.js",
                          "focus.js", "recently-viewed-products.js", "scrolling.js", "events.js")
HORIZON_MODULES = ("popover-polyfill.js", "overflow-list.js", "quick-add.js", "dialog.js", "variant-picker.js",
                   "product-card.js", "product-form.js", "fly-to-cart.js", "accordion-custom.js", "media.js",
                   "product-price.js", "product-sku.js", "product-title-truncation.js", "product-inventory.js",
                   "show-more.js", "slideshow.js", "layered-slideshow.js", "anchored-popover.js", "floating-panel.js",
                   "video-background.js", "component-quantity-selector.js", "media-gallery.js", "rte-formatter.js",
                   "volume-pricing.js", "price-per-item.js", "volume-pricing-info.js")
HORIZON_PRODUCT_MODULES = ("fly-to-cart.js", "sticky-add-to-cart.js")  # scripts.liquid's product-template lines
HORIZON_HEADER_MODULES = ("header.js", "header-drawer.js", "cart-icon.js")
# Horizon's default fonts (config/settings_schema.json): body Work Sans 400, subheading Work Sans 500,
# heading and accent Anonymous Pro 400 — stand-ins here, as for Dawn (their real sizes were not found).
HORIZON_FONTS = (("Work Sans", 400, "body-regular.woff2"), ("Work Sans", 500, "body-bold.woff2"),
                 ("Anonymous Pro", 400, "heading.woff2"), ("Anonymous Pro", 400, "heading.woff2"))


def _module_tag(name: str) -> str:
    return f'<script src="{HORIZON.url(name)}" type="module" fetchpriority="low"></script>'


def _horizon_head(product_id: int) -> str:
    """What Horizon 4.1's layout renders in the head before content_for_header."""
    rng = random.Random("horizon-head")
    fonts = "".join(f'<link rel="preload" as="font" href="/theme/heavy/{file}" type="font/woff2" crossorigin fetchpriority="low">'
                    for _family, _weight, file in HORIZON_FONTS)
    faces = "".join(f'@font-face {{ font-family: "{family}"; font-weight: {weight}; font-style: normal; font-display: swap; '
                    f'src: url("/theme/heavy/{file}") format("woff2"); }}\n' for family, weight, file in dict.fromkeys(HORIZON_FONTS))
    variables = "\n".join(f"  --{rng.choice(COMPONENTS)}-{rng.choice(ELEMENTS)}--{n}: {rng.choice(('0.4rem', '1.2rem', '0.08', '60rem', '12px'))};"
                          for n in range(160))
    palette = "\n".join(f"  --color-{part}-{n}: rgb({rng.randint(0, 255)} {rng.randint(0, 255)} {rng.randint(0, 255)} / {rng.randint(1, 100)}%);"
                        for n in range(8) for part in ("background", "foreground", "border", "primary", "input", "variant"))
    return (
        f'<link rel="preload" href="{HORIZON.url("overflow-list.css")}" as="style">'
        f'<link rel="stylesheet" href="{HORIZON.url("base.css")}">'
        + fonts
        + f'<script type="importmap">{json.dumps({"imports": IMPORT_MAP})}</script>'
        + f'<script src="{HORIZON.url("view-transitions.js")}" async></script>'
        + "".join(f'<link rel="modulepreload" href="{HORIZON.url(name)}" fetchpriority="low">' for name in HORIZON_MODULEPRELOADS)
        + "".join(_module_tag(name) for name in HORIZON_MODULES + HORIZON_PRODUCT_MODULES)
        + f"<script type=\"module\">import {{ RecentlyViewed }} from '@theme/recently-viewed-products'; RecentlyViewed.addProduct('{product_id}');</script>"
        + f'<script src="{HORIZON.url("auto-close-details.js")}" defer="defer"></script>'
        + f"<style>{faces}:root {{\n  --font-body--family: \"Work Sans\", sans-serif;\n  --font-subheading--family: \"Work Sans\", sans-serif;\n"
          f"  --font-heading--family: \"Anonymous Pro\", monospace;\n{variables}\n}}\n"
          "body { font-family: var(--font-body--family); }\n.product-title { font-family: var(--font-heading--family); }\n"
          ".price, .variant-option legend, .button { font-family: var(--font-subheading--family); font-weight: 500; }\n</style>"
        + f"<style>:root {{\n{palette}\n}}</style>"
    )


def _horizon_header() -> str:
    """The header group's announcement bar, menu drawer and the header section's modules."""
    rng = random.Random("horizon-header")
    links = "".join(f'<li><a href="/collections/{rng.choice(COMPONENTS)}-{n}" class="menu-list__link">Collection {n}</a></li>'
                    for n in range(24))
    return ('<div class="announcement-bar" role="region" aria-label="Announcement"><p class="announcement-bar__text">Free shipping over $75</p></div>'
            + "".join(_module_tag(name) for name in HORIZON_HEADER_MODULES)
            + f'<details class="header__drawer" hidden><summary aria-label="Menu">{_icon(rng)}</summary><nav><ul class="menu-drawer__menu">{links}</ul></nav></details>')


# layout/theme.liquid's inline script after the header group (it keeps the header height in CSS
# variables so nothing shifts): a stand-in of the same work.
HORIZON_HEADER_SCRIPT = """<script>
(function () {
  const header = document.querySelector('#header-component');
  const group = document.querySelector('#header-group');
  if (!header || !group) return;
  let rest = 0;
  for (const child of group.children) if (child !== header && child instanceof HTMLElement) rest += child.offsetHeight;
  document.body.style.setProperty('--header-height', `${header.offsetHeight}px`);
  document.body.style.setProperty('--header-group-height', `${rest}px`);
  header.dataset.menuStyle = 'ontouchstart' in window && navigator.maxTouchPoints > 0 ? 'drawer' : 'menu';
})();
</script>"""


def _horizon_drawers() -> str:
    """The cart drawer, search modal and quick-add modal Horizon's layout renders closed after the footer."""
    rng = random.Random("horizon-drawers")
    items = "".join(f'<li class="predictive-search__item"><a href="/products/{rng.choice(COMPONENTS)}-{n}">{_icon(rng)} Product {n}</a></li>'
                    for n in range(8))
    return ('<dialog class="cart-drawer__dialog"><div class="cart-drawer__inner"><h2>Cart</h2><p>Your cart is empty</p></div></dialog>'
            f'<dialog class="search-modal__content"><form action="/search" role="search"><input type="search" name="q" aria-label="Search"></form><ul>{items}</ul></dialog>'
            '<dialog class="quick-add-modal"><div class="quick-add-modal__content"></div></dialog>')


@lru_cache(maxsize=None)
def heavy_context(theme: str = "dawn", product_id: int = 0) -> dict:
    """What the theme's fixture templates read when real_weight is on."""
    if theme == "dawn":
        return _dawn_context()
    return {"real_weight": True, "heavy_head": _horizon_head(product_id),
            "heavy_content_for_header_end": f'<link rel="stylesheet" media="screen" href="{HORIZON.url("styles.css")}">',
            "heavy_header": _horizon_header(), "heavy_header_script": HORIZON_HEADER_SCRIPT,
            "heavy_footer": _footer(), "heavy_drawers": _horizon_drawers(), "heavy_photo": "/theme/heavy/product-photo.webp"}
