"""A local Shopify: the Admin GraphQL API on the real 2026-10 schema, and the OAuth token endpoint.

Builds on the demo's packaged stand-in (``plugin.demo.shopify.ShopifyStandIn``: the in-memory
store, token issuing and the token endpoint) and replaces how documents are answered: every
document received is validated (see ``admin_graphql.py`` for the schema side) against Shopify's
published schema, costed, throttled like Shopify, and executed on the in-memory store with
``graphql.execute``, so answers have Shopify's exact shape. A document that fails validation is
answered like Shopify (HTTP 200, ``errors``) *and* recorded; the ``shopify_admin`` fixture fails
the test at teardown when any was recorded.

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

import time
from datetime import timedelta

import graphql
import pytest
from werkzeug.wrappers import Request, Response

from plugin.demo.shopify import ShopifyStandIn, json_response
from plugin.demo.signing import make_session_token  # noqa: F401  (re-exported)
from plugin.demo.store import operation_name
from tests.doubles.admin_graphql import (  # noqa: F401  (admin_schema, validate_document re-exported)
    MAX_QUERY_COST,
    MUTATION_COST,
    document_is_mutation,
    ShopResolvers,
    admin_schema,
    objects_in,
    query_cost,
    validate_document,
)

DEMO_SHOP = "backbell-demo.myshopify.com"
MAX_AVAILABLE, RESTORE_RATE = 2000.0, 100.0


class ShopifyAdminDouble(ShopifyStandIn):
    """The packaged stand-in, answering on Shopify's schema, with its cost limits and faults."""

    def __init__(self, schema: graphql.GraphQLSchema):
        self.schema = schema
        super().__init__()

    def reset(self) -> None:
        with self._lock:
            super().reset()
            self.validation_failures: list[str] = []
            self.execution_errors: list[str] = []
            self.token_delay = 0.0
            self.graphql_delay = 0.0  # seconds each GraphQL call waits after it is recorded
            # Called (no arguments) while a GraphQL request is being answered: a test looks at
            # the database from there, while the app waits for Shopify.
            self.on_graphql = None
            self._throttle_next = 0
            self._failures: list[tuple[int, float | None]] = []
            self._denied: set[str] = set()
            self._bucket, self._bucket_at = MAX_AVAILABLE, time.monotonic()
            # Bulk operations (tests/doubles/customers.py): uploaded files by key, results by number.
            self.uploads: dict[str, bytes] = {}
            self.bulk_operations: dict[int, dict] = {}
            self.bulk_results: dict[int, str] = {}
            self.file_requests: list[str] = []
            # Bulk queries (tests/doubles/bulk_queries.py): polls answered RUNNING before the end, how
            # they end, an optional edit of the result lines (a test corrupts the file), partial files,
            # and the signed result URLs handed out (signature -> expired?).
            self.bulk_query_polls = 0
            self.bulk_query_outcome = None
            self.bulk_result_edit = None
            self.bulk_partial_results: dict[int, str] = {}
            self._signatures: dict[str, bool] = {}
            self._born_expired = 0
            # Every answered document's cost as Shopify reports it (operation, requested, actual).
            self.costs: list[dict] = []

    # -- staged uploads and bulk results (plain HTTP, not the Admin API) --------------------------
    def __call__(self, environ, start_response):
        request = Request(environ)
        if request.path == "/staged-uploads" and request.method == "POST":
            self.file_requests.append("upload")
            upload = request.files.get("file")
            if not request.form.get("key") or upload is None:
                return Response("missing key or file", status=400)(environ, start_response)
            self.uploads[request.form["key"]] = upload.read()
            return Response(status=201)(environ, start_response)
        if request.path.startswith("/bulk-results/") and request.method == "GET":
            self.file_requests.append("download")
            signature = request.args.get("sig")
            if signature is not None and self._signatures.get(signature, True):
                # Google Cloud Storage's answer to a signed URL past its expiry
                return Response("<Error><Code>ExpiredToken</Code></Error>", status=400,
                                content_type="application/xml")(environ, start_response)
            name = request.path.rsplit("/", 1)[-1].removesuffix(".jsonl")
            number = name.removesuffix("-partial")
            results = self.bulk_partial_results if name.endswith("-partial") else self.bulk_results
            text = results.get(int(number)) if number.isdigit() else None
            if text is None:
                return Response("not found", status=404)(environ, start_response)
            return Response(text, content_type="application/jsonl")(environ, start_response)
        return super().__call__(environ, start_response)

    def signed_result_url(self, number: int, partial: bool = False) -> str:
        """A fresh signed URL of a bulk query's result file (each poll hands out a new one)."""
        with self._lock:
            signature = f"s{len(self._signatures) + 1}"
            self._signatures[signature] = self._born_expired > 0
            self._born_expired = max(0, self._born_expired - 1)
        return f"{self.url}/bulk-results/{number}{'-partial' if partial else ''}.jsonl?sig={signature}"

    # -- faults ----------------------------------------------------------------------------------
    def expire_bulk_urls(self) -> None:
        """Every bulk result URL handed out so far has expired (400 ExpiredToken); polls give new ones."""
        with self._lock:
            self._signatures = dict.fromkeys(self._signatures, True)

    def expire_next_bulk_urls(self, n: int = 1) -> None:
        """The next ``n`` result URLs handed out have expired by the time they are fetched."""
        with self._lock:
            self._born_expired += n

    def hold_bulk_query(self, shop: str) -> str:
        """Another bulk query of the app, started elsewhere, running on ``shop`` until the test ends."""
        from tests.doubles.bulk_queries import bulk_operation_ids

        with self._lock:
            number = next(bulk_operation_ids)
            self.bulk_results[number] = ""
            self.bulk_operations[number] = {
                "__typename": "BulkOperation", "id": f"gid://shopify/BulkOperation/{number}", "type": "QUERY",
                "status": "RUNNING", "errorCode": None, "query": "{ products { edges { node { id } } } }",
                "shop": shop, "objectCount": "0", "rootObjectCount": "0", "fileSize": None, "url": None,
                "partialDataUrl": None, "createdAt": "2026-01-01T00:00:00Z", "completedAt": None,
                "_lines": [], "_polls_left": 10**9, "_outcome": None}
            return self.bulk_operations[number]["id"]

    def throttle_next(self, n: int = 1) -> None:
        """The next ``n`` GraphQL calls answer HTTP 200 with a THROTTLED error, reporting a bucket
        50 points short of the requested cost (so a client waits 0.5 s at 100 points/s)."""
        self._throttle_next += n

    def deny(self, operation: str) -> None:
        """Answer ``operation`` as Shopify answers a document that needs a scope the app was not
        granted: HTTP 200, no data, an ``ACCESS_DENIED`` error."""
        self._denied.add(operation)

    def fail_next(self, status: int, n: int = 1, retry_after: float | None = None) -> None:
        """The next ``n`` GraphQL calls answer with HTTP ``status``."""
        self._failures.extend([(status, retry_after)] * n)

    def _refusal(self) -> Response | None:
        if not self._failures:
            return None
        status, retry_after = self._failures.pop(0)
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        return json_response({"errors": "Internal Server Error" if status >= 500 else "Exceeded"}, status, headers)

    def _token(self, request: Request, shop: str) -> Response:
        if self.token_delay:
            time.sleep(self.token_delay)  # widens the window a concurrent refresh would race in
        return super()._token(request, shop)

    # -- documents on the schema -----------------------------------------------------------------
    def _run_document(self, shop: str, query: str, variables: dict) -> Response:
        if self.on_graphql is not None:
            self.on_graphql()
        if self.graphql_delay:
            time.sleep(self.graphql_delay)  # a slow Shopify: the caller is mid-request while the test acts
        try:
            document = graphql.parse(query)
        except graphql.GraphQLError as err:
            self.validation_failures.append(f"syntax: {err.message}")
            return json_response({"errors": [err.formatted]}, 200)
        invalid = graphql.validate(self.schema, document)
        if invalid:
            self.validation_failures.extend(f"{operation_name(query)}: {e.message}" for e in invalid)
            return json_response({"errors": [e.formatted for e in invalid]}, 200)
        if operation_name(query) in self._denied:
            return json_response({"data": None, "errors": [{
                "message": f"Access denied for {operation_name(query)}.",
                "extensions": {"code": "ACCESS_DENIED"}}]}, 200)
        requested = query_cost(self.schema, document, variables)
        if requested > MAX_QUERY_COST:
            self.validation_failures.append(f"{operation_name(query)}: requested cost {requested} > {MAX_QUERY_COST}")
            return json_response({"errors": [{
                "message": f"Query cost is {requested}, which exceeds the single query max cost limit "
                           f"({MAX_QUERY_COST}).",
                "extensions": {"code": "MAX_COST_EXCEEDED", "cost": requested, "maxCost": MAX_QUERY_COST}}]}, 200)
        with self._lock:
            available = self._refill()
            if self._throttle_next or available < requested:
                self._throttle_next = max(0, self._throttle_next - 1)
                return json_response(_throttled(requested, min(available, max(0.0, requested - 50))), 200)
            self._bucket -= requested
        result = graphql.execute(self.schema, document, root_value=ShopResolvers(self._shop(shop), self),
                                 variable_values=variables)
        with self._lock:
            # Shopify refunds the difference between requested and actual cost after execution; a
            # mutation costs at least its 10 (bulkOperationRunQuery: "costs 10").
            floor = MUTATION_COST if document_is_mutation(document) else 0
            actual = min(requested, max(floor, 1 + objects_in(result.data)))
            self._bucket = min(MAX_AVAILABLE, self._bucket + requested - actual)
            answer = {"data": result.data, "extensions": {"cost": _cost(requested, actual, self._bucket)}}
            self.costs.append({"operation": operation_name(query), "requested": requested, "actual": actual})
        if result.errors:
            self.execution_errors.extend(e.message for e in result.errors)
            answer["errors"] = [e.formatted for e in result.errors]
        return json_response(answer, 200)

    def _refill(self) -> float:
        now = time.monotonic()
        self._bucket = min(MAX_AVAILABLE, self._bucket + (now - self._bucket_at) * RESTORE_RATE)
        self._bucket_at = now
        return self._bucket


def _cost(requested: float, actual: float | None, available: float) -> dict:
    return {"requestedQueryCost": requested, "actualQueryCost": actual,
            "throttleStatus": {"maximumAvailable": MAX_AVAILABLE, "currentlyAvailable": available,
                               "restoreRate": RESTORE_RATE}}


def _throttled(requested: float, available: float) -> dict:
    return {"errors": [{"message": "Throttled", "extensions": {
        "code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/rate-limits"}}],
        "extensions": {"cost": _cost(requested, None, available)}}


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
