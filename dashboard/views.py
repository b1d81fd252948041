"""Dashboard pages. They read the database only; TikTok is called by the
sync, and here only to renew expired cover images of the videos shown."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time, timedelta

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from itsdangerous import BadSignature, URLSafeSerializer

from oauth_handler import ReauthRequired, call_api, current_account_id, revoke
from tiktok_official_api import MAX_QUERY_IDS, TikTokAPIError

from .i18n import LANGUAGES, select_timezone
from .models import utcnow
from .pages import (
    analytics_data,
    latest_sync_run,
    matching_total,
    metric_labels,
    overview_data,
    video_data,
    view_sparklines,
)
from .security import safe_next_path
from .store import COUNT_FILTERS, SORTABLE, get_store
from .sync import failure_reason, run_sync, stale_cover_ids

log = logging.getLogger(__name__)

bp = Blueprint("dashboard", __name__)

def _cursor_serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="videos-cursor")


def encode_cursor(offset: int) -> str:
    return _cursor_serializer().dumps(offset)


def decode_cursor(raw: str | None) -> int:
    """The offset a signed cursor names; a tampered cursor is a 400."""
    if not raw:
        return 0
    try:
        offset = _cursor_serializer().loads(raw)
    except BadSignature:
        abort(400)
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        abort(400)
    return offset


def parse_day(raw: str | None) -> date | None:
    """A ``YYYY-MM-DD`` query value; anything else is a 400."""
    if not raw:
        return None
    try:
        return date.fromisoformat(raw) if len(raw) == 10 else abort(400)
    except ValueError:
        abort(400)


def day_range(args) -> tuple[datetime | None, datetime | None]:
    """``from``/``to`` as UTC datetimes: ``to`` includes its whole day."""
    start, end = parse_day(args.get("from")), parse_day(args.get("to"))
    if start and end and start > end:
        abort(400)
    since = datetime.combine(start, time.min, UTC) if start else None
    until = datetime.combine(end, time.min, UTC) + timedelta(days=1) if end else None
    return since, until


def _context(account_id: int) -> dict:
    store = get_store()
    accounts = store.accounts_of(session["person_id"])
    account = next(a for a in accounts if a.id == account_id)  # ownership checked by the caller
    last_run = latest_sync_run(account_id)
    return {
        "account": account,
        "accounts": accounts,
        "last_run": last_run,
        "last_run_reason": failure_reason(last_run.error_code)
        if last_run and last_run.status == "failed" else None,
        "scopes": set((account.granted_scopes or "").split(",")),
        "connected": store.has_token(account_id),
    }


def count_minimums(args) -> dict[str, int]:
    """``min_view_count=1000`` and the like: whole numbers ≥ 0, else a 400."""
    minimums = {}
    for field in COUNT_FILTERS:
        raw = args.get("min_" + field, "").strip()
        if not raw:
            continue
        if not (raw.isascii() and raw.isdigit()) or len(raw) > 15:  # "²".isdigit() is True
            abort(400)
        minimums[field] = int(raw)
    return minimums


@bp.get("/")
def overview():
    if not session.get("person_id") or not session.get("account_id"):
        return render_template("dashboard/landing.html")
    account_id = current_account_id()
    period = request.args.get("period", "day")
    if period not in {"day", "week", "month"}:
        abort(400)
    context = _context(account_id)
    context.update(overview_data(account_id, _viewer_tz(), period))
    _refresh_covers(account_id, context["top_videos"])
    return render_template("dashboard/overview.html", **context)


@bp.get("/favicon.ico")
def favicon():
    return redirect(url_for("static", filename="favicon.svg"), code=301)


@bp.get("/videos")
def videos():
    account_id = current_account_id()
    sort = request.args.get("sort", "create_time")
    if sort not in SORTABLE:
        abort(400)
    order = request.args.get("order", "desc")
    if order not in {"asc", "desc"}:
        abort(400)
    offset = decode_cursor(request.args.get("cursor"))
    since, until = day_range(request.args)
    minimums = count_minimums(request.args)
    per_page = current_app.config["VIDEOS_PER_PAGE"]
    rows, total = get_store().videos_page(
        account_id, sort=sort, descending=order == "desc", offset=offset, limit=per_page,
        date_from=since, date_to=until, minimums=minimums,
        total=matching_total(account_id, since, until, minimums))
    if offset and offset >= total and total:
        abort(400)
    _refresh_covers(account_id, rows)
    kept = {"sort", "order", "from", "to", *("min_" + f for f in minimums)}
    keep = {k: v for k, v in request.args.items() if k in kept}
    nav = {
        "next": url_for(".videos", **keep, cursor=encode_cursor(offset + per_page))
        if offset + per_page < total else None,
        "prev": url_for(".videos", **keep, **({"cursor": encode_cursor(offset - per_page)}
                                               if offset - per_page > 0 else {}))
        if offset else None,
    }
    context = _context(account_id)
    context.update(videos=rows, sparklines=view_sparklines(rows), total=total, offset=offset,
                   nav=nav, sort=sort, order=order, filters=keep, sort_labels=metric_labels())
    return render_template("dashboard/videos.html", **context)


@bp.get("/videos/<video_id>")
def video(video_id: str):
    account_id = current_account_id()
    if not video_id.isdigit() or len(video_id) > 32:
        abort(404)
    row = get_store().video_for(account_id, video_id)
    if row is None:
        abort(404)
    _refresh_covers(account_id, [row])
    context = _context(account_id)
    context.update(video_data(account_id, row, _viewer_tz()))
    return render_template("dashboard/video.html", **context)


@bp.get("/analytics")
def analytics():
    account_id = current_account_id()
    context = _context(account_id)
    context.update(analytics_data(account_id, _viewer_tz()))
    return render_template("dashboard/analytics.html", **context)


@bp.post("/sync")
def sync_now():
    account_id = current_account_id()
    result = run_sync(account_id)
    if result.ok:
        flash(result.message, "success")
    else:
        message = result.message
        if result.error_code:
            message += " " + _("(error code: %(code)s)", code=result.error_code)
        if result.log_id:
            message += " " + _("(TikTok log id: %(log_id)s)", log_id=result.log_id)
        flash(message, "error")
    return redirect(safe_next_path(request.form.get("next")) or url_for(".overview"))


@bp.post("/language")
def set_language():
    lang = request.form.get("lang")
    if lang not in LANGUAGES:
        abort(400)
    session["lang"] = lang
    return redirect(safe_next_path(request.form.get("next")) or url_for(".overview"))


@bp.post("/timezone")
def set_timezone():
    name = request.form.get("tz", "")
    if not _valid_tz(name):
        abort(400)
    session["tz"] = name
    return redirect(safe_next_path(request.form.get("next")) or url_for(".analytics"))


@bp.post("/account/switch")
def switch_account():
    person_id = session.get("person_id")
    raw = request.form.get("account_id", "")
    # An id is a row number: ASCII digits that fit the database's 32-bit integer.
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 10) or int(raw) > 2**31 - 1:
        abort(400)
    account_id = int(raw)
    if not person_id or get_store().account_for(person_id, account_id) is None:
        abort(404)
    session["account_id"] = account_id
    return redirect(url_for(".overview"))


@bp.post("/account/delete")
def delete_account():
    """Disconnect: revoke at TikTok and delete everything stored for the account."""
    account_id = current_account_id()
    revoke(account_id)
    get_store().delete_account(account_id)
    remaining = get_store().accounts_of(session["person_id"])
    if remaining:
        session["account_id"] = remaining[0].id
    else:
        session.clear()
    flash(_("The account was disconnected and all its data deleted."), "info")
    return redirect(url_for(".overview"))


def _valid_tz(name: str) -> bool:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

    if not name or len(name) > 64 or name not in available_timezones() and name != "UTC":
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _viewer_tz():
    from zoneinfo import ZoneInfo

    try:
        return ZoneInfo(select_timezone())
    except Exception:  # a bad stored name falls back to UTC
        return ZoneInfo("UTC")


def _refresh_covers(account_id: int, rows) -> None:
    """Renew signed cover URLs older than their lifetime: 20 ids a call, only
    for the videos this page shows. A failure leaves the old URL in place."""
    stale = stale_cover_ids(rows)
    if not stale:
        return
    now = utcnow()
    by_id = {v.video_id: v for v in rows}
    try:
        for start in range(0, len(stale), MAX_QUERY_IDS):
            batch = stale[start:start + MAX_QUERY_IDS]
            fresh = call_api(account_id, lambda c, ids=batch: c.query_videos(ids))
            get_store().update_covers(account_id, fresh, now)
            for video in fresh:
                if video["id"] in by_id:
                    by_id[video["id"]].cover_image_url = video.get("cover_image_url")
                    by_id[video["id"]].cover_fetched_at = now
    except (TikTokAPIError, ReauthRequired) as exc:
        log.info("cover refresh skipped: %s", getattr(exc, "code", "reauth"))
