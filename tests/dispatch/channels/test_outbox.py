"""The outbox channel: whole lines only, even with several processes appending or a write cut short."""

from __future__ import annotations

import json
import multiprocessing
import subprocess
import sys
import textwrap

from plugin.dispatch.channels.base import OutgoingMessage
from plugin.dispatch.channels.outbox import OutboxChannel


def _message(notification_id: int, text: str = "Back: -bb_url-") -> OutgoingMessage:
    return OutgoingMessage(
        notification_id=notification_id, channel="email", to=f"s{notification_id}@example.com",
        shop="bell-test.myshopify.com", kind="restock", variant_id=44001, locale="en", subject="Linen Shirt is back",
        text=text, url=f"https://app.test/r/t{notification_id}", unsubscribe_url=f"https://app.test/u/s{notification_id}",
        substitutions={"-bb_url-": f"https://app.test/r/t{notification_id}"},
    )


def _append_batches(folder: str, first_id: int, batches: int, per_batch: int) -> None:
    channel = OutboxChannel(folder)
    for batch in range(batches):
        start = first_id + batch * per_batch
        channel.send([_message(n, text="x" * 5000 + " -bb_url-") for n in range(start, start + per_batch)])


def test_concurrent_appends_keep_every_line_whole(tmp_path):
    # given: six processes, each appending 20 batches of 10 large messages
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_append_batches, args=(str(tmp_path), p * 1000, 20, 10)) for p in range(6)]

    # when
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)

    # then
    lines = (tmp_path / "outbox.jsonl").read_text().splitlines()
    assert [w.exitcode for w in workers] == [0] * 6
    assert sorted(json.loads(line)["notification_id"] for line in lines) == sorted(
        p * 1000 + n for p in range(6) for n in range(200))


def test_a_write_cut_short_leaves_no_partial_line_and_is_retried(tmp_path):
    # given: one line already in the outbox, and a process whose files may not grow past 3,000 bytes
    OutboxChannel(tmp_path).send([_message(1)])
    before = (tmp_path / "outbox.jsonl").read_bytes()
    script = textwrap.dedent(f"""
        import json, resource, signal
        from tests.dispatch.channels.test_outbox import _message
        from plugin.dispatch.channels.outbox import OutboxChannel
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (3000, 3000))
        results = OutboxChannel({str(tmp_path)!r}).send([_message(n, text="x" * 700) for n in range(2, 7)])
        print(json.dumps([[r.notification_id, r.ok, r.transient, r.error] for r in results]))
    """)

    # when
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)

    # then: nothing of the batch was kept, so the retry cannot duplicate a line or glue onto half of one
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == [[n, False, True, "short write"] for n in range(2, 7)]
    assert (tmp_path / "outbox.jsonl").read_bytes() == before
