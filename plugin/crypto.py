"""Encryption of contact data and tokens, and the keyed hash used to look contacts up.

Keys are Fernet keys, newest first. New ciphertext always uses the newest key; any listed key
decrypts. The look-up hash is an HMAC under a key derived from each encryption key, so a look-up
tries the hash under every key (``hashes``) and rows written before a rotation are still found;
``Vault.rotate`` re-encrypts a value under the newest key.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes as crypto_hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

log = logging.getLogger(__name__)

KEY_FILE = "encryption.key"
LINK_SECRETS_FILE = "link-secrets.key"


class Vault:
    def __init__(self, keys: tuple[str, ...] | list[str]):
        if not keys:
            raise ValueError("Vault needs at least one key")
        self._fernet = MultiFernet([Fernet(k.encode()) for k in keys])
        self._hash_keys = [_derive_hash_key(k) for k in keys]

    def encrypt(self, value: str) -> str:
        return self._fernet.encrypt(value.encode()).decode()

    def decrypt(self, ciphertext: str) -> str:
        try:
            return self._fernet.decrypt(ciphertext.encode()).decode()
        except InvalidToken:
            raise ValueError("ciphertext was not made with any configured BACKBELL_ENCRYPTION_KEYS") from None

    def rotate(self, ciphertext: str) -> str:
        return self._fernet.rotate(ciphertext.encode()).decode()

    @property
    def rotating(self) -> bool:
        """Older keys are configured too (a rotation under way): a look-up must try each key's hash."""
        return len(self._hash_keys) > 1

    def hash(self, kind: str, value: str) -> str:
        """The look-up hash under the newest key (what new rows store)."""
        return keyed_hash(self._hash_keys[0], kind, value)

    def hashes(self, kind: str, value: str) -> list[str]:
        """The look-up hash under every key, newest first (what look-ups search for)."""
        return [keyed_hash(k, kind, value) for k in self._hash_keys]


def _derive_hash_key(key: str) -> bytes:
    return HKDF(algorithm=crypto_hashes.SHA256(), length=32, salt=None, info=b"backbell contact hash").derive(
        key.encode()
    )


def keyed_hash(key: bytes, kind: str, value: str) -> str:
    """Hex HMAC-SHA256 of ``kind:value`` under ``key`` (contact look-ups, rate-limit keys).
    ``hmac.digest`` is OpenSSL's one-shot HMAC: no HMAC object, one call."""
    return hmac.digest(key, f"{kind}:{value}".encode(), "sha256").hex()


def instance_keys(instance_path: Path) -> tuple[str, ...]:
    """The embedded default: one key generated once into the instance folder, with a warning."""
    path = instance_path / KEY_FILE
    if not path.exists():
        instance_path.mkdir(parents=True, exist_ok=True)
        key = Fernet.generate_key().decode()
        # O_EXCL: two processes starting at once must not each write a different key.
        try:
            with open(path, "x", encoding="ascii") as handle:
                handle.write(key + "\n")
            path.chmod(0o600)
            log.warning(
                "encryption_key_generated path=%s — set BACKBELL_ENCRYPTION_KEYS in production; "
                "losing this file makes stored contacts unreadable",
                path,
            )
        except FileExistsError:
            pass
    return tuple(k.strip() for k in path.read_text(encoding="ascii").split(",") if k.strip())


def instance_link_secrets(instance_path: Path) -> tuple[str, ...]:
    """The embedded default for BACKBELL_LINK_SECRETS: one secret generated once into the instance
    folder, with a warning (links in sent mail stop working if the file is lost)."""
    path = instance_path / LINK_SECRETS_FILE
    if not path.exists():
        instance_path.mkdir(parents=True, exist_ok=True)
        try:
            with open(path, "x", encoding="ascii") as handle:
                handle.write(secrets.token_urlsafe(32) + "\n")
            path.chmod(0o600)
            log.warning(
                "link_secret_generated path=%s — set BACKBELL_LINK_SECRETS in production; "
                "losing this file breaks the unsubscribe links in every mail already sent",
                path,
            )
        except FileExistsError:
            pass
    return tuple(s.strip() for s in path.read_text(encoding="ascii").split(",") if s.strip())
