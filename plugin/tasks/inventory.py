"""Inventory/webhook tasks (being built): pinned names and signatures below."""

from celery import shared_task


@shared_task(name="backbell.sync_variant")
def sync_variant(shop_id: int, variant_id: int) -> None:
    raise NotImplementedError("inventory sync is being built")


@shared_task(name="backbell.handle_webhook")
def handle_webhook(topic: str, shop_domain: str, payload: dict, webhook_id: str | None = None) -> None:
    raise NotImplementedError("webhook handling is being built")
