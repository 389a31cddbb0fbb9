"""Set-up and reading helpers for the release tests (batches, VIPs, quiet hours, reminders, ETA).

A sold-out variant in the Shopify double and in the mirror, shoppers waiting for it (each linked
to a Shopify customer whose tags the double knows), restocks delivered as signed webhooks, and
the release job run the way the scheduler runs it (``plugin.schedule.run_job``) at a chosen time.
"""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import func, select

from plugin import clock
from plugin.models import Decision, Notification, RestockEvent, Shop, Subscription
from plugin.schedule import JOBS, run_job
from tests.webhooks.delivery import DEMO_SHOP, add_variant_row, add_waiting, deliver, level_payload

VARIANT, ITEM, WAREHOUSE = 9101, 9201, 91
FIRST_CUSTOMER = 7000
RELEASE_JOB = next(job for job in JOBS if job.task == "backbell.release_due")


def email(position: int) -> str:
    return f"shopper{position}@gmail.com"


def fresh_tokens(runtime, shopify_admin) -> None:
    """A new token pair for the demo shop, issued on the app's clock now (a test months ahead
    would otherwise find even the refresh token expired)."""
    tokens = shopify_admin.issue_tokens(DEMO_SHOP)
    now = clock.utcnow()
    with runtime.db.session() as s:
        shop = s.scalar(select(Shop).where(Shop.domain == DEMO_SHOP))
        shop.access_token = runtime.vault.encrypt(tokens["access_token"])
        shop.access_token_expires_at = now + timedelta(seconds=tokens["expires_in"])
        shop.refresh_token = runtime.vault.encrypt(tokens["refresh_token"])
        shop.refresh_token_expires_at = now + timedelta(seconds=tokens["refresh_token_expires_in"])


def set_settings(runtime, **settings) -> None:
    with runtime.db.session() as s:
        shop = s.scalar(select(Shop).where(Shop.domain == DEMO_SHOP))
        shop.settings = {**(shop.settings or {}), **settings}


def sold_out_variant(session, shopify_admin, shop_id: int) -> None:
    shopify_admin.add_variant(DEMO_SHOP, VARIANT, inventory_item_id=ITEM, levels={WAREHOUSE: 0},
                              product_title="Linen Shirt", handle="linen-shirt", title="Blue")
    add_variant_row(session, shop_id, VARIANT, ITEM, 0, product_title="Linen Shirt", product_handle="linen-shirt",
                    title="Blue")


def waiting_shoppers(runtime, session, shopify_admin, shop_id: int, count: int, vips: tuple[int, ...] = ()) -> list:
    """``count`` shoppers in registration order, each linked to a customer; ``vips`` are tagged VIP."""
    subscriptions = []
    for position in range(count):
        customer = FIRST_CUSTOMER + position
        shopify_admin.add_customer(DEMO_SHOP, customer, ["VIP", "newsletter"] if position in vips else ["newsletter"])
        subscriptions.append(add_waiting(session, runtime.vault, shop_id, VARIANT, email(position),
                                         customer_id=customer).id)
    return subscriptions


def also_waits_for(session, subscription_id: int, variant_id: int) -> int:
    """The same shopper (same contact) waits for another variant too."""
    first = session.get(Subscription, subscription_id)
    other = Subscription(shop_id=first.shop_id, contact_id=first.contact_id, variant_id=variant_id,
                         channel=first.channel, customer_id=first.customer_id, consent_at=first.consent_at)
    session.add(other)
    session.commit()
    return other.id


def restock(client, shopify_admin, units: int, webhook_id: str | None = None):
    """Shopify's stock becomes ``units`` and it sends the signed ``inventory_levels/update``."""
    shopify_admin.set_level(DEMO_SHOP, ITEM, WAREHOUSE, units)
    response = deliver(client, "inventory_levels/update", level_payload(ITEM, WAREHOUSE, units), webhook_id=webhook_id)
    assert response.status_code == 200
    return response


def run_release_job(app, after: timedelta = timedelta(0)) -> None:
    """What the scheduler does every minute, run once ``after`` from now on the app's clock."""
    celery = app.extensions["celery"]
    celery.set_current()
    with clock.travel(after):
        run_job(celery, RELEASE_JOB)


def outbox(app_config) -> list[dict]:
    path = app_config["outbox_path"] / "outbox.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def decisions(runtime, *where) -> list[tuple[int | None, str]]:
    with runtime.db.session() as s:
        return [(d.subscription_id, d.decision) for d in s.scalars(select(Decision).where(*where).order_by(Decision.id))]


def count(runtime, model, *where) -> int:
    with runtime.db.session() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


def events(runtime) -> list[RestockEvent]:
    with runtime.db.session() as s:
        return list(s.scalars(select(RestockEvent).order_by(RestockEvent.id)))


def statuses(runtime, subscription_ids: list[int]) -> list[str]:
    with runtime.db.session() as s:
        rows = dict(s.execute(select(Subscription.id, Subscription.status)
                              .where(Subscription.id.in_(subscription_ids))).tuples().all())
    return [rows[i] for i in subscription_ids]


def sent_kinds(runtime) -> list[tuple[int, str]]:
    with runtime.db.session() as s:
        return list(s.execute(select(Notification.subscription_id, Notification.kind)
                              .where(Notification.status == "sent").order_by(Notification.id)).tuples())
