"""Signatures of the providers' callbacks: SendGrid's signed event webhook (ECDSA P-256 over the
timestamp and the raw body) and Twilio's ``X-Twilio-Signature`` (its own ``RequestValidator``).
Each returns a result; the caller maps a failure to 403 and records nothing."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key
from twilio.request_validator import RequestValidator

# SendGrid signs each POST when it sends it; a replay of a captured one is refused after this.
MAX_EVENT_AGE_SECONDS = 600


@dataclass(frozen=True)
class Verification:
    ok: bool
    reason: str | None = None


def verify_sendgrid_events(public_key: str | None, signature: str | None, timestamp: str | None,
                           body: bytes, now: float) -> Verification:
    """``public_key`` is the base64 DER key from SendGrid's Mail Settings."""
    if not public_key:
        return Verification(False, "not_configured")
    if not signature or not timestamp:
        return Verification(False, "missing_signature")
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
        return Verification(False, "invalid_timestamp")
    if abs(now - int(timestamp)) > MAX_EVENT_AGE_SECONDS:
        return Verification(False, "stale_timestamp")
    try:
        key = load_der_public_key(base64.b64decode(public_key))
        if not isinstance(key, ec.EllipticCurvePublicKey):
            return Verification(False, "bad_key")
        key.verify(base64.b64decode(signature, validate=True), timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, binascii.Error, ValueError, UnsupportedAlgorithm):
        return Verification(False, "invalid_signature")
    return Verification(True)


def verify_twilio(auth_token: str | None, url: str, params: dict[str, str], signature: str | None) -> Verification:
    """Twilio signs the URL it called plus the sorted POST parameters (HMAC-SHA1, base64)."""
    if not auth_token:
        return Verification(False, "not_configured")
    if not signature or not signature.isascii():
        return Verification(False, "missing_signature")
    if not RequestValidator(auth_token).validate(url, params, signature):
        return Verification(False, "invalid_signature")
    return Verification(True)
