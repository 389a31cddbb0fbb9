import threading

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import func, select

from plugin import create_app
from plugin.intake.messages import CATALOG, intake_message
from plugin.dispatch.messages.locales import LOCALES, normalise_locale
from plugin.models import Contact, Subscription
from plugin.intake.subscriptions import IntakeError, SubscribeRequest, parse_variant_id, subscribe
from tests.doubles.app_proxy import signed_proxy_url
from tests.intake.conftest import SECRET

VARIANT = 44012345678901


@pytest.mark.parametrize("raw, expected", [
    (123, 123), ("123", 123), (" gid://shopify/ProductVariant/456 ", 456), (2**63 - 1, 2**63 - 1)])
def test_parse_variant_id(raw, expected):
    assert parse_variant_id(raw) == expected


@pytest.mark.parametrize("raw", [None, "", "0", "-1", 2**63, "gid://shopify/ProductVariant/", "12a", 1.0, False, [1]])
def test_parse_variant_id_rejects(raw):
    with pytest.raises(IntakeError) as caught:
        parse_variant_id(raw)
    assert (caught.value.code, caught.value.field) == ("invalid_variant", "variant_id")


@pytest.mark.parametrize("raw, expected", [
    ("en", "en"), ("EN-gb", "en"), ("zh-CN", "zh-CN"), ("zh_TW", "zh-CN"), ("zh-Hans", "zh-CN"),
    ("es-419", "es"), ("fr-CA", "fr"), ("de-CH", "de"), ("ja-JP", "ja"), ("pt-BR", "en"), ("", "en"),
    (None, "en"), (7, "en")])
def test_normalise_locale(raw, expected):
    assert normalise_locale(raw) == expected


def test_every_locale_has_every_message_with_the_same_placeholders():
    english = CATALOG["en"]
    assert set(CATALOG) == set(LOCALES)
    for locale in LOCALES:
        assert set(CATALOG[locale]) == set(english), locale
        assert intake_message("email_typo", locale, suggestion="gmail.com").count("gmail.com") == 1, locale


def test_subscribe_domain_function(session, runtime, shop):
    # when
    first = subscribe(session, runtime.vault, shop,
                      SubscribeRequest(variant_id=VARIANT, email="a@shopper.dev", locale="ja", customer_id=3))
    again = subscribe(session, runtime.vault, shop, SubscribeRequest(variant_id=str(VARIANT), email="A@shopper.dev"))
    session.commit()

    # then
    assert (first.status, again.status) == ("subscribed", "already_subscribed")
    assert first.subscription_id == again.subscription_id
    assert first.variant_known is False
    assert session.scalars(select(Subscription.locale)).all() == ["ja"]


def test_rotated_key_finds_the_old_contact_through_the_endpoint(client, app_config, shop, session):
    # given a subscription stored under the current key
    body = {"variant_id": VARIANT, "email": "jane@shopper.dev"}
    url = lambda: signed_proxy_url("subscriptions", shop.domain, SECRET)  # noqa: E731
    assert client.post(url(), json=body).status_code == 201

    # when the app restarts with a newer key in front (BACKBELL_ENCRYPTION_KEYS=new,old)
    keys = (Fernet.generate_key().decode(), *app_config["encryption_keys"])
    rotated = create_app({**app_config, "encryption_keys": keys})
    try:
        response = rotated.test_client().post(url(), json=body)
    finally:
        rotated.extensions["backbell"].db.dispose()

    # then
    assert response.status_code == 200
    assert session.scalar(select(func.count()).select_from(Contact)) == 1
    assert session.scalar(select(func.count()).select_from(Subscription)) == 1


@pytest.mark.pg_only  # reason: needs real concurrent transactions (SQLite serialises writers)
def test_concurrent_identical_requests_store_one_contact_and_one_subscription(runtime, shop, session):
    # given eight requests for the same new contact and variant at the same moment
    barrier = threading.Barrier(8)
    results, errors = [], []

    def attempt():
        try:
            barrier.wait()
            with runtime.db.session() as own:
                results.append(subscribe(own, runtime.vault, shop,
                                         SubscribeRequest(variant_id=VARIANT, email="race@shopper.dev")).status)
        except Exception as err:  # noqa: BLE001 — collected and asserted on below
            errors.append(err)

    threads = [threading.Thread(target=attempt) for _ in range(8)]

    # when
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # then
    assert errors == []
    assert sorted(results) == ["already_subscribed"] * 7 + ["subscribed"]
    assert session.scalar(select(func.count()).select_from(Contact)) == 1
    assert session.scalar(select(func.count()).select_from(Subscription)) == 1
