"""Shopify, played in memory: the OAuth token endpoint and the Admin GraphQL API.

``backbell demo`` cannot reach a real shop, so this stand-in plays one. It ships in the package
(the demo must work after a plain ``pip install``) and needs nothing beyond the app's own
dependencies: no schema, no GraphQL engine. It answers the app's own documents
(``plugin/shopify/documents``) by operation name, from an in-memory store of shops, variants and
inventory levels, in the JSON shape Shopify gives them. The test suite's double
(``tests/doubles/shopify_admin.py``) builds on this class and replaces the answering with
validation and execution on Shopify's official schema; ``tests/demo/test_shopify.py`` checks that
both give the same answer to every document, so this one cannot drift from the schema.

Routing: the app is configured with ``shopify_admin_origin = stand_in.origin``
(``<url>/{shop}``), so a shop's calls arrive at ``/<shop domain>/admin/...``. Token lifetimes are
reckoned on ``plugin.clock``, like the app's own expiry checks.
"""

from __future__ import annotations

import json
import secrets
import threading
from urllib.parse import urlparse

import jwt
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from plugin import clock
from plugin.demo import offers_store
from plugin.demo.store import FakeShop, FakeVariant, UnknownDocument, answer_document, operation_name

INVALID_TOKEN_BODY = {"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}
OFFLINE_TOKEN_TYPE = "urn:shopify:params:oauth:token-type:offline-access-token"


class ShopifyStandIn:
    """A WSGI app playing every shop's token endpoint and Admin GraphQL API."""

    def __init__(self):
        self.url = ""
        self.app_config: dict = {}  # the app's shopify_api_key / shopify_api_secret
        self._lock = threading.RLock()
        self._routes = Map([
            Rule("/<shop>/admin/api/<version>/graphql.json", endpoint="graphql", methods=["POST"]),
            Rule("/<shop>/admin/oauth/access_token", endpoint="token", methods=["POST"]),
        ])
        self.reset()

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
            self.scopes = "read_products,read_inventory,read_orders,read_locales,write_discounts,write_draft_orders"
            self.access_token_ttl, self.refresh_token_ttl = 3600, 90 * 24 * 3600

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

    def add_customer(self, shop: str, customer_id: int, tags: list[str], email: str | None = None) -> None:
        with self._lock:
            self._shop(shop).customers[customer_id] = {"id": customer_id, "email": email, "phone": None,
                                                       "tags": list(tags), "metafields": {}, "email_consent": None}

    def set_level(self, shop: str, inventory_item_id: int, location_id: int, qty: int) -> None:
        with self._lock:
            self._shop(shop).levels.setdefault(inventory_item_id, {})[location_id] = qty

    def remove_variant(self, shop: str, variant_id: int) -> None:
        with self._lock:
            self._shop(shop).variants.pop(variant_id, None)

    def offers(self, shop: str) -> offers_store.OfferState:
        """The shop's discounts (with the codes Shopify received) and draft orders."""
        return self._shop(shop).offers

    def refuse_next(self, shop: str, mutation: str, n: int = 1, message: str = "Something went wrong",
                    code: str | None = "INVALID") -> None:
        """The next ``n`` calls of ``mutation`` (a field name such as ``discountRedeemCodeBulkAdd``)
        answer with one userError instead of doing anything."""
        error = {"field": ["base"], "message": message}
        if mutation.startswith("discount"):
            error.update({"__typename": "DiscountUserError", "code": code, "extraInfo": None})
        else:
            error["__typename"] = "UserError"
        with self._lock:
            self._shop(shop).offers.refusals.setdefault(mutation, []).extend([[dict(error)] for _ in range(n)])

    def complete_draft_order(self, shop: str, draft_order_id: int) -> int:
        """The shopper paid a draft order's invoice; returns the new order's id."""
        with self._lock:
            return offers_store.complete_draft_order(self._shop(shop), draft_order_id)

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

    def graphql_requests(self, operation: str | None = None) -> list[dict]:
        return [r for r in self.requests if r["kind"] == "graphql" and operation in (None, r["operation"])]

    # -- WSGI ------------------------------------------------------------------------------------
    def __call__(self, environ, start_response):
        request = Request(environ)
        adapter = self._routes.bind_to_environ(environ)
        try:
            endpoint, args = adapter.match()
        except Exception:
            return json_response({"errors": "Not Found"}, 404)(environ, start_response)
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
                return json_response(INVALID_TOKEN_BODY, 401)
            refusal = self._refusal()
            if refusal is not None:
                return refusal
        return self._run_document(shop, query, variables)

    def _refusal(self) -> Response | None:
        """An answer given instead of running the document (the test double injects faults here)."""
        return None

    def _run_document(self, shop: str, query: str, variables: dict) -> Response:
        with self._lock:
            try:
                data = answer_document(self._shop(shop), operation_name(query), variables)
            except UnknownDocument as err:
                return json_response({"errors": [{"message": str(err)}]}, 200)
        return json_response({"data": data}, 200)

    def _token(self, request: Request, shop: str) -> Response:
        body = request.get_json(silent=True) or request.form.to_dict()
        grant = body.get("grant_type", "")
        kind = "token_exchange" if grant.endswith(":token-exchange") else grant
        with self._lock:
            call = {"grant_type": kind, "shop": shop, "ok": False}
            self.token_calls.append(call)
            self.requests.append({"kind": "token", "shop": shop, "grant_type": kind, "host": request.host})
            if body.get("client_id") != self.app_config.get("shopify_api_key") or body.get(
                    "client_secret") != self.app_config.get("shopify_api_secret"):
                return json_response({"error": "invalid_client"}, 401)
            if kind == "token_exchange":
                answer = self._exchange(shop, body)
            elif kind == "refresh_token":
                answer = self._refresh(shop, body)
            else:
                answer = json_response({"error": "unsupported_grant_type"}, 400)
            call["ok"] = answer.status_code == 200
            return answer

    def _exchange(self, shop: str, body: dict) -> Response:
        try:
            claims = jwt.decode(body.get("subject_token", ""), self.app_config.get("shopify_api_secret"),
                                algorithms=["HS256"], audience=self.app_config.get("shopify_api_key"))
        except jwt.PyJWTError:
            return json_response({"error": "invalid_subject_token"}, 400)
        if urlparse(claims.get("dest", "")).hostname != shop:
            return json_response({"error": "invalid_subject_token"}, 400)
        if body.get("requested_token_type") != OFFLINE_TOKEN_TYPE:
            return json_response({"error": "invalid_request"}, 400)
        self._shop(shop)
        tokens = self.issue_tokens(shop)
        if str(body.get("expiring")) != "1":  # a non-expiring offline token
            self.access_tokens[tokens["access_token"]] = (shop, None)
            tokens = {"access_token": tokens["access_token"], "scope": self.scopes}
        return json_response(tokens, 200)

    def _refresh(self, shop: str, body: dict) -> Response:
        owner, expires = self.refresh_tokens.pop(body.get("refresh_token", ""), (None, 0))
        if owner != shop or expires <= clock.timestamp():
            return json_response({"error": "invalid_grant"}, 400)
        return json_response(self.issue_tokens(shop), 200)


def json_response(payload, status: int, headers: dict | None = None) -> Response:
    return Response(json.dumps(payload), status=status, headers=headers or {}, content_type="application/json")
