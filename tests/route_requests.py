"""Credentials and representative requests for every route of the app's URL map.

The security-header test and the fuzz test both walk ``app.url_map``; this module says, for each
rule, how a caller reaches its handler (a signed webhook, a signed app-proxy URL, a session token,
a signed link) so that a test over "every route" tests handlers, not only the signature checks.
A rule without an entry in ``ROUTES`` fails those tests: a new route must say how it is reached.

Everything is signed independently of the code under test where the algorithm is simple (webhook
HMAC here, app-proxy signatures in ``tests/doubles/app_proxy.py``, session tokens in
``tests/doubles/shopify_admin.py``); link tokens use ``plugin.links.tokens`` because their format
is ours, not Shopify's.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from twilio.request_validator import RequestValidator

from plugin.links.tokens import click_token, unsubscribe_token
from plugin import clock
from plugin.models import Notification, RestockEvent, Shop, Variant
from tests.doubles.app_proxy import signed_proxy_url
from tests.doubles.shopify_admin import DEMO_SHOP, make_session_token

VARIANT_ID, INVENTORY_ITEM_ID, PRODUCT_ID = 44012345678901, 271878346596884015, 788032119674292922
# The providers' callback keys the app under test is configured with (``provider_settings``).
SENDGRID_KEY = ec.generate_private_key(ec.SECP256R1())
TWILIO_TOKEN = "twilio-route-token"


def provider_settings() -> dict:
    """app_config entries so the SendGrid and Twilio callbacks reach their handlers."""
    public = SENDGRID_KEY.public_key().public_bytes(serialization.Encoding.DER,
                                                    serialization.PublicFormat.SubjectPublicKeyInfo)
    return {"sendgrid_webhook_public_key": base64.b64encode(public).decode(), "twilio_account_sid": "AC" + "2" * 32,
            "twilio_auth_token": TWILIO_TOKEN, "twilio_from": "+15005550006"}


@dataclass
class Credentials:
    """What a legitimate caller of each route holds, for the app built from ``app_config``."""

    api_key: str
    secret: str
    shop: str = DEMO_SHOP
    notification_id: int = 0
    subscription_id: int = 0

    def webhook_headers(self, body: bytes, topic: str, webhook_id: str, shop: str | None = None) -> dict:
        digest = hmac.new(self.secret.encode(), body, hashlib.sha256).digest()
        return {"X-Shopify-Hmac-Sha256": base64.b64encode(digest).decode(), "X-Shopify-Topic": topic,
                "X-Shopify-Shop-Domain": shop or self.shop, "X-Shopify-Webhook-Id": webhook_id,
                "Content-Type": "application/json"}

    def proxy_url(self, path: str, customer_id=None) -> str:
        return signed_proxy_url(path, self.shop, self.secret, logged_in_customer_id=customer_id)

    def session_token(self, **claims) -> str:
        return make_session_token(self.shop, self.api_key, self.secret, **claims)

    def forged_session_token(self, **claims) -> str:
        """Signed with the app's secret, with claims of any type (PyJWT refuses to encode some;
        Shopify never would send them): what someone holding the secret, or a bug, could send."""
        now = int(time.time())
        payload = {"iss": f"https://{self.shop}/admin", "dest": f"https://{self.shop}", "aud": self.api_key,
                   "sub": "42", "exp": now + 60, "nbf": now - 5, "iat": now - 5, "jti": "j", "sid": "s", **claims}
        signing_input = f"{_b64(json.dumps({'alg': 'HS256', 'typ': 'JWT'}).encode())}.{_b64(json.dumps(payload).encode())}"
        return f"{signing_input}.{_b64(hmac.new(self.secret.encode(), signing_input.encode(), hashlib.sha256).digest())}"

    def sendgrid_headers(self, body: bytes) -> dict:
        """SendGrid's event-webhook signature: ECDSA over the timestamp and the raw body."""
        stamp = str(int(clock.timestamp()))
        signature = SENDGRID_KEY.sign(stamp.encode() + body, ec.ECDSA(hashes.SHA256()))
        return {"X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
                "X-Twilio-Email-Event-Webhook-Timestamp": stamp, "Content-Type": "application/json"}

    def twilio_signature(self, form: dict, url: str = "http://127.0.0.1:8000/webhooks/twilio") -> str:
        return RequestValidator(TWILIO_TOKEN).compute_signature(url, form)

    def click_token(self, notification_id: int | None = None) -> str:
        return click_token(self.secret, self.notification_id if notification_id is None else notification_id)

    def unsubscribe_token(self, subscription_id: int | None = None) -> str:
        return unsubscribe_token(self.secret, self.subscription_id if subscription_id is None else subscription_id)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def seed_shop_activity(session, vault, shop: Shop, credentials: Credentials) -> None:
    """A mirrored sold-out variant, a waiting shopper and a sent notice: what the links point at."""
    from tests.webhooks.delivery import add_waiting

    session.add(Variant(shop_id=shop.id, variant_id=VARIANT_ID, inventory_item_id=INVENTORY_ITEM_ID,
                        product_id=PRODUCT_ID, product_handle="linen-shirt", available=0))
    session.commit()
    subscription = add_waiting(session, vault, shop.id, VARIANT_ID, value="jane.doe@gmail.com")
    event = RestockEvent(shop_id=shop.id, variant_id=VARIANT_ID, available=3, source="webhook")
    session.add(event)
    session.flush()
    notice = Notification(shop_id=shop.id, subscription_id=subscription.id, restock_event_id=event.id,
                          channel="email", status="sent")
    session.add(notice)
    session.commit()
    credentials.notification_id, credentials.subscription_id = notice.id, subscription.id


@dataclass
class Call:
    method: str
    path: str
    kwargs: dict = field(default_factory=dict)

    def send(self, client):
        return client.open(self.path, method=self.method, **self.kwargs)


def _webhook_calls(c: Credentials, method: str) -> list[Call]:
    from tests.webhooks.delivery import level_payload

    body = json.dumps(level_payload(INVENTORY_ITEM_ID, 1, 0)).encode()
    return [Call(method, "/webhooks", {"data": body, "headers": c.webhook_headers(body, "inventory_levels/update",
                                                                                   "headers-test-1")}),
            Call(method, "/webhooks", {"data": b"{}", "headers": {"X-Shopify-Hmac-Sha256": "AAAA"}})]


def _proxy_subscription_calls(c: Credentials, method: str) -> list[Call]:
    return [Call(method, c.proxy_url("subscriptions"), {"json": {"variant_id": VARIANT_ID, "email": "ann@gmail.com"}}),
            Call(method, c.proxy_url("subscriptions"), {"json": {"variant_id": "x"}}),
            Call(method, "/proxy/subscriptions", {"json": {}})]


def _proxy_variant_calls(c: Credentials, method: str) -> list[Call]:
    return [Call(method, c.proxy_url(f"variants/{VARIANT_ID}")), Call(method, c.proxy_url("variants/nope")),
            Call(method, f"/proxy/variants/{VARIANT_ID}")]


def _click_calls(c: Credentials, method: str) -> list[Call]:
    return [Call(method, f"/r/{c.click_token()}"), Call(method, "/r/garbage")]


def _unsubscribe_page_calls(c: Credentials, method: str) -> list[Call]:
    return [Call(method, f"/u/{c.unsubscribe_token()}"), Call(method, "/u/garbage")]


def _unsubscribe_calls(c: Credentials, method: str) -> list[Call]:
    form = {"data": {"List-Unsubscribe": "One-Click"}}
    return [Call(method, f"/u/{c.unsubscribe_token()}", form), Call(method, "/u/garbage", form)]


def _app_home_calls(c: Credentials, method: str) -> list[Call]:
    return [Call(method, f"/app?embedded=1&shop={c.shop}&host=YWRtaW4&id_token={c.session_token()}"),
            Call(method, f"/app?embedded=1&shop={c.shop}&host=YWRtaW4"), Call(method, "/app")]


def _page_calls(path: str) -> Callable[[Credentials, str], list[Call]]:
    def calls(c: Credentials, method: str) -> list[Call]:
        return [Call(method, f"{path}?embedded=1&shop={c.shop}&host=YWRtaW4&id_token={c.session_token()}"),
                Call(method, f"{path}?embedded=1&shop={c.shop}&host=YWRtaW4"), Call(method, path)]

    return calls


def _patch_calls(c: Credentials, method: str) -> list[Call]:
    return [Call(method, f"/app/patch-id-token?shop={c.shop}&shopify-reload=%2Fapp"),
            Call(method, "/app/patch-id-token?shop=*&shopify-reload=%2Fapp")]


def _api_calls(path: str) -> Callable[[Credentials, str], list[Call]]:
    def calls(c: Credentials, method: str) -> list[Call]:
        return [Call(method, path, {"headers": {"Authorization": f"Bearer {c.session_token()}"}}),
                Call(method, path, {"headers": {"Authorization": "Bearer a.b.c"}}), Call(method, path)]

    return calls


def _subscriber_delete_calls(c: Credentials, method: str) -> list[Call]:
    auth = {"Authorization": f"Bearer {c.session_token()}"}
    return [Call(method, f"/api/subscribers/{c.subscription_id}", {"headers": auth}),
            Call(method, "/api/subscribers/999999999", {"headers": auth}),
            Call(method, f"/api/subscribers/{c.subscription_id}")]


def _apology_subscribe_calls(c: Credentials, method: str) -> list[Call]:
    from plugin.links.tokens import subscribe_url

    return [Call(method, subscribe_url("", c.secret, c.subscription_id)), Call(method, "/s/garbage")]


def _settings_calls(c: Credentials, method: str) -> list[Call]:
    auth = {"Authorization": f"Bearer {c.session_token()}"}
    return [Call(method, "/api/settings", {"headers": auth, "json": {"batch_per_unit": 2}}),
            Call(method, "/api/settings", {"headers": auth, "json": {"batch_per_unit": "many"}}),
            Call(method, "/api/settings", {"json": {}})]


def _variant_calls(c: Credentials, method: str) -> list[Call]:
    auth = {"Authorization": f"Bearer {c.session_token()}"}
    return [Call(method, f"/api/variants/{VARIANT_ID}", {"headers": auth, "json": {"expected_at": None}}),
            Call(method, f"/api/variants/{VARIANT_ID}", {"headers": auth, "json": {"expected_at": "soon"}}),
            Call(method, f"/api/variants/{VARIANT_ID}", {"json": {}})]


def _confirm_calls(c: Credentials, method: str) -> list[Call]:
    from plugin.links.tokens import confirm_token

    return [Call(method, f"/c/{confirm_token(c.secret, c.subscription_id)}"), Call(method, "/c/garbage")]


def _sendgrid_calls(c: Credentials, method: str) -> list[Call]:
    body = json.dumps([{"event": "delivered", "sg_event_id": "route-1", "timestamp": 1,
                        "notification_id": str(c.notification_id), "shop_id": "1"}]).encode()
    return [Call(method, "/webhooks/sendgrid", {"data": body, "headers": c.sendgrid_headers(body)}),
            Call(method, "/webhooks/sendgrid", {"data": body})]


def _twilio_calls(c: Credentials, method: str) -> list[Call]:
    form = {"MessageSid": "SM" + "0" * 32, "MessageStatus": "delivered"}
    return [Call(method, "/webhooks/twilio", {"data": form, "headers": {"X-Twilio-Signature": c.twilio_signature(form)}}),
            Call(method, "/webhooks/twilio", {"data": form})]


def _plain(path: str) -> Callable[[Credentials, str], list[Call]]:
    return lambda c, method: [Call(method, path)]


# rule → how to reach it. Keys are ``(rule, endpoint)`` because /u/<token> has two endpoints.
ROUTES: dict[tuple[str, str], Callable[[Credentials, str], list[Call]]] = {
    ("/", "health.index"): _plain("/"),
    ("/healthz", "health.healthz"): _plain("/healthz"),
    ("/webhooks", "webhooks_views.receive_webhook"): _webhook_calls,
    ("/webhooks/sendgrid", "provider_webhooks.sendgrid_events"): _sendgrid_calls,
    ("/webhooks/twilio", "provider_webhooks.twilio_status"): _twilio_calls,
    ("/proxy/subscriptions", "plugin_storefront.create_subscription"): _proxy_subscription_calls,
    ("/proxy/variants/<path:variant_ref>", "plugin_storefront.variant_status"): _proxy_variant_calls,
    ("/r/<token>", "plugin_links.follow"): _click_calls,
    ("/u/<token>", "plugin_links.confirm_unsubscribe"): _unsubscribe_page_calls,
    ("/u/<token>", "plugin_links.unsubscribe"): _unsubscribe_calls,
    ("/s/<token>", "plugin_links.subscribe_from_apology"): _apology_subscribe_calls,
    ("/app", "admin_views.app_home"): _app_home_calls,
    ("/app/patch-id-token", "admin_views.patch_id_token"): _patch_calls,
    ("/api/overview", "admin_api.api_overview"): _api_calls("/api/overview?since=2020-01-01"),
    ("/api/theme-status", "admin_api.api_theme_status"): _api_calls("/api/theme-status?locale=de"),
    ("/api/demand", "admin_api.api_demand"): _api_calls("/api/demand"),
    ("/api/demand.csv", "admin_api.api_demand_csv"): _api_calls("/api/demand.csv"),
    ("/api/subscribers", "admin_api.api_subscribers"): _api_calls("/api/subscribers?q=jane.doe%40gmail.com"),
    ("/api/subscribers.csv", "admin_api.api_subscribers_csv"): _api_calls("/api/subscribers.csv"),
    ("/api/subscribers/<int:subscription_id>", "admin_api.api_delete_subscriber"): _subscriber_delete_calls,
    ("/api/activity", "admin_api.api_activity"): _api_calls("/api/activity?kind=sent"),
    ("/api/settings", "admin_views.api_settings"): _settings_calls,
    ("/api/settings", "admin_views.api_change_settings"): _settings_calls,
    ("/api/variants/<path:variant_ref>", "admin_views.api_change_variant"): _variant_calls,
    ("/c/<token>", "plugin_links.confirm_page"): _confirm_calls,
    ("/c/<token>", "plugin_links.confirm"): _confirm_calls,
    **{(f"/app/{name}", f"admin_pages.{endpoint}"): _page_calls(f"/app/{name}")
       for name, endpoint in (("dashboard", "dashboard"), ("settings", "settings_page"))},
    ("/app/messages", "admin_messages.messages_page"): _page_calls("/app/messages"),
    ("/app/demand", "admin_lists.demand_page"): _page_calls("/app/demand"),
    ("/app/subscribers", "admin_lists.subscribers_page"): _page_calls("/app/subscribers"),
    ("/app/activity", "admin_lists.activity_page_view"): _page_calls("/app/activity"),
    ("/api/variants/<int:variant_id>/notify", "admin_lists.notify_now"): _api_calls(f"/api/variants/{VARIANT_ID}/notify"),
    ("/app/assets/<name>", "admin_pages.asset"): lambda c, method: [Call(method, "/app/assets/admin.js"),
                                                                     Call(method, "/app/assets/nope.js")],
    ("/api/messages/<locale>/<channel>", "admin_messages.save_wording"): _api_calls("/api/messages/en/email"),
    ("/api/messages/<locale>/<channel>", "admin_messages.reset_wording"): _api_calls("/api/messages/en/email"),
    ("/api/messages/<locale>/<channel>/test", "admin_messages.send_test"): _api_calls("/api/messages/en/sms/test"),
}


def rules_and_methods(app) -> list[tuple[str, str, str]]:
    """Every ``(rule, endpoint, method)`` the app serves, HEAD and OPTIONS included."""
    return sorted((rule.rule, rule.endpoint, method) for rule in app.url_map.iter_rules() for method in rule.methods)
