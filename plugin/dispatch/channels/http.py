"""What a failed provider call means, shared by the HTTP channels (SendGrid, Twilio).

A network error either happened before the provider could have the whole request — it never
accepted the message, so sending again is safe — or after the request was written, while the
answer was awaited: the provider may have accepted it (neither SendGrid nor Twilio take an
idempotency key), so the message is *uncertain* and is never sent again.

A 429 says when to call again: ``Retry-After`` (seconds or an HTTP date) and SendGrid's
``X-RateLimit-Reset`` (Unix seconds). Both are the provider's wall-clock time, so they are read
against the wall clock (``plugin.clock.wall_timestamp``), not the app's (possibly moved) clock.
"""

from __future__ import annotations

import math
from email.utils import parsedate_to_datetime

import httpx

from plugin.clock import wall_timestamp

# Raised before the request was completely written: the provider cannot have accepted it.
NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.WriteError, httpx.WriteTimeout)
# Longest wait a provider's 429 is believed for (a broken header must not park a chain for days).
MAX_WAIT_SECONDS = 3600.0


def never_sent(err: httpx.HTTPError) -> bool:
    """True when the request cannot have reached the provider whole (safe to send again)."""
    return isinstance(err, NEVER_SENT)


def requested_wait(headers: httpx.Headers) -> float | None:
    """Seconds to wait before the next call, from a 429's headers (the longest they ask for)."""
    waits = []
    retry_after = (headers.get("Retry-After") or "").strip()
    if retry_after:
        if retry_after.isdigit():
            waits.append(float(retry_after))
        else:
            try:
                waits.append(parsedate_to_datetime(retry_after).timestamp() - wall_timestamp())
            except (TypeError, ValueError):
                pass
    reset = (headers.get("X-RateLimit-Reset") or "").strip()
    if reset.isdigit():
        waits.append(float(reset) - wall_timestamp())
    if not waits:
        return None
    return min(MAX_WAIT_SECONDS, max(0.0, math.ceil(max(waits) * 1000) / 1000))
