"""``backbell demo``: the whole loop on the embedded default, narrated in plain words.

Everything runs for real — the app, its SQLite database, in-process tasks, the outbox channel —
except Shopify, which cannot be reached from here: an in-memory stand-in that ships with the
package (``plugin/demo/shopify.py``) plays it on a loopback port, and ``plugin/demo/signing.py``
signs what Shopify would sign. Requests go through the app's real HTTP surface: the embedded
admin's token exchange, the signed app proxy, a signed webhook, the tracked link and the one-click
unsubscribe. All stamps come from ``plugin.clock``; the restock happens half an hour after the
subscriptions, on that clock.

The walk checks itself: when the loop does not complete (install refused, no restock declared,
fewer notices than shoppers, an empty decision log) ``run_demo`` raises ``DemoIncomplete`` with a
one-line reason, and ``backbell demo`` exits non-zero with it.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Callable
from datetime import timedelta
from urllib.parse import urlparse

from cryptography.fernet import Fernet
from sqlalchemy import select

from plugin import clock, create_app
from plugin.config import load_settings
from plugin.demo import signing
from plugin.demo.server import serve_wsgi
from plugin.demo.shopify import ShopifyStandIn
from plugin.logging import configure_logging
from plugin.models import Decision, RestockEvent

SHOP = "backbell-demo.myshopify.com"
VARIANT, PRODUCT, ITEM = 642667041472713922, 788032119674292922, 271878346596884015
WAREHOUSE, STORE = 24826418, 53716844710
SHOPPERS = [("ada.lovelace@gmail.com", "en"), ("chloe.martin@orange.fr", "fr"), ("kenji.sato@yahoo.co.jp", "ja")]
# A second try by the first shopper (another spelling: still one subscription), and a typo.
EXTRA_ATTEMPTS = [(SHOPPERS[0][0].upper(), "en", 200), ("not-an-address@", "es", 422)]
RESTOCK_UNITS = 3
# Within the hour the access token lives. Past it, the webhook's re-read refreshes the token on a
# second connection while the webhook's own transaction holds SQLite's write lock, and fails with
# "database is locked": a bug of the embedded default, reported to be fixed in the app, not here.
LATER = timedelta(minutes=30)

Say = Callable[[str], None]


class DemoIncomplete(Exception):
    """The loop did not complete; the message says where, in one line."""


def run_demo(say: Say = print, shopify: ShopifyStandIn | None = None) -> None:
    """Walk the loop in ``<instance>/demo`` (wiped first); ``shopify`` defaults to the stand-in."""
    settings = load_settings()
    instance = settings.instance_path / "demo"
    shutil.rmtree(instance, ignore_errors=True)
    shopify = shopify or ShopifyStandIn()
    server = serve_wsgi(shopify)
    shopify.url = server.url
    try:
        app = _demo_app(instance, shopify.origin)
        # The narration is the output; the app's own log lines would drown it.
        configure_logging(None if os.environ.get("BACKBELL_LOG_LEVEL") else logging.WARNING)
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the stand-in's request lines
        # The stand-in plays this app's Shopify: it knows the app's credentials.
        shopify.app_config = {"shopify_api_key": settings.shopify_api_key,
                              "shopify_api_secret": settings.shopify_api_secret}
        _walk(app, shopify, say)
    finally:
        server.stop()


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
        # The demo's database is thrown away: a key for this run only, no key file to warn about.
        "encryption_keys": (Fernet.generate_key().decode(),),
    })


def _walk(app, shopify: ShopifyStandIn, say: Say) -> None:
    runtime = app.extensions["backbell"]
    settings = runtime.settings
    client = app.test_client()
    say(f"Backbell demo — database {settings.database_url}, tasks in-process, messages to the outbox.")
    say(f"Shopify is played by Backbell's in-memory stand-in at {shopify.url} "
        "(token endpoint and Admin GraphQL API).\n")

    _install(client, shopify, settings, say)
    _subscribe(client, shopify, settings, say)
    with clock.travel(LATER):
        _restock(client, runtime, shopify, settings, say)
        notices = _read_outbox(settings, say)
        _follow_links(client, notices, say)
        _decisions(runtime, say)


def _install(client, shopify, settings, say: Say) -> None:
    say("1. Install")
    shopify.add_shop(SHOP, name="Backbell Demo Store", timezone="Europe/Paris", currency="EUR")
    token = signing.make_session_token(SHOP, settings.shopify_api_key, settings.shopify_api_secret)
    response = client.get(f"/app?embedded=1&shop={SHOP}&host=YWRtaW4&id_token={token}")
    say(f"   The merchant opens Backbell in Shopify admin: GET /app → {response.status_code}.")
    if response.status_code != 200 or shopify.exchanges != 1:
        raise DemoIncomplete(f"install failed: GET /app answered {response.status_code} "
                             f"after {shopify.exchanges} token exchange(s)")
    say("   Its session token was exchanged for an expiring offline token (1 exchange), "
        "stored encrypted with its refresh token.\n")


def _subscribe(client, shopify, settings, say: Say) -> None:
    say("2. Shoppers ask to be told")
    shopify.add_variant(SHOP, VARIANT, product_id=PRODUCT, inventory_item_id=ITEM, levels={WAREHOUSE: 0, STORE: 0},
                        product_title="Aviator sunglasses", title="Pink", handle="aviator-sunglasses", price="199.00")
    say("   'Aviator sunglasses — Pink' is sold out at both locations. Through the storefront's app proxy,")
    say("   Shopify forwards each form with a signature; Backbell checks it, then the address:")
    attempts = [(email, locale, 201) for email, locale in SHOPPERS] + EXTRA_ATTEMPTS
    for n, (email, locale, expected) in enumerate(attempts):
        response = client.post(
            signing.signed_proxy_url("subscriptions", SHOP, settings.shopify_api_secret),
            json={"variant_id": f"gid://shopify/ProductVariant/{VARIANT}", "email": email, "locale": locale},
            headers={"X-Forwarded-For": f"198.51.100.{n + 1}"},
        )
        body = response.get_json() or {}
        outcome = body.get("status") or f"refused — \"{(body.get('error') or {}).get('message')}\""
        say(f"   {email} ({locale}) → {response.status_code} {outcome}")
        if response.status_code != expected:
            raise DemoIncomplete(f"subscribing {email} answered {response.status_code}, expected {expected}")
    say("   Each address is stored encrypted with a keyed hash; the variant was mirrored from the Admin API.\n")


def _restock(client, runtime, shopify, settings, say: Say) -> None:
    say(f"3. Restock, {LATER.seconds // 60} minutes later (on the app's clock)")
    shopify.set_level(SHOP, ITEM, WAREHOUSE, RESTOCK_UNITS)
    body = json.dumps({"inventory_item_id": ITEM, "location_id": WAREHOUSE, "available": RESTOCK_UNITS,
                       "updated_at": clock.utcnow().replace(microsecond=0).isoformat(),
                       "admin_graphql_api_id": f"gid://shopify/InventoryLevel/{WAREHOUSE}?inventory_item_id={ITEM}"})
    headers = signing.webhook_headers(body.encode(), "inventory_levels/update", SHOP, "demo-restock-1",
                                      settings.shopify_api_secret)
    response = client.post("/webhooks", data=body, headers=headers)
    say(f"   {RESTOCK_UNITS} units arrive at the warehouse; Shopify sends a signed inventory_levels/update "
        f"→ {response.status_code}.")
    again = client.post("/webhooks", data=body, headers=headers)
    say(f"   Shopify delivers the same webhook again → {again.status_code}, recognised by its id and ignored.")
    with runtime.db.session() as session:
        events = session.scalars(select(RestockEvent).order_by(RestockEvent.id)).all()
    for event in events:
        say(f"   Restock #{event.id}: {event.previous_available} → {event.available} units, "
            f"declared from the {event.source}, status '{event.status}'.")
    say("")
    if [event.source for event in events] != ["webhook"]:
        raise DemoIncomplete(f"expected one restock declared from the webhook, got "
                             f"{[event.source for event in events] or 'none'}")


def _read_outbox(settings, say: Say) -> list[dict]:
    say("4. Notices")
    path = settings.outbox_path / "outbox.jsonl"
    notices = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    for notice in notices:
        code = notice["discount_code"] or "no discount code (discounts are off)"
        say(f"   → {notice['to']} [{notice['locale']}] \"{notice['subject']}\" — {code}")
    say(f"   {len(notices)} notices written to {path}\n")
    problem = _notices_problem(notices)
    if problem:
        raise DemoIncomplete(problem)
    return notices


def _notices_problem(notices: list[dict]) -> str | None:
    expected, written = sorted(locale for _, locale in SHOPPERS), sorted(n["locale"] for n in notices)
    if not notices:
        return "no notices were written to the outbox after the restock"
    if len(notices) != len(SHOPPERS):
        return f"{len(notices)} notices written for {len(SHOPPERS)} waiting shoppers"
    if written != expected:
        return f"notices in locales {', '.join(written)}, expected {', '.join(expected)}"
    return None


def _follow_links(client, notices: list[dict], say: Say) -> None:
    say("5. Shoppers react")
    first, last = notices[0], notices[-1]
    click = client.get(urlparse(first["url"]).path)
    say(f"   {first['to']} clicks the link → {click.status_code} to {click.headers.get('Location')} "
        "(click recorded).")
    unsubscribe = client.post(urlparse(last["unsubscribe_url"]).path, data={"List-Unsubscribe": "One-Click"})
    say(f"   {last['to']} uses one-click unsubscribe (RFC 8058) → {unsubscribe.status_code}.")
    say("   Purchases are attributed from orders/create in the measurement step (not part of this build yet).\n")
    if click.status_code != 302 or unsubscribe.status_code != 200:
        raise DemoIncomplete(f"the tracked link answered {click.status_code} (expected 302) and the "
                             f"unsubscribe {unsubscribe.status_code} (expected 200)")


def _decisions(runtime, say: Say) -> None:
    say("6. The merchant's decision log (the Activity page; times UTC)")
    with runtime.db.session() as session:
        rows = session.scalars(select(Decision).order_by(Decision.id)).all()
    for row in rows:
        say(f"   {row.created_at:%H:%M:%S}  {row.decision:<17} {_decision_detail(row)}")
    if not any(row.decision == "sent" for row in rows):
        raise DemoIncomplete("the decision log records no notice sent")


def _decision_detail(row: Decision) -> str:
    detail = row.detail or {}
    if row.decision == "restock_detected":
        return f"variant {row.variant_id}: {detail.get('previous')} → {detail.get('available')} units " \
               f"(from the {detail.get('source')})"
    parts = [f"subscription #{row.subscription_id}"] if row.subscription_id else []
    parts += [f"{key} {value}" for key, value in detail.items()]
    return ", ".join(parts)
