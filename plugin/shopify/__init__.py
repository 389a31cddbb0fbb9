"""Everything that talks to Shopify's Admin side.

- ``admin_api.AdminClient`` — the one GraphQL sender (documents in ``documents/``);
- ``catalog`` — variant and stock reads as plain ``VariantSnapshot`` values;
- ``auth`` — App Home / session-token verification and install by token exchange;
- ``tokens`` — encrypted token storage and the per-shop atomic refresh;
- ``http`` — the httpx client honouring ``SHOPIFY_ADMIN_ORIGIN``; ``gids`` — GID ↔ int.
"""
