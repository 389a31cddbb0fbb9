"""Benchmark 1 in-process: the CPU of one ``POST /webhooks`` in the web process, without gunicorn or wrk.

wrk on this 2-core machine shares the CPU with gunicorn, PostgreSQL and Redis, so its numbers move
with whatever else runs. This script sends the same signed ``inventory_levels/update`` deliveries
through Flask's test client (the same view code, no server) to Backbell and to the bare baseline
(bench/baselines.py), alternating, and reports per request both the wall time and the CPU this
process spent (``time.process_time``: what a gunicorn worker would burn; PostgreSQL and Redis run
elsewhere). It also times the pieces alone: the Celery publish against a bare ``LPUSH``, and the
inbox INSERT against the bare one.

    .venv/bin/python bench/ingress_cpu.py [--requests 2000] [--rounds 3] [--profile]

``--profile`` then runs Backbell's requests under cProfile and prints the top functions.
Scratch database ``backbell_bench_ingress_cpu``; Redis db 15 (flushed).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import cProfile
import gc
import json
import os
import pstats
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
import redis
from cryptography.fernet import Fernet

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.baselines import bare_app, empty_app, ensure_table  # noqa: E402
from bench.harness import BENCH_REDIS, scratch_database  # noqa: E402
from plugin import create_app  # noqa: E402
from plugin.clock import utcnow  # noqa: E402
from plugin.demo import signing  # noqa: E402
from plugin.inbox import deliveries  # noqa: E402
from plugin.migrate import upgrade  # noqa: E402

SECRET = "bench-secret"
DATABASE = "backbell_bench_ingress_cpu"
SHOP = "bench-cpu.myshopify.com"


def signed(count: int, tag: str) -> list[tuple[bytes, dict[str, str]]]:
    """Deliveries with unique webhook ids, signed like Shopify's (plugin.demo.signing, as the suite signs them)."""
    out = []
    for n in range(count):
        item, location = 40_000_000 + n % 5000, 70_000 + n % 3
        body = json.dumps({"inventory_item_id": item, "location_id": location, "available": n % 7,
                           "updated_at": utcnow().isoformat(),
                           "admin_graphql_api_id": f"gid://shopify/InventoryLevel/{location}?inventory_item_id={item}"},
                          separators=(",", ":")).encode()
        out.append((body, signing.webhook_headers(body, "inventory_levels/update", SHOP,
                                                  f"{tag}-{n}-{uuid.uuid4().hex[:8]}", SECRET)))
    return out


def timed(work, count: int) -> tuple[float, float]:
    """(wall µs, CPU µs of this process) per call of ``work(n)``. The collector is run and what
    survives frozen first, so one row does not pay for the garbage of the rows before it."""
    gc.collect()
    gc.freeze()
    wall, cpu = time.perf_counter(), time.process_time()
    for n in range(count):
        work(n)
    return (time.perf_counter() - wall) / count * 1e6, (time.process_time() - cpu) / count * 1e6


def poster(app, requests):
    client = app.test_client()

    def post(n: int) -> None:
        body, headers = requests[n]
        status = client.post("/webhooks", data=body, headers=headers).status_code
        if status != 200:
            raise SystemExit(f"bench: POST /webhooks answered {status}")

    return post


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    n = args.requests

    database_url = scratch_database(DATABASE)
    upgrade(database_url.replace("postgresql://", "postgresql+psycopg://"))
    ensure_table(database_url)
    queue = redis.Redis.from_url(BENCH_REDIS)
    queue.flushdb()
    os.environ.update(BENCH_DATABASE_URL=database_url, BENCH_REDIS_URL=BENCH_REDIS, BENCH_SECRET=SECRET)
    scratch = Path(tempfile.mkdtemp(prefix="ingress-cpu-"))
    app = create_app({"environment": "development", "database_url": database_url.replace("postgresql://", "postgresql+psycopg://"),
                      "redis_url": BENCH_REDIS, "instance_path": scratch / "instance",
                      "encryption_keys": (Fernet.generate_key().decode(),),
                      "link_secrets": (base64.urlsafe_b64encode(b"b" * 32).decode(),),
                      "shopify_api_key": "bench-key", "shopify_api_secret": SECRET})
    runtime = app.extensions["backbell"]
    from plugin.inbox.tasks import process_webhook

    bare_conn = psycopg.connect(database_url, autocommit=True)
    results: dict[str, list[tuple[float, float]]] = {}

    def record(name: str, value: tuple[float, float]) -> None:
        results.setdefault(name, []).append(value)

    def insert_backbell(i: int) -> None:
        with runtime.db.autocommit() as connection:
            deliveries.accept(connection, runtime.vault, webhook_id=f"ins-{i}-{uuid.uuid4().hex}", shop_domain=SHOP,
                              topic="inventory_levels/update", body="{}", triggered_at=None)

    def insert_bare(i: int) -> None:
        with bare_conn.transaction():
            bare_conn.execute("INSERT INTO bench_bare_inbox (webhook_id, body) VALUES (%s, %s) "
                              "ON CONFLICT (webhook_id) DO NOTHING RETURNING id", (f"ins-{i}-{uuid.uuid4().hex}", b"{}"))

    log_file = open(scratch / "app.log", "w")  # the app logs a line per request, as gunicorn's would
    with contextlib.redirect_stderr(log_file):
        apps = {"backbell": app, "bare": bare_app(), "empty": empty_app()}
        for name, each in apps.items():  # warm: connections open, statements cached
            timed(poster(each, signed(20, f"warm-{name}")), 20)
        for round_number in range(args.rounds):
            for name, each in apps.items():
                record(name, timed(poster(each, signed(n, f"{name}{round_number}")), n))
            record("delay", timed(lambda i: process_webhook.delay(i), n))
            publisher = app.extensions.get("task_publisher")  # absent before the change
            if publisher is not None:
                record("publisher.send", timed(lambda i: publisher.send("backbell.process_webhook", i), n))
            record("lpush", timed(lambda i: queue.lpush("bench-bare", str(i)), n))
            record("insert backbell", timed(insert_backbell, n))
            record("insert bare", timed(insert_bare, n))
            queue.flushdb()
        if args.profile:
            profile = cProfile.Profile(time.process_time)  # CPU, not waiting on the servers
            post = poster(app, signed(n, "profile"))
            profile.runcall(lambda: [post(i) for i in range(n)])

    print(f"in-process, {n} requests per row, median of {args.rounds} rounds (µs per request)")
    print(f"{'path':18} {'wall µs':>9} {'cpu µs':>9}")
    for name, values in results.items():
        wall, cpu = statistics.median(v[0] for v in values), statistics.median(v[1] for v in values)
        print(f"{name:18} {wall:9.0f} {cpu:9.0f}")
    ratio = statistics.median(v[0] for v in results["bare"]) / statistics.median(v[0] for v in results["backbell"])
    cpu_ratio = statistics.median(v[1] for v in results["bare"]) / statistics.median(v[1] for v in results["backbell"])
    print(f"backbell throughput vs bare (in-process): wall {ratio:.2f}×, cpu {cpu_ratio:.2f}×")
    if args.profile:
        pstats.Stats(profile).sort_stats("cumulative").print_stats(int(os.environ.get("BENCH_PROFILE_LINES", "45")))
        if os.environ.get("BENCH_PROFILE_OUT"):
            profile.dump_stats(os.environ["BENCH_PROFILE_OUT"])
    bare_conn.close()
    runtime.db.dispose()
    queue.flushdb()


if __name__ == "__main__":
    main()
