"""The beat's scans use the partial index on unfinished notices, not a scan of the whole table.

Same load as ``bench/explain_scans.py`` (which prints the plans for 1,000,000 rows), on 200,000
rows in a scratch database of its own.
"""

from __future__ import annotations

import os

import pytest
from sqlalchemy import create_engine

from bench.explain_scans import create_database, drop_database, explain, load
from plugin.migrate import upgrade
from tests.conftest import PG_ADMIN

pytestmark = pytest.mark.pg_only


@pytest.fixture
def plans(worker_id) -> dict[str, str]:
    name = f"{os.environ.get('BACKBELL_TEST_DB', 'backbell_test')}_scans_{worker_id}"
    url = create_database(PG_ADMIN, name)
    engine = create_engine(url)
    try:
        upgrade(url)
        with engine.connect() as conn:
            load(conn, 200_000)
            yield explain(conn)
    finally:
        engine.dispose()
        drop_database(PG_ADMIN, name)


def test_every_beat_scan_reads_the_partial_index_of_unfinished_notices(plans):
    # then
    assert sorted(plans) == ["open_batches: pending", "open_batches: sending", "recover_stalled: requeue",
                             "recover_stalled: uncertain"]
    for scan, plan in plans.items():
        assert "Seq Scan on notifications" not in plan, f"{scan}:\n{plan}"
        assert ("Index Scan using ix_notifications_open on notifications" in plan
                or "Bitmap Index Scan on ix_notifications_open" in plan), f"{scan}:\n{plan}"
