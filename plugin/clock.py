"""The one clock: every "now" in Backbell comes from here.

Stored stamps (``updated_at`` of an inventory delivery, cool-downs, token expiries, due times)
are compared with this clock, never with ``datetime.now()`` directly, so a test or the demo can
move time for the whole app:

- ``BACKBELL_CLOCK_OFFSET`` (seconds, may be negative) shifts the clock of every process that
  inherits it — web, in-process tasks and Celery workers agree to the second. ``make test
  CLOCK=2031-01-01`` sets it so the whole suite runs years ahead.
- ``frozen(at)`` and ``travel(by)`` move it inside one process (tests, the demo).

Signatures that a library checks against the wall clock (App Bridge session tokens, verified by
``shopify_app`` with PyJWT) are outside this clock: Shopify signs them with real time. So are a
provider's rate-limit reset times (``wall_timestamp``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone


def _offset_from_environment() -> timedelta:
    raw = (os.environ.get("BACKBELL_CLOCK_OFFSET") or "").strip()
    if not raw:
        return timedelta(0)
    try:
        return timedelta(seconds=float(raw))
    except ValueError:
        raise SystemExit(f"BACKBELL_CLOCK_OFFSET: '{raw}' is not a number of seconds") from None


_offset = _offset_from_environment()
_frozen_at: datetime | None = None


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    if _frozen_at is not None:
        return _frozen_at
    return datetime.now(timezone.utc) + _offset


def timestamp() -> float:
    """The current time as Unix seconds (for signed timestamps such as the app proxy's)."""
    return utcnow().timestamp()


def wall_timestamp() -> float:
    """The real wall clock as Unix seconds, never moved: only for times another party stamps with
    its own real clock (a provider's ``X-RateLimit-Reset``), which a moved clock would misread."""
    return datetime.now(timezone.utc).timestamp()


def offset() -> timedelta:
    """How far this clock is from the wall clock (zero unless moved)."""
    return utcnow() - datetime.now(timezone.utc)


@contextmanager
def frozen(at: datetime) -> Iterator[None]:
    """Stop the clock at ``at`` (aware) until the block ends."""
    global _frozen_at
    if at.tzinfo is None:
        raise ValueError("frozen() needs an aware datetime")
    previous, _frozen_at = _frozen_at, at.astimezone(timezone.utc)
    try:
        yield
    finally:
        _frozen_at = previous


@contextmanager
def travel(by: timedelta) -> Iterator[None]:
    """Run the clock ``by`` ahead (or behind) until the block ends; it keeps ticking."""
    global _offset, _frozen_at
    previous = (_offset, _frozen_at)
    _offset += by
    if _frozen_at is not None:
        _frozen_at += by
    try:
        yield
    finally:
        _offset, _frozen_at = previous
