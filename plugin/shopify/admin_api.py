"""THE one place that sends GraphQL to a shop's Admin API.

``AdminClient.for_shop(runtime, session, shop).execute("VariantStock", {"ids": [...]})`` returns
the ``data`` object. Around ``shopify_app.admin_graphql_request`` (its own retries are switched
off, because they sleep with ``time.sleep`` and ignore Shopify's cost-based throttling) it adds:

- cost logging from ``extensions.cost`` (requested, actual, still available);
- waiting out ``THROTTLED`` (HTTP 200) for exactly as long as the restore rate needs to refill
  the requested cost, and a 429 for its ``Retry-After`` — Shopify's own numbers, bounded in
  attempts and in total time; ``sleep`` is injectable so tests run fast without patching;
- a 5xx, a network error, or a 429 / ``THROTTLED`` without numbers raises a transient
  ``AdminApiError`` at once: the task's Celery retry (``autoretry_for``, exponential backoff with
  jitter) tries again later, instead of a hand-written backoff sleeping inside the request;
- one token refresh and retry after a 401;
- ``AdminApiError(message, transient)`` for everything else.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import httpx
from shopify_app import GQLResult
from sqlalchemy.orm import Session

from plugin.logging import get_logger
from plugin.shopify.documents import load_document
from plugin.shopify.errors import AdminApiError, ShopNotInstalled  # noqa: F401  (re-exported)
from plugin.shopify.http import shop_name, shopify_http_client
from plugin.shopify.tokens import ensure_fresh_token, refresh_rejected_token, shopify_app_for

log = get_logger(__name__)

MAX_ATTEMPTS = 5
MAX_TOTAL_WAIT = 60.0


class AdminClient:
    """Sends documents for one shop. Close it (or use ``with``) to release connections."""

    def __init__(
        self,
        runtime,
        session: Session,
        shop: str,
        *,
        http: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
        max_attempts: int = MAX_ATTEMPTS,
        max_total_wait: float = MAX_TOTAL_WAIT,
    ):
        self.runtime = runtime
        self.session = session
        self.shop = shop
        self._http = http or shopify_http_client(runtime.settings)
        self._owns_http = http is None
        self._sleep = sleep
        self._max_attempts = max_attempts
        self._max_total_wait = max_total_wait
        self._token: str | None = None

    @classmethod
    def for_shop(cls, runtime, session: Session, shop, **options) -> "AdminClient":
        """A client for an installed shop (its ``*.myshopify.com`` domain or its ``Shop`` row);
        raises ``ShopNotInstalled`` otherwise."""
        client = cls(runtime, session, getattr(shop, "domain", shop), **options)
        client._token = ensure_fresh_token(runtime, session, shop)
        return client

    def execute(self, name_or_document: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """Run a document (by name from ``documents/``, or its text) and return ``data``."""
        query = name_or_document if "{" in name_or_document else load_document(name_or_document)
        operation = name_or_document if "{" not in name_or_document else "inline"
        waited, attempt, refreshed = 0.0, 0, False
        while True:
            attempt += 1
            status, payload, retry_after = self._send(query, variables)
            if status == 401 and not refreshed:
                refreshed = True
                self._token = refresh_rejected_token(self.runtime, self.session, self.shop, self._token or "")
                continue
            self._log_cost(operation, status, payload)
            delay = self._retry_delay(operation, status, payload, retry_after)
            if delay is None:
                return payload.get("data") or {}
            if delay < 0 or attempt >= self._max_attempts or waited + delay > self._max_total_wait:
                raise AdminApiError(
                    f"Shopify kept refusing {operation} for {self.shop} (HTTP {status}) after {attempt} attempts",
                    transient=True, status=status, errors=payload.get("errors") or [],
                )
            log.info("shopify_graphql_retry", shop=self.shop, operation=operation, status=status,
                     attempt=attempt, delay=round(delay, 3))
            self._sleep(delay)
            waited += delay

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> "AdminClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _send(self, query: str, variables: dict | None) -> tuple[int, dict, float | None]:
        if self._token is None:
            self._token = ensure_fresh_token(self.runtime, self.session, self.shop)
        result: GQLResult = shopify_app_for(self.runtime.settings).admin_graphql_request(
            query,
            shop=shop_name(self.shop),
            access_token=self._token,
            api_version=self.runtime.settings.shopify_api_version,
            variables=variables,
            max_retries=0,
            http_client=self._http,
        )
        # shopify_app replaces the body of a final 429 with its own; the real one is in http_logs.
        raw = result.http_logs[-1].res if result.http_logs else result.response
        return result.response.status, _json_object(raw.body), _retry_after(raw.headers)

    def _retry_delay(self, operation, status, payload, retry_after) -> float | None:
        """None when the answer is final and good; the wait Shopify asks for before trying again
        here; -1 for a transient failure left to the caller's retry; raises when permanent."""
        errors = payload.get("errors")
        if status == 200 and not errors:
            return None
        if status == 200 and _is_throttled(errors):
            wait = _throttle_wait(payload)
            return -1 if wait is None else wait
        if status == 429 or status >= 500 or status == 0:
            return retry_after if status == 429 and retry_after is not None else -1
        message = _error_message(errors) or f"HTTP {status}"
        log.warning("shopify_graphql_failed", shop=self.shop, operation=operation, status=status, error=message)
        raise AdminApiError(f"{operation} failed for {self.shop}: {message}", transient=False,
                            status=status, errors=errors if isinstance(errors, list) else [])

    def _log_cost(self, operation: str, status: int, payload: dict) -> None:
        cost = (payload.get("extensions") or {}).get("cost") or {}
        throttle = cost.get("throttleStatus") or {}
        log.info(
            "shopify_graphql",
            shop=self.shop,
            operation=operation,
            status=status,
            requested_cost=cost.get("requestedQueryCost"),
            actual_cost=cost.get("actualQueryCost"),
            available=throttle.get("currentlyAvailable"),
        )


def _json_object(body: str) -> dict:
    try:
        value = json.loads(body) if body else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _retry_after(headers: dict) -> float | None:
    value = {k.lower(): v for k, v in (headers or {}).items()}.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _is_throttled(errors) -> bool:
    return isinstance(errors, list) and any(
        isinstance(e, dict) and (e.get("extensions") or {}).get("code") == "THROTTLED" for e in errors
    )


def _throttle_wait(payload: dict) -> float | None:
    """Seconds until the bucket holds the requested cost again, from Shopify's own numbers."""
    cost = (payload.get("extensions") or {}).get("cost") or {}
    throttle = cost.get("throttleStatus") or {}
    requested, available, rate = (
        cost.get("requestedQueryCost"), throttle.get("currentlyAvailable"), throttle.get("restoreRate"))
    if not all(isinstance(v, (int, float)) for v in (requested, available, rate)) or rate <= 0:
        return None
    return max(0.05, (requested - available) / rate)


def _error_message(errors) -> str:
    if isinstance(errors, str):
        return errors
    if isinstance(errors, list):
        return "; ".join(str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in errors[:3])
    return ""
