"""The ``{topic: handler}`` table behind ``POST /webhooks``.

Why here and not in ``webhooks/``: the ``webhooks`` package imports ``plugin`` and never the
other way round, yet the task that handles an inbox row (``plugin.inbox.tasks``) must reach the
table. So ``webhooks/views.py`` only verifies, stores the delivery in the inbox and queues its id;
everything a topic *means* lives in ``plugin`` and is reached from here.

Each handler does the minimal idempotent work for its topic inside one transaction — the same
one that marks the inbox row processed — and returns the restock events it created;
``handle_delivery`` commits first and only then are those events
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

from plugin.dispatch.channels.outbox import erase_lines
from plugin.inbox import deliveries
from plugin.inbox.deliveries import PRIVACY_TOPICS, Pending
from plugin.inventory import mirror as inventory
from plugin.logging import get_logger
from plugin.measurement import attribution
from plugin.models import RestockEvent, Shop
from plugin.offers import apology, holds
from plugin.privacy import compliance
from plugin.safe_json import parse_json

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


def handle_delivery(runtime, pending: Pending) -> list[int]:
    """Run the topic's handler and mark the inbox row processed, in one committed transaction;
    the ids of restock events to dispatch. If another run marked the row first (a re-drive that
    raced the original task) this run's work is rolled back. Other errors propagate: the row
    stays unprocessed and is driven again."""
    context = {"topic": pending.topic, "shop_domain": pending.shop_domain, "webhook_id": pending.webhook_id}
    with runtime.db.session() as session:
        try:
            event_ids = _run_handler(runtime, session, pending, context)
        except inventory.BadPayload as err:
            session.rollback()
            log.warning("webhook_payload_invalid", problem=str(err), **context)
            event_ids = []  # retrying would fail the same way: the delivery counts as handled
        # Last, not first: the handler may re-read Shopify (and refresh a token on another
        # connection), which must not wait behind a write this transaction already holds.
        # On PostgreSQL a concurrent run blocks here until the first commits, then finds it done.
        if not deliveries.mark_processed(session, pending.inbox_id):
            session.rollback()
            log.info("webhook_already_processed", **context)
            return []
    log.info("webhook_handled", restock_events=event_ids, **context)
    return event_ids


def _run_handler(runtime, session: Session, pending: Pending, context: dict) -> list[int]:
    handler = HANDLERS.get(pending.topic)
    if handler is None:
        log.info("webhook_topic_unknown", **context)
        return []
    shop = session.execute(select(Shop).where(Shop.domain == pending.shop_domain)).scalar_one_or_none()
    if pending.topic not in PRIVACY_TOPICS and (shop is None or not shop.active):
        log.info("webhook_for_inactive_shop", **context)
        return []
    payload = _payload(pending.body)
    events = handler(WebhookDelivery(runtime, session, shop, pending.shop_domain, payload, pending.webhook_id,
                                     pending.triggered_at))
    session.flush()
    return [event.id for event in events]


def _payload(body: str) -> dict:
    parsed = parse_json(body.encode())
    if not parsed.ok or not isinstance(parsed.value, dict):
        raise inventory.BadPayload(f"the body is not a JSON object: {parsed.problem or 'not an object'}")
    return parsed.value


def on_inventory_level(delivery: WebhookDelivery) -> list[RestockEvent]:
    event = inventory.apply_inventory_webhook(delivery.runtime, delivery.session, delivery.shop, delivery.payload)
    return [event] if event else []


def on_product_update(delivery: WebhookDelivery) -> list[RestockEvent]:
    return inventory.apply_product_update(delivery.session, delivery.shop, delivery.payload)


def on_order_created(delivery: WebhookDelivery) -> list[RestockEvent]:
    order = attribution.parse_order(delivery.payload, delivery.shop.currency)
    if order is None:
        raise inventory.BadPayload("the order has no id")
    attribution.attribute_order(delivery.session, delivery.runtime.vault, delivery.shop, order)
    holds.record_checkout(delivery.session, delivery.shop.id, delivery.payload)  # offers: a held unit bought
    return []


def on_order_cancelled(delivery: WebhookDelivery) -> list[RestockEvent]:
    order = attribution.parse_order(delivery.payload, delivery.shop.currency)
    if order is None:
        raise inventory.BadPayload("the order has no id")
    attribution.cancel_order(delivery.session, delivery.shop, order.order_id)
    # Offers: a stock-out cancellation earns an apology (sent by the beat's offers sweep).
    apology.record_apology(delivery.session, delivery.runtime.vault, delivery.shop, delivery.payload)
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


def _customer(delivery: WebhookDelivery) -> dict:
    customer = delivery.payload.get("customer")
    if not isinstance(customer, dict):
        raise inventory.BadPayload("the body has no customer object")
    return customer


HANDLERS: dict[str, Handler] = {
    "inventory_levels/update": on_inventory_level,
    "products/update": on_product_update,
    "orders/create": on_order_created,
    "orders/cancelled": on_order_cancelled,
    "app/uninstalled": on_app_uninstalled,
    "shop/redact": on_shop_redact,
    "customers/redact": on_customer_redact,
    "customers/data_request": on_customer_data_request,
}
