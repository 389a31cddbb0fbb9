import pytest
from cryptography.fernet import Fernet
from sqlalchemy import func, select

from plugin.intake.contacts import ContactError, find_contact, find_or_create_contact, normalise_email, normalise_phone
from plugin.crypto import Vault
from plugin.models import Contact


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("Jane@GMAIL.com", "jane@gmail.com"),
        ("  jane.doe+boots@Shopper.Dev ", "jane.doe+boots@shopper.dev"),
        ("user@BÜCHER.de", "user@bücher.de"),
        ("user@xn--bcher-kva.de", "user@bücher.de"),
        ("jose\u0301@shopper.dev", "jos\u00e9@shopper.dev"),  # NFC: one code point for é
        ("李雷@例子.中国", "李雷@例子.中国"),
    ],
)
def test_normalise_email(raw, expected):
    assert normalise_email(raw) == expected


@pytest.mark.parametrize(
    "raw",
    ["nope", "a@", "@shopper.dev", "a b@shopper.dev", "a@localhost", "a@site.test", "a@printer.local",
     "a@example.com", "a@mail.example", "a@[192.0.2.1]", "a@nodot", "a..b@shopper.dev"],
)
def test_normalise_email_rejects(raw):
    with pytest.raises(ContactError) as caught:
        normalise_email(raw)
    assert caught.value.reason == "invalid_email"


def test_normalise_email_suggests_the_intended_domain():
    with pytest.raises(ContactError) as caught:
        normalise_email("jane@gmial.com")
    assert (caught.value.reason, caught.value.suggestion) == ("email_typo", "gmail.com")


def test_normalise_email_rejects_overlong_input_before_parsing():
    with pytest.raises(ContactError) as caught:
        normalise_email("a" * 250 + "@shopper.dev")
    assert caught.value.reason == "too_long"


@pytest.mark.parametrize(
    "raw, region, expected",
    [
        ("+1 415 555 2671", None, "+14155552671"),
        ("+1 (415) 555-2671", "DE", "+14155552671"),  # an explicit country code beats the hint
        ("(415) 555-2671", "US", "+14155552671"),
        ("415.555.2671", "us", "+14155552671"),
        ("0151 23456789", "DE", "+4915123456789"),
        ("138 0013 8000", "CN", "+8613800138000"),
        ("090-1234-5678", "JP", "+819012345678"),
    ],
)
def test_normalise_phone_to_e164(raw, region, expected):
    assert normalise_phone(raw, region) == expected


@pytest.mark.parametrize(
    "raw, region, reason",
    [
        ("415 555 2671", None, "phone_needs_country"),
        ("415 555 2671", "XX", "phone_needs_country"),  # unknown region hint is no hint
        ("+1 555", None, "invalid_phone"),
        ("+1 415 555 267", None, "invalid_phone"),
        ("call me", "US", "invalid_phone"),
        ("+" + "1" * 40, None, "too_long"),
    ],
)
def test_normalise_phone_rejects(raw, region, reason):
    with pytest.raises(ContactError) as caught:
        normalise_phone(raw, region)
    assert caught.value.reason == reason


def test_find_or_create_contact_stores_ciphertext_and_hash(session, runtime, shop):
    # when
    contact = find_or_create_contact(session, runtime.vault, shop.id, "email", "jane@shopper.dev", 77)
    session.commit()

    # then
    assert contact.value_ciphertext != "jane@shopper.dev"
    assert runtime.vault.decrypt(contact.value_ciphertext) == "jane@shopper.dev"
    assert contact.value_hash == runtime.vault.hash("email", "jane@shopper.dev")
    assert contact.customer_id == 77


def test_find_or_create_contact_returns_the_existing_row(session, runtime, shop):
    first = find_or_create_contact(session, runtime.vault, shop.id, "email", "jane@shopper.dev", None)
    again = find_or_create_contact(session, runtime.vault, shop.id, "email", "jane@shopper.dev", 5)
    session.commit()

    assert again.id == first.id
    assert again.customer_id == 5  # a later logged-in visit links the customer
    assert session.scalar(select(func.count()).select_from(Contact)) == 1


def test_same_value_on_another_channel_or_shop_is_another_contact(session, runtime, shop):
    email = find_or_create_contact(session, runtime.vault, shop.id, "email", "x@shopper.dev", None)
    sms = find_or_create_contact(session, runtime.vault, shop.id, "sms", "x@shopper.dev", None)
    assert email.id != sms.id


def test_contact_written_before_a_key_rotation_is_still_found(session, runtime, shop):
    # given a contact stored under the old key
    old_key = runtime.settings.encryption_keys[0]
    old_vault = Vault([old_key])
    stored = find_or_create_contact(session, old_vault, shop.id, "sms", "+14155552671", None)
    session.commit()

    # when a newer key is put in front
    rotated = Vault([Fernet.generate_key().decode(), old_key])
    found = find_or_create_contact(session, rotated, shop.id, "sms", "+14155552671", None)
    session.commit()

    # then the old row is found, not duplicated
    assert found.id == stored.id
    assert rotated.hash("sms", "+14155552671") != stored.value_hash
    assert find_contact(session, rotated, shop.id, "sms", "+14155552671").id == stored.id
    assert session.scalar(select(func.count()).select_from(Contact)) == 1
