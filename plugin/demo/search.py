"""Shopify's search syntax, as far as the stand-in's ``customers(query:)`` needs it.

Grammar (https://shopify.dev/docs/api/usage/search-syntax): terms separated by whitespace (AND
implied) or the connectives ``AND`` / ``OR``, grouped with parentheses; a term is an optional
``-``/``NOT`` and an optional ``field:`` before a value; a value is a name (no whitespace, ends
in ``*`` for a prefix) or a quoted string in which ``\\`` escapes the next character. A term
without a field matches any field (free text) — the widest search there is, which is why the app
quotes every address it sends.

Customers match on ``email`` (exact, case-insensitive), ``tag`` and free text over both; a numeric
``id`` on ``id:N`` and its ranges ``id:>N``, ``id:>=N``, ``id:<N``, ``id:<=N`` (the bulk query's
slices of the catalogue, answered by the tests' Admin double).
"""

from __future__ import annotations

from dataclasses import dataclass

_SPECIAL = set("()\"'")


@dataclass(frozen=True)
class Term:
    field: str | None
    value: str
    prefix: bool = False  # an unquoted value ending in *
    negated: bool = False


class SearchSyntaxError(ValueError):
    pass


def tokens(text: str) -> list:
    """Terms, connectives ("AND", "OR", "NOT") and parentheses, in order."""
    out, i = [], 0
    while i < len(text):
        char = text[i]
        if char.isspace():
            i += 1
        elif char in "()":
            out.append(char)
            i += 1
        else:
            term, i = _term(text, i)
            out.append(term)
    return out


def _term(text: str, i: int):
    negated = text[i] == "-"
    i += negated
    start = i
    while i < len(text) and not text[i].isspace() and text[i] not in _SPECIAL:
        if text[i] == "\\" and i + 1 < len(text):
            i += 1
        i += 1
    name = text[start:i]
    if i < len(text) and text[i] in "\"'" and (name.endswith(":") or not name):
        value, i = _quoted(text, i)
        return Term(name[:-1] or None, value, negated=negated), i
    if name in ("AND", "OR", "NOT") and not negated:
        return name, i
    field, _, value = name.partition(":") if ":" in name.replace("\\:", "") else (None, "", name)
    value = value.replace("\\", "") if value else name.replace("\\", "")
    prefix = value.endswith("*")
    return Term(field or None, value.rstrip("*") if prefix else value, prefix, negated), i


def _quoted(text: str, i: int) -> tuple[str, int]:
    quote, i, chars = text[i], i + 1, []
    while i < len(text) and text[i] != quote:
        if text[i] == "\\" and i + 1 < len(text):
            i += 1
        chars.append(text[i])
        i += 1
    if i >= len(text):
        raise SearchSyntaxError("unterminated quoted value")
    return "".join(chars), i + 1


def matches(query: str, record: dict, fields: frozenset[str] | None = None) -> bool:
    """Whether ``record`` (``email``, ``tags``, ``id``) answers the search ``query``; empty matches
    all. ``fields``: the only fields a term may name (free text included as ``None``); any other
    is a ``SearchSyntaxError`` rather than a term that matches nothing."""
    items = tokens(query or "")
    if fields is not None:
        unknown = sorted({str(t.field) for t in items if isinstance(t, Term) and t.field not in fields})
        if unknown:
            raise SearchSyntaxError(f"unsupported search field(s): {', '.join(unknown)}")
    parser = _Parser(items)
    if not parser.items:
        return True
    result = parser.disjunction(record)
    if parser.pos != len(parser.items):
        raise SearchSyntaxError("unbalanced parentheses")
    return result


class _Parser:
    def __init__(self, items: list):
        self.items, self.pos = items, 0

    def _peek(self):
        return self.items[self.pos] if self.pos < len(self.items) else None

    def disjunction(self, record) -> bool:
        result = self.conjunction(record)
        while self._peek() == "OR":
            self.pos += 1
            result = self.conjunction(record) or result
        return result

    def conjunction(self, record) -> bool:
        result = self.unary(record)
        while self._peek() not in (None, "OR", ")"):
            if self._peek() == "AND":
                self.pos += 1
            result = self.unary(record) and result
        return result

    def unary(self, record) -> bool:
        item = self._peek()
        if item is None:
            raise SearchSyntaxError("a connective without a term after it")
        self.pos += 1
        if item == "NOT":
            return not self.unary(record)
        if item == "(":
            result = self.disjunction(record)
            if self._peek() != ")":
                raise SearchSyntaxError("unbalanced parentheses")
            self.pos += 1
            return result
        if not isinstance(item, Term):
            raise SearchSyntaxError(f"unexpected {item!r}")
        return _term_matches(item, record) != item.negated


_COMPARISONS = {">=": lambda a, b: a >= b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b,
                "<": lambda a, b: a < b, "": lambda a, b: a == b}


def _term_matches(term: Term, record: dict) -> bool:
    if term.field == "id":
        return _id_matches(term.value, record.get("id"))
    value = term.value.lower()
    email = (record.get("email") or "").lower()
    tags = [t.lower() for t in record.get("tags") or []]
    same = (lambda v: v.startswith(value)) if term.prefix else (lambda v: v == value)
    if term.field == "email":
        return bool(email) and same(email)
    if term.field == "tag":
        return any(same(t) for t in tags)
    if term.field is None:  # free text: anywhere in any field
        return bool(value) and (value in email or any(value in t for t in tags))
    return False


def _id_matches(value: str, number: int | None) -> bool:
    operator = next(op for op in _COMPARISONS if value.startswith(op))
    bound = value[len(operator):]
    if not bound.isdigit():
        raise SearchSyntaxError(f"id needs a number, got {value!r}")
    return number is not None and _COMPARISONS[operator](number, int(bound))
