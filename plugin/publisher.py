"""Queue a task from a web request for the price of one Redis push, not a broker client's set-up.

``task.delay(id)`` is the right call almost everywhere, but on ``POST /webhooks`` it was ~30 % of
a request's CPU (bench/flame-ingress.svg, bench/README.md): kombu's Redis channel builds a new
``redis.Redis`` for every message (its constructor fills a table of ~170 response callbacks), and
on the way there Celery acquires a producer from its pool, routes the task afresh, binds a copy of
the queue to the channel so it can see that the queue was declared already.

``TaskPublisher`` keeps per process what does not change between messages — the
broker connection, a producer, the task's route with its queue bound to the producer's channel — on
a Redis channel that reuses one client (``ClientReusingRedisTransport``: the client holds no
socket of its own, its connection pool does, so one client is as safe as many) and publishes with
``task.apply_async``. The message is Celery's own and the same as ``delay``'s but for its ids
(``tests/plugin/test_publisher.py`` compares them, and a real worker consumes it): same task name,
protocol, headers, routing, publish retry policy and signals; only the per-message work is left.

Fork-safety: gunicorn and Celery fork after import. What is kept is keyed by ``os.getpid()`` and
created on first use in the process that publishes; a child never touches its parent's sockets (it
drops the inherited state without closing it: closing would shut the parent's connection down).
Tasks that run in-process (no ``REDIS_URL``) go through ``delay`` unchanged.

Coalescing (``send_unless_pending``): a task that works through whatever is waiting (the inbox
drain) needs queueing once per burst, not once per item. A flag on the broker's Redis says "one is
queued and has not started": ``SET flag 1 NX EX ttl`` is the one round trip of every sender, and
only the sender that set it publishes (and deletes it again if that publish fails); the task clears
it first thing (``clear_pending``). The flag travels on a plain redis-py client (its connection pool
checks the pid, so a forked child opens its own connections), not on kombu's channel: a command
there first makes sure of the connection, which takes seconds of retries when the broker is down,
and a sender must fail fast then.
"""

from __future__ import annotations

import os
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from functools import cached_property

import redis
from celery import Celery, Task
from kombu import Producer, Queue
from kombu.transport import redis as kombu_redis


class _ClientReusingChannel(kombu_redis.Channel):
    """kombu's Redis channel, with one client for its synchronous commands instead of one per call."""

    @cached_property
    def _reused_client(self):
        return self._create_client()

    @contextmanager
    def conn_or_acquire(self, client=None):
        yield client or self._reused_client


class ClientReusingRedisTransport(kombu_redis.Transport):
    Channel = _ClientReusingChannel


@dataclass
class _Publishing:
    """A producer and, once its channel is open, each task's queue bound to that channel."""

    pid: int
    producer: Producer
    queues: dict[str, Queue | None] = field(default_factory=dict)


class TaskPublisher:
    """Publishes a Celery app's tasks through producers kept per process.

    A publish takes an idle producer of this process (or makes one) and gives it back: a gunicorn sync
    worker reuses its one producer, a threaded server keeps as many as it has threads publishing at
    once (a kombu channel is not for two threads at a time). ``list.pop``/``append`` are atomic in
    CPython, so no lock."""

    def __init__(self, celery: Celery):
        self._celery = celery
        self._pid: int | None = None
        self._idle: list[_Publishing] = []

    @property
    def in_process(self) -> bool:
        """Tasks run here and now (no broker): ``send`` runs them before it returns."""
        return bool(self._celery.conf.task_always_eager)

    def send(self, task_name: str, *args: int | str) -> None:
        """Queue ``task_name(*args)``; the arguments are ids (nothing personal travels through the broker).
        Raises what ``delay`` raises when the broker stays unreachable after Celery's publish retries."""
        task: Task = self._celery.tasks[task_name]
        if self._celery.conf.task_always_eager:
            task.delay(*args)
            return
        publishing = self._take()
        try:
            queue = publishing.queues.get(task_name)
            task.apply_async(args, producer=publishing.producer, **({"queue": queue} if queue is not None else {}))
            if task_name not in publishing.queues:
                publishing.queues[task_name] = self._bound_queue(task, publishing.producer)
        finally:
            if publishing.pid == self._pid:
                self._idle.append(publishing)

    def send_unless_pending(self, flag: str, ttl_seconds: int, task_name: str) -> bool:
        """Queue ``task_name()`` unless ``flag`` stands on the broker's Redis, and set it (for
        ``ttl_seconds`` at most: a task that is lost holds back no later send for longer); True when
        queued. The task clears the flag when it starts (``clear_pending``), so whatever a sender
        that found the flag standing left for it is there when that task looks. In-process, the
        task simply runs. Raises the broker's errors, as ``send`` does."""
        if self.in_process:
            self.send(task_name)
            return True
        if not self._flag_client.set(flag, 1, nx=True, ex=ttl_seconds):
            return False
        try:
            self.send(task_name)
        except Exception:
            # Nothing was queued: take the flag back so the next sender queues the task, rather
            # than every sender finding it standing until its ttl ends (best effort: a broker that
            # refused the publish may refuse this too, and then the ttl bounds it).
            with suppress(redis.RedisError):
                self._flag_client.delete(flag)
            raise
        return True

    def clear_pending(self, flag: str) -> None:
        """The coalesced task has started: the next ``send_unless_pending`` queues it again."""
        if not self.in_process:
            self._flag_client.delete(flag)

    @cached_property
    def _flag_client(self) -> redis.Redis:
        return redis.Redis.from_url(self._celery.conf.broker_url)

    def _take(self) -> _Publishing:
        """An idle producer of this process, or a new one. A fork's child finds its parent's pid here:
        it drops what it inherited without closing it (closing would shut the parent's connection
        down) and makes its own on first use, after the fork."""
        pid = os.getpid()
        if self._pid != pid:
            self._pid, self._idle = pid, []
        try:
            return self._idle.pop()
        except IndexError:
            return _Publishing(pid, self._open_producer())

    def _open_producer(self) -> Producer:
        """A producer on the app's write connection (its broker URL, timeouts and transport options);
        nothing connects until the first publish."""
        celery = self._celery
        scheme = celery.conf.broker_url.split("://", 1)[0]
        transport = ClientReusingRedisTransport if scheme in ("redis", "rediss") else None
        return celery.amqp.Producer(celery.connection_for_write(transport=transport))

    def _bound_queue(self, task: Task, producer: Producer) -> Queue | None:
        """The task's queue as Celery's router picks it (by task name: this app has no argument-based
        routes), bound to the producer's channel — open now, after the first publish — so later
        publishes skip kombu's bind-a-copy step; kombu re-binds it itself after a reconnect."""
        queue = self._celery.amqp.router.route({}, task.name, (), {}, task).get("queue")
        return queue.bind(producer.channel) if isinstance(queue, Queue) else None
