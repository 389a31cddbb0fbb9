"""One TLS context per process for every outgoing HTTPS client (SendGrid, Twilio, Shopify).

httpx builds a fresh ``ssl.SSLContext`` — loading the whole CA bundle — for every ``Client`` or
``HTTPTransport`` made without one: tens of milliseconds each, paid per batch on the fan-out path
and per Admin call on the restock path. A context holds configuration only, so one serves every
client; it is built on first use, so each worker process builds its own after the fork.
"""

from __future__ import annotations

import ssl
from functools import cache

import httpx


@cache
def tls_context() -> ssl.SSLContext:
    """httpx's own default (certifi's CA bundle, or ``SSL_CERT_FILE``/``SSL_CERT_DIR``), built once."""
    return httpx.create_ssl_context()
