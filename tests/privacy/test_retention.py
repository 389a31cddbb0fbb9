"""Retention: old finished notices, decision-log lines and receipts go; the merchant's numbers stay."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from plugin import clock
from plugin.clock import utcnow
from plugin.inbox import deliveries
from plugin.models import Decision, InboxDelivery, Notification, Subscription
from plugin.privacy.tasks import prune_history
from tests.admin.test_api import _bearer
from tests.dispatch.builders import make_event, subscribe
from tests.measurement.dashboard_builders import told_and_bought


def _notices(session, vault, shop, event, statuses: list[str], age: timedelta, clicked: bool = False) -> None:
    for status in statuses:
        number = session.scalar(select(func.count()).select_from(Subscription))
        sub = subscribe(session, vault, shop, f"shopper{number}@example.com")
        at = utcnow() - age
        session.add(Notification(shop_id=shop.id, subscription_id=sub.id, restock_event_id=event.id, channel="email",
                                 status=status, created_at=at, sent_at=at if status == "sent" else None,
                                 clicked_at=at if clicked else None))
        session.add(Decision(shop_id=shop.id, decision=status, subscription_id=sub.id, created_at=at))
    session.flush()


def test_pruning_deletes_only_old_finished_rows(
        shopify_admin, installed_shop, runtime, client, app, app_config, session):
    # given: notices from 100 days ago (3 sent, one of them clicked, 1 failed, 1 still pending)
    # and from yesterday (2 sent), with their decisions; a receipt from last month
    event = make_event(session, installed_shop)
    _notices(session, runtime.vault, installed_shop, event, ["sent", "sent"], timedelta(days=100))
    _notices(session, runtime.vault, installed_shop, event, ["sent"], timedelta(days=100), clicked=True)
    _notices(session, runtime.vault, installed_shop, event, ["failed", "pending"], timedelta(days=100))
    _notices(session, runtime.vault, installed_shop, event, ["sent", "sent"], timedelta(days=1))
    session.commit()
    with clock.travel(-timedelta(days=30)), runtime.db.session() as s:
        deliveries.accept(s, runtime.vault, webhook_id="old", shop_domain=installed_shop.domain, topic="orders/create",
                          body="{}", triggered_at=None)
        s.flush()
        deliveries.mark_processed(s, s.scalar(select(InboxDelivery.id)))

    # when
    with app.app_context():
        prune_history.delay()

    # then (that the dashboard's numbers stay: tests/measurement/test_overview.py)
    session.expire_all()
    left = session.execute(select(Notification.status, func.count()).group_by(Notification.status)
                           .order_by(Notification.status)).all()
    assert left == [("pending", 1), ("sent", 2)]
    assert session.scalar(select(func.count()).select_from(Decision)) == 2
    assert session.scalar(select(func.count()).select_from(InboxDelivery)) == 0
    assert session.scalar(select(func.count()).select_from(Subscription)) == 7


def test_pruning_twice_changes_no_number(shopify_admin, installed_shop, runtime, client, app, app_config, session):
    # given two shoppers told, one of whom bought
    told_and_bought(app, client, session, runtime, installed_shop, told=2, bought=1)
    day = utcnow().astimezone(ZoneInfo(installed_shop.timezone)).date().isoformat()
    before = client.get("/api/overview", query_string={"since": day, "until": day},
                        headers=_bearer(app_config)).get_json()

    # when retention runs twice, 100 days later
    with clock.travel(timedelta(days=100)), app.app_context():
        prune_history.delay()
        prune_history.delay()

    # then
    after = client.get("/api/overview", query_string={"since": day, "until": day}, headers=_bearer(app_config))
    assert after.get_json() == before
    assert (before["notified"], before["purchased"]) == (2, 1)
    assert session.scalar(select(func.count()).select_from(Notification)) == 0
