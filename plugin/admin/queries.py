"""Query-string parameters of the ``/api`` lists, parsed strictly: a bad value raises
``QueryError`` naming the parameter (answered 422), never a 500 or a silently ignored filter."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from plugin.admin.overview import Range
from plugin.admin.paging import Cursor, CursorCodec, CursorError

MAX_ID = 2**63 - 1
MAX_RANGE_DAYS = 3660


class QueryError(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


def known_only(args: Mapping[str, str], allowed: set[str]) -> None:
    """Refuse parameters the endpoint does not know (a typo must not return unfiltered rows)."""
    for name in args:
        if name not in allowed:
            raise QueryError(name, f"unknown parameter; this endpoint takes {', '.join(sorted(allowed)) or 'none'}")


def day(args: Mapping[str, str], name: str) -> date | None:
    raw = args.get(name)
    if raw is None:
        return None
    try:
        if len(raw) != 10:
            raise ValueError
        return date.fromisoformat(raw)
    except ValueError:
        raise QueryError(name, "must be a date as YYYY-MM-DD") from None


def date_range(args: Mapping[str, str]) -> Range:
    since, until = day(args, "since"), day(args, "until")
    if since and until and since > until:
        raise QueryError("since", "must be on or before until")
    if since and until and (until - since).days > MAX_RANGE_DAYS:
        raise QueryError("since", f"the range may span at most {MAX_RANGE_DAYS} days")
    return Range(since, until)


def whole(args: Mapping[str, str], name: str, default: int | None, low: int, high: int) -> int | None:
    raw = args.get(name)
    if raw is None or raw == "":
        return default
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 19 or not low <= int(raw) <= high:
        raise QueryError(name, f"must be a whole number from {low} to {high}")
    return int(raw)


def shopify_id(args: Mapping[str, str], name: str) -> int | None:
    """A numeric id or its ``gid://shopify/<Type>/<n>`` form."""
    raw = args.get(name)
    if raw is not None and raw.startswith("gid://shopify/"):
        raw = raw.rsplit("/", 1)[-1]
    return whole({name: raw} if raw is not None else {}, name, None, 1, MAX_ID)


def choice(args: Mapping[str, str], name: str, allowed: tuple[str, ...]) -> str | None:
    raw = args.get(name)
    if raw is None or raw == "":
        return None
    if raw not in allowed:
        raise QueryError(name, f"must be one of {', '.join(allowed)}")
    return raw


def text(args: Mapping[str, str], name: str, max_length: int) -> str | None:
    raw = args.get(name)
    if raw is None or raw.strip() == "":
        return None
    if len(raw) > max_length:
        raise QueryError(name, f"must be at most {max_length} characters")
    return raw.strip()


def cursor(args: Mapping[str, str], codec: CursorCodec, scope: str, key_length: int,
           legacy_before: str | None = None) -> Cursor | None:
    """``cursor`` (from a list's ``next_cursor``/``previous_cursor``), or the older ``before=<id>``
    where the list had it; both at once is refused."""
    raw = args.get("cursor") or None
    before = shopify_id(args, legacy_before) if legacy_before else None
    if raw is not None and before is not None:
        raise QueryError("cursor", f"give cursor or {legacy_before}, not both")
    if before is not None:
        return Cursor("next", (before,))
    if raw is None:
        return None
    try:
        return codec.decode(scope, raw, key_length)
    except CursorError as err:
        raise QueryError("cursor", f"{err}; start again from the first page (no cursor)") from None
