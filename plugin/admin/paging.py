"""Keyset (cursor) paging for the admin's long lists: Subscribers, Activity and Demand.

A page starts after (``next``) or ends before (``prev``) the sort key of a row the merchant has
seen, so a row inserted or deleted elsewhere never shifts a page: no row is shown twice and none
is skipped, and a deep page costs the same as the first (an index range, no ``OFFSET``).

Cursors are opaque to clients: ``<payload>.<mac>``, both base64url, the payload
``[scope, direction, key...]`` and the mac an HMAC-SHA256 (truncated to 16 bytes) under a key the
app derives from its link secrets. The scope names the list and the shop, so a cursor of another
list or shop, an edited one or a garbled one is refused (``CursorError``, answered 422), never
trusted or a 500.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from plugin.config import derived_secret

MAX_KEY = 2**63 - 1
MAX_CURSOR_LENGTH = 512
MAC_BYTES = 16
DIRECTIONS = ("next", "prev")


class CursorError(ValueError):
    """The cursor was not made by this app for this list and shop."""


@dataclass(frozen=True)
class Cursor:
    direction: str  # "next": rows after ``key``; "prev": rows before it
    key: tuple[int, ...]


@dataclass(frozen=True)
class Order:
    """One sort column of a list; ``descending`` as the list shows it."""
    column: object
    descending: bool


@dataclass(frozen=True)
class Page:
    rows: list
    next: Cursor | None
    previous: Cursor | None


def scope(list_name: str, shop_id: int) -> str:
    return f"{list_name}:{shop_id}"


class CursorCodec:
    """Signs and reads cursors; the first key signs, every key verifies (secret rotation)."""

    def __init__(self, keys: Sequence[bytes]):
        if not keys:
            raise ValueError("at least one key")
        self.keys = tuple(keys)

    def encode(self, scope: str, cursor: Cursor) -> str:
        payload = json.dumps([scope, cursor.direction, *cursor.key], separators=(",", ":")).encode()
        return f"{_b64(payload)}.{_b64(self._mac(self.keys[0], payload))}"

    def decode(self, scope: str, raw: str, key_length: int) -> Cursor:
        if not isinstance(raw, str) or not 0 < len(raw) <= MAX_CURSOR_LENGTH or raw.count(".") != 1:
            raise CursorError("not a cursor of this list")
        encoded, mac = raw.split(".")
        try:
            payload, given = _unb64(encoded), _unb64(mac)
        except (binascii.Error, ValueError):
            raise CursorError("not a cursor of this list") from None
        if not any(hmac.compare_digest(given, self._mac(key, payload)) for key in self.keys):
            raise CursorError("not a cursor of this list (altered, or from another list or shop)")
        try:
            parts = json.loads(payload)
        except ValueError:
            raise CursorError("not a cursor of this list") from None
        if (not isinstance(parts, list) or len(parts) != 2 + key_length or parts[0] != scope
                or parts[1] not in DIRECTIONS
                or not all(type(k) is int and -MAX_KEY <= k <= MAX_KEY for k in parts[2:])):
            raise CursorError("not a cursor of this list (altered, or from another list or shop)")
        return Cursor(parts[1], tuple(parts[2:]))

    def encode_page(self, scope: str, page: Page) -> dict:
        """The cursors of ``page`` as the JSON lists answer them (null at either end)."""
        return {"next_cursor": self.encode(scope, page.next) if page.next else None,
                "previous_cursor": self.encode(scope, page.previous) if page.previous else None}

    @staticmethod
    def _mac(key: bytes, payload: bytes) -> bytes:
        return hmac.new(key, payload, hashlib.sha256).digest()[:MAC_BYTES]


@cache
def codec_for(link_secrets: tuple[str, ...]) -> CursorCodec:
    """The app's cursor codec: keys derived from its link secrets (the first signs)."""
    return CursorCodec([bytes.fromhex(derived_secret(secret, "admin list cursors")) for secret in link_secrets])


def keyset_page(session: Session, query, orders: Sequence[Order], key_of: Callable[[object], tuple[int, ...]],
                limit: int, cursor: Cursor | None, scalars: bool = False) -> Page:
    """One page of ``query`` (a select without ORDER BY) in ``orders``, from ``cursor``.

    ``key_of(row)`` is a row's sort key (ints, one per order column, the last one unique). A
    ``prev`` page that reaches the start of the list is answered as the first page (full), so
    going back always ends on the same first page the merchant started from."""
    fetch = session.scalars if scalars else session.execute
    if cursor is not None and cursor.direction == "prev":
        backwards = query.where(_beyond(orders, cursor.key, forward=False)).order_by(*_ordering(orders, reverse=True))
        rows = list(fetch(backwards.limit(limit + 1)))
        if len(rows) > limit:
            rows = rows[:limit][::-1]
            return Page(rows, Cursor("next", key_of(rows[-1])), Cursor("prev", key_of(rows[0])))
        cursor = None  # at the start: the first page
    forwards = query.order_by(*_ordering(orders, reverse=False))
    if cursor is not None:
        forwards = forwards.where(_beyond(orders, cursor.key, forward=True))
    rows = list(fetch(forwards.limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    following = Cursor("next", key_of(rows[-1])) if more else None
    previous = None
    if cursor is not None:
        first = key_of(rows[0]) if rows else cursor.key
        earlier = session.scalar(select(query.where(_beyond(orders, first, forward=False)).exists()))
        previous = Cursor("prev", first) if earlier else None
    return Page(rows, following, previous)


def _ordering(orders: Sequence[Order], reverse: bool) -> list:
    return [o.column.desc() if o.descending != reverse else o.column.asc() for o in orders]


def _beyond(orders: Sequence[Order], key: tuple[int, ...], forward: bool):
    """Rows strictly after ``key`` in the list's order (``forward``) or strictly before it."""
    alternatives = []
    for i, order in enumerate(orders):
        later = order.descending == forward  # "after" means smaller on a descending column
        column = order.column
        step = column < key[i] if later else column > key[i]
        alternatives.append(and_(*[orders[j].column == key[j] for j in range(i)], step))
    return or_(*alternatives)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    if not text or not text.isascii():
        raise ValueError("empty or not ASCII")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
