"""Offers: personal discount codes, links that land in checkout, units held in draft orders, and
stock-out cancellations won back. Domain logic only (no Flask, no Celery); it reaches Shopify
through ``plugin.shopify.admin_api`` and is called from small, marked hooks in dispatch, the
inventory mirror, the link views and the order webhooks."""
