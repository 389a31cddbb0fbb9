"""Benchmark 4 in-process: the CPU of one app-proxy sign-up in the web process, without gunicorn or wrk.

Like ``ingress_cpu.py`` for webhooks: wrk on this 2-core machine shares the CPU with gunicorn,
PostgreSQL and Redis, so its numbers move with whatever else runs. This script sends signed
``POST /proxy/subscriptions`` (every request a distinct shopper and client address, behind the
trusted proxy, as Shopify's app proxy sends them) through Flask's test client to Backbell and to
the bare encrypted insert (``bench/baselines.py bare_intake_app``), alternating, and reports per
request the wall time and the CPU this process spent (``time.process_time``: what a gunicorn
worker would burn; PostgreSQL and Redis run elsewhere).

    .venv/bin/python bench/intake_cpu.py [--requests 1000] [--rounds 3] [--profile]
    .venv/bin/python bench/intake_cpu.py --instructions

``--profile`` then runs Backbell's sign-ups under cProfile (CPU time) and prints the top functions.

``--instructions`` counts instead the machine instructions this process executes per sign-up
(valgrind's callgrind, instrumenting only the sign-ups: 100 then 400 of them, the difference over
300), for each app: a count that, unlike time, does not move with whatever else the machine runs,
so a change of a few per cent shows. PostgreSQL's, Redis's and the kernel's work are not in it.
Scratch database ``backbell_bench_intake_cpu``; Redis db 15 (flushed).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import os
import pstats
import re
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.baselines import bare_intake_app, ensure_intake_table  # noqa: E402
from bench.ingress_cpu import timed  # noqa: E402
from bench.stack import SECRET, stack  # noqa: E402
from plugin import create_app  # noqa: E402
from plugin.demo.signing import signed_proxy_url  # noqa: E402

SHOP, VARIANT = "bench-intake-cpu.myshopify.com", 7_300_001


def signups(count: int, tag: str) -> list[tuple[str, dict, str]]:
    """(signed path, body, client address) per request: distinct shoppers, as the wrk benchmark sends."""
    path = signed_proxy_url("subscriptions", SHOP, SECRET).removeprefix("http://localhost")
    run = uuid.uuid4().hex[:6]
    return [(path, {"variant_id": f"gid://shopify/ProductVariant/{VARIANT}",
                    "email": f"cpu.{tag}.{run}.{n}@gmail.com", "locale": "en", "consent": True},
             f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}") for n in range(count)]


def poster(app, requests):
    client = app.test_client()

    def post(n: int) -> None:
        path, body, address = requests[n]
        status = client.post(path, json=body, headers={"X-Forwarded-For": address},
                             environ_base={"REMOTE_ADDR": "127.0.0.1"}).status_code
        if status != 201:
            raise SystemExit(f"bench: POST /proxy/subscriptions answered {status}")

    return post


INSTRUCTION_SIZES = (100, 400)


def _prepared(s):
    """The shop and its sold-out variant, the bare insert's table and settings; Backbell's app as
    gunicorn serves it behind Shopify's proxy (bench/stack.py's environment)."""
    plain = s.database_url.replace("postgresql+psycopg://", "postgresql://")
    ensure_intake_table(plain)
    shop_id = s.install_shop(SHOP, settings={"intake_per_minute": 1_000_000})
    s.sold_out_variant(shop_id, SHOP, VARIANT, VARIANT + 1, 70001, "Intake tee")
    os.environ.update(BENCH_DATABASE_URL=plain, BENCH_KEY=s.config["encryption_keys"][0])
    return create_app({**s.config, "trusted_proxies": ("127.0.0.1/32",)})


def instructions() -> None:
    """Instructions per sign-up of each app, each size in its own process under callgrind."""
    if shutil.which("valgrind") is None:
        raise SystemExit("bench: --instructions needs valgrind (apt-get install valgrind)")
    per_request = {}
    for name in ("backbell", "bare"):
        counts = []
        for size in INSTRUCTION_SIZES:
            command = ["valgrind", "--tool=callgrind", "--instr-atstart=no", "--callgrind-out-file=/dev/null",
                       sys.executable, __file__, "--instructions-child", name, str(size)]
            run = subprocess.run(command, capture_output=True, text=True)
            found = re.search(r"Collected : (\d+)", run.stderr)
            if run.returncode != 0 or not found:
                raise SystemExit(f"bench: the {name} run under valgrind failed:\n{run.stderr[-2000:]}")
            counts.append(int(found.group(1)))
        per_request[name] = (counts[1] - counts[0]) / (INSTRUCTION_SIZES[1] - INSTRUCTION_SIZES[0])
        print(f"{name:10} {per_request[name] / 1e6:6.3f} M instructions per sign-up", flush=True)
    print(f"backbell vs bare (instructions in this process): {per_request['bare'] / per_request['backbell']:.2f}×")


def instructions_child(name: str, count: int) -> None:
    """Under callgrind: set up, warm, then count only ``count`` sign-ups of ``name``."""
    with stack("intake_cpu") as s:
        backbell = _prepared(s)
        app = bare_intake_app() if name == "bare" else backbell
        with open(s.scratch / "app.log", "w") as log_file, contextlib.redirect_stderr(log_file):
            post = poster(app, signups(count + 50, name))
            for n in range(50):  # warm: connections open, statements prepared, caches filled
                post(n)
            subprocess.run(["callgrind_control", "--instr=on", str(os.getpid())], check=True, capture_output=True)
            for n in range(50, 50 + count):
                post(n)
            subprocess.run(["callgrind_control", "--instr=off", str(os.getpid())], check=True, capture_output=True)
        backbell.extensions["backbell"].db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--instructions", action="store_true", help="count instructions under valgrind instead")
    parser.add_argument("--instructions-child", nargs=2, metavar=("APP", "COUNT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.instructions:
        return instructions()
    if args.instructions_child:
        return instructions_child(args.instructions_child[0], int(args.instructions_child[1]))
    n = args.requests
    results: dict[str, list[tuple[float, float]]] = {}
    with stack("intake_cpu") as s:
        app = _prepared(s)
        with open(s.scratch / "app.log", "w") as log_file, contextlib.redirect_stderr(log_file):
            apps = {"backbell": app, "bare": bare_intake_app()}
            for name, each in apps.items():  # warm: connections open, statements cached
                timed(poster(each, signups(20, f"warm{name}")), 20)
            for round_number in range(args.rounds):
                for name, each in apps.items() if round_number % 2 == 0 else reversed(apps.items()):
                    results.setdefault(name, []).append(timed(poster(each, signups(n, f"{name}{round_number}")), n))
            if args.profile:
                profile = cProfile.Profile(time.process_time)  # CPU, not waiting on the servers
                post = poster(app, signups(n, "profile"))
                profile.runcall(lambda: [post(i) for i in range(n)])
        app.extensions["backbell"].db.dispose()

    print(f"in-process sign-ups, {n} requests per row, median of {args.rounds} rounds (µs per request)")
    print(f"{'path':10} {'wall µs':>9} {'cpu µs':>9}")
    for name, values in results.items():
        print(f"{name:10} {statistics.median(v[0] for v in values):9.0f} {statistics.median(v[1] for v in values):9.0f}")
    for index, label in ((0, "wall"), (1, "cpu")):
        ratio = (statistics.median(v[index] for v in results["bare"])
                 / statistics.median(v[index] for v in results["backbell"]))
        print(f"backbell throughput vs bare (in-process, {label}): {ratio:.2f}×")
    if args.profile:
        pstats.Stats(profile).sort_stats("cumulative").print_stats(int(os.environ.get("BENCH_PROFILE_LINES", "60")))
        if os.environ.get("BENCH_PROFILE_OUT"):
            profile.dump_stats(os.environ["BENCH_PROFILE_OUT"])


if __name__ == "__main__":
    main()
