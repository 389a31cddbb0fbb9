"""Celery tasks (thin wrappers taking ids)."""
