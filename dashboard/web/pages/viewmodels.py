"""What each page shows: plain view models shaped from storage by the
analytics and chart functions.

Routes call these and hand the result to a template; templates only place
it, and never see an ORM row. The heavy part (every video of an account
through the analytics) is cached per process, keyed by the account's latest
sync run, so it is computed once per sync, not once per page view; the cache
holds frozen view models and strings only, so no request can change what
another is shown.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta

from babel.dates import format_skeleton
from flask import g, url_for
from flask_babel import format_date, format_decimal, format_time, get_locale, ngettext
from flask_babel import gettext as _

from dashboard import analytics, charts
from dashboard.storage.models import utcnow
from dashboard.storage.runs import ACTIVE

from ..context import get_store
from ..i18n import compact, date_fmt, datetime_fmt, percent
from ..outcomes import N_, failure_reason


@dataclass(frozen=True)
class VideoView:
    """One video as the pages show it."""

    id: int
    video_id: str
    title: str
    video_description: str
    create_time: datetime
    duration: int | None
    view_count: int
    like_count: int
    comment_count: int
    share_count: int
    share_url: str | None
    gone_at: datetime | None
    cover: str | None

    @classmethod
    def of(cls, row) -> VideoView:
        cover = (url_for("dashboard.cover", account_id=row.account_id, video_id=row.video_id)
                 if row.cover_fetched_at else None)
        return cls(row.id, row.video_id, row.title, row.video_description, row.create_time,
                   row.duration, row.view_count, row.like_count, row.comment_count,
                   row.share_count, row.share_url, row.gone_at, cover)


@dataclass(frozen=True)
class AccountView:
    """The profile card's account."""

    id: int
    open_id: str
    display_name: str | None
    username: str | None
    bio_description: str | None
    profile_deep_link: str | None
    is_verified: bool | None
    follower_count: int | None
    following_count: int | None
    likes_count: int | None
    video_count: int | None
    granted_scopes: str
    last_synced_at: datetime | None
    avatar: str | None

    @classmethod
    def of(cls, row) -> AccountView:
        avatar = (url_for("dashboard.avatar", account_id=row.id, v=int(row.avatar_stored_at.timestamp()))
                  if row.avatar_stored_at else None)
        return cls(row.id, row.open_id, row.display_name, row.username, row.bio_description,
                   row.profile_deep_link, row.is_verified, row.follower_count, row.following_count,
                   row.likes_count, row.video_count, row.granted_scopes or "", row.last_synced_at,
                   avatar)


@dataclass(frozen=True)
class SyncStatus:
    """Where the account's syncing stands, for the header and ``/sync/status``."""

    state: str  # "none", "queued", "running", "ok" or "failed"
    done: int = 0
    total: int | None = None
    videos_seen: int = 0
    api_calls: int = 0
    error_code: str | None = None
    log_id: str | None = None
    reason: str | None = None
    finished_at: datetime | None = None
    run_id: int | None = None

    @property
    def active(self) -> bool:
        return self.state in ACTIVE

    @property
    def percent(self) -> int | None:
        if self.state != "running" or not self.total:
            return None
        return min(100, round(100 * self.done / self.total))


def sync_status(account) -> SyncStatus:
    """The account's latest run, or the job queued for it."""
    pictures_stamp(account.id, known=account)
    run = latest_sync_run(account.id)
    if account.sync_queued_at is not None and (run is None or run.status != "running"):
        return SyncStatus("queued")
    if run is None:
        return SyncStatus("none")
    state = run.status
    if state == "running" and not get_store().runs.is_locked("sync", account.id):
        state = "failed"  # its worker died; the next tick picks it up again
        return SyncStatus(state, error_code="interrupted", reason=failure_reason("interrupted"),
                          run_id=run.id)
    return SyncStatus(
        state, done=run.videos_done or 0, total=run.videos_total, videos_seen=run.videos_seen,
        api_calls=run.api_calls, error_code=run.error_code, log_id=run.log_id,
        reason=failure_reason(run.error_code) if state == "failed" else None,
        finished_at=run.finished_at, run_id=run.id)


WEEKDAYS = (N_("Mon"), N_("Tue"), N_("Wed"), N_("Thu"), N_("Fri"), N_("Sat"), N_("Sun"))
CACHE_SIZE = 64

_cache: OrderedDict = OrderedDict()
_cache_lock = threading.Lock()


def _cached(key, compute):
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    value = compute()
    with _cache_lock:
        _cache[key] = value
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return value


def latest_sync_run(account_id: int):
    """The account's latest sync run, read once per request (header and cache key)."""
    runs = g.setdefault("last_sync_runs", {})
    if account_id not in runs:
        runs[account_id] = get_store().runs.latest(account_id)
    return runs[account_id]


def _cache_key(account_id: int, *parts):
    """Names one sync's data exactly: row ids are reused after an account is
    deleted (SQLite), so the run's finish time and the store are in the key
    too, or a newly connected account could be shown a deleted one's numbers."""
    store = get_store()
    run = latest_sync_run(account_id)
    return (id(store), account_id, run.id if run else None, run.status if run else None,
            run.finished_at if run else None, pictures_stamp(account_id), str(get_locale()), *parts)


def pictures_stamp(account_id: int, known=None):
    """When the account's pictures were last stored (read once per request): the
    covers a cached page shows arrive after its sync, in a job of their own."""
    stamps = g.setdefault("pictures_stamps", {})
    if known is not None:
        stamps[account_id] = known.pictures_stored_at
    if account_id not in stamps:
        row = get_store().accounts.get(account_id)
        stamps[account_id] = row.pictures_stored_at if row else None
    return stamps[account_id]


def matching_total(account_id: int, date_from, date_to, minimums: dict[str, int]) -> int:
    """How many videos the videos table's filters match, counted once per sync:
    the count is the only part of that page whose cost grows with the videos."""
    key = _cache_key(account_id, "total", date_from, date_to, tuple(sorted(minimums.items())))
    return _cached(key, lambda: get_store().history.count_matching_videos(
        account_id, date_from=date_from, date_to=date_to, minimums=minimums))


def videos_by_ids(account_id: int, video_ids: list[str]) -> list[VideoView]:
    return [VideoView.of(v) for v in get_store().history.videos_by_ids(account_id, video_ids)]


def metric_labels() -> dict:
    return {
        "create_time": _("Posting date"),
        "view_count": _("Views"),
        "like_count": _("Likes"),
        "comment_count": _("Comments"),
        "share_count": _("Shares"),
        "duration": _("Duration"),
        "title": _("Title"),
    }


def duration_bucket_labels() -> dict:
    """The video-length buckets of :data:`analytics.DURATION_BUCKETS`, in words."""
    return {
        "under_15s": _("< 15 s"),
        "15_30s": _("15–30 s"),
        "30_60s": _("30–60 s"),
        "1_3min": _("1–3 min"),
        "over_3min": _("> 3 min"),
    }


def _signed(value: int) -> str:
    return ("+" if value > 0 else "") + format_decimal(value)


def _change_text(change: analytics.Change | None, days: int) -> dict | None:
    if change is None:
        return None
    pct = f" ({percent(change.pct / 100)})" if change.pct is not None else ""
    if change.partial:
        text = _("%(value)s since %(date)s", value=_signed(change.value),
                 date=format_date(change.baseline_at, format="medium")) + pct
    else:
        text = ngettext("%(value)s in %(num)d day", "%(value)s in %(num)d days", days,
                        value=_signed(change.value)) + pct
    css = "up" if change.value > 0 else "down" if change.value < 0 else "flat"
    return {"text": text, "css": css}


def _profile_points(account_id: int):
    snapshots = [
        {"taken_at": s.taken_at, "follower_count": s.follower_count,
         "following_count": s.following_count, "likes_count": s.likes_count,
         "video_count": s.video_count}
        for s in get_store().history.profile_snapshots(account_id)
    ]
    return snapshots


def _history_starts(moment, value) -> str:
    return _("History starts on %(date)s (%(value)s). The chart appears after the next sync.",
             date=format_date(moment, format="medium"), value=compact(value))


def _line(title: str, name: str, points, css: str, date_only: bool = True) -> dict:
    dated = [(p[0], p[1]) for p in points]
    svg = charts.responsive(
        charts.line_chart,
        [{"name": name, "points": dated, "class": css}],
        aria_label=title,
        x_format=lambda d: format_date(d, format="medium"),
        y_format=compact,
        empty_text=_("No history yet: it grows with every sync."),
        one_point_text=_history_starts,
    )
    rows = [(format_date(d, format="medium") if date_only else datetime_fmt(d),
             format_decimal(v)) for d, v in dated]
    return {"title": title, "svg": svg, "table": {"head": [_("Date"), name], "rows": rows}}


def overview_data(account_id: int, tz, period: str = "day") -> dict:
    """Key numbers, their change, growth charts per ``period`` (day, week or
    month: the last count in each), top videos and the posting heatmap."""
    return _cached(_cache_key(account_id, "overview", str(tz), period),
                   lambda: _overview(account_id, tz, period))


def _overview(account_id: int, tz, period: str) -> dict:
    now = utcnow()
    account = get_store().accounts.get(account_id)
    snapshots = _profile_points(account_id)
    stats = []
    labels = {"follower_count": _("Followers"), "following_count": _("Following"),
              "likes_count": _("Likes"), "video_count": _("Videos")}
    growth_charts = []
    for field, label in labels.items():
        points = analytics.series(snapshots, field)
        changes = [c for c in (_change_text(analytics.net_change(points, d, now), d)
                               for d in (7, 28, 90)) if c]
        stats.append({"label": label, "value": getattr(account, field), "changes": changes})
        if field != "following_count" and points:
            resampled = analytics.resample(points, period, tz=tz)
            growth_charts.append(_line(_("%(label)s over time", label=label), label, resampled,
                                       f"chart-series-{len(growth_charts) + 1}"))
    rows = get_store().history.analytics_rows(account_id)
    top_ids = [v["video_id"] for v in analytics.top_videos(rows, "view_count", 5)]
    return {
        "stats": stats,
        "charts": growth_charts,
        "top_videos": videos_by_ids(account_id, top_ids),
        "heatmap": _heatmap(rows, tz) if rows else None,
        "period": period,
        "periods": {"day": _("Daily"), "week": _("Weekly"), "month": _("Monthly")},
    }


def _heatmap(rows, tz) -> dict:
    grid = analytics.weekday_hour_heatmap(rows, tz, "view_count", "mean")
    days = [_(d) for d in WEEKDAYS]
    hours = [f"{h:02d}" for h in range(24)]
    title = _("Average views by posting weekday and hour")
    svg = charts.responsive(
        charts.heatmap, grid, row_labels=days, col_labels=hours, aria_label=title, value_format=compact,
        none_text=_("no videos"),
        cell_title=lambda r, c, v: ngettext("%(day)s %(hour)s:00 — %(views)s average view",
                                            "%(day)s %(hour)s:00 — %(views)s average views",
                                            round(v), day=r, hour=c, views=compact(v))
        if v is not None else _("%(day)s %(hour)s:00 — no videos", day=r, hour=c),
        empty_text=_("No videos yet."),
    )
    table = {"head": [_("Day"), *hours],
             "rows": [[day, *("" if v is None else compact(v) for v in row)]
                      for day, row in zip(days, grid, strict=True)]}
    return {"title": title, "svg": svg, "table": table,
            "note": _("Hours in your time zone: %(tz)s.", tz=str(tz))}


def view_sparklines(videos, days: int = 30) -> dict[int, str]:
    """A views sparkline per video (by row id), over the last ``days`` days."""
    trends = get_store().history.view_trends([v.id for v in videos], utcnow() - timedelta(days=days))
    names = {v.id: (v.title or v.video_description or _("(untitled)"), date_fmt(v.create_time))
             for v in videos}  # titles repeat; with the posting date each label names one video
    return {
        pk: charts.sparkline(values, value_format=compact, aria_label=ngettext(
            "Views of “%(title)s” (%(date)s) over the last %(num)d day",
            "Views of “%(title)s” (%(date)s) over the last %(num)d days", days,
            title=names[pk][0], date=names[pk][1]))
        for pk, values in trends.items() if pk in names
    }


def video_data(account_id: int, video, tz) -> dict:
    snaps = [
        {"taken_at": s.taken_at, "view_count": s.view_count, "like_count": s.like_count,
         "comment_count": s.comment_count, "share_count": s.share_count}
        for s in get_store().history.video_snapshots(video.id)
    ]
    series = []
    names = {"view_count": _("Views"), "like_count": _("Likes"),
             "comment_count": _("Comments"), "share_count": _("Shares")}
    for i, (field, label) in enumerate(names.items(), start=1):
        series.append({"name": label, "points": [(s["taken_at"], s[field]) for s in snaps],
                       "class": f"chart-series-{i}"})
    title = _("This video's counts over time")
    svg = charts.responsive(charts.line_chart, series, aria_label=title,
                            x_format=lambda d: format_date(d, format="medium"),
                            time_format=lambda d: format_time(d, format="short"),
                            y_format=compact,
                            empty_text=_("No history yet: it grows with every sync."),
                            one_point_text=_history_starts)
    table_rows = [(datetime_fmt(s["taken_at"]),
                   *(format_decimal(s[f]) for f in names)) for s in snaps]
    rows = _cached(_cache_key(account_id, "rows"),
                   lambda: get_store().history.analytics_rows(account_id))
    views = [r["view_count"] for r in analytics.live_videos(rows)]
    return {
        "video": video,
        "chart": {"title": title, "svg": svg,
                  "table": {"head": [_("Synced"), *names.values()], "rows": table_rows}},
        "engagement": analytics.engagement_rate(video.like_count, video.comment_count,
                                                video.share_count, video.view_count),
        "formula": _("Engagement rate = (likes + comments + shares) / views"),
        "views_24h": analytics.views_after_posting(video.create_time, snaps, 24),
        "views_7d": analytics.views_after_posting(video.create_time, snaps, 24 * 7),
        "vs_median": analytics.performance_vs_median(video.view_count, views),
        "median_views": analytics.median(views),
    }


def analytics_data(account_id: int, tz) -> dict:
    return _cached(_cache_key(account_id, "analytics", str(tz)), lambda: _analytics(account_id, tz))


def _analytics(account_id: int, tz) -> dict:
    rows = get_store().history.analytics_rows(account_id)
    labels = metric_labels()
    tops = {}
    for metric in ("view_count", "like_count", "comment_count", "share_count", "engagement"):
        ids = [v["video_id"] for v in analytics.top_videos(rows, metric, 5)]
        tops[metric] = videos_by_ids(account_id, ids)
    buckets = analytics.duration_buckets(rows)
    bucket_labels = duration_bucket_labels()
    duration_chart = charts.responsive(
        charts.bar_chart,
        [(bucket_labels[b["label_key"]], b["median_views"] if b["count"] else None) for b in buckets],
        aria_label=_("Median views by video length"), y_format=compact,
        empty_text=_("No videos yet."), missing_text=_("no videos"))
    tags = analytics.hashtag_stats(rows)[:15]
    tag_chart = charts.responsive(charts.bar_chart, [("#" + t["tag"], t["total_views"]) for t in tags],
                                 aria_label=_("Total views of the videos with each hashtag"),
                                 y_format=compact,
                                 horizontal=True, empty_text=_("No hashtags yet."))
    frequency = analytics.posting_frequency(rows, "month", tz=tz)
    frequency_chart = charts.responsive(
        charts.bar_chart,
        [(format_skeleton("yMMM", d, locale=get_locale()), n) for d, n in frequency],
        aria_label=_("Videos posted per month"), y_format=lambda n: format_decimal(n),
        empty_text=_("No videos yet."))
    return {
        "labels": labels,
        "tops": tops,
        "heatmap": _heatmap(rows, tz) if rows else None,
        "buckets": buckets,
        "bucket_labels": bucket_labels,
        "duration_chart": duration_chart,
        "tags": tags,
        "tag_chart": tag_chart,
        "frequency": frequency,
        "frequency_chart": frequency_chart,
        "frequency_table": {"head": [_("Month"), _("Videos")],
                            "rows": [(format_skeleton("yMMM", d, locale=get_locale()), n)
                                     for d, n in frequency]},
        "formula": _("Engagement rate = (likes + comments + shares) / views"),
        "tz_name": str(tz),
    }

