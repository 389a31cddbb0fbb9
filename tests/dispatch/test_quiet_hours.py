"""Quiet hours in the shop's time zone: windows across midnight, daylight-saving changes.

Pure functions of an instant: the instants here are inputs, never compared with the clock.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from plugin.dispatch.quiet_hours import held_decision, quiet_until
from plugin.shop_settings import ShopSettings

NEW_YORK = "America/New_York"
NIGHT = ShopSettings(quiet_hours_start=22, quiet_hours_end=7)


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


@pytest.mark.parametrize(("now", "until"), [
    # 23:30 EST on the night the clocks spring forward (2:00 → 3:00): the window ends at 07:00 EDT
    ("2031-03-09T04:30", "2031-03-09T11:00"),
    # 06:59 EDT, the same morning: still inside
    ("2031-03-09T10:59", "2031-03-09T11:00"),
    # 01:30 EDT on the night the clocks fall back (2:00 → 1:00): the window ends at 07:00 EST
    ("2031-11-02T05:30", "2031-11-02T12:00"),
    # the repeated 01:30, now EST
    ("2031-11-02T06:30", "2031-11-02T12:00"),
    # 22:00 sharp, an ordinary winter night
    ("2031-01-15T03:00", "2031-01-15T12:00"),
])
def test_inside_a_window_across_midnight_notices_are_held_until_its_end_in_the_shops_zone(now, until):
    # when
    held = quiet_until(_utc(now), NEW_YORK, NIGHT)

    # then
    assert held == _utc(until)


@pytest.mark.parametrize("now", [
    "2031-03-09T11:00",  # 07:00 EDT: the window has ended
    "2031-11-02T12:00",  # 07:00 EST
    "2031-01-15T02:59",  # 21:59 EST
    "2031-07-01T16:00",  # noon EDT
])
def test_outside_the_window_nothing_is_held(now):
    # when / then
    assert quiet_until(_utc(now), NEW_YORK, NIGHT) is None


def test_a_window_within_one_day_and_an_end_hour_the_clocks_skip():
    # given quiet 0:00-2:00 in New York, and 2:00 does not exist on 9 March 2031
    early = ShopSettings(quiet_hours_start=0, quiet_hours_end=2)

    # when 01:30 EST that night
    held = quiet_until(_utc("2031-03-09T06:30"), NEW_YORK, early)

    # then the window ends when the clocks jump (07:00 UTC = 03:00 EDT)
    assert held == _utc("2031-03-09T07:00")


def test_no_quiet_hours_or_half_a_window_holds_nothing():
    # when / then
    assert quiet_until(_utc("2031-01-15T04:00"), NEW_YORK, ShopSettings()) is None
    assert quiet_until(_utc("2031-01-15T04:00"), NEW_YORK, ShopSettings(quiet_hours_start=22)) is None


def test_an_unknown_time_zone_reads_as_utc():
    # when 23:00 UTC with an unknown zone name
    held = quiet_until(_utc("2031-01-15T23:00"), "Mars/Olympus_Mons", NIGHT)

    # then
    assert held == _utc("2031-01-16T07:00")


def test_the_decision_names_the_end_on_the_shops_wall_clock():
    # when / then
    assert held_decision(_utc("2031-03-09T11:00"), NEW_YORK) == "held: quiet hours until 2031-03-09 07:00 EDT"
    assert held_decision(_utc("2031-11-02T12:00"), NEW_YORK) == "held: quiet hours until 2031-11-02 07:00 EST"
