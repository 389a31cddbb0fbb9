"""Round trips per request on benchmarks 1 and 4's paths: what PostgreSQL and Redis see.

Builds the bench stack (scratch database ``backbell_bench_roundtrips`` at head, Redis db 15), sends
``--requests`` signed ``inventory_levels/update`` webhooks and as many signed app-proxy sign-ups
(distinct shoppers) through the app in-process (Flask's test client: no gunicorn, same code), and
counts, per request:

- PostgreSQL: every message the server executed for this database, read from the server's own
  log (``log_statement = all`` set on the scratch database only): BEGIN, each statement, COMMIT,
  and ``pool_pre_ping``'s ``SELECT 1``. Needs the server log readable (``BENCH_PG_LOG``, default
  Debian's ``/var/log/postgresql/postgresql-15-main.log``).
- Redis: round trips, counted in this process (every packed command or pipeline redis-py sends,
  Celery's broker connection included), and the commands Redis executed, from ``INFO
  commandstats`` before and after (the ``INFO`` calls left out; commands a script runs count
  there too, inside its one ``EVALSHA`` round trip).

    .venv/bin/python bench/roundtrips.py [--requests 50]

The bare baseline of benchmark 1 is BEGIN + INSERT + COMMIT and one LPUSH; of benchmark 4,
BEGIN + INSERT + COMMIT.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections import Counter
from pathlib import Path

import psycopg
import redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import BENCH_REDIS, PG_ADMIN  # noqa: E402
from bench.stack import SECRET, level_payload, stack  # noqa: E402
from plugin import create_app  # noqa: E402
from plugin.demo import signing  # noqa: E402

DATABASE = "backbell_bench_roundtrips"
PG_LOG = Path(os.environ.get("BENCH_PG_LOG", "/var/log/postgresql/postgresql-15-main.log"))
SHOP, VARIANT, ITEM, LOCATION = "bench-rt.myshopify.com", 7_100_001, 7_100_002, 70_001
_STATEMENT = re.compile(rf"@{DATABASE} LOG:  (?:statement|execute [^:]*): (.*)$")


def _redis_calls(client: redis.Redis) -> Counter:
    stats = client.info("commandstats")
    return Counter({name.removeprefix("cmdstat_"): value["calls"] for name, value in stats.items()})


def _kind(sql: str) -> str:
    """A short name for a logged statement: its verb and table."""
    sql = sql.strip()
    words = sql.split()
    verb = words[0].upper() if words else "?"
    table = re.search(r"(?:INTO|FROM|UPDATE)\s+([a-z_]+)", sql, re.I)
    if verb == ";":
        return "; (pool_pre_ping)"
    return f"{verb} {table.group(1)}" if table and verb in ("INSERT", "SELECT", "UPDATE", "DELETE") else verb


_SENT = [0]


def _count_sends() -> None:
    """Count what redis-py puts on the wire (one call per command or pipeline: a round trip)."""
    from redis.connection import AbstractConnection

    original = AbstractConnection.send_packed_command

    def counted(self, command, check_health=True):
        _SENT[0] += 1
        return original(self, command, check_health)

    AbstractConnection.send_packed_command = counted


def measure(label: str, send, requests: int, client: redis.Redis) -> dict:
    offset = PG_LOG.stat().st_size
    before = _redis_calls(client)
    sent = _SENT[0]
    statuses = Counter(send(n) for n in range(requests))
    sent = _SENT[0] - sent
    time.sleep(0.5)  # the log writer is asynchronous
    after = _redis_calls(client)
    with PG_LOG.open("rb") as log:
        log.seek(offset)
        lines = log.read().decode("utf-8", "replace").splitlines()
    # A statement over several lines continues on lines that start with a tab.
    entries: list[str] = []
    for line in lines:
        if line.startswith("\t") and entries:
            entries[-1] += " " + line.strip()
        else:
            entries.append(line)
    statements = Counter(_kind(m.group(1)) for entry in entries if (m := _STATEMENT.search(entry)))
    redis_commands = after - before
    redis_commands.pop("info", None)
    return {"label": label, "statuses": dict(statuses), "pg": statements, "redis": redis_commands, "requests": requests,
            "redis_round_trips": sent}


def report(result: dict) -> str:
    n = result["requests"]
    pg_total = sum(result["pg"].values()) / n
    redis_total = sum(result["redis"].values()) / n
    lines = [f"{result['label']}: answers {result['statuses']}; per request {pg_total:.2f} PostgreSQL round trips, "
             f"{result['redis_round_trips'] / n:.2f} Redis round trips ({redis_total:.2f} commands executed)"]
    for kind, count in sorted(result["pg"].items(), key=lambda kv: -kv[1]):
        lines.append(f"    pg    {count / n:5.2f}  {kind}")
    for kind, count in sorted(result["redis"].items(), key=lambda kv: -kv[1]):
        lines.append(f"    redis {count / n:5.2f}  {kind}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=50)
    args = parser.parse_args()
    if not os.access(PG_LOG, os.R_OK):
        raise SystemExit(f"bench: cannot read the PostgreSQL log {PG_LOG} (set BENCH_PG_LOG)")
    _count_sends()
    with stack("roundtrips") as s:
        shop_id = s.install_shop(SHOP, settings={"intake_per_minute": 1_000_000})
        s.sold_out_variant(shop_id, SHOP, VARIANT, ITEM, LOCATION, "Round-trip tee")
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'ALTER DATABASE "{DATABASE}" SET log_statement = \'all\'')
        # A second app, as gunicorn runs it behind Shopify's proxy; its connections are new, so
        # they log their statements.
        app = create_app({**s.config, "trusted_proxies": ("127.0.0.1/32",)})
        client = redis.Redis.from_url(BENCH_REDIS)
        http = app.test_client()
        proxy_url = signing.signed_proxy_url("subscriptions", SHOP, SECRET)

        def webhook(n: int) -> int:
            body = json.dumps(level_payload(ITEM, LOCATION, n % 5)).encode()
            headers = signing.webhook_headers(body, "inventory_levels/update", SHOP, f"rt-{n}-{time.time_ns()}",
                                              SECRET, None)
            return http.post("/webhooks", data=body, headers=headers).status_code

        def signup(n: int) -> int:
            body = {"variant_id": f"gid://shopify/ProductVariant/{VARIANT}", "email": f"rt.{n}.{time.time_ns()}@gmail.com",
                    "locale": "en", "consent": True}
            return http.post(proxy_url.removeprefix("http://localhost"), json=body,
                             headers={"X-Forwarded-For": f"10.9.{n // 256 % 256}.{n % 256}"},
                             environ_base={"REMOTE_ADDR": "127.0.0.1"}).status_code

        webhook(-1), signup(-1)  # warm: connections open, caches filled
        results = [measure("POST /webhooks", webhook, args.requests, client),
                   measure("POST /proxy/subscriptions", signup, args.requests, client)]
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'ALTER DATABASE "{DATABASE}" RESET log_statement')
        app.extensions["backbell"].db.dispose()
    for result in results:
        print(report(result))


if __name__ == "__main__":
    main()
