"""Dashboard pages. They read the database only and never call TikTok:
syncs and pictures come from the worker, and a page only asks for them."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    session,
    url_for,
)
from flask_babel import format_decimal, ngettext
from flask_babel import gettext as _
from itsdangerous import BadSignature, URLSafeSerializer

from dashboard import comparison
from dashboard.core import accounts as core_accounts
from dashboard.storage import COUNT_FILTERS, SORTABLE
from dashboard.storage.models import utcnow

from ..context import current_account_id, current_role, get_core, get_jobs, get_store
from ..engagement import current_formula
from ..i18n import LANGUAGES, viewer_zone_name
from ..security import csrf, safe_next_path
from .page_cache import cached_page
from .viewmodels import (
    AccountView,
    VideoView,
    analytics_data,
    cached_fragment,
    engagement_part,
    fragment_key,
    matching_total,
    metric_labels,
    overview_data,
    sync_status,
    video_data,
    view_sparklines,
)

log = logging.getLogger(__name__)

bp = Blueprint("dashboard", __name__)
bp.add_app_template_global(cached_fragment)
bp.add_app_template_global(current_role, "selected_role")  # the header's links follow the role

#: Browsers may keep a stored cover this long: a video's cover never changes.
COVER_MAX_AGE = 7 * 24 * 3600

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


def sync_button_interval() -> timedelta:
    """"Sync now" works at most this often per account (SYNC_NOW_INTERVAL_SECONDS):
    a sync costs up to ceil(videos / 20) + 1 calls of the shared TikTok budget."""
    return timedelta(seconds=current_app.config["SYNC_NOW_INTERVAL_SECONDS"])


def page_context(account_id: int) -> dict:
    """What every page of an account shows in its header: the profile card,
    the account switcher (with the person's role on each) and where syncing stands."""
    store = get_store()
    visible = store.accounts.visible_to(session["person_id"])
    rows = [a for a, _role in visible]
    roles = {a.id: r for a, r in visible}
    row = next(a for a in rows if a.id == account_id)  # the role was checked by the caller
    account = AccountView.of(row)
    pressed = row.sync_requested_at  # the account row says when "Sync now" was last pressed
    ready_at = pressed + sync_button_interval() if pressed else None
    ready_at = ready_at if ready_at and ready_at > utcnow() else None
    return {
        "account": account,
        "accounts": [AccountView.of(a) for a in rows],
        "roles": roles,
        "role": roles[account_id],
        "role_names": role_names(),
        "sync": sync_status(row),
        "sync_ready_at": ready_at,
        "scopes": set(account.granted_scopes.split(",")),
        "connected": store.tokens.exists(account_id),
    }


def role_names() -> dict[str, str]:
    return {"owner": _("owner"), "manager": _("manager"), "viewer": _("viewer")}


def read_filters(args) -> tuple[datetime | None, datetime | None, dict[str, int], dict[str, str]]:
    """The videos table's filters: ``from``/``to`` as UTC datetimes (``to``
    includes its whole day), the ``min_*`` counts, and per field what is wrong
    with it, to show beside that field (WCAG 3.3.1)."""
    errors: dict[str, str] = {}
    start, end = _read_days(args, "from", "to", errors)
    minimums = {}
    for field in COUNT_FILTERS:
        raw = args.get("min_" + field, "").strip()
        if raw and (raw.isascii() and raw.isdigit()) and len(raw) <= 15:  # "²".isdigit() is True
            minimums[field] = int(raw)
        elif raw:
            errors["min_" + field] = _("Enter a whole number, 0 or more.")
    since = datetime.combine(start, time.min, UTC) if start else None
    until = datetime.combine(end, time.min, UTC) + timedelta(days=1) if end else None
    return since, until, minimums, errors


def _read_days(args, first: str, last: str, errors: dict[str, str]) -> tuple[date | None, date | None]:
    """Two ``YYYY-MM-DD`` fields; what is wrong with them goes in ``errors``."""
    days = {}
    for name in (first, last):
        raw = args.get(name, "")
        try:
            days[name] = date.fromisoformat(raw) if raw and len(raw) == 10 else None
        except ValueError:
            days[name] = None
        if raw and days[name] is None:
            errors[name] = _("Enter a date as year-month-day, for example 2026-05-31.")
    start, end = days[first], days[last]
    if start and end and start > end:
        errors[last] = _("This date is before the start date.")
    return start, end


def read_vs(args, since: datetime | None, until: datetime | None, errors: dict[str, str]
            ) -> tuple[datetime, datetime] | None:
    """The range to compare ``from``/``to`` with: ``vs=previous`` (as many days just
    before) or ``vs_from``/``vs_to`` (``vs=custom``); None without ``vs``."""
    vs = args.get("vs", "custom" if "vs_from" in args or "vs_to" in args else "")
    if not vs:
        return None
    if vs not in ("previous", "custom"):
        errors["vs"] = _("Choose one of the listed comparisons.")
        return None
    if since is None or until is None:
        errors["vs"] = _("Choose both dates of the range to compare it with another.")
        return None
    if vs == "previous":
        return since - (until - since), since
    start, end = _read_days(args, "vs_from", "vs_to", errors)
    if (start is None or end is None) and not ({"vs_from", "vs_to"} & errors.keys()):
        errors["vs_from" if start is None else "vs_to"] = _("Choose both dates of the range to compare with.")
    if start is None or end is None or {"vs_from", "vs_to"} & errors.keys():
        return None
    return datetime.combine(start, time.min, UTC), datetime.combine(end, time.min, UTC) + timedelta(days=1)


@bp.before_request
def drop_empty_parameters():
    """A GET form sends its empty fields too (``from=&to=&min_view_count=``):
    answer with the same page's address without them."""
    if request.method != "GET" or not any(not v.strip() for v in request.args.values()):
        return None
    kept = [(k, v) for k, v in request.args.items(multi=True) if v.strip()]
    return redirect(request.path + ("?" + urlencode(kept) if kept else ""))


@bp.get("/")
def overview():
    if not session.get("person_id") or not session.get("account_id"):
        return render_template("dashboard/landing.html")
    period = request.args.get("period", "day")
    if period not in {"day", "week", "month"}:
        abort(400)
    vs = request.args.get("vs")
    if vs not in (None, "previous"):
        abort(400)
    account_id, tz = session["account_id"], _viewer_tz()

    def render():
        context = page_context(account_id)
        formula = current_formula()
        # The worker stores the parts without ``vs``; with it they are rendered once per process.
        body_key = (fragment_key(account_id, tz, "overview", period, "vs", stored=False) if vs
                    else fragment_key(account_id, tz, "overview", period))
        context.update(overview_data(account_id, tz, period, formula, vs=bool(vs)),
                       body_key=body_key, vs=vs, chosen_period=period,
                       engagement_key=fragment_key(account_id, tz, "overview", period,
                                                   engagement_part(formula), *(("vs",) if vs else ()),
                                                   stored=not vs),
                       import_note=get_store().studio.history_note(account_id))
        return render_template("dashboard/overview.html", **context)

    return cached_page(account_id, tz, render, reads=("period", "vs"))


@bp.get("/favicon.ico")
def favicon():
    return redirect(url_for("static", filename="favicon.svg"), code=301)


@bp.get("/videos")
def videos():
    sort = request.args.get("sort", "create_time")
    if sort not in SORTABLE:
        abort(400)
    order = request.args.get("order", "desc")
    if order not in {"asc", "desc"}:
        abort(400)
    offset = decode_cursor(request.args.get("cursor"))
    since, until, minimums, errors = read_filters(request.args)
    vs = read_vs(request.args, since, until, errors)
    if errors:
        return _videos_form_with_errors(current_account_id(), sort, order, errors), 400
    account_id, tz = session.get("account_id"), _viewer_tz()
    return cached_page(account_id, tz, lambda: _videos_page(account_id, tz, sort, order, offset, since,
                                                            until, minimums, vs),
                       reads=("sort", "order", "cursor", "from", "to", "vs", "vs_from", "vs_to",
                              *("min_" + f for f in COUNT_FILTERS)))


def _videos_page(account_id: int, tz, sort: str, order: str, offset: int, since, until, minimums,
                 vs) -> str:
    per_page = current_app.config["VIDEOS_PER_PAGE"]
    total = matching_total(account_id, tz, since, until, minimums)
    if offset and offset >= total and total:
        abort(400)
    rows = [VideoView.of(v) for v in get_store().history.videos_page(
        account_id, sort=sort, descending=order == "desc", offset=offset, limit=per_page,
        date_from=since, date_to=until, minimums=minimums)]
    kept = {"sort", "order", "from", "to", "vs", "vs_from", "vs_to", *("min_" + f for f in minimums)}
    keep = {k: v for k, v in request.args.items() if k in kept and v}
    nav = {
        "next": url_for(".videos", **keep, cursor=encode_cursor(offset + per_page))
        if offset + per_page < total else None,
        "prev": url_for(".videos", **keep, **({"cursor": encode_cursor(offset - per_page)}
                                               if offset - per_page > 0 else {}))
        if offset else None,
    }
    context = page_context(account_id)
    context.update(videos=rows, load_sparklines=lambda: view_sparklines(rows), total=total,
                   offset=offset, nav=nav, sort=sort, order=order, filters=keep,
                   sort_labels=metric_labels(), errors={}, filtered=bool(since or until or minimums),
                   compared=_compared_total(account_id, total, vs, minimums),
                   clear_url=url_for(".videos", **{k: keep[k] for k in ("sort", "order") if k in keep}),
                   table_key=_table_key(account_id, tz, sort, order, offset, keep, rows))
    return render_template("dashboard/videos.html", **context)


def _compared_total(account_id: int, total: int, vs, minimums: dict[str, int]) -> dict | None:
    """How many videos the filters match in the range compared with, and the change."""
    if vs is None:
        return None
    earlier = get_store().history.count_matching_videos(account_id, date_from=vs[0], date_to=vs[1],
                                                        minimums=minimums)
    delta = comparison.Delta(total, earlier)
    return {"start": vs[0].date(), "end": (vs[1] - timedelta(days=1)).date(), "current": total,
            "earlier": earlier, "change": delta.change, "pct": delta.pct}


def _table_key(account_id: int, tz, sort: str, order: str, offset: int, keep: dict, rows) -> tuple:
    """The first page of each order, unfiltered, is rendered by the worker after
    a sync; any other page is named by its rows (rendered once per process)."""
    if offset == 0 and keep.keys() <= {"sort", "order"}:
        return fragment_key(account_id, tz, "videos", sort, order)
    return fragment_key(account_id, tz, "videos", tuple(rows), stored=False)


def _videos_form_with_errors(account_id: int, sort: str, order: str, errors: dict[str, str]) -> str:
    """The videos page as the filters left it, each mistake beside its field."""
    fields = {"from", "to", "vs", "vs_from", "vs_to", *("min_" + f for f in COUNT_FILTERS)}
    context = page_context(account_id)
    context.update(videos=[], load_sparklines=dict, total=0, offset=0,
                   nav={"next": None, "prev": None}, sort=sort, order=order,
                   sort_labels=metric_labels(), errors=errors, filtered=True, compared=None,
                   filters={k: v for k, v in request.args.items() if k in fields},
                   clear_url=url_for(".videos"), table_key=None)
    return render_template("dashboard/videos.html", **context)


@bp.get("/videos/<video_id>")
def video(video_id: str):
    if not video_id.isdigit() or len(video_id) > 32:
        current_account_id()  # a stranger learns nothing, not even that the id is malformed
        abort(404)
    account_id, tz = session.get("account_id"), _viewer_tz()

    def render():
        row = get_store().history.video_for(account_id, video_id)
        if row is None:
            abort(404)
        context = page_context(account_id)
        context.update(video_data(account_id, VideoView.of(row), tz, current_formula()))
        return render_template("dashboard/video.html", **context)

    return cached_page(account_id, tz, render)


@bp.get("/analytics")
def analytics():
    account_id, tz = session.get("account_id"), _viewer_tz()

    def render():
        context = page_context(account_id)
        formula = current_formula()
        context.update(analytics_data(account_id, tz, formula),
                       body_key=fragment_key(account_id, tz, "analytics"),
                       engagement_key=fragment_key(account_id, tz, "analytics", engagement_part(formula)))
        return render_template("dashboard/analytics.html", **context)

    return cached_page(account_id, tz, render)


@bp.post("/sync")
def sync_now():
    """Queue a sync and answer at once; at most once a minute per account."""
    account_id = current_account_id("manager")
    wait = get_store().runs.claim_button(account_id, sync_button_interval())
    if wait is not None:
        seconds = max(1, int(wait.total_seconds() + 0.999))
        abort(429, retry_after=seconds)
    if get_jobs().request_sync(account_id) == "queued":
        flash(_("Sync started. The page shows its progress."), "info")
    else:
        flash(_("A sync of this account is already on its way."), "info")
    return redirect(safe_next_path(request.form.get("next")) or url_for(".overview"), code=303)


@bp.get("/sync/status")
def sync_status_json():
    """Where the account's sync stands, for the page's progress script."""
    account_id = current_account_id()
    row = get_store().accounts.get(account_id)
    status = sync_status(row)
    return jsonify(
        state=status.state, done=status.done, total=status.total, percent=status.percent,
        videos_seen=status.videos_seen, error_code=status.error_code, log_id=status.log_id,
        reason=status.reason, run_id=status.run_id,
        finished_at=status.finished_at.isoformat() if status.finished_at else None,
        text=_status_text(status))


def _status_text(status) -> str:
    if status.state == "queued":
        return _("Sync queued…")
    if status.state == "running":
        if status.total:
            return ngettext("Syncing… %(done)s of %(total)s video", "Syncing… %(done)s of %(total)s videos",
                            status.total, done=format_decimal(status.done),
                            total=format_decimal(status.total))
        return ngettext("Syncing… %(done)s video", "Syncing… %(done)s videos", status.done,
                        done=format_decimal(status.done))
    return ""


@bp.get("/media/<int:account_id>/avatar.jpg")
def avatar(account_id: int):
    return _picture(account_id, "avatar", "avatar")


@bp.get("/media/<int:account_id>/covers/<video_id>.jpg")
def cover(account_id: int, video_id: str):
    if not video_id.isdigit() or len(video_id) > 32:
        abort(404)
    return _picture(account_id, "cover", video_id)


def _picture(account_id: int, kind: str, key: str):
    """A stored picture of an account this person may see (404 for anyone else)."""
    if get_store().accounts.role_of(session.get("person_id"), account_id) is None:
        abort(404)
    path = get_core().media.path(kind, account_id, key)
    if path is None:
        abort(404)
    response = send_file(path, mimetype="image/jpeg", conditional=True, max_age=COVER_MAX_AGE)
    response.headers["Cache-Control"] = f"private, max-age={COVER_MAX_AGE}"
    return response


@bp.post("/language")
@csrf.exempt
def set_language():
    """Choose the language. A logged-in person's form carries a CSRF token as
    every form does; an anonymous visitor has no session to hold one (none is
    stored for page views), and a forged choice of language for a stranger
    with nothing stored harms nothing."""
    if session.get("person_id"):
        csrf.protect()
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
    if get_store().accounts.role_of(person_id, account_id) is None:
        abort(404)
    session["account_id"] = account_id
    return redirect(url_for(".overview"))


@bp.get("/account/disconnect")
def confirm_delete():
    """Say what disconnecting deletes, and ask: the deleting is the POST below."""
    account_id = current_account_id("owner")
    context = page_context(account_id)
    context.update(video_total=get_store().history.count_matching_videos(account_id, include_gone=True),
                   others=len(context["accounts"]) - 1)
    return render_template("dashboard/disconnect.html", **context)


@bp.post("/account/delete")
def delete_account():
    """Disconnect: delete everything stored for the account (its memberships and
    invites too), revoke at TikTok. The owner's only."""
    account_id = current_account_id("owner")
    core_accounts.disconnect(get_core(), get_jobs(), account_id)
    remaining = get_store().accounts.visible_to(session["person_id"])
    if remaining:
        session["account_id"] = remaining[0][0].id
    else:
        session.clear()
    flash(_("The account was disconnected and all its data deleted."), "info")
    return redirect(url_for(".overview"))


def _valid_tz(name: str) -> bool:
    if not name or len(name) > 64 or name not in available_timezones() and name != "UTC":
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _viewer_tz():
    return ZoneInfo(viewer_zone_name())
