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
        path = request.path
        # One pass over the headers a view set; then each of ours is added, or replaces the
        # view's (``set``) or gives way to it (``default``). werkzeug's ``setdefault`` and ``pop``
        # raise and catch a KeyError for an absent header: this ran ~5 % of a sign-up's
        # instructions before (bench/README.md).
        present = {name.lower() for name in headers.keys()}
        chosen = [("set", "X-Content-Type-Options", "nosniff"),
                  ("set", "Referrer-Policy", "no-referrer" if path.startswith(TOKEN_PATH_PREFIXES)
                   else "strict-origin-when-cross-origin")]
        if _is_admin(path):
            chosen.append(("default", "Content-Security-Policy", ADMIN_FRAME_ANCESTORS))
        else:
            chosen += [("default", "Content-Security-Policy", "frame-ancestors 'none'"),
                       ("set", "X-Frame-Options", "DENY")]
        chosen.append(("default", "Cache-Control", "no-store"))
        if production:
            chosen.append(("set", "Strict-Transport-Security", HSTS))
        for how, name, value in chosen:
            if name.lower() not in present:
                headers.add(name, value)
            elif how == "set":
                headers[name] = value
        if "server" in present:
            del headers["Server"]
        return response


def _is_admin(path: str) -> bool:
    return path == ADMIN_PREFIX or path.startswith(ADMIN_PREFIX + "/")


class QuietRequestHandler(WSGIRequestHandler):
    """werkzeug's development server without its ``Server: Werkzeug/<version> Python/<version>``."""

    def send_response(self, code: int, message: str | None = None) -> None:
        self.log_request(code)
        self.send_response_only(code, message)
        self.send_header("Date", self.date_time_string())
