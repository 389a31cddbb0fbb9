"""Inventory tasks: thin wrappers over ``plugin.inventory.mirror`` and ``plugin.inventory.reconcile``
taking plain values (webhooks are handled from the inbox, ``plugin.inbox.tasks``).

Every task reloads what it needs and is safe to run twice (``updated_at`` ordering and
the row lock in ``plugin.inventory.restock`` make a repeat a no-op). Only transient Admin API errors
(throttling, 429, 5xx, network) are retried — by Celery, as ``ShopifyBusy`` through
``autoretry_for`` with exponential backoff and full jitter; anything else (a 4xx, an invalid
document, a revoked grant) is logged and dropped, because retrying would fail the same way.
In-process (no Redis) a transient error is raised instead: an eager retry would not wait.
"""

from __future__ import annotations

from celery import shared_task
from flask import current_app

from plugin.inventory import mirror as inventory
from plugin.logging import get_logger
from plugin.models import Shop
from plugin.shopify.admin_api import AdminApiError

log = get_logger(__name__)



class ShopifyBusy(Exception):
    """A transient Admin API failure; Celery retries the task (after the retries, the periodic
    reconciliation re-reads every watched variant anyway)."""


RETRY_POLICY = dict(autoretry_for=(ShopifyBusy,), retry_backoff=15, retry_backoff_max=900, retry_jitter=True,
                    max_retries=8)


def _runtime():
    return current_app.extensions["backbell"]


def _dispatch(restock_event_ids: list[int]) -> None:
    from plugin.dispatch.tasks import dispatch_restock

    for event_id in restock_event_ids:
        dispatch_restock.delay(event_id)


def _retry_or_drop(task, err: AdminApiError, **context) -> None:
    if not err.transient:
        log.warning("shopify_read_failed", error=err.message, **context)
        return
    if task.request.is_eager:
        raise err
    log.info("shopify_read_retrying", error=err.message, retries=task.request.retries, **context)
    raise ShopifyBusy(err.message) from err


@shared_task(bind=True, name="backbell.sync_variant", **RETRY_POLICY)
def sync_variant(self, shop_id: int, variant_id: int) -> None:
    """Create or refresh the mirror of a variant somebody just subscribed to (restock if in stock)."""
    runtime = _runtime()
    try:
        with runtime.db.session() as session:
            shop = session.get(Shop, shop_id)
            if shop is None or not shop.active:
                log.info("sync_variant_inactive_shop", shop_id=shop_id, variant_id=variant_id)
                return
            event = inventory.sync_variant_from_shopify(runtime, session, shop, variant_id)
    except AdminApiError as err:
        _retry_or_drop(self, err, shop_id=shop_id, variant_id=variant_id)
        return
    _dispatch([event.id] if event else [])


@shared_task(name="backbell.reconcile_all")
def reconcile_all() -> None:
    """Beat: re-read every watched variant of every installed shop (restocks are dispatched)."""
    from plugin.inventory.reconcile import reconcile_shops

    report = reconcile_shops(_runtime(), None)
    log.info("reconcile_finished", **report.as_log())
