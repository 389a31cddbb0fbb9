"""The Admin schema the doubles load comes from the pinned npm package and is checked by hash."""

import gzip

import pytest

from tests.doubles import shopify_schema
from tests.doubles.shopify_schema import SHA256, SchemaUnavailable, schema_path, sha256_of


def test_the_schema_in_use_has_the_pinned_hash():
    # when the doubles ask for the schema
    path = schema_path()

    # then it is the pinned file of @shopify/dev-mcp 1.16.0
    assert sha256_of(path) == SHA256


def test_a_cached_file_with_another_hash_is_refused_with_what_to_do(tmp_path, monkeypatch):
    # given a cache holding some other file under the schema's name
    monkeypatch.setenv("BACKBELL_SCHEMA_CACHE", str(tmp_path))
    (tmp_path / shopify_schema.FILENAME).write_bytes(gzip.compress(b'{"data": {}}'))

    # when / then
    with pytest.raises(SchemaUnavailable, match=f"expected {SHA256}.*Delete"):
        schema_path()
