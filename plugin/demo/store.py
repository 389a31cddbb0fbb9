"""The in-memory shop behind the Shopify stand-in, and its answers to the app's documents.

``FakeShop`` holds what Shopify would know about a shop: its basics, variants and the available
quantity of each inventory item per location. ``answer_document`` gives the ``data`` Shopify
returns for each document the app sends (``plugin/shopify/documents``), built by hand in the shape
of ``fragments/VariantStockFields.graphql`` — ``tests/demo/test_shopify.py`` compares every answer
with the one Shopify's schema produces for the same state.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from plugin.demo import search
from plugin.demo.offers_store import OFFER_OPERATIONS, OfferState, answer_offer_document

# VariantStockFields asks for inventoryLevels(first: 25).
LEVELS_PER_VARIANT = 25
_GID = re.compile(r"^gid://shopify/(\w+)/(\d+)(?:\?.*)?$")
_OPERATION = re.compile(r"^\s*(?:query|mutation)\s+([A-Za-z_]\w*)", re.M)
_COMMENT = re.compile(r"#[^\n]*")


@dataclass
class FakeVariant:
    variant_id: int
    product_id: int
    inventory_item_id: int
    title: str
    price: str
    policy: str
    tracked: bool
    status: str
    product_title: str
    handle: str


@dataclass
class FakeShop:
    domain: str
    name: str
    timezone: str = "America/New_York"
    currency: str = "USD"
    locale: str = "en"
    variants: dict[int, FakeVariant] = field(default_factory=dict)
    levels: dict[int, dict[int, int]] = field(default_factory=dict)  # item -> location -> available
    # Customers by id: {"id", "email", "phone", "tags", "metafields", "email_consent"} (customer sync
    # and VIP tags read the same records).
    customers: dict[int, dict] = field(default_factory=dict)
    primary_domain: str | None = None  # None: the storefront lives on the myshopify domain
    offers: OfferState = field(default_factory=OfferState)  # discounts and draft orders
    theme_name: str = "Dawn"  # the live (MAIN) theme
    theme_files: dict[str, str] = field(default_factory=dict)  # filename -> text content


class UnknownDocument(LookupError):
    """A document the stand-in does not answer (only the app's own are known)."""


def gid(kind: str, number) -> str:
    return f"gid://shopify/{kind}/{number}"


def gid_number(value, kind: str) -> int | None:
    """The number in a GID of type ``kind``; None for anything else."""
    match = _GID.match(value) if isinstance(value, str) else None
    return int(match[2]) if match and match[1] == kind else None


def operation_name(query: str) -> str | None:
    """The name of the (first) operation in a document's text."""
    match = _OPERATION.search(_COMMENT.sub("", query))
    return match[1] if match else None


def answer_document(state: FakeShop, operation: str | None, variables: dict) -> dict:
    """The ``data`` of the app's document ``operation`` on ``state``."""
    if operation == "ShopBasics":
        return {"shop": {"name": state.name, "myshopifyDomain": state.domain, "ianaTimezone": state.timezone,
                         "currencyCode": state.currency, "contactEmail": "owner@example.com"}}
    if operation == "ShopPrimaryLocale":
        return {"shopLocales": [{"locale": state.locale, "primary": True}]}
    if operation == "VariantByInventoryItem":
        item_id = gid_number(variables.get("id"), "InventoryItem")
        variant = next((v for v in state.variants.values() if v.inventory_item_id == item_id), None)
        return {"inventoryItem": {"variant": variant_fields(state, variant)} if variant else None}
    if operation == "MainThemeFiles":
        return {"themes": {"nodes": [main_theme(state)]}}
    if operation == "VariantStock":
        return {"nodes": [_variant_node(state, value) for value in variables.get("ids") or []]}
    if operation in OFFER_OPERATIONS:
        return answer_offer_document(state, operation, variables)
    if operation == "CustomerTags":
        return {"nodes": [customer_fields(state, value) for value in variables.get("ids") or []]}
    if operation == "CustomersByEmail":
        return {"customers": {"nodes": search_customers(state, variables.get("query"), variables.get("first"))}}
    raise UnknownDocument(f"the Shopify stand-in answers only the app's own documents, not {operation!r}")


def main_theme(state: FakeShop) -> dict:
    """The live theme with the two files ``MainThemeFiles`` asks for, those the theme has."""
    wanted = ("config/settings_data.json", "templates/product.json")
    files = [{"filename": name, "body": {"content": state.theme_files[name]}}
             for name in wanted if name in state.theme_files]
    return {"id": gid("OnlineStoreTheme", 1), "name": state.theme_name, "files": {"nodes": files}}


def _variant_node(state: FakeShop, value: str) -> dict | None:
    # Shopify answers null for an unknown id; the app sends only variant ids.
    return variant_fields(state, state.variants.get(gid_number(value, "ProductVariant")))


def customer_fields(state: FakeShop, value: str) -> dict | None:
    """A customer's id and tags; null for an id Shopify does not know (as ``nodes`` answers)."""
    customer_id = gid_number(value, "Customer")
    if customer_id not in state.customers:
        return None
    return {"id": gid("Customer", customer_id), "tags": list(state.customers[customer_id]["tags"])}


def search_customers(state: FakeShop, query: str | None, first: int | None) -> list[dict]:
    """The first ``first`` customers (by id) a ``customers(query:)`` search finds (``plugin.demo.search``)."""
    found = [record for _, record in sorted(state.customers.items()) if search.matches(query or "", record)]
    return [{"id": gid("Customer", record["id"]), "tags": list(record["tags"]),
             "defaultEmailAddress": {"emailAddress": record["email"]} if record.get("email") else None}
            for record in found[: first or 50]]


def variant_fields(state: FakeShop, record: FakeVariant | None) -> dict | None:
    """``VariantStockFields`` of ``record``: identity, alerting rules, available per location."""
    if record is None:
        return None
    levels = sorted(state.levels.get(record.inventory_item_id, {}).items())
    return {
        "id": gid("ProductVariant", record.variant_id),
        "title": record.title,
        "price": record.price,
        "inventoryPolicy": record.policy,
        "product": {"id": gid("Product", record.product_id), "title": record.product_title,
                    "handle": record.handle, "status": record.status},
        "inventoryItem": {
            "id": gid("InventoryItem", record.inventory_item_id),
            "tracked": record.tracked,
            "inventoryLevels": {
                "pageInfo": {"hasNextPage": len(levels) > LEVELS_PER_VARIANT},
                "nodes": [{"location": {"id": gid("Location", location)},
                           "quantities": [{"name": "available", "quantity": quantity}]}
                          for location, quantity in levels[:LEVELS_PER_VARIANT]],
            },
        },
    }
