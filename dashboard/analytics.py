"""Pure analytics for the dashboard: rows in, numbers out.

The storage layer hands in plain dicts (shapes below); nothing here touches
Flask, the database or the network, so every function is cheap to test.

* Profile snapshot: ``taken_at`` (aware UTC datetime), ``follower_count``,
  ``following_count``, ``likes_count``, ``video_count`` (``int`` or ``None``
  when the scope was not granted).
* Video: ``video_id``, ``create_time``, ``title``, ``video_description``,
  ``duration`` (seconds), ``view_count``, ``like_count``, ``comment_count``,
  ``share_count``, ``gone_at`` (``None`` while the video is still listed).
* Video snapshot: ``taken_at``, ``view_count``, ``like_count``,
  ``comment_count``, ``share_count``.

Conventions shared by every function:

* Counts from snapshots are *levels* (followers right now), not flows, so
  resampling keeps the last value of a period rather than summing.
* Functions that aggregate videos skip deleted ones (``gone_at`` set) unless
  called with ``include_gone=True``.
* "No answer" is ``None`` (zero views, empty input), never ``0`` or ``NaN``,
  so templates can tell "nothing" from "zero".
* Everything is O(n log n) or better in the number of rows.
"""

from __future__ import annotations

import bisect
import heapq
import math
import statistics
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo

ENGAGEMENT_FORMULA = "(likes + comments + shares) / views"
#: The engagement formulas a person can choose, the default first:
#: ``views`` (sum of interactions ÷ sum of views), ``median`` (median of each
#: video's own rate) and ``followers`` (interactions ÷ followers at posting).
ENGAGEMENT_FORMULAS = ("views", "median", "followers")
DEFAULT_ENGAGEMENT = "views"

PERIODS = ("day", "week", "month")
VIDEO_METRICS = ("view_count", "like_count", "comment_count", "share_count", "engagement",
                 "engagement_followers")
HEATMAP_AGGS = ("mean", "count")

# (label_key, lowest duration in seconds, first duration of the next bucket).
# Lower bounds are inclusive: a 15 s video is "15_30s"; exactly 180 s is still
# "1_3min" because the last bucket is "more than 3 minutes".
DURATION_BUCKETS = (
    ("under_15s", 0, 15),
    ("15_30s", 15, 30),
    ("30_60s", 30, 60),
    ("1_3min", 60, 181),
    ("over_3min", 181, math.inf),
)
DURATION_BUCKET_LABELS = {
    "under_15s": "< 15 s",
    "15_30s": "15–30 s",
    "30_60s": "30–60 s",
    "1_3min": "1–3 min",
    "over_3min": "> 3 min",
}

Point = tuple[datetime, int]


@dataclass(frozen=True)
class Change:
    """The change of a level over a window, as returned by :func:`net_change`.

    ``value`` is ``latest - baseline`` (negative when a count went down) and
    ``pct`` the same as a percentage of ``baseline`` (``None`` when the
    baseline is 0). ``partial`` is true when the history starts inside the
    window, so the baseline is the first snapshot (at ``baseline_at``) rather
    than one from the window start: "+120 since 3 May" instead of "+120 in
    30 days".
    """

    value: int
    pct: float | None
    baseline: int
    baseline_at: datetime
    latest: int
    latest_at: datetime
    partial: bool


# --- time series of levels -------------------------------------------------


def series(snapshots: Iterable[dict], field: str) -> list[Point]:
    """Return ``(taken_at, snapshot[field])`` sorted by time, skipping ``None``."""
    points = [(s["taken_at"], s.get(field)) for s in snapshots]
    return sorted((p for p in points if p[1] is not None), key=lambda p: p[0])


def period_start(moment: date | datetime, period: str, tz: tzinfo | None = None) -> date:
    """Return the first day of the ``period`` holding ``moment``.

    Weeks start on Monday. A datetime is converted to ``tz`` first when one is
    given (the viewer's calendar), otherwise its own date is used (UTC for the
    rows the storage layer builds).
    """
    _check_choice("period", period, PERIODS)
    if isinstance(moment, datetime):
        moment = (moment.astimezone(tz) if tz is not None else moment).date()
    if period == "week":
        return moment - timedelta(days=moment.weekday())
    if period == "month":
        return moment.replace(day=1)
    return moment


def next_period(start: date, period: str) -> date:
    """Return the start of the period after the one starting at ``start``."""
    _check_choice("period", period, PERIODS)
    if period == "week":
        return start + timedelta(weeks=1)
    if period == "month":
        return date(start.year + start.month // 12, start.month % 12 + 1, 1)
    return start + timedelta(days=1)


def resample(points: Iterable[Point], period: str, *, tz: tzinfo | None = None) -> list[tuple[date, int]]:
    """Keep the last value of each period, keyed by the period's start date.

    Periods without a snapshot are left out rather than filled: a level that
    was not measured is unknown, and a line chart joins the known points.
    """
    _check_choice("period", period, PERIODS)
    last: dict[date, int] = {}
    for moment, value in sorted(points, key=lambda p: p[0]):
        last[period_start(moment, period, tz)] = value
    return sorted(last.items())


def net_change(points: Sequence[Point], days: float, now: datetime) -> Change | None:
    """Return how much a level moved in the ``days`` before ``now``.

    The latest value is the last point at or before ``now``; the baseline is
    the last point at or before ``now - days``. When every point is newer than
    that, the first point is the baseline and the result is ``partial``.
    Returns ``None`` when there are not two distinct snapshots to compare:
    no points up to ``now``, or the baseline is the latest point itself.
    """
    ordered = sorted(points, key=lambda p: p[0])
    times = [moment for moment, _ in ordered]
    latest_index = bisect.bisect_right(times, now) - 1
    if latest_index < 0:
        return None
    window_start = now - timedelta(days=days)
    baseline_index = max(bisect.bisect_right(times, window_start) - 1, 0)
    if baseline_index >= latest_index:
        return None
    baseline_at, baseline = ordered[baseline_index]
    latest_at, latest = ordered[latest_index]
    return Change(
        value=latest - baseline,
        pct=_percent(latest - baseline, baseline),
        baseline=baseline,
        baseline_at=baseline_at,
        latest=latest,
        latest_at=latest_at,
        partial=baseline_at > window_start,
    )


def growth_rate(points: Sequence[Point], days: float, now: datetime) -> float | None:
    """Return the change over the window as a percentage of the baseline.

    ``None`` when :func:`net_change` has no answer or the baseline is 0.
    Check ``net_change(...).partial`` to know whether the whole window counted.
    """
    change = net_change(points, days, now)
    return change.pct if change else None


def _percent(part: float, whole: float) -> float | None:
    return None if whole == 0 else part / whole * 100


# --- per-video numbers ----------------------------------------------------


def engagement_rate(likes: int, comments: int, shares: int, views: int) -> float | None:
    """Return ``(likes + comments + shares) / views`` as a fraction (0.05 = 5 %).

    ``None`` for a video nobody has seen (0 views): the rate is undefined,
    not zero.
    """
    if not views:
        return None
    return ((likes or 0) + (comments or 0) + (shares or 0)) / views


def video_engagement(video: dict) -> float | None:
    """Return :func:`engagement_rate` of one video dict."""
    return engagement_rate(
        video.get("like_count"),
        video.get("comment_count"),
        video.get("share_count"),
        video.get("view_count"),
    )


def metric_value(video: dict, metric: str, followers: FollowerHistory | None = None) -> float | None:
    """Return one of :data:`VIDEO_METRICS` for ``video``.

    ``engagement_followers`` needs the account's follower history (``None``
    without one)."""
    _check_choice("metric", metric, VIDEO_METRICS)
    if metric == "engagement":
        return video_engagement(video)
    if metric == "engagement_followers":
        return follower_engagement(video, followers)
    return video.get(metric)


# --- engagement, by one of three formulas -----------------------------------------


def interactions(video: dict) -> int:
    """Likes + comments + shares of a video (a missing count counts as 0)."""
    return (video.get("like_count") or 0) + (video.get("comment_count") or 0) + (
        video.get("share_count") or 0)


class FollowerHistory:
    """The account's follower counts over time, asked "how many at that moment?".

    Built from ``(taken_at, follower_count)`` points (:func:`series` of the
    profile snapshots); ``None`` counts are skipped.
    """

    def __init__(self, points: Iterable[Point] | None):
        ordered = sorted((p for p in points or () if p[1] is not None), key=lambda p: p[0])
        self._times = [moment for moment, _ in ordered]
        self._counts = [count for _, count in ordered]

    def at(self, moment: datetime) -> int | None:
        """The latest count at or before ``moment``; ``None`` before the first one."""
        index = bisect.bisect_right(self._times, moment) - 1
        return self._counts[index] if index >= 0 else None

    def __bool__(self) -> bool:
        return bool(self._times)


def _history(followers) -> FollowerHistory:
    return followers if isinstance(followers, FollowerHistory) else FollowerHistory(followers)


def follower_engagement(video: dict, followers) -> float | None:
    """A video's interactions ÷ the account's followers when it was posted.

    ``None`` when no follower count is stored at or before its posting time
    (it was posted before the history starts) or that count is 0.
    """
    if followers is None:
        return None
    count = _history(followers).at(video["create_time"])
    return interactions(video) / count if count else None


def video_rate(video: dict, formula: str, followers=None) -> float | None:
    """One video's engagement rate by ``formula``: for ``views`` and ``median``
    it is the video's own rate (:func:`video_engagement`), for ``followers``
    :func:`follower_engagement`."""
    _check_choice("formula", formula, ENGAGEMENT_FORMULAS)
    if formula == "followers":
        return follower_engagement(video, followers)
    return video_engagement(video)


@dataclass(frozen=True)
class Engagement:
    """An engagement rate by one formula, as :func:`engagement` returns it.

    ``value`` is a fraction (0.05 = 5 %) or ``None`` when no video counts;
    ``videos`` is how many videos it is computed over and ``left_out`` how
    many were skipped: no views (``views``, ``median``), or no follower count
    (or 0 followers) at or before the posting time (``followers``).
    """

    formula: str
    value: float | None
    videos: int
    left_out: int


class EngagementTotals:
    """The three formulas at once, fed one video at a time.

    Holds two sums per formula and one rate per seen video (for the median).
    """

    __slots__ = ("followers", "_view_sum", "_view_interactions", "_rates", "_view_left",
                 "_follower_sum", "_follower_interactions", "_follower_videos", "_follower_left")

    def __init__(self, followers=None):
        self.followers = _history(followers) if followers is not None else None
        self._view_sum = self._view_interactions = self._view_left = 0
        self._rates: list[float] = []
        self._follower_sum = self._follower_interactions = 0
        self._follower_videos = self._follower_left = 0

    def add(self, video: dict) -> None:
        done = interactions(video)
        views = video.get("view_count")
        if views:
            self._view_sum += views
            self._view_interactions += done
            self._rates.append(done / views)
        else:
            self._view_left += 1
        count = self.followers.at(video["create_time"]) if self.followers is not None else None
        if count:
            self._follower_sum += count
            self._follower_interactions += done
            self._follower_videos += 1
        else:
            self._follower_left += 1

    def result(self, formula: str) -> Engagement:
        _check_choice("formula", formula, ENGAGEMENT_FORMULAS)
        if formula == "views":
            value = self._view_interactions / self._view_sum if self._view_sum else None
            return Engagement(formula, value, len(self._rates), self._view_left)
        if formula == "median":
            return Engagement(formula, median(self._rates), len(self._rates), self._view_left)
        value = self._follower_interactions / self._follower_sum if self._follower_sum else None
        return Engagement(formula, value, self._follower_videos, self._follower_left)

    def as_dict(self) -> dict[str, dict]:
        """``{formula: {"value", "videos", "left_out"}}`` for every formula (JSON-ready)."""
        return {f: {"value": r.value, "videos": r.videos, "left_out": r.left_out}
                for f in ENGAGEMENT_FORMULAS for r in (self.result(f),)}


def engagement(videos: Iterable[dict], formula: str = DEFAULT_ENGAGEMENT, followers_at=None, *,
               include_gone: bool = False) -> Engagement:
    """The engagement rate of ``videos`` by ``formula`` (one of :data:`ENGAGEMENT_FORMULAS`).

    * ``views`` (the default): the sum of likes + comments + shares ÷ the sum
      of views, over the videos with views (for one video: its own rate);
    * ``median``: the median of each video's own rate (likes + comments +
      shares) ÷ views, over the videos with views;
    * ``followers``: the sum of likes + comments + shares ÷ the sum of the
      followers each video's account had when it was posted (the latest
      count at or before ``create_time`` in ``followers_at``, a sequence of
      ``(taken_at, follower_count)`` points or a :class:`FollowerHistory`).
      Videos posted before the first stored count, or when it was 0, are
      left out and counted in ``left_out``.

    ``value`` is ``None`` ("—") when no video counts: never NaN or infinity.
    """
    _check_choice("formula", formula, ENGAGEMENT_FORMULAS)
    totals = EngagementTotals(followers_at if formula == "followers" else None)
    for video in videos:
        if include_gone or video.get("gone_at") is None:
            totals.add(video)
    return totals.result(formula)


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, not {value!r}")


def views_after_posting(create_time: datetime, snapshots: Iterable[dict], hours: float) -> int | None:
    """Estimate a video's views ``hours`` after it was posted.

    The rule: take the snapshots just before and just after ``create_time +
    hours`` and interpolate linearly between them (rounded to the nearest
    view); a snapshot taken exactly then is used as is. Without a snapshot on
    both sides the number is unknown and the answer is ``None``: after the last
    snapshot views may have grown by any amount, and before the first one we
    do not assume the count started at 0.
    """
    target = create_time + timedelta(hours=hours)
    points = series(snapshots, "view_count")
    times = [moment for moment, _ in points]
    after = bisect.bisect_left(times, target)
    if after == len(points):
        return None
    if times[after] == target:
        return points[after][1]
    if after == 0:
        return None
    (t0, v0), (t1, v1) = points[after - 1], points[after]
    fraction = (target - t0) / (t1 - t0)
    return round(v0 + (v1 - v0) * fraction)


def median(values: Iterable[float | None]) -> float | None:
    """Return the median of the non-``None`` values, ``None`` when there are none."""
    present = [v for v in values if v is not None]
    return float(statistics.median(present)) if present else None


def mean(values: Iterable[float | None]) -> float | None:
    """Return the mean of the non-``None`` values, ``None`` when there are none."""
    present = [v for v in values if v is not None]
    return math.fsum(present) / len(present) if present else None


def performance_vs_median(value: float, values: Iterable[float | None]) -> float | None:
    """Return ``value / median(values)``: 2.0 is twice the usual.

    ``None`` when the median is 0 or there are no values.
    """
    typical = median(values)
    return None if not typical else value / typical


# --- collections of videos ------------------------------------------------


def live_videos(videos: Iterable[dict], include_gone: bool = False) -> list[dict]:
    """Return the videos still listed (all of them with ``include_gone``)."""
    return [v for v in videos if include_gone or v.get("gone_at") is None]


def top_videos(videos: Iterable[dict], metric: str, n: int = 10, *, include_gone: bool = False,
               followers=None) -> list[dict]:
    """Return the ``n`` best videos by ``metric``, best first.

    Ties go to the newest video (then the larger ``video_id``, so the order is
    stable); videos without a value (engagement at 0 views) come last.
    ``engagement_followers`` ranks by :func:`follower_engagement` over the
    ``followers`` history.
    """
    best = TopVideos(metric, n, include_gone=include_gone, followers=followers)
    for video in videos:
        best.add(video)
    return best.result()


class TopVideos:
    """:func:`top_videos`, fed one video at a time: holds ``n`` videos, never all."""

    def __init__(self, metric: str, n: int = 10, *, include_gone: bool = False, followers=None):
        _check_choice("metric", metric, VIDEO_METRICS)
        self.metric, self.n, self.include_gone = metric, n, include_gone
        self.followers = _history(followers) if followers is not None else None
        self._heap: list[tuple] = []

    def add(self, video: dict) -> None:
        if self.n <= 0 or not (self.include_gone or video.get("gone_at") is None):
            return
        value = metric_value(video, self.metric, self.followers)
        # video_id is unique, so no two keys are equal and the dict is never compared.
        key = (value is not None, value or 0, video["create_time"], video["video_id"])
        if len(self._heap) < self.n:
            heapq.heappush(self._heap, (key, video))
        elif key > self._heap[0][0]:
            heapq.heapreplace(self._heap, (key, video))

    def result(self) -> list[dict]:
        return [video for _key, video in sorted(self._heap, key=lambda item: item[0], reverse=True)]


def weekday_hour_heatmap(
    videos: Iterable[dict],
    tz: tzinfo,
    metric: str = "view_count",
    agg: str = "mean",
    *,
    include_gone: bool = False,
) -> list[list[float | None]]:
    """Return a 7 × 24 grid (Monday..Sunday × hour 0..23 in ``tz``) of posts.

    ``agg="count"`` counts the videos posted in each slot (0 when none);
    ``agg="mean"`` averages ``metric`` over them and leaves ``None`` in slots
    without a video (or where the metric is undefined), so a chart can tell
    "no data" from "0 views".
    """
    grid = Heatmap(tz, metric, agg, include_gone=include_gone)
    for video in videos:
        grid.add(video)
    return grid.result()


class Heatmap:
    """:func:`weekday_hour_heatmap`, fed one video at a time (168 cells held)."""

    def __init__(self, tz: tzinfo, metric: str = "view_count", agg: str = "mean", *,
                 include_gone: bool = False):
        _check_choice("metric", metric, VIDEO_METRICS)
        _check_choice("agg", agg, HEATMAP_AGGS)
        self.tz, self.metric, self.agg, self.include_gone = tz, metric, agg, include_gone
        # Counts are whole numbers: their exact sum over the exact count is the
        # same mean as math.fsum of the list. Rates are floats: kept as lists.
        self._cells: list[list[list]] = [[[] for _ in range(24)] for _ in range(7)]
        self._sums = [[0] * 24 for _ in range(7)]
        self._counts = [[0] * 24 for _ in range(7)]

    def add(self, video: dict) -> None:
        if not (self.include_gone or video.get("gone_at") is None):
            return
        value = metric_value(video, self.metric)
        if self.agg == "mean" and value is None:
            return
        local = video["create_time"].astimezone(self.tz)
        day, hour = local.weekday(), local.hour
        self._counts[day][hour] += 1
        if self.agg == "mean":
            if self.metric == "engagement":
                self._cells[day][hour].append(value)
            else:
                self._sums[day][hour] += value

    def result(self) -> list[list[float | None]]:
        if self.agg == "count":
            return [list(row) for row in self._counts]
        if self.metric == "engagement":
            return [[mean(cell) for cell in row] for row in self._cells]
        return [[total / count if count else None for total, count in zip(sums, counts, strict=True)]
                for sums, counts in zip(self._sums, self._counts, strict=True)]


def duration_bucket(seconds: float) -> str:
    """Return the ``label_key`` of the :data:`DURATION_BUCKETS` row for ``seconds``."""
    for label_key, low, next_low in DURATION_BUCKETS:
        if low <= seconds < next_low:
            return label_key
    return DURATION_BUCKETS[0][0]  # negative durations do not happen; file them first


def duration_buckets(videos: Iterable[dict], *, include_gone: bool = False,
                     followers=None) -> list[dict]:
    """Group videos by length, one dict per :data:`DURATION_BUCKETS` entry, in order.

    Each dict: ``label_key``, ``count``, ``median_views`` and ``engagement``:
    ``{formula: {"value", "videos", "left_out"}}`` for every one of
    :data:`ENGAGEMENT_FORMULAS` (``followers`` over the ``followers``
    history). Empty buckets are kept, with ``None`` statistics.
    """
    buckets = DurationBuckets(include_gone=include_gone, followers=followers)
    for video in videos:
        buckets.add(video)
    return buckets.result()


class _Group:
    """The views and engagement of a group of videos: what :meth:`stats` needs."""

    __slots__ = ("views", "engagement")

    def __init__(self, followers: FollowerHistory | None = None):
        self.views: list[int] = []
        self.engagement = EngagementTotals(followers)

    def add(self, video: dict) -> None:
        self.views.append(video.get("view_count"))
        self.engagement.add(video)

    def stats(self) -> dict:
        return {
            "count": len(self.views),
            "median_views": median(self.views),
            "engagement": self.engagement.as_dict(),
        }


class DurationBuckets:
    """:func:`duration_buckets`, fed one video at a time (a view count and a rate each)."""

    def __init__(self, *, include_gone: bool = False, followers=None):
        self.include_gone = include_gone
        history = _history(followers) if followers is not None else None
        self._groups = {key: _Group(history) for key, _, _ in DURATION_BUCKETS}

    def add(self, video: dict) -> None:
        if (self.include_gone or video.get("gone_at") is None) and video.get("duration") is not None:
            self._groups[duration_bucket(video["duration"])].add(video)

    def result(self) -> list[dict]:
        return [{"label_key": key, **group.stats()} for key, group in self._groups.items()]


def _is_tag_char(char: str) -> bool:
    """Letters and digits of any script, ``_``, and combining marks (so Hindi or Thai stay whole)."""
    return char.isalnum() or char == "_" or unicodedata.category(char).startswith("M")


def parse_hashtags(text: str | None) -> list[str]:
    """Return the hashtags in raw ``text``: lowercased, without ``#``, each once.

    Tags keep the order of their first appearance.

    A tag is ``#`` followed by letters (any script, CJK included), digits,
    underscores or combining marks. ``#`` followed by nothing, a space or
    punctuation is not a tag, nor is ``#`` glued to a preceding Latin letter,
    digit or ``&`` (``C#``, ``&#39;``: an HTML entity that leaked into the
    text). A tag may follow CJK text without a space (``今天#日常``), and tags
    glued to each other (``#fyp#foryou``) are two tags, as on TikTok.
    """
    tags: dict[str, None] = {}
    text = text or ""
    previous_end = -1
    position = text.find("#")
    while position != -1:
        end = position + 1
        while end < len(text) and _is_tag_char(text[end]):
            end += 1
        before = text[position - 1] if position else " "
        glued = before.isascii() and (before.isalnum() or before in "_&")
        if end > position + 1 and (position == previous_end or not glued):
            tags.setdefault(text[position + 1 : end].lower())
            previous_end = end
        position = text.find("#", end)
    return list(tags)


def video_hashtags(video: dict) -> list[str]:
    """Return the hashtags of a video's title and description, each once."""
    text = f"{video.get('title') or ''}\n{video.get('video_description') or ''}"
    return parse_hashtags(text)


def hashtag_stats(videos: Iterable[dict], min_videos: int = 1, *, include_gone: bool = False,
                  followers=None) -> list[dict]:
    """Summarise each hashtag used by at least ``min_videos`` videos.

    Each dict: ``tag``, ``count`` (videos using it), ``total_views``,
    ``median_views``, ``engagement`` (as in :func:`duration_buckets`). Sorted by total views, then count,
    then tag, so equal rows keep a stable order.
    """
    stats = HashtagStats(include_gone=include_gone, followers=followers)
    for video in videos:
        stats.add(video)
    return stats.result(min_videos)


class HashtagStats:
    """:func:`hashtag_stats`, fed one video at a time (a view count and a rate per tag use)."""

    def __init__(self, *, include_gone: bool = False, followers=None):
        self.include_gone = include_gone
        self.followers = _history(followers) if followers is not None else None
        self._groups: dict[str, _Group] = {}

    def add(self, video: dict) -> None:
        if not (self.include_gone or video.get("gone_at") is None):
            return
        for tag in video_hashtags(video):
            group = self._groups.get(tag)
            if group is None:
                group = self._groups[tag] = _Group(self.followers)
            group.add(video)

    def result(self, min_videos: int = 1) -> list[dict]:
        rows = [
            {"tag": tag, "total_views": sum(v or 0 for v in group.views), **group.stats()}
            for tag, group in self._groups.items()
            if len(group.views) >= min_videos
        ]
        return sorted(rows, key=lambda r: (-r["total_views"], -r["count"], r["tag"]))


def posting_frequency(
    videos: Iterable[dict],
    period: str,
    *,
    tz: tzinfo | None = None,
    include_gone: bool = False,
) -> list[tuple[date, int]]:
    """Count videos posted per period, from the first period to the last.

    Periods without a post are included with 0 so a bar chart shows the gaps;
    ``tz`` puts posts on the viewer's calendar (default: the dates as stored).
    """
    frequency = PostingFrequency(period, tz=tz, include_gone=include_gone)
    for video in videos:
        frequency.add(video)
    return frequency.result()


class PostingFrequency:
    """:func:`posting_frequency`, fed one video at a time (a count per period held)."""

    def __init__(self, period: str, *, tz: tzinfo | None = None, include_gone: bool = False):
        _check_choice("period", period, PERIODS)
        self.period, self.tz, self.include_gone = period, tz, include_gone
        self._counts: dict[date, int] = {}

    def add(self, video: dict) -> None:
        if self.include_gone or video.get("gone_at") is None:
            start = period_start(video["create_time"], self.period, self.tz)
            self._counts[start] = self._counts.get(start, 0) + 1

    def result(self) -> list[tuple[date, int]]:
        counts = self._counts
        if not counts:
            return []
        current, last = min(counts), max(counts)
        filled = []
        while current <= last:
            filled.append((current, counts.get(current, 0)))
            current = next_period(current, self.period)
        return filled
