"""Environment → settings.

Every variable is optional on the embedded default (SQLite, tasks in-process, messages to the
outbox folder). With ``BACKBELL_ENV=production`` the credentials and the database become
required; a missing or malformed setting stops start-up with one line naming the variable.
"""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from urllib.parse import urlparse

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

DEV_API_KEY = "backbell-dev-api-key"
DEV_API_SECRET = "backbell-dev-api-secret-not-for-production"
MIN_LINK_SECRET_LENGTH = 32


class ConfigError(Exception):
    """A setting is missing or malformed; ``str(err)`` is the one line to print."""

    def __init__(self, variable: str, problem: str):
        super().__init__(f"{variable}: {problem}")
        self.variable = variable


@dataclass(frozen=True)
class Settings:
    environment: str = "development"
    instance_path: Path = Path("instance")
    shopify_api_key: str = DEV_API_KEY
    shopify_api_secret: str = DEV_API_SECRET
    shopify_api_secret_old: str | None = None
    shopify_api_version: str = "2026-10"
    shopify_admin_origin: str = "https://{shop}"
    app_url: str = "http://127.0.0.1:8000"
    database_url: str = ""
    redis_url: str | None = None
    sendgrid_api_key: str | None = None
    sendgrid_api_origin: str = "https://api.sendgrid.com"
    sendgrid_webhook_public_key: str | None = None
    sendgrid_from_email: str = "alerts@backbell.app"
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = None
    twilio_from: str | None = None
    twilio_api_origin: str = "https://api.twilio.com"
    encryption_keys: tuple[str, ...] = field(default_factory=tuple)
    # Sign unsubscribe and tracked links, newest first; older ones still verify (rotation).
    link_secrets: tuple[str, ...] = field(default_factory=tuple)
    sendgrid_timeout_seconds: float = 20.0
    twilio_timeout_seconds: float = 15.0
    # First delay of a send chain's retry after a transient provider failure (doubles each time,
    # full jitter, at most 600 s); a 429's own wait is honoured when it is longer.
    dispatch_retry_backoff_seconds: float = 10.0
    # Added to a channel's own bound when a batch is claimed (see plugin.dispatch.delivery).
    dispatch_lease_margin_seconds: float = 120.0
    # Send chains one restock's batches walk in parallel on a channel (plugin.dispatch.tasks):
    # one per worker process, so no process sits idle during a big fan-out.
    dispatch_chains: int = 2
    # Finished notices, decision-log lines and webhook receipts older than this are pruned.
    retention_days: int = 90
    outbox_path: Path = Path("instance/outbox")
    # Our own proxies in front of the app (load balancer), as CIDRs: X-Forwarded-For entries they
    # appended are believed (plugin.intake.client_address). Default: none.
    trusted_proxies: tuple[str, ...] = ()
    # True when the credentials are the printed development pair.
    dev_credentials: bool = True

    @property
    def production(self) -> bool:
        return self.environment == "production"

    @property
    def tasks_in_process(self) -> bool:
        return not self.redis_url

    @property
    def shopify_secrets(self) -> tuple[str, ...]:
        """Secrets accepted on incoming signatures, current first (rotation window)."""
        if self.shopify_api_secret_old:
            return (self.shopify_api_secret, self.shopify_api_secret_old)
        return (self.shopify_api_secret,)

    @property
    def link_secret(self) -> str:
        """The key new links are signed with (the first of ``link_secrets``)."""
        if not self.link_secrets:
            raise RuntimeError("no link secret: create_app fills BACKBELL_LINK_SECRETS in from the instance folder")
        return self.link_secrets[0]

    @property
    def rate_limit_secret(self) -> str:
        """Keys the rate-limit HMAC: from the oldest link secret, so neither a rotation of
        SHOPIFY_API_SECRET nor adding a new link secret resets every shopper's counters."""
        return derived_secret(self.link_secrets[-1], "rate limit") if self.link_secrets else ""

    def admin_origin_for(self, shop: str) -> str:
        return self.shopify_admin_origin.replace("{shop}", shop).rstrip("/")

    def with_overrides(self, **overrides) -> "Settings":
        known = {f.name for f in fields(self)}
        unknown = set(overrides) - known
        if unknown:
            raise ConfigError(sorted(unknown)[0], "is not a Backbell setting")
        return replace(self, **overrides)


def load_settings(environ: dict[str, str] | None = None, instance_path: Path | None = None) -> Settings:
    """Read settings from the environment, applying embedded defaults and checking formats."""
    env = dict(os.environ if environ is None else environ)
    get = lambda name: (env.get(name) or "").strip() or None  # noqa: E731
    environment = get("BACKBELL_ENV") or "development"
    if environment not in ("development", "production", "test"):
        raise ConfigError("BACKBELL_ENV", "must be development, production or test")
    production = environment == "production"
    instance = Path(get("BACKBELL_INSTANCE") or instance_path or Path.cwd() / "instance").resolve()

    def required(name: str, default: str | None) -> str | None:
        value = get(name)
        if value is None and production and default is None:
            raise ConfigError(name, "is required in production (BACKBELL_ENV=production)")
        return value or default

    key = required("SHOPIFY_API_KEY", None if production else DEV_API_KEY)
    secret = required("SHOPIFY_API_SECRET", None if production else DEV_API_SECRET)
    database_url = required("DATABASE_URL", None if production else f"sqlite:///{instance / 'backbell.sqlite3'}")
    settings = Settings(
        environment=environment,
        instance_path=instance,
        shopify_api_key=key,
        shopify_api_secret=secret,
        shopify_api_secret_old=get("SHOPIFY_API_SECRET_OLD"),
        shopify_api_version=_api_version(get("SHOPIFY_API_VERSION") or "2026-10"),
        shopify_admin_origin=_origin("SHOPIFY_ADMIN_ORIGIN", get("SHOPIFY_ADMIN_ORIGIN") or "https://{shop}"),
        app_url=_origin("APP_URL", required("APP_URL", None if production else "http://127.0.0.1:8000")),
        database_url=_database_url(database_url),
        redis_url=_redis_url(get("REDIS_URL")),
        sendgrid_api_key=get("SENDGRID_API_KEY"),
        sendgrid_api_origin=_origin("SENDGRID_API_ORIGIN", get("SENDGRID_API_ORIGIN") or "https://api.sendgrid.com"),
        sendgrid_webhook_public_key=get("SENDGRID_WEBHOOK_PUBLIC_KEY"),
        sendgrid_from_email=get("BACKBELL_FROM_EMAIL") or "alerts@backbell.app",
        twilio_account_sid=get("TWILIO_ACCOUNT_SID"),
        twilio_auth_token=get("TWILIO_AUTH_TOKEN"),
        twilio_from=get("TWILIO_FROM"),
        twilio_api_origin=_origin("TWILIO_API_ORIGIN", get("TWILIO_API_ORIGIN") or "https://api.twilio.com"),
        encryption_keys=_encryption_keys(get("BACKBELL_ENCRYPTION_KEYS"), production),
        link_secrets=_link_secrets(get("BACKBELL_LINK_SECRETS"), production),
        sendgrid_timeout_seconds=_positive_number("BACKBELL_SENDGRID_TIMEOUT", get("BACKBELL_SENDGRID_TIMEOUT"), 20.0),
        twilio_timeout_seconds=_positive_number("BACKBELL_TWILIO_TIMEOUT", get("BACKBELL_TWILIO_TIMEOUT"), 15.0),
        dispatch_retry_backoff_seconds=_positive_number("BACKBELL_DISPATCH_RETRY_BACKOFF",
                                                        get("BACKBELL_DISPATCH_RETRY_BACKOFF"), 10.0),
        dispatch_lease_margin_seconds=_positive_number("BACKBELL_DISPATCH_LEASE_MARGIN",
                                               get("BACKBELL_DISPATCH_LEASE_MARGIN"), 120.0),
        dispatch_chains=int(_positive_number("BACKBELL_DISPATCH_CHAINS", get("BACKBELL_DISPATCH_CHAINS"),
                                             max(2, os.cpu_count() or 2), whole=True)),
        retention_days=int(_positive_number("BACKBELL_RETENTION_DAYS", get("BACKBELL_RETENTION_DAYS"), 90, whole=True)),
        outbox_path=Path(get("BACKBELL_OUTBOX") or instance / "outbox").resolve(),
        trusted_proxies=_networks("BACKBELL_TRUSTED_PROXIES", get("BACKBELL_TRUSTED_PROXIES")),
        dev_credentials=key == DEV_API_KEY and secret == DEV_API_SECRET,
    )
    _check_twilio(settings)
    return settings


def _api_version(value: str) -> str:
    if not re.fullmatch(r"\d{4}-(01|04|07|10)|unstable", value):
        raise ConfigError("SHOPIFY_API_VERSION", f"'{value}' is not an API version like 2026-10")
    return value


def _origin(name: str, value: str) -> str:
    parsed = urlparse(value.replace("{shop}", "shop.myshopify.com"))
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ConfigError(name, f"'{value}' is not an http(s) URL")
    return value.rstrip("/")


def _database_url(value: str) -> str:
    if value.startswith("postgres://"):
        value = "postgresql://" + value[len("postgres://"):]
    if value.startswith("postgresql://"):
        # psycopg 3 is the driver we ship.
        value = "postgresql+psycopg://" + value[len("postgresql://"):]
    if not re.match(r"^(sqlite|postgresql)(\+\w+)?://", value):
        raise ConfigError("DATABASE_URL", "must be a sqlite:// or postgresql:// SQLAlchemy URL")
    return value


def _redis_url(value: str | None) -> str | None:
    if value and not re.match(r"^rediss?://", value):
        raise ConfigError("REDIS_URL", f"'{value}' is not a redis:// URL")
    return value


def _networks(name: str, value: str | None) -> tuple[str, ...]:
    networks = tuple(part.strip() for part in (value or "").split(",") if part.strip())
    for network in networks:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError:
            raise ConfigError(name, f"'{network}' is not an IP network like 10.0.0.0/8") from None
    return networks


def _encryption_keys(value: str | None, production: bool) -> tuple[str, ...]:
    if not value:
        if production:
            raise ConfigError("BACKBELL_ENCRYPTION_KEYS", "is required in production (comma-separated Fernet keys)")
        return ()
    keys = tuple(k.strip() for k in value.split(",") if k.strip())
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key.encode())
        except (ValueError, TypeError):
            raise ConfigError(
                "BACKBELL_ENCRYPTION_KEYS",
                f"key #{position} is not a Fernet key (32 url-safe base64 bytes; make one with "
                "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`)",
            ) from None
    return keys


def _link_secrets(value: str | None, production: bool) -> tuple[str, ...]:
    if not value:
        if production:
            raise ConfigError("BACKBELL_LINK_SECRETS", "is required in production (comma-separated secrets, newest first)")
        return ()
    secrets = tuple(s.strip() for s in value.split(",") if s.strip())
    for position, secret in enumerate(secrets, start=1):
        if len(secret) < MIN_LINK_SECRET_LENGTH:
            raise ConfigError(
                "BACKBELL_LINK_SECRETS",
                f"secret #{position} is shorter than {MIN_LINK_SECRET_LENGTH} characters (make one with "
                "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`)",
            )
    return secrets


def _positive_number(name: str, value: str | None, default: float, whole: bool = False) -> float:
    if value is None:
        return default
    try:
        number = int(value) if whole else float(value)
    except ValueError:
        number = -1
    if number <= 0:
        kind = "a whole number" if whole else "a number"
        raise ConfigError(name, f"'{value}' is not {kind} greater than 0")
    return number


def derived_secret(secret: str, purpose: str) -> str:
    """A key for one purpose (Flask sessions, rate limits) derived from a link secret (HKDF-SHA256)."""
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=f"backbell {purpose}".encode())
    return key.derive(secret.encode()).hex()


def _check_twilio(settings: Settings) -> None:
    parts = {
        "TWILIO_ACCOUNT_SID": settings.twilio_account_sid,
        "TWILIO_AUTH_TOKEN": settings.twilio_auth_token,
        "TWILIO_FROM": settings.twilio_from,
    }
    given = [name for name, value in parts.items() if value]
    if given and len(given) != len(parts):
        missing = next(name for name, value in parts.items() if not value)
        raise ConfigError(missing, "is required when the other TWILIO_* settings are set")
