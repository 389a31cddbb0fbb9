"""plugin.logging: contacts are masked wherever they hide — any script, nested fields, exception
text — in structlog events and in stdlib records (SQLAlchemy's, Celery's), checked on captured logs."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy.exc import IntegrityError

from plugin.logging import configure_logging, get_logger, mask_contacts, mask_value

CONTACTS = ["jöhn.smïth@exämple.de", "用户@例子.中国", "ñandú@correo.es", "ada@example.org", "+14155552671"]


@pytest.fixture(autouse=True)
def logging_configured():
    configure_logging()


@pytest.mark.parametrize("text,expected", [
    ("to=jöhn.smïth@exämple.de sent", "to=[email] sent"),
    ("用户@例子.中国", "[email]"),
    ("de ñandú@correo.es", "de [email]"),
    ("bad \udcff byte", "bad \ufffd byte"),
    ("worker celery@host ready", "worker celery@host ready"),
])
def test_mask_contacts_beyond_ascii(text, expected):
    assert mask_contacts(text) == expected


def test_mask_value_reaches_nested_fields_and_object_reprs():
    value = {"to": ["ada@example.org", {"phone": ("+14155552671",)}], "error": ValueError("no jöhn@exämple.de"),
             "count": 3, "ok": None}

    assert mask_value(value) == {"to": ["[email]", {"phone": ("[phone]",)}], "error": "ValueError('no [email]')",
                                 "count": 3, "ok": None}


def test_structured_events_mask_nested_values(capsys):
    # when
    get_logger("t").info("batch_sent", recipients=[{"to": c} for c in CONTACTS], meta={"cc": CONTACTS[0]})

    # then
    err = capsys.readouterr().err
    assert "batch_sent" in err and err.count("[email]") == 5 and "[phone]" in err
    assert not [c for c in CONTACTS if c in err]


def test_a_structured_exception_is_rendered_and_masked(capsys):
    # given an exception whose text holds SQL parameters with a contact
    try:
        raise IntegrityError("INSERT INTO contacts (value) VALUES (%(value)s)", {"value": CONTACTS[0]},
                             Exception("duplicate key"))
    except IntegrityError:
        # when
        get_logger("t").exception("store_failed", shop_id=1)

    # then the traceback is in the log, without the address
    err = capsys.readouterr().err
    assert "store_failed" in err and "Traceback" in err and "IntegrityError" in err
    assert CONTACTS[0] not in err and "[email]" in err


def test_a_celery_task_failure_is_masked_in_every_handler(capsys, caplog):
    # given the exact record Celery logs for a failing task (celery.app.trace LOG_FAILURE)
    try:
        raise IntegrityError("INSERT INTO contacts (value) VALUES (%(value)s)", {"value": CONTACTS[1]},
                             Exception("duplicate key"))
    except IntegrityError as err:
        # when
        logging.getLogger("celery.app.trace").error(
            "Task %(name)s[%(id)s] %(description)s: %(exc)s",
            {"name": "backbell.handle_webhook", "id": "abc", "description": "raised unexpected", "exc": repr(err)},
            exc_info=True)

    # then neither our stderr handler nor any other handler (pytest's here) got the address
    err = capsys.readouterr().err
    assert "raised unexpected" in err and "Traceback" in err
    assert CONTACTS[1] not in err
    assert "raised unexpected" in caplog.text and "Traceback" in caplog.text
    assert CONTACTS[1] not in caplog.text


def test_library_messages_with_arguments_are_masked(capsys, caplog):
    logging.getLogger("somelib").warning("sending to %s and %s", CONTACTS[2], {"to": CONTACTS[4]})

    err = capsys.readouterr().err
    assert "sending to [email] and {'to': '[phone]'}" in err
    assert CONTACTS[2] not in caplog.text and CONTACTS[4] not in caplog.text


def test_a_record_whose_arguments_do_not_fit_is_made_without_raising():
    # (the handlers then report the bad format themselves, as logging always has)
    record = logging.getLogRecordFactory()("somelib", logging.WARNING, __file__, 1, "%d items", ("x",), None)

    assert (record.msg, record.args) == ("%d items", ("x",))
