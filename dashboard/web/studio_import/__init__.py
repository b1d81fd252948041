"""``/import``: TikTok Studio files in, after a preview.

Upload (``POST /import/preview``, a multipart form, one or more CSV, XLSX or ZIP files) → a preview of
what would be stored (the account, the days, the rows of each kind, what is
new and what is already known) → confirm (a POST carrying the preview's
token; the parsed figures wait server-side, never in the cookie). A file
that cannot be imported is named on the page with its line and column,
with status 400 (413 when the upload is too large), and nothing is stored.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from werkzeug.exceptions import RequestEntityTooLarge

from dashboard.core import studio
from dashboard.core.studio_files import Limits, StudioFileError

from ..context import current_account_id, get_core, get_jobs, get_store
from ..i18n import select_timezone
from ..outcomes import N_

bp = Blueprint("studio_import", __name__, url_prefix="/import")

KIND_NAMES = {
    "overview": N_("Overview by day"),
    "follower_history": N_("Followers by day"),
    "follower_activity": N_("Follower activity by hour"),
    "viewers": N_("Viewers by day"),
    "content": N_("Content by post"),
    "follower_gender": N_("Follower gender"),
    "follower_territories": N_("Follower territories"),
}

PROBLEMS = {
    "not_studio": N_("This is not a TikTok Studio export."),
    "unknown_layout": N_("The columns are not those of any TikTok Studio export this dashboard knows."),
    "truncated": N_("The file is cut off (a row is shorter than the header, "
                    "or a quoted field is not closed)."),
    "bad_number": N_("This is not a count."),
    "negative": N_("A count cannot be negative."),
    "bad_date": N_("This is not a date."),
    "future_date": N_("This date is in the future."),
    "out_of_order": N_("The days are not in order, oldest first."),
    "bad_hour": N_("This is not an hour of the day (0–23)."),
    "bad_link": N_("This is not a TikTok video link."),
    "other_account": N_("This video belongs to another account."),
    "other_account_video": N_("This video belongs to another account connected here."),
    "formula": N_("Formulas are not imported: the cell must hold a plain value."),
    "file_too_large": N_("The file is too large."),
    "upload_too_large": N_("The upload is too large."),
    "too_many_files": N_("The upload holds too many files."),
    "too_many_rows": N_("The file has too many rows."),
    "bad_zip": N_("The ZIP archive cannot be read."),
    "empty_upload": N_("Choose at least one file."),
}


def _importable_account() -> int:
    """The account the person may import into: the one place to check it.

    The selected account, for its owner or a manager (an import adds to the
    account's history, as a sync does); a viewer gets 403.
    """
    return current_account_id("manager")


def _tz():
    return ZoneInfo(select_timezone())


def _limits() -> Limits:
    return Limits(file_bytes=current_app.config["STUDIO_MAX_FILE_MB"] * 1024 * 1024,
                  upload_bytes=current_app.config["STUDIO_MAX_UPLOAD_MB"] * 1024 * 1024)


def describe(error: StudioFileError) -> str:
    """The problem in the reader's language, naming the file, line and column."""
    what = _(PROBLEMS.get(error.code, PROBLEMS["not_studio"]))
    if error.line and error.column:
        where = _("%(file)s, line %(line)d, column %(column)d", file=error.file or "?",
                  line=error.line, column=error.column)
    elif error.line:
        where = _("%(file)s, line %(line)d", file=error.file or "?", line=error.line)
    else:
        where = error.file or _("the upload")
    return _("%(where)s: %(what)s Nothing was stored.", where=where, what=what)


def _page(status: int = 200, **context):
    account_id = context.pop("account_id", None) or _importable_account()
    account = get_store().accounts.get(account_id)
    context = {"error": None, "plan": None, "token": None, **context}
    return render_template("studio_import/index.html", account=account, kinds=KIND_NAMES,
                           imports=get_store().studio.imports(account_id), **context), status


@bp.get("")
def index():
    return _page()


@bp.post("/preview")
def upload():
    account_id = _importable_account()
    uploads = [(f.filename or "upload", f.read()) for f in request.files.getlist("files")
               if f and f.filename]
    tz = _tz()
    try:
        result = studio.preview(get_core(), account_id, session["person_id"], uploads, tz=tz,
                                today=studio.today_in(tz), limits=_limits())
    except StudioFileError as error:
        status = 413 if error.code in ("file_too_large", "upload_too_large") else 400
        return _page(status, account_id=account_id, error=describe(error))
    return _page(account_id=account_id, plan=result.plan, token=result.token)


@bp.post("/confirm")
def confirm():
    account_id = _importable_account()
    token = request.form.get("token", "")
    if not token or len(token) > 64:
        abort(400)
    plan = studio.confirm(get_core(), token, session["person_id"], account_id, _tz())
    if plan is None:
        return _page(400, account_id=account_id,
                     error=_("This preview has expired or was already used. Upload the files again."))
    if plan.new:
        get_jobs().request_refresh(account_id)
        flash(ngettext("Imported: %(num)d new row stored.", "Imported: %(num)d new rows stored.", plan.new),
              "success")
    else:
        flash(_("Nothing new: every row of these files was already stored."), "info")
    return redirect(url_for("studio_import.index"))


@bp.errorhandler(RequestEntityTooLarge)
def too_large(error):
    megabytes = current_app.config["STUDIO_MAX_UPLOAD_MB"]
    return _page(413, error=_("The upload is larger than %(mb)d MB. Nothing was stored.", mb=megabytes))
