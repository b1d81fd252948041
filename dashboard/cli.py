"""Command-line tools: ``flask sync``, ``flask db upgrade``, ``flask rotate-keys``,
``flask sandbox history`` and ``flask sandbox serve``."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from .store import get_store, upgrade_schema


@click.command("sync")
@with_appcontext
@click.option("--account", "open_id", help="Sync only the account with this TikTok open_id.")
def sync_command(open_id: str | None) -> None:
    """Sync every connected account (or one) with TikTok."""
    from .sessions import purge_expired_sessions
    from .sync import run_sync

    purge_expired_sessions(current_app)
    store = get_store()
    accounts = store.all_accounts()
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
        with current_app.test_request_context():
            result = run_sync(account.id, progress=_progress(name))
        click.echo("", err=True)
        if result.ok:
            total_videos += result.videos_seen
            click.echo(f"{name}: ok, {result.videos_seen} videos seen, {result.api_calls} API calls.")
        else:
            failed += 1
            extra = f" (TikTok log id {result.log_id})" if result.log_id else ""
            click.echo(f"{name}: FAILED [{result.error_code}] {result.message}{extra}")
    click.echo(f"Synced {len(accounts) - failed} of {len(accounts)} accounts; "
               f"saw {total_videos} videos.")
    if failed:
        raise SystemExit(1)


def _progress(name: str):
    def report(done: int, total: int | None) -> None:
        of = f" of {total}" if total else ""
        click.echo(f"\r{name}: {done}{of} videos fetched", nl=False, err=True)

    return report


db_cli = AppGroup("db", help="Database schema.")


@db_cli.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration."""
    upgrade_schema(get_store().engine, current_app.instance_path)
    click.echo("Database schema is up to date.")


@click.command("rotate-keys")
@with_appcontext
def rotate_keys() -> None:
    """Re-encrypt stored tokens with the newest TOKEN_ENCRYPTION_KEYS key."""
    count = get_store().reencrypt_tokens()
    click.echo(f"Re-encrypted the tokens of {count} accounts with the newest key.")


def init_app(app) -> None:
    from .sandbox_cli import sandbox_cli

    app.cli.add_command(sync_command)
    app.cli.add_command(db_cli)
    app.cli.add_command(rotate_keys)
    app.cli.add_command(sandbox_cli)
