"""The SendGrid channel against the SendGrid double (which validates every body against the spec)."""

from __future__ import annotations

import httpx

from plugin.dispatch.channels import channel_for
from plugin.dispatch.channels.base import OutgoingMessage
from plugin.dispatch.channels.sendgrid import SendGridChannel
from plugin.clock import wall_timestamp
from plugin.config import Settings
from tests.doubles.server import serve_wsgi


def _message(notification_id: int, to: str, text: str = "Back: -bb_url-", **fields) -> OutgoingMessage:
    values = dict(
        notification_id=notification_id, channel="email", to=to, shop="bell-test.myshopify.com", kind="restock",
        variant_id=44001, locale="en", subject="Linen Shirt is back", text=text, html="<a href=\"-bb_url-\">Shop</a>",
        url=f"https://app.test/r/t{notification_id}", unsubscribe_url=f"https://app.test/u/s{notification_id}",
        substitutions={"-bb_url-": f"https://app.test/r/t{notification_id}"},
        tracking={"notification_id": str(notification_id), "shop_id": "1", "restock_event_id": "7"},
    )
    values.update(fields)
    return OutgoingMessage(**values)


def _channel(double) -> SendGridChannel:
    return SendGridChannel(double.api_key, double.url, "alerts@backbell.app")


def test_batch_shares_one_request_with_a_personalization_per_shopper(sendgrid):
    # given
    messages = [_message(1, "ana@example.com"), _message(2, "bo@example.com")]

    # when
    results = _channel(sendgrid).send(messages)

    # then
    assert [(r.notification_id, r.ok) for r in results] == [(1, True), (2, True)]
    assert results[0].provider_message_id == sendgrid.requests[0]["message_id"]
    assert len(sendgrid.requests) == 1
    assert [(m["to"], m["text"]) for m in sendgrid.messages] == [
        ("ana@example.com", "Back: https://app.test/r/t1"),
        ("bo@example.com", "Back: https://app.test/r/t2"),
    ]
    first = sendgrid.messages[0]
    assert first["headers"] == {
        "List-Unsubscribe": "<https://app.test/u/s1>, <mailto:alerts@backbell.app?subject=unsubscribe>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    assert first["custom_args"] == {"notification_id": "1", "shop_id": "1", "restock_event_id": "7"}
    assert first["html"] == '<a href="https://app.test/r/t1">Shop</a>'


def test_different_bodies_go_in_separate_requests(sendgrid):
    # given
    messages = [_message(1, "ana@example.com", text="A -bb_url-"), _message(2, "bo@example.com", text="B -bb_url-")]

    # when
    _channel(sendgrid).send(messages)

    # then
    assert len(sendgrid.requests) == 2
    assert sorted(m["text"] for m in sendgrid.messages) == ["A https://app.test/r/t1", "B https://app.test/r/t2"]


def test_more_than_1000_recipients_are_split_into_requests_of_at_most_1000(sendgrid):
    # given
    messages = [_message(i, f"s{i}@example.com") for i in range(1, 1502)]

    # when
    results = _channel(sendgrid).send(messages)

    # then
    assert [len(r["body"]["personalizations"]) for r in sendgrid.requests] == [1000, 501]
    assert sum(r.ok for r in results) == 1501
    assert len(set(sendgrid.recipients())) == 1501


def test_429_and_5xx_are_transient(sendgrid):
    # given
    sendgrid.fail_next(1, status=429)
    sendgrid.fail_next(1, status=503)

    # when
    first = _channel(sendgrid).send([_message(1, "ana@example.com")])
    second = _channel(sendgrid).send([_message(1, "ana@example.com")])

    # then
    assert (first[0].ok, first[0].transient) == (False, True)
    assert first[0].error.startswith("sendgrid 429:")
    assert (second[0].ok, second[0].transient) == (False, True)
    assert sendgrid.messages == []


def test_400_is_permanent_and_keeps_no_address_in_the_error(sendgrid):
    # given
    sendgrid.fail_next(1, status=400)

    # when
    results = _channel(sendgrid).send([_message(1, "ana@example.com")])

    # then
    assert (results[0].ok, results[0].transient) == (False, False)
    assert "ana@example.com" not in results[0].error
    assert sendgrid.messages == []


def test_wrong_api_key_is_a_permanent_401(sendgrid):
    # given
    channel = SendGridChannel("SG.wrong", sendgrid.url, "alerts@backbell.app")

    # when
    results = channel.send([_message(1, "ana@example.com")])

    # then
    assert (results[0].ok, results[0].transient) == (False, False)
    assert results[0].error.startswith("sendgrid 401:")
    assert sendgrid.messages == []


def test_unreachable_provider_is_transient():
    # given: a port nobody listens on
    channel = SendGridChannel("SG.key", "http://127.0.0.1:9", "alerts@backbell.app")

    # when
    results = channel.send([_message(1, "ana@example.com")])

    # then
    assert (results[0].ok, results[0].transient) == (False, True)
    assert results[0].error.startswith("sendgrid unreachable:")


def test_double_rejects_a_body_that_breaks_the_spec(sendgrid):
    # given: message-level subject missing and a non-string custom arg
    body = {"personalizations": [{"to": [{"email": "ana@example.com"}], "custom_args": {"n": 1}}],
            "from": {"email": "alerts@backbell.app"}, "content": [{"type": "text/plain", "value": "x"}]}

    # when
    response = httpx.post(f"{sendgrid.url}/v3/mail/send", json=body, headers={"Authorization": f"Bearer {sendgrid.api_key}"})

    # then
    assert response.status_code == 400
    assert sendgrid.validation_failures == [
        "personalizations/0/subject: a subject is required",
        "personalizations/0/custom_args: values must be strings",
    ]
    assert sendgrid.messages == []
    sendgrid.validation_failures.clear()


def test_channel_for_picks_sendgrid_only_with_a_key(tmp_path):
    # given
    with_key = Settings(sendgrid_api_key="SG.x", outbox_path=tmp_path)
    without = Settings(outbox_path=tmp_path)

    # when / then
    assert type(channel_for(with_key, "email")).__name__ == "SendGridChannel"
    assert type(channel_for(without, "email")).__name__ == "OutboxChannel"
    assert type(channel_for(without, "sms")).__name__ == "OutboxChannel"
    assert type(channel_for(Settings(twilio_account_sid="AC1", twilio_auth_token="t", twilio_from="+15550001111"),
                            "sms")).__name__ == "TwilioChannel"


def test_a_rejected_address_is_split_out_and_fails_alone_with_sendgrids_reason(sendgrid):
    # given: eight shoppers in one request; SendGrid refuses the sixth address
    messages = [_message(i, f"s{i}@example.com") for i in range(1, 9)]
    sendgrid.reject("s6@example.com")

    # when
    results = _channel(sendgrid).send(messages)

    # then: halves of 8, 4 and 2 until the bad address stands alone (1 + 2 + 2 + 2 requests):
    # 1-8 refused, 1-4 sent, 5-8 refused, 5-6 refused, 5 sent, 6 refused, 7-8 sent
    by_id = {r.notification_id: r for r in results}
    assert sorted(by_id) == list(range(1, 9))
    assert [i for i, r in sorted(by_id.items()) if r.ok] == [1, 2, 3, 4, 5, 7, 8]
    assert (by_id[6].ok, by_id[6].transient) == (False, False)
    assert by_id[6].error == "sendgrid 400: Does not contain a valid address."
    assert sorted(sendgrid.recipients()) == sorted(f"s{i}@example.com" for i in (1, 2, 3, 4, 5, 7, 8))
    assert [r["status"] for r in sendgrid.requests] == [400, 202, 400, 400, 202, 400, 202]


def test_a_400_about_the_body_itself_is_not_split():
    # given: a provider answering 400 about the sender, whoever the recipients are
    calls = []

    def refuse_sender(environ, start_response):
        calls.append(environ["PATH_INFO"])
        body = b'{"errors": [{"message": "The from address does not match a verified Sender Identity.", "field": "from"}]}'
        start_response("400 Bad Request", [("Content-Type", "application/json")])
        return [body]

    server = serve_wsgi(refuse_sender)
    try:
        # when
        results = SendGridChannel("SG.key", server.url, "alerts@backbell.app").send(
            [_message(i, f"s{i}@example.com") for i in range(1, 5)])
    finally:
        server.stop()

    # then
    assert len(calls) == 1
    assert {(r.ok, r.transient, r.error) for r in results} == {
        (False, False, "sendgrid 400: The from address does not match a verified Sender Identity.")}


def test_an_answer_slower_than_the_timeout_is_uncertain_never_transient(sendgrid):
    # given SendGrid accepts the mail but answers after the timeout
    sendgrid.delay_seconds = 1.5
    channel = SendGridChannel(sendgrid.api_key, sendgrid.url, "alerts@backbell.app", timeout_seconds=0.3)

    # when
    results = channel.send([_message(1, "ana@example.com")])

    # then it was delivered, and the app must not send it again: uncertain, not retried
    assert sendgrid.recipients() == ["ana@example.com"]
    assert [(r.ok, r.transient, r.uncertain) for r in results] == [(False, False, True)]
    assert results[0].error == "sendgrid did not answer (ReadTimeout): it may have accepted the message"


def test_a_provider_that_cannot_be_reached_is_transient():
    # given nothing listens on the port (the request never left)
    channel = SendGridChannel("SG.key", "http://127.0.0.1:9", "alerts@backbell.app", timeout_seconds=0.5)

    # when
    results = channel.send([_message(1, "ana@example.com")])

    # then
    assert [(r.ok, r.transient, r.uncertain, r.error) for r in results] == [
        (False, True, False, "sendgrid unreachable: ConnectError")]


def test_a_429_ends_the_batch_and_says_when_to_call_again(sendgrid):
    # given two bodies (two locales) and SendGrid throttling the first request until its reset
    sendgrid.fail_next(1, status=429)
    channel = SendGridChannel(sendgrid.api_key, sendgrid.url, "alerts@backbell.app")
    messages = [_message(1, "ana@example.com"), _message(2, "bo@example.com", subject="Wieder da")]

    # when
    results = channel.send(messages)

    # then only one request was made; both wait at least until X-RateLimit-Reset, neither counts an attempt
    assert len(sendgrid.requests) == 1
    reset = float(sendgrid.requests[0]["not_before"])
    assert [(r.ok, r.transient, r.counted) for r in results] == [(False, True, False), (False, True, False)]
    assert all(0 < r.retry_after <= reset - wall_timestamp() + 1 for r in results)


def test_the_time_bound_covers_every_request_a_batch_may_make():
    channel = SendGridChannel("SG.key", "https://api.sendgrid.test", "alerts@backbell.app", timeout_seconds=10)

    # one recipient: one request of connect (5) + write and read (10 each); 1000: the split budget
    assert channel.max_send_seconds(1) == 25
    assert channel.max_send_seconds(3) == 5 * 25
    assert channel.max_send_seconds(1000) == 48 * 25
