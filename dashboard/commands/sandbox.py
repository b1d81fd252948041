"""``flask sandbox ...``: demo data and a standalone sandbox server.

``flask sandbox webhook`` sends TikTok's ``authorization.removed`` (or another
event) about a sandbox account, signed as TikTok signs it, to this app.

``flask sandbox history --days 90`` connects the sandbox's demo creator (if
no one has yet) and runs one real sync a day over the past 90 days, with the
sandbox's clock set to each day, so every chart has real history to show.
Each sync goes over HTTP to the sandbox exactly as a live one goes to TikTok.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import click
import requests
from flask import current_app
from flask.cli import AppGroup
from werkzeug.serving import run_simple

import oauth_handler
from dashboard import sandbox_runtime
from dashboard.core import accounts
from dashboard.core.context import Core
from dashboard.core.sync import run_sync
from dashboard.storage.models import utcnow
from dashboard.web.outcomes import failure_reason
from sandbox import SANDBOX_CLIENT_KEY, create_sandbox_app, data
from sandbox import webhooks as sandbox_webhooks

from .studio_export import export_files

sandbox_cli = AppGroup("sandbox", help="The built-in TikTok sandbox.")

#: Hour of day (UTC) of each simulated daily sync; fixed, so a re-run lands
#: on the same minutes and stores nothing twice.
DAILY_SYNC_HOUR = 12


def _require_sandbox() -> None:
    if not current_app.config["SANDBOX_MODE"]:
        raise click.ClickException(
            "This command works in sandbox mode only (TIKTOK_CLIENT_KEY unset).")


#: The redirect URI the demo's own logins name (a code is bound to one).
DEMO_REDIRECT_URI = "http://localhost:5000/callback"


def connect_sandbox_account(app, account_key: str) -> int:
    """The dashboard account of a sandbox account, connected through a real
    code exchange (the same one ``/callback`` makes) if it is not connected yet."""
    core, jobs = app.extensions["core"], app.extensions["jobs"]
    open_id = data.open_id(account_key, SANDBOX_CLIENT_KEY)
    account = core.store.accounts.by_open_id(open_id)
    if account is not None and core.store.tokens.load(account.id) is not None:
        return account.id
    verifier, challenge = oauth_handler.make_pkce()
    redirect = app.config.get("TIKTOK_REDIRECT_URI") or DEMO_REDIRECT_URI
    scopes = tuple(app.config["TIKTOK_SCOPES"].split(","))
    code = sandbox_runtime.sandbox_state(app).issue_code(
        client_key=SANDBOX_CLIENT_KEY, redirect_uri=redirect, code_challenge=challenge,
        scopes=scopes, account=account_key)
    token = core.tokens.exchange(code, redirect, verifier)
    _person, account_id = accounts.connect(core, jobs, account.person_id if account else None,
                                           token, first_sync=False)
    return account_id


def unpaced(core: Core) -> Core:
    """The same core without the TikTok budget (for the sandbox only)."""
    return dataclasses.replace(core, provider=dataclasses.replace(core.provider, throttle=None))


def history_times(days: int, now: datetime) -> list[datetime]:
    """One sync time a day at DAILY_SYNC_HOUR for ``days`` days, then now."""
    today = datetime.combine(now.date(), time(DAILY_SYNC_HOUR), UTC)
    times = [today - timedelta(days=d) for d in range(days, -1, -1)]
    return [t for t in times if t < now] + [now]


@sandbox_cli.command("history")
@click.option("--days", default=90, show_default=True, type=click.IntRange(1, 3650))
@click.option("--account", "account_key", default="creator", show_default=True,
              help="Sandbox account: creator, second or bulk.")
def history(days: int, account_key: str) -> None:
    """Fill the database with DAYS days of daily syncs of a sandbox account."""
    _require_sandbox()
    app = current_app._get_current_object()
    # The simulated days pass in seconds: neither TikTok's per-minute limit,
    # which the sandbox enforces in wall time, nor the deployment's budget for
    # it applies to the sandbox's own backfill.
    core = unpaced(app.extensions["core"])
    state = sandbox_runtime.sandbox_state(app)
    limit = state.rate_limit_per_minute
    state.rate_limit_per_minute = None
    account_id = connect_sandbox_account(app, account_key)
    times = history_times(days, utcnow())
    try:
        for index, moment in enumerate(times, start=1):
            state.clock.set(moment.timestamp())
            result = run_sync(core, account_id, now=moment)
            if not result.ok:
                raise click.ClickException(f"Sync for {moment:%Y-%m-%d} failed: "
                                           f"[{result.code}] {failure_reason(result.code)}")
            click.echo(f"\r{index}/{len(times)} days synced ({result.videos_seen} videos)",
                       nl=False, err=True)
    finally:
        state.clock.reset()
        state.rate_limit_per_minute = limit
    if core.settings.store_pictures:
        app.extensions["jobs"].pictures(account_id)
    click.echo("", err=True)
    click.echo(f"History of {len(times)} syncs over {days} days stored; "
               f"saw {result.videos_seen} videos.")


@sandbox_cli.command("studio-export")
@click.option("--account", "account_key", default="creator", show_default=True,
              help="Sandbox account: creator, second or bulk.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Folder to write the files into (made if missing).")
@click.option("--lang", default="en", show_default=True, type=click.Choice(["en", "zh"]),
              help="The Studio interface's language: headers and dates.")
@click.option("--format", "fmt", default="csv", show_default=True, type=click.Choice(["csv", "xlsx"]))
@click.option("--days", default=365, show_default=True, type=click.IntRange(1, 365),
              help="Days up to yesterday: Studio's longest download, so it reaches back "
                   "before `flask sandbox history --days 90`.")
def studio_export(account_key: str, out_dir: str, lang: str, fmt: str, days: int) -> None:
    """Write TikTok Studio-style exports of a sandbox account (to try /import)."""
    _require_sandbox()
    if account_key not in data.ACCOUNTS:
        raise click.BadParameter(f"unknown sandbox account {account_key!r}", param_hint="--account")
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    files = export_files(account_key, today=utcnow().date(), days=days, lang=lang, fmt=fmt)
    for name, content in files.items():
        (folder / name).write_bytes(content)
    click.echo(f"{len(files)} files of @{data.get_account(account_key).username} "
               f"({days} days up to yesterday) written to {folder}.")


@sandbox_cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5001, show_default=True, type=int)
@click.option("--control/--no-control", default=False,
              help="Expose POST /_control to drive faults and the clock from tests.")
def serve(host: str, port: int, control: bool) -> None:
    """Serve the sandbox on its own port (point TIKTOK_AUTH_URL/TIKTOK_API_BASE at it)."""
    state = sandbox_runtime.sandbox_state(current_app) if current_app.config["SANDBOX_MODE"] else None
    click.echo(f"Sandbox on http://{host}:{port} (client key: sandbox-client-key)")
    run_simple(host, port, create_sandbox_app(state, control=control), threaded=True)


@sandbox_cli.command("webhook")
@click.option("--account", "account_key", default="creator", show_default=True,
              help="Sandbox account the event is about: creator, second or bulk.")
@click.option("--event", default="authorization.removed", show_default=True,
              help="TikTok's event name.")
@click.option("--reason", default=1, show_default=True, type=click.IntRange(0, 5),
              help="authorization.removed: 0 unknown, 1 disconnected in the app, 2 account deleted, "
                   "3 age changed, 4 banned, 5 developer revoked.")
@click.option("--url", default=None,
              help="POST to a running dashboard (e.g. http://127.0.0.1:5000/webhooks/tiktok); "
                   "without it the event goes to this app in-process.")
def webhook(account_key: str, event: str, reason: int, url: str | None) -> None:
    """Send TikTok's webhook EVENT about a sandbox account, signed as TikTok signs it."""
    _require_sandbox()
    app = current_app._get_current_object()
    open_id = data.open_id(account_key, SANDBOX_CLIENT_KEY)
    content = {"reason": reason} if event == "authorization.removed" else {}
    body, headers = sandbox_webhooks.signed_event(
        event, open_id, content, client_secret=app.config["TIKTOK_CLIENT_SECRET"])
    if url:
        answer = requests.post(url, data=body, headers=headers, timeout=10)
        status, text = answer.status_code, answer.text
    else:
        answer = app.test_client().post("/webhooks/tiktok", data=body, headers=headers)
        status, text = answer.status_code, answer.get_data(as_text=True)
    click.echo(f"{event} for {account_key} ({open_id}): HTTP {status} {text.strip()}")
    if status != 200:
        raise click.ClickException("The dashboard refused the event.")
