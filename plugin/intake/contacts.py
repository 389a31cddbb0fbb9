"""Shopper contacts: normalising an email address or phone number, and storing it encrypted.

A contact is stored as ciphertext plus a keyed hash (``Vault``); the plain value never reaches the
database or the logs. Normalisation runs before hashing so ``Jane@Gmail.COM`` and
``jane@gmail.com`` are one contact with one waiting subscription.
"""

from __future__ import annotations

import email_validator
import phonenumbers
from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.crypto import Vault
from plugin.db import insert_for
from plugin.models import Contact

EMAIL, SMS = "email", "sms"
MAX_EMAIL_LENGTH = 254  # RFC 5321 path limit
MAX_PHONE_LENGTH = 32

# Reserved for documentation (RFC 2606) — never a shopper's real inbox.
RESERVED_EMAIL_DOMAINS = {"example.com", "example.net", "example.org"}
RESERVED_EMAIL_SUFFIXES = (".example",)
# Frequent slips of the big mailbox providers; cheap to catch, and the shopper would otherwise
# wait for an alert that can never arrive.
DOMAIN_TYPOS = {
    "gmial.com": "gmail.com", "gmai.com": "gmail.com", "gamil.com": "gmail.com", "gmal.com": "gmail.com",
    "gmail.co": "gmail.com", "gmail.con": "gmail.com", "gnail.com": "gmail.com", "gmaill.com": "gmail.com",
    "hotmial.com": "hotmail.com", "hotmal.com": "hotmail.com", "hotmail.co": "hotmail.com",
    "hotmail.con": "hotmail.com", "yaho.com": "yahoo.com", "yahooo.com": "yahoo.com",
    "yahoo.con": "yahoo.com", "outlok.com": "outlook.com", "outlook.con": "outlook.com",
    "iclod.com": "icloud.com", "icloud.con": "icloud.com", "qq.con": "qq.com", "163.con": "163.com",
}


class ContactError(ValueError):
    """A contact value that cannot be used; ``reason`` is a message key of ``plugin.intake.messages``."""

    def __init__(self, reason: str, suggestion: str | None = None):
        super().__init__(reason)
        self.reason = reason
        self.suggestion = suggestion


def normalise_email(raw: str) -> str:
    """The address lower-cased and Unicode-normalised, or ``ContactError``.

    Syntax is checked by email-validator without DNS (intake must be fast and works offline);
    special-use, reserved and well-known misspelt domains are refused instead.
    """
    if len(raw) > MAX_EMAIL_LENGTH:
        raise ContactError("too_long")
    try:
        valid = email_validator.validate_email(raw.strip(), check_deliverability=False)
    except email_validator.EmailNotValidError:
        raise ContactError("invalid_email") from None
    # Mail providers treat the local part case-insensitively; one shopper is one contact.
    address = valid.normalized.lower()
    domain = address.rsplit("@", 1)[1]
    if domain in RESERVED_EMAIL_DOMAINS or domain.endswith(RESERVED_EMAIL_SUFFIXES):
        raise ContactError("invalid_email")
    if domain in DOMAIN_TYPOS:
        raise ContactError("email_typo", suggestion=DOMAIN_TYPOS[domain])
    return address


def normalise_phone(raw: str, region: str | None) -> str:
    """The number in E.164 (``+4915123456789``), or ``ContactError``.

    ``region`` (ISO 3166 alpha-2) reads a national number; without it the number must start with +.
    """
    if len(raw) > MAX_PHONE_LENGTH:
        raise ContactError("too_long")
    region = region.upper() if region and region.upper() in phonenumbers.SUPPORTED_REGIONS else None
    if not region and not raw.strip().startswith("+"):
        raise ContactError("phone_needs_country")
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        raise ContactError("invalid_phone") from None
    if not phonenumbers.is_valid_number(number):
        raise ContactError("invalid_phone")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def find_contact(session: Session, vault: Vault, shop_id: int, channel: str, value: str) -> Contact | None:
    """The stored contact for a normalised value, under the newest or any older key."""
    statement = select(Contact).where(
        Contact.shop_id == shop_id,
        Contact.channel == channel,
        Contact.value_hash.in_(vault.hashes(channel, value)),
    )
    return session.scalars(statement.order_by(Contact.id)).first()


def find_or_create_contact(
    session: Session, vault: Vault, shop_id: int, channel: str, value: str, customer_id: int | None
) -> Contact:
    """The contact for a normalised value, inserted if new."""
    return contact_for(session, vault, shop_id, channel, value, customer_id)[0]


def contact_for(
    session: Session, vault: Vault, shop_id: int, channel: str, value: str, customer_id: int | None
) -> tuple[Contact, bool]:
    """The contact for a normalised value, inserted if new; and whether this call inserted it.

    Two requests for the same new contact may race: the unique (shop, channel, hash) constraint
    lets exactly one insert land and the other reads that row back. With one key (no rotation
    under way) the insert goes first — one round trip for a new shopper, two for a known one;
    with older keys a look-up under each comes first, since a row hashed under an older key would
    not collide with the new hash.
    """
    created = False
    contact = find_contact(session, vault, shop_id, channel, value) if vault.rotating else None
    if contact is None:
        insert = insert_for(session)(Contact).values(
            shop_id=shop_id,
            channel=channel,
            value_ciphertext=vault.encrypt(value),
            value_hash=vault.hash(channel, value),
            customer_id=customer_id,
        )
        statement = insert.on_conflict_do_nothing(index_elements=["shop_id", "channel", "value_hash"])
        contact = session.scalars(statement.returning(Contact)).first()
        created = contact is not None
        if contact is None:
            contact = find_contact(session, vault, shop_id, channel, value)
    if customer_id is not None and contact.customer_id is None:
        contact.customer_id = customer_id
    return contact, created
