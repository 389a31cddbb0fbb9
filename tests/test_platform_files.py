"""The files Shopify CLI and the process manager read declare what the contract pins."""

import tomllib

from tests.conftest import ROOT


def test_app_toml_declares_webhooks_proxy_and_extension():
    # given
    config = tomllib.loads((ROOT / "shopify.app.toml").read_text())
    # when
    subscriptions = config["webhooks"]["subscriptions"]
    topics = {t for s in subscriptions for t in s.get("topics", [])}
    compliance = {t for s in subscriptions for t in s.get("compliance_topics", [])}
    # then
    assert topics == {"inventory_levels/update", "products/update", "orders/create", "orders/cancelled", "app/uninstalled",
                      "shop/update"}
    assert compliance == {"customers/data_request", "customers/redact", "shop/redact"}
    assert {s["uri"] for s in subscriptions} == {"/webhooks"}
    assert config["webhooks"]["api_version"] == "2026-10"
    assert config["app_proxy"]["prefix"] == "apps"
    assert config["app_proxy"]["subpath"] == "backbell"
    assert config["app_proxy"]["url"].endswith("/proxy")
    assert config["extension_directories"] == ["storefront_widget"]
    scopes = set(config["access_scopes"]["scopes"].split(","))
    assert scopes == {"read_products", "read_inventory", "read_orders", "read_locales", "write_discounts",
                      "write_draft_orders", "read_customers", "write_customers", "read_themes"}


def test_procfile_declares_the_four_processes():
    processes = dict(line.split(":", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line)
    assert set(processes) == {"release", "web", "worker", "beat"}
    assert processes["release"].strip() == "backbell db upgrade"
    assert "backbell serve" in processes["web"]
    assert processes["worker"].strip() == "backbell worker"
    assert processes["beat"].strip() == "backbell beat"
