"""Dispatch tasks (being built): pinned name and signature below."""

from celery import shared_task


@shared_task(name="backbell.dispatch_restock")
def dispatch_restock(restock_event_id: int) -> None:
    raise NotImplementedError("dispatch is being built")
