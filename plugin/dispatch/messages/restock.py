"""Render a notice — the restock alert, a reminder, an expected date, a confirmation request:
subject, text and html for email, a short text for SMS.

The links are left as substitution tags (``URL_TAG``, ``UNSUBSCRIBE_TAG``) so every shopper of a
variant and locale shares one rendered body; the channel fills in each shopper's own links.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from babel.dates import format_date
from babel.numbers import UnknownCurrencyError, format_currency
from jinja2 import Environment, PackageLoader, select_autoescape

from plugin.dispatch.messages.follow_up_strings import FOLLOW_UP_STRINGS
from plugin.dispatch.messages.locales import normalise_locale
from plugin.dispatch.messages.restock_strings import RESTOCK_STRINGS

URL_TAG = "-bb_url-"
UNSUBSCRIBE_TAG = "-bb_unsubscribe-"
CODE_TAG = "-bb_code-"  # the shopper's personal discount code (plugin.offers)


@dataclass(frozen=True)
class OfferText:
    """The offer in a notice (plugin.offers.notice), the same for every shopper of a batch: the
    code itself goes in per shopper through ``CODE_TAG``. Times are already in the shop's zone."""

    percent: int | None = None
    code_until: str | None = None  # "Jan 4 14:30"
    held_until: str | None = None  # "14:30"


@dataclass(frozen=True)
class NoticeContext:
    shop_name: str
    product_title: str
    variant_title: str | None
    price: str | None
    currency: str | None
    locale: str
    offer: OfferText | None = None
    left: int | None = None  # units left, when a reminder says "only N left"
    expected_on: date | None = None  # an eta notice's date
    # The shop's own wording of this locale's strings (``overrides.restock_strings``).
    wording: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class RenderedNotice:
    locale: str
    subject: str | None
    text: str
    html: str | None


@lru_cache(maxsize=1)
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("plugin.dispatch.messages", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        keep_trailing_newline=True,
    )


def render_restock(context: NoticeContext, channel: str) -> RenderedNotice:
    return render_notice("restock", context, channel)


def notice_strings(kind: str, locale: str) -> dict[str, str]:
    """The restock strings with the kind's own words over them (``reminder_low``, ``eta``, …)."""
    return {**RESTOCK_STRINGS[locale], **FOLLOW_UP_STRINGS[locale].get(kind, {})}


@lru_cache(maxsize=512)
def render_notice(kind: str, context: NoticeContext, channel: str) -> RenderedNotice:
    """Cached: a restock of 100,000 shoppers renders once per kind, locale and channel."""
    locale = normalise_locale(context.locale)
    # The shop's restock wording first, then the kind's own words (reminder, eta, …) over it.
    strings = {**RESTOCK_STRINGS[locale], **dict(context.wording), **FOLLOW_UP_STRINGS[locale].get(kind, {})}
    variant = _variant_label(context.variant_title)
    item = strings["item"].format(product=context.product_title, variant=variant) if variant else context.product_title
    words = {"shop": context.shop_name, "product": context.product_title, "item": item, "left": context.left,
             "date": format_date(context.expected_on, format="long", locale=locale.replace("-", "_"))
             if context.expected_on else ""}
    offer_lines = _offer_lines(strings, context.offer, sms=channel == "sms")
    if channel == "sms":
        text = strings["sms"].format(**words, url=URL_TAG)
        return RenderedNotice(locale, None, " ".join([*offer_lines, text]) if offer_lines else text, None)
    values = {
        "locale": locale,
        "s": strings,
        "subject": strings["subject"].format(**words),
        "shop_name": context.shop_name,
        "intro": strings["intro"].format(**words),
        "footer": strings["footer"].format(**words),
        "price": format_money(context.price, context.currency, locale),
        "url": URL_TAG,
        "unsubscribe_url": UNSUBSCRIBE_TAG,
        "offer_lines": offer_lines,
    }
    env = _environment()
    html = env.get_template("restock.html").render(values)
    text = env.get_template("restock.txt").render(values)
    return RenderedNotice(locale, values["subject"], text, html)


def _offer_lines(strings: dict[str, str], offer: OfferText | None, sms: bool) -> list[str]:
    if offer is None:
        return []
    prefix, lines = "sms_" if sms else "offer_", []
    if offer.held_until:
        lines.append(strings[prefix + "hold"].format(until=offer.held_until))
    if offer.percent and offer.code_until:
        lines.append(strings[prefix + "code"].format(code=CODE_TAG, percent=offer.percent, until=offer.code_until))
    return lines


def _variant_label(title: str | None) -> str:
    # Shopify names the only variant of a product "Default Title"; shoppers never saw that.
    return title if title and title != "Default Title" else ""


def format_money(amount: str | None, currency: str | None, locale: str) -> str | None:
    """A price as the shopper reads it: ``49,00 €`` in French, ``¥4,900`` (JPY) or ``$49.00`` in English.

    Babel (CLDR) knows each language's separators, symbol position and the currency's decimals.
    Without a currency (or with a code CLDR does not know) the amount is printed as stored.
    """
    if not amount:
        return None
    if not currency:
        return amount
    try:
        return format_currency(Decimal(amount), currency.upper(), locale=locale.replace("-", "_"))
    except (InvalidOperation, UnknownCurrencyError, ValueError):
        return f"{amount} {currency}"
