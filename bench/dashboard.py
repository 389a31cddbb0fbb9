"""Dashboard API latency and CSV export memory on a big shop (PostgreSQL, scratch database).

Loads one shop with 1,000,000 subscriptions (real encrypted contacts over 2,000 variants: 700,000
waiting, 200,000 notified, 100,000 unsubscribed), 100,000 notices, 100,000 decision-log lines and a
year of daily counters (shop_days, variant_days for every variant and day, variant_totals,
purchase_delays); then calls every dashboard endpoint 50 times through the Flask app with a real
App Bridge session token and prints p50/p95, and streams the subscriber CSV (100,000 and 1,000,000
rows) each in a fresh process, printing its peak RSS. Results go to ``bench/RESULTS-dashboard.md``.

    python bench/dashboard.py [--subscriptions 1000000] [--admin-url postgresql://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import psycopg
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from plugin import create_app  # noqa: E402
from plugin.demo.signing import make_session_token  # noqa: E402
from plugin.migrate import upgrade  # noqa: E402

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DB_NAME = "backbell_bench_dashboard"
SHOP = "bench-dashboard.myshopify.com"
VARIANTS = 2000
API_KEY, API_SECRET = "bench-api-key", "bench-api-secret-0123456789abcdef0123456789"
CALLS = 50


def database_url(admin_url: str) -> str:
    return admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + f"/{DB_NAME}"


def app_for(url: str, key: str, instance: Path):
    return create_app({"environment": "production", "database_url": url, "instance_path": instance,
                       "outbox_path": instance / "outbox", "encryption_keys": (key,), "link_secrets": ("bench",),
                       "shopify_api_key": API_KEY, "shopify_api_secret": API_SECRET, "dev_credentials": False,
                       "app_url": "http://127.0.0.1:8000", "redis_url": None})


def load(admin_url: str, subscriptions: int, key: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    upgrade(database_url(admin_url))
    fernet, started = Fernet(key.encode()), time.monotonic()
    from plugin.crypto import Vault
    vault = Vault((key,))
    with psycopg.connect(admin_url.rsplit("/", 1)[0] + f"/{DB_NAME}") as conn:
        conn.execute("""INSERT INTO shops (id, domain, name, timezone, currency, primary_locale, installed_at,
                        settings, created_at, access_token) VALUES (1, %s, 'Bench', 'America/New_York', 'USD', 'en',
                        now(), '{}', now(), 'x')""", (SHOP,))
        with conn.cursor().copy("COPY contacts (shop_id, channel, value_ciphertext, value_hash, created_at, "
                                "customer_sync_due) FROM STDIN") as copy:
            for i in range(subscriptions):
                email = f"shopper{i:07d}@gmail.com"
                copy.write_row((1, "email", fernet.encrypt(email.encode()).decode(), vault.hash("email", email),
                                "2026-01-01T00:00:00Z", False))
        print(f"contacts loaded in {time.monotonic() - started:.0f} s", flush=True)
        for statement in LOAD:
            conn.execute(statement, {"variants": VARIANTS})
        conn.commit()
        conn.execute("ANALYZE")
    print(f"loaded in {time.monotonic() - started:.0f} s", flush=True)


LOAD = [
    """INSERT INTO variants (shop_id, variant_id, product_id, title, product_title, price, inventory_policy, tracked,
                             product_status, available)
       SELECT 1, v, 100000 + v / 4, 'Size ' || (v %% 4), 'Product ' || (v / 4), (10 + v %% 90) || '.00', 'DENY', true,
              'ACTIVE', CASE WHEN v %% 10 = 0 THEN 3 ELSE 0 END FROM generate_series(1, %(variants)s) AS v""",
    """INSERT INTO subscriptions (id, shop_id, contact_id, variant_id, channel, status, locale, created_at,
                                  notified_at, unsubscribed_at, consent_at)
       SELECT c.id, 1, c.id, 1 + c.id %% %(variants)s, 'email',
              CASE WHEN c.id %% 10 < 7 THEN 'waiting' WHEN c.id %% 10 < 9 THEN 'notified' ELSE 'unsubscribed' END,
              'en', now() - (c.id %% 365) * interval '1 day',
              CASE WHEN c.id %% 10 IN (7, 8) THEN now() - (c.id %% 300) * interval '1 day' END,
              CASE WHEN c.id %% 10 = 9 THEN now() - (c.id %% 300) * interval '1 day' END,
              CASE WHEN c.id %% 3 = 0 THEN now() END
       FROM contacts c""",
    "SELECT setval('subscriptions_id_seq', (SELECT max(id) FROM subscriptions))",
    """INSERT INTO restock_events (id, shop_id, variant_id, available, source, status, created_at)
       SELECT v, 1, v, 5, 'bench', 'done', now() - (v %% 300) * interval '1 day'
       FROM generate_series(1, %(variants)s) AS v""",
    """INSERT INTO notifications (shop_id, subscription_id, restock_event_id, channel, kind, status, attempts,
                                  sent_at, created_at, delivered_at, opened_at, clicked_at)
       SELECT 1, s.id, s.variant_id, 'email', 'restock', 'sent', 1, s.notified_at, s.notified_at, s.notified_at,
              CASE WHEN s.id %% 2 = 0 THEN s.notified_at END, CASE WHEN s.id %% 5 = 0 THEN s.notified_at END
       FROM subscriptions s WHERE s.status = 'notified' ORDER BY s.id LIMIT 100000""",
    """INSERT INTO decisions (shop_id, decision, variant_id, subscription_id, restock_event_id, created_at)
       SELECT 1, CASE WHEN i %% 10 = 0 THEN 'skipped: sold out again' ELSE 'sent' END, 1 + i %% %(variants)s, i,
              1 + i %% %(variants)s, now() - (i %% 90) * interval '1 day'
       FROM generate_series(1, 100000) AS i""",
    # A year of counters: every day of the shop, every variant on every day.
    """INSERT INTO shop_days (shop_id, day, subscribed, unwaited, told, delivered, opened, clicked, purchased, revenue)
       SELECT 1, current_date - d, 2700, 800, 550, 540, 300, 120, 40, 1960.00 FROM generate_series(0, 364) AS d""",
    """INSERT INTO variant_days (shop_id, variant_id, day, subscribed, unwaited, told, delivered, opened, clicked,
                                 purchased, revenue)
       SELECT 1, v, current_date - d, 1, 0, 1, 1, 0, 0, 0, 0 FROM generate_series(1, %(variants)s) AS v
       CROSS JOIN generate_series(0, 364) AS d""",
    """INSERT INTO variant_totals (shop_id, variant_id, subscribed, unwaited, told, delivered, opened, clicked,
                                   purchased, revenue, waiting)
       SELECT 1, variant_id, count(*), count(*) FILTER (WHERE status <> 'waiting'),
              count(*) FILTER (WHERE status = 'notified'), 0, 0, 0, count(*) FILTER (WHERE status = 'notified') / 20,
              0, count(*) FILTER (WHERE status = 'waiting')
       FROM subscriptions GROUP BY variant_id""",
    """INSERT INTO purchase_delays (shop_id, day, minutes, count)
       SELECT 1, current_date - d, m, 3 FROM generate_series(0, 364) AS d CROSS JOIN (VALUES (30), (120), (4320)) AS b(m)""",
]


def endpoints() -> list[tuple[str, str]]:
    return [
        ("overview, all time", "/api/overview"),
        ("overview, last 30 days", "/api/overview?since={d30}&until={today}"),
        ("demand", "/api/demand"),
        ("demand, page 3", "/api/demand?offset=100"),
        ("subscribers", "/api/subscribers"),
        ("subscribers, waiting for one variant", "/api/subscribers?status=waiting&variant_id=777"),
        ("subscribers, deep page", "/api/subscribers?before=500000"),
        ("subscribers, search by email", "/api/subscribers?q=shopper0424242@gmail.com"),
        ("subscribers, sms channel (none)", "/api/subscribers?channel=sms"),
        ("activity", "/api/activity"),
        ("activity, one variant", "/api/activity?variant_id=42"),
        ("activity, skipped", "/api/activity?kind=skipped"),
    ]


def measure(url: str, key: str, instance: Path) -> list[tuple[str, float, float, int]]:
    from datetime import date, timedelta
    app = app_for(url, key, instance)
    client = app.test_client()
    today = date.today()
    results = []
    for name, path in endpoints():
        path = path.format(d30=(today - timedelta(days=29)).isoformat(), today=today.isoformat())
        timings = []
        for _ in range(CALLS):
            headers = {"Authorization": f"Bearer {make_session_token(SHOP, API_KEY, API_SECRET)}"}
            started = time.perf_counter()
            response = client.get(path, headers=headers)
            timings.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, (path, response.status_code, response.get_data(as_text=True)[:300])
        size = len(response.get_data())
        timings.sort()
        results.append((name, statistics.median(timings), timings[int(len(timings) * 0.95) - 1], size))
        print(f"{name:42s} p50 {results[-1][1]:7.1f} ms  p95 {results[-1][2]:7.1f} ms  ({size} bytes)", flush=True)
    app.extensions["backbell"].db.dispose()
    return results


def export_child(url: str, key: str, instance: Path, query: str) -> None:
    """In a fresh process: stream the subscriber CSV, report rows, seconds and peak RSS."""
    app = app_for(url, key, instance)
    client = app.test_client()
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    headers = {"Authorization": f"Bearer {make_session_token(SHOP, API_KEY, API_SECRET)}"}
    started = time.perf_counter()
    response = client.get("/api/subscribers.csv" + query, headers=headers, buffered=False)
    lines = size = 0
    for chunk in response.response:
        lines += chunk.count(b"\r\n") if isinstance(chunk, bytes) else chunk.count("\r\n")
        size += len(chunk)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"rows": lines - 1, "bytes": size, "seconds": round(seconds, 1), "rss_before_mib":
                      round(baseline / 1024, 1), "peak_rss_mib": round(peak / 1024, 1)}))


def export(url: str, key: str, instance: Path, query: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--export-child", query, "--key", key, "--url", url,
                          "--instance", str(instance)], capture_output=True, text=True, check=True, cwd=ROOT)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"CSV export {query or '(all)':22s} {result}", flush=True)
    return result


def write_results(args, rows, exports) -> None:
    lines = ["# Dashboard benchmark", "",
             f"`python bench/dashboard.py --subscriptions {args.subscriptions}` on this machine (2 shared cores, "
             "PostgreSQL 127.0.0.1), one shop with "
             f"{args.subscriptions:,} subscriptions over {VARIANTS:,} variants, 100,000 notices, 100,000 decision-log "
             f"lines, a year of daily counters (365 shop days, {VARIANTS * 365:,} variant days). Each endpoint: "
             f"{CALLS} calls through the Flask app (test client) with a real App Bridge session token, "
             "the token guard included.", "",
             "| call | p50 ms | p95 ms | response bytes |", "|---|---:|---:|---:|"]
    lines += [f"| {name} | {p50:.1f} | {p95:.1f} | {size} |" for name, p50, p95, size in rows]
    lines += ["", "Subscriber CSV export, streamed, each in a fresh process (peak RSS of that process):", "",
              "| export | rows | seconds | RSS before (MiB) | peak RSS (MiB) |", "|---|---:|---:|---:|---:|"]
    lines += [f"| {label} | {r['rows']:,} | {r['seconds']} | {r['rss_before_mib']} | {r['peak_rss_mib']} |"
              for label, r in exports]
    (ROOT / "bench" / "RESULTS-dashboard.md").write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--subscriptions", type=int, default=1_000_000)
    parser.add_argument("--admin-url", default=ADMIN_URL)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument("--reuse", action="store_true", help="skip loading (a database kept with --keep)")
    parser.add_argument("--export-child")
    parser.add_argument("--key")
    parser.add_argument("--url")
    parser.add_argument("--instance")
    args = parser.parse_args()
    if args.export_child is not None:
        export_child(args.url, args.key, Path(args.instance), args.export_child)
        return
    instance = Path("/tmp/backbell-bench-dashboard")
    key_file = instance / "bench.key"
    instance.mkdir(exist_ok=True)
    if not args.reuse:
        key_file.write_text(Fernet.generate_key().decode())
        load(args.admin_url, args.subscriptions, key_file.read_text())
    key, url = key_file.read_text(), database_url(args.admin_url)
    rows = measure(url, key, instance)
    exports = [("unsubscribed only (`?status=unsubscribed`)", export(url, key, instance, "?status=unsubscribed")),
               ("everyone", export(url, key, instance, ""))]
    write_results(args, rows, exports)
    if not args.keep:
        with psycopg.connect(args.admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')


if __name__ == "__main__":
    main()
