"""plugin.publisher: the web process's producer kept per process — the message it puts on Redis is
the one ``delay`` puts there, a real worker runs it, and a fork or a broker restart costs nothing
but a reconnect."""

from __future__ import annotations

import base64
import json
import os
import shutil
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
from kombu.exceptions import OperationalError
from sqlalchemy import select

from plugin import create_app
from plugin.models import InboxDelivery
from tests.doubles.worker import wait_for
from tests.faults.services import OwnRedis
from tests.webhooks.delivery import deliver

TASK = "backbell.process_webhook"
# What differs from one message to the next: the task id (and root id, the same) and kombu's tags.
PER_MESSAGE = {"headers": ("id", "root_id"), "properties": ("correlation_id", "delivery_tag")}


def _queued(redis_url: str) -> list[dict]:
    """The messages on the default queue, oldest first (kombu LPUSHes, the worker BRPOPs)."""
    return [json.loads(raw) for raw in reversed(redis.Redis.from_url(redis_url).lrange("celery", 0, -1))]


def _args(message: dict) -> list:
    """The task's positional arguments (the body is Celery's protocol 2: args, kwargs, embed)."""
    return json.loads(base64.b64decode(message["body"]))[0]


def _producers(publisher) -> list:
    """The producers the publisher keeps idle in this process."""
    return [kept.producer for kept in publisher._idle]


def _without_ids(message: dict) -> dict:
    message = json.loads(json.dumps(message))
    for part, keys in PER_MESSAGE.items():
        for key in keys:
            message[part].pop(key)
    return message


@pytest.fixture
def broker(celery_redis_url):
    """The xdist worker's Celery database, empty before and after (no worker consumes it here)."""
    client = redis.Redis.from_url(celery_redis_url)
    client.flushdb()
    yield celery_redis_url
    client.flushdb()


def test_the_message_is_the_one_delay_sends(app_config, broker):
    # given an app that queues on Redis
    app = create_app({**app_config, "redis_url": broker})
    publisher = app.extensions["task_publisher"]
    # when the same id is queued by delay, then twice by the publisher (the second on its bound queue)
    app.extensions["celery"].tasks[TASK].delay(41)
    publisher.send(TASK, 41)
    publisher.send(TASK, 41)
    # then the three messages differ in their ids only
    by_delay, first, second = _queued(broker)
    assert _without_ids(first) == _without_ids(by_delay)
    assert _without_ids(second) == _without_ids(by_delay)
    assert by_delay["headers"]["task"] == TASK and by_delay["headers"]["argsrepr"] == "(41,)"
    assert first["headers"]["id"] == first["headers"]["root_id"] != by_delay["headers"]["id"]
    assert len({m["properties"]["delivery_tag"] for m in (by_delay, first, second)}) == 3


def test_a_message_carries_only_the_id(app_config, broker):
    # given an app that queues on Redis
    app = create_app({**app_config, "redis_url": broker})
    # when the publisher queues a row id
    app.extensions["task_publisher"].send(TASK, 7)
    # then the body is the id and nothing else: ((7,), {}, Celery's embed)
    (message,) = _queued(broker)
    args, kwargs, _embed = json.loads(base64.b64decode(message["body"]))
    assert (args, kwargs) == ([7], {})


@pytest.mark.pg_only
@pytest.mark.worker
def test_a_real_worker_handles_what_the_publisher_queued(celery_worker, app, client, session):
    # given a real worker consuming the app's broker
    # when Shopify delivers a topic the app does not handle (stored, queued, marked handled)
    response = deliver(client, "carts/update", {"id": 1}, webhook_id="published")
    # then the worker ran the task from the publisher's message, once
    assert response.status_code == 200
    row = wait_for(lambda: _processed(session, "published"), worker=celery_worker)
    assert (row.attempts, row.last_error) == (1, None)


def _processed(session, webhook_id: str) -> InboxDelivery | None:
    session.expire_all()
    row = session.scalar(select(InboxDelivery).where(InboxDelivery.webhook_id == webhook_id))
    return row if row is not None and row.processed_at is not None else None


def test_a_forked_child_publishes_on_its_own_connection(app_config, broker):
    # given a publisher whose connection is open in this process (as gunicorn's master could hold one)
    app = create_app({**app_config, "redis_url": broker})
    publisher = app.extensions["task_publisher"]
    publisher.send(TASK, 1)
    (parent_producer,) = _producers(publisher)
    read, write = os.pipe()
    # when a forked child publishes
    pid = os.fork()
    if pid == 0:  # the child: publish, say whether it used a producer of its own, leave
        try:
            publisher.send(TASK, 2)
            os.write(write, b"own" if _producers(publisher) != [parent_producer] else b"shared")
        finally:
            os._exit(0)
    os.close(write)
    answer = os.read(read, 10)
    os.waitpid(pid, 0)
    # then the child opened its own connection, and the parent's still works after the child is gone
    publisher.send(TASK, 3)
    assert answer == b"own"
    assert _producers(publisher) == [parent_producer]
    assert [_args(m) for m in _queued(broker)] == [[1], [2], [3]]


@pytest.fixture
def own_redis(tmp_path):
    """A redis-server of the test's own, to stop and start (the test command installs it: missing,
    the test fails as the fault tests do, rather than skip)."""
    if shutil.which("redis-server") is None:
        pytest.fail("this test needs redis-server on PATH (scripts/ensure-services installs it)")
    own = OwnRedis(tmp_path / "redis")
    own.start()
    yield own
    own.stop()


def test_a_broker_restart_fails_the_publishes_while_it_is_down_only(app_config, own_redis):
    # given a publisher connected to a redis-server of the test's own
    app = create_app({**app_config, "redis_url": own_redis.url})
    publisher = app.extensions["task_publisher"]
    publisher.send(TASK, 1)
    # when the server stops, then it is back (empty: it keeps nothing on disk)
    own_redis.stop()
    with pytest.raises(OperationalError):
        publisher.send(TASK, 2)
    own_redis.start()
    publisher.send(TASK, 3)
    # then the publish after the restart is queued, on a new connection
    assert [_args(m) for m in _queued(own_redis.url)] == [[3]]


def test_tasks_run_in_process_without_a_broker(app_config):
    # given an app without REDIS_URL (tasks in-process)
    app = create_app({**app_config, "redis_url": None})
    # when the publisher sends a task for a row that does not exist
    app.extensions["task_publisher"].send(TASK, 999_999)
    # then it ran here and then (nothing to do for a missing row), and no producer was made
    assert _producers(app.extensions["task_publisher"]) == []


def test_threads_publishing_at_once_each_get_a_producer_and_keep_them(app_config, broker):
    # given an app that queues on Redis, served by threads (as the development server does)
    app = create_app({**app_config, "redis_url": broker})
    publisher = app.extensions["task_publisher"]
    # when 4 threads publish 200 ids between them, twice over
    for _ in range(2):
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda n: publisher.send(TASK, n), range(200)))
    # then every id was queued once per pass, and no more producers were made than threads
    assert sorted(_args(m)[0] for m in _queued(broker)) == sorted(list(range(200)) * 2)
    assert 1 <= len(_producers(publisher)) <= 4


FLAG, COALESCED = "test:pending", "backbell.redrive_inbox"  # a task that takes no arguments


def test_a_coalesced_send_queues_once_until_the_task_clears_its_flag(app_config, broker):
    # given an app that queues on Redis
    publisher = create_app({**app_config, "redis_url": broker}).extensions["task_publisher"]
    # when three sends come before the task started, then one after it cleared the flag
    sent = [publisher.send_unless_pending(FLAG, 10, COALESCED) for _ in range(3)]
    publisher.clear_pending(FLAG)
    sent.append(publisher.send_unless_pending(FLAG, 10, COALESCED))
    # then the first and the last queued the task, with no arguments; the flag lasts its ttl at most
    assert sent == [True, False, False, True]
    assert [(m["headers"]["task"], _args(m)) for m in _queued(broker)] == [(COALESCED, []), (COALESCED, [])]
    assert 0 < redis.Redis.from_url(broker).ttl(FLAG) <= 10


def test_a_coalesced_send_fails_at_once_while_the_broker_is_down_and_works_after(app_config, own_redis):
    # given a publisher on a redis-server of the test's own, its flag set
    publisher = create_app({**app_config, "redis_url": own_redis.url}).extensions["task_publisher"]
    assert publisher.send_unless_pending(FLAG, 10, COALESCED)
    # when the server stops, then it is back (empty: the flag went with it)
    own_redis.stop()
    started = time.monotonic()
    with pytest.raises(redis.ConnectionError):
        publisher.send_unless_pending(FLAG, 10, COALESCED)
    failed_after = time.monotonic() - started
    own_redis.start()
    # then the send while it was down failed in well under a second (no connection retries), and
    # the first send after the restart queued the task again
    assert failed_after < 0.5
    assert publisher.send_unless_pending(FLAG, 10, COALESCED)
    assert [_args(m) for m in _queued(own_redis.url)] == [[]]


def test_a_coalesced_send_runs_the_task_in_process_without_a_broker(app_config):
    # given an app without REDIS_URL (tasks in-process)
    publisher = create_app({**app_config, "redis_url": None}).extensions["task_publisher"]
    # when a coalesced task is sent twice, its flag cleared in between as the task would
    ran = [publisher.send_unless_pending(FLAG, 10, COALESCED), publisher.send_unless_pending(FLAG, 10, COALESCED)]
    publisher.clear_pending(FLAG)
    # then it ran each time, here (nothing to re-drive), with no broker and no producer
    assert ran == [True, True]
    assert _producers(publisher) == []


def test_a_coalesced_send_whose_publish_fails_takes_its_flag_back(app_config, own_redis):
    # given a broker on which this app may set and delete its flag but not push a task onto a
    # queue (an ACL that forgot LPUSH): the flag's SET succeeds, the publish after it fails
    admin = redis.Redis.from_url(own_redis.url)
    admin.acl_setuser("backbell-web", enabled=True, passwords=["+web-secret"], keys=["*"], channels=["*"],
                      commands=["+@all", "-lpush"])
    limited_url = own_redis.url.replace("redis://", "redis://backbell-web:web-secret@")
    publisher = create_app({**app_config, "redis_url": limited_url}).extensions["task_publisher"]

    # when a coalesced send is refused by the broker
    with pytest.raises(OperationalError, match="no permissions to run the 'lpush' command"):
        publisher.send_unless_pending(FLAG, 10, COALESCED)

    # then the flag is gone (not standing for its 10 s), so once the broker takes pushes again the
    # very next send queues the task
    assert admin.exists(FLAG) == 0
    admin.acl_setuser("backbell-web", enabled=True, commands=["+lpush"])
    assert publisher.send_unless_pending(FLAG, 10, COALESCED)
    assert [(m["headers"]["task"], _args(m)) for m in _queued(own_redis.url)] == [(COALESCED, [])]
