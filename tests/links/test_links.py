"""Tracked links and one-click unsubscribe."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from plugin.links.tokens import click_token, unsubscribe_token
from plugin.models import Decision, Notification, Shop, Subscription
from tests.dispatch.builders import VARIANT_ID, make_event, make_shop, make_variant, subscribe

SECRET = "hush"  # app_config's shopify_api_secret


def _notice(session, runtime):
    shop = make_shop(session)
    make_variant(session, shop)
    subscription = subscribe(session, runtime.vault, shop, "ana@example.com")
    event = make_event(session, shop)
    notification = Notification(shop_id=shop.id, subscription_id=subscription.id, restock_event_id=event.id,
                                channel="email", status="sent")
    session.add(notification)
    session.commit()
    return subscription, notification


def test_click_is_recorded_once_and_redirects_to_the_variant(client, runtime, session):
    # given
    _, notification = _notice(session, runtime)
    token = click_token(SECRET, notification.id)

    # when
    first = client.get(f"/r/{token}")
    session.expire_all()
    first_click = session.get(Notification, notification.id).clicked_at
    second = client.get(f"/r/{token}")
    session.expire_all()

    # then
    assert first.status_code == 302
    assert first.headers["Location"] == f"https://bell-test.myshopify.com/products/linen-shirt?variant={VARIANT_ID}"
    assert second.status_code == 302
    assert first_click is not None
    assert session.get(Notification, notification.id).clicked_at == first_click


def test_tampered_click_token_is_400_and_records_nothing(client, runtime, session):
    # given
    _, notification = _notice(session, runtime)
    token = click_token(SECRET, notification.id)

    # when
    response = client.get(f"/r/{token[:-2]}xx")

    # then
    assert response.status_code == 400
    assert response.get_json()["error"]["message"] == "this link is not valid (it may have been altered or cut short)"
    session.expire_all()
    assert session.get(Notification, notification.id).clicked_at is None


def test_unsubscribe_token_is_not_a_click_token(client, runtime, session):
    # given: a valid token for another purpose
    subscription, _ = _notice(session, runtime)

    # when
    response = client.get(f"/r/{unsubscribe_token(SECRET, subscription.id)}")

    # then
    assert response.status_code == 400


def test_click_on_a_deleted_notice_is_404(client, runtime, session):
    # when
    response = client.get(f"/r/{click_token(SECRET, 999)}")

    # then
    assert response.status_code == 404


def test_unsubscribe_get_shows_a_page_and_changes_nothing(client, runtime, session):
    # given
    subscription, _ = _notice(session, runtime)

    # when
    response = client.get(f"/u/{unsubscribe_token(SECRET, subscription.id)}")

    # then
    assert response.status_code == 200
    assert '<input type="hidden" name="List-Unsubscribe" value="One-Click">' in response.get_data(as_text=True)
    session.expire_all()
    assert session.get(type(subscription), subscription.id).status == "waiting"
    assert session.scalars(select(Decision)).all() == []


def test_one_click_post_unsubscribes_once(client, runtime, session):
    # given
    subscription, _ = _notice(session, runtime)
    url = f"/u/{unsubscribe_token(SECRET, subscription.id)}"

    # when
    first = client.post(url, data="List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded")
    second = client.post(url, data={"List-Unsubscribe": "One-Click"})

    # then
    assert (first.status_code, second.status_code) == (200, 200)
    session.expire_all()
    stored = session.get(type(subscription), subscription.id)
    assert stored.status == "unsubscribed"
    assert stored.unsubscribed_at is not None
    assert [(d.decision, d.subscription_id) for d in session.scalars(select(Decision))] == [
        ("unsubscribed", subscription.id)]


def test_post_without_one_click_body_is_400_and_changes_nothing(client, runtime, session):
    # given
    subscription, _ = _notice(session, runtime)

    # when
    response = client.post(f"/u/{unsubscribe_token(SECRET, subscription.id)}", data={})

    # then
    assert response.status_code == 400
    session.expire_all()
    assert session.get(type(subscription), subscription.id).status == "waiting"


def test_tampered_unsubscribe_token_is_400(client, runtime, session):
    # given
    subscription, _ = _notice(session, runtime)
    token = unsubscribe_token(SECRET, subscription.id)

    # when
    response = client.post(f"/u/x{token}", data={"List-Unsubscribe": "One-Click"})

    # then
    assert response.status_code == 400
    session.expire_all()
    assert session.get(type(subscription), subscription.id).status == "waiting"


def test_unsubscribe_from_a_notified_alert_also_stops_the_same_shoppers_new_wait_for_that_variant(
        client, runtime, session):
    # given: ana was notified, then waited for the same variant again; she also waits for another
    # variant, and bob waits for this one
    notified, _ = _notice(session, runtime)
    notified.status = "notified"
    rewait = Subscription(shop_id=notified.shop_id, contact_id=notified.contact_id, variant_id=VARIANT_ID,
                          channel="email")
    other_variant = Subscription(shop_id=notified.shop_id, contact_id=notified.contact_id, variant_id=VARIANT_ID + 1,
                                 channel="email")
    session.add_all([rewait, other_variant])
    bob = subscribe(session, runtime.vault, session.get(Shop, notified.shop_id), "bob@example.com")
    session.commit()

    # when: she uses the unsubscribe link of the first notice
    response = client.post(f"/u/{unsubscribe_token(SECRET, notified.id)}", data={"List-Unsubscribe": "One-Click"})

    # then
    assert response.status_code == 200
    session.expire_all()
    statuses = {s.id: s.status for s in session.scalars(select(Subscription))}
    assert statuses == {notified.id: "unsubscribed", rewait.id: "unsubscribed", other_variant.id: "waiting",
                        bob.id: "waiting"}
    assert sorted((d.decision, d.subscription_id) for d in session.scalars(select(Decision))) == sorted([
        ("unsubscribed", notified.id), ("unsubscribed", rewait.id)])


@pytest.mark.parametrize("row_id", [2**63, 2**70, 0, -1])
@pytest.mark.parametrize("route,make", [("/r/", click_token), ("/u/", unsubscribe_token)])
def test_a_signed_link_whose_id_no_row_can_have_is_400(client, runtime, session, route, make, row_id):
    # given a correctly signed token for an id outside BIGINT (or not positive)
    _notice(session, runtime)
    token = make(SECRET, row_id)

    # when
    clicked = client.get(route + token)
    posted = client.post("/u/" + token, data={"List-Unsubscribe": "One-Click"}) if route == "/u/" else None

    # then
    assert clicked.status_code == 400
    assert posted is None or posted.status_code == 400
    assert session.scalars(select(Notification.clicked_at)).all() == [None]
    assert session.scalars(select(Subscription.status)).all() == ["waiting"]
    assert session.scalars(select(Decision)).all() == []
