"""Fixtures shared by the dispatch tests."""

from __future__ import annotations

from contextlib import contextmanager

import pytest

from plugin.dispatch.turns import RESTOCKING_KEY, TURN_KEY
from plugin.redis_client import redis_client


@contextmanager
def cleared_turns(url: str):
    """Redis at ``url`` without a restocking shop or a held bulk turn, before and after: a shop noted
    restocking there would narrow the next fan-out to one batch at a time for three seconds."""
    client = redis_client(url)
    client.delete(RESTOCKING_KEY, TURN_KEY)
    try:
        yield client
    finally:
        client.delete(RESTOCKING_KEY, TURN_KEY)
        client.close()


@pytest.fixture
def worker_turns(runtime):
    """The worker's Redis, cleared of restocking shops and bulk turns (``cleared_turns``)."""
    with cleared_turns(runtime.settings.redis_url) as client:
        yield client
