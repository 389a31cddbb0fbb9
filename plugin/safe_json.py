"""One JSON loader for every body and token the app reads from outside.

``json.loads`` alone lets a few hundred bytes reach places that answer 500 or crash later:
``[[[[…`` 3,000 deep raises ``RecursionError``; a 5,000-digit number raises ``ValueError`` from
``int()`` (Python refuses more than 4,300 digits); ``NaN``/``Infinity`` and ``1e999`` are not
JSON numbers any database column takes; ``"\\udcff"`` (a lone surrogate) and ``"\\u0000"`` parse
into strings that cannot be encoded to UTF-8 or stored in PostgreSQL. ``parse_json`` refuses all
of them and reports what was wrong; it never raises for bad input.

Limits are far above anything Shopify or the widget sends (Shopify ids are at most 19 digits;
its payloads nest about five levels).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

MAX_DEPTH = 32
MAX_INT_DIGITS = 24  # room above 2**63 (19 digits); range checks belong to the caller
MAX_FLOAT_CHARS = 40
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


@dataclass(frozen=True)
class JsonResult:
    value: Any = None
    problem: str | None = None  # why the text was refused, for logs and error messages

    @property
    def ok(self) -> bool:
        return self.problem is None


class _Refused(ValueError):
    pass


def parse_json(raw: bytes | str, max_depth: int = MAX_DEPTH) -> JsonResult:
    """The parsed value, or the problem: not UTF-8, not JSON, too deep, a number or string we refuse."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, (bytes, bytearray)) else raw
    except UnicodeDecodeError:
        return JsonResult(problem="the body is not UTF-8")
    try:
        value = json.loads(text, parse_int=_bounded_int, parse_float=_finite_float, parse_constant=_no_constant)
    except _Refused as err:
        return JsonResult(problem=str(err))
    except RecursionError:
        return JsonResult(problem=f"nested deeper than {max_depth} levels")
    except ValueError as err:  # JSONDecodeError, and int()'s digit limit should ours ever be raised
        return JsonResult(problem=f"not valid JSON ({str(err)[:80]})")
    problem = _structure_problem(value, max_depth)
    return JsonResult(problem=problem) if problem else JsonResult(value=value)


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise _Refused(f"a number has more than {MAX_INT_DIGITS} digits")
    return int(text)


def _finite_float(text: str) -> float:
    value = float(text) if len(text) <= MAX_FLOAT_CHARS else math.inf
    if not math.isfinite(value):
        raise _Refused("a number is too large")
    return value


def _no_constant(name: str):
    raise _Refused(f"{name} is not a JSON number")


def _structure_problem(value: Any, max_depth: int) -> str | None:
    """Walk the parsed value without recursion: depth, and strings that cannot be stored."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, str):
            if _UNSTORABLE.search(node):
                return "a string holds a NUL character or a lone surrogate"
        elif isinstance(node, (dict, list)):
            if depth > max_depth:
                return f"nested deeper than {max_depth} levels"
            items = node.items() if isinstance(node, dict) else enumerate(node)
            for key, child in items:
                if isinstance(key, str) and _UNSTORABLE.search(key):
                    return "a key holds a NUL character or a lone surrogate"
                stack.append((child, depth + 1))
    return None
