"""Structured logging: one event name, key=value fields, and never a contact value.

Contact data must not reach logs. Code logs ids, not addresses; as a second line of defence a
processor masks anything that looks like an email address or a phone number in every field.
"""

from __future__ import annotations

import logging
import os
import re
import sys

import structlog

# '=' is left out of the local part so "to=ada@x.org" keeps its key.
_EMAIL = re.compile(r"[A-Za-z0-9.!#$%&'*+/?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_PHONE = re.compile(r"(?<![\w/=:.-])\+?\d[\d ().-]{8,}\d(?![\w/-])")


def mask_contacts(text: str) -> str:
    return _PHONE.sub("[phone]", _EMAIL.sub("[email]", text))


def _mask_processor(_logger, _name, event_dict):
    for key, value in list(event_dict.items()):
        if isinstance(value, str):
            event_dict[key] = mask_contacts(value)
    return event_dict


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is now (it may be replaced after start-up, e.g. by pytest)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value):
        pass


class _MaskingFilter(logging.Filter):
    """Masks contacts in records from libraries that log through stdlib logging."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_contacts(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


def configure_logging(level: int | None = None) -> None:
    """Key=value logs on stderr at ``BACKBELL_LOG_LEVEL`` (default INFO)."""
    if level is None:
        level = logging.getLevelName(os.environ.get("BACKBELL_LOG_LEVEL", "INFO").upper())
        level = level if isinstance(level, int) else logging.INFO
    shared = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _mask_processor,
    ]
    structlog.configure(
        processors=shared + [structlog.processors.KeyValueRenderer(key_order=["event", "level"], sort_keys=True)],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=lambda *_args: structlog.PrintLogger(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
    root = logging.getLogger()
    if not any(isinstance(f, _MaskingFilter) for f in root.filters):
        handler = _StderrHandler()
        handler.addFilter(_MaskingFilter())
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
        root.addHandler(handler)
        root.addFilter(_MaskingFilter())
    root.setLevel(level)


def get_logger(name: str | None = None):
    return structlog.get_logger(name)
