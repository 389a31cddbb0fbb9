from plugin.shopify.admin_api import AdminClient
from plugin.shopify.catalog import VariantSnapshot, fetch_variant_by_inventory_item, fetch_variants
from tests.doubles.shopify_admin import DEMO_SHOP


def _client(runtime, session):
    return AdminClient.for_shop(runtime, session, DEMO_SHOP, sleep=lambda seconds: None)


def test_fetch_variants_returns_snapshots_with_levels_per_location(shopify_admin, installed_shop, runtime, session):
    # given
    shopify_admin.add_variant(DEMO_SHOP, 11, product_id=21, inventory_item_id=31, levels={41: 3, 42: 0},
                              title="Red / M", product_title="Tee", handle="tee", price="19.90")

    # when
    with _client(runtime, session) as client:
        snapshots = fetch_variants(client, [11])

    # then
    assert snapshots == [VariantSnapshot(
        variant_id=11, product_id=21, inventory_item_id=31, title="Red / M", product_title="Tee",
        product_handle="tee", price="19.90", inventory_policy="DENY", tracked=True, product_status="ACTIVE",
        levels={41: 3, 42: 0},
    )]


def test_fetch_variants_skips_unknown_ids_and_batches_by_twelve(shopify_admin, installed_shop, runtime, session):
    # given: 60 known variants (each with the cost of 25 levels requested) and one unknown id
    for variant_id in range(1, 61):
        shopify_admin.add_variant(DEMO_SHOP, variant_id, levels={1: variant_id})

    # when
    with _client(runtime, session) as client:
        snapshots = fetch_variants(client, list(range(1, 61)) + [999])

    # then
    assert [s.variant_id for s in snapshots] == list(range(1, 61))
    assert [s.levels for s in snapshots[:2]] == [{1: 1}, {1: 2}]
    sent = shopify_admin.graphql_requests("VariantStock")
    assert [len(r["variables"]["ids"]) for r in sent] == [12, 12, 12, 12, 12, 1]


def test_fetch_variants_reports_policy_tracking_and_status(shopify_admin, installed_shop, runtime, session):
    # given
    shopify_admin.add_variant(DEMO_SHOP, 1, policy="CONTINUE")
    shopify_admin.add_variant(DEMO_SHOP, 2, tracked=False)
    shopify_admin.add_variant(DEMO_SHOP, 3, status="DRAFT")

    # when
    with _client(runtime, session) as client:
        snapshots = fetch_variants(client, [1, 2, 3])

    # then
    assert [(s.inventory_policy, s.tracked, s.product_status, s.can_alert) for s in snapshots] == [
        ("CONTINUE", True, "ACTIVE", False),
        ("DENY", False, "ACTIVE", False),
        ("DENY", True, "DRAFT", False),
    ]


def test_fetch_variants_with_no_ids_sends_nothing(shopify_admin, installed_shop, runtime, session):
    # when
    with _client(runtime, session) as client:
        snapshots = fetch_variants(client, [])

    # then
    assert snapshots == []
    assert shopify_admin.graphql_requests() == []


def test_fetch_variant_by_inventory_item(shopify_admin, installed_shop, runtime, session):
    # given
    shopify_admin.add_variant(DEMO_SHOP, 7, inventory_item_id=77, levels={5: 2})
    shopify_admin.set_level(DEMO_SHOP, 77, 6, 4)

    # when
    with _client(runtime, session) as client:
        snapshot = fetch_variant_by_inventory_item(client, 77)
        missing = fetch_variant_by_inventory_item(client, 78)

    # then
    assert (snapshot.variant_id, snapshot.inventory_item_id, snapshot.levels) == (7, 77, {5: 2, 6: 4})
    assert missing is None
