"""The list pages: Demand, Subscribers and Activity, rendered from the functions behind
``/api/demand``, ``/api/subscribers`` and ``/api/activity`` (filters arrive as the same query
parameters), and ``POST /api/variants/<id>/notify``, the Demand page's "notify now"."""

from __future__ import annotations

from flask import Blueprint, current_app, g, jsonify, request
from sqlalchemy import select

from plugin.admin import queries
from plugin.admin.activity import ActivityFilters, activity_page
from plugin.admin.demand import conversion_rate, demand_rows
from plugin.admin.formatting import babel_locale, money
from plugin.admin.pages import KEPT_PARAMS, admin_page, render_page
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


@bp.get("/app/demand")
@admin_page
def demand_page():
    """Most-wanted variants: waiting, stock, value, ETA (editable), reorder suggestion, notify now."""
    with _runtime().db.session() as session:
        rate = conversion_rate(session, g.shop.id)
        rows = list(demand_rows(session, g.shop, 1, ROWS, 0))
    locale = babel_locale(g.t.locale)
    for row in rows:
        row["value_text"] = money(row["value_waiting"], locale) if row["value_waiting"] else g.t("common.none")
    return render_page("demand.html", "demand", title=g.t("demand.title"), rows=rows,
                       rate=f"{float(rate.rate):.1%}")


@bp.get("/app/subscribers")
@admin_page
def subscribers_page():
    """Newest first, searched by exact email or phone, filtered by status and channel, deletable."""
    args, error = request.args, None
    status = args.get("status") if args.get("status") in STATUSES else None
    channel = args.get("channel") if args.get("channel") in CHANNELS else None
    typed = (args.get("q") or "").strip()[:320]
    runtime = _runtime()
    with runtime.db.session() as session:
        try:
            contacts = search_contacts(session, runtime.vault, g.shop, typed) if typed else None
        except SearchError:
            contacts, error = (), g.t("subscribers.no_match")
        page = subscriber_page(session, runtime.vault, g.shop, Filters(status, None, channel, contacts), ROWS, None)
    query = {"q": typed, "status": status, "channel": channel}
    return render_page("subscribers.html", "subscribers", title=g.t("subscribers.title"), rows=page["subscribers"],
                       filtered=bool(typed or status or channel), query=query, error=error, kept=_kept(),
                       statuses=STATUSES, channels=CHANNELS,
                       csv="/api/subscribers.csv?" + "&".join(f"{k}={v}" for k, v in query.items() if v))


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
    with _runtime().db.session() as session:
        page = activity_page(session, g.shop.id, ActivityFilters(variant_id, None, kind), ROWS, None)
    return render_page("activity.html", "activity", title=g.t("activity.title"), rows=page["activity"],
                       kind=kind or "", variant_id=request.args.get("variant_id", ""), error=error, kept=_kept(),
                       filtered=bool(kind or variant_id))


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
