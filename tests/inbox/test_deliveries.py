"""The inbox rows: acceptance, attempts, parking, the re-drive, retention and the operator's CLI.
Tasks run in-process here; tests/inbox/test_durability.py drives them through a real worker."""

from __future__ import annotations

import json
from datetime import timedelta

from click.testing import CliRunner
from sqlalchemy import select

from plugin import clock
from plugin.cli import main
from plugin.inbox import deliveries
from plugin.inbox.processing import process_delivery
from plugin.models import Decision, InboxDelivery, Shop
from tests.webhooks.delivery import DEMO_SHOP, deliver

UNINSTALL = {"id": 1, "name": "Demo", "myshopify_domain": DEMO_SHOP}


def _shop(session) -> Shop:
    shop = Shop(domain=DEMO_SHOP, name="Demo", settings={}, access_token="ciphertext")
    session.add(shop)
    session.commit()
    return shop


def _store(runtime, topic: str, payload, webhook_id: str = "wh-1", shop_domain: str = DEMO_SHOP) -> int:
    body = payload if isinstance(payload, str) else json.dumps(payload)
    with runtime.db.session() as s:
        return deliveries.accept(s, runtime.vault, webhook_id=webhook_id, shop_domain=shop_domain, topic=topic,
                                 body=body, triggered_at=None).inbox_id


def _row(session, inbox_id: int) -> InboxDelivery:
    session.expire_all()
    return session.get(InboxDelivery, inbox_id)


def test_a_delivery_is_stored_encrypted_and_handled_once(client, session, runtime):
    # given
    shop = _shop(session)
    # when Shopify delivers an uninstall, then the same delivery again
    first = deliver(client, "app/uninstalled", UNINSTALL, webhook_id="u-1")
    second = deliver(client, "app/uninstalled", UNINSTALL, webhook_id="u-1")
    # then one row, handled on its first attempt, its payload readable only with the key
    assert (first.get_json(), second.get_json()) == ({"status": "accepted"}, {"status": "duplicate"})
    row = session.scalars(select(InboxDelivery)).one()
    assert (row.webhook_id, row.topic, row.attempts, row.last_error) == ("u-1", "app/uninstalled", 1, None)
    assert row.processed_at is not None
    assert json.loads(runtime.vault.decrypt(row.payload_ciphertext)) == UNINSTALL
    assert "Demo" not in row.payload_ciphertext
    session.expire_all()
    assert session.get(Shop, shop.id).uninstalled_at is not None


def test_the_webhooks_connection_and_a_session_store_the_same_row(session, runtime):
    # given one delivery, stored once through a session (the re-drive's and SQLite's statement) and
    # once through an autocommit connection (the web view's: on PostgreSQL, run on the driver)
    triggered = clock.utcnow() - timedelta(seconds=3)
    stored = {}
    with clock.frozen(clock.utcnow()):
        with runtime.db.session() as s:
            stored["session"] = deliveries.accept(s, runtime.vault, webhook_id="same-1", shop_domain=DEMO_SHOP,
                                                  topic="orders/create", body='{"id": 1}', triggered_at=triggered)
        with runtime.db.autocommit() as connection:
            stored["connection"] = deliveries.accept(connection, runtime.vault, webhook_id="same-2",
                                                     shop_domain=DEMO_SHOP, topic="orders/create", body='{"id": 1}',
                                                     triggered_at=triggered)
            repeat = deliveries.accept(connection, runtime.vault, webhook_id="same-2", shop_domain=DEMO_SHOP,
                                       topic="orders/create", body='{"id": 1}', triggered_at=None)
    # then the rows are the same but for their ids and ciphertexts, and a repeat id is a duplicate
    rows = {path: _row(session, accepted.inbox_id) for path, accepted in stored.items()}
    columns = [c.key for c in InboxDelivery.__table__.columns if c.key not in ("id", "webhook_id", "payload_ciphertext")]
    assert {c: getattr(rows["session"], c) for c in columns} == {c: getattr(rows["connection"], c) for c in columns}
    assert rows["connection"].triggered_at == triggered and rows["connection"].attempts == 0
    assert runtime.vault.decrypt(rows["connection"].payload_ciphertext) == '{"id": 1}'
    assert repeat == deliveries.Accepted(inbox_id=None, duplicate=True)


def test_processing_a_handled_row_again_changes_nothing(session, runtime):
    # given an uninstall that was handled, then the merchant reinstalled
    shop = _shop(session)
    inbox_id = _store(runtime, "app/uninstalled", UNINSTALL)
    process_delivery(runtime, inbox_id)
    shop = session.merge(shop)
    session.refresh(shop)
    shop.uninstalled_at = None
    session.commit()
    # when the same row is driven again (a re-drive racing the first task)
    assert process_delivery(runtime, inbox_id) == []
    # then the new installation stands and no attempt was counted
    session.expire_all()
    assert session.get(Shop, shop.id).uninstalled_at is None
    assert _row(session, inbox_id).attempts == 1


def test_a_failing_row_is_parked_after_its_attempts_and_the_merchant_sees_it(session, runtime):
    # given a delivery whose payload no configured key can read (a lost key: it fails every time)
    shop = _shop(session)
    inbox_id = _store(runtime, "app/uninstalled", UNINSTALL)
    session.execute(InboxDelivery.__table__.update().values(payload_ciphertext="not-a-token"))
    session.commit()
    # when it is driven MAX_ATTEMPTS times
    for _ in range(deliveries.MAX_ATTEMPTS):
        assert process_delivery(runtime, inbox_id) == []
    # then it is parked with the reason, and the merchant's log says so
    row = _row(session, inbox_id)
    assert (row.attempts, row.processed_at, row.next_attempt_at) == (deliveries.MAX_ATTEMPTS, None, None)
    assert row.parked_at is not None and row.last_error == "ValueError: ciphertext was not made with any configured BACKBELL_ENCRYPTION_KEYS"
    decisions = session.scalars(select(Decision).where(Decision.shop_id == shop.id)).all()
    assert [(d.decision, d.detail) for d in decisions] == [
        ("webhook parked: app/uninstalled", {"inbox_id": inbox_id, "attempts": deliveries.MAX_ATTEMPTS})]
    # and a parked row is not driven again
    assert process_delivery(runtime, inbox_id) == []
    assert _row(session, inbox_id).attempts == deliveries.MAX_ATTEMPTS


def test_privacy_topics_are_never_parked(session, runtime):
    # given a shop/redact that keeps failing
    inbox_id = _store(runtime, "shop/redact", {"shop_domain": DEMO_SHOP})
    session.execute(InboxDelivery.__table__.update().values(payload_ciphertext="not-a-token"))
    session.commit()
    # when it fails more often than any other topic may
    for _ in range(deliveries.MAX_ATTEMPTS + 2):
        process_delivery(runtime, inbox_id)
    # then it is still due again later
    row = _row(session, inbox_id)
    assert (row.attempts, row.parked_at) == (deliveries.MAX_ATTEMPTS + 2, None)
    assert row.next_attempt_at > clock.utcnow()


def test_the_redrive_takes_only_rows_whose_lease_is_over(session, runtime):
    # given a fresh row (its task is still queued), and a handled one
    fresh = _store(runtime, "app/uninstalled", UNINSTALL, webhook_id="fresh")
    handled = _store(runtime, "carts/update", {"id": 1}, webhook_id="handled")
    process_delivery(runtime, handled)
    # when the re-drive scans now, and again after the first lease
    with runtime.db.session() as s:
        now = deliveries.claim_due(s)
    with clock.travel(deliveries.FIRST_LEASE + timedelta(seconds=1)):
        with runtime.db.session() as s:
            later = deliveries.claim_due(s)
        with runtime.db.session() as s:
            again = deliveries.claim_due(s)
    # then only the unhandled row, once its lease is over, and it is leased again when taken
    assert (now, later, again) == ([], [fresh], [])


def test_retention_erases_payloads_then_rows_but_keeps_what_is_unhandled(session, runtime):
    # given rows handled 2 and 8 days ago, and one unhandled for 30 days
    with clock.travel(-timedelta(days=30)):
        stuck = _store(runtime, "app/uninstalled", UNINSTALL, webhook_id="stuck")
    ids = {}
    for name, days in (("week-old", 8), ("two-days", 2)):
        with clock.travel(-timedelta(days=days)):
            ids[name] = _store(runtime, "carts/update", {"id": 1}, webhook_id=name)
            process_delivery(runtime, ids[name])
    # when the inbox is pruned
    with runtime.db.session() as s:
        erased, deleted = deliveries.prune(s)
    # then the week-old row is gone, the 2-day-old one kept without its payload, the stuck one untouched
    assert (erased, deleted) == (2, 1)
    assert _row(session, ids["week-old"]) is None
    assert _row(session, ids["two-days"]).payload_ciphertext is None
    assert _row(session, stuck).payload_ciphertext is not None


def test_cli_lists_parked_rows_and_retries_one(app, session, runtime, app_config, monkeypatch):
    # given a parked uninstall for an installed shop
    shop = _shop(session)
    inbox_id = _store(runtime, "app/uninstalled", UNINSTALL)
    session.execute(InboxDelivery.__table__.update().values(
        parked_at=clock.utcnow(), attempts=deliveries.MAX_ATTEMPTS, last_error="OperationalError: timeout"))
    session.commit()
    monkeypatch.setenv("DATABASE_URL", app_config["database_url"])
    monkeypatch.setenv("BACKBELL_INSTANCE", str(app_config["instance_path"]))
    monkeypatch.setenv("BACKBELL_ENCRYPTION_KEYS", ",".join(app_config["encryption_keys"]))
    monkeypatch.delenv("REDIS_URL", raising=False)
    runner = CliRunner()
    # when the operator lists the inbox
    listing = runner.invoke(main, ["inbox"])
    # then the parked row is named with its reason
    assert listing.exit_code == 0
    assert f"#{inbox_id} app/uninstalled {DEMO_SHOP}" in listing.output
    assert "8 attempt(s), parked: OperationalError: timeout" in listing.output
    # when they retry it, and retry a row that is not parked
    retried = runner.invoke(main, ["inbox", "--retry", str(inbox_id)])
    missing = runner.invoke(main, ["inbox", "--retry", "999999"])
    # then it was handled now; the unknown one is a clear error
    assert (retried.exit_code, retried.stdout) == (0, "1 parked webhook(s) queued again.\n")
    assert missing.exit_code == 2 and "inbox row 999999 is not parked" in missing.stderr
    row = _row(session, inbox_id)
    assert row.processed_at is not None and row.parked_at is None
    session.expire_all()
    assert session.get(Shop, shop.id).uninstalled_at is not None


def test_a_drain_claims_new_rows_oldest_first_a_batch_at_a_time(session, runtime):
    # given 13 new rows, and three that are not new: handled, parked, already attempted
    new = [_store(runtime, "carts/update", {"id": n}, webhook_id=f"new-{n}") for n in range(13)]
    handled = _store(runtime, "carts/update", {"id": 1}, webhook_id="handled")
    process_delivery(runtime, handled)
    parked = _store(runtime, "carts/update", {"id": 1}, webhook_id="parked")
    attempted = _store(runtime, "carts/update", {"id": 1}, webhook_id="attempted")
    session.execute(InboxDelivery.__table__.update().where(InboxDelivery.id == parked).values(parked_at=clock.utcnow()))
    session.execute(InboxDelivery.__table__.update().where(InboxDelivery.id == attempted).values(attempts=1))
    session.commit()
    # when drains claim until nothing is left
    claims = []
    for _ in range(3):
        with runtime.db.session() as s:
            claims.append(deliveries.claim_new(s))
    # then a full batch of the oldest, then the rest, then nothing; each attempt counted and leased
    # as start_attempt leases a first attempt
    assert [[c.inbox_id for c in claim] for claim in claims] == [new[:10], new[10:], []]
    assert deliveries.DRAIN_BATCH == 10
    first = claims[0][0]
    assert (first.webhook_id, first.topic, first.attempts) == ("new-0", "carts/update", 1)
    assert json.loads(first.decrypted(runtime.vault).body) == {"id": 0}
    rows = [_row(session, inbox_id) for inbox_id in new]
    assert {row.attempts for row in rows} == {1}
    lease = rows[0].next_attempt_at - clock.utcnow()
    assert deliveries.FIRST_LEASE - timedelta(seconds=5) < lease <= deliveries.FIRST_LEASE
    # and the rows that were not new were not touched
    assert [_row(session, i).attempts for i in (handled, parked, attempted)] == [1, 0, 1]
