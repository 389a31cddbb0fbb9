"""Offers tasks: thin wrappers over ``plugin.offers`` taking plain ids."""

from __future__ import annotations

from celery import shared_task
from flask import current_app

from plugin.logging import get_logger
from plugin.offers.sweep import sweep

log = get_logger(__name__)


@shared_task(name="backbell.offers_sweep")
def offers_sweep() -> None:
    """Beat: settle held units past their end (passing unused ones on) and deactivate ended codes."""
    from plugin.dispatch.tasks import send_batch

    report = sweep(current_app.extensions["backbell"])
    for event_id, channel in report["chains"]:
        send_batch.delay(event_id, channel)
    log.info("offers_swept", chains=len(report["chains"]), deactivated=report["deactivated"],
             apologies=report["apologies"])
