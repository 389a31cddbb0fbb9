"""Every refusal is a 4xx with a code, a shopper-readable message and the field — and writes nothing."""

import pytest
from sqlalchemy import func, select

from plugin.models import Contact, Subscription, Variant
from tests.doubles.app_proxy import signed_proxy_url
from tests.intake.conftest import SECRET

VARIANT = 44012345678901


def _nothing_written(session) -> bool:
    return all(session.scalar(select(func.count()).select_from(m)) == 0 for m in (Contact, Subscription))


@pytest.mark.parametrize(
    "body, code, field",
    [
        ({"variant_id": VARIANT, "email": "not-an-address"}, "invalid_email", "email"),
        ({"variant_id": VARIANT, "email": "a@example.com"}, "invalid_email", "email"),
        ({"variant_id": VARIANT, "email": 12345}, "invalid_email", "email"),
        ({"variant_id": VARIANT, "email": ["a@shopper.dev"]}, "invalid_email", "email"),
        ({"variant_id": VARIANT, "email": "a" * 300 + "@shopper.dev"}, "too_long", "email"),
        ({"variant_id": VARIANT, "phone": "+1 555", "consent": True}, "invalid_phone", "phone"),
        ({"variant_id": VARIANT, "phone": "415 555 2671", "consent": True}, "invalid_phone", "phone"),
        ({"variant_id": VARIANT, "phone": {"n": 1}, "consent": True}, "invalid_phone", "phone"),
        ({"variant_id": VARIANT}, "missing_contact", "email"),
        ({"variant_id": VARIANT, "email": ""}, "missing_contact", "email"),
        ({"variant_id": VARIANT, "channel": "sms", "email": "a@shopper.dev"}, "missing_contact", "phone"),
        ({"variant_id": VARIANT, "phone": "+14155552671"}, "consent_required", "consent"),
        ({"variant_id": VARIANT, "phone": "+14155552671", "consent": "yes"}, "consent_required", "consent"),
        ({"variant_id": VARIANT, "email": "a@shopper.dev", "channel": "fax"}, "unknown_channel", "channel"),
        ({"variant_id": VARIANT, "email": "a@shopper.dev", "channel": 1}, "unknown_channel", "channel"),
        ({"email": "a@shopper.dev"}, "invalid_variant", "variant_id"),
        ({"variant_id": "abc", "email": "a@shopper.dev"}, "invalid_variant", "variant_id"),
        ({"variant_id": 0, "email": "a@shopper.dev"}, "invalid_variant", "variant_id"),
        ({"variant_id": -5, "email": "a@shopper.dev"}, "invalid_variant", "variant_id"),
        ({"variant_id": True, "email": "a@shopper.dev"}, "invalid_variant", "variant_id"),
        ({"variant_id": 1.5, "email": "a@shopper.dev"}, "invalid_variant", "variant_id"),
        ({"variant_id": 2**64, "email": "a@shopper.dev"}, "invalid_variant", "variant_id"),
        ({"variant_id": {"id": 1}, "email": "a@shopper.dev"}, "invalid_variant", "variant_id"),
        ({"variant_id": "gid://shopify/Product/123", "email": "a@shopper.dev"}, "invalid_variant", "variant_id"),
    ],
)
def test_invalid_input_is_422_with_code_and_field(post_subscription, session, body, code, field):
    # when
    response = post_subscription(body)

    # then
    error = response.get_json()["error"]
    assert (response.status_code, error["code"], error["field"]) == (422, code, field)
    assert error["message"]
    assert _nothing_written(session)


def test_message_names_the_likely_domain(post_subscription, session):
    response = post_subscription({"variant_id": VARIANT, "email": "jane@gmial.com"})

    assert response.status_code == 422
    assert response.get_json()["error"] == {
        "code": "invalid_email",
        "field": "email",
        "suggestion": "gmail.com",
        "message": "Please check your email address — did you mean gmail.com?",
    }
    assert _nothing_written(session)


@pytest.mark.parametrize(
    "locale, message",
    [
        ("fr-CA", "Veuillez saisir une adresse e-mail valide, par exemple nom@exemple.com."),
        ("zh-CN", "请输入有效的电子邮件地址，例如 name@example.com。"),
        ("de", "Bitte gib eine gültige E-Mail-Adresse ein, z. B. name@beispiel.de."),
        ("ja", "有効なメールアドレスを入力してください（例: name@example.com）。"),
        ("es", "Introduce un correo electrónico válido, como nombre@ejemplo.com."),
        ("pt-BR", "Please enter a valid email address, like name@example.com."),
    ],
)
def test_message_is_in_the_shoppers_locale(post_subscription, locale, message):
    response = post_subscription({"variant_id": VARIANT, "email": "nope", "locale": locale})

    assert response.get_json()["error"]["message"] == message


@pytest.mark.parametrize(
    "data, content_type",
    [
        ("not json", "application/json"),
        ("{\"variant_id\": 1,", "application/json"),
        ("[1, 2]", "application/json"),
        ("\"a string\"", "application/json"),
        (b"\xff\xfe\x00", "application/json"),
        ("variant_id=1&email=a%40shopper.dev", "application/x-www-form-urlencoded"),
    ],
)
def test_body_that_is_not_a_json_object_is_422(client, shop, session, data, content_type):
    url = signed_proxy_url("subscriptions", shop.domain, SECRET)

    response = client.post(url, data=data, content_type=content_type, headers={"Accept-Language": "de-DE,de;q=0.9"})

    error = response.get_json()["error"]
    assert (response.status_code, error["code"], error["field"]) == (422, "invalid_json", None)
    assert error["message"].startswith("Beim Senden des Formulars")
    assert _nothing_written(session)


def test_huge_body_is_413(client, shop, session):
    url = signed_proxy_url("subscriptions", shop.domain, SECRET)
    body = '{"variant_id": 1, "email": "a@shopper.dev", "pad": "' + "x" * 20_000 + '"}'

    response = client.post(url, data=body, content_type="application/json")

    assert (response.status_code, response.get_json()["error"]["code"]) == (413, "too_long")
    assert _nothing_written(session)


def test_suppressed_contact_is_refused(post_subscription, session, runtime, shop):
    # given an address that bounced
    post_subscription({"variant_id": VARIANT, "email": "bounced@shopper.dev"})
    contact = session.scalars(select(Contact)).one()
    contact.suppressed_reason = "bounce"
    contact.suppressed_at = contact.created_at
    session.commit()

    # when
    response = post_subscription({"variant_id": VARIANT + 1, "email": "Bounced@Shopper.dev"})

    # then
    error = response.get_json()["error"]
    assert (response.status_code, error["code"], error["field"]) == (422, "suppressed_contact", "email")
    assert session.scalars(select(Subscription.variant_id)).all() == [VARIANT]


def test_variant_that_never_alerts_is_refused(post_subscription, session, shop):
    # given a variant sold on backorder
    session.add(Variant(shop_id=shop.id, variant_id=VARIANT, inventory_policy="CONTINUE", available=0))
    session.commit()

    # when
    response = post_subscription({"variant_id": VARIANT, "email": "a@shopper.dev"})

    # then
    error = response.get_json()["error"]
    assert (response.status_code, error["code"], error["field"]) == (422, "waiting_not_allowed", "variant_id")
    assert _nothing_written(session)


def test_email_consent_required_when_the_shop_says_so(post_subscription, session, shop):
    shop.settings = {"require_email_consent": True}
    session.commit()

    refused = post_subscription({"variant_id": VARIANT, "email": "a@shopper.dev"})
    accepted = post_subscription({"variant_id": VARIANT, "email": "a@shopper.dev", "consent": True})

    assert (refused.status_code, refused.get_json()["error"]["code"]) == (422, "consent_required")
    assert accepted.status_code == 201
