"""POST /webhooks/sendgrid and POST /webhooks/twilio: signed provider events recorded once
against their notices; bounces, spam reports and opt-outs stop the address for that shop."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timezone

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import func, select

from plugin import clock, create_app
from plugin.dispatch.tasks import dispatch_restock
from plugin.models import Contact, Decision, DeliveryEvent, Notification, Shop, Subscription
from tests.dispatch.builders import make_event, make_shop, make_variant, subscribe

SIGNATURE, TIMESTAMP = "X-Twilio-Email-Event-Webhook-Signature", "X-Twilio-Email-Event-Webhook-Timestamp"
OTHER_VARIANT = 44002
KEY = ec.generate_private_key(ec.SECP256R1())
PUBLIC_KEY = base64.b64encode(KEY.public_key().public_bytes(
    serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).decode()


@pytest.fixture
def app_config(app_config):
    app_config["sendgrid_webhook_public_key"] = PUBLIC_KEY
    return app_config


def _signed(body: bytes, key=KEY, at: int | None = None) -> dict:
    stamp = str(int(clock.timestamp()) if at is None else at)
    signature = key.sign(stamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return {SIGNATURE: base64.b64encode(signature).decode(), TIMESTAMP: stamp, "Content-Type": "application/json"}


def _post_events(client, events: list[dict], **signing):
    body = json.dumps(events).encode()
    return client.post("/webhooks/sendgrid", data=body, headers=_signed(body, **signing))


def _event(notification: Notification, event: str, event_id: str, **fields) -> dict:
    return {"email": "x@example.com", "event": event, "sg_event_id": event_id, "timestamp": int(clock.timestamp()),
            "sg_message_id": "m.1", "notification_id": str(notification.id), "shop_id": str(notification.shop_id),
            **fields}


def _told(app, session, runtime, *emails: str, variant_id: int = 44001) -> list[Notification]:
    """A restock of ``variant_id`` told to these shoppers (through the outbox channel)."""
    shop = session.scalar(select(Shop)) or make_shop(session)
    make_variant(session, shop, variant_id=variant_id)
    for email in emails:
        subscribe(session, runtime.vault, shop, email, variant_id=variant_id)
    event = make_event(session, shop, variant_id=variant_id)
    session.commit()
    with app.app_context():
        dispatch_restock.delay(event.id)
    session.expire_all()
    return list(session.scalars(select(Notification).where(Notification.restock_event_id == event.id)
                                .order_by(Notification.id)))


def _count(session, model) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model))


def test_sendgrids_published_vector_verifies(app, app_config, shared_dir, session):
    # given SendGrid's own signed delivery, its key configured, and our clock at the moment it was signed
    vector = json.loads((shared_dir / "sendgrid" / "event_webhook_vector.json").read_text())
    client = create_app({**app_config, "sendgrid_webhook_public_key": vector["public_key"]}).test_client()
    headers = {vector["headers"]["signature"]: vector["signature"], vector["headers"]["timestamp"]: vector["timestamp"]}
    # when
    with clock.frozen(datetime.fromtimestamp(int(vector["timestamp"]), timezone.utc)):
        response = client.post("/webhooks/sendgrid", data=vector["payload"].encode(), headers=headers)
    # then it verifies; its one event names no notice of ours, so nothing is recorded
    assert response.status_code == 200
    assert response.get_json() == {"recorded": 0, "duplicates": 0, "ignored": 1}
    assert _count(session, DeliveryEvent) == 0


def test_delivered_and_open_are_recorded_once_each(app, client, session, runtime):
    # given a notice that was sent
    (notice,) = _told(app, session, runtime, "ada@gmail.com")
    # when SendGrid reports delivery and an open, then delivers the same batch again
    events = [_event(notice, "delivered", "ev-1"), _event(notice, "open", "ev-2")]
    first, again = _post_events(client, events), _post_events(client, events)
    # then
    assert first.get_json() == {"recorded": 2, "duplicates": 0, "ignored": 0}
    assert again.get_json() == {"recorded": 0, "duplicates": 2, "ignored": 0}
    session.expire_all()
    stored = session.get(Notification, notice.id)
    assert stored.delivered_at is not None and stored.opened_at is not None
    assert sorted(session.scalars(select(DeliveryEvent.event))) == ["delivered", "open"]


@pytest.mark.parametrize("attack", ["tampered", "old", "wrong_key", "missing", "not_configured"])
def test_a_bad_signature_is_403_and_records_nothing(app, client, session, runtime, app_config, attack):
    # given a sent notice and a bounce for it
    (notice,) = _told(app, session, runtime, "ada@gmail.com")
    body = json.dumps([_event(notice, "bounce", "ev-bounce")]).encode()
    headers = _signed(body)
    if attack == "tampered":
        body = body.replace(b"bounce", b"bouncy")
    elif attack == "old":
        headers = _signed(body, at=int(clock.timestamp()) - 3600)
    elif attack == "wrong_key":
        headers = _signed(body, key=ec.generate_private_key(ec.SECP256R1()))
    elif attack == "missing":
        headers = {"Content-Type": "application/json"}
    else:
        client = create_app({**app_config, "sendgrid_webhook_public_key": None}).test_client()
    # when
    response = client.post("/webhooks/sendgrid", data=body, headers=headers)
    # then
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "invalid_signature"
    assert _count(session, DeliveryEvent) == 0
    assert session.scalar(select(Contact.suppressed_at)) is None


def test_a_bounce_suppresses_the_address_and_the_next_restock_skips_it(app, client, session, runtime):
    # given ada waits for two variants; the first restock's notice bounces
    (notice,) = _told(app, session, runtime, "ada@gmail.com")
    shop_id = notice.shop_id
    subscribe(session, runtime.vault, session.get(Shop, shop_id), "grace@gmail.com",
              variant_id=OTHER_VARIANT)
    ada = session.get(Subscription, notice.subscription_id)
    session.add(Subscription(shop_id=shop_id, contact_id=ada.contact_id, variant_id=OTHER_VARIANT, product_id=8001,
                             channel="email", locale="en"))
    session.commit()
    response = _post_events(client, [_event(notice, "bounce", "ev-b", reason="550 5.1.1 mailbox unavailable")])
    assert response.get_json()["recorded"] == 1
    # when the other variant restocks
    notices = _told(app, session, runtime, variant_id=OTHER_VARIANT)
    # then grace is told and ada is skipped, saying why
    assert sorted(n.status for n in notices) == ["sent", "skipped"]
    skipped = next(n for n in notices if n.status == "skipped")
    decision = session.scalar(select(Decision.decision).where(Decision.notification_id == skipped.id))
    assert decision == "skipped: address suppressed (bounced)"
    assert session.scalar(select(Contact.suppressed_reason).where(Contact.id == ada.contact_id)) == "bounced"


def test_a_spam_report_unsubscribes_and_suppresses(app, client, session, runtime):
    # given
    (notice,) = _told(app, session, runtime, "ada@gmail.com")
    # when
    _post_events(client, [_event(notice, "spamreport", "ev-s")])
    # then
    session.expire_all()
    subscription = session.get(Subscription, notice.subscription_id)
    assert subscription.status == "unsubscribed"
    assert session.get(Contact, subscription.contact_id).suppressed_reason == "spam_report"


def test_an_event_naming_another_shops_notice_changes_nothing(app, client, session, runtime):
    # given a notice of this shop, and an event claiming it for another shop id
    (notice,) = _told(app, session, runtime, "ada@gmail.com")
    forged = {**_event(notice, "unsubscribe", "ev-x"), "shop_id": str(notice.shop_id + 1)}
    # when
    response = _post_events(client, [forged, {"event": "delivered"}, "not an object"])
    # then
    assert response.get_json() == {"recorded": 0, "duplicates": 0, "ignored": 3}
    assert _count(session, DeliveryEvent) == 0
    session.expire_all()
    assert session.get(Subscription, notice.subscription_id).status == "notified"


@pytest.mark.parametrize("body", [b"{}", b"[" * 5000 + b"]" * 5000, b"[1e999999]", b"\xff"])
def test_signed_garbage_is_a_clear_4xx(client, session, body):
    response = client.post("/webhooks/sendgrid", data=body, headers=_signed(body))
    assert response.status_code in (200, 400)
    assert _count(session, DeliveryEvent) == 0


# -- Twilio ----------------------------------------------------------------------------------------


def _sms_told(app, session, runtime, twilio, phone: str) -> Notification:
    shop = make_shop(session)
    make_variant(session, shop)
    subscribe(session, runtime.vault, shop, phone, channel="sms")
    event = make_event(session, shop)
    session.commit()
    with app.app_context():
        dispatch_restock.delay(event.id)
    session.expire_all()
    return session.scalar(select(Notification))


def test_twilio_messages_carry_a_validity_period_and_status_callback(twilio, app, session, runtime):
    # when an SMS notice is sent
    notice = _sms_told(app, session, runtime, twilio, "+14155552671")
    # then Twilio got a valid request (the double checks the official spec) with both
    (message,) = twilio.messages
    assert (message["ValidityPeriod"], message["StatusCallback"]) == ("14400", "http://127.0.0.1:8000/webhooks/twilio")
    assert (notice.status, notice.provider_message_id) == ("sent", message["sid"])


def test_twilio_delivered_callback_is_recorded_once(twilio, app, client, session, runtime):
    # given
    notice = _sms_told(app, session, runtime, twilio, "+14155552671")
    # when Twilio reports delivery, twice
    first = twilio.status_callback(client, notice.provider_message_id, "delivered")
    again = twilio.status_callback(client, notice.provider_message_id, "delivered")
    # then
    assert (first.get_json()["recorded"], again.get_json()["duplicates"]) == (1, 1)
    session.expire_all()
    assert session.get(Notification, notice.id).delivered_at is not None


def test_twilio_21610_in_a_callback_unsubscribes_and_suppresses(twilio, app, client, session, runtime):
    # given
    notice = _sms_told(app, session, runtime, twilio, "+14155552671")
    # when the carrier reports the number opted out
    response = twilio.status_callback(client, notice.provider_message_id, "undelivered", error_code=21610)
    # then
    assert response.status_code == 200
    session.expire_all()
    subscription = session.get(Subscription, notice.subscription_id)
    assert subscription.status == "unsubscribed"
    assert session.get(Contact, subscription.contact_id).suppressed_reason == "opted_out"


@pytest.mark.parametrize("forgery", ["wrong_token", "no_signature", "changed_status"])
def test_a_forged_twilio_callback_is_403_and_changes_nothing(twilio, app, client, session, runtime, forgery):
    # given
    notice = _sms_told(app, session, runtime, twilio, "+14155552671")
    sid = notice.provider_message_id
    # when
    if forgery == "wrong_token":
        response = twilio.status_callback(client, sid, "undelivered", error_code=21610, auth_token="guessed")
    else:
        form = {"MessageSid": sid, "MessageStatus": "undelivered", "ErrorCode": "21610"}
        headers = {} if forgery == "no_signature" else {"X-Twilio-Signature": _twilio_signature(
            {**form, "MessageStatus": "delivered"})}
        response = client.post("/webhooks/twilio", data=form, headers=headers)
    # then
    assert response.status_code == 403
    assert _count(session, DeliveryEvent) == 0
    session.expire_all()
    assert session.get(Subscription, notice.subscription_id).status == "notified"
    assert session.scalar(select(Contact.suppressed_at)) is None


def _twilio_signature(form: dict) -> str:
    from twilio.request_validator import RequestValidator

    from tests.doubles.twilio import AUTH_TOKEN

    return RequestValidator(AUTH_TOKEN).compute_signature("http://127.0.0.1:8000/webhooks/twilio", form)
