"""``backbell demo`` on the embedded default, in-process: the narrated loop ends with notices in the
outbox in three languages and a decision log; a loop that does not complete ends with one line
saying why. (``tests/demo/test_install.py`` runs it from a plain ``pip install``.)"""

from __future__ import annotations

import json
import os
from datetime import timedelta

import pytest
from click.testing import CliRunner

from plugin import clock
from plugin.cli import main
from plugin.demo import DemoIncomplete, run_demo
from plugin.demo.shopify import ShopifyStandIn

# The contract's outbox fields (CONTRACT.md).
CONTRACT_FIELDS = {"channel", "to", "shop", "kind", "variant_id", "subject", "text", "html", "url",
                   "discount_code", "expires_at", "locale", "sent_at"}
SETTINGS_PREFIXES = ("BACKBELL_", "SHOPIFY_", "SENDGRID_", "TWILIO_", "DATABASE_URL", "REDIS_URL")


@pytest.fixture
def instance(tmp_path, monkeypatch):
    """No configuration at all, as on a new machine; the instance folder in tmp."""
    for name in list(os.environ):
        if name.startswith(SETTINGS_PREFIXES):
            monkeypatch.delenv(name)
    monkeypatch.setenv("BACKBELL_INSTANCE", str(tmp_path / "instance"))
    return tmp_path / "instance"


def _outbox(instance) -> list[dict]:
    path = instance / "demo" / "outbox" / "outbox.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_demo_walks_the_loop_and_leaves_notices_in_the_outbox(instance):
    # given a fresh instance folder and no configuration at all

    # when
    result = CliRunner().invoke(main, ["demo"])

    # then
    assert result.exit_code == 0, result.output + result.stderr
    out = result.stdout
    assert "GET /app → 200" in out
    assert "ADA.LOVELACE@GMAIL.COM (en) → 200 already_subscribed" in out
    assert "not-an-address@ (es) → 422 refused" in out
    assert "signed inventory_levels/update → 200" in out
    assert "same webhook again → 200, recognised by its id and ignored" in out
    assert "Restock #1: 0 → 3 units, declared from the webhook, status 'done'." in out
    assert "→ ada.lovelace@gmail.com [en] \"Aviator sunglasses is back in stock at Backbell Demo Store\"" in out
    assert "→ chloe.martin@orange.fr [fr] \"Aviator sunglasses est de retour chez Backbell Demo Store\"" in out
    assert "→ kenji.sato@yahoo.co.jp [ja] \"Backbell Demo StoreでAviator sunglassesが再入荷しました\"" in out
    assert "3 notices written" in out
    assert "302 to https://backbell-demo.myshopify.com/products/aviator-sunglasses?variant=642667041472713922" in out
    assert "one-click unsubscribe (RFC 8058) → 200" in out
    log = out.split("decision log", 1)[1]
    assert [line.split()[1] for line in log.splitlines()[1:] if line.strip()] == [
        "restock_detected", "sent", "sent", "sent", "unsubscribed"]
    notices = _outbox(instance)
    assert sorted(n["to"] for n in notices) == ["ada.lovelace@gmail.com", "chloe.martin@orange.fr",
                                               "kenji.sato@yahoo.co.jp"]
    assert all(CONTRACT_FIELDS <= set(n) for n in notices)
    assert {n["locale"] for n in notices} == {"en", "fr", "ja"}
    assert "ada.lovelace@gmail.com" not in result.stderr


def test_demo_passes_with_the_clock_years_ahead(instance):
    # given the app's clock five years ahead of the wall clock (session tokens stay on the wall clock)
    said: list[str] = []

    # when
    with clock.travel(timedelta(days=5 * 365)):
        run_demo(said.append)

    # then
    assert f"   3 notices written to {instance / 'demo' / 'outbox' / 'outbox.jsonl'}\n" in said
    assert len(_outbox(instance)) == 3


class LaggingShopify(ShopifyStandIn):
    """A Shopify whose Admin API has not caught up with the restock its webhook announces."""

    def set_level(self, shop: str, inventory_item_id: int, location_id: int, qty: int) -> None:
        pass  # the units arrive, the webhook says so, but a read still finds the old levels


def test_demo_stops_with_a_one_line_reason_when_no_restock_is_declared(instance):
    # given a Shopify whose re-read still says sold out
    said: list[str] = []

    # when
    with pytest.raises(DemoIncomplete) as stopped:
        run_demo(said.append, shopify=LaggingShopify())

    # then the reason is one line, and nothing was sent
    assert str(stopped.value) == "expected one restock declared from the webhook, got none"
    assert "\n" not in str(stopped.value)
    assert not any(line.startswith("4. Notices") for line in said)
    assert _outbox(instance) == []
