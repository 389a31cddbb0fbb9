"""Benchmark 4 — intake: signed app-proxy subscriptions with distinct contacts.

wrk sends ``POST /proxy/subscriptions`` signed like Shopify's app proxy (a fresh timestamp, signed
just before each run), each request a different shopper (own address, own ``X-Forwarded-For``,
with ``BACKBELL_TRUSTED_PROXIES=127.0.0.1/32`` as behind Shopify), to gunicorn (2 workers) serving
Backbell and, alternating, a bare endpoint doing one encrypted insert (``bench.baselines:bare_intake_app()``).
Two loads: flat out (32 connections; the shop's ``intake_per_minute`` raised so the ceiling is not
what is measured) and paced below the default ceiling (6,000/minute): there, no 429 may appear.

    .venv/bin/python bench/intake.py [--seconds 8] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.baselines import ensure_intake_table  # noqa: E402
from bench.harness import ROOT, gunicorn, machine, median, profiled, require, write_section, _parse_wrk  # noqa: E402
from bench.stack import SECRET, stack  # noqa: E402
from plugin.demo.signing import signed_proxy_url  # noqa: E402

OPEN_SHOP, CEILING_SHOP = "bench-open.myshopify.com", "bench-ceiling.myshopify.com"
VARIANT = 7_000_001

WRK_SCRIPT = r"""
-- Each thread sends its own slice of pre-signed sign-ups (one line each: path, client address, body)
-- and counts answers by status.
local counter, threads = 1, {}
function setup(thread)
  thread:set("tid", counter); counter = counter + 1; table.insert(threads, thread)
end
local requests, position = {}, 0
statuses = {}
function init(args)
  local file, nthreads, pace_ms = args[1], tonumber(args[2]), tonumber(args[3])
  pace = pace_ms
  local n = 0
  for line in io.lines(file) do
    n = n + 1
    if n % nthreads == (tid - 1) then
      local path, address, body = line:match("^([^\t]+)\t([^\t]+)\t(.*)$")
      table.insert(requests, wrk.format("POST", path, {["Content-Type"] = "application/json",
        ["X-Forwarded-For"] = address, ["Accept-Language"] = "en"}, body))
    end
  end
end
function request()
  position = position + 1
  if position > #requests then position = 1 end
  return requests[position]
end
function delay() return pace end
function response(status) statuses[status] = (statuses[status] or 0) + 1 end
function done(summary, latency, requests)
  local total = {}
  for _, t in ipairs(threads) do
    local s = t:get("statuses")
    for k, v in pairs(s) do total[k] = (total[k] or 0) + v end
  end
  for k, v in pairs(total) do io.write(string.format("status %d %d\n", k, v)) end
end
"""


def requests_file(path: Path, shop: str, count: int, tag: str) -> None:
    url = signed_proxy_url("subscriptions", shop, SECRET)
    with path.open("w") as out:
        for n in range(count):
            body = json.dumps({"variant_id": f"gid://shopify/ProductVariant/{VARIANT}",
                               "email": f"{tag}.{n}@gmail.com", "locale": "en", "consent": True})
            out.write(f"{url}\t10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}\t{body}\n")


def wrk(url: str, file: Path, seconds: int, connections: int, delay_ms: int):
    script = file.with_suffix(".lua")
    script.write_text(WRK_SCRIPT)
    output = subprocess.run(["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds}s", "--latency", "-s",
                             str(script), url, "--", str(file), "2", str(delay_ms)],
                            capture_output=True, text=True, check=True).stdout
    statuses = {int(k): int(v) for k, v in (line.split()[1:] for line in output.splitlines() if line.startswith("status "))}
    return _parse_wrk(output), statuses


def run(seconds: int, rounds: int, profile: bool = False) -> dict:
    require("wrk")
    results = {(name, load): [] for name in ("backbell", "bare") for load in ("full", "paced")}
    with stack("intake") as s:
        plain = s.database_url.replace("postgresql+psycopg://", "postgresql://")
        ensure_intake_table(plain)
        for domain, settings in ((OPEN_SHOP, {"intake_per_minute": 1_000_000}), (CEILING_SHOP, {})):
            shop_id = s.install_shop(domain, settings=settings)
            s.sold_out_variant(shop_id, domain, VARIANT, VARIANT + 1, 70001, "Intake tee")
        bare_env = {"BENCH_DATABASE_URL": plain, "BENCH_KEY": s.config["encryption_keys"][0]}
        with s.web() as backbell, gunicorn("bench.baselines:bare_intake_app()", bare_env, log=s.scratch / "bare.log") as bare:
            for round_number in range(rounds):
                order = [("backbell", backbell), ("bare", bare)]
                for name, url in order if round_number % 2 == 0 else reversed(order):
                    # paced: 8 connections × one request per 100 ms ≈ 80/s, under 6,000/minute for the run
                    for load, shop, connections, delay in (("full", OPEN_SHOP, 32, 0), ("paced", CEILING_SHOP, 8, 100)):
                        file = s.scratch / f"{name}-{round_number}-{load}.tsv"
                        requests_file(file, shop, 40_000, f"{name}{round_number}{load}")
                        measured, statuses = wrk(url, file, seconds, connections, delay)
                        results[(name, load)].append((measured, statuses))
                        print(f"round {round_number + 1} {name:8} {load:5}: {measured.requests_per_second:6.0f} req/s "
                              f"p50 {measured.p50_ms:6.1f} p99 {measured.p99_ms:6.1f} statuses {statuses}", flush=True)
            if profile:
                file = s.scratch / "profile.tsv"
                requests_file(file, OPEN_SHOP, 40_000, "profile")
                spy = profiled(backbell, ROOT / "bench" / "flame-intake.svg")
                wrk(backbell, file, seconds, 32, 0)
                spy.send_signal(2)
                spy.wait(timeout=60)
    return results


def report(results: dict, seconds: int, rounds: int) -> str:
    def row(name, load):
        runs = results[(name, load)]
        statuses: dict[int, int] = {}
        for _, s in runs:
            for k, v in s.items():
                statuses[k] = statuses.get(k, 0) + v
        return (median(r.requests_per_second for r, _ in runs), median(r.p50_ms for r, _ in runs),
                median(r.p99_ms for r, _ in runs), statuses)

    lines = [
        "## 4. Intake (`bench/intake.py`)",
        "",
        f"Machine: {machine()}. gunicorn with 2 sync workers per server, PostgreSQL and Redis (rate limits) on the "
        f"same machine, wrk on the same machine; {rounds} alternating rounds of {seconds} s per load, medians over "
        "rounds. Every request a distinct shopper (own address and client IP), signed like Shopify's app proxy.",
        "",
        "| server | load | req/s | p50 ms | p99 ms | answers | req/s vs bare |",
        "|---|---|---:|---:|---:|---|---:|",
    ]
    for load, label in (("full", "32 conns, flat out (ceiling raised)"), ("paced", "8 conns, ~80 req/s (default ceiling)")):
        bare_rps = row("bare", load)[0]
        for name in ("backbell", "bare"):
            rps, p50, p99, statuses = row(name, load)
            answers = ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items()))
            lines.append(f"| {name} | {label} | {rps:.0f} | {p50:.1f} | {p99:.1f} | {answers} | {rps / bare_rps:.2f}× |")
    lines += ["", "Goal (issue #13): Backbell ≥ 0.5× the bare encrypted insert; no 429 for distinct shoppers below "
                  "the per-shop ceiling (`intake_per_minute`, default 6,000)."]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--profile", action="store_true", help="then record gunicorn with py-spy (bench/flame-intake.svg)")
    args = parser.parse_args()
    results = run(args.seconds, args.rounds, args.profile)
    text = report(results, args.seconds, args.rounds)
    print(text)
    write_section("intake", text)


if __name__ == "__main__":
    main()
