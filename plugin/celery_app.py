"""Celery wired to the Flask app (the pattern of Flask's ``examples/celery``).

Without ``REDIS_URL`` tasks run in-process (``task_always_eager``). With Redis, tasks are acked
late and requeued if a worker dies, so every task must be short and idempotent.
"""

from __future__ import annotations

from datetime import timedelta

from celery import Celery, Task
from flask import Flask


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
        broker_transport_options={"visibility_timeout": 3600},
        task_serializer="json",
        accept_content=["json"],
        timezone="UTC",
        beat_schedule={
            "reconcile-inventory": {"task": "backbell.reconcile_all", "schedule": timedelta(minutes=15)},
            "recover-stalled-dispatch": {"task": "backbell.recover_dispatch", "schedule": timedelta(minutes=5)},
            "prune-history": {"task": "backbell.prune_history", "schedule": timedelta(hours=24)},
        },
    )
    celery.set_default()
    app.extensions["celery"] = celery
    return celery
