"""Benchmark 3 — fan-out: one restock with plentiful stock, N waiting shoppers.

Backbell: a signed ``inventory_levels/update`` through gunicorn, a real Celery worker (as
``backbell worker`` runs it), the SendGrid double; notices handed off per second = N / (last mail received − webhook
POST). Worker RSS (every process, psutil) sampled every 0.25 s. Baselines, right after each run:
(a) a bare ``COPY`` of the very notification rows Backbell just wrote into an empty table of the
same shape; (b) a bare loop re-posting the very request bodies the double just received (the same
1,000-recipient batches), one after another over one connection.

``--profile`` adds one more 10k run with py-spy recording every worker process
(bench/flame-fanout.svg).

    .venv/bin/python bench/fanout.py [--sizes 10000,100000] [--profile]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import earlier_section, load_at, load_results, save_results, ROOT, machine, write_section  # noqa: E402
from bench.pg_statements import Statements, table  # noqa: E402
from bench.stack import level_payload, stack, wait_until, webhook  # noqa: E402

SHOP, LOCATION = "bench-fanout.myshopify.com", 70001
NOTIFICATION_COLUMNS = ("shop_id, subscription_id, restock_event_id, channel, kind, status, attempts, "
                        "claimed_at, claim_token, lease_until, handed_off_at, created_at")


def run_backbell(s, url: str, shop_id: int, n: int, size: int, profile_to: Path | None = None) -> dict:
    variant, item = 8_000_000 + n, 9_000_000 + n
    s.sold_out_variant(shop_id, SHOP, variant, item, LOCATION, f"Fan-out {size}")
    s.add_waiting(shop_id, variant, size, f"f{n}-")
    s.sendgrid.clear()
    s.sendgrid.keep_bodies = True
    rss: list[float] = []
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            rss.append(max(s.worker_rss_mib() or [0]))
            time.sleep(0.25)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    profiler = _py_spy(s, profile_to) if profile_to else None
    s.admin.set_level(SHOP, item, LOCATION, size * 2)
    statements = Statements.start(s.database_url.replace("postgresql+psycopg://", "postgresql://"))
    started = time.monotonic()
    with httpx.Client(timeout=30) as http:
        webhook(url, "inventory_levels/update", SHOP, level_payload(item, LOCATION, size * 2), f"fan-{n}", http)
    finished = wait_until(lambda: s.sendgrid.received() >= size, timeout=max(120, size / 200), interval=0.05)
    elapsed = (s.sendgrid.arrivals[-1][0] if finished else time.monotonic()) - started
    done.set()
    sampler.join()
    postgres = table(statements.read(), size) if statements and finished else None
    if profiler:
        profiler.send_signal(2)  # SIGINT: py-spy writes the flame graph and exits
        profiler.wait(timeout=60)
    received = s.sendgrid.received()
    recipients = [r for _, to in s.sendgrid.arrivals for r in to]
    return {"size": size, "received": received, "duplicates": len(recipients) - len(set(recipients)),
            "seconds": elapsed, "per_second": received / elapsed, "rss_max": max(rss or [0]),
            "rss_start": rss[0] if rss else 0, "bodies": list(s.sendgrid.bodies), "variant": variant,
            "postgres": postgres}


def _py_spy(s, output: Path) -> subprocess.Popen:
    main = s.workers[0].pid
    return subprocess.Popen([str(Path(sys.executable).parent / "py-spy"), "record", "--subprocesses", "--pid", str(main),
                             "--rate", "200", "--output", str(output), "--format", "flamegraph", "--nonblocking"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def bare_copy(s, size: int) -> dict:
    """COPY the restock's own notification rows into an empty table of the same shape."""
    url = s.database_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url) as conn:
        rows = conn.execute(f"SELECT {NOTIFICATION_COLUMNS} FROM notifications ORDER BY id DESC LIMIT %s",
                            (size,)).fetchall()
        conn.execute("DROP TABLE IF EXISTS bench_notifications")
        conn.execute("CREATE TABLE bench_notifications (LIKE notifications INCLUDING ALL)")
        conn.commit()
        started = time.monotonic()
        with conn.cursor().copy(f"COPY bench_notifications ({NOTIFICATION_COLUMNS}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        conn.commit()
        elapsed = time.monotonic() - started
        conn.execute("DROP TABLE bench_notifications")
        conn.commit()
    return {"rows": len(rows), "seconds": elapsed, "per_second": len(rows) / elapsed}


def bare_post(s, bodies: list[bytes]) -> dict:
    """Re-post the same request bodies to the double, one after another."""
    s.sendgrid.keep_bodies = False
    s.sendgrid.clear()
    headers = {"Authorization": f"Bearer {s.sendgrid.api_key}", "Content-Type": "application/json"}
    started = time.monotonic()
    with httpx.Client(timeout=30) as http:
        for body in bodies:
            http.post(f"{s.sendgrid.url}/v3/mail/send", content=body, headers=headers).raise_for_status()
    elapsed = time.monotonic() - started
    received = s.sendgrid.received()
    return {"notices": received, "seconds": elapsed, "per_second": received / elapsed}


def run(sizes: list[int], profile: bool) -> dict:
    results = {"runs": [], "profile": None, "machine": machine()}
    with stack("fanout") as s:
        shop_id = s.install_shop(SHOP)
        results["worker_processes"] = s.start_worker()
        with s.web() as url:
            run_backbell(s, url, shop_id, 0, 200)  # warm-up
            for n, size in enumerate(sizes, start=1):
                backbell = run_backbell(s, url, shop_id, n, size)
                copy = bare_copy(s, size)
                post = bare_post(s, backbell.pop("bodies"))
                results["runs"].append({"backbell": backbell, "copy": copy, "post": post})
                print(f"{size}: backbell {backbell['per_second']:.0f}/s, copy {copy['per_second']:.0f}/s, "
                      f"post {post['per_second']:.0f}/s, rss max {backbell['rss_max']:.0f} MiB, "
                      f"duplicates {backbell['duplicates']}", flush=True)
            if profile:
                flame = ROOT / "bench" / "flame-fanout.svg"
                profiled = run_backbell(s, url, shop_id, 99, 10_000, profile_to=flame)
                profiled.pop("bodies")
                results["profile"] = profiled
                print(f"profiled 10000: {profiled['per_second']:.0f}/s (under py-spy) -> {flame}", flush=True)
    return results


def report(results: dict, before: str | None = None) -> str:
    lines = [
        "## 3. Fan-out (`bench/fanout.py`)",
        "",
        f"Machine: {results.get('machine') or machine()}. One restock with plentiful stock; gunicorn (2 workers), one Celery worker "
        f"({results.get('worker_processes', 2)} processes), PostgreSQL, Redis db 15, the SendGrid double on loopback in the bench process. Backbell: "
        "webhook POST → last mail at the double. Baselines right after each run: a bare `COPY` of the same "
        "notification rows, and a bare loop re-posting the same request bodies (1,000-recipient batches).",
        "",
        "| shoppers | Backbell notices/s | seconds | duplicates | bare COPY rows/s | bare POST loop notices/s | "
        "Backbell vs POST loop | worker RSS max MiB |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for entry in results["runs"]:
        b, c, p = entry["backbell"], entry["copy"], entry["post"]
        lines.append(f"| {b['size']:,} | {b['per_second']:,.0f} | {b['seconds']:.1f} | {b['duplicates']} | "
                     f"{c['per_second']:,.0f} | {p['per_second']:,.0f} | {b['per_second'] / p['per_second']:.2f}× | "
                     f"{b['rss_max']:.0f} |")
    largest = max(results["runs"], key=lambda entry: entry["backbell"]["size"], default=None)
    if largest and largest["backbell"].get("postgres"):
        lines += ["", f"During the {largest['backbell']['size']:,}-shopper run: "
                  + largest["backbell"]["postgres"][0], *largest["backbell"]["postgres"][1:]]
    if results["profile"]:
        lines += ["", f"Flame graph of the worker processes during a 10,000-shopper fan-out (py-spy, 200 Hz, "
                      f"{results['profile']['per_second']:,.0f} notices/s while profiled): "
                      "[flame-fanout.svg](flame-fanout.svg)."]
    if before:
        lines += _before_after(results, before)
    lines += ["", "Goal (issue #13): ≥ 5,000 notices/s on 2 cores, worker RSS < 300 MB and constant from 10k to 100k."]
    return "\n".join(lines)


def _before_after(results: dict, before: str) -> list[str]:
    """The same script on the code before the change (``--before``: the RESULTS.md it wrote)."""
    machine_before, rows = earlier_section(before, "fanout")
    earlier = {int(r[0].replace(",", "")): r for r in rows}
    lines = ["", f"Before → after (the same script and options; before: the code without the change, measured on "
                 f"this machine just before, load {load_at(machine_before)} — compare the ratios to the bare POST "
                 "loop, which carry the machine's load):", "",
             "| shoppers | notices/s before | notices/s after | after / before | vs POST loop before | "
             "vs POST loop after | RSS max MiB before | after |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for entry in results["runs"]:
        b, p = entry["backbell"], entry["post"]
        old = earlier.get(b["size"])
        if old is None:
            continue
        old_rate = float(old[1].replace(",", ""))
        lines.append(f"| {b['size']:,} | {old_rate:,.0f} | {b['per_second']:,.0f} | {b['per_second'] / old_rate:.1f}× | "
                     f"{old[6]} | {b['per_second'] / p['per_second']:.2f}× | {old[7]} | {b['rss_max']:.0f} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--before", help="a RESULTS.md written by the same script on the earlier code: "
                                         "adds a before/after table")
    parser.add_argument("--rerender", help="re-write the section from a run's saved results (JSON)")
    parser.add_argument("--note", help="a paragraph added to the section (e.g. paired runs measured beside it)")
    args = parser.parse_args()
    results = load_results(args.rerender) if args.rerender else run([int(n) for n in args.sizes.split(",")], args.profile)
    save_results("fanout", results)
    text = report(results, args.before) + (f"\n\n{args.note}" if args.note else "")
    print(text)
    write_section("fanout", text)


if __name__ == "__main__":
    main()
