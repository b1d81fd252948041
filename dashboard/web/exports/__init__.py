"""CSV and JSON exports of videos and history, streamed row by row.

Rows are read from the database in batches and written as they come, so a
10,000-video account is never built in memory. CSV starts with a UTF-8 BOM
so Excel opens Chinese titles correctly, and any text cell that a
spreadsheet would read as a formula is neutralised with a leading quote.
Video ids are strings everywhere. Every engagement rate is by the person's
formula (a fraction: 0.05 is 5 %, empty or null when there is none), with
the formula's key beside it in ``engagement_formula``.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime

from flask import Blueprint, Response, abort, render_template, request, stream_with_context

from dashboard import analytics

from ..context import current_account_id, get_store
from ..engagement import current_formula
from ..pages.routes import day_range, drop_empty_parameters, page_context

bp = Blueprint("exports", __name__, url_prefix="/export")
bp.before_request(drop_empty_parameters)  # the export forms send their empty dates too

VIDEO_COLUMNS = (
    "video_id", "create_time", "title", "video_description", "duration", "view_count",
    "like_count", "comment_count", "share_count", "share_url", "first_seen_at",
    "last_seen_at", "gone_at", "engagement_rate", "engagement_formula",
)
HISTORY_COLUMNS = (
    "kind", "synced_at", "follower_count", "following_count", "likes_count", "video_count",
    "video_id", "view_count", "like_count", "comment_count", "share_count",
    "engagement_rate", "engagement_formula", "source", "source_file",
)
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def neutralise(value):
    """A text cell that a spreadsheet would run as a formula gets a leading quote."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


class Rates:
    """Each video's engagement rate by one formula, for the rows of an export."""

    def __init__(self, account_id: int, formula: str):
        self.formula = formula
        history = get_store().history
        self.followers = analytics.FollowerHistory(
            history.follower_points(account_id) if formula == "followers" else None)
        self.born = history.create_times(account_id) if formula == "followers" else {}

    def of(self, counts: dict, create_time: datetime | None = None) -> dict:
        """``engagement_rate`` and ``engagement_formula`` of a video's counts."""
        moment = create_time or self.born.get(counts.get("video_id"))
        rate = (analytics.video_rate({**counts, "create_time": moment}, self.formula, self.followers)
                if moment is not None or self.formula != "followers" else None)
        return {"engagement_rate": rate, "engagement_formula": self.formula}


def video_row(video, rates: Rates | None = None) -> dict:
    row = {
        "video_id": str(video.video_id),
        "create_time": iso(video.create_time),
        "title": video.title,
        "video_description": video.video_description,
        "duration": video.duration,
        "view_count": video.view_count,
        "like_count": video.like_count,
        "comment_count": video.comment_count,
        "share_count": video.share_count,
        "share_url": video.share_url,
        "first_seen_at": iso(video.first_seen_at),
        "last_seen_at": iso(video.last_seen_at),
        "gone_at": iso(video.gone_at),
    }
    if rates is not None:
        row.update(rates.of(row, video.create_time))
    return row


def profile_rows(account_id: int, since, until):
    """``source`` is ``api`` (a sync) or ``studio_import`` (``source_file`` names the file)."""
    files = get_store().studio.sources(account_id)
    for snap in get_store().history.profile_snapshots(account_id, since, until):
        yield {"kind": "account", "synced_at": iso(snap.taken_at),
               "follower_count": snap.follower_count, "following_count": snap.following_count,
               "likes_count": snap.likes_count, "video_count": snap.video_count,
               "source": snap.source, "source_file": files.get(snap.import_id)}


def video_snapshot_rows(account_id: int, since, until, rates: Rates):
    """Every video snapshot, with the video's engagement rate at that sync."""
    for video_id, snap in get_store().history.iter_video_snapshots(account_id, date_from=since,
                                                           date_to=until):
        row = {"kind": "video", "synced_at": iso(snap.taken_at), "video_id": str(video_id),
               "view_count": snap.view_count, "like_count": snap.like_count,
               "comment_count": snap.comment_count, "share_count": snap.share_count,
               "source": "api", "source_file": None}
        row.update(rates.of(row))
        yield row


def history_rows(account_id: int, since, until, rates: Rates):
    """The account's snapshots, then every video's, in one sequence of rows."""
    yield from profile_rows(account_id, since, until)
    yield from video_snapshot_rows(account_id, since, until, rates)


def stream_csv(rows, columns):
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore", lineterminator="\r\n")

    def flush():
        value = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return value

    yield "\ufeff"
    writer.writeheader()
    yield flush()
    for index, row in enumerate(rows, start=1):
        writer.writerow({k: neutralise(v) for k, v in row.items()})
        if index % 500 == 0:
            yield flush()
    yield flush()


def stream_json_list(rows):
    yield "["
    for index, row in enumerate(rows):
        yield ("," if index else "") + json.dumps(row, ensure_ascii=False)
    yield "]"


def stream_history_json(account_id: int, since, until, rates: Rates):
    account = get_store().accounts.get(account_id)
    head = {"open_id": account.open_id, "username": account.username,
            "display_name": account.display_name, "engagement_formula": rates.formula}
    yield '{"account":' + json.dumps(head, ensure_ascii=False) + ',"profile_snapshots":'
    yield from stream_json_list(_strip(r) for r in profile_rows(account_id, since, until))
    yield ',"video_snapshots":'
    yield from stream_json_list(_strip(r) for r in video_snapshot_rows(account_id, since, until,
                                                                        rates))
    yield "}"


def _strip(row: dict) -> dict:
    return {k: v for k, v in row.items() if k != "kind"}


def _download(body, mimetype: str, filename: str) -> Response:
    response = Response(stream_with_context(body), mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@bp.get("/")
def index():
    account_id = current_account_id()
    return render_template("dashboard/export.html", **page_context(account_id))


@bp.get("/videos.<fmt>")
def videos(fmt: str):
    account_id = current_account_id()
    since, until = day_range(request.args)
    if fmt not in ("csv", "json"):
        abort(404)
    rates = Rates(account_id, current_formula())
    rows = (video_row(v, rates)
            for v in get_store().history.iter_videos(account_id, date_from=since, date_to=until))
    return _export("videos", fmt, rows, VIDEO_COLUMNS)


@bp.get("/history.<fmt>")
def history(fmt: str):
    account_id = current_account_id()
    since, until = day_range(request.args)
    if fmt not in ("csv", "json"):
        abort(404)
    rates = Rates(account_id, current_formula())
    if fmt == "json":
        return _download(stream_history_json(account_id, since, until, rates),
                         "application/json", "history.json")
    return _export("history", fmt, history_rows(account_id, since, until, rates), HISTORY_COLUMNS)


def _export(name: str, fmt: str, rows, columns):
    if fmt == "csv":
        return _download(stream_csv(rows, columns), "text/csv", f"{name}.csv")
    if fmt == "json":
        return _download(stream_json_list(rows), "application/json", f"{name}.json")
    abort(404)



