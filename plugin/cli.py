"""The ``backbell`` command: serve, worker, beat, db upgrade, demo, reconcile, inbox."""

from __future__ import annotations

import os
import sys

import click

from plugin.config import ConfigError, load_settings


def _app(pool_pre_ping: bool = False, **overrides):
    from plugin import create_app

    try:
        return create_app(overrides or None, pool_pre_ping=pool_pre_ping)
    except ConfigError as err:
        # One line naming the variable, and a non-zero exit.
        click.echo(f"backbell: configuration error: {err}", err=True)
        sys.exit(2)


@click.group()
def main() -> None:
    """Backbell: back-in-stock alerts for Shopify."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=None, type=int, help="gunicorn workers (production); omit for the dev server")
def serve(host: str, port: int, workers: int | None) -> None:
    """Run the web app (migrating first on the embedded default)."""
    app = _app()
    runtime = app.extensions["backbell"]
    settings = runtime.settings
    if not settings.production:
        from plugin.migrate import upgrade

        upgrade(settings.database_url)
        if settings.dev_credentials:
            click.echo(
                f"Development app credentials: SHOPIFY_API_KEY={settings.shopify_api_key} "
                f"SHOPIFY_API_SECRET={settings.shopify_api_secret}"
            )
        click.echo(f"Database: {settings.database_url}")
        click.echo(f"Tasks: {'in-process' if settings.tasks_in_process else 'Celery on ' + settings.redis_url}")
        click.echo(f"Outbox: {settings.outbox_path / 'outbox.jsonl'}")
    if workers:
        _gunicorn(host, port, workers)
    else:
        click.echo(f"Backbell is listening on http://{host}:{port}/ (health: http://{host}:{port}/healthz)")
        if settings.tasks_in_process:
            from plugin.schedule import InProcessScheduler

            # No beat without Redis: the periodic jobs run from a thread of this process.
            InProcessScheduler(app.extensions["celery"]).start()
        from plugin.security_headers import QuietRequestHandler

        app.run(host=host, port=port, debug=False, use_reloader=False, threaded=True,
                request_handler=QuietRequestHandler)


def _gunicorn(host: str, port: int, workers: int) -> None:
    from gunicorn.app.wsgiapp import run

    sys.argv = ["gunicorn", "--bind", f"{host}:{port}", "--workers", str(workers), "plugin:create_app()"]
    run()


@main.command()
@click.option("--concurrency", default=None, type=click.IntRange(min=1),
              help="Worker processes (default: the CPU count, and at least one more than "
                   "BACKBELL_DISPATCH_CHAINS).")
def worker(concurrency: int | None) -> None:
    """Run a Celery worker (needs REDIS_URL): first batches and webhooks ahead of bulk batches."""
    from plugin.celery_app import QUEUES

    celery, settings = _celery_or_exit()
    argv = ["worker", "--loglevel=INFO", f"--queues={','.join(QUEUES)}",
            f"--concurrency={concurrency or default_concurrency(settings.dispatch_chains)}"]
    celery.worker_main(argv)


def default_concurrency(dispatch_chains: int, cpus: int | None = None) -> int:
    """One process more than a restock's send chains (at least): while one shop's big fan-out keeps
    ``dispatch_chains`` processes busy with bulk batches, another shop's webhook and first batch
    find a free process instead of waiting for a batch to end."""
    return max(cpus or os.cpu_count() or 1, dispatch_chains + 1)


@main.command()
def beat() -> None:
    """Run the Celery scheduler (reconciliation, recovery, pruning; needs REDIS_URL)."""
    celery, _ = _celery_or_exit()
    celery.start(["beat", "--loglevel=INFO"])


def _celery_or_exit():
    try:
        settings = load_settings()
    except ConfigError as err:
        click.echo(f"backbell: configuration error: {err}", err=True)
        sys.exit(2)
    if not settings.redis_url:
        click.echo("backbell: configuration error: REDIS_URL: is required for the worker and beat", err=True)
        sys.exit(2)
    # Worker and beat: test pooled connections before use (see plugin.db.make_engine).
    return _app(pool_pre_ping=True).extensions["celery"], settings


@main.group()
def db() -> None:
    """Database commands."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Run Alembic migrations to head."""
    from plugin.migrate import upgrade

    try:
        settings = load_settings()
    except ConfigError as err:
        click.echo(f"backbell: configuration error: {err}", err=True)
        sys.exit(2)
    upgrade(settings.database_url)
    click.echo("Database is at the newest schema.")


@main.command()
@click.option("--shop", "shop_domain", default=None, help="only this *.myshopify.com shop")
def reconcile(shop_domain: str | None) -> None:
    """Re-read, through the Admin API, every variant with waiting shoppers, now."""
    from plugin.inventory.reconcile import UnknownShop, reconcile_shops

    app = _app()
    with app.app_context():
        try:
            report = reconcile_shops(app.extensions["backbell"], shop_domain)
        except UnknownShop as err:
            click.echo(f"backbell: {err}", err=True)
            sys.exit(2)
    for line in report.lines():
        click.echo(line)


@main.command()
@click.option("--retry", "retry_id", default=None, type=int, help="un-park this inbox row and handle it now")
@click.option("--retry-all", is_flag=True, help="un-park every parked row and handle them now")
def inbox(retry_id: int | None, retry_all: bool) -> None:
    """List webhooks that are parked or still failing; un-park them to handle them again."""
    from plugin.inbox import deliveries
    from plugin.inbox.tasks import redrive_inbox

    app = _app()
    runtime = app.extensions["backbell"]
    if retry_id is not None or retry_all:
        with runtime.db.session() as session:
            count = deliveries.retry_parked(session, retry_id)
        if retry_id is not None and not count:
            click.echo(f"backbell: inbox row {retry_id} is not parked", err=True)
            sys.exit(2)
        with app.app_context():
            redrive_inbox.apply(throw=True)
        click.echo(f"{count} parked webhook(s) queued again.")
        return
    with runtime.db.session() as session:
        rows = deliveries.unhandled(session)
    if not rows:
        click.echo("No parked or failing webhooks.")
    for row in rows:
        state = "parked" if row.parked_at else f"retrying at {row.next_attempt_at:%Y-%m-%d %H:%M}Z"
        click.echo(f"#{row.id} {row.topic} {row.shop_domain} received {row.received_at:%Y-%m-%d %H:%M}Z, "
                   f"{row.attempts} attempt(s), {state}: {row.last_error or '-'}")


@main.command()
def demo() -> None:
    """Walk through the whole loop on the embedded default, narrated."""
    from plugin.demo import DemoIncomplete, run_demo

    try:
        run_demo(click.echo)
    except ConfigError as err:
        click.echo(f"backbell: configuration error: {err}", err=True)
        sys.exit(2)
    except DemoIncomplete as err:
        click.echo(f"backbell demo: the loop did not complete: {err}", err=True)
        sys.exit(1)
