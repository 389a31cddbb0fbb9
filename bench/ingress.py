"""Benchmark 1 — webhook ingress.

Signed ``inventory_levels/update`` deliveries with unique webhook ids, sent by wrk to gunicorn
(2 workers) serving, in turn: Backbell's ``POST /webhooks`` (verify, store in the inbox encrypted,
queue the id on Redis), the same durable work written bare (bench/baselines.py ``bare``), and an
empty Flask endpoint. Two loads: as fast as it goes (32 connections) and paced at about 200
requests/s (where p99 is the number that matters). Rounds alternate the three servers.

    .venv/bin/python bench/ingress.py [--seconds 10] [--rounds 3] [--profile]

``--profile`` then records Backbell's gunicorn workers with py-spy during one more flat-out run
(bench/flame-ingress.svg).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import sys
import tempfile
import uuid
from pathlib import Path

import psycopg
import redis
from cryptography.fernet import Fernet

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.baselines import ensure_table  # noqa: E402
from bench.harness import (  # noqa: E402
    BENCH_REDIS,
    ROOT,
    gunicorn,
    machine,
    median,
    profiled,
    require,
    scratch_database,
    wrk,
    write_section,
)
from plugin.clock import utcnow  # noqa: E402
from plugin.migrate import upgrade  # noqa: E402

SECRET = "bench-secret"
DATABASE = "backbell_bench_ingress"
SERVERS = {"backbell": "plugin:create_app()", "bare": "bench.baselines:bare_app()", "empty": "bench.baselines:empty_app()"}


def signed_requests(path: Path, count: int, round_tag: str) -> None:
    """One line per request: webhook id, HMAC, topic, body (a realistic inventory level)."""
    with path.open("w") as out:
        for n in range(count):
            item, location = 40_000_000 + n % 5000, 70_000 + n % 3
            body = json.dumps({"inventory_item_id": item, "location_id": location, "available": n % 7,
                               "updated_at": utcnow().isoformat(),
                               "admin_graphql_api_id": f"gid://shopify/InventoryLevel/{location}?inventory_item_id={item}"},
                              separators=(",", ":"))
            signature = base64.b64encode(hmac.new(SECRET.encode(), body.encode(), hashlib.sha256).digest()).decode()
            out.write(f"{round_tag}-{n}-{uuid.uuid4().hex[:8]}\t{signature}\tinventory_levels/update\t{body}\n")


def environment(database_url: str, instance: Path) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url, "REDIS_URL": BENCH_REDIS, "BACKBELL_ENV": "development",
        "SHOPIFY_API_KEY": "bench-key", "SHOPIFY_API_SECRET": SECRET, "BACKBELL_INSTANCE": str(instance),
        "BACKBELL_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "BACKBELL_LINK_SECRETS": base64.urlsafe_b64encode(b"b" * 32).decode(),
        "BENCH_DATABASE_URL": database_url, "BENCH_REDIS_URL": BENCH_REDIS, "BENCH_SECRET": SECRET,
    }


def run(seconds: int, rounds: int, profile: bool = False) -> dict[str, dict[str, list]]:
    require("wrk")
    database_url = scratch_database(DATABASE)
    upgrade(database_url.replace("postgresql://", "postgresql+psycopg://"))
    ensure_table(database_url)
    redis.Redis.from_url(BENCH_REDIS).flushdb()
    results: dict[str, dict[str, list]] = {name: {"full": [], "paced": []} for name in SERVERS}
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        env = environment(database_url, scratch / "instance")
        for round_number in range(rounds):
            order = list(SERVERS) if round_number % 2 == 0 else list(reversed(SERVERS))
            for name in order:
                with gunicorn(SERVERS[name], env, log=scratch / f"{name}.log") as url:
                    for load, connections, delay in (("full", 32, 0), ("paced", 10, 50)):
                        requests_file = scratch / f"{name}-{round_number}-{load}.tsv"
                        signed_requests(requests_file, 40_000, f"{name}{round_number}{load}")
                        measured = wrk(url, requests_file, seconds, connections, delay_ms=delay)
                        results[name][load].append(measured)
                        print(f"round {round_number + 1} {name:8} {load:5}: {measured.requests_per_second:7.0f} req/s "
                              f"p50 {measured.p50_ms:6.1f} ms p99 {measured.p99_ms:6.1f} ms errors {measured.errors}",
                              flush=True)
        if profile:
            with gunicorn(SERVERS["backbell"], env, log=scratch / "backbell-profile.log") as url:
                requests_file = scratch / "profile.tsv"
                signed_requests(requests_file, 40_000, "profile")
                spy = profiled(url, ROOT / "bench" / "flame-ingress.svg")
                measured = wrk(url, requests_file, seconds, 32)
                spy.send_signal(2)
                spy.wait(timeout=60)
                print(f"profiled backbell full: {measured.requests_per_second:7.0f} req/s (under py-spy) "
                      f"-> bench/flame-ingress.svg", flush=True)
        stored = _count(database_url, "SELECT count(*) FROM webhook_inbox")
        accepted = sum(r.requests for r in results["backbell"]["full"] + results["backbell"]["paced"])
        print(f"backbell stored {stored} inbox rows for {accepted} requests sent", flush=True)
    redis.Redis.from_url(BENCH_REDIS).flushdb()
    return results


def _count(database_url: str, sql: str) -> int:
    with psycopg.connect(database_url) as conn:
        return conn.execute(sql).fetchone()[0]


def report(results, seconds: int, rounds: int) -> str:
    def row(name: str, load: str) -> tuple[float, float, float, int]:
        runs = results[name][load]
        return (median(r.requests_per_second for r in runs), median(r.p50_ms for r in runs),
                median(r.p99_ms for r in runs), sum(r.errors for r in runs))

    lines = [
        "## 1. Webhook ingress (`bench/ingress.py`)",
        "",
        f"Machine: {machine()}. gunicorn with 2 sync workers per server, PostgreSQL and Redis on the same machine, "
        f"wrk on the same machine; {rounds} alternating rounds of {seconds} s per load; medians over rounds.",
        "",
        "| server | load | req/s | p50 ms | p99 ms | errors | req/s vs bare | req/s vs empty |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for load in ("full", "paced"):
        bare, empty = row("bare", load)[0], row("empty", load)[0]
        for name in SERVERS:
            rps, p50, p99, errors = row(name, load)
            label = "32 conns, flat out" if load == "full" else "10 conns, ~200 req/s"
            lines.append(f"| {name} | {label} | {rps:.0f} | {p50:.1f} | {p99:.1f} | {errors} | "
                         f"{rps / bare:.2f}× | {rps / empty:.2f}× |")
    lines += ["", "Goal (issue #13): Backbell ≥ 0.8× bare flat out; p99 < 50 ms at 200 req/s."]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="then record gunicorn with py-spy (bench/flame-ingress.svg)")
    args = parser.parse_args()
    results = run(args.seconds, args.rounds, args.profile)
    text = report(results, args.seconds, args.rounds)
    print(text)
    write_section("ingress", text)


if __name__ == "__main__":
    main()
