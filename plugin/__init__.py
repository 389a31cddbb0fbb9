"""Backbell: back-in-stock alerts for Shopify.

``create_app`` builds the whole app: settings, database, the contact vault, Celery and the
blueprints (``webhooks`` and the storefront, admin and link endpoints).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask, request
from flask.sessions import SessionInterface
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException

from plugin import security_headers
from plugin.config import Settings, derived_secret, load_settings
from plugin.crypto import Vault, instance_keys, instance_link_secrets
from plugin.db import Database
from plugin.logging import configure_logging
from plugin.web_errors import json_error


class NoCookieSession(SessionInterface):
    """Backbell keeps no cookie session: the embedded admin proves itself on every request with
    App Bridge's session token, the storefront, webhooks and links with Shopify's or our own
    signatures. Flask's default interface built a signing serializer and looked for a cookie on
    every request for nothing; this one gives each request Flask's null session, which refuses
    writes, and never sets a cookie."""

    def open_session(self, app, request):
        return None  # Flask then uses make_null_session, and never saves a null session


@dataclass
class Runtime:
    """What handlers and tasks need, attached to the Flask app as ``extensions["backbell"]``."""

    settings: Settings
    db: Database
    vault: Vault
    # Small per-process caches of what Shopify answers slowly and rarely changes (name -> {key: value}).
    caches: dict[str, dict] = field(default_factory=dict)


def create_app(config: dict[str, Any] | None = None, environ: dict[str, str] | None = None, *,
               pool_pre_ping: bool = False) -> Flask:
    """Build the app. ``config`` overrides settings by field name (tests); ``environ`` replaces os.environ.
    ``pool_pre_ping``: test pooled connections before use (the Celery worker; see ``plugin.db``)."""
    configure_logging()
    settings = load_settings(environ)
    if config:
        settings = settings.with_overrides(**config)
    settings.instance_path.mkdir(parents=True, exist_ok=True)
    keys = settings.encryption_keys or instance_keys(settings.instance_path)
    if not settings.encryption_keys:
        settings = settings.with_overrides(encryption_keys=keys)
    if not settings.link_secrets:
        settings = settings.with_overrides(link_secrets=instance_link_secrets(settings.instance_path))

    # No static folder: the app serves no files (Flask would serve the working directory's static/).
    app = Flask("backbell", instance_path=str(settings.instance_path), static_folder=None)
    # Flask's secret key, for anything that signs with it (no cookie session does: NoCookieSession).
    # Derived from the link secrets, not SHOPIFY_API_SECRET: rotating the Shopify secret must not
    # change signatures. Older link secrets still verify (fallbacks).
    flask_keys = [derived_secret(secret, "flask session") for secret in settings.link_secrets]
    app.config.update(SECRET_KEY=flask_keys[0], SECRET_KEY_FALLBACKS=flask_keys[1:], MAX_CONTENT_LENGTH=1024 * 1024)
    app.session_interface = NoCookieSession()
    runtime = Runtime(settings=settings, db=Database(settings.database_url, pre_ping=pool_pre_ping), vault=Vault(keys))
    app.extensions["backbell"] = runtime

    from plugin.celery_app import celery_init_app

    celery_init_app(app)
    import plugin.dispatch.tasks  # noqa: F401  (registers the tasks)
    import plugin.inbox.tasks  # noqa: F401
    import plugin.inventory.tasks  # noqa: F401
    import plugin.measurement.tasks  # noqa: F401
    import plugin.privacy.tasks  # noqa: F401
    import plugin.offers.tasks  # noqa: F401

    _register_blueprints(app)
    _register_error_handlers(app)
    security_headers.init_app(app, production=settings.production)
    return app


def _register_blueprints(app: Flask) -> None:
    from plugin import health
    from plugin.intake import views as storefront
    from plugin.links import views as links
    from plugin.admin import api as admin_api
    from plugin.admin import list_pages as admin_lists
    from plugin.admin import messages as admin_messages
    from plugin.admin import pages as admin_pages
    from plugin.admin import views as admin_views
    from webhooks import providers as provider_webhooks
    from webhooks import views as webhook_views

    for module in (health, webhook_views, provider_webhooks, storefront, links, admin_views, admin_api, admin_pages,
                   admin_messages, admin_lists):
        app.register_blueprint(module.bp)


def _register_error_handlers(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def http_error(err: HTTPException):
        """Every error is JSON with a readable message; nothing leaks a stack trace."""
        code = (err.name or "error").lower().replace(" ", "_")
        allowed = getattr(err, "valid_methods", None) if err.code == 405 else None
        return json_error(err.code or 500, code, err.description,
                          response_headers={"Allow": ", ".join(allowed)} if allowed else None)

    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    @app.errorhandler(RedisConnectionError)
    @app.errorhandler(RedisTimeoutError)
    def service_unavailable(err: Exception):
        """The database or Redis (the rate limits' counters, the broker) is down or restarting: a
        status every caller retries (Shopify redelivers a webhook answered 5xx; a sign-up is counted
        before it is written, so nothing was stored), with no stack trace — it is the
        infrastructure, not a bug."""
        service = "database" if isinstance(err, (OperationalError, InterfaceError)) else "redis"
        app.logger.warning("%s_unavailable path=%s error=%s", service, request.path,
                           type(getattr(err, "orig", None) or err).__name__)
        return json_error(503, "unavailable", "The service is briefly unavailable; try again shortly.",
                          response_headers={"Retry-After": "5"})

    @app.errorhandler(Exception)
    def unexpected(err: Exception):
        app.logger.exception("unhandled_error path=%s", request.path)
        return json_error(500, "internal_error", "Something went wrong on our side.")


def runtime_of(app: Flask) -> Runtime:
    return app.extensions["backbell"]


def package_root() -> Path:
    return Path(__file__).resolve().parent.parent
