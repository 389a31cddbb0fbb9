"""The Twilio channel against a small local Messages endpoint, and the restock templates."""

from __future__ import annotations

import json

import pytest
from werkzeug.wrappers import Request, Response

from plugin.dispatch.channels.base import OutgoingMessage
from plugin.dispatch.channels.twilio import TwilioChannel
from plugin.dispatch.messages.restock import UNSUBSCRIBE_TAG, URL_TAG, NoticeContext, format_money, render_restock
from plugin.dispatch.messages.locales import LOCALES, normalise_locale
from tests.doubles.server import serve_wsgi


@pytest.fixture
def twilio_endpoint():
    received: list[dict] = []

    def app(environ, start_response):
        request = Request(environ)
        auth = request.authorization
        assert request.path == "/2010-04-01/Accounts/AC123/Messages.json"
        assert (auth.username, auth.password) == ("AC123", "token")
        form = request.form.to_dict()
        received.append(form)
        if form["To"] == "+15550009999":
            body, status = {"code": 21610, "message": "Attempt to send to unsubscribed recipient", "status": 400}, 400
        else:
            body, status = {"sid": f"SM{len(received):032d}", "status": "queued"}, 201
        return Response(json.dumps(body), status=status, content_type="application/json")(environ, start_response)

    server = serve_wsgi(app)
    yield server.url, received
    server.stop()


def _sms(notification_id: int, to: str) -> OutgoingMessage:
    return OutgoingMessage(notification_id=notification_id, channel="sms", to=to, shop="bell-test.myshopify.com",
                           kind="restock", variant_id=1, locale="en", text=f"Back: {URL_TAG}",
                           url="https://app.test/r/t", unsubscribe_url="https://app.test/u/s",
                           substitutions={URL_TAG: "https://app.test/r/t"})


def test_twilio_sends_form_encoded_and_suppresses_opted_out_numbers(twilio_endpoint):
    # given
    origin, received = twilio_endpoint
    channel = TwilioChannel("AC123", "token", "+15550001111", origin)

    # when
    results = channel.send([_sms(1, "+15550002222"), _sms(2, "+15550009999")])

    # then
    assert received[0] == {"To": "+15550002222", "From": "+15550001111", "Body": "Back: https://app.test/r/t",
                           "ValidityPeriod": "14400"}
    assert (results[0].ok, results[0].provider_message_id) == (True, "SM" + "1".zfill(32))
    assert (results[1].ok, results[1].transient, results[1].suppress) == (False, False, True)
    assert "+15550009999" not in results[1].error


@pytest.mark.parametrize("locale", LOCALES)
def test_every_locale_renders_subject_text_html_and_both_links(locale):
    # given
    context = NoticeContext("Bell & Co", "Linen <Shirt>", "Blue", "49.00", "EUR", locale)

    # when
    notice = render_restock(context, "email")

    # then
    assert notice.locale == locale
    assert "Linen <Shirt>" in notice.subject
    assert URL_TAG in notice.text and UNSUBSCRIBE_TAG in notice.text
    assert f'href="{URL_TAG}"' in notice.html and f'href="{UNSUBSCRIBE_TAG}"' in notice.html
    assert "Linen &lt;Shirt&gt;" in notice.html and "Linen <Shirt>" not in notice.html
    assert PRICE_IN_EUR[locale] in notice.text


# Babel (CLDR) formats; \xa0 is the no-break space CLDR puts between amount and symbol.
PRICE_IN_EUR = {"en": "€49.00", "zh-CN": "€49.00", "es": "49,00\xa0€", "fr": "49,00\xa0€", "de": "49,00\xa0€",
                "ja": "€49.00"}


@pytest.mark.parametrize(("amount", "currency", "locale", "expected"), [
    ("49.00", "EUR", "fr", "49,00\xa0€"),
    ("4900.00", "JPY", "en", "¥4,900"),
    ("4900.00", "JPY", "ja", "￥4,900"),
    ("49.00", "USD", "en", "$49.00"),
    ("49.00", "USD", "de", "49,00\xa0$"),
    ("49.00", None, "fr", "49.00"),
    ("not-a-number", "EUR", "fr", "not-a-number EUR"),
])
def test_prices_print_in_the_shoppers_locale(amount, currency, locale, expected):
    assert format_money(amount, currency, locale) == expected


@pytest.mark.parametrize(("requested", "expected"), [
    ("zh_CN", "zh-CN"), ("zh-TW", "zh-CN"), ("es-MX", "es"), ("FR", "fr"), ("pt-BR", "en"), (None, "en")])
def test_storefront_locale_picks_the_closest_shipped_language(requested, expected):
    assert normalise_locale(requested) == expected
