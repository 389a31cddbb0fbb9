"""A local storefront: serves the rendered product page and forwards ``/apps/backbell/*`` to the app.

The forwarding is Shopify's app proxy in miniature: the storefront path ``/apps/backbell/<path>``
goes to ``{app}/proxy/<path>`` with ``shop``, ``logged_in_customer_id``, ``path_prefix`` and
``timestamp`` added and the whole query signed with the app's secret; cookies are not forwarded.
So the widget runs exactly as on a store — same-origin, relative URLs, no knowledge of the app host.
"""

from __future__ import annotations

import gzip
import json
import mimetypes
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

import httpx
from werkzeug.wrappers import Request, Response

from tests.doubles.app_proxy import PATH_PREFIX, proxy_params, sign_proxy_query
from tests.doubles.h2_server import RunningH2Server, serve_wsgi_h2
from tests.doubles.server import RunningServer, serve_wsgi
from tests.widget.heavy_theme import heavy_asset
from tests.widget.liquid_theme import EXTENSION, FIXTURES, JSON_FILTERS, PageRequest
from tests.widget.theme_pages import render_product_page

STATIC = {"/assets/": EXTENSION / "assets", "/theme/": FIXTURES / "theme"}
HEAVY_PREFIX = "/theme/heavy/"  # the real-weight pages' files (heavy_theme.py: <name>, horizon/<name>), before /theme/
COMPRESSIBLE = ("text/", "application/javascript", "application/json", "image/svg+xml")
THEME_FETCH = ("section_id", "option_values")  # what Dawn 15's and Horizon 4's variant fetches carry
PAGE_COOKIE = "storefront_page"


@dataclass
class Exchange:
    """One request the proxy forwarded, and what the app answered."""

    method: str
    path: str
    status: int
    content_type: str
    body: dict | None


@dataclass
class Storefront:
    """Product pages (``?theme=…``, ``?variant=``, ``?option_values=``, ``?section_id=`` as Shopify
    answers them; see theme_pages.py), the extension's assets, the test theme's files, and the proxy."""

    app_url: str
    shop_domain: str
    secret: str
    url: str = ""
    exchanges: list[Exchange] = field(default_factory=list)

    def __call__(self, environ, start_response):
        request = Request(environ)
        if request.path.startswith(PATH_PREFIX + "/"):
            response = self.forward(request)
        elif request.path.startswith("/products/"):
            response = self.product_page(request)
        else:
            response = self.static(request.path)
        return compressed(request, response)(environ, start_response)

    def product_page(self, request: Request) -> Response:
        # A theme script's fetch (?section_id= / ?option_values=) carries none of the page's own
        # settings (?theme=, ?install=, …): like Shopify, which remembers a previewed theme in a cookie,
        # the storefront keeps the last page's settings in one and renders the fetch with them.
        fetched = any(key in request.args for key in THEME_FETCH)
        args = dict(parse_qsl(request.cookies.get(PAGE_COOKIE, ""))) if fetched else {}
        args.update(request.args.items())
        page = page_request(request.path[len("/products/"):], args)
        known = page.handle.replace("-", "").isalnum() and (FIXTURES / f"{page.handle}.json").is_file()
        html = render_product_page(page) if known and page.json_filter in JSON_FILTERS else None
        if html is None:
            return Response("not found", status=404)
        response = Response(html, content_type="text/html; charset=utf-8")
        if not fetched:
            settings = [(k, v) for k, v in request.args.items(multi=True) if k != "variant"]
            response.set_cookie(PAGE_COOKIE, urlencode(settings), path="/", httponly=True)
        return response

    def static(self, path: str) -> Response:
        if path.startswith(HEAVY_PREFIX):
            name = path[len(HEAVY_PREFIX):]
            body = heavy_asset(name) if name.count("/") <= 1 else None
            if body is None:
                return Response("not found", status=404)
            kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
            return Response(body, content_type=kind, headers={"Cache-Control": "max-age=3600"})
        for prefix, folder in STATIC.items():
            if path.startswith(prefix):
                file = (folder / path[len(prefix):]).resolve()
                if file.is_file() and folder.resolve() in file.parents:
                    kind = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
                    return Response(file.read_bytes(), content_type=kind, headers={"Cache-Control": "max-age=3600"})
        return Response("not found", status=404)

    def forward(self, request: Request) -> Response:
        params = {**proxy_params(self.shop_domain), **request.args.to_dict(flat=False)}
        query = sign_proxy_query(params, self.secret)
        target = f"{self.app_url}/proxy/{request.path[len(PATH_PREFIX) + 1:]}?{query}"
        headers = {k: v for k, v in request.headers.items() if k.lower() in ("content-type", "accept", "accept-language")}
        headers["X-Forwarded-For"] = request.remote_addr or "127.0.0.1"
        answer = httpx.request(request.method, target, content=request.get_data(), headers=headers, timeout=10)
        content_type = answer.headers.get("content-type", "")
        body = answer.json() if content_type.startswith("application/json") else None
        self.exchanges.append(Exchange(request.method, request.path, answer.status_code, content_type, body))
        return Response(answer.content, status=answer.status_code, content_type=content_type)


def compressed(request: Request, response: Response) -> Response:
    """Text gzipped when the browser accepts it, as Shopify's storefront and CDN serve it (so Lighthouse
    sees real transfer sizes); the app's own answers through the proxy pass as they are."""
    kind = response.mimetype or ""
    if ("gzip" not in request.headers.get("Accept-Encoding", "") or request.path.startswith(PATH_PREFIX + "/")
            or not kind.startswith(COMPRESSIBLE) or response.status_code != 200):
        return response
    response.set_data(gzip.compress(response.get_data(), compresslevel=6))
    response.headers["Content-Encoding"] = "gzip"
    response.headers["Vary"] = "Accept-Encoding"
    return response


def page_request(handle: str, args) -> PageRequest:
    settings = {k[len("setting."):]: _setting_value(v) for k, v in args.items() if k.startswith("setting.")}
    return PageRequest(
        theme=args.get("theme", "dawn"),
        handle=handle,
        json_filter=args.get("json", "shopify"),
        install=args.get("install", "block"),
        locale=args.get("locale", "en"),
        direction=args.get("dir", "ltr"),
        variant_id=int(args["variant"]) if args.get("variant", "").isdigit() else None,
        option_values=tuple(int(i) for i in args.get("option_values", "").split(",") if i.isdigit()),
        section_id=args.get("section_id"),
        weight=args.get("weight", "light"),
        settings=settings,
    )


def _setting_value(raw: str):
    return {"true": True, "false": False}.get(raw, raw)


def serve_storefront(app_url: str, shop_domain: str, secret: str,
                     http2: bool = False) -> tuple[RunningServer | RunningH2Server, Storefront]:
    """The storefront on a loopback port: plain HTTP (werkzeug, a connection per request), or with
    ``http2`` HTTPS and HTTP/2 on one connection as Shopify serves a store (the server's ``spki`` is
    the pin Chromium must be given to trust it)."""
    storefront = Storefront(app_url=app_url, shop_domain=shop_domain, secret=secret)
    return (serve_wsgi_h2(storefront) if http2 else serve_wsgi(storefront)), storefront


def page_path(handle: str = "merino-crew", **query) -> str:
    """``/products/<handle>?…``; ``settings={...}`` becomes ``setting.<id>=…`` parameters."""
    settings = query.pop("settings", {})
    pairs = {**{k: v for k, v in query.items() if v is not None}, **{f"setting.{k}": v for k, v in settings.items()}}
    pairs = {k: json.dumps(v) if isinstance(v, bool) else v for k, v in pairs.items()}
    text = "&".join(f"{k}={v}" for k, v in pairs.items())
    return f"/products/{handle}" + (f"?{text}" if text else "")


def extension_files() -> list[Path]:
    return sorted(p for p in EXTENSION.rglob("*") if p.is_file())
