from sqlalchemy import func, select, text

from plugin.models import Contact, Subscription, Variant

VARIANT = 44012345678901


def _count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def test_new_subscription_is_201_and_repeat_is_200_with_one_row(post_subscription, session):
    # given
    body = {"variant_id": VARIANT, "email": "jane@shopper.dev"}

    # when
    first = post_subscription(body)
    second = post_subscription(body)

    # then
    assert (first.status_code, first.get_json()) == (201, {"status": "subscribed"})
    assert (second.status_code, second.get_json()) == (200, {"status": "already_subscribed"})
    rows = session.scalars(select(Subscription)).all()
    assert [(r.variant_id, r.channel, r.status, r.locale) for r in rows] == [(VARIANT, "email", "waiting", "en")]
    assert _count(session, Contact) == 1


def test_gid_and_int_ids_are_the_same_variant(post_subscription, session):
    first = post_subscription({"variant_id": f"gid://shopify/ProductVariant/{VARIANT}", "email": "a@shopper.dev"})
    second = post_subscription({"variant_id": VARIANT, "email": "a@shopper.dev"})

    assert (first.status_code, second.status_code) == (201, 200)
    assert session.scalars(select(Subscription.variant_id)).all() == [VARIANT]


def test_case_variants_of_an_address_are_one_contact(post_subscription, session):
    first = post_subscription({"variant_id": VARIANT, "email": "Jane.Doe@Shopper.DEV"})
    second = post_subscription({"variant_id": VARIANT, "email": " jane.doe@shopper.dev "})

    assert (first.status_code, second.status_code) == (201, 200)
    assert _count(session, Contact) == 1


def test_contact_is_never_stored_in_plaintext(post_subscription, session, runtime):
    # given
    address = "secret.shopper@shopper.dev"

    # when
    post_subscription({"variant_id": VARIANT, "email": address})

    # then no column of any contact or subscription row holds the address
    for table in ("contacts", "subscriptions"):
        for row in session.execute(text(f"SELECT * FROM {table}")).all():
            assert all(address not in str(value) and "secret.shopper" not in str(value) for value in row), table
    contact = session.scalars(select(Contact)).one()
    assert runtime.vault.decrypt(contact.value_ciphertext) == address


def test_honeypot_answers_like_success_and_stores_nothing(post_subscription, session):
    # when a bot fills the hidden field (even with junk elsewhere)
    filled = post_subscription({"variant_id": VARIANT, "email": "bot@shopper.dev", "website": "http://spam"})
    junk = post_subscription({"variant_id": "x", "website": "http://spam"})

    # then
    assert (filled.status_code, filled.get_json()) == (201, {"status": "subscribed"})
    assert (junk.status_code, junk.get_json()) == (201, {"status": "subscribed"})
    assert _count(session, Contact) == 0
    assert _count(session, Subscription) == 0


def test_empty_honeypot_is_a_normal_request(post_subscription, session):
    response = post_subscription({"variant_id": VARIANT, "email": "jane@shopper.dev", "website": ""})

    assert response.status_code == 201
    assert _count(session, Subscription) == 1


def test_logged_in_customer_comes_from_the_signed_query_not_the_body(post_subscription, session):
    # when
    response = post_subscription({"variant_id": VARIANT, "email": "jane@shopper.dev", "customer_id": 999}, customer_id=7001)

    # then
    assert response.status_code == 201
    subscription = session.scalars(select(Subscription)).one()
    assert (subscription.customer_id, subscription.contact.customer_id) == (7001, 7001)


def test_guest_subscription_has_no_customer(post_subscription, session):
    post_subscription({"variant_id": VARIANT, "email": "jane@shopper.dev", "customer_id": 999})

    assert session.scalars(select(Subscription.customer_id)).one() is None


def test_sms_subscription_stores_e164_consent_and_locale(post_subscription, session, runtime):
    # when
    response = post_subscription(
        {"variant_id": VARIANT, "phone": "0151 23456789", "country": "DE", "consent": True, "locale": "de-AT"}
    )

    # then
    assert response.status_code == 201
    subscription = session.scalars(select(Subscription)).one()
    assert (subscription.channel, subscription.locale, subscription.consent_version) == ("sms", "de", "backbell-consent-1")
    assert subscription.consent_at is not None
    assert runtime.vault.decrypt(subscription.contact.value_ciphertext) == "+4915123456789"


def test_shop_country_reads_a_national_number_and_shop_consent_version_is_recorded(post_subscription, session, shop, runtime):
    # given
    shop.settings = {"country_code": "US", "consent_version": "sms-terms-2026-03"}
    session.commit()

    # when
    response = post_subscription({"variant_id": VARIANT, "phone": "(415) 555-2671", "consent": True})

    # then
    assert response.status_code == 201
    subscription = session.scalars(select(Subscription)).one()
    assert subscription.consent_version == "sms-terms-2026-03"
    assert runtime.vault.decrypt(subscription.contact.value_ciphertext) == "+14155552671"


def test_email_without_consent_records_none(post_subscription, session):
    post_subscription({"variant_id": VARIANT, "email": "jane@shopper.dev"})

    subscription = session.scalars(select(Subscription)).one()
    assert (subscription.consent_at, subscription.consent_version) == (None, None)


def test_channel_inference_prefers_email_and_honours_explicit_channel(post_subscription, session):
    post_subscription({"variant_id": VARIANT, "email": "jane@shopper.dev", "phone": "+14155552671"})
    post_subscription({"variant_id": VARIANT, "email": "jane@shopper.dev", "phone": "+14155552671",
                       "channel": "sms", "consent": True})

    assert session.scalars(select(Subscription.channel).order_by(Subscription.id)).all() == ["email", "sms"]


def test_registration_order_is_kept(post_subscription, session):
    for name in ("first", "second", "third"):
        assert post_subscription({"variant_id": VARIANT, "email": f"{name}@shopper.dev"}).status_code == 201

    contacts = session.scalars(select(Subscription).order_by(Subscription.id)).all()
    ids = [s.id for s in contacts]
    assert ids == sorted(ids) and len(set(ids)) == 3
    assert [c.contact_id for c in contacts] == sorted(c.contact_id for c in contacts)


def test_known_variant_links_its_product(post_subscription, session, shop):
    session.add(Variant(shop_id=shop.id, variant_id=VARIANT, product_id=8001, available=0))
    session.commit()

    assert post_subscription({"variant_id": VARIANT, "email": "jane@shopper.dev"}).status_code == 201
    assert session.scalars(select(Subscription.product_id)).one() == 8001


def test_notified_subscription_does_not_block_a_new_wait(post_subscription, session):
    # given the shopper was notified of the last restock
    post_subscription({"variant_id": VARIANT, "email": "jane@shopper.dev"})
    session.scalars(select(Subscription)).one().status = "notified"
    session.commit()

    # when they sign up again
    response = post_subscription({"variant_id": VARIANT, "email": "jane@shopper.dev"})

    # then
    assert response.status_code == 201
    assert session.scalars(select(Subscription.status).order_by(Subscription.id)).all() == ["notified", "waiting"]


def test_logs_never_carry_the_contact(post_subscription, capsys, debug_logs):
    # given structlog writing every line, debug included, to this test's captured stderr

    # when
    post_subscription({"variant_id": VARIANT, "email": "loggy.shopper@shopper.dev"})
    post_subscription({"variant_id": VARIANT, "email": "loggy.shopper@gmial.com"})

    # then
    captured = capsys.readouterr()
    assert "intake_subscribed" in captured.err
    assert "loggy.shopper" not in captured.out + captured.err


def test_a_broken_stored_setting_keeps_sign_ups_open_on_the_defaults(post_subscription, session, shop):
    # given settings no form would save (written by an older version, or by hand)
    shop.settings = {"intake_per_minute": "lots", "double_opt_in": "maybe"}
    session.commit()

    # when
    response = post_subscription({"variant_id": 44012345678901, "email": "eve@shopper.dev"})

    # then: stored and waiting, as with the defaults (no double opt-in)
    assert response.status_code == 201
    assert session.scalars(select(Subscription.status)).all() == ["waiting"]
    assert session.scalars(select(Subscription.confirm_by)).all() == [None]
