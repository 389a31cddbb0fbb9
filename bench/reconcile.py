"""Benchmark 5 — reconciliation: the sweep's Admin API cost against Shopify's restore rate.

``--variants`` variants (default 10,000), each with one waiting shopper and mirrored, known to the
Shopify Admin double with one stocked location each; ``reconcile_shops`` (what the beat's
``reconcile_all`` runs) sweeps the shop in this process. The double validates every document,
computes its requested cost like Shopify, throttles at 100 points/s restore (2,000 bucket) and
refunds the difference to the actual cost; the client waits THROTTLED out as it would in
production. Reported: calls, requested and actual cost per variant, the sweep's wall time, and the
time the restore rate alone needs for that cost — against the goal's budget of 2 points per variant.

    .venv/bin/python bench/reconcile.py [--variants 10000]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import machine, write_section  # noqa: E402
from bench.stack import stack  # noqa: E402
from plugin.clock import utcnow  # noqa: E402
from plugin.inventory.reconcile import reconcile_shops  # noqa: E402
from plugin.models import Contact, InventoryLevel, Subscription, Variant  # noqa: E402
from tests.doubles.shopify_admin import RESTORE_RATE  # noqa: E402

SHOP, LOCATION = "bench-reconcile.myshopify.com", 70001
GOAL_POINTS = 2


def seed(s, shop_id: int, count: int) -> None:
    now = utcnow()
    for n in range(count):
        s.admin.add_variant(SHOP, 10_000_000 + n, product_id=20_000_000 + n, inventory_item_id=30_000_000 + n,
                            levels={LOCATION: 0}, product_title=f"Sweep {n}", handle=f"sweep-{n}")
    vault = s.runtime.vault
    with s.runtime.db.session() as session:
        session.execute(insert(Variant), [
            {"shop_id": shop_id, "variant_id": 10_000_000 + n, "product_id": 20_000_000 + n,
             "inventory_item_id": 30_000_000 + n, "title": "Default Title", "product_title": f"Sweep {n}",
             "product_handle": f"sweep-{n}", "price": "25.00", "available": 0, "synced_at": now} for n in range(count)])
        session.execute(insert(InventoryLevel), [
            {"shop_id": shop_id, "inventory_item_id": 30_000_000 + n, "location_id": LOCATION, "available": 0,
             "source_updated_at": now} for n in range(count)])
        ids = session.scalars(insert(Contact).returning(Contact.id), [
            {"shop_id": shop_id, "channel": "email", "value_ciphertext": vault.encrypt(f"sweep{n}@gmail.com"),
             "value_hash": vault.hash("email", f"sweep{n}@gmail.com")} for n in range(count)]).all()
        session.execute(insert(Subscription), [
            {"shop_id": shop_id, "contact_id": cid, "variant_id": 10_000_000 + n, "product_id": 20_000_000 + n,
             "channel": "email", "locale": "en", "status": "waiting", "consent_at": now} for n, cid in enumerate(ids)])


def record_costs(double) -> list[dict]:
    """Every answer's ``extensions.cost`` (and whether it was THROTTLED), as the double sent it."""
    costs: list[dict] = []
    original = double._run_document

    def run_document(shop, query, variables):
        response = original(shop, query, variables)
        answer = json.loads(response.get_data())
        cost = (answer.get("extensions") or {}).get("cost") or {}
        throttled = any((e.get("extensions") or {}).get("code") == "THROTTLED" for e in answer.get("errors") or [])
        costs.append({"requested": cost.get("requestedQueryCost", 0), "actual": cost.get("actualQueryCost") or 0,
                      "throttled": throttled})
        return response

    double._run_document = run_document
    return costs


def run(count: int) -> dict:
    with stack("reconcile") as s:
        shop_id = s.install_shop(SHOP)
        seed(s, shop_id, count)
        costs = record_costs(s.admin)
        started = time.monotonic()
        with s.app.app_context():
            report = reconcile_shops(s.runtime, SHOP)
        seconds = time.monotonic() - started
    answered = [c for c in costs if not c["throttled"]]
    return {"variants": count, "reread": report.variants_reread, "failed": report.failed_shops,
            "calls": len(answered), "throttled": len(costs) - len(answered), "seconds": seconds,
            "requested": sum(c["requested"] for c in answered), "actual": sum(c["actual"] for c in answered)}


def report(r: dict) -> str:
    per_requested, per_actual = r["requested"] / r["variants"], r["actual"] / r["variants"]
    restore_seconds = r["actual"] / RESTORE_RATE
    lines = [
        "## 5. Reconciliation (`bench/reconcile.py`)",
        "",
        f"Machine: {machine()}. One shop, {r['variants']:,} watched variants (one stocked location each), the Admin "
        f"double with Shopify's cost accounting ({RESTORE_RATE:.0f} points/s restore, 2,000-point bucket, refunds to "
        "actual cost); `reconcile_shops` in the bench process. Baseline: the goal's budget of "
        f"{GOAL_POINTS} points per variant at the same restore rate.",
        "",
        "| sweep | calls | THROTTLED answers | requested points / variant | actual points / variant | "
        "restore time for the cost | wall time |",
        "|---|---:|---:|---:|---:|---:|---:|",
        f"| Backbell (`VariantStock`, 12 per call) | {r['calls']:,} | {r['throttled']:,} | {per_requested:.1f} | "
        f"{per_actual:.1f} | {restore_seconds:,.0f} s | {r['seconds']:,.1f} s |",
        f"| goal budget | — | — | — | {GOAL_POINTS} | {r['variants'] * GOAL_POINTS / RESTORE_RATE:,.0f} s | — |",
        "",
        f"Re-read {r['reread']:,} of {r['variants']:,}; shops that failed: {len(r['failed'])}. Actual / goal: "
        f"{per_actual / GOAL_POINTS:.1f}×. Not done: a bulk operation (`bulkOperationRunQuery` over the watched "
        "variants' inventory levels, JSONL result), which Shopify does not charge per object — see bench/README.md.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", type=int, default=10_000)
    args = parser.parse_args()
    result = run(args.variants)
    text = report(result)
    print(text)
    write_section("reconcile", text)


if __name__ == "__main__":
    main()
