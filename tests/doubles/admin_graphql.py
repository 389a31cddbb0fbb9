"""The Admin GraphQL side of the Shopify double: the official schema, resolvers that answer on it
from the in-memory shop (``plugin.demo.store``, shared with the demo's Shopify stand-in), and
Shopify's query cost rules (requested cost before execution).
"""

from __future__ import annotations

import gzip
import json
from functools import cache
from pathlib import Path

import graphql

from plugin.demo import offers_store as offers
from plugin.demo.search import SearchSyntaxError
from plugin.demo.store import FakeShop, FakeVariant, customer_fields, gid, gid_number, main_theme, search_customers
from tests.doubles.bulk_queries import BulkQueryResolvers, matches_id_search
from tests.doubles.customers import CustomerResolvers
from tests.doubles.shopify_schema import schema_path

MAX_QUERY_COST = 1000  # Shopify refuses a single query whose requested cost is higher
MUTATION_COST = 10  # every mutation field costs 10


@cache
def admin_schema(path: Path | None = None) -> graphql.GraphQLSchema:
    """The official schema; by default the npm package's file (tests/doubles/shopify_schema.py)."""
    with gzip.open(path or schema_path(), "rt", encoding="utf-8") as handle:
        schema = graphql.build_client_schema(json.load(handle)["data"])
    # graphql-core 3.3 rejects a few of Shopify's deprecation annotations; the schema is official.
    schema._validation_errors = []
    return schema


def validate_document(text: str) -> list[str]:
    """Validation errors of a document against the Admin schema (empty when valid)."""
    try:
        document = graphql.parse(text)
    except graphql.GraphQLError as err:
        return [err.message]
    return [e.message for e in graphql.validate(admin_schema(), document)]


class ShopResolvers(BulkQueryResolvers, CustomerResolvers):
    """Root fields of ``QueryRoot`` and ``Mutation`` the app uses (``CustomerResolvers`` adds the
    customer-sync mutations); results are plain dicts on the real schema. Offer mutations change the
    in-memory shop through ``plugin.demo.offers_store``."""

    def __init__(self, state: FakeShop, double=None):
        self._state = state
        self._double = double

    def nodes(self, info, ids):
        return [self._node(i) for i in ids]

    def node(self, info, id):
        return self._node(id)

    def productVariant(self, info, id):
        return self._variant(gid_number(id, "ProductVariant"))

    def productVariants(self, info, query=None, first=None, **_):
        # Bulk queries (context "bulk") ignore paging, as Shopify does; otherwise `first` (default 50).
        try:
            ids = [v for v in sorted(self._state.variants) if matches_id_search(query, v)]
        except ValueError as err:
            self._double.validation_failures.append(f"productVariants(query:): {err}")
            raise graphql.GraphQLError(str(err)) from None
        if not _bulk(info):
            ids = ids[: first or 50]
        nodes = [self._variant(v) for v in ids]
        return {"nodes": nodes, "edges": [{"cursor": str(i), "node": n} for i, n in enumerate(nodes)],
                "pageInfo": {"hasNextPage": False, "hasPreviousPage": False, "startCursor": None, "endCursor": None}}

    def inventoryItem(self, info, id):
        number = gid_number(id, "InventoryItem")
        variant = next((v for v in self._state.variants.values() if v.inventory_item_id == number), None)
        return self._variant(variant.variant_id)["inventoryItem"] if variant else None

    def customers(self, info, first=None, query=None, **_):
        """``customers(query:)``: the search run on the in-memory customers with Shopify's syntax
        (``plugin.demo.search``: a free-text term would match far more than one address)."""
        try:
            nodes = search_customers(self._state, query, first)
        except SearchSyntaxError as err:
            raise graphql.GraphQLError(f"Invalid search query: {err}") from None
        return {"nodes": nodes, "edges": [{"cursor": str(i), "node": n} for i, n in enumerate(nodes)],
                "pageInfo": {"hasNextPage": False, "hasPreviousPage": False, "startCursor": None, "endCursor": None}}

    def shop(self, info):
        state = self._state
        host = state.primary_domain or state.domain
        return {"__typename": "Shop", "id": gid("Shop", abs(hash(state.domain)) % 10**9), "name": state.name,
                "myshopifyDomain": state.domain, "ianaTimezone": state.timezone, "currencyCode": state.currency,
                "contactEmail": "owner@example.com",
                "primaryDomain": {"__typename": "Domain", "id": gid("Domain", 1), "host": host,
                                  "url": f"https://{host}", "sslEnabled": True}}

    def shopLocales(self, info, published=None):
        return [{"locale": self._state.locale, "name": self._state.locale, "primary": True, "published": True}]

    def themes(self, info, roles=None, first=None, **_):
        # The store has one theme, the live one; asking for other roles finds nothing.
        nodes = [self._theme()] if not roles or "MAIN" in roles else []
        return {"nodes": nodes[: first or 50], "edges": [{"cursor": str(i), "node": n} for i, n in enumerate(nodes)],
                "pageInfo": {"hasNextPage": False, "hasPreviousPage": False, "startCursor": None, "endCursor": None}}

    def _theme(self):
        theme = main_theme(self._state)
        by_name = {node["filename"]: node for node in theme["files"]["nodes"]}

        def files(info, filenames=None, first=None, **_):
            nodes = [{"__typename": "OnlineStoreThemeFile", "filename": name,
                      "body": {"__typename": "OnlineStoreThemeFileBodyText", **by_name[name]["body"]}}
                     for name in sorted(by_name) if filenames is None or name in filenames][: first or 50]
            return {"nodes": nodes, "edges": [{"cursor": str(i), "node": n} for i, n in enumerate(nodes)],
                    "pageInfo": {"hasNextPage": False, "hasPreviousPage": False, "startCursor": None,
                                 "endCursor": None}}

        return {"__typename": "OnlineStoreTheme", "id": theme["id"], "name": theme["name"], "role": "MAIN",
                "files": files}

    # -- offers: discounts and draft orders ------------------------------------------------------
    def discountCodeBasicCreate(self, info, basicCodeDiscount):
        result = offers.create_discount(self._state, basicCodeDiscount)
        return {"codeDiscountNode": result["node"], "userErrors": result["userErrors"]}

    def discountRedeemCodeBulkAdd(self, info, discountId, codes):
        result = offers.add_codes(self._state, discountId, codes)
        return {"bulkCreation": offers.bulk_record(result["bulk"]), "userErrors": result["userErrors"]}

    def discountRedeemCodeBulkCreation(self, info, id):
        return offers.bulk_record(offers.poll_bulk(self._state, id))

    def discountCodeDeactivate(self, info, id):
        result = offers.deactivate_discount(self._state, id)
        return {"codeDiscountNode": result["node"], "userErrors": result["userErrors"]}

    def draftOrderCreate(self, info, input):
        result = offers.create_draft_order(self._state, input)
        return {"draftOrder": offers.draft_record(result["draft"]), "userErrors": result["userErrors"]}

    def draftOrderDelete(self, info, input):
        return offers.delete_draft_order(self._state, input["id"])

    def draftOrder(self, info, id):
        return offers.draft_record(self._state.offers.draft_orders.get(gid_number(id, "DraftOrder")))

    def _node(self, value):
        kind = value.split("/")[3] if isinstance(value, str) and value.count("/") >= 4 else None
        if kind is None:
            raise graphql.GraphQLError(f"Invalid global id '{value}'")
        if kind == "ProductVariant":
            return self._variant(gid_number(value, kind))
        if kind == "BulkOperation":
            return self._bulk_operation(value)
        if kind == "Customer":
            customer = customer_fields(self._state, value)
            return {"__typename": "Customer", **customer} if customer else None
        return None

    def _variant(self, variant_id):
        record = self._state.variants.get(variant_id)
        if record is None:
            return None
        product = {"__typename": "Product", "id": gid("Product", record.product_id), "title": record.product_title,
                   "handle": record.handle, "status": record.status}
        item = {"__typename": "InventoryItem", "id": gid("InventoryItem", record.inventory_item_id),
                "tracked": record.tracked,
                "inventoryLevels": lambda info, first=None, **_: self._levels(record, None if _bulk(info) else first,
                                                                              unpaged=_bulk(info)),
                "variant": lambda info: self._variant(variant_id)}
        total = sum(self._state.levels.get(record.inventory_item_id, {}).values())
        return {"__typename": "ProductVariant", "id": gid("ProductVariant", record.variant_id),
                "title": record.title, "price": record.price, "inventoryPolicy": record.policy,
                "displayName": f"{record.product_title} - {record.title}", "inventoryQuantity": total,
                "availableForSale": total > 0 or record.policy == "CONTINUE", "product": product, "inventoryItem": item}

    def _levels(self, record: FakeVariant, first, unpaged: bool = False):
        every = sorted(self._state.levels.get(record.inventory_item_id, {}).items())
        levels = every if unpaged else every[: first or 50]
        nodes = [self._level(record.inventory_item_id, location, qty) for location, qty in levels]
        return {"nodes": nodes, "edges": [{"cursor": str(i), "node": n} for i, n in enumerate(nodes)],
                "pageInfo": {"hasNextPage": len(every) > len(levels), "hasPreviousPage": False,
                             "startCursor": None, "endCursor": None}}

    @staticmethod
    def _level(item_id: int, location_id: int, qty: int) -> dict:
        level_id = f"gid://shopify/InventoryLevel/{location_id}?inventory_item_id={item_id}"
        return {"__typename": "InventoryLevel", "id": level_id,
                "location": {"__typename": "Location", "id": gid("Location", location_id), "name": f"Location {location_id}"},
                "quantities": lambda info, names: [
                    {"id": f"{level_id}&name={name}", "name": name, "quantity": qty if name == "available" else 0}
                    for name in names]}


def _bulk(info) -> bool:
    return isinstance(info.context, dict) and bool(info.context.get("bulk"))


def document_is_mutation(document: graphql.DocumentNode) -> bool:
    operation = next(d for d in document.definitions if isinstance(d, graphql.OperationDefinitionNode))
    return operation.operation == graphql.OperationType.MUTATION


def query_cost(schema: graphql.GraphQLSchema, document: graphql.DocumentNode, variables: dict) -> int:
    """Shopify-like requested cost: 1 per object field, connections multiplied by ``first``."""
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, graphql.FragmentDefinitionNode)}
    operation = next(d for d in document.definitions if isinstance(d, graphql.OperationDefinitionNode))
    root = schema.mutation_type if operation.operation == graphql.OperationType.MUTATION else schema.query_type
    base = MUTATION_COST if operation.operation == graphql.OperationType.MUTATION else 0
    return max(1, base + _selection_cost(schema, operation.selection_set, root, fragments, variables))


def _selection_cost(schema, selection_set, parent, fragments, variables) -> int:
    total = 0
    for selection in selection_set.selections if selection_set else []:
        if isinstance(selection, graphql.FragmentSpreadNode):
            fragment = fragments[selection.name.value]
            total += _selection_cost(schema, fragment.selection_set,
                                     schema.get_type(fragment.type_condition.name.value), fragments, variables)
        elif isinstance(selection, graphql.InlineFragmentNode):
            condition = schema.get_type(selection.type_condition.name.value) if selection.type_condition else parent
            total += _selection_cost(schema, selection.selection_set, condition, fragments, variables)
        elif selection.name.value in getattr(parent, "fields", {}):
            total += _field_cost(schema, selection, parent.fields[selection.name.value], fragments, variables)
    return total


def _field_cost(schema, node, definition, fragments, variables) -> int:
    named = graphql.get_named_type(definition.type)
    if not isinstance(named, (graphql.GraphQLObjectType, graphql.GraphQLInterfaceType, graphql.GraphQLUnionType)):
        return 0
    args = {a.name.value: graphql.value_from_ast_untyped(a.value, variables) for a in node.arguments or ()}
    if named.name.endswith("Connection"):
        # 2 for the connection, plus per requested node its own cost; pageInfo is free.
        per_node = _connection_node_cost(schema, node.selection_set, named, fragments, variables)
        return 2 + int(args.get("first") or args.get("last") or 1) * per_node
    ids = args.get("ids")
    multiplier = len(ids) if isinstance(ids, list) and ids else 1
    return 1 + multiplier * _selection_cost(schema, node.selection_set, named, fragments, variables)


def _connection_node_cost(schema, selection_set, connection, fragments, variables) -> int:
    node_type = graphql.get_named_type(connection.fields["nodes"].type)
    cost = 0
    for selection in selection_set.selections if selection_set else []:
        if isinstance(selection, graphql.FieldNode) and selection.name.value == "nodes":
            cost = max(cost, 1 + _selection_cost(schema, selection.selection_set, node_type, fragments, variables))
        elif isinstance(selection, graphql.FieldNode) and selection.name.value == "edges":
            for inner in selection.selection_set.selections:
                if isinstance(inner, graphql.FieldNode) and inner.name.value == "node":
                    cost = max(cost, 1 + _selection_cost(schema, inner.selection_set, node_type, fragments, variables))
    return cost


def objects_in(value) -> int:
    if isinstance(value, dict):
        return 1 + sum(objects_in(v) for v in value.values())
    if isinstance(value, list):
        return sum(objects_in(v) for v in value)
    return 0
