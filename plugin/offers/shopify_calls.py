"""The offers' calls to Shopify: one short-lived Admin API client per call, userErrors as errors,
and a few quick retries.

``AdminClient`` already waits out throttling with Shopify's own numbers; what is left to retry
here is a ``userErrors`` answer, a 5xx, a timeout or throttling that outlasted the client's wait.
A send chain holds its claimed batch under a lease of a few minutes, so the retries stay short:
after the last one the caller goes on without the offer and logs why.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from plugin.logging import get_logger
from plugin.shopify.admin_api import AdminApiError, AdminClient

log = get_logger(__name__)

RETRY_DELAYS = (0.5, 1.5)  # three tries in all
T = TypeVar("T")


class OfferFailed(Exception):
    """Shopify did not do what an offer needed (userErrors, throttled, down, refused)."""


class ShopifyOffers:
    """Runs the offers' documents for one shop."""

    def __init__(self, runtime, shop_domain: str):
        self.runtime, self.shop_domain = runtime, shop_domain

    def query(self, name: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        try:
            with self.runtime.db.session() as session, \
                    AdminClient.for_shop(self.runtime, session, self.shop_domain) as client:
                return client.execute(name, variables or {})
        except AdminApiError as err:
            raise OfferFailed(err.message) from err

    def mutate(self, name: str, variables: dict[str, Any], field: str) -> dict[str, Any]:
        """The mutation's payload; raises ``OfferFailed`` with Shopify's words on userErrors."""
        payload = self.query(name, variables).get(field) or {}
        errors = payload.get("userErrors") or []
        if errors:
            words = "; ".join(_describe(error) for error in errors[:3])
            log.warning("shopify_user_errors", shop=self.shop_domain, operation=name, errors=words)
            raise OfferFailed(f"Shopify refused {name}: {words}")
        return payload


def _describe(error: dict) -> str:
    where = ".".join(error.get("field") or [])
    return f"{error.get('message')} ({where})" if where else str(error.get("message"))


def with_retries(call: Callable[[], T], delays: tuple[float, ...] = RETRY_DELAYS,
                 sleep: Callable[[float], None] = time.sleep) -> T:
    """``call()``, tried again after each delay while it raises ``OfferFailed``."""
    for delay in delays:
        try:
            return call()
        except OfferFailed as err:
            log.info("offer_call_retrying", error=str(err)[:200], delay=delay)
            sleep(delay)
    return call()
