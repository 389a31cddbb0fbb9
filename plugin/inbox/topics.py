"""The ``{topic: handler}`` table behind ``POST /webhooks``.

Why here and not in ``webhooks/``: the ``webhooks`` package imports ``plugin`` and never the
other way round, yet the Celery task (``plugin.inventory.tasks.handle_webhook``) must reach the
table. So ``webhooks/views.py`` only verifies, records the receipt and queues; everything a topic
*means* lives in ``plugin`` and is reached from here.

Each handler does the minimal idempotent work for its topic inside one transaction and returns
the restock events it created; ``handle_webhook`` commits first and only then are those events
handed to dispatch (a worker must never look for an uncommitted row). Unknown topics are logged
and ignored. Webhooks for a shop that is unknown or uninstalled do nothing, except the privacy
topics, which must be honoured after uninstall too (``shop/redact`` only ever comes then).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.inventory import mirror as inventory
from plugin.privacy import compliance
from plugin.dispatch.channels.outbox import erase_lines
from plugin.logging import get_logger
from plugin.models import RestockEvent, Shop

log = get_logger(__name__)


@dataclass(frozen=True)
class WebhookDelivery:
    runtime: object
    session: Session
    shop: Shop | None
    shop_domain: str
    payload: dict
    webhook_id: str | None
    triggered_at: datetime | None = None  # Shopify's X-Shopify-Triggered-At


Handler = Callable[[WebhookDelivery], list[RestockEvent]]


def handle_webhook(runtime, topic: str, shop_domain: str, payload: dict, webhook_id: str | None,
                   triggered_at: str | None = None) -> list[int]:
    """Run the topic's handler in one committed transaction; the ids of restock events to dispatch."""
    handler = HANDLERS.get(topic)
    if handler is None:
        log.info("webhook_topic_unknown", topic=topic, shop_domain=shop_domain, webhook_id=webhook_id)
        return []
    with runtime.db.session() as session:
        shop = session.execute(select(Shop).where(Shop.domain == shop_domain)).scalar_one_or_none()
        if topic not in PRIVACY_TOPICS and (shop is None or not shop.active):
            log.info("webhook_for_inactive_shop", topic=topic, shop_domain=shop_domain, webhook_id=webhook_id)
            return []
        try:
            events = handler(WebhookDelivery(runtime, session, shop, shop_domain, payload, webhook_id,
                                      _parse_time(triggered_at)))
        except inventory.BadPayload as err:
            session.rollback()
            log.warning("webhook_payload_invalid", topic=topic, shop_domain=shop_domain, webhook_id=webhook_id,
                        problem=str(err))
            return []
        event_ids = [event.id for event in events]
    log.info("webhook_handled", topic=topic, shop_domain=shop_domain, webhook_id=webhook_id,
             restock_events=event_ids)
    return event_ids


def on_inventory_level(delivery: WebhookDelivery) -> list[RestockEvent]:
    event = inventory.apply_inventory_webhook(delivery.runtime, delivery.session, delivery.shop, delivery.payload)
    return [event] if event else []


def on_product_update(delivery: WebhookDelivery) -> list[RestockEvent]:
    return inventory.apply_product_update(delivery.session, delivery.shop, delivery.payload)


def on_order_created(delivery: WebhookDelivery) -> list[RestockEvent]:
    # Attribution of recovered sales is built later; until then the order is only noted.
    line_items = delivery.payload.get("line_items")
    log.info("order_created", shop_id=delivery.shop.id, order_id=delivery.payload.get("id"),
             line_items=len(line_items) if isinstance(line_items, list) else 0)
    return []


def on_app_uninstalled(delivery: WebhookDelivery) -> list[RestockEvent]:
    # Shopify retries a failed delivery for hours: an uninstall from before the merchant installed
    # again must not log the new installation out.
    shop = delivery.shop
    if delivery.triggered_at is not None and delivery.triggered_at < shop.installed_at:
        log.info("webhook_uninstall_predates_install", shop_id=shop.id, webhook_id=delivery.webhook_id)
        return []
    compliance.uninstall_shop(delivery.session, shop)
    return []


def on_shop_redact(delivery: WebhookDelivery) -> list[RestockEvent]:
    compliance.purge_shop(delivery.session, delivery.shop_domain)
    erase_lines(delivery.runtime.settings.outbox_path, delivery.shop_domain)
    return []


def on_customer_redact(delivery: WebhookDelivery) -> list[RestockEvent]:
    if delivery.shop is not None:
        vault, customer = delivery.runtime.vault, _customer(delivery)
        recipients = compliance.customer_contact_values(delivery.session, vault, delivery.shop, customer)
        compliance.redact_customer(delivery.session, vault, delivery.shop, customer)
        erase_lines(delivery.runtime.settings.outbox_path, delivery.shop_domain, recipients)
    return []


def on_customer_data_request(delivery: WebhookDelivery) -> list[RestockEvent]:
    if delivery.shop is not None:
        request = delivery.payload.get("data_request")
        request_id = request.get("id") if isinstance(request, dict) else None
        compliance.export_customer_data(
            delivery.session, delivery.runtime.vault, delivery.shop, _customer(delivery),
            int(request_id) if isinstance(request_id, int) else None,
        )
    return []


def _parse_time(value: str | None) -> datetime | None:
    """An ISO 8601 time with an offset ("…Z" included), or None when absent or unusable."""
    try:
        parsed = datetime.fromisoformat(value.strip()) if value else None
    except ValueError:
        return None
    return parsed if parsed is not None and parsed.tzinfo is not None else None


def _customer(delivery: WebhookDelivery) -> dict:
    customer = delivery.payload.get("customer")
    if not isinstance(customer, dict):
        raise inventory.BadPayload("the body has no customer object")
    return customer


HANDLERS: dict[str, Handler] = {
    "inventory_levels/update": on_inventory_level,
    "products/update": on_product_update,
    "orders/create": on_order_created,
    "app/uninstalled": on_app_uninstalled,
    "shop/redact": on_shop_redact,
    "customers/redact": on_customer_redact,
    "customers/data_request": on_customer_data_request,
}
PRIVACY_TOPICS = frozenset({"shop/redact", "customers/redact", "customers/data_request"})
