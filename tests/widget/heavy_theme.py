"""The weight of Dawn 15's real product page, for ``?theme=dawn&weight=real``.

The Dawn 15 fixture page (fixtures/dawn15/) carries only the markup and stand-in scripts the widget
depends on — a few KB — so a render-blocking stylesheet of the app's costs far more there than on a
store. With ``weight=real`` the same page also loads what Dawn 15.4's layout/theme.liquid and
sections/main-product.liquid load, at their sizes: the render-blocking ``base.css`` in the head and
the section's ``section-main-product.css`` / ``component-*.css`` in the body, the header's
``media="print"`` stylesheets, two preloaded woff2 fonts and a third on demand (``font-display:
swap``), the product photo as the LCP element (eager, ``fetchpriority="high"``, srcset/sizes), and
the theme's deferred scripts. Shopify serves them compressed; so does the test storefront.

Nothing here is Shopify's code: the functional stand-ins (fixtures/theme/dawn15/) are padded, and the
other files generated, to the byte sizes of Dawn 15.4.1's files (unminified, as Dawn ships them) with
rules and classes of the same kind (BEM selectors under media queries; custom elements with event
handlers), so the browser parses, matches and compiles a comparable amount. Fonts and photo:
fixtures/theme/heavy/ (make_heavy_binaries.py).
"""

from __future__ import annotations

import random
from functools import lru_cache

from tests.widget.liquid_theme import FIXTURES

HEAVY = FIXTURES / "theme" / "heavy"
STAND_INS = FIXTURES / "theme"

# Dawn 15.4.1's files on a product page (default settings, cart type "notification"), bytes as shipped.
STYLESHEETS = {
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
}
SCRIPTS = {
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
}
# The functional stand-in each padded file starts with (the rest of the page's behaviour relies on them).
STAND_IN = {
    "base.css": "dawn15/base.css",
    "global.js": "dawn15/global.js",
    "product-info.js": "dawn15/product-info.js",
    "product-form.js": "dawn15/product-form.js",
    "constants.js": "constants.js",
    "pubsub.js": "pubsub.js",
}
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


def _stylesheet(rng: random.Random, size: int, _file: str) -> str:
    parts: list[str] = []
    total = 0
    while total < size:
        rule = _rule(rng)
        if rng.random() < 0.25:
            width = rng.choice((750, 990, 1200))
            rule = f"@media screen and (min-width: {width}px) {{\n" + rule.replace("\n  ", "\n    ") + "}\n"
        parts.append(rule)
        total += len(rule) + 1
    return "\n".join(parts)


def _element_class(rng: random.Random, file: str, n: int) -> str:
    # Classic scripts share one global scope: names are unique across the page's files.
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
        f"class {name} extends HTMLElement {{\n"
        f"  constructor() {{\n    super();\n    this.handlers = [];\n  }}\n\n"
        f"  connectedCallback() {{\n"
        f"    this.querySelectorAll('.{block}__{rng.choice(ELEMENTS)}').forEach((element) =>\n"
        f"      element.addEventListener('click', this.{rng.choice(ELEMENTS)}0.bind(this))\n    );\n  }}\n\n"
        + "\n".join(methods)
        + f"}}\nif (!customElements.get('{tag}')) customElements.define('{tag}', {name});\n"
    )


def _script(rng: random.Random, size: int, file: str) -> str:
    parts: list[str] = []
    total = 0
    while total < size:
        part = _element_class(rng, file, len(parts))
        parts.append(part)
        total += len(part) + 1
    return "\n".join(parts)


@lru_cache(maxsize=None)
def heavy_asset(name: str) -> bytes | None:
    """The file ``/theme/heavy/<name>`` of the Dawn-weight page; None for a name it does not have."""
    if name in BINARY:
        return (HEAVY / name).read_bytes()
    if name not in STYLESHEETS and name not in SCRIPTS:
        return None
    head = (STAND_INS / STAND_IN[name]).read_text() + "\n" if name in STAND_IN else ""
    rng = random.Random(name)  # the same bytes every run
    size = STYLESHEETS.get(name) or SCRIPTS.get(name) or 0
    make = _stylesheet if name.endswith(".css") else _script
    padding = f"/* Weight of Dawn 15's {name}: generated, see tests/widget/heavy_theme.py */\n" + make(rng, size - len(head), name.split(".")[0]) if size > len(head) else ""
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


@lru_cache(maxsize=1)
def heavy_context() -> dict:
    """What the Dawn 15 templates read when real_weight is on."""
    return {"real_weight": True, "heavy_head_scripts": HEAD_SCRIPTS, "heavy_section_styles": SECTION_STYLES,
            "heavy_section_scripts": SECTION_SCRIPTS, "heavy_inline_style": _inline_style(),
            "heavy_header": _header(), "heavy_footer": _footer()}
