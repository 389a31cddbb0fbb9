"""The baseline consumer of benchmark 2: the same hops as Backbell's restock path, written bare.

Run as a process beside ``bench.baselines:bare_app()`` (which verifies the webhook, inserts it and
pushes its id on Redis): BRPOP the id, read the body back from PostgreSQL, decrypt the waiting
shoppers' addresses of that inventory item (one SELECT, Fernet), re-read the variant from the
Admin double with the app's own ``VariantByInventoryItem`` document, and POST one mail with every
recipient to the SendGrid double. No locks, no claims, no idempotency — the floor, not a design.

Environment: BENCH_DATABASE_URL, BENCH_REDIS_URL, BENCH_ADMIN_URL (``…/{shop}/admin/api/2026-10/graphql.json``
with ``{shop}``), BENCH_SHOP, BENCH_ADMIN_TOKENS (JSON {shop: token}), BENCH_SENDGRID_URL, BENCH_SENDGRID_KEY,
BENCH_KEY (Fernet).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import httpx
import psycopg
import redis
from cryptography.fernet import Fernet

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from plugin.shopify.documents import load_document  # noqa: E402

QUERY = load_document("VariantByInventoryItem")


def main() -> None:
    queue = redis.Redis.from_url(os.environ["BENCH_REDIS_URL"], socket_timeout=10)
    conn = psycopg.connect(os.environ["BENCH_DATABASE_URL"], autocommit=True)
    fernet = Fernet(os.environ["BENCH_KEY"].encode())
    tokens = json.loads(os.environ["BENCH_ADMIN_TOKENS"])
    http = httpx.Client()
    while True:
        popped = queue.brpop("bench-bare", timeout=1)
        if popped is None:
            continue
        raw = popped[1]
        if raw == b"stop":
            return
        body = json.loads(conn.execute("SELECT body FROM bench_bare_inbox WHERE id = %s", (int(raw),)).fetchone()[0])
        shop, item = os.environ["BENCH_SHOP"], body["inventory_item_id"]
        answer = http.post(os.environ["BENCH_ADMIN_URL"].format(shop=shop), headers={"X-Shopify-Access-Token": tokens[shop]},
                           json={"query": QUERY, "variables": {"id": f"gid://shopify/InventoryItem/{item}"}}).json()
        title = answer["data"]["inventoryItem"]["variant"]["product"]["title"]
        rows = conn.execute(
            "SELECT c.value_ciphertext FROM subscriptions s JOIN contacts c ON c.id = s.contact_id "
            "JOIN variants v ON v.shop_id = s.shop_id AND v.variant_id = s.variant_id "
            "WHERE v.inventory_item_id = %s AND s.status = 'waiting'", (item,)).fetchall()
        to = [{"to": [{"email": fernet.decrypt(r[0].encode()).decode()}]} for r in rows]
        http.post(f"{os.environ['BENCH_SENDGRID_URL']}/v3/mail/send",
                  headers={"Authorization": f"Bearer {os.environ['BENCH_SENDGRID_KEY']}"},
                  json={"personalizations": to, "from": {"email": "alerts@backbell.app"},
                        "subject": f"{title} is back", "content": [{"type": "text/plain", "value": "Back in stock."}]})


if __name__ == "__main__":
    main()
