"""Dates on the admin's pages: in the merchant's admin language (Babel's CLDR patterns) and the
shop's time zone; the JSON keeps ISO 8601 in UTC."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest
from sqlalchemy import update

from plugin.admin.formatting import Dates
from plugin.models import Decision, Shop, Subscription
from tests.admin.test_api import _bearer
from tests.doubles.shopify_admin import DEMO_SHOP, make_session_token
from tests.measurement.dashboard_builders import sign_up

# 02:00 UTC on 1 July is still 30 June in New York (22:00, daylight time); 06:30 UTC on 8 March
# 2026 is 01:30 standard time, half an hour before the clocks went forward there.
LATE_JUNE = datetime(2026, 7, 1, 2, 0, tzinfo=timezone.utc)
BEFORE_DST = datetime(2026, 3, 8, 6, 30, tzinfo=timezone.utc)


def _page(client, app_config, path, locale):
    token = make_session_token(DEMO_SHOP, app_config["shopify_api_key"], app_config["shopify_api_secret"])
    response = client.get(path, query_string={"embedded": "1", "shop": DEMO_SHOP, "host": "YWRtaW4",
                                              "locale": locale, "id_token": token})
    assert response.status_code == 200
    return response.get_data(as_text=True)


@pytest.fixture
def new_york_shop(installed_shop, session):
    session.execute(update(Shop).where(Shop.id == installed_shop.id).values(timezone="America/New_York"))
    session.commit()
    return installed_shop


def _times(page: str) -> list[tuple[str, str]]:
    return re.findall(r'<time datetime="([^"]+)">([^<]+)</time>', page)


@pytest.mark.parametrize("locale, day", [("en", "Jun 30, 2026"), ("de", "30.06.2026"), ("ja", "2026/06/30"),
                                         ("fr", "30 juin 2026")])
def test_the_subscribers_page_shows_the_shops_day_in_the_merchants_language(
        new_york_shop, runtime, client, app_config, session, locale, day):
    # given a shopper who signed up at 02:00 UTC on 1 July
    (sid,) = sign_up(session, runtime, new_york_shop, ["ada@gmail.com"], variant_id=5)
    session.execute(update(Subscription).where(Subscription.id == sid).values(created_at=LATE_JUNE))
    session.commit()

    # when
    page = _page(client, app_config, "/app/subscribers", locale)
    api = client.get("/api/subscribers", headers=_bearer(app_config)).get_json()

    # then the page says 30 June as the merchant writes it; the JSON keeps the UTC instant
    ((iso, shown),) = _times(page)
    assert shown == day
    assert iso.startswith("2026-07-01T02:00:00")
    assert api["subscribers"][0]["created_at"].startswith("2026-07-01T02:00:00")


@pytest.mark.parametrize("locale, moments", [
    ("en", ["Jun 30, 2026, 10:00\u202fPM", "Mar 8, 2026, 1:30\u202fAM"]),
    ("de", ["30.06.2026, 22:00", "08.03.2026, 01:30"]),
    ("zh-CN", ["2026年6月30日 22:00", "2026年3月8日 01:30"]),
])
def test_the_activity_page_shows_times_in_the_shops_zone_across_daylight_saving(
        new_york_shop, client, app_config, session, locale, moments):
    # given two decisions, one in summer time and one in winter time
    session.add_all([Decision(shop_id=new_york_shop.id, decision="sent", created_at=BEFORE_DST),
                     Decision(shop_id=new_york_shop.id, decision="sent", created_at=LATE_JUNE)])
    session.commit()

    # when
    page = _page(client, app_config, "/app/activity", locale)

    # then (newest first), and the column names the zone
    assert [shown for _, shown in _times(page)] == moments
    assert "(America/New_York)" in page


def test_a_shop_in_utc_sees_utc_and_an_unknown_zone_falls_back_to_utc(installed_shop, client, app_config, session):
    # given
    session.add(Decision(shop_id=installed_shop.id, decision="sent", created_at=LATE_JUNE))
    session.execute(update(Shop).where(Shop.id == installed_shop.id).values(timezone="Mars/Olympus_Mons"))
    session.commit()

    # when
    page = _page(client, app_config, "/app/activity", "en")

    # then
    assert [shown for _, shown in _times(page)] == ["Jul 1, 2026, 2:00\u202fAM"]
    assert "(UTC)" in page


def test_a_shop_day_is_not_moved_between_zones_and_naive_moments_are_utc():
    from zoneinfo import ZoneInfo

    dates = Dates("en", ZoneInfo("Pacific/Auckland"))
    assert dates.day("2026-06-30") == "Jun 30, 2026"  # a trend day is already the shop's
    assert dates.moment("2026-07-01T02:00:00") == "Jul 1, 2026, 2:00\u202fPM"  # +12:00 in July
    assert (dates.day(None), dates.moment(None)) == ("", "")
