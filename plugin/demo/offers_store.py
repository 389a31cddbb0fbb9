"""Discounts and draft orders in the in-memory shop (``plugin.demo.store``), for the app's offer
documents: code discounts with their personal codes (added asynchronously, as Shopify does),
draft orders that reserve a unit, and userErrors on demand.

Each operation has two faces, like the variant answers in ``store.py``: ``*_record`` gives the
object in the schema's shape (fields with arguments as callables) for the test double's
execution on Shopify's schema, and ``answer_offer_document`` gives the hand-built ``data`` of the
app's document for the demo's stand-in. ``tests/demo/test_shopify.py`` compares the two.
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass, field

BULK_LIMIT = 250  # codes per discountRedeemCodeBulkAdd


@dataclass
class FakeDiscount:
    id: int
    title: str
    percent: float
    product_ids: list[int]
    ends_at: str | None
    usage_limit: int | None
    once_per_customer: bool
    codes: list[str] = field(default_factory=list)
    active: bool = True


@dataclass
class FakeBulkCreation:
    id: int
    discount_id: int
    codes: list[str]
    polls_left: int
    results: dict[str, list[dict]] = field(default_factory=dict)  # code -> errors, once done

    @property
    def done(self) -> bool:
        return self.polls_left <= 0


@dataclass
class FakeDraftOrder:
    id: int
    variant_id: int
    quantity: int
    email: str | None
    discount_codes: list[str]
    reserve_until: str | None
    custom_attributes: dict[str, str]
    invoice_url: str
    reserved_at: int | None = None  # the location whose unit is reserved
    status: str = "OPEN"
    order_id: int | None = None


@dataclass
class OfferState:
    discounts: dict[int, FakeDiscount] = field(default_factory=dict)
    bulk_creations: dict[int, FakeBulkCreation] = field(default_factory=dict)
    draft_orders: dict[int, FakeDraftOrder] = field(default_factory=dict)
    deleted_draft_orders: list[int] = field(default_factory=list)
    # Polls of discountRedeemCodeBulkCreation that answer done: false before it is done.
    bulk_polls: int = 1
    # mutation field name -> userErrors answers queued for its next calls
    refusals: dict[str, list[list[dict]]] = field(default_factory=dict)
    ids: itertools.count = field(default_factory=lambda: itertools.count(900_001))

    def all_codes(self) -> set[str]:
        return {code for discount in self.discounts.values() for code in discount.codes}


def _gid(kind: str, number) -> str:
    return f"gid://shopify/{kind}/{number}"


def _number(value) -> int | None:
    try:
        return int(str(value).rsplit("/", 1)[-1].split("?")[0])
    except ValueError:
        return None


def _refused(state, mutation: str) -> list[dict] | None:
    queue = state.offers.refusals.get(mutation) or []
    return queue.pop(0) if queue else None


def _discount_error(field_path: list[str], code: str, message: str) -> dict:
    return {"__typename": "DiscountUserError", "field": field_path, "code": code, "message": message,
            "extraInfo": None}


# -- mutations and queries (shared state changes) ------------------------------------------------------


def create_discount(state, basic: dict) -> dict:
    errors = _refused(state, "discountCodeBasicCreate")
    if errors is None and basic.get("code") in state.offers.all_codes():
        errors = [_discount_error(["basicCodeDiscount", "code"], "TAKEN", "Code must be unique.")]
    if errors is None and not basic.get("context"):
        errors = [_discount_error(["basicCodeDiscount", "context"], "BLANK", "Context can't be blank.")]
    if errors:
        return {"node": None, "userErrors": errors}
    gets = basic.get("customerGets") or {}
    products = ((gets.get("items") or {}).get("products") or {}).get("productsToAdd") or []
    discount = FakeDiscount(next(state.offers.ids), basic.get("title") or "", float((gets.get("value") or {})
                            .get("percentage") or 0), [_number(p) for p in products], basic.get("endsAt"),
                            basic.get("usageLimit"), bool(basic.get("appliesOncePerCustomer")), [basic["code"]])
    state.offers.discounts[discount.id] = discount
    return {"node": {"__typename": "DiscountCodeNode", "id": _gid("DiscountCodeNode", discount.id)},
            "userErrors": []}


def add_codes(state, discount_id: str, codes: list[dict]) -> dict:
    errors = _refused(state, "discountRedeemCodeBulkAdd")
    discount = state.offers.discounts.get(_number(discount_id))
    if errors is None and discount is None:
        errors = [_discount_error(["discountId"], "INVALID", "Discount does not exist.")]
    if errors is None and len(codes) > BULK_LIMIT:
        errors = [_discount_error(["codes"], "TOO_LONG", f"Codes can't exceed {BULK_LIMIT}.")]
    if errors:
        return {"bulk": None, "userErrors": errors}
    bulk = FakeBulkCreation(next(state.offers.ids), discount.id, [c["code"] for c in codes], state.offers.bulk_polls)
    state.offers.bulk_creations[bulk.id] = bulk
    if bulk.done:
        _finish_bulk(state, bulk)
    return {"bulk": bulk, "userErrors": []}


def poll_bulk(state, bulk_id: str) -> FakeBulkCreation | None:
    bulk = state.offers.bulk_creations.get(_number(bulk_id))
    if bulk is not None and not bulk.done:
        bulk.polls_left -= 1
        if bulk.done:
            _finish_bulk(state, bulk)
    return bulk


def _finish_bulk(state, bulk: FakeBulkCreation) -> None:
    discount = state.offers.discounts[bulk.discount_id]
    for code in bulk.codes:
        taken = code in state.offers.all_codes()
        bulk.results[code] = [_discount_error(["code"], "TAKEN", "Code must be unique.")] if taken else []
        if not taken:
            discount.codes.append(code)


def deactivate_discount(state, discount_id: str) -> dict:
    errors = _refused(state, "discountCodeDeactivate")
    discount = state.offers.discounts.get(_number(discount_id))
    if errors is None and discount is None:
        errors = [_discount_error(["id"], "INVALID", "Discount does not exist.")]
    if errors:
        return {"node": None, "userErrors": errors}
    discount.active = False
    return {"node": {"__typename": "DiscountCodeNode", "id": _gid("DiscountCodeNode", discount.id)},
            "userErrors": []}


def create_draft_order(state, data: dict) -> dict:
    errors = _refused(state, "draftOrderCreate")
    line = (data.get("lineItems") or [{}])[0]
    variant = state.variants.get(_number(line.get("variantId")))
    if errors is None and variant is None:
        errors = [{"__typename": "UserError", "field": ["lineItems", "0", "variantId"],
                   "message": "Product variant does not exist"}]
    location = None
    if errors is None and data.get("reserveInventoryUntil"):
        levels = state.levels.get(variant.inventory_item_id, {})
        location = max(levels, key=lambda loc: levels[loc], default=None)
        if location is None or levels[location] < line.get("quantity", 1):
            errors = [{"__typename": "UserError", "field": ["reserveInventoryUntil"],
                       "message": "Not enough inventory available to reserve"}]
    if errors:
        return {"draft": None, "userErrors": errors}
    draft_id = next(state.offers.ids)
    attributes = {a["key"]: a["value"] for a in data.get("customAttributes") or []}
    draft = FakeDraftOrder(draft_id, variant.variant_id, line.get("quantity", 1), data.get("email"),
                           list(data.get("discountCodes") or []), data.get("reserveInventoryUntil"), attributes,
                           _invoice_url(state.domain, draft_id), location)
    if location is not None:
        state.levels[variant.inventory_item_id][location] -= draft.quantity
    state.offers.draft_orders[draft_id] = draft
    return {"draft": draft, "userErrors": []}


def delete_draft_order(state, draft_id: str) -> dict:
    errors = _refused(state, "draftOrderDelete")
    draft = state.offers.draft_orders.get(_number(draft_id))
    if errors is None and draft is None:
        errors = [{"__typename": "UserError", "field": ["id"], "message": "Draft order does not exist"}]
    if errors is None and draft.status == "COMPLETED":
        errors = [{"__typename": "UserError", "field": ["id"], "message": "Completed draft orders can't be deleted"}]
    if errors:
        return {"deletedId": None, "userErrors": errors}
    del state.offers.draft_orders[draft.id]
    state.offers.deleted_draft_orders.append(draft.id)
    if draft.reserved_at is not None:
        item = state.variants[draft.variant_id].inventory_item_id
        state.levels[item][draft.reserved_at] += draft.quantity
    return {"deletedId": _gid("DraftOrder", draft.id), "userErrors": []}


def _invoice_url(domain: str, draft_id: int) -> str:
    token = hashlib.sha256(f"{domain}/{draft_id}".encode()).hexdigest()[:32]
    return f"https://{domain}/1/invoices/{token}"


def complete_draft_order(state, draft_id: int) -> int:
    """The shopper paid the invoice: the draft becomes an order; its reserved unit stays taken."""
    draft = state.offers.draft_orders[draft_id]
    draft.status, draft.order_id = "COMPLETED", next(state.offers.ids)
    return draft.order_id


# -- the schema's shapes (test double) ------------------------------------------------------------------


def bulk_record(bulk: FakeBulkCreation | None) -> dict | None:
    if bulk is None:
        return None
    nodes = [{"__typename": "DiscountRedeemCodeBulkCreationCode", "code": code, "discountRedeemCode": None,
              "errors": errors} for code, errors in bulk.results.items()]
    return {"__typename": "DiscountRedeemCodeBulkCreation", "id": _gid("DiscountRedeemCodeBulkCreation", bulk.id),
            "done": bulk.done, "codesCount": len(bulk.codes), "createdAt": "2026-01-01T00:00:00Z",
            "importedCount": sum(1 for e in bulk.results.values() if not e),
            "failedCount": sum(1 for e in bulk.results.values() if e), "discountCode": None,
            "codes": lambda info, first=None, **_: _connection(nodes[: first or 250])}


def draft_record(draft: FakeDraftOrder | None) -> dict | None:
    if draft is None:
        return None
    order = {"__typename": "Order", "id": _gid("Order", draft.order_id)} if draft.order_id else None
    return {"__typename": "DraftOrder", "id": _gid("DraftOrder", draft.id), "invoiceUrl": draft.invoice_url,
            "reserveInventoryUntil": draft.reserve_until, "status": draft.status, "order": order,
            "email": draft.email, "discountCodes": draft.discount_codes}


def _connection(nodes: list[dict]) -> dict:
    return {"nodes": nodes, "edges": [{"cursor": str(i), "node": n} for i, n in enumerate(nodes)],
            "pageInfo": {"hasNextPage": False, "hasPreviousPage": False, "startCursor": None, "endCursor": None}}


# -- the app's documents, by hand (demo stand-in) --------------------------------------------------------

OFFER_OPERATIONS = ("DiscountCodeBasicCreate", "DiscountRedeemCodeBulkAdd", "DiscountRedeemCodeBulkCreation",
                    "DiscountCodeDeactivate", "DraftOrderCreate", "DraftOrderDelete", "DraftOrderStatus",
                    "ShopPrimaryDomain")


def answer_offer_document(state, operation: str, variables: dict) -> dict:
    if operation == "DiscountCodeBasicCreate":
        result = create_discount(state, variables.get("discount") or {})
        return {"discountCodeBasicCreate": {"codeDiscountNode": _id_only(result["node"]),
                                            "userErrors": _errors(result["userErrors"])}}
    if operation == "DiscountRedeemCodeBulkAdd":
        result = add_codes(state, variables.get("discountId"), variables.get("codes") or [])
        bulk = result["bulk"]
        return {"discountRedeemCodeBulkAdd": {
            "bulkCreation": {"id": _gid("DiscountRedeemCodeBulkCreation", bulk.id)} if bulk else None,
            "userErrors": _errors(result["userErrors"])}}
    if operation == "DiscountRedeemCodeBulkCreation":
        return {"discountRedeemCodeBulkCreation": _bulk_answer(poll_bulk(state, variables.get("id")))}
    if operation == "DiscountCodeDeactivate":
        result = deactivate_discount(state, variables.get("id"))
        return {"discountCodeDeactivate": {"codeDiscountNode": _id_only(result["node"]),
                                           "userErrors": _errors(result["userErrors"])}}
    if operation == "DraftOrderCreate":
        result = create_draft_order(state, variables.get("input") or {})
        draft = result["draft"]
        answer = {"id": _gid("DraftOrder", draft.id), "invoiceUrl": draft.invoice_url,
                  "reserveInventoryUntil": draft.reserve_until} if draft else None
        return {"draftOrderCreate": {"draftOrder": answer, "userErrors": _errors(result["userErrors"], False)}}
    if operation == "DraftOrderDelete":
        result = delete_draft_order(state, (variables.get("input") or {}).get("id"))
        return {"draftOrderDelete": {"deletedId": result["deletedId"],
                                     "userErrors": _errors(result["userErrors"], False)}}
    if operation == "DraftOrderStatus":
        draft = state.offers.draft_orders.get(_number(variables.get("id")))
        return {"draftOrder": {"id": _gid("DraftOrder", draft.id), "status": draft.status,
                               "order": {"id": _gid("Order", draft.order_id)} if draft.order_id else None}
                if draft else None}
    return {"shop": {"primaryDomain": {"host": state.primary_domain or state.domain}}}  # ShopPrimaryDomain


def _id_only(node: dict | None) -> dict | None:
    return {"id": node["id"]} if node else None


def _errors(errors: list[dict], with_code: bool = True) -> list[dict]:
    keys = ("field", "code", "message") if with_code else ("field", "message")
    return [{key: error.get(key) for key in keys} for error in errors]


def _bulk_answer(bulk: FakeBulkCreation | None) -> dict | None:
    if bulk is None:
        return None
    return {"id": _gid("DiscountRedeemCodeBulkCreation", bulk.id), "done": bulk.done, "codesCount": len(bulk.codes),
            "importedCount": sum(1 for e in bulk.results.values() if not e),
            "failedCount": sum(1 for e in bulk.results.values() if e),
            "codes": {"nodes": [{"code": code, "errors": [{"code": e["code"], "message": e["message"]}
                                                          for e in errors]}
                                for code, errors in list(bulk.results.items())[:250]]}}
