"""The embedded admin's data: ``/api/overview``, ``/api/theme-status``, ``/api/demand(.csv)``,
``/api/subscribers(.csv)``, ``DELETE /api/subscribers/<id>`` and ``/api/activity`` (the lists keyset-paged
by ``cursor``, see ``plugin.admin.paging``).

Every route sits behind the App Bridge session-token guard (``session_token_required``) and reads
only ``g.shop``'s rows. Handlers parse the query (a bad parameter is 422 naming it), call one
function of ``plugin.admin`` and answer; CSV answers stream.
"""

from __future__ import annotations

from functools import wraps

from flask import Blueprint, Response, current_app, g, jsonify, request, stream_with_context

from plugin.admin import queries
from plugin.admin.activity import ActivityFilters, activity_page
from plugin.admin.demand import (
    CSV_HEADER as DEMAND_HEADER, conversion_rate, csv_row, demand_key, demand_page, demand_rows,
)
from plugin.admin.i18n import Translator
from plugin.admin.overview import overview
from plugin.admin.pages import KEPT_PARAMS, render_theme_status
from plugin.admin.paging import Cursor, codec_for, scope
from plugin.admin.queries import QueryError
from plugin.admin.subscribers import (
    CHANNELS, CSV_HEADER as SUBSCRIBER_HEADER, STATUSES, Filters, SearchError, delete_subscriber, search_contacts,
    subscriber_page, subscriber_rows,
)
from plugin.admin.theme_status import cached_theme_status
from plugin.admin.views import session_token_required
from plugin.logging import get_logger
from plugin.measurement.exports import csv_chunks
from plugin.web_errors import json_error

log = get_logger(__name__)
bp = Blueprint("admin_api", __name__)
PAGE = {"default": 50, "low": 1, "high": 250}


def _runtime():
    return current_app.extensions["backbell"]


MAX_ROW_ID = 2**63 - 1


def api_route(rule: str, **options):
    """A session-token-guarded route whose ``QueryError`` becomes 422 naming the parameter."""

    def decorate(view):
        @wraps(view)
        def answer(*args, **kwargs):
            try:
                return view(*args, **kwargs)
            except QueryError as err:
                return json_error(422, "invalid_parameter", err.message, field=err.field)

        return bp.route(rule, **options)(session_token_required(answer))

    return decorate


@api_route("/api/overview")
def api_overview():
    """The funnel, revenue, rates, median time to purchase and the daily trend (since/until)."""
    queries.known_only(request.args, {"since", "until"})
    period = queries.date_range(request.args)
    with _runtime().db.session() as session:
        numbers = overview(session, g.shop, period)
    return jsonify(shop=g.shop.domain, **numbers)


@api_route("/api/theme-status")
def api_theme_status():
    """Whether the widget is on the live theme (read through Admin GraphQL, remembered a minute),
    and Home's fragment saying so in the merchant's language (``locale``); the page's other
    parameters (``shop``, ``host``, ``embedded``) are kept in the fragment's links."""
    queries.known_only(request.args, set(KEPT_PARAMS))
    runtime = _runtime()
    with runtime.db.session() as session:
        theme = cached_theme_status(runtime, session, g.shop.domain)
    g.t = Translator(request.args.get("locale"))
    return jsonify(shop=g.shop.domain, theme={"readable": theme.readable, "theme_name": theme.theme_name,
                                              "block_on": theme.block_on, "embed_on": theme.embed_on},
                   html=render_theme_status(theme, g.shop, runtime.settings.shopify_api_key))


@api_route("/api/demand")
def api_demand():
    """Per variant: waiting, stock, price, value waiting, ETA, told/bought, reorder suggestion.
    Paged by ``cursor`` (``next_cursor``/``previous_cursor``); ``offset`` still works."""
    queries.known_only(request.args, {"limit", "offset", "min_waiting", "cursor"})
    limit = queries.whole(request.args, "limit", PAGE["default"], PAGE["low"], PAGE["high"])
    offset = queries.whole(request.args, "offset", None, 0, 10**9)
    min_waiting = queries.whole(request.args, "min_waiting", 1, 0, 10**9)
    codec, where = _codec(), scope("demand", g.shop.id)
    cursor = queries.cursor(request.args, codec, where, 2)
    if cursor is not None and offset is not None:
        raise QueryError("cursor", "give cursor or offset, not both")
    with _runtime().db.session() as session:
        rate = conversion_rate(session, g.shop.id)
        if offset is None:
            page = demand_page(session, g.shop, min_waiting, limit, cursor)
            rows, cursors = page.rows, codec.encode_page(where, page)
            # the first page still names the next one's offset, as before cursors
            next_offset = limit if cursor is None and page.next else None
        else:
            rows = list(demand_rows(session, g.shop, min_waiting, limit + 1, offset))
            more, rows = len(rows) > limit, rows[:limit]
            following = codec.encode(where, Cursor("next", demand_key(rows[-1]))) if more else None
            cursors = {"next_cursor": following, "previous_cursor": None}
            next_offset = offset + limit if more else None
    return jsonify(shop=g.shop.domain, conversion_rate=rate.as_json(), variants=rows, next_offset=next_offset,
                   **cursors)


@api_route("/api/demand.csv")
def api_demand_csv():
    """The demand table as CSV, every variant with someone waiting (or ``min_waiting``)."""
    queries.known_only(request.args, {"min_waiting"})
    min_waiting = queries.whole(request.args, "min_waiting", 1, 0, 10**9)
    db, shop = _runtime().db, g.shop

    def rows():
        with db.session() as session:
            yield from (csv_row(row) for row in demand_rows(session, shop, min_waiting))

    return _csv("demand", DEMAND_HEADER, rows())


@api_route("/api/subscribers")
def api_subscribers():
    """Subscribers newest first, filtered by status/variant/channel, searched by exact email or phone."""
    queries.known_only(request.args, {"status", "variant_id", "channel", "q", "limit", "before", "cursor"})
    limit = queries.whole(request.args, "limit", PAGE["default"], PAGE["low"], PAGE["high"])
    codec, where = _codec(), scope("subscribers", g.shop.id)
    cursor = queries.cursor(request.args, codec, where, 1, legacy_before="before")
    runtime = _runtime()
    with runtime.db.session() as session:
        filters = _subscriber_filters(session)
        page = subscriber_page(session, runtime.vault, g.shop, filters, limit, cursor)
    return jsonify(shop=g.shop.domain, subscribers=page.rows, next_before=page.next.key[0] if page.next else None,
                   **codec.encode_page(where, page))


@api_route("/api/subscribers.csv")
def api_subscribers_csv():
    """Every matching subscriber as CSV, streamed in constant memory."""
    queries.known_only(request.args, {"status", "variant_id", "channel", "q"})
    runtime, shop = _runtime(), g.shop
    with runtime.db.session() as session:
        filters = _subscriber_filters(session)

    def rows():
        with runtime.db.session() as session:
            yield from subscriber_rows(session, runtime.vault, shop, filters)

    return _csv("subscribers", SUBSCRIBER_HEADER, rows())


@api_route("/api/subscribers/<int:subscription_id>", methods=["DELETE"])
def api_delete_subscriber(subscription_id: int):
    """Delete a subscription (and its contact when it has no other one)."""
    if not 0 < subscription_id <= MAX_ROW_ID:  # no row has it; a BIGINT bind would fail (a 500)
        return json_error(404, "not_found", "This shop has no subscriber with that id.", field="id")
    with _runtime().db.session() as session:
        deleted = delete_subscriber(session, g.shop, subscription_id)
    if deleted is None:
        return json_error(404, "not_found", "This shop has no subscriber with that id.", field="id")
    log.info("subscriber_deleted", shop_id=g.shop.id, subscription_id=subscription_id,
             contact_deleted=deleted["contact_deleted"])
    return jsonify(deleted=deleted)


@api_route("/api/activity")
def api_activity():
    """The decision log, newest first, filtered by variant, subscription and decision kind."""
    queries.known_only(request.args, {"variant_id", "subscription_id", "kind", "limit", "before", "cursor"})
    filters = ActivityFilters(queries.shopify_id(request.args, "variant_id"),
                              queries.shopify_id(request.args, "subscription_id"),
                              queries.text(request.args, "kind", 64))
    limit = queries.whole(request.args, "limit", PAGE["default"], PAGE["low"], PAGE["high"])
    codec, where = _codec(), scope("activity", g.shop.id)
    cursor = queries.cursor(request.args, codec, where, 1, legacy_before="before")
    with _runtime().db.session() as session:
        page = activity_page(session, g.shop.id, filters, limit, cursor)
    return jsonify(shop=g.shop.domain, activity=page.rows, next_before=page.next.key[0] if page.next else None,
                   **codec.encode_page(where, page))


def _codec():
    return codec_for(tuple(_runtime().settings.link_secrets))


def _subscriber_filters(session) -> Filters:
    args = request.args
    typed = queries.text(args, "q", 320)
    try:
        contact_ids = search_contacts(session, _runtime().vault, g.shop, typed) if typed else None
    except SearchError:
        raise QueryError("q", "search by an exact email address or a phone number with its country code") from None
    return Filters(queries.choice(args, "status", STATUSES), queries.shopify_id(args, "variant_id"),
                   queries.choice(args, "channel", CHANNELS), contact_ids)


def _csv(name: str, header, rows) -> Response:
    response = Response(stream_with_context(csv_chunks(header, rows)), mimetype="text/csv")
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="backbell-{name}.csv"'
    response.headers["Cache-Control"] = "no-store"
    return response
