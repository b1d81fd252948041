"""``flask report``: a PDF report on the terminal, and ``flask report digest``."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import click
from flask import current_app
from flask.cli import with_appcontext

from dashboard.core import reports as core_reports
from dashboard.core.digest import last_complete_period, send_digest
from dashboard.web.i18n import LANGUAGES
from dashboard.web.settings.timezones import valid_timezone

RANGE_WORDS = {
    "bad_date": "dates must be written as YYYY-MM-DD",
    "reversed": "--from is after --to",
    "future": "--to is in the future",
    "too_long": f"a report covers at most {core_reports.MAX_DAYS} days",
}


def _account(open_id: str):
    account = current_app.extensions["core"].store.accounts.by_open_id(open_id)
    if account is None:
        raise click.ClickException(f"No connected account has open_id {open_id!r}.")
    return account


@click.group("report", invoke_without_command=True)
@click.option("--account", "open_id", help="The account's TikTok open_id.")
@click.option("--from", "start", help="First day, YYYY-MM-DD.")
@click.option("--to", "end", help="Last day, YYYY-MM-DD.")
@click.option("--out", type=click.Path(dir_okay=False, writable=True, path_type=Path),
              help="Where to write the PDF.")
@click.option("--lang", type=click.Choice(sorted(LANGUAGES)), default="en", show_default=True)
@click.option("--tz", "tz_name", default=None, help="Time zone of the days (default: DEFAULT_TIMEZONE).")
@click.pass_context
@with_appcontext
def report_cli(ctx, open_id, start, end, out, lang, tz_name) -> None:
    """Write a PDF report of one account: flask report --account OPEN_ID --from
    YYYY-MM-DD --to YYYY-MM-DD --out FILE.pdf"""
    if ctx.invoked_subcommand is not None:
        return
    if not (open_id and start and end and out):
        raise click.UsageError("--account, --from, --to and --out are all needed.")
    tz_name = tz_name or current_app.config.get("DEFAULT_TIMEZONE") or "UTC"
    if not valid_timezone(tz_name):
        raise click.BadParameter(f"unknown time zone {tz_name!r}", param_hint="--tz")
    core, jobs = current_app.extensions["core"], current_app.extensions["jobs"]
    account = _account(open_id)
    tz = ZoneInfo(tz_name)
    try:
        first, last = core_reports.parse_day(start), core_reports.parse_day(end)
        earliest = core_reports.first_history_day(core, account.id, tz)
        core_reports.check_range(first, last, datetime.now(tz).date(), earliest)
    except core_reports.RangeError as error:
        words = RANGE_WORDS.get(error.code) or (
            f"the stored history starts on {error.earliest.isoformat()}: choose --from on or after it")
        raise click.ClickException(f"Cannot report this range: {words}.") from error
    data = core_reports.build_report(
        core, account.id, first, last, tz_name,
        formula=core_reports.engagement_formula_of(core, account.person_id))
    pdf = jobs.renderer.report_pdf(data, lang)
    out.write_bytes(pdf)
    note = "" if data.has_data else " (no stored data in this range: the PDF says so)"
    click.echo(f"Wrote {out} ({len(pdf):,} bytes, {data.days} days){note}.")


@report_cli.command("digest")
@click.option("--account", "open_id", help="Only the addresses of the account with this open_id.")
@with_appcontext
def digest_command(open_id: str | None) -> None:
    """Send now the digest of the last complete period to every confirmed
    address (a period already sent is not sent again)."""
    core, jobs = current_app.extensions["core"], current_app.extensions["jobs"]
    if not jobs.mailer.enabled:
        raise click.ClickException("E-mail is off: set SMTP_URL and MAIL_FROM.")
    account_id = _account(open_id).id if open_id else None
    addresses = [a for a in core.store.mail.confirmed(account_id)]
    sent = skipped = failed = 0
    now = datetime.now(UTC)
    for address in addresses:
        frequency = address.frequency if address.frequency != "off" else "weekly"
        today = now.astimezone(ZoneInfo(address.tz)).date()
        outcome = send_digest(core, jobs.mailer, jobs.renderer, address.id,
                              last_complete_period(frequency, today), now=now)
        if outcome.status == "sent":
            sent += 1
        elif outcome.status == "failed":
            failed += 1
            click.echo(f"{address.email}: FAILED, {outcome.error} (retried by the worker)", err=True)
        else:
            skipped += 1
    click.echo(f"Digests: {sent} sent, {skipped} already sent, {failed} failed "
               f"({len(addresses)} confirmed addresses).")
    if failed:
        raise SystemExit(1)
