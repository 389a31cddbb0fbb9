"""The embedded admin's pages: Home (``/app``, its handler is in ``views.py``), Dashboard, Demand,
Subscribers, Messages, Settings and Activity under ``/app/…``, and their two assets.

Each page is a document Shopify admin loads in its iframe, verified like App Home (the ``id_token``
query parameter, or the patch-ID-token bounce that fetches one), rendered server-side from the same
functions the ``/api`` endpoints use, and enhanced by ``static/admin.js``: every change goes to
``/api`` with a fresh session token. Links keep ``shop``, ``host``, ``embedded`` and ``locale``.
"""

from __future__ import annotations

import hashlib
from dataclasses import fields
from functools import cache, wraps
from pathlib import Path
from urllib.parse import urlencode

from flask import Blueprint, abort, current_app, g, render_template, request

from plugin.admin.charts import trend_bars
from plugin.admin.formatting import dates_for, format_metric, shop_today
from plugin.admin.i18n import Translator
from plugin.admin.overview import Range, overview
from plugin.admin.settings_form import grouped_fields
from plugin.admin.theme_status import block_link, embed_link, remembered_theme_status
from plugin.shop_settings import settings_for
from plugin.shopify.auth import (
    InstallFailure,
    install_if_needed,
    shop_domain,
    verify_app_home,
)
from plugin.web_errors import json_error

bp = Blueprint("admin_pages", __name__, template_folder="templates")
STATIC_DIR = Path(__file__).resolve().parent / "static"
ASSETS = {"admin.js": "text/javascript", "admin.css": "text/css"}
APP_BRIDGE_URL = "https://cdn.shopify.com/shopifycloud/app-bridge.js"
POLARIS_URL = "https://cdn.shopify.com/shopifycloud/polaris-1.js"
NAV = ("dashboard", "demand", "subscribers", "messages", "settings", "activity")
KEPT_PARAMS = ("shop", "host", "embedded", "locale")


def _runtime():
    return current_app.extensions["backbell"]


def admin_page(view):
    """A page document: verified and installed like App Home, the shop in ``g.shop``, the
    merchant's language in ``g.t``; the view returns HTML, sent with Shopify's framing headers."""

    @wraps(view)
    def page(*args, **kwargs):
        from plugin.admin.views import (
            _open_from_admin,
            _request_input,
            _shopify_response,
            frame_ancestors,
        )

        runtime = _runtime()
        if not any(request.args.get(k) for k in ("shop", "host", "id_token")):
            return _open_from_admin()  # a browser outside Shopify admin, as on /app
        result = verify_app_home(runtime.settings, _request_input())
        if not result.ok:
            return _shopify_response(result.response)
        domain = shop_domain(result.shop)
        try:
            with runtime.db.session() as session:
                g.shop = install_if_needed(runtime, session, domain, result.id_token)
        except InstallFailure as failure:
            if failure.reauthenticate and result.invalid_token_response is not None:
                return _shopify_response(result.invalid_token_response)
            return json_error(502, "token_exchange_failed",
                              "Shopify did not grant Backbell access to this shop. Reload the app to try again.")
        g.t = Translator(request.args.get("locale"))
        html, status = view(*args, **kwargs), 200
        if isinstance(html, tuple):  # (html, 4xx): the page, with what was refused said on it
            html, status = html
        headers = {**result.response.headers, "Content-Security-Policy": frame_ancestors(domain)}
        return current_app.response_class(html, status=status, headers=headers, mimetype="text/html")

    return page


def render_page(template: str, active: str, **context) -> str:
    """A page in the shared layout: the App Bridge and Polaris scripts, the app nav, the strings."""
    t = g.t
    return render_template(
        f"admin/{template}", t=t, shop=g.shop, active=active, api_key=_runtime().settings.shopify_api_key,
        app_bridge_url=APP_BRIDGE_URL, polaris_url=POLARIS_URL, asset=asset_url, link=page_link,
        nav=[(name, page_link(name)) for name in NAV], home_link=page_link("home"),
        dates=dates_for(g.shop, t.locale),
        script_strings=t.catalogue_for_scripts("common.") | t.catalogue_for_scripts("demand.")
        | t.catalogue_for_scripts("subscribers.") | t.catalogue_for_scripts("messages."),
        **context)


def page_link(name: str, **params) -> str:
    """A page's URL carrying the parameters Shopify admin gave this one (never the ID token)."""
    path = "/app" if name == "home" else f"/app/{name}"
    kept = {key: request.args[key] for key in KEPT_PARAMS if request.args.get(key)}
    query = urlencode({**kept, **{k: v for k, v in params.items() if v not in (None, "")}})
    return f"{path}?{query}" if query else path


@cache
def _fingerprint(name: str) -> str:
    return hashlib.sha256((STATIC_DIR / name).read_bytes()).hexdigest()[:12]


def asset_url(name: str) -> str:
    return f"/app/assets/{name}?v={_fingerprint(name)}"


@bp.get("/app/assets/<name>")
def asset(name: str):
    """The admin's script and stylesheet; fingerprinted URLs, so browsers may keep them a year."""
    if name not in ASSETS:
        abort(404)
    response = current_app.response_class((STATIC_DIR / name).read_bytes(), mimetype=ASSETS[name])
    response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    return response


# -- Home and Dashboard ---------------------------------------------------------------------------
PERIODS = (("7", "dashboard.period_7"), ("30", "dashboard.period_30"), ("90", "dashboard.period_90"),
           ("all", "dashboard.period_all"))
HOME_METRICS = ("waiting", "notified", "purchased", "revenue")
DASHBOARD_METRICS = ("waiting", "notified", "delivered", "opened", "clicked", "purchased", "conversion",
                     "revenue", "median_time")


def render_home(runtime, shop) -> str:
    """Home: is the widget on the live theme (with the theme editor's deep links), then the numbers.
    The theme is read from Shopify only when it was not read in the last minute, and then not
    while the merchant waits for the page: a script asks ``/api/theme-status`` once it painted."""
    theme = remembered_theme_status(runtime, shop.domain)
    with runtime.db.session() as session:
        numbers = dashboard_numbers(session, shop, None)
    api_key = runtime.settings.shopify_api_key
    return render_page("home.html", "home", title=g.t("home.title"), theme=theme,
                       block_link=block_link(shop.domain, api_key), embed_link=embed_link(shop.domain, api_key),
                       metrics=metric_list(numbers, HOME_METRICS))


@bp.get("/app/dashboard")
@admin_page
def dashboard():
    """The funnel, revenue recovered, conversion, median time to purchase and the daily trend."""
    period = request.args.get("period", "30")
    if period not in dict(PERIODS):
        period = "30"
    days = None if period == "all" else int(period)
    with _runtime().db.session() as session:
        numbers = dashboard_numbers(session, g.shop, days and shop_today(g.shop, days))
    kept = {key: request.args[key] for key in KEPT_PARAMS if request.args.get(key)}
    return render_page("dashboard.html", "dashboard", title=g.t("dashboard.title"), numbers=numbers,
                       metrics=metric_list(numbers, DASHBOARD_METRICS), periods=PERIODS, period=period,
                       kept=kept, chart=trend_bars(numbers["trend"], g.t("dashboard.trend_heading"),
                                                   dates_for(g.shop, g.t.locale).day))


def metric_list(numbers: dict, names) -> list[dict]:
    return [{"name": name, "label": g.t(f"metric.{name}"), "value": format_metric(name, numbers, g.t)}
            for name in names]


def dashboard_numbers(session, shop, period: tuple | None) -> dict:
    """``GET /api/overview``'s numbers for ``(since, until)``, or all time."""
    return overview(session, shop, Range(*period) if period else Range())


# -- Settings -------------------------------------------------------------------------------------
@bp.get("/app/settings")
@admin_page
def settings_page():
    """Every setting in a form over ``GET``/``PATCH /api/settings``, saved from the save bar."""
    return render_page("settings.html", "settings", title=g.t("settings.title"),
                       groups=grouped_fields(current_settings(g.shop)))


def current_settings(shop) -> dict:
    """The values ``GET /api/settings`` answers (defaults filled in)."""
    values = settings_for(shop)
    return {f.name: getattr(values, f.name) for f in fields(values) if f.name != "extra"}


def render_theme_status(theme, shop, api_key: str) -> str:
    """The Home fragment for ``theme`` (``GET /api/theme-status`` answers it for the page to show)."""
    return render_template("admin/_theme_status.html", t=g.t, theme=theme, link=page_link,
                           block_link=block_link(shop.domain, api_key), embed_link=embed_link(shop.domain, api_key))
