"""Words of the notices other than the restock alert, in every shipped language.

Each kind overrides some of the restock strings (``restock_strings.py``) and keeps the rest
(price label, unsubscribe, …). Placeholders: ``{shop}``, ``{product}``, ``{item}``, ``{url}``,
``{left}`` (units left, low-stock reminder) and ``{date}`` (the expected date, localized).
"""

from __future__ import annotations

FOLLOW_UP_STRINGS: dict[str, dict[str, dict[str, str]]] = {
    "en": {
        "reminder": {
            "subject": "{product} is still available at {shop}",
            "heading": "Still thinking it over?",
            "intro": "{item} is still in stock at {shop}.",
            "sms": "{shop}: {item} is still in stock: {url} Reply STOP to opt out.",
        },
        "reminder_low": {
            "subject": "Only {left} left: {product} at {shop}",
            "heading": "Almost gone",
            "intro": "Only {left} of {item} left at {shop}.",
            "sms": "{shop}: only {left} of {item} left: {url} Reply STOP to opt out.",
        },
        "eta": {
            "subject": "{product} is expected back on {date}",
            "heading": "We know when it's coming back",
            "intro": "{shop} expects {item} back in stock on {date}. We'll tell you as soon as it is.",
            "button": "View the item",
            "sms": "{shop}: {item} is expected back on {date}. We'll text you when it is. Reply STOP to opt out.",
        },
        "confirm": {
            "subject": "Confirm your back-in-stock alert from {shop}",
            "heading": "One more step",
            "intro": "Confirm that you want {shop} to tell you when {item} is back in stock.",
            "button": "Confirm",
            "footer": "If you did not ask for this alert, ignore this message and nothing will be sent.",
            "sms": "{shop}: confirm your alert for {item}: {url} Reply STOP to opt out.",
        },
    },
    "zh-CN": {
        "reminder": {
            "subject": "{shop} 的 {product} 仍有库存",
            "heading": "还在考虑吗？",
            "intro": "{item}在 {shop} 仍有库存。",
            "sms": "{shop}：{item}仍有库存：{url} 回复 STOP 退订。",
        },
        "reminder_low": {
            "subject": "仅剩 {left} 件：{shop} 的 {product}",
            "heading": "即将售罄",
            "intro": "{item}在 {shop} 仅剩 {left} 件。",
            "sms": "{shop}：{item}仅剩 {left} 件：{url} 回复 STOP 退订。",
        },
        "eta": {
            "subject": "{product} 预计于 {date} 到货",
            "heading": "到货日期已确定",
            "intro": "{shop} 预计 {item}将于 {date} 到货。到货后我们会第一时间通知您。",
            "button": "查看商品",
            "sms": "{shop}：{item}预计于 {date} 到货，到货后将短信通知您。回复 STOP 退订。",
        },
        "confirm": {
            "subject": "请确认 {shop} 的到货提醒",
            "heading": "还差一步",
            "intro": "请确认您希望 {shop} 在 {item}到货时通知您。",
            "button": "确认",
            "footer": "如果您没有申请此提醒，请忽略本邮件，我们不会再发送任何消息。",
            "sms": "{shop}：请确认 {item}的到货提醒：{url} 回复 STOP 退订。",
        },
    },
    "es": {
        "reminder": {
            "subject": "{product} sigue disponible en {shop}",
            "heading": "¿Todavía lo estás pensando?",
            "intro": "{item} sigue disponible en {shop}.",
            "sms": "{shop}: {item} sigue disponible: {url} Responde STOP para darte de baja.",
        },
        "reminder_low": {
            "subject": "Solo quedan {left}: {product} en {shop}",
            "heading": "Casi agotado",
            "intro": "Solo quedan {left} de {item} en {shop}.",
            "sms": "{shop}: solo quedan {left} de {item}: {url} Responde STOP para darte de baja.",
        },
        "eta": {
            "subject": "{product} volverá el {date}",
            "heading": "Ya sabemos cuándo vuelve",
            "intro": "{shop} espera tener {item} de nuevo el {date}. Te avisaremos en cuanto llegue.",
            "button": "Ver el artículo",
            "sms": "{shop}: {item} volverá el {date}. Te avisaremos cuando llegue. Responde STOP para darte de baja.",
        },
        "confirm": {
            "subject": "Confirma tu aviso de {shop}",
            "heading": "Un paso más",
            "intro": "Confirma que quieres que {shop} te avise cuando {item} vuelva a estar disponible.",
            "button": "Confirmar",
            "footer": "Si no pediste este aviso, ignora este mensaje y no te enviaremos nada.",
            "sms": "{shop}: confirma tu aviso para {item}: {url} Responde STOP para darte de baja.",
        },
    },
    "fr": {
        "reminder": {
            "subject": "{product} est toujours disponible chez {shop}",
            "heading": "Vous hésitez encore ?",
            "intro": "{item} est toujours en stock chez {shop}.",
            "sms": "{shop} : {item} est toujours en stock : {url} Répondez STOP pour vous désinscrire.",
        },
        "reminder_low": {
            "subject": "Plus que {left} : {product} chez {shop}",
            "heading": "Bientôt épuisé",
            "intro": "Il ne reste que {left} {item} chez {shop}.",
            "sms": "{shop} : plus que {left} {item} : {url} Répondez STOP pour vous désinscrire.",
        },
        "eta": {
            "subject": "{product} est attendu le {date}",
            "heading": "Nous savons quand il revient",
            "intro": "{shop} attend le retour de {item} le {date}. Nous vous préviendrons dès son arrivée.",
            "button": "Voir l'article",
            "sms": "{shop} : {item} est attendu le {date}. Nous vous préviendrons. Répondez STOP pour vous désinscrire.",
        },
        "confirm": {
            "subject": "Confirmez votre alerte de retour en stock chez {shop}",
            "heading": "Encore une étape",
            "intro": "Confirmez que vous souhaitez que {shop} vous prévienne du retour de {item}.",
            "button": "Confirmer",
            "footer": "Si vous n'avez pas demandé cette alerte, ignorez ce message : rien ne vous sera envoyé.",
            "sms": "{shop} : confirmez votre alerte pour {item} : {url} Répondez STOP pour vous désinscrire.",
        },
    },
    "de": {
        "reminder": {
            "subject": "{product} ist bei {shop} weiterhin verfügbar",
            "heading": "Noch unentschlossen?",
            "intro": "{item} ist bei {shop} weiterhin auf Lager.",
            "sms": "{shop}: {item} ist weiterhin auf Lager: {url} Antworten Sie STOP zum Abmelden.",
        },
        "reminder_low": {
            "subject": "Nur noch {left}: {product} bei {shop}",
            "heading": "Fast ausverkauft",
            "intro": "Von {item} sind bei {shop} nur noch {left} übrig.",
            "sms": "{shop}: nur noch {left} von {item}: {url} Antworten Sie STOP zum Abmelden.",
        },
        "eta": {
            "subject": "{product} ist voraussichtlich am {date} wieder da",
            "heading": "Wir wissen, wann er zurückkommt",
            "intro": "{shop} erwartet {item} am {date} wieder auf Lager. Wir sagen Ihnen sofort Bescheid.",
            "button": "Artikel ansehen",
            "sms": "{shop}: {item} ist voraussichtlich am {date} wieder da. Antworten Sie STOP zum Abmelden.",
        },
        "confirm": {
            "subject": "Bestätigen Sie Ihre Benachrichtigung von {shop}",
            "heading": "Noch ein Schritt",
            "intro": "Bestätigen Sie, dass {shop} Sie benachrichtigen soll, sobald {item} wieder verfügbar ist.",
            "button": "Bestätigen",
            "footer": "Wenn Sie diese Benachrichtigung nicht angefordert haben, ignorieren Sie diese Nachricht.",
            "sms": "{shop}: Bestätigen Sie Ihre Benachrichtigung für {item}: {url} Antworten Sie STOP zum Abmelden.",
        },
    },
    "ja": {
        "reminder": {
            "subject": "{shop}の{product}はまだ在庫があります",
            "heading": "まだお悩みですか？",
            "intro": "{item}は{shop}でまだ在庫があります。",
            "sms": "{shop}：{item}はまだ在庫があります：{url} 配信停止は STOP と返信。",
        },
        "reminder_low": {
            "subject": "残り{left}点：{shop}の{product}",
            "heading": "残りわずかです",
            "intro": "{item}は{shop}で残り{left}点です。",
            "sms": "{shop}：{item}は残り{left}点です：{url} 配信停止は STOP と返信。",
        },
        "eta": {
            "subject": "{product}は{date}に再入荷予定です",
            "heading": "再入荷日が決まりました",
            "intro": "{shop}では{item}の再入荷を{date}に予定しています。入荷しだいお知らせします。",
            "button": "商品を見る",
            "sms": "{shop}：{item}は{date}に再入荷予定です。入荷しだいお知らせします。配信停止は STOP と返信。",
        },
        "confirm": {
            "subject": "{shop}の再入荷通知を確認してください",
            "heading": "あと一歩です",
            "intro": "{item}の再入荷を{shop}からお知らせしてよいか確認してください。",
            "button": "確認する",
            "footer": "お心当たりがない場合は、このメッセージを無視してください。今後何も送信されません。",
            "sms": "{shop}：{item}の再入荷通知を確認してください：{url} 配信停止は STOP と返信。",
        },
    },
}
