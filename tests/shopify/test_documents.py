import re
from pathlib import Path

import pytest

from plugin.shopify.documents import DOCUMENTS_DIR, FRAGMENTS_DIR, document_names, load_document
from tests.doubles.shopify_admin import validate_document

PLUGIN_DIR = Path(__file__).resolve().parents[2] / "plugin"


def test_documents_directory_holds_the_operations_the_app_sends():
    # given / when
    names = document_names()

    # then
    assert names == ["CustomerTags", "CustomersByEmail", "DiscountCodeBasicCreate", "DiscountCodeDeactivate", "DiscountRedeemCodeBulkAdd",
                     "DiscountRedeemCodeBulkCreation", "DraftOrderCreate", "DraftOrderDelete", "DraftOrderStatus",
                     "MainThemeFiles", "ShopBasics", "ShopPrimaryDomain", "ShopPrimaryLocale", "VariantByInventoryItem",
                     "VariantStock"]


# Every document, the customer sync's (customers/) and the bulk query's (bulk/) included.
ALL_DOCUMENTS = document_names() + [f"{folder}/{p.stem}" for folder in ("bulk", "customers")
                                    for p in sorted((DOCUMENTS_DIR / folder).glob("*.graphql"))]


@pytest.mark.parametrize("name", ALL_DOCUMENTS)
def test_every_document_validates_against_the_admin_schema(name):
    # given
    text = load_document(name)

    # when
    errors = validate_document(text)

    # then
    assert errors == []


@pytest.mark.parametrize("name", ALL_DOCUMENTS)
def test_every_document_names_its_operation_after_its_file(name):
    # given
    text = (DOCUMENTS_DIR / f"{name}.graphql").read_text()

    # when
    operations = re.findall(r"^(?:query|mutation)\s+(\w+)", text, flags=re.M)

    # then
    assert operations == [name.rpartition("/")[2]]


def test_every_fragment_is_used_by_some_document():
    # given
    fragments = sorted(p.stem for p in FRAGMENTS_DIR.glob("*.graphql"))

    # when
    used = {f for f in fragments for name in ALL_DOCUMENTS if f"fragment {f} " in load_document(name)}

    # then
    assert sorted(used) == fragments


def test_no_inline_graphql_documents_in_python_code():
    # given
    pattern = re.compile(r"\b(query|mutation)\s+[A-Z]\w*\s*[({]")

    # when
    offenders = [str(p) for p in PLUGIN_DIR.rglob("*.py") if pattern.search(p.read_text())]

    # then
    assert offenders == []


def test_load_document_rejects_unknown_names():
    # when / then
    with pytest.raises(KeyError):
        load_document("../../etc/passwd")


def test_schema_validation_catches_a_wrong_field():
    # given: a field that does not exist on ProductVariant
    text = "query Bad { productVariant(id: \"gid://shopify/ProductVariant/1\") { inventoryQuantityTotal } }"

    # when
    errors = validate_document(text)

    # then
    assert errors == ["Cannot query field 'inventoryQuantityTotal' on type 'ProductVariant'. Did you mean 'inventoryQuantity'?"]
