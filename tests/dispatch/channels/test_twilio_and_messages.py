"""The Twilio channel against a small local Messages endpoint, and the restock templates."""

from __future__ import annotations

import json

import pytest
from werkzeug.wrappers import Request, Response

from plugin.dispatch.channels.base import OutgoingMessage
from plugin.dispatch.channels.twilio import TwilioChannel
from plugin.dispatch.messages.restock import UNSUBSCRIBE_TAG, URL_TAG, NoticeContext, format_money, render_restock
from plugin.dispatch.messages.locales import LOCALES, normalise_locale
from tests.doubles.provider_faults import FaultPlan
from tests.doubles.server import serve_wsgi
from tests.doubles.twilio import ACCOUNT_SID, AUTH_TOKEN, FROM


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


def _plan(*cycle: str | None, hang_seconds: float = 1.5, gate_seconds: float = 1.5) -> FaultPlan:
    return FaultPlan(cycle=list(cycle), hang_seconds=hang_seconds, gate_seconds=gate_seconds)


def _twilio_channel(double, timeout_seconds: float = 15.0) -> TwilioChannel:
    return TwilioChannel(ACCOUNT_SID, AUTH_TOKEN, FROM, double.url, timeout_seconds=timeout_seconds)


def test_a_429_ends_the_batch_with_twilios_retry_after_and_counts_no_attempt(twilio):
    # given Twilio sends the first SMS, then throttles
    twilio.faults = _plan(None, "429", None)

    # when a batch of three is sent
    results = _twilio_channel(twilio).send([_sms(1, "+15550002221"), _sms(2, "+15550002222"), _sms(3, "+15550002223")])

    # then the third was not even tried: both wait Retry-After, neither counts an attempt
    assert [m["To"] for m in twilio.messages] == ["+15550002221"]
    assert twilio.calls == 2
    assert [(r.ok, r.transient, r.counted, r.retry_after) for r in results] == [
        (True, False, True, None), (False, True, False, 1.0), (False, True, False, 1.0)]


def test_a_5xx_ends_the_batch_and_counts_the_attempt_of_the_message_tried(twilio):
    # given
    twilio.faults = _plan("503")

    # when
    results = _twilio_channel(twilio).send([_sms(1, "+15550002221"), _sms(2, "+15550002222")])

    # then
    assert twilio.calls == 1
    assert [(r.ok, r.transient, r.counted) for r in results] == [(False, True, True), (False, True, False)]


def test_an_sms_queued_but_answered_too_late_is_uncertain(twilio):
    # given Twilio queues the message but answers after the client's timeout
    twilio.faults = _plan("no_answer", hang_seconds=1.5)

    # when
    results = _twilio_channel(twilio, timeout_seconds=0.3).send([_sms(1, "+15550002221")])

    # then it was queued at Twilio, and the app must never send it again
    assert [m["To"] for m in twilio.messages] == ["+15550002221"]
    assert [(r.ok, r.transient, r.uncertain) for r in results] == [(False, False, True)]


def test_a_connection_twilio_never_took_is_transient(twilio):
    # given Twilio's door is shut for the next connection (its accept queue is full)
    twilio.faults = _plan("unreachable", None, gate_seconds=1.5)  # refused after the first call
    channel = _twilio_channel(twilio, timeout_seconds=0.3)
    first = channel.send([_sms(1, "+15550002221")])

    # when
    results = channel.send([_sms(2, "+15550002222")])

    # then the connect timed out: safe to send again, nothing reached Twilio
    assert first[0].ok
    assert [(r.ok, r.transient, r.uncertain, r.error) for r in results] == [
        (False, True, False, "twilio unreachable: ConnectTimeout")]
    assert [m["To"] for m in twilio.messages] == ["+15550002221"]
