import pytest

from plugin.shopify.gids import gid, gid_type, parse_gid


def test_gid_builds_a_shopify_global_id():
    assert gid("ProductVariant", 123) == "gid://shopify/ProductVariant/123"


def test_parse_gid_accepts_gids_ints_and_digit_strings():
    assert parse_gid("gid://shopify/ProductVariant/123") == 123
    assert parse_gid(456) == 456
    assert parse_gid(" 789 ") == 789
    assert parse_gid("gid://shopify/InventoryLevel/5?inventory_item_id=9") == 5


@pytest.mark.parametrize("bad", ["", "abc", "0", -1, 0, True, "gid://shopify/ProductVariant/x", "gid://other/A/1"])
def test_parse_gid_rejects_anything_else(bad):
    with pytest.raises(ValueError):
        parse_gid(bad)


def test_parse_gid_rejects_a_gid_of_another_type():
    with pytest.raises(ValueError, match="expected a ProductVariant id, got a Product id"):
        parse_gid("gid://shopify/Product/1", "ProductVariant")


def test_gid_type():
    assert gid_type("gid://shopify/Location/7") == "Location"
    assert gid_type("7") is None


def test_gid_rejects_non_positive_ids():
    with pytest.raises(ValueError):
        gid("ProductVariant", 0)
