"""The demo's Shopify stand-in (``plugin.demo``) answers like Shopify.

Every document the app sends is answered by the stand-in's hand-built JSON and by the test
double's execution on Shopify's official schema, from the same in-memory shop: the stand-in's
answer, restricted to the fields the document asks for, must equal the schema's ``data``. A new
document without a case here fails ``test_every_document_has_a_case``.
"""

from __future__ import annotations

import graphql
import pytest
from werkzeug.test import Client

from plugin.demo.shopify import INVALID_TOKEN_BODY, ShopifyStandIn
from plugin.demo.signing import make_session_token
from plugin.demo import offers_store
from plugin.demo.store import FakeShop, answer_document
from plugin.shopify.documents import document_names, load_document
from tests.doubles.admin_graphql import ShopResolvers, admin_schema

SHOP = "backbell-demo.myshopify.com"
KEY, SECRET = "demo-key", "demo-secret"
MISSING = "<missing from the stand-in's answer>"
DISCOUNT = {"title": "Back in stock: Aviator sunglasses", "code": "BELL-FIRST", "startsAt": "2026-01-01T00:00:00Z",
            "endsAt": "2026-01-04T00:00:00Z", "usageLimit": 1, "appliesOncePerCustomer": True,
            "context": {"all": "ALL"},
            "customerGets": {"value": {"percentage": 0.1},
                             "items": {"products": {"productsToAdd": ["gid://shopify/Product/5001"]}}}}
DRAFT = {"lineItems": [{"variantId": "gid://shopify/ProductVariant/1001", "quantity": 1}],
         "email": "ana@example.com", "reserveInventoryUntil": "2026-01-01T14:30:00Z", "discountCodes": ["BELL-A"],
         "customAttributes": [{"key": "backbell_hold", "value": "7"}]}
FIRST_ID = 900_001  # the in-memory shop numbers discounts, bulk creations and drafts from here


def _with_discount(state):
    offers_store.create_discount(state, DISCOUNT)


def _with_bulk(state):
    _with_discount(state)
    offers_store.add_codes(state, f"gid://shopify/DiscountCodeNode/{FIRST_ID}", [{"code": "BELL-A"},
                                                                               {"code": "BELL-FIRST"}])


def _with_draft(state):
    offers_store.create_draft_order(state, DRAFT)


def _with_completed_draft(state):
    _with_draft(state)
    offers_store.complete_draft_order(state, FIRST_ID)


def _refusing(mutation):
    def setup(state):
        state.offers.refusals[mutation] = [[{"field": ["base"], "message": "Nope", "code": "INVALID"}]]
    return setup


SETUPS = {
    "DiscountCodeBasicCreate-taken": _with_discount,
    "DiscountCodeBasicCreate-refused": _refusing("discountCodeBasicCreate"),
    "DiscountRedeemCodeBulkAdd-0": _with_discount,
    "DiscountRedeemCodeBulkCreation-0": _with_bulk,
    "DiscountCodeDeactivate-0": _with_discount,
    "DraftOrderCreate-refused": _refusing("draftOrderCreate"),
    "DraftOrderDelete-0": _with_draft,
    "DraftOrderDelete-completed": _with_completed_draft,
    "DraftOrderStatus-0": _with_completed_draft,
}
CASES = [
    ("ShopBasics", {}),
    ("ShopPrimaryLocale", {}),
    ("VariantByInventoryItem", {"id": "gid://shopify/InventoryItem/2001"}),
    ("VariantByInventoryItem", {"id": "gid://shopify/InventoryItem/9999"}),
    ("MainThemeFiles", {}),
    ("VariantStock", {"ids": ["gid://shopify/ProductVariant/1001", "gid://shopify/ProductVariant/1002",
                              "gid://shopify/ProductVariant/1003", "gid://shopify/ProductVariant/9999",
                              "gid://shopify/Product/5001"]}),
    ("ShopPrimaryDomain", {}),
    ("DiscountCodeBasicCreate", {"discount": DISCOUNT}),
    ("DiscountCodeBasicCreate-taken", {"discount": DISCOUNT}),
    ("DiscountCodeBasicCreate-refused", {"discount": DISCOUNT}),
    ("DiscountRedeemCodeBulkAdd-0", {"discountId": f"gid://shopify/DiscountCodeNode/{FIRST_ID}",
                                     "codes": [{"code": "BELL-A"}, {"code": "BELL-B"}]}),
    ("DiscountRedeemCodeBulkAdd", {"discountId": "gid://shopify/DiscountCodeNode/1", "codes": [{"code": "X"}]}),
    ("DiscountRedeemCodeBulkCreation-0", {"id": f"gid://shopify/DiscountRedeemCodeBulkCreation/{FIRST_ID + 1}"}),
    ("DiscountRedeemCodeBulkCreation", {"id": "gid://shopify/DiscountRedeemCodeBulkCreation/1"}),
    ("DiscountCodeDeactivate-0", {"id": f"gid://shopify/DiscountCodeNode/{FIRST_ID}"}),
    ("DraftOrderCreate", {"input": {**DRAFT, "reserveInventoryUntil": None}}),
    ("DraftOrderCreate-refused", {"input": DRAFT}),
    ("DraftOrderDelete-0", {"input": {"id": f"gid://shopify/DraftOrder/{FIRST_ID}"}}),
    ("DraftOrderDelete-completed", {"input": {"id": f"gid://shopify/DraftOrder/{FIRST_ID}"}}),
    ("DraftOrderStatus-0", {"id": f"gid://shopify/DraftOrder/{FIRST_ID}"}),
    ("CustomerTags", {"ids": ["gid://shopify/Customer/301", "gid://shopify/Customer/302",
                              "gid://shopify/Customer/9999"]}),
    ("CustomersByEmail", {"query": 'email:"ana@example.com" OR email:"nobody@example.com" OR email:"ben@example.com"',
                          "first": 3}),
    ("CustomersByEmail", {"query": 'email:"ana@example.com\\" OR tag:\\"VIP"', "first": 1}),
]


def _stand_in() -> ShopifyStandIn:
    stand_in = ShopifyStandIn()
    stand_in.app_config = {"shopify_api_key": KEY, "shopify_api_secret": SECRET}
    stand_in.add_shop(SHOP, name="Backbell Demo Store", timezone="Europe/Paris", currency="EUR", locale="fr")
    stand_in.shops[SHOP].theme_files = {
        "templates/product.json": '{"sections": {"main": {"type": "main-product", "blocks": {}}}}',
        "config/settings_data.json": '{"current": {"blocks": {}}}'}
    stand_in.add_variant(SHOP, 1001, product_id=5001, inventory_item_id=2001, levels={11: 0, 12: 4}, title="Pink",
                         product_title="Aviator sunglasses", handle="aviator-sunglasses", price="199.00")
    stand_in.add_variant(SHOP, 1002, policy="CONTINUE", tracked=False, status="DRAFT")
    # More stocking locations than the document's one page of 25.
    stand_in.add_variant(SHOP, 1003, levels={location: location % 3 for location in range(1, 28)})
    stand_in.add_customer(SHOP, 301, ["VIP", "wholesale"], email="ana@example.com")
    stand_in.add_customer(SHOP, 302, [], email="ben@example.com")
    stand_in.add_customer(SHOP, 303, ["VIP"])
    return stand_in


def _restricted(value, selection_set: graphql.SelectionSetNode, fragments: dict):
    """``value`` with only the fields ``selection_set`` asks for (aliases honoured)."""
    if value is None or value == MISSING:
        return value
    if isinstance(value, list):
        return [_restricted(item, selection_set, fragments) for item in value]
    picked = {}
    for selection in selection_set.selections:
        if isinstance(selection, graphql.FieldNode):
            field = value.get(selection.name.value, MISSING)
            key = selection.alias.value if selection.alias else selection.name.value
            picked[key] = _restricted(field, selection.selection_set, fragments) if selection.selection_set else field
        else:  # an inline fragment or a fragment spread: the stand-in answers only the matching type
            inner = selection if isinstance(selection, graphql.InlineFragmentNode) else fragments[selection.name.value]
            picked.update(_restricted(value, inner.selection_set, fragments))
    return picked


def _schema_answer(state: FakeShop, document: graphql.DocumentNode, variables: dict) -> dict:
    result = graphql.execute(admin_schema(), document, root_value=ShopResolvers(state), variable_values=variables)
    assert result.errors is None, result.errors
    return result.data


def test_every_document_has_a_case():
    # given / when
    covered = {name for name, _ in CASES}

    # then
    assert {name.split("-")[0] for name in covered} == set(document_names())


@pytest.mark.parametrize(("name", "variables"), CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_stand_in_answers_each_document_as_the_schema_does(name, variables):
    # given the same shop for both (two copies: mutations change it), and the document the app sends
    schema_state, stand_in_state = _stand_in().shops[SHOP], _stand_in().shops[SHOP]
    for state in (schema_state, stand_in_state):
        SETUPS.get(name, lambda _: None)(state)
    name = name.split("-")[0]
    document = graphql.parse(load_document(name))
    operation = next(d for d in document.definitions if isinstance(d, graphql.OperationDefinitionNode))
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, graphql.FragmentDefinitionNode)}

    # when
    expected = _schema_answer(schema_state, document, variables)
    answer = answer_document(stand_in_state, name, variables)

    # then
    assert _restricted(answer, operation.selection_set, fragments) == expected


def test_stand_in_serves_a_document_to_the_holder_of_an_issued_token():
    # given
    stand_in = _stand_in()
    token = stand_in.issue_tokens(SHOP)["access_token"]

    # when
    response = Client(stand_in).post(f"/{SHOP}/admin/api/2026-10/graphql.json", json={
        "query": load_document("ShopBasics")}, headers={"X-Shopify-Access-Token": token})

    # then
    assert response.status_code == 200
    assert response.get_json() == {"data": {"shop": {"name": "Backbell Demo Store", "myshopifyDomain": SHOP,
                                                     "ianaTimezone": "Europe/Paris", "currencyCode": "EUR",
                                                     "contactEmail": "owner@example.com"}}}
    assert [r["operation"] for r in stand_in.graphql_requests()] == ["ShopBasics"]


def test_stand_in_refuses_a_token_it_did_not_issue_and_a_document_it_does_not_know():
    # given
    stand_in = _stand_in()
    token = stand_in.issue_tokens(SHOP)["access_token"]
    client = Client(stand_in)

    # when
    refused = client.post(f"/{SHOP}/admin/api/2026-10/graphql.json", json={"query": load_document("ShopBasics")},
                          headers={"X-Shopify-Access-Token": "shpat_forged"})
    unknown = client.post(f"/{SHOP}/admin/api/2026-10/graphql.json", json={"query": "query Orders { orders { id } }"},
                          headers={"X-Shopify-Access-Token": token})

    # then
    assert (refused.status_code, refused.get_json()) == (401, INVALID_TOKEN_BODY)
    assert unknown.status_code == 200
    assert unknown.get_json() == {"errors": [{"message": "the Shopify stand-in answers only the app's own "
                                                         "documents, not 'Orders'"}]}


def test_stand_in_exchanges_a_session_token_and_rotates_the_pair_on_refresh():
    # given
    stand_in = _stand_in()
    client = Client(stand_in)
    exchange = {"client_id": KEY, "client_secret": SECRET, "expiring": "1",
                "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
                "subject_token": make_session_token(SHOP, KEY, SECRET),
                "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
                "requested_token_type": "urn:shopify:params:oauth:token-type:offline-access-token"}

    # when
    first = client.post(f"/{SHOP}/admin/oauth/access_token", json=exchange).get_json()
    refresh = {"client_id": KEY, "client_secret": SECRET, "grant_type": "refresh_token",
               "refresh_token": first["refresh_token"]}
    second = client.post(f"/{SHOP}/admin/oauth/access_token", json=refresh)
    replay = client.post(f"/{SHOP}/admin/oauth/access_token", json=refresh)

    # then
    assert first["expires_in"] == 3600 and first["access_token"].startswith("shpat_")
    assert second.status_code == 200 and second.get_json()["access_token"] != first["access_token"]
    assert (replay.status_code, replay.get_json()) == (400, {"error": "invalid_grant"})
    assert (stand_in.exchanges, stand_in.refreshes) == (1, 2)


def test_stand_in_refuses_an_exchange_by_another_app():
    # given a session token signed with another app's secret
    stand_in = _stand_in()
    exchange = {"client_id": KEY, "client_secret": SECRET, "expiring": "1",
                "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
                "subject_token": make_session_token(SHOP, KEY, "another-secret"),
                "requested_token_type": "urn:shopify:params:oauth:token-type:offline-access-token"}

    # when
    response = Client(stand_in).post(f"/{SHOP}/admin/oauth/access_token", json=exchange)

    # then
    assert (response.status_code, response.get_json()) == (400, {"error": "invalid_subject_token"})
    assert stand_in.access_tokens == {}
