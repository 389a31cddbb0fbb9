"""Structured logging: one event name, key=value fields, and never a contact value.

Contact data must not reach logs. Code logs ids, not addresses; as a second line of defence
anything that looks like an email address (any script) or a phone number is masked: in every
structlog field, however nested, and in rendered tracebacks; in every stdlib record (ours and the
libraries': SQLAlchemy, Celery) as it is made, message, arguments and exception text alike.
"""

from __future__ import annotations

import logging
import os
import re
import sys

import structlog

# '=' is left out of the local part so "to=ada@x.org" keeps its key. \w is Unicode-aware, so
# "jöhn@exämple.de" and "用户@例子.中国" are addresses too.
_EMAIL = re.compile(r"[\w.!#$%&'*+/?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"(?<![\w/=:.-])\+?\d[\d ().-]{8,}\d(?![\w/-])")
# A lone surrogate cannot be written to a UTF-8 stream: it would turn a log line into a crash.
_SURROGATE = re.compile("[\ud800-\udfff]")
_MAX_NESTING = 8


def mask_contacts(text: str) -> str:
    return _PHONE.sub("[phone]", _EMAIL.sub("[email]", _SURROGATE.sub("\ufffd", text)))


def mask_value(value, depth: int = 0):
    """``value`` with contacts masked in every string inside it (dicts, lists, tuples, sets) and in
    the ``repr`` of anything else that holds one (an exception passed as a field, say)."""
    if isinstance(value, str):
        return mask_contacts(value)
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if depth >= _MAX_NESTING:
        return "[nested]"
    if isinstance(value, dict):
        return {mask_value(k, depth + 1): mask_value(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        masked = [mask_value(item, depth + 1) for item in value]
        return masked if isinstance(value, list) else tuple(masked)
    text = repr(value)
    masked = mask_contacts(text)
    return value if masked == text else masked


def _mask_processor(_logger, _name, event_dict):
    # Runs after format_exc_info, so a rendered traceback (SQL parameters, exception text) is masked too.
    return {key: mask_value(value) for key, value in event_dict.items()}


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is now (it may be replaced after start-up, e.g. by pytest)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value):
        pass


def _masked_record_factory(factory):
    """Masks stdlib records as they are made, so every handler (ours, Celery's, pytest's) sees only
    masked text: the message with its arguments, and the traceback, whose exception text can hold a
    contact (an IntegrityError's SQL parameters, Celery's "Task … raised unexpected: …")."""

    def make(*args, **kwargs) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            message = None  # arguments that do not fit the format: logging reports that itself
        masked = mask_contacts(message) if message is not None else None
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = mask_contacts(logging.Formatter().formatException(record.exc_info))
        if record.stack_info:
            record.stack_info = mask_contacts(record.stack_info)
        return record

    make.backbell_masking = True
    return make


def configure_logging(level: int | None = None) -> None:
    """Key=value logs on stderr at ``BACKBELL_LOG_LEVEL`` (default INFO)."""
    if level is None:
        level = logging.getLevelName(os.environ.get("BACKBELL_LOG_LEVEL", "INFO").upper())
        level = level if isinstance(level, int) else logging.INFO
    shared = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        _mask_processor,
    ]
    structlog.configure(
        processors=shared + [structlog.processors.KeyValueRenderer(key_order=["event", "level"], sort_keys=True)],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=lambda *_args: structlog.PrintLogger(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
    if not getattr(logging.getLogRecordFactory(), "backbell_masking", False):
        logging.setLogRecordFactory(_masked_record_factory(logging.getLogRecordFactory()))
    root = logging.getLogger()
    if not any(isinstance(h, _StderrHandler) for h in root.handlers):
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
        root.addHandler(handler)
    root.setLevel(level)


def get_logger(name: str | None = None):
    return structlog.get_logger(name)
