"""Shopify's search syntax as the demo stand-in and the tests' Admin double read it
(``plugin.demo.search``): customer searches by email and tag, and the bulk query's id ranges."""

from __future__ import annotations

import pytest

from plugin.demo.search import SearchSyntaxError, matches

ADA = {"email": "Ada@Example.com", "tags": ["VIP", "wholesale"]}
ID_ONLY = frozenset({"id"})


@pytest.mark.parametrize(("query", "expected"), [
    ("", True),
    ('email:"ada@example.com"', True),
    ('email:"ada@example.com" OR email:"bob@example.com"', True),
    ('email:"bob@example.com"', False),
    ("tag:vip", True),
    ("tag:whole*", True),
    ("-tag:vip", False),
    ("NOT (tag:vip OR tag:retail)", False),
    ('email:"ada@example.com OR tag:vip"', False),  # a quoted value stays one value
    ("example", True),  # free text: anywhere
])
def test_customer_searches(query, expected):
    assert matches(query, ADA) is expected


@pytest.mark.parametrize(("query", "number", "expected"), [
    ("id:>=5 AND id:<=9", 5, True),
    ("id:>=5 AND id:<=9", 9, True),
    ("id:>=5 AND id:<=9", 10, False),
    ("id:>=5 id:<=9", 4, False),  # a space is AND
    ("id:<3 OR id:>8", 9, True),
    ("id:<3 OR id:>8", 5, False),
    ("id:7", 7, True),
    ("(id:>1 AND id:<4) OR id:10", 10, True),
    (None, 42, True),
])
def test_id_ranges(query, number, expected):
    assert matches(query, {"id": number}, fields=ID_ONLY) is expected


@pytest.mark.parametrize("query", ["id:>=abc", "id:>", "sku:5", "5", "id:>=5 AND (id:<=9", 'email:"x'])
def test_what_the_id_search_does_not_understand_is_an_error(query):
    with pytest.raises(SearchSyntaxError):
        matches(query, {"id": 5}, fields=ID_ONLY)
