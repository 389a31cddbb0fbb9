"""``backbell worker``: its queues, and one process more than a restock's send chains, so that while
one shop's fan-out keeps the chains busy, another shop's webhook finds a free process."""

from __future__ import annotations

import pytest
from celery import Celery
from click.testing import CliRunner

from plugin.celery_app import QUEUES
from plugin.cli import default_concurrency, main


@pytest.mark.parametrize(("chains", "cpus", "expected"), [(2, 2, 3), (2, 1, 3), (2, 8, 8), (4, 2, 5), (1, 1, 2)])
def test_default_concurrency_is_the_cpu_count_and_at_least_one_more_than_the_send_chains(chains, cpus, expected):
    assert default_concurrency(chains, cpus=cpus) == expected


@pytest.fixture
def worker_argv(monkeypatch, app_config):
    """What ``backbell worker`` hands to Celery (Celery's own worker is not started)."""
    seen = []
    monkeypatch.setattr(Celery, "worker_main", lambda self, argv=None: seen.append(argv))
    monkeypatch.setenv("DATABASE_URL", app_config["database_url"])
    monkeypatch.setenv("BACKBELL_INSTANCE", str(app_config["instance_path"]))
    monkeypatch.setenv("BACKBELL_ENCRYPTION_KEYS", ",".join(app_config["encryption_keys"]))
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/15")
    return seen


def test_the_worker_reads_both_queues_with_one_process_more_than_the_send_chains(worker_argv, monkeypatch):
    # given a 2-core machine and 3 send chains per restock
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    monkeypatch.setenv("BACKBELL_DISPATCH_CHAINS", "3")

    # when the worker starts with its defaults, and with an operator's concurrency
    defaults = CliRunner().invoke(main, ["worker"])
    chosen = CliRunner().invoke(main, ["worker", "--concurrency", "7"])
    refused = CliRunner().invoke(main, ["worker", "--concurrency", "0"])

    # then
    assert (defaults.exit_code, chosen.exit_code) == (0, 0)
    assert worker_argv[0] == ["worker", "--loglevel=INFO", f"--queues={','.join(QUEUES)}", "--concurrency=4"]
    assert worker_argv[1][-1] == "--concurrency=7"
    assert refused.exit_code == 2 and "--concurrency" in refused.output and len(worker_argv) == 2
