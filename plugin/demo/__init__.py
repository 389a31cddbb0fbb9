"""``backbell demo``: the whole loop on the embedded default, narrated in plain words.

Everything runs for real — the app, its SQLite database, in-process tasks, the outbox channel —
except Shopify, which cannot be reached from here: it is played by the Admin API double from
``tests/doubles/`` (the same one the test suite uses; it validates every GraphQL document against
Shopify's official 2026-10 schema from ``../shared``). Requests go through the app's real HTTP
surface: the embedded admin's token exchange, the signed app proxy, a signed webhook, the tracked
link and the one-click unsubscribe.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
from collections.abc import Callable
from urllib.parse import urlparse

from sqlalchemy import select

from plugin import create_app, package_root
from plugin.clock import utcnow
from plugin.config import load_settings
from plugin.models import Decision, RestockEvent

SHOP = "backbell-demo.myshopify.com"
VARIANT, PRODUCT, ITEM = 642667041472713922, 788032119674292922, 271878346596884015
WAREHOUSE, STORE = 24826418, 53716844710
SHOPPERS = [("ada.lovelace@gmail.com", "en"), ("chloe.martin@orange.fr", "fr"), ("kenji.sato@yahoo.co.jp", "ja")]


def run_demo(say: Callable[[str], None] = print) -> None:
    # The narration is the output; the app's own log lines would drown it.
    os.environ.setdefault("BACKBELL_LOG_LEVEL", "WARNING")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    doubles = _load_doubles(say)
    settings = load_settings()
    instance = settings.instance_path / "demo"
    shutil.rmtree(instance, ignore_errors=True)
    shopify = doubles.ShopifyAdminDouble(doubles.admin_schema())
    server = doubles.serve_wsgi(shopify)
    shopify.url = server.url
    try:
        app = _demo_app(instance, shopify.origin)
        # The double plays this app's Shopify: it knows the app's credentials.
        shopify.app_config = {"shopify_api_key": settings.shopify_api_key,
                              "shopify_api_secret": settings.shopify_api_secret}
        _walk(app, shopify, doubles, say)
    finally:
        server.stop()


def _load_doubles(say):
    """The Shopify double lives with the tests; the demo needs a checkout with ``tests/`` and ``../shared``."""
    sys.path.insert(0, str(package_root()))
    try:
        from tests.doubles import admin_graphql, app_proxy, server, shopify_admin
        from tests.webhooks import delivery
    except (ImportError, FileNotFoundError) as err:
        say(f"backbell demo needs the repository checkout (tests/doubles) and its test extras: {err}")
        sys.exit(2)

    class Doubles:
        ShopifyAdminDouble = shopify_admin.ShopifyAdminDouble
        make_session_token = staticmethod(shopify_admin.make_session_token)
        admin_schema = staticmethod(admin_graphql.admin_schema)
        serve_wsgi = staticmethod(server.serve_wsgi)
        signed_proxy_url = staticmethod(app_proxy.signed_proxy_url)
        webhook_headers = staticmethod(delivery.webhook_headers)

    return Doubles


def _demo_app(instance, shopify_origin: str):
    from plugin.migrate import upgrade

    database_url = f"sqlite:///{instance / 'backbell.sqlite3'}"
    instance.mkdir(parents=True)
    upgrade(database_url)
    return create_app({
        "environment": "development",
        "instance_path": instance,
        "database_url": database_url,
        "outbox_path": instance / "outbox",
        "redis_url": None,
        "sendgrid_api_key": None,
        "twilio_account_sid": None,
        "shopify_admin_origin": shopify_origin,
    })


def _walk(app, shopify, doubles, say) -> None:
    runtime = app.extensions["backbell"]
    settings = runtime.settings
    client = app.test_client()
    say(f"Backbell demo — database {settings.database_url}, tasks in-process, messages to the outbox.")
    say("Shopify is played by the local Admin API double (every GraphQL document is checked against the 2026-10 schema).\n")

    _install(client, shopify, doubles, settings, say)
    _subscribe(client, shopify, doubles, settings, say)
    _restock(client, runtime, shopify, doubles, settings, say)
    notices = _read_outbox(settings, say)
    _follow_links(client, notices, say)
    _decisions(runtime, say)


def _install(client, shopify, doubles, settings, say) -> None:
    say("1. Install")
    shopify.add_shop(SHOP, name="Backbell Demo Store", timezone="Europe/Paris", currency="EUR")
    token = doubles.make_session_token(SHOP, settings.shopify_api_key, settings.shopify_api_secret)
    response = client.get(f"/app?embedded=1&shop={SHOP}&host=YWRtaW4&id_token={token}")
    say(f"   The merchant opens Backbell in Shopify admin: GET /app → {response.status_code}.")
    say(f"   The session token was exchanged for an expiring offline token ({shopify.exchanges} exchange), "
        "stored encrypted with its refresh token.\n")


def _subscribe(client, shopify, doubles, settings, say) -> None:
    say("2. Shoppers ask to be told")
    shopify.add_variant(SHOP, VARIANT, product_id=PRODUCT, inventory_item_id=ITEM, levels={WAREHOUSE: 0, STORE: 0},
                        product_title="Aviator sunglasses", title="Pink", handle="aviator-sunglasses", price="199.00")
    say("   'Aviator sunglasses — Pink' is sold out at both locations.")
    attempts = [*SHOPPERS, (SHOPPERS[0][0].upper(), "en"), ("not-an-address@", "es")]
    for n, (email, locale) in enumerate(attempts):
        response = client.post(
            doubles.signed_proxy_url("subscriptions", SHOP, settings.shopify_api_secret),
            json={"variant_id": f"gid://shopify/ProductVariant/{VARIANT}", "email": email, "locale": locale},
            headers={"X-Forwarded-For": f"198.51.100.{n + 1}"},
        )
        body = response.get_json()
        outcome = body.get("status") or f"refused — \"{body['error']['message']}\""
        say(f"   {email} ({locale}) → {response.status_code} {outcome}")
    say("   Each address is stored encrypted with a keyed hash; the variant was mirrored from the Admin API.\n")


def _restock(client, runtime, shopify, doubles, settings, say) -> None:
    say("3. Restock")
    shopify.set_level(SHOP, ITEM, WAREHOUSE, 3)
    body = json.dumps({"inventory_item_id": ITEM, "location_id": WAREHOUSE, "available": 3,
                       "updated_at": utcnow().isoformat(),
                       "admin_graphql_api_id": f"gid://shopify/InventoryLevel/{WAREHOUSE}?inventory_item_id={ITEM}"})
    headers = doubles.webhook_headers(body.encode(), "inventory_levels/update", SHOP, "demo-restock-1",
                                      settings.shopify_api_secret)
    response = client.post("/webhooks", data=body, headers=headers)
    say(f"   3 units arrive at the warehouse; Shopify sends a signed inventory_levels/update → {response.status_code}.")
    again = client.post("/webhooks", data=body, headers=headers)
    say(f"   Shopify delivers the same webhook again → {again.status_code}, recognised by its id and ignored.")
    with runtime.db.session() as session:
        events = session.scalars(select(RestockEvent)).all()
    for event in events:
        say(f"   Restock #{event.id}: {event.previous_available} → {event.available} units, "
            f"re-read through the Admin API, status '{event.status}'.")
    say("")


def _read_outbox(settings, say) -> list[dict]:
    say("4. Notices")
    path = settings.outbox_path / "outbox.jsonl"
    notices = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    for notice in notices:
        code = notice["discount_code"] or "no discount code (discounts are off)"
        say(f"   → {notice['to']} [{notice['locale']}] \"{notice['subject']}\" — {code}")
    say(f"   {len(notices)} notices written to {path}\n")
    return notices


def _follow_links(client, notices, say) -> None:
    if not notices:
        return
    say("5. Shoppers react")
    first, last = notices[0], notices[-1]
    click = client.get(urlparse(first["url"]).path)
    say(f"   {first['to']} clicks the link → {click.status_code} to {click.headers.get('Location')} (click recorded).")
    unsubscribe = client.post(urlparse(last["unsubscribe_url"]).path, data={"List-Unsubscribe": "One-Click"})
    say(f"   {last['to']} uses one-click unsubscribe (RFC 8058) → {unsubscribe.status_code}.")
    say("   Purchases are attributed from orders/create in the measurement step (not part of this build yet).\n")


def _decisions(runtime, say) -> None:
    say("6. The merchant's decision log")
    with runtime.db.session() as session:
        rows = session.scalars(select(Decision).order_by(Decision.id)).all()
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.decision] = counts.get(row.decision, 0) + 1
    for decision, count in counts.items():
        say(f"   {count} × {decision}")
