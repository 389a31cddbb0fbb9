"""plugin.intake.client_address: the per-IP key behind Shopify's app proxy and our own proxies."""

from __future__ import annotations

import pytest

from plugin.intake.client_address import parse_networks, shopper_address

LB = parse_networks(["10.0.0.0/8"])


@pytest.mark.parametrize("peer,forwarded_for,trusted,expected", [
    # Shopify connects to us directly and writes the shopper's address
    ("23.227.38.1", "198.51.100.7", (), "198.51.100.7"),
    # a shopper's own X-Forwarded-For ends up left of Shopify's entry and is ignored
    ("23.227.38.1", "6.6.6.6, 198.51.100.7", (), "198.51.100.7"),
    ("23.227.38.1", "1.1.1.1, 2.2.2.2, 3.3.3.3, 198.51.100.7", (), "198.51.100.7"),
    # behind our load balancer: its entry (Shopify's address) is stepped over, then Shopify's
    ("10.1.2.3", "6.6.6.6, 198.51.100.7, 23.227.38.1", LB, "198.51.100.7"),
    # a load balancer nobody configured: its peer entry is taken (fails safe: one shared budget)
    ("10.1.2.3", "6.6.6.6, 198.51.100.7, 23.227.38.1", (), "23.227.38.1"),
    # no X-Forwarded-For: the peer
    ("23.227.38.1", None, (), "23.227.38.1"),
    ("10.1.2.3", None, LB, "10.1.2.3"),
    # garbage where an address belongs: the last address we could read
    ("23.227.38.1", "not-an-ip", (), "23.227.38.1"),
    ("10.1.2.3", "198.51.100.7, garbage", LB, "10.1.2.3"),
    # IPv6 shoppers count per /64; IPv4-mapped addresses as IPv4
    ("23.227.38.1", "2001:db8:1:2:aaaa::1", (), "2001:db8:1:2::/64"),
    ("23.227.38.1", "2001:db8:1:2:bbbb::9", (), "2001:db8:1:2::/64"),
    ("23.227.38.1", "::ffff:198.51.100.7", (), "198.51.100.7"),
    (None, "198.51.100.7", (), "unknown"),
])
def test_shopper_address(peer, forwarded_for, trusted, expected):
    assert shopper_address(peer, forwarded_for, trusted) == expected


def test_bad_network_is_a_value_error():
    with pytest.raises(ValueError):
        parse_networks(["10.0.0.0/33"])
