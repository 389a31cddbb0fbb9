"""Sign requests the way Shopify's app proxy does, for tests that call ``/proxy/...``.

The helpers live in ``plugin.demo.signing`` (the demo signs its storefront requests with them),
written independently of ``plugin.intake.app_proxy`` — a test that signs with the code under test
could not catch a wrong algorithm; the documented vector in ``shared/shopify/signature_vectors.json``
pins both (``tests/intake/test_app_proxy.py``).

    query = sign_proxy_query(proxy_params("demo.myshopify.com"), "hush")
    client.post(f"/proxy/subscriptions?{query}", json={...})
"""

from plugin.demo.signing import PATH_PREFIX, proxy_params, proxy_signature, sign_proxy_query, signed_proxy_url

__all__ = ["PATH_PREFIX", "proxy_params", "proxy_signature", "sign_proxy_query", "signed_proxy_url"]
