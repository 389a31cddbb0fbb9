"""Held units with a controllable clock: 2 units back, 10 waiting, reserve_minutes 30.

The first two shoppers each get a unit held in a draft order and a notice saying until when;
the inventory webhooks the holds cause start no restock; one shopper checks out, the other's hold
expires and is deleted, and its unit passes to the third shopper; nobody else is told.
"""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from plugin import clock
from plugin.dispatch.tasks import dispatch_restock
from plugin.models import Hold, RestockEvent
from plugin.offers.tasks import offers_sweep
from tests.offers.builders import ITEM, VARIANT, WAREHOUSE, offer_shop, outbox_lines, restock
from tests.webhooks.delivery import DEMO_SHOP, deliver, level_payload


def _restocks(session) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(RestockEvent))


def _inventory_webhook(client, shopify_admin) -> None:
    """What Shopify sends after a reservation moved the warehouse's available."""
    available = shopify_admin.shops[DEMO_SHOP].levels[ITEM][WAREHOUSE]
    assert deliver(client, "inventory_levels/update", level_payload(ITEM, WAREHOUSE, available)).status_code == 200


def test_two_units_held_for_the_first_two_then_the_expired_one_passes_to_the_third(
        app, app_config, client, runtime, session, shopify_admin, installed_shop):
    START = clock.utcnow()  # noqa: N806 — the test's clock starts now and is moved from there
    with clock.frozen(START):
        # given
        emails = offer_shop(runtime, session, shopify_admin, installed_shop, units=2, shoppers=10,
                            reserve_minutes=30, discount_percent=10)
        event_id = restock(session, installed_shop.id, units=2)

        # when the restock is dispatched
        with app.app_context():
            dispatch_restock.delay(event_id)

        # then two draft orders hold one unit each, 30 minutes ahead, for the first two shoppers
        drafts = list(shopify_admin.offers(DEMO_SHOP).draft_orders.values())
        until = START.replace(microsecond=0) + timedelta(minutes=30)
        assert [(d.email, d.variant_id, d.quantity, d.reserve_until) for d in drafts] == [
            (emails[0], VARIANT, 1, until.isoformat().replace("+00:00", "Z")),
            (emails[1], VARIANT, 1, until.isoformat().replace("+00:00", "Z"))]
        assert shopify_admin.shops[DEMO_SHOP].levels[ITEM][WAREHOUSE] == 0
        lines = outbox_lines(app_config)
        local = until.astimezone(ZoneInfo("America/New_York")).strftime("%H:%M")
        assert [line["to"] for line in lines] == emails[:2]
        assert all(f"held for you until {local}" in line["text"] for line in lines)
        assert [line["expires_at"] for line in lines] == [until.isoformat().replace("+00:00", "Z")] * 2
        # … with the code applied to the draft, and the link going to its checkout
        assert [d.discount_codes for d in drafts] == [[line["discount_code"]] for line in lines]
        held_link = client.get(lines[0]["url"].split("127.0.0.1:8000")[1]).headers["Location"]
        assert held_link == drafts[0].invoice_url

        # when Shopify reports the reserved units as gone from available
        _inventory_webhook(client, shopify_admin)

        # then that is no sell-out and no new restock
        assert _restocks(session) == 1

    with clock.frozen(START + timedelta(minutes=10)):
        # when the first shopper pays the held draft order
        order_id = shopify_admin.complete_draft_order(DEMO_SHOP, drafts[0].id)
        hold_id = drafts[0].custom_attributes["backbell_hold"]
        assert deliver(client, "orders/create", {
            "id": order_id, "created_at": clock.utcnow().isoformat(), "email": emails[0], "currency": "USD",
            "note_attributes": [{"name": "backbell_hold", "value": hold_id}],
            "line_items": [{"id": 1, "variant_id": VARIANT, "quantity": 1, "price": "49.00"}]}).status_code == 200

    with clock.frozen(START + timedelta(minutes=31)):
        # when the other hold runs out unused and the beat sweeps
        with app.app_context():
            offers_sweep.delay()

        # then it is deleted in Shopify and its unit held for the third shopper, who is told
        offers = shopify_admin.offers(DEMO_SHOP)
        assert offers.deleted_draft_orders == [drafts[1].id]
        (third,) = [d for d in offers.draft_orders.values() if d.id not in (drafts[0].id, drafts[1].id)]
        assert third.email == emails[2]
        assert [line["to"] for line in outbox_lines(app_config)] == emails[:3]
        session.expire_all()
        assert [h.status for h in session.scalars(select(Hold).order_by(Hold.id))] == ["used", "expired", "active"]
        assert session.scalar(select(Hold.order_id).where(Hold.status == "used")) == order_id

        # when the release and the new reservation reach the mirror
        _inventory_webhook(client, shopify_admin)
        shopify_admin.set_level(DEMO_SHOP, ITEM, WAREHOUSE, 1)  # a webhook out of order: the release alone
        _inventory_webhook(client, shopify_admin)

        # then still no new restock, and nobody else was told
        assert _restocks(session) == 1
        assert [line["to"] for line in outbox_lines(app_config)] == emails[:3]
