"""Reports: one account's numbers for a date range, from the stored history.

This module computes; it never words. :func:`build_report` returns a
:class:`ReportData` of numbers, dates and video rows, and the web layer turns
it into a page of the reader's language (``dashboard.web.reports``) with the
dashboard's own chart and number code. Ranges are whole days in the reader's
time zone; each key number is compared with the period of the same length
just before.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo

from dashboard import analytics

from .context import Core

#: The longest range a report covers (ten years): a longer one is a typo.
MAX_DAYS = 3660
PRESETS = ("last_7", "last_28", "last_90", "last_month")
TOP_VIDEOS = 10
TOP_HASHTAGS = 10


class RangeError(ValueError):
    """A date range a report cannot cover; ``code`` says why, ``earliest`` the history's first day."""

    def __init__(self, code: str, earliest: date | None = None):
        super().__init__(code)
        self.code = code
        self.earliest = earliest


def preset_range(name: str, today: date) -> tuple[date, date]:
    """``last_7``, ``last_28`` and ``last_90`` end today; ``last_month`` is the previous calendar month."""
    if name == "last_month":
        end = today.replace(day=1) - timedelta(days=1)
        return end.replace(day=1), end
    days = {"last_7": 7, "last_28": 28, "last_90": 90}[name]
    return today - timedelta(days=days - 1), today


def parse_day(raw: str | None) -> date:
    """A ``YYYY-MM-DD`` day, else :class:`RangeError` ``bad_date``."""
    try:
        if raw and len(raw) == 10:
            return date.fromisoformat(raw)
    except ValueError:
        pass
    raise RangeError("bad_date")


def first_history_day(core: Core, account_id: int, tz: tzinfo) -> date | None:
    """The day (in ``tz``) of the account's first stored sync, or None before any."""
    first = core.store.history.profile_snapshots(account_id)[:1]
    return first[0].taken_at.astimezone(tz).date() if first else None


def check_range(start: date, end: date, today: date, earliest: date | None) -> None:
    """Refuse a reversed, future, too long or before-the-history range (:class:`RangeError`)."""
    if start > end:
        raise RangeError("reversed")
    if end > today:
        raise RangeError("future")
    if (end - start).days + 1 > MAX_DAYS:
        raise RangeError("too_long")
    if earliest is not None and start < earliest:
        raise RangeError("before_history", earliest)


def clamp_to_history(start: date, end: date, earliest: date | None) -> date:
    """A preset's start moved to the history's first day when the history is shorter."""
    return max(start, earliest) if earliest is not None and earliest <= end else start


@dataclass(frozen=True)
class Metric:
    """One key number: the level at the end, what it gained in the period and in the one before."""

    key: str  # followers, likes, videos, views, posted, engagement
    level: float | None
    change: float | None
    previous: float | None

    @property
    def change_pct(self) -> float | None:
        """The change against the previous period's, as a fraction (None without a base)."""
        if self.change is None or not self.previous:
            return None
        return (self.change - self.previous) / abs(self.previous)


@dataclass(frozen=True)
class ReportVideo:
    video_id: str
    title: str
    create_time: datetime
    duration: int | None
    view_count: int
    like_count: int
    comment_count: int
    share_count: int
    views_gained: int
    engagement: float | None
    share_url: str | None
    cover: Path | None


@dataclass(frozen=True)
class ReportData:
    account_id: int
    display_name: str | None
    username: str | None
    bio: str | None
    is_verified: bool | None
    avatar: Path | None
    start: date
    end: date
    previous_start: date
    previous_end: date
    tz: str
    generated_at: datetime
    last_synced_at: datetime | None
    syncs_in_range: int
    metrics: list[Metric]
    #: Daily levels (last value of each day in ``tz``) within the range.
    series: dict[str, list[tuple[date, int]]]
    top_videos: list[ReportVideo]
    heatmap: list[list[float | None]]
    hashtags: list[dict]
    buckets: list[dict]
    videos_posted: int
    #: The engagement formula every rate of the report is by (a key of
    #: ``analytics.ENGAGEMENT_FORMULAS``), and the videos posted in the range
    #: that it had to leave out (no views; or no follower count at posting).
    engagement_formula: str = analytics.DEFAULT_ENGAGEMENT
    engagement_left_out: int = 0
    extra: dict = field(default_factory=dict)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def has_data(self) -> bool:
        return self.syncs_in_range > 0


def _bounds(start: date, end: date, tz: tzinfo) -> tuple[datetime, datetime]:
    since = datetime.combine(start, time.min, tz).astimezone(UTC)
    until = datetime.combine(end + timedelta(days=1), time.min, tz).astimezone(UTC)
    return since, until


def _level_at(points: list[tuple[datetime, int]], moment: datetime) -> int | None:
    """The last value measured before ``moment``."""
    index = bisect.bisect_left([p[0] for p in points], moment)
    return points[index - 1][1] if index else None


def _gain(points: list[tuple[datetime, int]], lo: datetime, hi: datetime,
          born: datetime | None = None) -> int | None:
    """How much a level moved from ``lo`` to ``hi``; from the first value inside
    when none is older, or from 0 for a video posted (``born``) inside."""
    end = _level_at(points, hi)
    if end is None:
        return None
    start = _level_at(points, lo)
    if start is None and born is not None and born >= lo:
        return end
    if start is None:  # the history starts inside: from its first value, if it moved since
        inside = [v for t, v in points if lo <= t < hi]
        if len(inside) < 2:
            return None
        start = inside[0]
    return end - start


def _in(moment: datetime, lo: datetime, hi: datetime) -> bool:
    return lo <= moment < hi


def engagement_formula_of(core: Core, person_id: int | None) -> str:
    """The formula a person reads engagement by (the default for nobody or a stale value)."""
    chosen = core.store.accounts.engagement_formula(person_id) if person_id else None
    return chosen if chosen in analytics.ENGAGEMENT_FORMULAS else analytics.DEFAULT_ENGAGEMENT


def build_report(core: Core, account_id: int, start: date, end: date, tz_name: str,
                 now: datetime | None = None,
                 formula: str = analytics.DEFAULT_ENGAGEMENT) -> ReportData:
    """Everything a report of ``start``..``end`` (whole days in ``tz_name``) shows,
    every engagement rate by ``formula``."""
    store, tz = core.store, ZoneInfo(tz_name)
    now = now or datetime.now(UTC)
    account = store.accounts.get(account_id)
    length = timedelta(days=(end - start).days + 1)
    previous_start, previous_end = start - length, start - timedelta(days=1)
    since, until = _bounds(start, end, tz)
    prev_since = since - length
    snapshots = [{"taken_at": s.taken_at, "follower_count": s.follower_count,
                  "likes_count": s.likes_count, "video_count": s.video_count}
                 for s in store.history.profile_snapshots(account_id)]
    rows = store.history.analytics_rows(account_id)
    born = {r["video_id"]: r["create_time"] for r in rows}
    views = _view_history(core, account_id, (prev_since, since, until), born)
    metrics, series = [], {}
    for key, column in (("followers", "follower_count"), ("likes", "likes_count"),
                        ("videos", "video_count")):
        points = analytics.series(snapshots, column)
        metrics.append(Metric(key, _level_at(points, until), _gain(points, since, until),
                              _gain(points, prev_since, since)))
        series[key] = analytics.resample([p for p in points if _in(p[0], since, until)], "day", tz=tz)
    total_views = sorted(views["totals"].items())
    metrics.append(Metric("views", _level_at(total_views, until), views["gained"],
                          views["previous"]))
    series["views"] = analytics.resample([p for p in total_views if _in(p[0], since, until)],
                                         "day", tz=tz)
    posted = [r for r in analytics.live_videos(rows, include_gone=True)
              if _in(r["create_time"], since, until)]
    posted_before = [r for r in rows if _in(r["create_time"], prev_since, since)]
    metrics.append(Metric("posted", None, len(posted), len(posted_before)))
    followers = analytics.FollowerHistory(analytics.series(snapshots, "follower_count"))
    rate = analytics.engagement(posted, formula, followers, include_gone=True)
    before = analytics.engagement(posted_before, formula, followers, include_gone=True)
    metrics.append(Metric("engagement", None, rate.value, before.value))
    return ReportData(
        account_id=account_id, display_name=account.display_name, username=account.username,
        bio=account.bio_description, is_verified=account.is_verified,
        avatar=core.media.path("avatar", account_id, "avatar"),
        start=start, end=end, previous_start=previous_start, previous_end=previous_end,
        tz=tz_name, generated_at=now, last_synced_at=account.last_synced_at,
        syncs_in_range=sum(1 for s in snapshots if _in(s["taken_at"], since, until)),
        metrics=metrics, series=series,
        top_videos=_top_videos(core, account_id, rows, views["by_video"],
                               lambda video: analytics.video_rate(video, formula, followers)),
        heatmap=analytics.weekday_hour_heatmap(posted, tz, "view_count", "mean"),
        hashtags=analytics.hashtag_stats(posted, followers=followers)[:TOP_HASHTAGS],
        buckets=analytics.duration_buckets(posted, followers=followers),
        videos_posted=len(posted), engagement_formula=formula, engagement_left_out=rate.left_out,
    )


def _view_history(core: Core, account_id: int, bounds: tuple[datetime, datetime, datetime],
                  born: dict[str, datetime]) -> dict:
    """Views from the video snapshots: each video's gain in the range and the
    one before, and the total of all videos at each sync."""
    prev_since, since, until = bounds
    per_video: dict[str, list[tuple[datetime, int]]] = {}
    totals: dict[datetime, int] = {}
    for video_id, taken_at, views in core.store.history.view_points(account_id, prev_since, until):
        per_video.setdefault(video_id, []).append((taken_at, views))
        totals[taken_at] = totals.get(taken_at, 0) + views
    by_video, gained, previous = {}, None, None
    for video_id, points in per_video.items():
        points.sort()
        now_gain = _gain(points, since, until, born.get(video_id))
        before_gain = _gain(points, prev_since, since, born.get(video_id))
        if now_gain is not None:
            by_video[video_id] = now_gain
            gained = (gained or 0) + now_gain
        if before_gain is not None:
            previous = (previous or 0) + before_gain
    return {"by_video": by_video, "gained": gained, "previous": previous, "totals": totals}


def _top_videos(core: Core, account_id: int, rows: list[dict], gains: dict[str, int],
                rate) -> list[ReportVideo]:
    """The videos that gained the most views in the range (ties: most views in all)."""
    live = {r["video_id"]: r for r in analytics.live_videos(rows)}
    ranked = sorted((vid for vid in gains if vid in live),
                    key=lambda vid: (-gains[vid], -live[vid]["view_count"], vid))[:TOP_VIDEOS]
    urls = {v.video_id: v.share_url for v in core.store.history.videos_by_ids(account_id, ranked)}
    return [ReportVideo(
        video_id=vid, title=live[vid]["title"] or live[vid]["video_description"] or "",
        create_time=live[vid]["create_time"], duration=live[vid]["duration"],
        view_count=live[vid]["view_count"], like_count=live[vid]["like_count"],
        comment_count=live[vid]["comment_count"], share_count=live[vid]["share_count"],
        views_gained=gains[vid], engagement=rate(live[vid]),
        share_url=urls.get(vid), cover=core.media.path("cover", account_id, vid),
    ) for vid in ranked]
