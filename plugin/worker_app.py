"""The Celery app for ``celery -A plugin.worker_app worker``: the Flask app built from the environment."""

from plugin import create_app

# Tasks run long after their connection was pooled: test it before use (the web app does not).
flask_app = create_app(pool_pre_ping=True)
celery = flask_app.extensions["celery"]
