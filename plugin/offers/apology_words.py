"""The apology's words in every shipped language: sorry, the code, and one "tell me when it's
back" link per cancelled item."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from plugin.dispatch.messages.locales import normalise_locale

WORDS: dict[str, dict[str, str]] = {
    "en": {"subject": "Sorry: part of your order at {shop} was out of stock",
           "intro": "We are sorry: we had to cancel items of your order because they were out of stock.",
           "code": "As an apology, your personal code {code} takes {percent}% off until {until}.",
           "ask": "Tell me when it's back"},
    "zh-CN": {"subject": "抱歉：您在 {shop} 的部分订单商品缺货",
              "intro": "非常抱歉：由于缺货，我们不得不取消您订单中的部分商品。",
              "code": "作为歉意，您的专属优惠码 {code} 可享 {percent}% 折扣，有效期至 {until}。",
              "ask": "到货时通知我"},
    "es": {"subject": "Lo sentimos: parte de tu pedido en {shop} estaba agotada",
           "intro": "Lo sentimos: tuvimos que cancelar artículos de tu pedido porque estaban agotados.",
           "code": "Como disculpa, tu código personal {code} te da un {percent}% de descuento hasta el {until}.",
           "ask": "Avísame cuando vuelva"},
    "fr": {"subject": "Désolés : une partie de votre commande chez {shop} était en rupture",
           "intro": "Nous sommes désolés : nous avons dû annuler des articles de votre commande, en rupture de stock.",
           "code": "Pour nous excuser, votre code personnel {code} vous offre {percent} % jusqu'au {until}.",
           "ask": "Prévenez-moi de son retour"},
    "de": {"subject": "Entschuldigung: Ein Teil Ihrer Bestellung bei {shop} war nicht vorrätig",
           "intro": "Es tut uns leid: Wir mussten Artikel Ihrer Bestellung stornieren, weil sie nicht vorrätig waren.",
           "code": "Als Entschuldigung gibt Ihnen Ihr persönlicher Code {code} {percent} % Rabatt bis {until}.",
           "ask": "Benachrichtigen, wenn wieder da"},
    "ja": {"subject": "お詫び：{shop}でのご注文の一部が在庫切れでした",
           "intro": "申し訳ございません。在庫切れのため、ご注文の一部をキャンセルいたしました。",
           "code": "お詫びとして、お客様専用コード {code} で{until}まで{percent}%オフになります。",
           "ask": "再入荷したら知らせる"},
}


@dataclass(frozen=True)
class ApologyWords:
    locale: str
    subject: str
    text: str
    html: str


def render_apology(locale: str, shop: str, links: list[tuple[str, str]], code: str | None, percent: int,
                   until: str | None) -> ApologyWords:
    """``links``: (item title, subscribe URL) per cancelled variant."""
    locale = normalise_locale(locale)
    words = WORDS[locale]
    lines = [words["intro"]]
    if code and until:
        lines.append(words["code"].format(code=code, percent=percent, until=until))
    text = "\n\n".join(lines) + "\n\n" + "\n".join(f"{title} — {words['ask']}: {url}" for title, url in links)
    items = "".join(f'<li>{escape(title)}: <a href="{escape(url)}">{escape(words["ask"])}</a></li>'
                    for title, url in links)
    paragraphs = "".join(f"<p>{escape(line)}</p>" for line in lines)
    html = (f'<!DOCTYPE html><html lang="{locale}"><head><meta charset="utf-8"><title>{escape(shop)}</title></head>'
            f'<body style="font-family:Helvetica,Arial,sans-serif;color:#111827;">{paragraphs}<ul>{items}</ul>'
            "</body></html>")
    return ApologyWords(locale, words["subject"].format(shop=shop), text, html)
