"""The restock notice's words in every shipped language (merchant overrides come later)."""

from __future__ import annotations

RESTOCK_STRINGS: dict[str, dict[str, str]] = {
    "en": {
        "item": "{product} ({variant})",
        "subject": "{product} is back in stock at {shop}",
        "heading": "Good news: it's back!",
        "intro": "{item} is back in stock at {shop}. Stock may be limited.",
        "price": "Price",
        "button": "Shop now",
        "footer": "You asked {shop} to tell you when this item was back.",
        "unsubscribe": "Unsubscribe",
        "sms": "{shop}: {item} is back in stock: {url} Reply STOP to opt out.",
    },
    "zh-CN": {
        "item": "{product}（{variant}）",
        "subject": "{shop} 的 {product} 已到货",
        "heading": "好消息：商品已到货！",
        "intro": "您关注的 {item}已在 {shop} 重新到货，库存有限。",
        "price": "价格",
        "button": "立即购买",
        "footer": "您曾请求 {shop} 在此商品到货时通知您。",
        "unsubscribe": "退订",
        "sms": "{shop}：{item}已到货：{url} 回复 STOP 退订。",
    },
    "es": {
        "item": "{product} ({variant})",
        "subject": "{product} vuelve a estar disponible en {shop}",
        "heading": "¡Buenas noticias: ha vuelto!",
        "intro": "{item} vuelve a estar disponible en {shop}. Las existencias pueden ser limitadas.",
        "price": "Precio",
        "button": "Comprar ahora",
        "footer": "Pediste a {shop} que te avisara cuando este artículo volviera.",
        "unsubscribe": "Darse de baja",
        "sms": "{shop}: {item} vuelve a estar disponible: {url} Responde STOP para darte de baja.",
    },
    "fr": {
        "item": "{product} ({variant})",
        "subject": "{product} est de retour chez {shop}",
        "heading": "Bonne nouvelle : il est de retour !",
        "intro": "{item} est de nouveau en stock chez {shop}. Les quantités peuvent être limitées.",
        "price": "Prix",
        "button": "Acheter maintenant",
        "footer": "Vous avez demandé à {shop} de vous prévenir du retour de cet article.",
        "unsubscribe": "Se désinscrire",
        "sms": "{shop} : {item} est de nouveau en stock : {url} Répondez STOP pour vous désinscrire.",
    },
    "de": {
        "item": "{product} ({variant})",
        "subject": "{product} ist wieder verfügbar bei {shop}",
        "heading": "Gute Nachricht: Er ist wieder da!",
        "intro": "{item} ist bei {shop} wieder auf Lager. Der Bestand kann begrenzt sein.",
        "price": "Preis",
        "button": "Jetzt kaufen",
        "footer": "Sie haben {shop} gebeten, Sie zu benachrichtigen, sobald dieser Artikel wieder da ist.",
        "unsubscribe": "Abmelden",
        "sms": "{shop}: {item} ist wieder auf Lager: {url} Antworten Sie STOP zum Abmelden.",
    },
    "ja": {
        "item": "{product}（{variant}）",
        "subject": "{shop}で{product}が再入荷しました",
        "heading": "お待たせしました。再入荷です！",
        "intro": "{item}が{shop}で再入荷しました。在庫に限りがあります。",
        "price": "価格",
        "button": "今すぐ購入",
        "footer": "この商品の再入荷通知を{shop}にご依頼いただいたため、お送りしています。",
        "unsubscribe": "配信停止",
        "sms": "{shop}：{item}が再入荷しました：{url} 配信停止は STOP と返信。",
    },
}

LOCALES = tuple(RESTOCK_STRINGS)


def pick_locale(requested: str | None) -> str:
    """The shipped locale closest to a storefront locale ("zh_CN", "es-MX", "FR" …); English otherwise."""
    if not requested:
        return "en"
    value = requested.replace("_", "-").strip()
    lowered = {locale.lower(): locale for locale in LOCALES}
    if value.lower() in lowered:
        return lowered[value.lower()]
    language = value.split("-")[0].lower()
    if language == "zh":
        return "zh-CN"
    return lowered.get(language, "en")
