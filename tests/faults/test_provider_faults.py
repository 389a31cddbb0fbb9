"""Providers failing 30 % of calls — 429 with their wait, 500/502/503, connections refused, and
messages accepted but answered after the client's timeout — during a 3,100-shopper fan-out
(3,000 email in six languages, 100 SMS) through a real Celery worker whose clock runs three years
ahead: nothing lost, nothing duplicated.

Every shopper is told exactly once at the provider doubles, except that a message the provider
accepted without answering in time can only be *uncertain* to the app: those are exactly the rows
reported uncertain, and none of them is sent again. No call comes before a 429's wait is over
(SendGrid's ``X-RateLimit-Reset`` and Twilio's ``Retry-After`` are wall-clock times: the moved
app clock must not misread them). Time is bounded by configuration, not by sleeping: 3-second
provider timeouts and a 0.2-second first retry backoff (``BACKBELL_DISPATCH_RETRY_BACKOFF``).
"""

from __future__ import annotations

import re
import time
from collections import Counter
from datetime import timedelta

import pytest
import redis
from sqlalchemy import func, insert, select

from plugin.clock import travel
from plugin.dispatch.delivery import NO_ANSWER
from plugin.dispatch.tasks import dispatch_restock, recover_dispatch
from plugin.models import Contact, Decision, Notification, RestockEvent, Subscription
from tests.dispatch.builders import PRODUCT_ID, VARIANT_ID, make_event, make_shop, make_variant
from tests.doubles.provider_faults import KINDS, FaultPlan
from tests.doubles.worker import wait_for

pytestmark = [pytest.mark.pg_only, pytest.mark.worker, pytest.mark.fault,
              pytest.mark.xdist_group("faults-a")]  # the faults stage's group (scripts/test)

EMAILS, PHONES = 3000, 100
LOCALES = ("en", "de", "fr", "es", "ja", "zh-CN")  # six bodies: six SendGrid requests per batch of 1000
SHARE, SEED = 0.3, 20261202
TIMEOUT = 3.0  # each provider request, as the app is configured here
AHEAD = timedelta(days=3 * 365)  # the app's clock (worker and test), against the providers' wall clock
BOUND = 480  # seconds the whole fan-out may take on a loaded 2-core machine (about 1–2 minutes alone)


@pytest.fixture
def faulty_providers(app_config, sendgrid, twilio):
    """Both doubles fail 30 % of calls (each kind once per cycle, seeded); short timeouts and backoff."""
    app_config.update(sendgrid_timeout_seconds=TIMEOUT, twilio_timeout_seconds=TIMEOUT,
                      dispatch_retry_backoff_seconds=0.2)
    # A silent answer outlasts the client's read timeout; a refused door outlasts its connect
    # timeout (and the kernel's SYN retry at 1 s).
    sendgrid.faults = FaultPlan.seeded(SEED, SHARE, hang_seconds=TIMEOUT + 2, gate_seconds=TIMEOUT + 2)
    twilio.faults = FaultPlan.seeded(SEED + 1, SHARE, hang_seconds=TIMEOUT + 2, gate_seconds=TIMEOUT + 2)
    return sendgrid, twilio


def _seed(session, vault) -> tuple[int, list[str], list[str]]:
    shop = make_shop(session, settings={"batch_per_unit": None})  # everybody at once
    make_variant(session, shop, available=10)
    emails = [f"shopper{i:05d}@example.com" for i in range(EMAILS)]
    phones = [f"+1555200{i:04d}" for i in range(PHONES)]
    contacts = [("email", e) for e in emails] + [("sms", p) for p in phones]
    session.execute(insert(Contact), [
        {"shop_id": shop.id, "channel": channel, "value_ciphertext": vault.encrypt(value),
         "value_hash": vault.hash(channel, value)} for channel, value in contacts])
    ids = dict(session.execute(select(Contact.value_hash, Contact.id).where(Contact.shop_id == shop.id)).all())
    session.execute(insert(Subscription), [
        {"shop_id": shop.id, "contact_id": ids[vault.hash(channel, value)], "variant_id": VARIANT_ID,
         "product_id": PRODUCT_ID, "channel": channel, "locale": LOCALES[n % len(LOCALES)], "status": "waiting"}
        for n, (channel, value) in enumerate(contacts)])
    event = make_event(session, shop, available=10)
    session.commit()
    return event.id, emails, phones


def _event_status(runtime, event_id: int) -> str:
    with runtime.db.session() as s:
        return s.get(RestockEvent, event_id).status


def _statuses(runtime, event_id: int) -> dict[tuple[str, str], int]:
    with runtime.db.session() as s:
        rows = s.execute(select(Notification.channel, Notification.status, func.count())
                         .where(Notification.restock_event_id == event_id)
                         .group_by(Notification.channel, Notification.status))
        return {(channel, status): count for channel, status, count in rows}


def _uncertain_contacts(runtime, event_id: int) -> dict[str, set[str]]:
    with runtime.db.session() as s:
        rows = s.execute(select(Notification.channel, Contact.value_ciphertext)
                         .join(Subscription, Subscription.id == Notification.subscription_id)
                         .join(Contact, Contact.id == Subscription.contact_id)
                         .where(Notification.restock_event_id == event_id, Notification.status == "uncertain"))
        found: dict[str, set[str]] = {"email": set(), "sms": set()}
        for channel, ciphertext in rows:
            found[channel].add(runtime.vault.decrypt(ciphertext))
        return found


def _done_or_revive(runtime, worker, event_id: int, revived: list[int]):
    """The event is done; else, when no task is queued or held by the worker (a chain gave up
    after its retries), do what the beat's recovery does every minute in production."""
    if _event_status(runtime, event_id) == "done":
        return True
    broker = redis.Redis.from_url(worker.redis_url)
    if broker.llen("celery") == 0 and broker.hlen("unacked") == 0:
        time.sleep(1)  # a task between the queue and the worker is in neither for a moment
        if broker.llen("celery") == 0 and broker.hlen("unacked") == 0 and _event_status(runtime, event_id) != "done":
            recover_dispatch.delay()
            revived.append(1)
    return False


# How long after a 429 a call may still arrive that was already under way when it was answered.
CROSSING_SECONDS = 0.5


def test_providers_failing_a_third_of_calls_lose_nothing_and_send_nothing_twice(
        faulty_providers, celery_worker, app, runtime, session):
    sendgrid, twilio = faulty_providers
    celery_worker.restart(clock_offset=AHEAD)  # the worker's clock, three years ahead like the test's below
    started = time.monotonic()
    with travel(AHEAD), app.app_context():
        # given 3,000 email shoppers in six languages and 100 SMS shoppers, and a restock
        event_id, emails, phones = _seed(session, runtime.vault)
        # when it is dispatched while both providers fail 30 % of calls
        dispatch_restock.delay(event_id)
        revived: list[int] = []
        wait_for(lambda: _done_or_revive(runtime, celery_worker, event_id, revived), timeout=BOUND, interval=1,
                 worker=celery_worker)
    elapsed = time.monotonic() - started

    # then every kind of failure happened at both providers
    assert set(sendgrid.faults.happened) == set(KINDS), sendgrid.faults.happened
    assert set(twilio.faults.happened) == set(KINDS), twilio.faults.happened
    worker_log = "\n".join(path.read_text(errors="replace") for path in celery_worker.started)
    for provider in ("sendgrid", "twilio"):  # the refused connections did meet a call, which timed out connecting
        assert re.search(rf"event='{provider}_unreachable' .*error='ConnectTimeout'", worker_log), provider
    # and nobody got anything twice, and everybody got their notice once
    mails, texts = Counter(sendgrid.recipients()), Counter(m["To"] for m in twilio.messages)
    assert max(mails.values()) == 1 and max(texts.values()) == 1
    assert sorted(mails) == sorted(emails) and sorted(texts) == sorted(phones)
    # and the messages accepted without an answer are exactly the ones reported uncertain (never re-sent)
    unanswered_mails = {m["to"] for m in sendgrid.messages
                        if any(r.get("message_id") == m["message_id"] and not r["answered"] for r in sendgrid.requests)}
    unanswered_texts = {m["To"] for m in twilio.messages if m["sid"] in twilio.unanswered}
    assert unanswered_mails and unanswered_texts
    assert _uncertain_contacts(runtime, event_id) == {"email": unanswered_mails, "sms": unanswered_texts}
    # and the database's notices add up to the shoppers: sent or uncertain, none failed or pending
    statuses = _statuses(runtime, event_id)
    assert statuses == {("email", "sent"): EMAILS - len(unanswered_mails),
                        ("email", "uncertain"): len(unanswered_mails),
                        ("sms", "sent"): PHONES - len(unanswered_texts), ("sms", "uncertain"): len(unanswered_texts)}
    assert sum(statuses.values()) == EMAILS + PHONES
    with runtime.db.session() as s:
        uncertain_decisions = s.scalar(select(func.count()).select_from(Decision).where(Decision.decision == NO_ANSWER))
    assert uncertain_decisions == len(unanswered_mails) + len(unanswered_texts)
    # and no call came before a 429's wait was over — parallel chains share the pause
    # (plugin.dispatch.pauses) — except one that crossed the 429 on its way: a chain checks the
    # pause right before its call, so a call already under way when another chain got the 429 arrives
    # within moments of it (the bug this catches: sibling chains calling seconds later)
    early = sendgrid.early_gaps + twilio.early_gaps
    assert all(gap <= CROSSING_SECONDS for gap in early), early
    print(f"\nprovider faults: {EMAILS + PHONES} shoppers in {elapsed:.0f} s; SendGrid {len(sendgrid.requests)} "
          f"requests {dict(sendgrid.faults.happened)}; Twilio {twilio.calls} calls {dict(twilio.faults.happened)}; "
          f"uncertain {len(unanswered_mails)} mails + {len(unanswered_texts)} texts; chains revived {len(revived)}")
