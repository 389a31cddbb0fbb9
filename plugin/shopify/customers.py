"""Customer reads on ``AdminClient``: the tags of many customers, 250 to a call (``nodes(ids:)``)."""

from __future__ import annotations

from plugin.shopify.gids import gid, parse_gid

# Shopify's nodes(ids:) takes at most 250 ids.
TAGS_BATCH = 250


def fetch_customer_tags(client, customer_ids: list[int]) -> dict[int, tuple[str, ...] | None]:
    """Each customer's tags; None for a customer Shopify did not return (deleted, or not a customer).

    Raises ``AdminApiError`` when a call fails (throttling is waited out by the client).
    """
    unique_ids = list(dict.fromkeys(int(c) for c in customer_ids))
    tags: dict[int, tuple[str, ...] | None] = dict.fromkeys(unique_ids)
    for start in range(0, len(unique_ids), TAGS_BATCH):
        batch = unique_ids[start:start + TAGS_BATCH]
        data = client.execute("CustomerTags", {"ids": [gid("Customer", c) for c in batch]})
        for node in data.get("nodes") or []:
            if node and node.get("id"):
                tags[parse_gid(node["id"], "Customer")] = tuple(str(t) for t in node.get("tags") or [])
    return tags
