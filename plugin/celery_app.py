"""Celery wired to the Flask app (the pattern of Flask's ``examples/celery``).

Without ``REDIS_URL`` tasks run in-process (``task_always_eager``). With Redis, tasks are acked
late and requeued if a worker dies, so every task must be short and idempotent.

Two queues, consumed in strict order (kombu's ``queue_order_strategy="priority"``: the worker's
BRPOP lists ``celery`` before ``backbell.bulk``, and Redis pops the first non-empty list):
``celery`` holds everything that should happen soon — webhooks, planning, the FIRST batch of
every restock; ``backbell.bulk`` holds the follow-on batches of big fan-outs
(``plugin.dispatch.tasks``). So one shop's 100,000-shopper fan-out never queues ahead of another
shop's first notice: that waits at most for a batch already running. A separate queue rather than
Redis message priorities: kombu emulates those with one list per priority step, polled the same
way, so a queue says the same thing more plainly (and shows up in ``LLEN``).
"""

from __future__ import annotations

from celery import Celery, Task, current_app
from celery.signals import worker_process_init
from flask import Flask
from kombu import Exchange, Queue

from plugin.publisher import TaskPublisher
from plugin.schedule import beat_schedule
from plugin.warm_up import warm_up

DEFAULT_QUEUE = "celery"
BULK_QUEUE = "backbell.bulk"
# In the order a worker consumes them (first non-empty wins).
QUEUES = (DEFAULT_QUEUE, BULK_QUEUE)


def celery_init_app(app: Flask) -> Celery:
    class FlaskTask(Task):
        def __call__(self, *args, **kwargs):
            with app.app_context():
                return self.run(*args, **kwargs)

    settings = app.extensions["backbell"].settings
    celery = Celery(app.name, task_cls=FlaskTask)
    celery.conf.update(
        broker_url=settings.redis_url or "memory://localhost/",
        task_always_eager=settings.tasks_in_process,
        task_eager_propagates=settings.environment == "test",
        task_ignore_result=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        broker_connection_retry_on_startup=True,
        broker_transport_options={"visibility_timeout": 3600, "queue_order_strategy": "priority"},
        task_default_queue=DEFAULT_QUEUE,
        task_queues=tuple(Queue(name, Exchange(name), routing_key=name) for name in QUEUES),
        task_serializer="json",
        accept_content=["json"],
        timezone="UTC",
        beat_schedule=beat_schedule(),
    )
    celery.set_default()
    celery.backbell_runtime = app.extensions["backbell"]  # for the pool processes' warm-up (below)
    app.extensions["celery"] = celery
    # The web process's way to queue: Celery's messages, minus the set-up kombu repeats per message.
    app.extensions["task_publisher"] = TaskPublisher(celery)
    return celery


@worker_process_init.connect
def _warm_up_pool_process(**_) -> None:
    """Each pool process, as it starts: its one-time costs before its first task (``plugin.warm_up``)."""
    runtime = getattr(current_app, "backbell_runtime", None)
    if runtime is not None:
        warm_up(runtime)
