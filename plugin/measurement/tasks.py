"""Measurement beat tasks: thin wrappers over ``customers`` (the Shopify customer sync) and
``digest`` (the merchant's email). Each shop's failure is logged and the next shop goes on."""

from __future__ import annotations

from celery import shared_task
from flask import current_app

from plugin.logging import get_logger
from plugin.measurement import customers, digest
from plugin.shopify.errors import AdminApiError

log = get_logger(__name__)


def _runtime():
    return current_app.extensions["backbell"]


@shared_task(name="backbell.sync_customers")
def sync_customers() -> None:
    """Beat: send due subscribers to their shops' Shopify customers (bulk mutations)."""
    runtime = _runtime()
    with runtime.db.session() as session:
        shop_ids = customers.due_shops(session)
    for shop_id in shop_ids:
        try:
            customers.sync_shop(runtime, shop_id)
        except AdminApiError as err:
            log.warning("customer_sync_failed", shop_id=shop_id, error=err.message, transient=err.transient)


@shared_task(name="backbell.send_digests")
def send_digests() -> None:
    """Beat: the daily or weekly digest of every shop whose one is due."""
    runtime = _runtime()
    sent = digest.send_due_digests(runtime)
    log.info("digests_sent", count=sent)
