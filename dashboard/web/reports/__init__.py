"""PDF reports: the Download PDF form, its waiting page, and the download.

``POST /reports/make`` checks the range and queues the report; the worker makes
it (``Jobs.render_report``) while ``/reports/status/<token>`` says how far it is
and refreshes itself (no JavaScript needed); ``/reports/file/<token>.pdf`` gives the
file to the person who may see the account, and a 404 to anyone else. A
comparison of several accounts (queued from ``/compare``) shares the waiting
page and the download, for the person who asked for it only.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, abort, redirect, render_template, request, session, url_for
from flask_babel import format_date, get_locale, ngettext
from flask_babel import gettext as _

from dashboard.core import reports as core_reports

from ..context import current_account_id, get_core, get_jobs, get_store
from ..i18n import viewer_zone_name
from .render import ReportRenderer

bp = Blueprint("reports", __name__, url_prefix="/reports")

#: The waiting page reloads itself this often while the worker makes the PDF.
REFRESH_SECONDS = 2


def preset_labels() -> dict[str, str]:
    return {"last_7": _("Last 7 days"), "last_28": _("Last 28 days"),
            "last_90": _("Last 90 days"), "last_month": _("Last month"), "custom": _("These dates")}


def range_message(error: core_reports.RangeError) -> str:
    """A refused range in words."""
    if error.code == "before_history":
        return _("The stored history of this account starts on %(date)s: choose a start on or after it.",
                 date=format_date(error.earliest, format="long"))
    return {
        "bad_date": _("Dates must be written as YYYY-MM-DD, for example 2026-05-31."),
        "reversed": _("The start date is after the end date."),
        "future": _("The end date is in the future: a report covers days that have passed."),
        "too_long": ngettext("A report covers at most %(num)d day.", "A report covers at most %(num)d days.",
                             core_reports.MAX_DAYS),
    }.get(error.code, _("This date range cannot be reported."))


def requested_range(form, account_id: int, tz_name: str):
    """The range the form asks for, checked against today and the stored history."""
    tz = ZoneInfo(tz_name)
    today = datetime.now(tz).date()
    earliest = core_reports.first_history_day(get_core(), account_id, tz)
    preset = form.get("preset", "custom")
    if preset in core_reports.PRESETS:
        start, end = core_reports.preset_range(preset, today)
        start = core_reports.clamp_to_history(start, end, earliest)
    elif preset == "custom":
        start = core_reports.parse_day(form.get("from"))
        end = core_reports.parse_day(form.get("to"))
    else:
        abort(400)
    core_reports.check_range(start, end, today, earliest)
    return start, end


@bp.get("/")
def form():
    current_account_id()
    return render_template("reports/form.html", presets=preset_labels(), error=None, values={})


@bp.post("/make")
def create():
    account_id = current_account_id()
    tz_name = viewer_zone_name()
    try:
        start, end = requested_range(request.form, account_id, tz_name)
    except core_reports.RangeError as error:
        values = {k: request.form.get(k, "")[:10] for k in ("from", "to")}
        return render_template("reports/form.html", presets=preset_labels(), error=range_message(error),
                               values=values), 400
    row = get_store().reports.create(account_id, session.get("person_id"), start, end,
                                     str(get_locale() or "en"), tz_name)
    get_jobs().request_report(row.id)
    return redirect(url_for(".status", token=row.token), code=303)


def _own_report(token: str):
    if len(token) > 64 or not session.get("person_id"):
        abort(404)
    row = get_store().reports.for_person(session["person_id"], token)
    if row is None:
        abort(404)
    if row.status == "ok" and not get_store().reports.sees_compared(session["person_id"], row):
        row.status, row.error_code, row.pdf = "failed", "not_visible", None  # shown, never saved
    return row


def failure_message(code: str | None) -> str:
    """Why a report could not be made, in words."""
    if code == "not_visible":
        return _("One of the compared accounts is no longer shared with you, "
                 "so this comparison was not made.")
    return _("The report could not be made. Please try again; if it fails again, the server's log says why.")


@bp.get("/status/<token>")
def status(token: str):
    row = _own_report(token)
    waiting = row.status in ("queued", "running")
    response = Response(render_template("reports/status.html", report=row, waiting=waiting,
                                        refresh=REFRESH_SECONDS, compared=row.compared is not None,
                                        failure=failure_message(row.error_code)))
    if waiting:
        response.headers["Refresh"] = str(REFRESH_SECONDS)
    return response


@bp.get("/file/<token>.pdf")
def download(token: str):
    row = _own_report(token)
    if row.status != "ok" or not row.pdf:
        return redirect(url_for(".status", token=token))
    kind = "compare" if row.compared else "tiktok-report"
    name = f"{kind}-{row.date_from.isoformat()}-{row.date_to.isoformat()}.pdf"
    response = Response(row.pdf, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


def init_app(app) -> None:
    app.register_blueprint(bp)
    app.extensions["jobs"].renderer = ReportRenderer(app)
