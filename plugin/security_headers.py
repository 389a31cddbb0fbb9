"""Security headers on every response, in one place, and a development server that names no version.

- ``X-Content-Type-Options: nosniff`` everywhere.
- ``Referrer-Policy``: ``no-referrer`` on ``/u/`` and ``/r/`` (the path is a token a third party
  must not see), ``strict-origin-when-cross-origin`` elsewhere.
- Framing: the embedded admin (``/app…``) must stay frameable by Shopify admin, so its views set
  their own ``frame-ancestors`` (the shop's admin and ``admin.shopify.com``) and anything under
  ``/app`` without one gets ``admin.shopify.com`` only; every other page (the unsubscribe page
  included) may not be framed at all: ``frame-ancestors 'none'`` and ``X-Frame-Options: DENY``.
- ``Cache-Control: no-store`` unless a view chose otherwise: the answers carry shoppers' and
  merchants' data, and none is meant for a shared cache.
- ``Strict-Transport-Security`` in production (``BACKBELL_ENV=production``), where APP_URL is https.
"""

from __future__ import annotations

from flask import Flask, Response, request
from werkzeug.serving import WSGIRequestHandler

ADMIN_PREFIX = "/app"
ADMIN_FRAME_ANCESTORS = "frame-ancestors https://admin.shopify.com;"
TOKEN_PATH_PREFIXES = ("/u/", "/r/")
HSTS = "max-age=31536000; includeSubDomains"


def init_app(app: Flask, production: bool) -> None:
    @app.after_request
    def add_security_headers(response: Response) -> Response:
        headers = response.headers
        headers["X-Content-Type-Options"] = "nosniff"
        headers["Referrer-Policy"] = ("no-referrer" if request.path.startswith(TOKEN_PATH_PREFIXES)
                                      else "strict-origin-when-cross-origin")
        if _is_admin(request.path):
            headers.setdefault("Content-Security-Policy", ADMIN_FRAME_ANCESTORS)
        else:
            headers.setdefault("Content-Security-Policy", "frame-ancestors 'none'")
            headers["X-Frame-Options"] = "DENY"
        headers.setdefault("Cache-Control", "no-store")
        if production:
            headers["Strict-Transport-Security"] = HSTS
        headers.pop("Server", None)
        return response


def _is_admin(path: str) -> bool:
    return path == ADMIN_PREFIX or path.startswith(ADMIN_PREFIX + "/")


class QuietRequestHandler(WSGIRequestHandler):
    """werkzeug's development server without its ``Server: Werkzeug/<version> Python/<version>``."""

    def send_response(self, code: int, message: str | None = None) -> None:
        self.log_request(code)
        self.send_response_only(code, message)
        self.send_header("Date", self.date_time_string())
