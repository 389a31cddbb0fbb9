"""Privacy beat tasks: thin wrappers over ``plugin.privacy.retention``."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from flask import current_app

from plugin.logging import get_logger
from plugin.privacy.retention import prune_history as prune

log = get_logger(__name__)


@shared_task(name="backbell.prune_history")
def prune_history() -> None:
    """Beat: delete finished notices, decision-log lines and handled webhooks past retention."""
    runtime = current_app.extensions["backbell"]
    counts = prune(runtime.db, timedelta(days=runtime.settings.retention_days))
    log.info("history_pruned", retention_days=runtime.settings.retention_days, **counts)
