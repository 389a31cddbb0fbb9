"""Celery tasks: thin wrappers that take plain ids/dicts, reload from the database and call the
domain modules. Importing this package registers every task."""

from plugin.tasks import dispatch, inventory  # noqa: F401
