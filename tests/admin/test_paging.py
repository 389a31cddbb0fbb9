"""Keyset paging of the long lists (Subscribers, Activity, Demand): in the /api JSON through
``next_cursor``/``previous_cursor``, and in the server-rendered pages through previous/next links
that keep the filters. Exact under inserts and deletes; a garbled or forged cursor is a 422 (a 400
page), never a 500."""

from __future__ import annotations

import base64
import html
import re
from urllib.parse import parse_qs, urlparse

import pytest
from sqlalchemy import delete

from plugin.models import Decision, Subscription, VariantTotal
from tests.admin.test_api import _bearer
from tests.doubles.shopify_admin import DEMO_SHOP, install_shop_directly, make_session_token
from tests.measurement.dashboard_builders import sign_up

OTHER = "other-shop.myshopify.com"


def _get(client, app_config, path, shop=DEMO_SHOP, **params):
    response = client.get(path, query_string=params, headers=_bearer(app_config, shop=shop))
    return response


def _walk(client, app_config, path, rows_name, key, **params):
    """Every page from the first by next_cursor: the ids of each page, and the last answer."""
    pages, cursor = [], None
    while True:
        response = _get(client, app_config, path, **params, **({"cursor": cursor} if cursor else {}))
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        pages.append([key(row) for row in body[rows_name]])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages, body
        assert len(pages) < 10


def _subscribers(session, runtime, shop, count, prefix="s", variant_id=5):
    return sign_up(session, runtime, shop, [f"{prefix}{i}@gmail.com" for i in range(count)], variant_id=variant_id)


def test_120_subscribers_are_three_pages_with_no_row_twice_and_none_missed_and_back(
        installed_shop, runtime, client, app_config, session):
    # given
    ids = _subscribers(session, runtime, installed_shop, 120)
    newest_first = sorted(ids, reverse=True)

    # when
    pages, last = _walk(client, app_config, "/api/subscribers", "subscribers", lambda s: s["id"])

    # then
    assert [len(p) for p in pages] == [50, 50, 20]
    assert [i for p in pages for i in p] == newest_first
    assert last["next_before"] is None and last["previous_cursor"] is not None

    # when the merchant goes back from the last page, twice
    middle = _get(client, app_config, "/api/subscribers", cursor=last["previous_cursor"]).get_json()
    first = _get(client, app_config, "/api/subscribers", cursor=middle["previous_cursor"]).get_json()

    # then the same pages come back, and the first one has no previous page
    assert [s["id"] for s in middle["subscribers"]] == pages[1]
    assert [s["id"] for s in first["subscribers"]] == pages[0]
    assert first["previous_cursor"] is None and first["next_cursor"] is not None


def test_pages_stay_exact_while_shoppers_sign_up_and_are_deleted(installed_shop, runtime, client, app_config,
                                                                  session):
    # given the merchant has read the first page of 120
    ids = _subscribers(session, runtime, installed_shop, 120)
    first = _get(client, app_config, "/api/subscribers").get_json()

    # when 30 new shoppers sign up (they go on top) and one row of the next page is deleted
    _subscribers(session, runtime, installed_shop, 30, prefix="late")
    gone = sorted(ids, reverse=True)[60]
    session.execute(delete(Subscription).where(Subscription.id == gone))
    session.commit()
    rest, _ = _walk_from(client, app_config, first["next_cursor"])

    # then the rest continues exactly where the first page ended: nothing twice, nothing skipped
    seen = [s["id"] for s in first["subscribers"]] + rest
    assert seen == [i for i in sorted(ids, reverse=True) if i != gone]


def _walk_from(client, app_config, cursor):
    seen = []
    while cursor:
        body = _get(client, app_config, "/api/subscribers", cursor=cursor).get_json()
        seen += [s["id"] for s in body["subscribers"]]
        cursor = body["next_cursor"]
    return seen, body


def test_filters_apply_on_every_page_and_the_older_before_parameter_still_works(
        installed_shop, runtime, client, app_config, session):
    # given 60 shoppers waiting for variant 5 and 60 for variant 6, interleaved
    five, six = [], []
    for i in range(60):
        five += _subscribers(session, runtime, installed_shop, 1, prefix=f"five{i}-", variant_id=5)
        six += _subscribers(session, runtime, installed_shop, 1, prefix=f"six{i}-", variant_id=6)

    # when
    pages, _ = _walk(client, app_config, "/api/subscribers", "subscribers", lambda s: (s["id"], s["variant_id"]),
                     variant_id="5", limit="25")
    by_before = _get(client, app_config, "/api/subscribers", variant_id="5", limit="25",
                     before=str(pages[0][-1][0])).get_json()

    # then
    assert [len(p) for p in pages] == [25, 25, 10]
    assert [i for p in pages for i, _ in p] == sorted(five, reverse=True)
    assert {v for p in pages for _, v in p} == {5}
    assert [s["id"] for s in by_before["subscribers"]] == [i for i, _ in pages[1]]


def test_activity_pages_through_120_decisions_of_a_kind(installed_shop, client, app_config, session):
    # given 240 decisions, every other one "sent"
    rows = [Decision(shop_id=installed_shop.id, decision="sent" if i % 2 else "skipped: sold out again",
                     variant_id=5) for i in range(240)]
    session.add_all(rows)
    session.commit()
    sent = sorted((r.id for r in rows if r.decision == "sent"), reverse=True)

    # when
    pages, last = _walk(client, app_config, "/api/activity", "activity", lambda a: a["id"], kind="sent")
    back = _get(client, app_config, "/api/activity", kind="sent", cursor=last["previous_cursor"]).get_json()

    # then
    assert [len(p) for p in pages] == [50, 50, 20]
    assert [i for p in pages for i in p] == sent
    assert [a["id"] for a in back["activity"]] == pages[1]


def test_demand_pages_through_120_variants_most_wanted_first_with_ties(installed_shop, client, app_config,
                                                                       session):
    # given 120 variants, waiting 1 to 7 (many ties, broken by variant id)
    session.add_all(VariantTotal(shop_id=installed_shop.id, variant_id=9000 + i, waiting=i % 7 + 1)
                    for i in range(120))
    session.commit()
    expected = sorted(((i % 7 + 1, 9000 + i) for i in range(120)), key=lambda wv: (-wv[0], wv[1]))

    # when
    pages, last = _walk(client, app_config, "/api/demand", "variants", lambda v: (v["waiting"], v["variant_id"]))
    back = _get(client, app_config, "/api/demand", cursor=last["previous_cursor"]).get_json()
    first = _get(client, app_config, "/api/demand").get_json()

    # then
    assert [len(p) for p in pages] == [50, 50, 20]
    assert [row for p in pages for row in p] == expected
    assert [(v["waiting"], v["variant_id"]) for v in back["variants"]] == pages[1]
    assert first["next_offset"] == 50  # the older offset paging is still answered
    by_offset = _get(client, app_config, "/api/demand", offset="50").get_json()
    assert [(v["waiting"], v["variant_id"]) for v in by_offset["variants"]] == pages[1]


def _altered(cursor: str) -> str:
    payload, mac = cursor.split(".")
    raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).replace(b'"next"', b'"prev"')
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode() + "." + mac


@pytest.mark.parametrize("path, rows_name", [("/api/subscribers", "subscribers"), ("/api/activity", "activity"),
                                             ("/api/demand", "variants")])
def test_a_garbled_altered_or_borrowed_cursor_is_422_naming_it(shopify_admin, installed_shop, runtime, client,
                                                               app_config, session, path, rows_name):
    # given a real cursor of each list, in this shop and in another
    for variant_id in (5, 6, 7):
        _subscribers(session, runtime, installed_shop, 1, prefix=f"v{variant_id}-", variant_id=variant_id)
    session.add_all(Decision(shop_id=installed_shop.id, decision="sent") for _ in range(3))
    session.commit()
    other = install_shop_directly(runtime, shopify_admin, OTHER)
    for variant_id in (5, 6, 7):
        _subscribers(session, runtime, other, 1, prefix=f"v{variant_id}-", variant_id=variant_id)
    session.add_all(Decision(shop_id=other.id, decision="sent") for _ in range(3))
    session.commit()
    mine = {p: _get(client, app_config, p, limit="1").get_json()["next_cursor"]
            for p in ("/api/subscribers", "/api/activity", "/api/demand")}
    theirs = _get(client, app_config, path, shop=OTHER, limit="1").get_json()["next_cursor"]
    assert all(mine.values()) and theirs
    another_list = next(c for p, c in mine.items() if p != path)

    # when / then
    for bad in ("x", "%%%", "a.b", mine[path] + "x", _altered(mine[path]), another_list, theirs, "." * 600,
                mine[path].split(".")[0] + "." + "A" * 22, "\u00e9.\u00e9"):
        response = _get(client, app_config, path, cursor=bad)
        assert response.status_code == 422, (bad, response.status_code)
        assert response.get_json()["error"]["field"] == "cursor"
    assert _get(client, app_config, path, cursor=mine[path]).status_code == 200


def test_cursor_and_the_older_parameters_together_are_refused(installed_shop, client, app_config):
    for path, older in (("/api/subscribers", {"before": "5"}), ("/api/activity", {"before": "5"}),
                        ("/api/demand", {"offset": "5"})):
        cursor = _get(client, app_config, path).get_json()  # no rows: no cursor; any cursor text will do
        assert cursor["next_cursor"] is None
        response = _get(client, app_config, path, cursor="abc.def", **older)
        assert response.status_code == 422 and response.get_json()["error"]["field"] == "cursor"
        assert _get(client, app_config, path, cursor="", **older).status_code == 200  # an empty one is none


# -- the pages ---------------------------------------------------------------------------------------
def _page(client, app_config, path, **params):
    token = make_session_token(DEMO_SHOP, app_config["shopify_api_key"], app_config["shopify_api_secret"])
    return client.get(path, query_string={"embedded": "1", "shop": DEMO_SHOP, "host": "YWRtaW4", "locale": "de",
                                          "id_token": token, **params})


def _pager_links(page: str) -> dict:
    return {which: html.unescape(href)
            for href, which in re.findall(r'<s-button href="([^"]*)" id="bb-(previous|next)"', page)}


def _follow(client, app_config, link: str):
    """What Shopify admin does with the link: the same URL, with a fresh ID token added."""
    query = {k: v[0] for k, v in parse_qs(urlparse(link).query).items()}
    assert "id_token" not in query
    return _page(client, app_config, urlparse(link).path, **{k: v for k, v in query.items()
                                                             if k not in ("embedded", "shop", "host", "locale")})


def test_the_subscribers_page_pages_with_its_filters_kept(installed_shop, runtime, client, app_config, session):
    # given 120 waiting shoppers
    ids = sorted(_subscribers(session, runtime, installed_shop, 120), reverse=True)
    shown = lambda page: [int(i) for i in re.findall(r'data-subscriber="(\d+)"', page)]  # noqa: E731

    # when the merchant filters by status and follows "next" twice, then "previous" once
    first = _page(client, app_config, "/app/subscribers", status="waiting").get_data(as_text=True)
    links = _pager_links(first)
    second = _follow(client, app_config, links["next"]).get_data(as_text=True)
    third = _follow(client, app_config, _pager_links(second)["next"]).get_data(as_text=True)
    back = _follow(client, app_config, _pager_links(third)["previous"]).get_data(as_text=True)

    # then
    assert (shown(first), shown(second), shown(third)) == (ids[:50], ids[50:100], ids[100:])
    assert shown(back) == ids[50:100]
    next_query = parse_qs(urlparse(links["next"]).query)
    assert {k: v for k, v in next_query.items() if k != "cursor"} == {
        "shop": [DEMO_SHOP], "host": ["YWRtaW4"], "embedded": ["1"], "locale": ["de"], "status": ["waiting"]}
    assert links["previous"] == ""  # the first page: previous is there, disabled
    assert re.search(r'<s-button href="" id="bb-previous" disabled>Zurück</s-button>', first)
    assert _pager_links(third)["next"] == ""


@pytest.mark.parametrize("path", ["/app/subscribers", "/app/activity", "/app/demand"])
def test_a_page_with_a_bad_cursor_says_so_and_shows_the_first_page_as_a_400(installed_shop, runtime, client,
                                                                            app_config, session, path):
    # given
    _subscribers(session, runtime, installed_shop, 2)
    session.add(Decision(shop_id=installed_shop.id, decision="sent"))
    session.commit()

    # when
    response = _page(client, app_config, path, cursor="forged.cursor")

    # then
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert 'id="bb-bad-cursor"' in page and "Dieser Seitenlink ist nicht mehr gültig" in page
    assert "<s-table" in page  # the first page is there
    assert 'id="bb-bad-cursor"' not in _page(client, app_config, path).get_data(as_text=True)
