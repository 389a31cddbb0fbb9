"""plugin.safe_json: bad JSON is a reported problem, never an exception."""

from __future__ import annotations

import pytest

from plugin.safe_json import MAX_DEPTH, parse_json


def test_ordinary_json_parses():
    result = parse_json(b'{"variant_id": 44012345678901, "email": "jane@shopper.dev", "price": 19.99, "ok": true}')

    assert result.ok
    assert result.value == {"variant_id": 44012345678901, "email": "jane@shopper.dev", "price": 19.99, "ok": True}


@pytest.mark.parametrize("raw,problem", [
    (b"[" * 3000 + b"]" * 3000, f"nested deeper than {MAX_DEPTH} levels"),
    (b'{"a":' * 3000 + b"1" + b"}" * 3000, f"nested deeper than {MAX_DEPTH} levels"),
    (b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1), f"nested deeper than {MAX_DEPTH} levels"),
    (b'{"id": ' + b"9" * 5000 + b"}", "a number has more than 24 digits"),
    (b'{"id": -' + b"9" * 25 + b"}", "a number has more than 24 digits"),
    (b'{"available": 1e999}', "a number is too large"),
    (b'{"available": -1e999}', "a number is too large"),
    (b'{"available": 0.' + b"1" * 100 + b"}", "a number is too large"),
    (b'{"available": NaN}', "NaN is not a JSON number"),
    (b'{"available": Infinity}', "Infinity is not a JSON number"),
    (b'{"available": -Infinity}', "-Infinity is not a JSON number"),
    (b'{"email": "\\udcff@gmail.com"}', "a string holds a NUL character or a lone surrogate"),
    (b'{"email": "a\\u0000@gmail.com"}', "a string holds a NUL character or a lone surrogate"),
    (b'{"\\ud800": 1}', "a key holds a NUL character or a lone surrogate"),
    (b"\xff\xfe{}", "the body is not UTF-8"),
])
def test_hostile_json_is_a_problem_not_an_exception(raw, problem):
    result = parse_json(raw)

    assert (result.ok, result.value, result.problem) == (False, None, problem)


def test_nesting_up_to_the_limit_is_fine():
    result = parse_json("[" * MAX_DEPTH + "]" * MAX_DEPTH)

    assert result.ok


def test_paired_surrogates_are_ordinary_text():
    assert parse_json(b'{"name": "\\ud83d\\udd14"}').value == {"name": "\U0001f514"}


@pytest.mark.parametrize("raw", [b"", b"not json", b"{", b'{"a": 1,}'])
def test_broken_json_is_a_problem(raw):
    result = parse_json(raw)

    assert not result.ok and result.problem.startswith("not valid JSON")
