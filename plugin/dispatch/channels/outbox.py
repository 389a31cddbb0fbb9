"""The local outbox channel: one JSON line per message in ``<BACKBELL_OUTBOX>/outbox.jsonl``.

Used on the embedded default and whenever no provider is configured. Several processes may
append at once, so each line goes out in one ``os.write`` on an ``O_APPEND`` descriptor under an
exclusive ``flock`` — readers never see half a line or two lines interleaved.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

from plugin.dispatch.channels.base import DeliveryResult, OutgoingMessage
from plugin.clock import utcnow

OUTBOX_FILE = "outbox.jsonl"


class OutboxChannel:
    def __init__(self, folder: Path, name: str = "email", max_batch: int = 500):
        self.folder = Path(folder)
        self.name = name
        self.max_batch = max_batch

    def max_send_seconds(self, count: int) -> float:
        # One locked append; waiting for another writer's lock is what takes time.
        return 30.0

    @property
    def path(self) -> Path:
        return self.folder / OUTBOX_FILE

    def send(self, messages: list[OutgoingMessage]) -> list[DeliveryResult]:
        self.folder.mkdir(parents=True, exist_ok=True)
        payload = "".join(json.dumps(_line(m), ensure_ascii=False) + "\n" for m in messages).encode()
        if not payload:
            return []
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            written = _append_whole_or_nothing(fd, payload)
        finally:
            os.close(fd)  # closing releases the lock
        if written != len(payload):
            return [DeliveryResult(m.notification_id, ok=False, transient=True, error="short write") for m in messages]
        return [DeliveryResult(m.notification_id, ok=True, provider_message_id=f"outbox-{m.notification_id}")
                for m in messages]


def _append_whole_or_nothing(fd: int, payload: bytes) -> int:
    """Bytes appended: all of ``payload``, or 0 after cutting a partial write (full disk, file size
    limit) back off — the batch is retried, so keeping its first lines would write them twice and
    leave half a line for the next append to glue onto. The caller holds the exclusive lock."""
    start = os.lseek(fd, 0, os.SEEK_END)
    try:
        written = os.write(fd, payload)
    except OSError:
        written = -1
    if written != len(payload):
        os.ftruncate(fd, start)
        return 0
    return written


def _line(message: OutgoingMessage) -> dict:
    subject, text, html = message.rendered()
    return {
        "channel": message.channel,
        "to": message.to,
        "shop": message.shop,
        "kind": message.kind,
        "variant_id": message.variant_id,
        "subject": subject,
        "text": text,
        "html": html,
        "url": message.url,
        "unsubscribe_url": message.unsubscribe_url,
        "discount_code": message.discount_code,
        "expires_at": _iso(message.expires_at),
        "locale": message.locale,
        "notification_id": message.notification_id,
        "sent_at": _iso(utcnow()),
    }


def _iso(moment) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment is not None else None


def erase_lines(folder: Path, shop: str, recipients: set[str] | None = None) -> int:
    """Remove the outbox lines of ``shop`` (only those to ``recipients`` when given); returns how many.

    The privacy webhooks use this: the outbox is a copy of what was sent, contacts included, so a
    redacted customer or a purged shop must leave it too. The file is rewritten in place under the
    same exclusive lock the writers take — a rename would strand appends made to the old file.
    """
    path = Path(folder) / OUTBOX_FILE
    if not path.exists() or recipients == set():
        return 0
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        lines = os.read(fd, os.fstat(fd).st_size).decode().splitlines(keepends=True)
        kept = [line for line in lines if not _erasable(line, shop, recipients)]
        if len(kept) != len(lines):
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, os.SEEK_SET)
            os.write(fd, "".join(kept).encode())
    finally:
        os.close(fd)
    return len(lines) - len(kept)


def _erasable(line: str, shop: str, recipients: set[str] | None) -> bool:
    try:
        entry = json.loads(line)
    except ValueError:
        return False
    return entry.get("shop") == shop and (recipients is None or entry.get("to") in recipients)
