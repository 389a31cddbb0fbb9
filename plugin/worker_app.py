"""The Celery app for ``celery -A plugin.worker_app worker``: the Flask app built from the environment."""

from plugin import create_app

flask_app = create_app()
celery = flask_app.extensions["celery"]
