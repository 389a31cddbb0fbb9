"""BACKBELL_LINK_SECRETS: links keep working across a rotation of the link secret and of
SHOPIFY_API_SECRET; a link under a key that is not listed is refused and changes nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from plugin import create_app
from plugin.links import tokens
from plugin.links.tokens import unsubscribe_token
from plugin.models import Decision, Subscription
from tests.dispatch.builders import make_shop, make_variant, subscribe

OLD = "old-link-secret-" + "o" * 32
NEW = "new-link-secret-" + "n" * 32
UNKNOWN = "somebody-elses-secret-" + "u" * 32
ONE_CLICK = {"List-Unsubscribe": "One-Click"}


@pytest.fixture
def waiting(app_config, runtime, session) -> int:
    shop = make_shop(session)
    make_variant(session, shop)
    subscription = subscribe(session, runtime.vault, shop, "ana@example.com")
    session.commit()
    return subscription.id


def _client_with(app_config, **settings):
    app = create_app(dict(app_config, **settings))
    return app, app.test_client()


def _status(session, subscription_id: int) -> str:
    session.expire_all()
    return session.get(Subscription, subscription_id).status


def test_a_link_signed_with_the_old_link_secret_still_unsubscribes_after_rotation(app_config, waiting, session):
    # given: a notice mailed while OLD was the only link secret; then NEW is put first
    token = unsubscribe_token(OLD, waiting)
    rotated, client = _client_with(app_config, link_secrets=(NEW, OLD))

    # when
    response = client.post(f"/u/{token}", data=ONE_CLICK)

    # then
    assert response.status_code == 200
    assert _status(session, waiting) == "unsubscribed"
    assert [d.decision for d in session.scalars(select(Decision))] == ["unsubscribed"]
    rotated.extensions["backbell"].db.dispose()


def test_new_links_are_signed_with_the_newest_secret(app_config):
    # given
    app, _ = _client_with(app_config, link_secrets=(NEW, OLD))

    # when / then
    assert app.extensions["backbell"].settings.link_secret == NEW
    app.extensions["backbell"].db.dispose()


def test_a_link_signed_with_an_unknown_key_is_refused_and_changes_nothing(app_config, waiting, session):
    # given
    token = unsubscribe_token(UNKNOWN, waiting)
    app, client = _client_with(app_config, link_secrets=(NEW, OLD))

    # when
    response = client.post(f"/u/{token}", data=ONE_CLICK)

    # then
    assert response.status_code == 400
    assert _status(session, waiting) == "waiting"
    assert session.scalars(select(Decision)).all() == []
    app.extensions["backbell"].db.dispose()


def test_a_link_signed_with_a_secret_dropped_from_the_list_is_refused(app_config, waiting, session):
    # given: the rotation is over and OLD was removed
    token = unsubscribe_token(OLD, waiting)
    app, client = _client_with(app_config, link_secrets=(NEW,))

    # when
    response = client.post(f"/u/{token}", data=ONE_CLICK)

    # then
    assert response.status_code == 400
    assert _status(session, waiting) == "waiting"
    app.extensions["backbell"].db.dispose()


def test_rotating_shopify_api_secret_leaves_links_session_and_rate_limit_keys_alone(app_config, waiting, session):
    # given: the app before and after SHOPIFY_API_SECRET changed (the old one no longer listed)
    before, _ = _client_with(app_config, link_secrets=(NEW,), shopify_api_secret="shopify-secret-before")
    after, client = _client_with(app_config, link_secrets=(NEW,), shopify_api_secret="shopify-secret-after")
    token = unsubscribe_token(before.extensions["backbell"].settings.link_secret, waiting)

    # when
    response = client.post(f"/u/{token}", data=ONE_CLICK)

    # then
    assert response.status_code == 200
    assert _status(session, waiting) == "unsubscribed"
    assert before.config["SECRET_KEY"] == after.config["SECRET_KEY"]
    assert before.config["SECRET_KEY"] not in ("shopify-secret-before", NEW)
    before_settings, after_settings = before.extensions["backbell"].settings, after.extensions["backbell"].settings
    assert before_settings.rate_limit_secret == after_settings.rate_limit_secret != ""
    for app in (before, after):
        app.extensions["backbell"].db.dispose()


def test_the_embedded_default_generates_one_link_secret_into_the_instance_folder(app_config, instance_path, caplog):
    # given: no BACKBELL_LINK_SECRETS
    # when: two processes start on the same instance folder
    first, _ = _client_with(app_config)
    second, _ = _client_with(app_config)

    # then
    secret = first.extensions["backbell"].settings.link_secret
    assert len(secret) >= 32
    assert second.extensions["backbell"].settings.link_secrets == (secret,)
    assert (instance_path / "link-secrets.key").read_text().strip() == secret
    assert [r.message.split()[0] for r in caplog.records if "link_secret" in r.message] == ["link_secret_generated"]
    for app in (first, second):
        app.extensions["backbell"].db.dispose()


@pytest.mark.parametrize("number", [0, 7, 12345, 2**31, 10**12, 111_111_111_111, 2**63 - 1])
def test_links_signed_on_the_fan_out_path_are_exactly_what_itsdangerous_makes(number):
    # given: the fast signer (a primed HMAC per secret and purpose) beside itsdangerous' own
    from itsdangerous import URLSafeSerializer

    secret = "c2VjcmV0LWxpbmsta2V5LTEyMzQ1Njc4OTAxMjM0NTY3ODkw"

    # when / then: the same tokens (long runs of digits are the ones itsdangerous compresses)
    assert tokens.click_token(secret, number) == URLSafeSerializer([secret], salt="backbell.click").dumps({"n": number})
    assert tokens.unsubscribe_token(secret, number) == \
        URLSafeSerializer([secret], salt="backbell.unsubscribe").dumps({"s": number})
    assert tokens.read_click_token(["newer-secret", secret], tokens.click_token(secret, number)) == number
