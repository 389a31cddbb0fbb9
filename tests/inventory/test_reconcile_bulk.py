"""The reconciliation sweep through a bulk query (``bulkOperationRunQuery`` at the Shopify double):
the same mirror and the same restocks as the page path, at ≤ 2 cost points per variant; a bulk
query already running, a failed operation, an expired result URL and unusable lines handled."""

from __future__ import annotations

import json

from sqlalchemy import insert, select

from plugin.clock import utcnow
from plugin.inventory.reconcile import BULK_FROM, reconcile_shops
from plugin.models import Contact, InventoryLevel, RestockEvent, Shop, Subscription, Variant
from tests.doubles.bulk_queries import BulkQueryOutcome
from tests.doubles.shopify_admin import install_shop_directly
from tests.webhooks.delivery import DEMO_SHOP, add_variant_row, add_waiting

FIRST, ITEM_OFFSET, WAREHOUSE, STORE = 800_000, 1_000_000, 111, 222
OTHER_SHOP = "second-bell.myshopify.com"
NEVER = 10**9  # bulk_from that keeps every shop on the page path


def no_sleep(seconds: float) -> None:
    return None


def seed_catalog(double, session, runtime, shop_id: int, domain: str, count: int) -> set[int]:
    """``count`` watched variants, all mirrored sold out, whose state in Shopify moved on without a
    webhook reaching us, by ``n % 60``; plus unwatched variants inside the id range. Returns the
    variants whose shoppers must be told."""
    told, variant_rows, level_rows, waiting = set(), [], [], []
    for n in range(count):
        variant, item, kind = FIRST + 2 * n, FIRST + 2 * n + ITEM_OFFSET, n % 60
        levels, fields, mirrored = {WAREHOUSE: 0, STORE: 0}, {}, {}
        if kind == 0:  # back at one location
            levels[WAREHOUSE] = 2 + n % 5
            told.add(variant)
        elif kind == 1:  # back at the other one
            levels[STORE] = 4
            told.add(variant)
        elif kind == 3:  # in stock, but the product went to draft
            levels[WAREHOUSE], fields["status"] = 5, "DRAFT"
        elif kind == 4:  # mirrored as a draft already in stock; published again, the products/update lost
            levels[WAREHOUSE], mirrored["product_status"] = 3, "DRAFT"
            told.add(variant)
        elif kind == 5:  # in stock, but sold on backorder now
            levels[WAREHOUSE], fields["policy"] = 6, "CONTINUE"
        double.add_variant(domain, variant, inventory_item_id=item, levels=levels, product_title=f"Bell {n}", **fields)
        # an unwatched variant between two watched ones: the bulk read sees it, nobody mirrors it
        double.add_variant(domain, variant + 1, inventory_item_id=item + 1, levels={WAREHOUSE: 9})
        if kind == 2:  # deleted in Shopify
            double.remove_variant(domain, variant)
        variant_rows.append({"shop_id": shop_id, "variant_id": variant, "product_id": variant + 1_000_000,
                             "inventory_item_id": item, "available": 3 if kind == 4 else 0, "synced_at": utcnow(),
                             "product_status": mirrored.get("product_status", "ACTIVE")})
        if kind == 4:
            level_rows.append({"shop_id": shop_id, "inventory_item_id": item, "location_id": WAREHOUSE, "available": 3})
        waiting.append((variant, f"shopper{n}@gmail.com"))
    session.execute(insert(Variant), variant_rows)
    session.execute(insert(InventoryLevel), level_rows)
    add_many_waiting(session, runtime.vault, shop_id, waiting)
    return told


def add_many_waiting(session, vault, shop_id: int, waiting: list[tuple[int, str]]) -> None:
    """One waiting email subscription per (variant, address), written in two statements."""
    contact_ids = session.scalars(insert(Contact).returning(Contact.id), [
        {"shop_id": shop_id, "channel": "email", "value_ciphertext": vault.encrypt(value),
         "value_hash": vault.hash("email", value)} for _, value in waiting]).all()
    session.execute(insert(Subscription), [
        {"shop_id": shop_id, "contact_id": cid, "variant_id": variant, "product_id": variant + 1_000_000,
         "channel": "email", "locale": "en", "status": "waiting", "consent_at": utcnow()}
        for cid, (variant, _) in zip(contact_ids, waiting)])
    session.commit()


def restocks(session, shop_id: int) -> list[tuple]:
    session.expire_all()
    return sorted((e.variant_id, e.previous_available, e.available, e.source)
                  for e in session.scalars(select(RestockEvent).where(RestockEvent.shop_id == shop_id)))


def mirror(session, shop_id: int) -> tuple[list, list]:
    session.expire_all()
    variants = sorted((v.variant_id, v.product_status, v.inventory_policy, v.tracked, v.product_title, v.available)
                      for v in session.scalars(select(Variant).where(Variant.shop_id == shop_id)))
    levels = sorted((lv.inventory_item_id, lv.location_id, lv.available)
                    for lv in session.scalars(select(InventoryLevel).where(InventoryLevel.shop_id == shop_id)))
    return variants, levels


def actual_points(double, since: int) -> float:
    return sum(c["actual"] for c in double.costs[since:])


def test_bulk_sweep_of_300_variants_makes_exactly_the_page_paths_restocks_at_under_2_points_each(
        session, runtime, shopify_admin, installed_shop):
    # given two shops with the same 300 watched variants and the same missed changes
    other = install_shop_directly(runtime, shopify_admin, OTHER_SHOP)
    told = seed_catalog(shopify_admin, session, runtime, installed_shop.id, DEMO_SHOP, 300)
    seed_catalog(shopify_admin, session, runtime, other.id, OTHER_SHOP, 300)

    # when one is swept through a bulk query and the other page by page
    start = len(shopify_admin.costs)
    bulk_report = reconcile_shops(runtime, DEMO_SHOP, sleep=no_sleep)
    bulk_points, middle = actual_points(shopify_admin, start), len(shopify_admin.costs)
    page_report = reconcile_shops(runtime, OTHER_SHOP, bulk_from=NEVER, sleep=no_sleep)
    page_points = actual_points(shopify_admin, middle)

    # then both found the same restocks, exactly the missed ones, and left the same mirror
    assert 300 >= BULK_FROM
    assert restocks(session, installed_shop.id) == restocks(session, other.id)
    assert {r[0] for r in restocks(session, installed_shop.id)} == told
    assert mirror(session, installed_shop.id) == mirror(session, other.id)
    assert (bulk_report.restocks_found, bulk_report.failed_shops, bulk_report.busy_shops) == (len(told), [], [])
    assert bulk_report.variants_reread == 295  # the five deleted in Shopify are gone
    assert page_report.restocks_found == len(told)
    # and the bulk read was one bulk query and its polls, a fraction of a point per variant
    operations = [c["operation"] for c in shopify_admin.costs[start:middle]]
    assert operations == ["BulkQueryRun", "BulkOperations"]
    assert bulk_points / 300 <= 2
    assert page_points / 300 > 2  # what the page path costs (VariantStock, 12 a call)
    # and nothing unwatched was mirrored
    assert FIRST + 1 not in {v[0] for v in mirror(session, installed_shop.id)[0]}


def seed_simple(double, session, runtime, shop_id: int, count: int, back: set[int]) -> list[int]:
    """``count`` watched variants mirrored sold out, one location each; those in ``back`` are in stock now."""
    ids = []
    for n in range(count):
        variant = FIRST + n
        double.add_variant(DEMO_SHOP, variant, inventory_item_id=variant + ITEM_OFFSET,
                           levels={WAREHOUSE: 5 if n in back else 0})
        add_variant_row(session, shop_id, variant, variant + ITEM_OFFSET, 0)
        add_waiting(session, runtime.vault, shop_id, variant, value=f"shopper{n}@gmail.com")
        ids.append(variant)
    return ids


def test_bulk_sweep_waits_for_the_operation_polling_every_two_seconds(session, runtime, shopify_admin,
                                                                     installed_shop):
    # given a bulk query that reports RUNNING twice before it is done
    seed_simple(shopify_admin, session, runtime, installed_shop.id, BULK_FROM, back={7})
    shopify_admin.bulk_query_polls = 2
    slept = []
    # when
    report = reconcile_shops(runtime, DEMO_SHOP, sleep=slept.append)
    # then
    assert slept == [2.0, 2.0]
    assert len(shopify_admin.graphql_requests("BulkOperations")) == 3
    assert restocks(session, installed_shop.id) == [(FIRST + 7, 0, 5, "reconcile")]
    assert report.variants_reread == BULK_FROM


def test_a_bulk_query_already_running_skips_the_shop_and_says_so(session, runtime, shopify_admin, installed_shop):
    # given another bulk query of the app running on the shop
    seed_simple(shopify_admin, session, runtime, installed_shop.id, BULK_FROM, back={3})
    shopify_admin.hold_bulk_query(DEMO_SHOP)
    before = mirror(session, installed_shop.id)
    # when
    report = reconcile_shops(runtime, None, sleep=no_sleep)
    # then nothing was read or changed, and the report names the shop
    assert report.busy_shops == [DEMO_SHOP]
    assert report.failed_shops == []
    assert f"Skipped {DEMO_SHOP}: another bulk query of the app is running there; it is read on the next sweep" \
        in report.lines()
    assert [r["operation"] for r in shopify_admin.graphql_requests()] == ["BulkQueryRun"]
    assert shopify_admin.file_requests == []
    assert restocks(session, installed_shop.id) == []
    assert mirror(session, installed_shop.id) == before


def test_a_failed_bulk_query_applies_the_whole_variants_of_its_partial_data_and_reports_the_shop(
        session, runtime, shopify_admin, installed_shop):
    # given an operation that times out after writing 21 lines: 10 variants whole (a line each plus
    # a level line) and the 11th variant's line without its level
    seed_simple(shopify_admin, session, runtime, installed_shop.id, BULK_FROM, back={3, 10, 20})
    shopify_admin.bulk_query_outcome = BulkQueryOutcome("FAILED", "TIMEOUT", partial_lines=21)
    # when
    report = reconcile_shops(runtime, DEMO_SHOP, sleep=no_sleep)
    # then the ten whole variants were applied, the cut one and the rest were not
    assert report.failed_shops == [DEMO_SHOP]
    assert report.variants_reread == 10
    assert restocks(session, installed_shop.id) == [(FIRST + 3, 0, 5, "reconcile")]
    variants = {v[0]: v[5] for v in mirror(session, installed_shop.id)[0]}
    assert variants[FIRST + 10] == 0 and variants[FIRST + 20] == 0
    # when the next sweep's operation completes
    shopify_admin.bulk_query_outcome = None
    report = reconcile_shops(runtime, DEMO_SHOP, sleep=no_sleep)
    # then the rest are caught up
    assert report.failed_shops == []
    assert restocks(session, installed_shop.id) == [(FIRST + 3, 0, 5, "reconcile"), (FIRST + 10, 0, 5, "reconcile"),
                                                    (FIRST + 20, 0, 5, "reconcile")]


def test_a_canceled_bulk_query_without_data_changes_nothing(session, runtime, shopify_admin, installed_shop):
    seed_simple(shopify_admin, session, runtime, installed_shop.id, BULK_FROM, back={3})
    shopify_admin.bulk_query_outcome = BulkQueryOutcome("CANCELED")
    before = mirror(session, installed_shop.id)
    report = reconcile_shops(runtime, DEMO_SHOP, sleep=no_sleep)
    assert report.failed_shops == [DEMO_SHOP]
    assert shopify_admin.file_requests == []
    assert mirror(session, installed_shop.id) == before
    assert restocks(session, installed_shop.id) == []


def test_an_expired_result_url_is_asked_for_again_once(session, runtime, shopify_admin, installed_shop):
    # given the first URL handed out has expired by the time it is fetched
    seed_simple(shopify_admin, session, runtime, installed_shop.id, BULK_FROM, back={4})
    shopify_admin.expire_next_bulk_urls(1)
    # when
    report = reconcile_shops(runtime, DEMO_SHOP, sleep=no_sleep)
    # then a second poll gave a fresh URL that worked
    assert report.failed_shops == []
    assert shopify_admin.file_requests == ["download", "download"]
    assert len(shopify_admin.graphql_requests("BulkOperations")) == 2
    assert restocks(session, installed_shop.id) == [(FIRST + 4, 0, 5, "reconcile")]


def test_a_result_url_that_stays_expired_fails_the_shop_and_changes_nothing(session, runtime, shopify_admin,
                                                                           installed_shop):
    seed_simple(shopify_admin, session, runtime, installed_shop.id, BULK_FROM, back={4})
    shopify_admin.expire_next_bulk_urls(2)
    before = mirror(session, installed_shop.id)
    report = reconcile_shops(runtime, DEMO_SHOP, sleep=no_sleep)
    assert report.failed_shops == [DEMO_SHOP]
    assert shopify_admin.file_requests == ["download", "download"]
    assert mirror(session, installed_shop.id) == before
    assert restocks(session, installed_shop.id) == []


def test_unusable_lines_skip_their_variants_and_corrupt_nothing(session, runtime, shopify_admin, installed_shop):
    # given a result file where variant 2's level line is not JSON and variant 4's line has no id
    # (lines: variant n at 2n, its level at 2n + 1); variants 2, 4 and 6 are back in stock
    seed_simple(shopify_admin, session, runtime, installed_shop.id, BULK_FROM, back={2, 4, 6})

    def corrupt(lines):
        lines = list(lines)
        lines[5] = '{"location": {"id": "gid://shopify/Location/111"}, "quantities": [{"name": "avail'
        lines[8] = {k: v for k, v in lines[8].items() if k != "id"}
        return lines

    shopify_admin.bulk_result_edit = corrupt
    # when
    report = reconcile_shops(runtime, DEMO_SHOP, sleep=no_sleep)
    # then variants 2, 3 (beside the bad line) and 4 were left alone, the others applied
    assert report.failed_shops == []
    assert report.variants_reread == BULK_FROM - 3
    assert restocks(session, installed_shop.id) == [(FIRST + 6, 0, 5, "reconcile")]
    variants, levels = mirror(session, installed_shop.id)
    assert {v[0]: v[5] for v in variants}[FIRST + 2] == 0
    assert (FIRST + 2 + ITEM_OFFSET, WAREHOUSE, 5) not in levels
    # when the next sweep's file is sound
    shopify_admin.bulk_result_edit = None
    reconcile_shops(runtime, DEMO_SHOP, sleep=no_sleep)
    # then they are caught up
    assert [r[0] for r in restocks(session, installed_shop.id)] == [FIRST + 2, FIRST + 4, FIRST + 6]


def test_fewer_watched_variants_than_bulk_from_use_the_page_path(session, runtime, shopify_admin, installed_shop):
    seed_simple(shopify_admin, session, runtime, installed_shop.id, BULK_FROM - 1, back={1})
    report = reconcile_shops(runtime, DEMO_SHOP, sleep=no_sleep)
    assert report.restocks_found == 1
    assert shopify_admin.graphql_requests("BulkQueryRun") == []
    assert len(shopify_admin.graphql_requests("VariantStock")) == 2


def test_the_bulk_query_reads_only_the_watched_id_range(session, runtime, shopify_admin, installed_shop):
    # given a variant below the watched range
    shopify_admin.add_variant(DEMO_SHOP, FIRST - 5, levels={WAREHOUSE: 1})
    seed_simple(shopify_admin, session, runtime, installed_shop.id, BULK_FROM, back=set())
    # when
    reconcile_shops(runtime, DEMO_SHOP, sleep=no_sleep)
    # then the query asked for the range and the file held just the watched variants
    sent = json.dumps(shopify_admin.graphql_requests("BulkQueryRun")[0]["variables"]["query"])
    assert f"id:>={FIRST} AND id:<={FIRST + BULK_FROM - 1}" in sent
    text = next(iter(shopify_admin.bulk_results.values()))
    assert sum(1 for line in text.splitlines() if "__parentId" not in line) == BULK_FROM
    assert session.scalar(select(Shop.id)) == installed_shop.id
