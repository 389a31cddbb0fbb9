"""A sign-up while the rate limiter's Redis is unreachable: 503 with Retry-After, nothing stored."""

import socket

import pytest
from sqlalchemy import func, select

from plugin.models import Contact, Subscription, Variant

VARIANT = 44012345678902


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def app_config(app_config):
    return {**app_config, "redis_url": f"redis://127.0.0.1:{_closed_port()}/0"}


def test_a_signup_while_redis_is_down_is_refused_with_a_status_to_retry(post_subscription, session, shop):
    # given a mirrored variant (no sync task to queue), and the limiter's Redis unreachable
    session.add(Variant(shop_id=shop.id, variant_id=VARIANT, available=0))
    session.commit()

    # when
    response = post_subscription({"variant_id": VARIANT, "email": "down@shopper.dev"},
                                 headers={"X-Forwarded-For": "192.0.2.45"})

    # then the shopper is asked to retry, and nothing was stored
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert response.get_json()["error"]["code"] == "unavailable"
    assert session.scalar(select(func.count(Subscription.id))) == 0
    assert session.scalar(select(func.count(Contact.id))) == 0
