"""Bulk queries: our documents are valid bulk queries, the double enforces Shopify's bulk rules and
writes Shopify's JSONL, and the runner in plugin.shopify.bulk reads it."""

from __future__ import annotations

import json

import pytest

from plugin.shopify import bulk
from plugin.shopify.admin_api import AdminClient
from plugin.shopify.catalog import BulkReadStats, snapshots_from_bulk, variant_stock_export
from plugin.shopify.documents import DOCUMENTS_DIR, load_document
from plugin.shopify.http import shopify_http_client
from tests.doubles.bulk_queries import parse_bulk_query
from tests.doubles.shopify_admin import DEMO_SHOP, admin_schema, validate_document

BULK_DOCUMENTS = sorted(f"bulk/{p.stem}" for p in (DOCUMENTS_DIR / "bulk").glob("*.graphql"))


@pytest.mark.parametrize("name", BULK_DOCUMENTS)
def test_bulk_documents_validate_against_the_admin_schema(name):
    assert validate_document(load_document(name)) == []


def test_the_variant_stock_export_keeps_shopifys_bulk_rules():
    # when
    _, problems = parse_bulk_query(admin_schema(), variant_stock_export([5, 9, 7]))
    # then
    assert problems == []
    assert '"id:>=5 AND id:<=9"' in variant_stock_export([5, 9, 7])


@pytest.mark.parametrize(("query", "problem"), [
    ('{ nodes(ids: ["gid://shopify/ProductVariant/1"]) { id } products { edges { node { id } } } }',
     "The top-level `nodes` field can't be used in a bulk query."),
    ("{ shop { name } }", "Bulk queries must contain at least one connection."),
    ("{ products { edges { node { id variants { edges { node { id inventoryItem { id inventoryLevels "
     "{ edges { node { id } } } } } } } } } } }",
     "Bulk queries cannot contain connections with a nesting depth greater than 2 (`inventoryLevels`)."),
    ("{ products { edges { node { title variants { edges { node { id } } } } } } }",
     "The parent 'node' field for a nested connection must select the 'id' field (`variants`)."),
    ("{ a: products { edges { node { id } } } b: products { edges { node { id } } } "
     "c: products { edges { node { id } } } d: products { edges { node { id } } } "
     "e: products { edges { node { id } } } f: products { edges { node { id } } } }",
     "Bulk queries cannot contain more than 5 connections."),
    ('mutation { tagsAdd(id: "gid://shopify/Customer/1", tags: ["x"]) { userErrors { message } } }',
     "a bulk query holds exactly one query operation"),
])
def test_the_double_refuses_what_shopify_refuses_in_a_bulk_query(query, problem):
    # when
    _, problems = parse_bulk_query(admin_schema(), query)
    # then
    assert problem in problems


def test_a_refused_bulk_query_is_a_user_error_and_a_recorded_failure(runtime, session, shopify_admin,
                                                                    installed_shop):
    # given
    with AdminClient.for_shop(runtime, session, DEMO_SHOP) as client:
        # when
        with pytest.raises(bulk.AdminApiError, match="at least one connection"):
            bulk.start_query(client, "{ shop { name } }")
    # then the double noted it (and would fail any test that sent it unawares)
    assert shopify_admin.validation_failures == ["bulk query: Bulk queries must contain at least one connection."]
    shopify_admin.validation_failures.clear()


def test_a_bulk_query_runs_on_the_doubles_data_and_streams_back_grouped_jsonl(runtime, session, shopify_admin,
                                                                            installed_shop):
    # given two variants, one with two locations; one variant outside the range
    shopify_admin.add_variant(DEMO_SHOP, 41, inventory_item_id=141, levels={1: 3, 2: 0}, product_title="Bell")
    shopify_admin.add_variant(DEMO_SHOP, 42, inventory_item_id=142, levels={1: 0})
    shopify_admin.add_variant(DEMO_SHOP, 99, inventory_item_id=199, levels={1: 8})
    with AdminClient.for_shop(runtime, session, DEMO_SHOP) as client, shopify_http_client(runtime.settings) as http:
        # when
        operation_id = bulk.start_query(client, variant_stock_export([41, 42]))
        with pytest.raises(bulk.BulkBusy):
            bulk.start_query(client, variant_stock_export([41, 42]))  # one bulk query at a time per shop
        done = bulk.finished(client, [operation_id], sleep=lambda s: None)[0]
        lines = list(bulk.stream_lines(http, done.result_url))
    # then: the variant, then its levels pointing at it
    assert (done.status, done.object_count) == ("COMPLETED", 5)
    parents = [(value.get("id"), value.get("__parentId")) for _, value in lines]
    variant_41, variant_42 = "gid://shopify/ProductVariant/41", "gid://shopify/ProductVariant/42"
    assert parents == [(variant_41, None), (None, variant_41), (None, variant_41), (variant_42, None),
                       (None, variant_42)]
    assert "inventoryLevels" not in json.dumps(lines[0][1])
    stats = BulkReadStats()
    snapshots = list(snapshots_from_bulk(lines, stats))
    assert [(s.variant_id, s.inventory_item_id, s.product_title, s.levels) for s in snapshots] == [
        (41, 141, "Bell", {1: 3, 2: 0}), (42, 142, "Backbell Tee", {1: 0})]
    assert (stats.lines, stats.variants, stats.bad_lines) == (5, 2, [])
    # and it cost a mutation's 10 and the polls, nothing per object
    costs = [(c["operation"], c["actual"]) for c in shopify_admin.costs]
    assert costs[0] == ("BulkQueryRun", 10)
    assert all(actual <= 10 for _, actual in costs)


def test_snapshots_from_a_partial_file_leave_out_the_variant_at_the_cut():
    # given a file cut after the second variant's line
    lines = [(0, {"id": "gid://shopify/ProductVariant/1", "product": {"id": "gid://shopify/Product/5"},
                  "inventoryItem": {"id": "gid://shopify/InventoryItem/11", "tracked": True}}),
             (1, {"location": {"id": "gid://shopify/Location/1"}, "quantities": [{"name": "available", "quantity": 2}],
                  "__parentId": "gid://shopify/ProductVariant/1"}),
             (2, {"id": "gid://shopify/ProductVariant/2", "product": {"id": "gid://shopify/Product/5"},
                  "inventoryItem": {"id": "gid://shopify/InventoryItem/12", "tracked": True}})]
    stats = BulkReadStats()
    # when
    snapshots = list(snapshots_from_bulk(lines, stats, complete=False))
    # then
    assert [(s.variant_id, s.levels) for s in snapshots] == [(1, {1: 2})]
    assert stats.skipped_variants == [2]
