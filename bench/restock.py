"""Benchmark 2 — restock → first notice handed to the provider.

Each trial: a sold-out variant with a few waiting shoppers (mirrored at 0), Shopify (the Admin
double) gets stock, and a signed ``inventory_levels/update`` goes to ``POST /webhooks`` on
gunicorn; the latency is from just before that POST to the SendGrid double receiving the first
mail for that variant. Backbell: gunicorn (2 workers) + a real Celery worker as ``backbell worker``
runs it (one process more than a restock's send chains), Redis db 15, PostgreSQL. Baseline, alternating trial by trial: the same hops written bare
(``bench.baselines:bare_app()`` + ``bench/bare_chain.py``).

Then the same while another shop's big fan-out (``--big`` shoppers, default 20,000) is running:
does one shop's big restock delay another shop's first notice?

    .venv/bin/python bench/restock.py [--trials 50] [--big 20000]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.baselines import ensure_table  # noqa: E402
from bench.harness import earlier_section, load_at, load_results, save_results, BENCH_REDIS, gunicorn, machine, write_section  # noqa: E402
from bench.stack import SECRET, level_payload, stack, wait_until, webhook  # noqa: E402

SHOP, BIG_SHOP, LOCATION = "bench-small.myshopify.com", "bench-big.myshopify.com", 70001
WAITING = 3
TRIAL_TIMEOUT = 60.0


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


def first_arrival(sendgrid, since: int, prefix: str) -> float | None:
    for at, recipients in list(sendgrid.arrivals[since:]):
        if any(r.startswith(prefix) for r in recipients):
            return at
    return None


def trial(s, http, url: str, shop: str, n: int, kind: str) -> float | None:
    variant, item = 5_000_000 + n, 6_000_000 + n
    s.admin.set_level(shop, item, LOCATION, 5)
    since = len(s.sendgrid.arrivals)
    started = time.monotonic()
    status = webhook(url, "inventory_levels/update", shop, level_payload(item, LOCATION, 5), f"{kind}-{n}", http)
    if status != 200:
        raise RuntimeError(f"{kind} webhook answered {status}")
    arrived = wait_until(lambda: first_arrival(s.sendgrid, since, f"v{variant}-"), TRIAL_TIMEOUT)
    return None if arrived is None else (arrived - started) * 1000


def prepare(s, shop_id: int, shop: str, numbers) -> None:
    for n in numbers:
        variant, item = 5_000_000 + n, 6_000_000 + n
        s.sold_out_variant(shop_id, shop, variant, item, LOCATION, f"Bench product {n}")
        s.add_waiting(shop_id, variant, WAITING, f"v{variant}-")


def bare_chain(s, scratch: Path, database_url: str) -> subprocess.Popen:
    token = s.admin.issue_tokens(SHOP, expires_in=24 * 3600)["access_token"]
    env = {**os.environ, "BENCH_DATABASE_URL": database_url, "BENCH_REDIS_URL": BENCH_REDIS, "BENCH_SHOP": SHOP,
           "BENCH_ADMIN_URL": s.admin.url + "/{shop}/admin/api/2026-10/graphql.json",
           "BENCH_ADMIN_TOKENS": json.dumps({SHOP: token}), "BENCH_SENDGRID_URL": s.sendgrid.url,
           "BENCH_SENDGRID_KEY": s.sendgrid.api_key, "BENCH_KEY": s.config["encryption_keys"][0]}
    log = open(scratch / "bare-chain.log", "wb")
    return subprocess.Popen([sys.executable, str(Path(__file__).with_name("bare_chain.py"))], env=env,
                            stdout=log, stderr=subprocess.STDOUT)


def run(trials: int, big: int) -> dict:
    results = {"quiet": {"backbell": [], "bare": []}, "busy": {"backbell": [], "bare": []}, "machine": machine()}
    busy_at_end: list[bool] = []
    with stack("restock") as s:
        plain_url = s.database_url.replace("postgresql+psycopg://", "postgresql://")
        ensure_table(plain_url)
        shop_id = s.install_shop(SHOP)
        big_id = s.install_shop(BIG_SHOP)
        prepare(s, shop_id, SHOP, range(4 * trials + 3))
        s.sold_out_variant(big_id, BIG_SHOP, 4_999_999, 5_999_999, LOCATION, "Big drop")
        s.add_waiting(big_id, 4_999_999, big, "big-")
        bare_env = {"BENCH_DATABASE_URL": plain_url, "BENCH_REDIS_URL": BENCH_REDIS, "BENCH_SECRET": SECRET}
        chain = bare_chain(s, s.scratch, plain_url)
        results["worker_processes"] = s.start_worker()
        try:
            with s.web() as url, gunicorn("bench.baselines:bare_app()", bare_env, log=s.scratch / "bare.log") as bare, \
                    httpx.Client(timeout=30) as http:
                for n in range(3):  # warm-up: connections, imports, the first-request paths
                    trial(s, http, url, SHOP, 4 * trials + n, "warm")
                for n in range(trials):
                    order = [("backbell", url, n), ("bare", bare, trials + n)]
                    for kind, target, number in order if n % 2 == 0 else reversed(order):
                        results["quiet"][kind].append(trial(s, http, target, SHOP, number, kind))
                print(f"quiet: {summary(results['quiet']['backbell'])} / bare {summary(results['quiet']['bare'])}",
                      flush=True)
                # The big shop's restock; its first mail means its fan-out is under way.
                s.admin.set_level(BIG_SHOP, 5_999_999, LOCATION, big + 10)
                since = len(s.sendgrid.arrivals)
                big_started = time.monotonic()
                webhook(url, "inventory_levels/update", BIG_SHOP, level_payload(5_999_999, LOCATION, big + 10), "big", http)
                wait_until(lambda: first_arrival(s.sendgrid, since, "big-"), TRIAL_TIMEOUT)
                for n in range(trials):
                    order = [("backbell", url, 2 * trials + n), ("bare", bare, 3 * trials + n)]
                    for kind, target, number in order if n % 2 == 0 else reversed(order):
                        results["busy"][kind].append(trial(s, http, target, SHOP, number, kind))
                    busy_at_end.append(big_received(s) < big)
                wait_until(lambda: big_received(s) >= big, 600, interval=0.2)
                big_seconds = time.monotonic() - big_started
        finally:
            import redis as redis_lib

            redis_lib.Redis.from_url(BENCH_REDIS).lpush("bench-bare", "stop")
            chain.wait(timeout=10)
        results["big"] = {"shoppers": big, "received": big_received(s), "seconds": big_seconds,
                          "trials_during": sum(busy_at_end)}
    return results


def big_received(s) -> int:
    return sum(1 for _, to in list(s.sendgrid.arrivals) for r in to if r.startswith("big-"))


def summary(values: list) -> str:
    done = [v for v in values if v is not None]
    if not done:
        return "no mail"
    return f"p50 {statistics.median(done):.0f} ms p99 {percentile(done, 99):.0f} ms ({len(values) - len(done)} timed out)"


def report(results: dict, trials: int, before: str | None = None) -> str:
    big = results["big"]
    lines = [
        "## 2. Restock → first notice at the provider (`bench/restock.py`)",
        "",
        f"Machine: {results.get('machine') or machine()}. gunicorn (2 workers) + one Celery worker ({results.get('worker_processes', 2)} processes), PostgreSQL, Redis db 15, "
        f"the Admin and SendGrid doubles on loopback in the bench process. {trials} restocks per row, one at a "
        f"time, Backbell and the bare chain alternating; {WAITING} shoppers wait on each variant. Latency: from "
        "just before the signed `inventory_levels/update` POST to the SendGrid double receiving the variant's "
        "first mail. Bare chain: HMAC + insert + Redis push, then a consumer doing BRPOP, one SELECT, Fernet, the "
        "same Admin re-read and one SendGrid POST.",
        "",
        "| while | path | p50 ms | p99 ms | max ms | timed out | p50 vs bare |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for scenario, label in (("quiet", "nothing else"), ("busy", f"another shop's {big['shoppers']:,}-shopper fan-out")):
        bare_p50 = statistics.median([v for v in results[scenario]["bare"] if v is not None])
        for kind in ("backbell", "bare"):
            values = results[scenario][kind]
            done = [v for v in values if v is not None]
            lines.append(f"| {label} | {kind} | {statistics.median(done):.0f} | {percentile(done, 99):.0f} | "
                         f"{max(done):.0f} | {len(values) - len(done)} | {statistics.median(done) / bare_p50:.2f}× |")
    lines += [
        "",
        f"The big fan-out: {big['received']:,} of {big['shoppers']:,} mails in {big['seconds']:.1f} s; "
        f"{big['trials_during']} of {trials} small-shop trials finished while it was still sending.",
        "",
        "Goal (issue #13): p50 < 100 ms, p99 < 300 ms, and another shop's fan-out must not delay the first notice.",
    ]
    if before:
        lines[-2:-2] = ["", *_before_after(results, before)]
    return "\n".join(lines)


def _before_after(results: dict, before: str) -> list[str]:
    """The same script on the code before the change (``--before``: the RESULTS.md it wrote)."""
    machine_before, rows = earlier_section(before, "restock")
    earlier = {("quiet" if r[0] == "nothing else" else "busy", r[1]): r for r in rows}
    lines = [f"Before → after (the same script and options; before: the code without the change, measured on this "
             f"machine just before, load {load_at(machine_before)} — the ratio to the bare chain carries the "
             "machine's load):", "",
             "| while | p50 ms before | p50 ms after | p99 ms before | p99 ms after | p50 vs bare before | after |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for scenario, label in (("quiet", "nothing else"), ("busy", "another shop's fan-out")):
        old = earlier.get((scenario, "backbell"))
        done = [v for v in results[scenario]["backbell"] if v is not None]
        bare = statistics.median([v for v in results[scenario]["bare"] if v is not None])
        if old is None or not done:
            continue
        lines.append(f"| {label} | {old[2]} | {statistics.median(done):.0f} | {old[3]} | {percentile(done, 99):.0f} | "
                     f"{old[6]} | {statistics.median(done) / bare:.2f}× |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--big", type=int, default=20_000)
    parser.add_argument("--before", help="a RESULTS.md written by the same script on the earlier code: "
                                         "adds a before/after table")
    parser.add_argument("--rerender", help="re-write the section from a run's saved results (JSON)")
    parser.add_argument("--note", help="a paragraph added to the section (e.g. paired runs measured beside it)")
    args = parser.parse_args()
    results = load_results(args.rerender) if args.rerender else run(args.trials, args.big)
    save_results("restock", results)
    text = report(results, args.trials, args.before) + (f"\n\n{args.note}" if args.note else "")
    print(text)
    write_section("restock", text)


if __name__ == "__main__":
    main()
