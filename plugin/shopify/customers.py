"""Customer reads on ``AdminClient``: the tags of many customers, 250 to a call (``nodes(ids:)``),
and the customers behind many email addresses, ``EMAILS_PER_SEARCH`` to a call (one search)."""

from __future__ import annotations

from plugin.shopify.gids import gid, parse_gid

# Shopify's nodes(ids:) takes at most 250 ids.
TAGS_BATCH = 250
# Addresses OR-ed into one customers(query:) search. Shopify documents no limit on the terms of a
# search; 100 keeps the query string near 4 KB and the requested cost at 202 points.
EMAILS_PER_SEARCH = 100


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


def fetch_customers_by_email(client, emails: list[str]) -> dict[str, tuple[int, tuple[str, ...]]]:
    """``{email (lower-case): (customer id, tags)}`` for the addresses a customer of the shop has;
    addresses without a customer are left out. One search per ``EMAILS_PER_SEARCH`` addresses.

    Raises ``AdminApiError`` when a call fails (throttling is waited out by the client).
    """
    wanted = list(dict.fromkeys(e.strip().lower() for e in emails if e and e.strip()))
    found: dict[str, tuple[int, tuple[str, ...]]] = {}
    for start in range(0, len(wanted), EMAILS_PER_SEARCH):
        batch = wanted[start:start + EMAILS_PER_SEARCH]
        data = client.execute("CustomersByEmail", {"query": email_search(batch), "first": len(batch)})
        for node in (data.get("customers") or {}).get("nodes") or []:
            address = ((node or {}).get("defaultEmailAddress") or {}).get("emailAddress")
            # Only an exact answer to one of the addresses asked links anybody.
            if address and address.lower() in batch and node.get("id"):
                found[address.lower()] = (parse_gid(node["id"], "Customer"),
                                          tuple(str(t) for t in node.get("tags") or []))
    return found


def email_search(emails: list[str]) -> str:
    """``email:"a@x.com" OR email:"b@y.com"``: every address one quoted value, so quotes, colons,
    parentheses or an ``OR`` inside an address cannot add a term to the search (Shopify's search
    syntax: a value in double quotes, ``\\`` escaping ``\\`` and ``"`` inside it)."""
    return " OR ".join(f'email:"{_quoted(e)}"' for e in emails)


def _quoted(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')
