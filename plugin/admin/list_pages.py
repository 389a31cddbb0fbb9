"""The list pages: Demand, Subscribers and Activity, rendered from the functions behind
``/api/demand``, ``/api/subscribers`` and ``/api/activity`` (filters arrive as the same query
parameters), and ``POST /api/variants/<id>/notify``, the Demand page's "notify now"."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, current_app, g, jsonify, request
from sqlalchemy import select

from plugin.admin import queries
from plugin.admin.activity import ActivityFilters, activity_page
from plugin.admin.demand import conversion_rate, demand_page as demand_list_page
from plugin.admin.formatting import babel_locale, money
from plugin.admin.pages import KEPT_PARAMS, admin_page, page_link, render_page
from plugin.admin.paging import Cursor, Page, codec_for, scope
from plugin.admin.queries import QueryError
from plugin.admin.subscribers import (
    CHANNELS,
    STATUSES,
    Filters,
    SearchError,
    search_contacts,
    subscriber_page,
)
from plugin.admin.views import session_token_required
from plugin.logging import get_logger
from plugin.models import Variant
from plugin.web_errors import json_error

log = get_logger(__name__)
bp = Blueprint("admin_lists", __name__)
ROWS = 50


def _runtime():
    return current_app.extensions["backbell"]


def _kept() -> dict:
    return {key: request.args[key] for key in KEPT_PARAMS if request.args.get(key)}


def _cursor(list_name: str, key_length: int) -> tuple[Cursor | None, bool]:
    """The page's ``cursor`` parameter, and whether it was refused (then the first page is shown,
    with a banner, answered 400)."""
    codec = codec_for(tuple(_runtime().settings.link_secrets))
    try:
        return queries.cursor(request.args, codec, scope(list_name, g.shop.id), key_length), False
    except QueryError:
        return None, True


def _pager(list_name: str, page: Page, **filters) -> dict:
    """Links to the previous and next pages, the filters and Shopify's parameters kept."""
    codec, where = codec_for(tuple(_runtime().settings.link_secrets)), scope(list_name, g.shop.id)
    link = lambda c: page_link(list_name, **filters, cursor=codec.encode(where, c)) if c else None  # noqa: E731
    return {"previous": link(page.previous), "next": link(page.next)}


def _answer(html: str, bad_cursor: bool):
    return (html, 400) if bad_cursor else html


@bp.get("/app/demand")
@admin_page
def demand_page():
    """Most-wanted variants: waiting, stock, value, ETA (editable), reorder suggestion, notify now."""
    cursor, bad_cursor = _cursor("demand", 2)
    with _runtime().db.session() as session:
        rate = conversion_rate(session, g.shop.id)
        page = demand_list_page(session, g.shop, 1, ROWS, cursor)
    locale = babel_locale(g.t.locale)
    for row in page.rows:
        row["value_text"] = money(row["value_waiting"], locale) if row["value_waiting"] else g.t("common.none")
    return _answer(render_page("demand.html", "demand", title=g.t("demand.title"), rows=page.rows,
                               rate=f"{float(rate.rate):.1%}", pager=_pager("demand", page), bad_cursor=bad_cursor),
                   bad_cursor)


@bp.get("/app/subscribers")
@admin_page
def subscribers_page():
    """Newest first, searched by exact email or phone, filtered by status and channel, deletable."""
    args, error = request.args, None
    status = args.get("status") if args.get("status") in STATUSES else None
    channel = args.get("channel") if args.get("channel") in CHANNELS else None
    typed = (args.get("q") or "").strip()[:320]
    cursor, bad_cursor = _cursor("subscribers", 1)
    runtime = _runtime()
    with runtime.db.session() as session:
        try:
            contacts = search_contacts(session, runtime.vault, g.shop, typed) if typed else None
        except SearchError:
            contacts, error = (), g.t("subscribers.no_match")
        page = subscriber_page(session, runtime.vault, g.shop, Filters(status, None, channel, contacts), ROWS, cursor)
    query = {"q": typed, "status": status, "channel": channel}
    return _answer(render_page(
        "subscribers.html", "subscribers", title=g.t("subscribers.title"), rows=page.rows,
        filtered=bool(typed or status or channel), query=query, error=error, kept=_kept(),
        statuses=STATUSES, channels=CHANNELS, pager=_pager("subscribers", page, **query), bad_cursor=bad_cursor,
        csv="/api/subscribers.csv?" + urlencode({k: v for k, v in query.items() if v})), bad_cursor)


@bp.get("/app/activity")
@admin_page
def activity_page_view():
    """The decision log, newest first, filtered by decision kind and variant."""
    kind = (request.args.get("kind") or "").strip()[:64] or None
    try:
        variant_id = queries.shopify_id(request.args, "variant_id")
        error = None
    except QueryError as err:
        variant_id, error = None, err.message
    cursor, bad_cursor = _cursor("activity", 1)
    with _runtime().db.session() as session:
        page = activity_page(session, g.shop.id, ActivityFilters(variant_id, None, kind), ROWS, cursor)
    return _answer(render_page(
        "activity.html", "activity", title=g.t("activity.title"), rows=page.rows, kind=kind or "",
        variant_id=request.args.get("variant_id", ""), error=error, kept=_kept(), filtered=bool(kind or variant_id),
        pager=_pager("activity", page, kind=kind, variant_id=variant_id), bad_cursor=bad_cursor), bad_cursor)


@bp.post("/api/variants/<int:variant_id>/notify")
@session_token_required
def notify_now(variant_id: int):
    """Tell the variant's waiting shoppers now, as if it had just come back (it must be in stock)."""
    from plugin.dispatch.tasks import dispatch_restock
    from plugin.inventory.restock import record_in_stock_for_waiting

    with _runtime().db.session() as session:
        variant = session.scalar(select(Variant).where(Variant.shop_id == g.shop.id, Variant.variant_id == variant_id))
        if variant is None:
            return json_error(404, "not_found", "This shop has no variant with that id.", field="variant_id")
        event = record_in_stock_for_waiting(session, session.merge(g.shop), variant, source="manual")
        event_id = event.id if event else None
    if event_id is None:
        return json_error(409, "not_notifiable", "Nobody can be told now: the variant is sold out, nobody is "
                          "waiting, or a notice for it is already on its way.", field="variant_id")
    dispatch_restock.delay(event_id)  # after the commit: the worker must find the event
    log.info("notify_now", shop_id=g.shop.id, variant_id=variant_id, restock_event_id=event_id)
    return jsonify(restock_event_id=event_id), 202
