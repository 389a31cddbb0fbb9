"""Which address a storefront request counts against, for the per-IP intake limits.

Every ``/proxy/...`` request reaches us *through Shopify's app proxy* — the before-request hook
refuses anything without Shopify's signature before a limit is counted. So the TCP peer is never
the shopper: it is Shopify (or, in front of us, our own load balancer, which appended Shopify's
address to ``X-Forwarded-For``). Shopify puts the shopper's address in ``X-Forwarded-For``
(shopify.dev, "Authenticate app proxies"). A shopper can send their own ``X-Forwarded-For`` too,
and whatever they put there ends up *left* of what Shopify adds, so only the right-hand entries
are believable:

1. start at the socket's peer; while that address is one of *our* proxies
   (``BACKBELL_TRUSTED_PROXIES``, CIDRs, default none), step one entry left in X-Forwarded-For;
2. the address reached is the hop that connected to us from outside — Shopify's proxy, proven by
   the signature — so take one more step left: the entry Shopify wrote, the shopper.

With no ``X-Forwarded-For`` at all (a local test, a misconfigured proxy) the peer is used. Keying
on the socket address alone would put every shopper Shopify forwards from one egress node under
one 10-a-minute budget; keying on the leftmost entry (what this replaced) let a shopper pick a new
address per request. An IPv6 shopper is counted per /64, the block one subscriber usually holds.

What this cannot stop: a shopper with many real addresses (a botnet, a large IPv4 pool). That is
why invalid requests have their own small per-address budget and never spend the shop's.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_networks(values: Iterable[str]) -> tuple[Network, ...]:
    """CIDRs (or bare addresses) as networks; raises ValueError naming a bad one."""
    return tuple(ipaddress.ip_network(value.strip(), strict=False) for value in values if value.strip())


def shopper_address(peer: str | None, forwarded_for: str | None, trusted: tuple[Network, ...] = ()) -> str:
    """The rate-limit key for the shopper behind Shopify's app proxy (see the module docstring)."""
    chain = [entry.strip() for entry in (forwarded_for or "").split(",") if entry.strip()]
    address = _address(peer)
    if address is None:
        return "unknown"
    while chain and _trusted(address, trusted):
        stepped = _address(chain.pop())
        if stepped is None:
            return _key(address)
        address = stepped
    shopper = _address(chain.pop()) if chain else None
    return _key(shopper or address)


def _address(text: str | None) -> Address | None:
    try:
        return ipaddress.ip_address((text or "").strip().strip("[]"))
    except ValueError:
        return None


def _trusted(address: Address, trusted: tuple[Network, ...]) -> bool:
    return any(address.version == network.version and address in network for network in trusted)


def _key(address: Address) -> str:
    if isinstance(address, ipaddress.IPv4Address):
        return str(address)
    if address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(ipaddress.ip_network(f"{address}/64", strict=False))
