"""Shopper-readable intake error messages, per storefront locale.

The widget shows ``error.message`` next to ``error.field``, so each message says what is wrong and
how to fix it, in the shopper's language. Placeholders use ``str.format`` names.
"""

from __future__ import annotations

from plugin.dispatch.messages.locales import DEFAULT_LOCALE, normalise_locale

CATALOG: dict[str, dict[str, str]] = {
    "en": {
        "invalid_email": "Please enter a valid email address, like name@example.com.",
        "email_typo": "Please check your email address — did you mean {suggestion}?",
        "invalid_phone": "Please enter a valid mobile number.",
        "phone_needs_country": "Please enter your mobile number with the country code, like +1 555 123 4567.",
        "missing_contact": "Please enter your email address or mobile number.",
        "consent_required": "Please tick the box to agree to receive the alert.",
        "unknown_channel": "This way of being notified is not available. Please choose email or SMS.",
        "invalid_variant": "We couldn't tell which product option you chose. Please reload the page and try again.",
        "waiting_not_allowed": "This product option can't be reserved for an alert.",
        "suppressed_contact": "We can't send alerts to this address or number because it unsubscribed or bounced. Please use another one.",
        "invalid_json": "Something went wrong sending the form. Please reload the page and try again.",
        "too_long": "This is too long. Please shorten it and try again.",
    },
    "zh-CN": {
        "invalid_email": "请输入有效的电子邮件地址，例如 name@example.com。",
        "email_typo": "请检查您的电子邮件地址——您是否想输入 {suggestion}？",
        "invalid_phone": "请输入有效的手机号码。",
        "phone_needs_country": "请输入带国家/地区代码的手机号码，例如 +86 138 0013 8000。",
        "missing_contact": "请输入您的电子邮件地址或手机号码。",
        "consent_required": "请勾选同意接收到货提醒。",
        "unknown_channel": "不支持此通知方式，请选择电子邮件或短信。",
        "invalid_variant": "无法识别您选择的商品规格，请刷新页面后重试。",
        "waiting_not_allowed": "此商品规格无法设置到货提醒。",
        "suppressed_contact": "此地址或号码已退订或无法送达，我们无法向其发送提醒，请换一个。",
        "invalid_json": "表单提交出错，请刷新页面后重试。",
        "too_long": "内容过长，请缩短后重试。",
    },
    "es": {
        "invalid_email": "Introduce un correo electrónico válido, como nombre@ejemplo.com.",
        "email_typo": "Revisa tu correo electrónico: ¿quisiste decir {suggestion}?",
        "invalid_phone": "Introduce un número de móvil válido.",
        "phone_needs_country": "Introduce tu número de móvil con el prefijo del país, como +34 612 345 678.",
        "missing_contact": "Introduce tu correo electrónico o tu número de móvil.",
        "consent_required": "Marca la casilla para aceptar recibir el aviso.",
        "unknown_channel": "Este medio de aviso no está disponible. Elige correo electrónico o SMS.",
        "invalid_variant": "No pudimos saber qué opción del producto elegiste. Recarga la página e inténtalo de nuevo.",
        "waiting_not_allowed": "Esta opción del producto no admite avisos de disponibilidad.",
        "suppressed_contact": "No podemos enviar avisos a esta dirección o número porque se dio de baja o rebotó. Usa otro.",
        "invalid_json": "Algo salió mal al enviar el formulario. Recarga la página e inténtalo de nuevo.",
        "too_long": "Es demasiado largo. Acórtalo e inténtalo de nuevo.",
    },
    "fr": {
        "invalid_email": "Veuillez saisir une adresse e-mail valide, par exemple nom@exemple.com.",
        "email_typo": "Veuillez vérifier votre adresse e-mail — vouliez-vous dire {suggestion} ?",
        "invalid_phone": "Veuillez saisir un numéro de mobile valide.",
        "phone_needs_country": "Veuillez saisir votre numéro de mobile avec l'indicatif du pays, par exemple +33 6 12 34 56 78.",
        "missing_contact": "Veuillez saisir votre adresse e-mail ou votre numéro de mobile.",
        "consent_required": "Veuillez cocher la case pour accepter de recevoir l'alerte.",
        "unknown_channel": "Ce mode d'alerte n'est pas disponible. Choisissez l'e-mail ou le SMS.",
        "invalid_variant": "Nous n'avons pas reconnu l'option choisie. Veuillez recharger la page et réessayer.",
        "waiting_not_allowed": "Cette option du produit ne permet pas d'alerte de retour en stock.",
        "suppressed_contact": "Nous ne pouvons pas envoyer d'alertes à cette adresse ou ce numéro (désabonné ou injoignable). Veuillez en utiliser un autre.",
        "invalid_json": "Un problème est survenu lors de l'envoi du formulaire. Veuillez recharger la page et réessayer.",
        "too_long": "C'est trop long. Veuillez raccourcir et réessayer.",
    },
    "de": {
        "invalid_email": "Bitte gib eine gültige E-Mail-Adresse ein, z. B. name@beispiel.de.",
        "email_typo": "Bitte prüfe deine E-Mail-Adresse – meintest du {suggestion}?",
        "invalid_phone": "Bitte gib eine gültige Handynummer ein.",
        "phone_needs_country": "Bitte gib deine Handynummer mit Ländervorwahl ein, z. B. +49 151 23456789.",
        "missing_contact": "Bitte gib deine E-Mail-Adresse oder Handynummer ein.",
        "consent_required": "Bitte setze das Häkchen, um der Benachrichtigung zuzustimmen.",
        "unknown_channel": "Diese Benachrichtigungsart ist nicht verfügbar. Bitte wähle E-Mail oder SMS.",
        "invalid_variant": "Wir konnten die gewählte Produktvariante nicht erkennen. Bitte lade die Seite neu und versuche es erneut.",
        "waiting_not_allowed": "Für diese Produktvariante ist keine Benachrichtigung möglich.",
        "suppressed_contact": "An diese Adresse oder Nummer können wir keine Benachrichtigungen senden (abgemeldet oder unzustellbar). Bitte verwende eine andere.",
        "invalid_json": "Beim Senden des Formulars ist etwas schiefgelaufen. Bitte lade die Seite neu und versuche es erneut.",
        "too_long": "Das ist zu lang. Bitte kürze es und versuche es erneut.",
    },
    "ja": {
        "invalid_email": "有効なメールアドレスを入力してください（例: name@example.com）。",
        "email_typo": "メールアドレスをご確認ください。{suggestion} ではありませんか？",
        "invalid_phone": "有効な携帯電話番号を入力してください。",
        "phone_needs_country": "国番号付きで携帯電話番号を入力してください（例: +81 90 1234 5678）。",
        "missing_contact": "メールアドレスまたは携帯電話番号を入力してください。",
        "consent_required": "通知の受け取りに同意するにはチェックを入れてください。",
        "unknown_channel": "この通知方法はご利用いただけません。メールまたはSMSを選択してください。",
        "invalid_variant": "選択された商品のバリエーションを確認できませんでした。ページを再読み込みしてもう一度お試しください。",
        "waiting_not_allowed": "この商品のバリエーションには再入荷通知を設定できません。",
        "suppressed_contact": "このアドレスまたは番号は配信停止または不達のため、通知を送れません。別のものをご利用ください。",
        "invalid_json": "フォームの送信中に問題が発生しました。ページを再読み込みしてもう一度お試しください。",
        "too_long": "長すぎます。短くしてもう一度お試しください。",
    },
}


def intake_message(key: str, locale: str, **params: str) -> str:
    """The message for ``key`` in ``locale`` (English when that locale lacks it)."""
    template = CATALOG.get(normalise_locale(locale), {}).get(key) or CATALOG[DEFAULT_LOCALE][key]
    return template.format(**params)
