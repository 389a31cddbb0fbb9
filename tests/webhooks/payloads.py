"""Webhook bodies in the shapes Shopify sends, built here so a clone needs nothing beside it.

``tests/webhooks/test_payload_shapes.py`` holds every builder against Shopify's own example
payloads in ``../shared/shopify/payloads/`` when that folder is present (a provider-spec check).
"""

from __future__ import annotations

CUSTOMER_ID = 191167
DATA_REQUEST_ID = 9999
SHOP_ID = 954889


def customers_redact(shop: str, customer_id: int = CUSTOMER_ID, email: str | None = "john@example.com",
                     phone: str | None = "555-625-1199") -> dict:
    return {
        "shop_id": SHOP_ID,
        "shop_domain": shop,
        "customer": {"id": customer_id, "email": email, "phone": phone},
        "orders_to_redact": [299938, 280263, 220458],
    }


def customers_data_request(shop: str, customer_id: int = CUSTOMER_ID, email: str | None = "john@example.com",
                           phone: str | None = "555-625-1199", request_id: int = DATA_REQUEST_ID) -> dict:
    return {
        "shop_id": SHOP_ID,
        "shop_domain": shop,
        "orders_requested": [299938, 280263, 220458],
        "customer": {"id": customer_id, "email": email, "phone": phone},
        "data_request": {"id": request_id},
    }


def shop_redact(shop: str) -> dict:
    return {"shop_id": SHOP_ID, "shop_domain": shop}


def app_uninstalled(shop: str) -> dict:
    """The shop object Shopify sends with ``app/uninstalled``."""
    return {
        "id": 548380009,
        "name": "Bells & Boots",
        "email": "owner@example.com",
        "domain": "bells.example.com",
        "myshopify_domain": shop,
        "country_code": "US",
        "currency": "USD",
        "iana_timezone": "America/New_York",
        "primary_locale": "en",
        "plan_name": "basic",
    }


def orders_create(product_id: int, variant_id: int | None = None, customer_id: int = 115310627314723954) -> dict:
    """An order of two line items (Shopify's test order leaves ``variant_id`` null)."""
    def line(line_id: int, sku: str, title: str) -> dict:
        return {"id": line_id, "product_id": product_id, "variant_id": variant_id, "sku": sku, "title": title,
                "variant_title": None, "quantity": 1, "price": "199.00"}

    return {
        "id": 820982911946154508,
        "admin_graphql_api_id": "gid://shopify/Order/820982911946154508",
        "name": "#9999",
        "email": "jon@example.com",
        "created_at": "2021-12-31T19:00:00-05:00",
        "currency": "USD",
        "presentment_currency": "USD",
        "financial_status": "voided",
        "test": True,
        "total_price": "398.00",
        "current_total_price": "398.00",
        "source_name": "web",
        "customer": {"id": customer_id, "email": "john@example.com", "first_name": "John", "last_name": "Smith",
                     "phone": None},
        "discount_codes": [],
        "landing_site": None,
        "referring_site": None,
        "line_items": [line(866550311766439020, "SUN-PINK", "Aviator sunglasses"),
                       line(141249953214522974, "SUN-BLACK", "Aviator sunglasses")],
    }
