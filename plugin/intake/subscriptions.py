"""Intake rules: validate a shopper's request, then store one waiting subscription per contact and variant.

``validate_request`` turns the widget's JSON into a ``ValidRequest`` or raises ``IntakeError``;
``store_subscription`` writes it. ``subscribe`` does both. The web handler calls the two halves
separately so it can rate-limit on the normalised contact in between, and writes with
``store_subscription_at_once`` first (PostgreSQL, the common case: one statement), falling back to
``store_subscription`` where that declines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, text
from sqlalchemy.orm import Session

from plugin.intake import signup_statement
from plugin.intake.shops import StorefrontShop
from plugin.intake.contacts import EMAIL, SMS, ContactError, contact_for, normalise_email, normalise_phone
from plugin.crypto import Vault
from plugin.db import insert_for
from plugin.measurement import aggregates
from plugin.clock import utcnow
from plugin.dispatch.messages.locales import normalise_locale
from plugin.dispatch.confirmation import require_confirmation
from plugin.models import WAITING, Shop, Subscription, Variant
from plugin.shop_settings import ShopSettings, settings_for

CHANNELS = (EMAIL, SMS)
# Version of the consent wording the widget shows; a shop that edits its wording sets its own
# ``consent_version`` setting so each consent record says which text the shopper agreed to.
DEFAULT_CONSENT_VERSION = "backbell-consent-1"
MAX_SHOPIFY_ID = 2**63 - 1
_VARIANT_GID = re.compile(r"^gid://shopify/ProductVariant/(\d{1,19})$")


class IntakeError(Exception):
    """Invalid input: ``code`` for machines, ``message_key`` for the shopper, ``field`` for the form."""

    def __init__(self, code: str, message_key: str, field: str | None, **params: str):
        super().__init__(code)
        self.code, self.message_key, self.field, self.params = code, message_key, field, params


@dataclass(frozen=True)
class SubscribeRequest:
    """What the widget sent (untrusted, any JSON types) plus the proxy-verified customer id."""

    variant_id: Any = None
    email: Any = None
    phone: Any = None
    channel: Any = None
    locale: Any = None
    consent: Any = None
    country: Any = None
    customer_id: int | None = None  # from the signed proxy query, never from the body

    @classmethod
    def from_body(cls, body: dict[str, Any], customer_id: int | None) -> "SubscribeRequest":
        names = ("variant_id", "email", "phone", "channel", "locale", "consent", "country")
        return cls(**{name: body.get(name) for name in names}, customer_id=customer_id)


@dataclass(frozen=True)
class ValidRequest:
    variant_id: int
    channel: str
    value: str  # normalised email or E.164 number
    locale: str
    consent_at: datetime | None
    consent_version: str | None
    customer_id: int | None


@dataclass(frozen=True)
class SubscribeResult:
    status: str  # "subscribed" | "already_subscribed"
    subscription_id: int
    contact_id: int
    variant_id: int
    variant_known: bool  # False → the caller asks for a variant sync after commit
    confirmation: bool = False  # double opt-in: a confirm notice waits to be sent after commit


def subscribe(session: Session, vault: Vault, shop: Shop, request: SubscribeRequest) -> SubscribeResult:
    return store_subscription(session, vault, shop, validate_request(shop, request))


def validate_request(shop: Shop | StorefrontShop, request: SubscribeRequest) -> ValidRequest:
    variant_id = parse_variant_id(request.variant_id)
    channel = infer_channel(request)
    value = _normalised_contact(shop, request, channel)
    consent_at, consent_version = _consent(shop, channel, request.consent)
    return ValidRequest(variant_id, channel, value, normalise_locale(request.locale), consent_at,
                        consent_version, request.customer_id)


def parse_variant_id(raw: Any) -> int:
    """A positive 64-bit id from an int, a digit string or ``gid://shopify/ProductVariant/<n>``."""
    number = None
    if isinstance(raw, int) and not isinstance(raw, bool):
        number = raw
    elif isinstance(raw, str):
        match = _VARIANT_GID.match(raw.strip()) or re.fullmatch(r"(\d{1,19})", raw.strip())
        number = int(match.group(1)) if match else None
    if number is None or not 0 < number <= MAX_SHOPIFY_ID:
        raise IntakeError("invalid_variant", "invalid_variant", "variant_id")
    return number


def infer_channel(request: SubscribeRequest) -> str:
    """``channel`` when given, else email when an email is present, else sms when a phone is."""
    if request.channel is not None:
        if request.channel not in CHANNELS:
            raise IntakeError("unknown_channel", "unknown_channel", "channel")
        return request.channel
    if _present(request.email):
        return EMAIL
    if _present(request.phone):
        return SMS
    raise IntakeError("missing_contact", "missing_contact", "email")


def _normalised_contact(shop: Shop | StorefrontShop, request: SubscribeRequest, channel: str) -> str:
    field = "email" if channel == EMAIL else "phone"
    raw = request.email if channel == EMAIL else request.phone
    if not _present(raw):
        raise IntakeError("missing_contact", "missing_contact", field)
    if not isinstance(raw, str):
        raise IntakeError(f"invalid_{field}", f"invalid_{field}", field)
    try:
        if channel == EMAIL:
            return normalise_email(raw)
        return normalise_phone(raw, _region_hint(shop, request.country))
    except ContactError as err:
        code = "too_long" if err.reason == "too_long" else f"invalid_{field}"
        params = {"suggestion": err.suggestion} if err.suggestion else {}
        raise IntakeError(code, err.reason, field, **params) from None


def _region_hint(shop: Shop | StorefrontShop, country: Any) -> str | None:
    if isinstance(country, str) and country.strip():
        return country.strip()
    return (shop.settings or {}).get("country_code")


def _consent(shop: Shop | StorefrontShop, channel: str, consent: Any) -> tuple[datetime | None, str | None]:
    """SMS always needs explicit consent; email only when the shop requires it."""
    given = consent is True
    required = channel == SMS or bool((shop.settings or {}).get("require_email_consent"))
    if required and not given:
        raise IntakeError("consent_required", "consent_required", "consent")
    if not given:
        return None, None
    return utcnow(), (shop.settings or {}).get("consent_version") or DEFAULT_CONSENT_VERSION


def _present(value: Any) -> bool:
    return value is not None and value != ""


def store_subscription(session: Session, vault: Vault, shop: Shop, valid: ValidRequest,
                       settings: ShopSettings | None = None) -> SubscribeResult:
    """Insert the waiting subscription unless one exists; the partial unique index decides races.
    ``settings``: the shop's, when the caller has them (else read from ``shop``)."""
    contact, created = contact_for(session, vault, shop.id, valid.channel, valid.value, valid.customer_id)
    if contact.suppressed_at is not None:
        raise IntakeError("suppressed_contact", "suppressed_contact", "email" if valid.channel == EMAIL else "phone")
    variant = session.scalars(
        select(Variant).where(Variant.shop_id == shop.id, Variant.variant_id == valid.variant_id)
    ).first()
    if variant is not None and not variant.can_alert:
        raise IntakeError("waiting_not_allowed", "waiting_not_allowed", "variant_id")
    inserted_id = session.execute(
        insert_for(session)(Subscription)
        .values(
            shop_id=shop.id, contact_id=contact.id, variant_id=valid.variant_id,
            product_id=variant.product_id if variant else None, channel=valid.channel, status=WAITING,
            locale=valid.locale, customer_id=valid.customer_id, consent_at=valid.consent_at,
            consent_version=valid.consent_version,
        )
        .on_conflict_do_nothing(index_elements=["contact_id", "variant_id"], index_where=text("status = 'waiting'"))
        .returning(Subscription.id)
    ).scalar_one_or_none()
    status = "subscribed" if inserted_id is not None else "already_subscribed"
    subscription_id = inserted_id or _waiting_subscription_id(session, contact.id, valid.variant_id)
    confirmation = inserted_id is not None and (settings or settings_for(shop)).double_opt_in
    if confirmation:
        # Not waiting until confirmed: the counters learn of the wait when the link is followed.
        require_confirmation(session, shop.id, inserted_id, valid.channel, valid.variant_id, utcnow())
    elif inserted_id is not None:
        # A contact inserted now is already due for the customer sync (the column's default):
        # no UPDATE to mark it.
        aggregates.wait_started(session, shop.id, valid.variant_id, None if created else contact.id)
    return SubscribeResult(status, subscription_id, contact.id, valid.variant_id, variant is not None, confirmation)


def store_subscription_at_once(connection: Connection, vault: Vault, shop: StorefrontShop, valid: ValidRequest,
                               settings: ShopSettings, value_hash: str | None = None) -> SubscribeResult | None:
    """``store_subscription`` as one statement on an autocommit connection, for PostgreSQL and the
    common case (see ``plugin.intake.signup_statement``); None when the caller must take the
    general path (another backend, a key rotation under way, double opt-in, a concurrent first
    sign-up of the same shopper) — then nothing was written. ``value_hash``: the contact's
    ``vault.hash``, when the caller has it already (the web handler keys a rate limit on it)."""
    if connection.dialect.name != "postgresql" or vault.rotating:
        return None
    if settings.double_opt_in:
        return None
    now = utcnow()
    row = signup_statement.run(
        connection, shop_id=shop.id, variant_id=valid.variant_id, channel=valid.channel,
        ciphertext=vault.encrypt(valid.value), value_hash=value_hash or vault.hash(valid.channel, valid.value),
        customer_id=valid.customer_id, locale=valid.locale, consent_at=valid.consent_at,
        consent_version=valid.consent_version, now=now, day=aggregates.calendar_day(shop.timezone, now))
    # The general path's checks, in its order: a suppressed contact, then a variant that never alerts.
    if row.suppressed:
        raise IntakeError("suppressed_contact", "suppressed_contact", "email" if valid.channel == EMAIL else "phone")
    if not row.allowed:
        raise IntakeError("waiting_not_allowed", "waiting_not_allowed", "variant_id")
    subscription_id = row.inserted_id or row.waiting_id
    if row.contact_id is None or subscription_id is None:
        return None  # a concurrent first sign-up committed a row this statement's snapshot cannot see
    status = "subscribed" if row.inserted_id is not None else "already_subscribed"
    return SubscribeResult(status, subscription_id, row.contact_id, valid.variant_id, row.variant_known)


def _waiting_subscription_id(session: Session, contact_id: int, variant_id: int) -> int:
    return session.scalars(
        select(Subscription.id).where(
            Subscription.contact_id == contact_id,
            Subscription.variant_id == variant_id,
            Subscription.status == WAITING,
        )
    ).one()
