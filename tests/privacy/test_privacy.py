"""No shopper contact (email or phone) in plaintext anywhere in the database or the logs.

The whole loop runs (intake of an email and a phone, a restock webhook, notices, a click, an
unsubscribe, a data request); then every text column of every table is searched, and so is
everything the process wrote to stdout/stderr.
"""

from __future__ import annotations

import json
from urllib.parse import urlparse

from sqlalchemy import String, Text, select

from plugin.models import Base, Notification
from tests.doubles.app_proxy import signed_proxy_url
from tests.webhooks.delivery import DEMO_SHOP, deliver, level_payload

VARIANT, ITEM, LOCATION = 642667041472713922, 271878346596884015, 24826418
EMAIL, PHONE_TYPED, PHONE_E164 = "Grace.Hopper@GMail.com", "(415) 555-2671", "+14155552671"
SECRETS = ("grace.hopper@gmail.com", "Grace.Hopper", PHONE_E164, "4155552671", "555-2671")


def _all_text_values(session) -> list[str]:
    values = []
    for table in Base.metadata.sorted_tables:
        columns = [c for c in table.columns if isinstance(c.type, (String, Text)) or c.type.__class__.__name__ == "JSON"]
        for row in session.execute(select(*columns)).all() if columns else []:
            values.extend(json.dumps(v) if not isinstance(v, str) else v for v in row if v is not None)
    return values


def test_contacts_never_appear_in_plaintext_in_the_database_or_logs(
    shopify_admin, installed_shop, client, runtime, session, capfd, debug_logs
):
    # given a sold-out variant and two shoppers, one by email and one by SMS (both via the proxy)
    shopify_admin.add_variant(DEMO_SHOP, VARIANT, inventory_item_id=ITEM, levels={LOCATION: 0})
    email = client.post(signed_proxy_url("subscriptions", DEMO_SHOP, "hush"),
                        json={"variant_id": VARIANT, "email": EMAIL})
    sms = client.post(signed_proxy_url("subscriptions", DEMO_SHOP, "hush"),
                      json={"variant_id": VARIANT, "phone": PHONE_TYPED, "country": "US", "channel": "sms",
                            "consent": True})
    assert (email.status_code, sms.status_code) == (201, 201)

    # when the variant restocks, a notice is clicked, one shopper unsubscribes and Shopify asks for data
    shopify_admin.set_level(DEMO_SHOP, ITEM, LOCATION, 4)
    assert deliver(client, "inventory_levels/update", level_payload(ITEM, LOCATION, 4)).status_code == 200
    lines = [json.loads(line) for line in (runtime.settings.outbox_path / "outbox.jsonl").read_text().splitlines()]
    assert sorted(n["to"] for n in lines) == sorted(["grace.hopper@gmail.com", PHONE_E164])
    assert client.get(urlparse(lines[0]["url"]).path).status_code == 302
    assert client.post(urlparse(lines[1]["unsubscribe_url"]).path,
                       data={"List-Unsubscribe": "One-Click"}).status_code == 200
    customer = {"id": 191167, "email": EMAIL, "phone": PHONE_E164}
    assert deliver(client, "customers/data_request", {"shop_domain": DEMO_SHOP, "customer": customer,
                                                      "data_request": {"id": 9999}}).status_code == 200

    # then no table holds either contact in plaintext …
    assert session.scalar(select(Notification.status).where(Notification.channel == "sms")) == "sent"
    stored = "\n".join(_all_text_values(session))
    assert stored, "the sweep read nothing"
    for secret in SECRETS:
        assert secret.lower() not in stored.lower(), f"{secret!r} stored in plaintext"
    # … and nothing the app logged, debug lines included, mentions them
    out, err = capfd.readouterr()
    logged = out + err
    assert "intake_subscribed" in logged
    for secret in SECRETS:
        assert secret.lower() not in logged.lower(), f"{secret!r} logged"
