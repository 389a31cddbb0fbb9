import logging

import pytest
from cryptography.fernet import Fernet

from plugin.crypto import Vault, instance_keys
from plugin.logging import configure_logging, get_logger, mask_contacts


def test_rotation_keeps_old_ciphertext_and_hashes_findable():
    # given a value stored under the old key
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    before = Vault([old])
    ciphertext, stored_hash = before.encrypt("ada@example.org"), before.hash("email", "ada@example.org")
    # when a newer key is put in front
    after = Vault([new, old])
    # then the old row still decrypts and its hash is among the look-up hashes
    assert after.decrypt(ciphertext) == "ada@example.org"
    assert stored_hash in after.hashes("email", "ada@example.org")
    assert after.hash("email", "ada@example.org") != stored_hash
    assert Vault([new]).decrypt(after.rotate(ciphertext)) == "ada@example.org"


def test_ciphertext_from_an_unknown_key_is_a_clear_error():
    with pytest.raises(ValueError, match="BACKBELL_ENCRYPTION_KEYS"):
        Vault([Fernet.generate_key().decode()]).decrypt(Vault([Fernet.generate_key().decode()]).encrypt("x"))


def test_hash_depends_on_channel_and_is_not_the_value():
    vault = Vault([Fernet.generate_key().decode()])
    assert vault.hash("email", "a@b.co") != vault.hash("sms", "a@b.co")
    assert "a@b.co" not in vault.hash("email", "a@b.co")


def test_instance_key_is_generated_once(tmp_path):
    first = instance_keys(tmp_path)
    second = instance_keys(tmp_path)
    assert first == second and len(first) == 1
    assert (tmp_path / "encryption.key").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(
    "text,expected",
    [
        ("to=ada.lovelace+bb@example.org sent", "to=[email] sent"),
        ("phone +1 415 555 2671 ok", "phone [phone] ok"),
        ("sms +447911123456", "sms [phone]"),
        ("variant_id=642667041472713922 shop=x.myshopify.com", "variant_id=642667041472713922 shop=x.myshopify.com"),
    ],
)
def test_mask_contacts(text, expected):
    assert mask_contacts(text) == expected


def test_contacts_are_masked_in_structured_and_stdlib_logs(capsys):
    configure_logging()
    get_logger("t").info("subscribed", to="ada@example.org")
    logging.getLogger("somelib").warning("sending to %s", "+14155552671")
    err = capsys.readouterr().err
    assert "ada@example.org" not in err and "+14155552671" not in err
    assert "[email]" in err and "[phone]" in err
