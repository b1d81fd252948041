"""Command-line tools: ``flask sync``, ``flask worker``, ``flask db upgrade``,
``flask rotate-keys``, ``flask report`` (and ``flask report digest``),
``flask sandbox history``, ``flask sandbox serve``, ``flask sandbox webhook`` and
``flask research run`` / ``resume``."""

from __future__ import annotations

import logging

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from dashboard.core.jobs import run_worker
from dashboard.storage import upgrade_schema
from dashboard.web.outcomes import failure_reason

from .report import report_cli
from .research import research_cli
from .sandbox import sandbox_cli


def _core():
    return current_app.extensions["core"]


@click.command("sync")
@with_appcontext
@click.option("--account", "open_id", help="Sync only the account with this TikTok open_id.")
def sync_command(open_id: str | None) -> None:
    """Sync every connected account (or one) with TikTok, here and now."""
    jobs = current_app.extensions["jobs"]
    jobs.purge_sessions()  # as the worker does each minute
    accounts = _core().store.accounts.all()
    if open_id:
        accounts = [a for a in accounts if a.open_id == open_id]
        if not accounts:
            raise click.ClickException(f"No connected account has open_id {open_id!r}.")
    if not accounts:
        click.echo("No connected accounts: log in with TikTok in the dashboard first.")
        return
    failed = 0
    total_videos = 0
    for account in accounts:
        name = account.display_name or account.open_id
        result = jobs.sync_account(account.id, progress=_progress(name))
        click.echo("", err=True)
        if result.ok:
            total_videos += result.videos_seen
            click.echo(f"{name}: ok, {result.videos_seen} videos seen, {result.api_calls} API calls.")
        else:
            failed += 1
            extra = f" (TikTok log id {result.log_id})" if result.log_id else ""
            click.echo(f"{name}: FAILED [{result.code}] {failure_reason(result.code)}{extra}")
    click.echo(f"Synced {len(accounts) - failed} of {len(accounts)} accounts; "
               f"saw {total_videos} videos.")
    if failed:
        raise SystemExit(1)


def _progress(name: str):
    def report(done: int, total: int | None) -> None:
        of = f" of {total}" if total else ""
        click.echo(f"\r{name}: {done}{of} videos fetched", nl=False, err=True)

    return report


@click.command("worker")
@with_appcontext
@click.option("--threads", type=click.IntRange(1, 64), default=None,
              help="Worker threads (default: WORKER_THREADS).")
def worker_command(threads: int | None) -> None:
    """Run the background worker: syncs, pictures, revokes and the schedule."""
    jobs = current_app.extensions["jobs"]
    if jobs.huey.immediate:
        raise click.ClickException("The queue is in immediate mode (QUEUE_IMMEDIATE): nothing to consume.")
    if not logging.getLogger().handlers:  # the worker's own lines, and Huey's, on stderr
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    count = threads or current_app.config["WORKER_THREADS"]
    where = current_app.config.get("REDIS_URL") and "Redis" or current_app.config["QUEUE_PATH"]
    click.echo(f"Worker: {count} threads on the queue in {where}.", err=True)
    jobs.tick()
    jobs.tick_after_leases()
    run_worker(jobs.huey, count)


db_cli = AppGroup("db", help="Database schema.")


@db_cli.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration."""
    upgrade_schema(_core().store.engine, current_app.instance_path)
    click.echo("Database schema is up to date.")


@click.command("rotate-keys")
@with_appcontext
def rotate_keys() -> None:
    """Re-encrypt stored tokens with the newest TOKEN_ENCRYPTION_KEYS key."""
    count = _core().store.tokens.reencrypt()
    click.echo(f"Re-encrypted the tokens of {count} accounts with the newest key.")


def init_app(app) -> None:
    app.cli.add_command(sync_command)
    app.cli.add_command(worker_command)
    app.cli.add_command(db_cli)
    app.cli.add_command(rotate_keys)
    app.cli.add_command(sandbox_cli)
    app.cli.add_command(report_cli)
    app.cli.add_command(research_cli)
