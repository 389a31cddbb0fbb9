"""A local Shopify: the Admin GraphQL API on the real 2026-10 schema, and the OAuth token endpoint.

Every document received is validated (see ``admin_graphql.py`` for the schema side) against Shopify's published schema and executed on an
in-memory store with ``graphql.execute``, so answers have Shopify's exact shape. A document that
fails validation is answered like Shopify (HTTP 200, ``errors``) *and* recorded; the
``shopify_admin`` fixture fails the test at teardown when any was recorded.

Routing: the app is configured with ``shopify_admin_origin = double.origin``
(``<double.url>/{shop}``), so a shop's calls arrive at ``/<shop domain>/admin/...``.

Fixtures:
- ``shopify_admin`` — the running double, state reset per test; it sets ``app_config``'s
  ``shopify_admin_origin`` and is set up before ``app``/``client`` (see the collection hook).
- ``installed_shop`` — a ``Shop`` row (``backbell-demo.myshopify.com``) written directly with an
  expiring token pair the double issued (not through ``/app``: faster, and independent of the
  admin flow, which ``tests/admin`` covers).
"""

from __future__ import annotations

import itertools
import json
import secrets
import threading
import time
import uuid
from datetime import timedelta
from urllib.parse import urlparse

import graphql
import jwt
import pytest
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from plugin import clock
from tests.doubles.admin_graphql import (  # noqa: F401  (admin_schema, validate_document re-exported)
    MAX_QUERY_COST,
    FakeShop,
    FakeVariant,
    ShopResolvers,
    admin_schema,
    objects_in,
    operation_name,
    query_cost,
    validate_document,
)

DEMO_SHOP = "backbell-demo.myshopify.com"
INVALID_TOKEN_BODY = {"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}
MAX_AVAILABLE, RESTORE_RATE = 2000.0, 100.0


def make_session_token(shop: str, api_key: str, secret: str, **claims) -> str:
    """An App Bridge session (ID) token for ``shop`` as Shopify signs it; ``claims`` override.

    Stamped with the wall clock, not the app's: ``shopify_app`` checks it against the wall clock."""
    now = int(time.time())
    payload = {
        "iss": f"https://{shop}/admin",
        "dest": f"https://{shop}",
        "aud": api_key,
        "sub": "42",
        "exp": now + 60,
        "nbf": now - 5,
        "iat": now - 5,
        "jti": str(uuid.uuid4()),
        "sid": uuid.uuid4().hex,
    }
    payload.update(claims)
    return jwt.encode({k: v for k, v in payload.items() if v is not None}, secret, algorithm="HS256")


class ShopifyAdminDouble:
    def __init__(self, schema: graphql.GraphQLSchema):
        self.schema = schema
        self.url = ""
        self.app_config: dict = {}
        self._lock = threading.RLock()
        self._ids = itertools.count(1)
        self._routes = Map([
            Rule("/<shop>/admin/api/<version>/graphql.json", endpoint="graphql", methods=["POST"]),
            Rule("/<shop>/admin/oauth/access_token", endpoint="token", methods=["POST"]),
        ])
        self.reset()

    # -- configuration ---------------------------------------------------------------------------
    @property
    def origin(self) -> str:
        """What ``shopify_admin_origin`` must be set to."""
        return self.url + "/{shop}"

    def reset(self) -> None:
        with self._lock:
            self.shops: dict[str, FakeShop] = {}
            self.access_tokens: dict[str, tuple[str, float | None]] = {}
            self.refresh_tokens: dict[str, tuple[str, float]] = {}
            self.requests: list[dict] = []
            self.token_calls: list[dict] = []
            self.validation_failures: list[str] = []
            self.execution_errors: list[str] = []
            self.scopes = "read_products,read_inventory,read_orders,write_discounts"
            self.access_token_ttl, self.refresh_token_ttl = 3600, 90 * 24 * 3600
            self.token_delay = 0.0
            # Called (no arguments) while a GraphQL request is being answered: a test looks at
            # the database from there, while the app waits for Shopify.
            self.on_graphql = None
            self._throttle_next = 0
            self._failures: list[tuple[int, float | None]] = []
            self._bucket, self._bucket_at = MAX_AVAILABLE, time.monotonic()

    # -- store -----------------------------------------------------------------------------------
    def add_shop(self, shop: str, name: str | None = None, timezone: str = "America/New_York",
                 currency: str = "USD", locale: str = "en") -> FakeShop:
        with self._lock:
            self.shops[shop] = FakeShop(shop, name or shop.split(".")[0].replace("-", " ").title(),
                                        timezone, currency, locale)
            return self.shops[shop]

    def _shop(self, shop: str) -> FakeShop:
        return self.shops.get(shop) or self.add_shop(shop)

    def add_variant(self, shop: str, variant_id: int, *, product_id: int | None = None,
                    inventory_item_id: int | None = None, policy: str = "DENY", tracked: bool = True,
                    status: str = "ACTIVE", levels: dict[int, int] | None = None, title: str = "Default Title",
                    product_title: str = "Backbell Tee", handle: str = "backbell-tee",
                    price: str = "25.00") -> FakeVariant:
        with self._lock:
            record = FakeVariant(variant_id, product_id or variant_id + 1_000_000,
                                 inventory_item_id or variant_id + 2_000_000, title, price, policy, tracked,
                                 status, product_title, handle)
            state = self._shop(shop)
            state.variants[variant_id] = record
            state.levels[record.inventory_item_id] = dict(levels or {})
            return record

    def set_level(self, shop: str, inventory_item_id: int, location_id: int, qty: int) -> None:
        with self._lock:
            self._shop(shop).levels.setdefault(inventory_item_id, {})[location_id] = qty

    def remove_variant(self, shop: str, variant_id: int) -> None:
        with self._lock:
            self._shop(shop).variants.pop(variant_id, None)

    # -- tokens ----------------------------------------------------------------------------------
    def issue_tokens(self, shop: str, expires_in: int | None = None) -> dict:
        """A fresh expiring token pair for ``shop``, as the token endpoint would answer."""
        with self._lock:
            ttl = self.access_token_ttl if expires_in is None else expires_in
            access, refresh = "shpat_" + secrets.token_hex(16), "shprt_" + secrets.token_hex(16)
            self.access_tokens[access] = (shop, clock.timestamp() + ttl)
            self.refresh_tokens[refresh] = (shop, clock.timestamp() + self.refresh_token_ttl)
            return {"access_token": access, "scope": self.scopes, "expires_in": ttl,
                    "refresh_token": refresh, "refresh_token_expires_in": self.refresh_token_ttl}

    def revoke_access_token(self, token: str) -> None:
        with self._lock:
            self.access_tokens.pop(token, None)

    def token_valid(self, shop: str, token: str) -> bool:
        owner, expires = self.access_tokens.get(token, (None, None))
        return owner == shop and (expires is None or expires > clock.timestamp())

    @property
    def exchanges(self) -> int:
        return sum(1 for call in self.token_calls if call["grant_type"] == "token_exchange")

    @property
    def refreshes(self) -> int:
        return sum(1 for call in self.token_calls if call["grant_type"] == "refresh_token")

    # -- faults ----------------------------------------------------------------------------------
    def throttle_next(self, n: int = 1) -> None:
        """The next ``n`` GraphQL calls answer HTTP 200 with a THROTTLED error, reporting a bucket
        50 points short of the requested cost (so a client waits 0.5 s at 100 points/s)."""
        self._throttle_next += n

    def fail_next(self, status: int, n: int = 1, retry_after: float | None = None) -> None:
        """The next ``n`` GraphQL calls answer with HTTP ``status``."""
        self._failures.extend([(status, retry_after)] * n)

    def graphql_requests(self, operation: str | None = None) -> list[dict]:
        return [r for r in self.requests if r["kind"] == "graphql" and operation in (None, r["operation"])]

    # -- WSGI ------------------------------------------------------------------------------------
    def __call__(self, environ, start_response):
        request = Request(environ)
        adapter = self._routes.bind_to_environ(environ)
        try:
            endpoint, args = adapter.match()
        except Exception:
            return _json({"errors": "Not Found"}, 404)(environ, start_response)
        handler = self._graphql if endpoint == "graphql" else self._token
        return handler(request, **args)(environ, start_response)

    def _graphql(self, request: Request, shop: str, version: str) -> Response:
        body = request.get_json(silent=True) or {}
        query, variables = body.get("query") or "", body.get("variables") or {}
        token = request.headers.get("X-Shopify-Access-Token", "")
        with self._lock:
            self.requests.append({"kind": "graphql", "shop": shop, "version": version, "query": query,
                                  "variables": variables, "operation": operation_name(query),
                                  "host": request.host, "token": token})
            if not self.token_valid(shop, token):
                return _json(INVALID_TOKEN_BODY, 401)
            if self._failures:
                status, retry_after = self._failures.pop(0)
                headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
                return _json({"errors": "Internal Server Error" if status >= 500 else "Exceeded"}, status, headers)
        if self.on_graphql is not None:
            self.on_graphql()
        return self._run_document(shop, query, variables)

    def _run_document(self, shop: str, query: str, variables: dict) -> Response:
        try:
            document = graphql.parse(query)
        except graphql.GraphQLError as err:
            self.validation_failures.append(f"syntax: {err.message}")
            return _json({"errors": [err.formatted]}, 200)
        invalid = graphql.validate(self.schema, document)
        if invalid:
            self.validation_failures.extend(f"{operation_name(query)}: {e.message}" for e in invalid)
            return _json({"errors": [e.formatted for e in invalid]}, 200)
        requested = query_cost(self.schema, document, variables)
        if requested > MAX_QUERY_COST:
            self.validation_failures.append(f"{operation_name(query)}: requested cost {requested} > {MAX_QUERY_COST}")
            return _json({"errors": [{"message": f"Query cost is {requested}, which exceeds the single query max "
                                                 f"cost limit ({MAX_QUERY_COST}).",
                                      "extensions": {"code": "MAX_COST_EXCEEDED", "cost": requested,
                                                     "maxCost": MAX_QUERY_COST}}]}, 200)
        with self._lock:
            available = self._refill()
            if self._throttle_next or available < requested:
                self._throttle_next = max(0, self._throttle_next - 1)
                return _json(_throttled(requested, min(available, max(0.0, requested - 50))), 200)
            self._bucket -= requested
        result = graphql.execute(self.schema, document, root_value=ShopResolvers(self._shop(shop)),
                                 variable_values=variables)
        with self._lock:
            # Shopify refunds the difference between requested and actual cost after execution.
            actual = min(requested, 1 + objects_in(result.data))
            self._bucket = min(MAX_AVAILABLE, self._bucket + requested - actual)
            answer = {"data": result.data, "extensions": {"cost": _cost(requested, actual, self._bucket)}}
        if result.errors:
            self.execution_errors.extend(e.message for e in result.errors)
            answer["errors"] = [e.formatted for e in result.errors]
        return _json(answer, 200)

    def _refill(self) -> float:
        now = time.monotonic()
        self._bucket = min(MAX_AVAILABLE, self._bucket + (now - self._bucket_at) * RESTORE_RATE)
        self._bucket_at = now
        return self._bucket

    def _token(self, request: Request, shop: str) -> Response:
        body = request.get_json(silent=True) or request.form.to_dict()
        grant = body.get("grant_type", "")
        kind = "token_exchange" if grant.endswith(":token-exchange") else grant
        if self.token_delay:
            time.sleep(self.token_delay)  # widens the window a concurrent refresh would race in
        with self._lock:
            call = {"grant_type": kind, "shop": shop, "ok": False}
            self.token_calls.append(call)
            self.requests.append({"kind": "token", "shop": shop, "grant_type": kind, "host": request.host})
            if body.get("client_id") != self.app_config.get("shopify_api_key") or body.get(
                    "client_secret") != self.app_config.get("shopify_api_secret"):
                return _json({"error": "invalid_client"}, 401)
            if kind == "token_exchange":
                answer = self._exchange(shop, body)
            elif kind == "refresh_token":
                answer = self._refresh(shop, body)
            else:
                answer = _json({"error": "unsupported_grant_type"}, 400)
            call["ok"] = answer.status_code == 200
            return answer

    def _exchange(self, shop: str, body: dict) -> Response:
        try:
            claims = jwt.decode(body.get("subject_token", ""), self.app_config.get("shopify_api_secret"),
                                algorithms=["HS256"], audience=self.app_config.get("shopify_api_key"))
        except jwt.PyJWTError:
            return _json({"error": "invalid_subject_token"}, 400)
        if urlparse(claims.get("dest", "")).hostname != shop:
            return _json({"error": "invalid_subject_token"}, 400)
        if body.get("requested_token_type") != "urn:shopify:params:oauth:token-type:offline-access-token":
            return _json({"error": "invalid_request"}, 400)
        self._shop(shop)
        tokens = self.issue_tokens(shop)
        if str(body.get("expiring")) != "1":  # a non-expiring offline token
            self.access_tokens[tokens["access_token"]] = (shop, None)
            tokens = {"access_token": tokens["access_token"], "scope": self.scopes}
        return _json(tokens, 200)

    def _refresh(self, shop: str, body: dict) -> Response:
        owner, expires = self.refresh_tokens.pop(body.get("refresh_token", ""), (None, 0))
        if owner != shop or expires <= clock.timestamp():
            return _json({"error": "invalid_grant"}, 400)
        return _json(self.issue_tokens(shop), 200)


def _cost(requested: float, actual: float | None, available: float) -> dict:
    return {"requestedQueryCost": requested, "actualQueryCost": actual,
            "throttleStatus": {"maximumAvailable": MAX_AVAILABLE, "currentlyAvailable": available,
                               "restoreRate": RESTORE_RATE}}


def _throttled(requested: float, available: float) -> dict:
    return {"errors": [{"message": "Throttled", "extensions": {
        "code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/rate-limits"}}],
        "extensions": {"cost": _cost(requested, None, available)}}


def _json(payload, status: int, headers: dict | None = None) -> Response:
    return Response(json.dumps(payload), status=status, headers=headers or {}, content_type="application/json")


# -- fixtures --------------------------------------------------------------------------------------


def pytest_collection_modifyitems(config, items):
    # The double must set app_config before `app` is built, whatever order a test lists them in.
    for item in items:
        names = getattr(item, "fixturenames", None)
        for name in ("installed_shop", "shopify_admin"):
            if names and name in names:
                names.remove(name)
                names.insert(0, name)


@pytest.fixture(scope="session")
def shopify_admin_server():
    from tests.doubles.server import serve_wsgi  # imported here: pytest registers it as a plugin too

    double = ShopifyAdminDouble(admin_schema())
    server = serve_wsgi(double)
    double.url = server.url
    yield double
    server.stop()


@pytest.fixture
def shopify_admin(shopify_admin_server, app_config):
    """The Shopify double, reset, with the app pointed at it; fails the test on invalid documents."""
    double = shopify_admin_server
    double.reset()
    double.app_config = app_config
    app_config["shopify_admin_origin"] = double.origin
    yield double
    failures = list(double.validation_failures)
    assert not failures, f"documents sent to Shopify failed schema validation: {failures}"


def install_shop_directly(runtime, double: ShopifyAdminDouble, domain: str = DEMO_SHOP, **shop_fields):
    """A Shop row with a token pair the double issued (skips the /app token exchange)."""
    from plugin.clock import utcnow
    from plugin.models import Shop

    state = double.shops.get(domain) or double.add_shop(domain)
    tokens = double.issue_tokens(domain)
    now = utcnow()
    with runtime.db.session() as session:
        shop = Shop(domain=domain, name=state.name, timezone=state.timezone, currency=state.currency,
                    primary_locale=state.locale, scopes=tokens["scope"],
                    access_token=runtime.vault.encrypt(tokens["access_token"]),
                    access_token_expires_at=now + timedelta(seconds=tokens["expires_in"]),
                    refresh_token=runtime.vault.encrypt(tokens["refresh_token"]),
                    refresh_token_expires_at=now + timedelta(seconds=tokens["refresh_token_expires_in"]),
                    **shop_fields)
        session.add(shop)
    return shop


@pytest.fixture
def installed_shop(shopify_admin, runtime):
    """``backbell-demo.myshopify.com``, installed with a valid expiring token the double accepts."""
    return install_shop_directly(runtime, shopify_admin)
