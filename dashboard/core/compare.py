"""Comparing two to ten accounts over one date range, from the stored history.

This module computes; it never words (``dashboard.web.compare`` does). It
reads a few bounded aggregates per account (:class:`HistoryStore`'s
comparison queries) and shapes them with :mod:`dashboard.comparison`.
Ranges are whole days in the viewer's time zone and are checked as reports
check theirs (:func:`dashboard.core.reports.check_range`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dashboard import analytics, comparison

from . import reports
from .context import Core

MIN_ACCOUNTS = 2
MAX_ACCOUNTS = 10
TOP_VIDEOS = 3
#: The longest range compared: the reports' limit, and the daily charts stay readable.
MAX_DAYS = reports.MAX_DAYS
DEFAULT_FORMULA = analytics.DEFAULT_ENGAGEMENT


class SelectionError(ValueError):
    """The ``accounts`` asked for cannot be compared; ``code`` says why."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code  # not_a_number, duplicate, too_few, too_many, not_visible

    @property
    def status(self) -> int:
        """404 for an id the person cannot see (whether it exists is nobody's business)."""
        return 404 if self.code == "not_visible" else 400


def visible_accounts(store, person_id: int) -> list:
    """The accounts this person may see (owned, then shared with them), in a stable order."""
    return [account for account, _role in store.accounts.visible_to(person_id)]


def engagement(history, account_id: int, totals: dict[str, int], since: datetime, until: datetime,
               formula: str = DEFAULT_FORMULA) -> float | None:
    """The engagement rate of the videos posted in ``[since, until)`` by
    ``formula`` (:data:`analytics.ENGAGEMENT_FORMULAS`); None when nothing
    divides. By views, from the range's sums; the median and the rate by
    followers read the range's videos (and the follower history)."""
    if formula not in analytics.ENGAGEMENT_FORMULAS:
        raise ValueError(f"unknown engagement formula {formula!r}")
    if formula == "views":
        return analytics.engagement_rate(totals["likes"], totals["comments"], totals["shares"],
                                         totals["views"])
    followers = history.follower_points(account_id) if formula == "followers" else None
    return analytics.engagement(history.posted_counts(account_id, since, until), formula, followers,
                                include_gone=True).value


def parse_selection(raw_values: list[str], visible_ids: list[int]) -> list[int]:
    """The account ids of ``?accounts=1,2`` (or repeated ``accounts`` checkboxes),
    in the order given, or :class:`SelectionError`."""
    parts = [p.strip() for raw in raw_values for p in raw.split(",") if p.strip()]
    ids = []
    for part in parts:
        if not (part.isascii() and part.isdigit() and len(part) <= 10) or int(part) > 2**31 - 1:
            raise SelectionError("not_a_number")
        ids.append(int(part))
    if len(set(ids)) != len(ids):
        raise SelectionError("duplicate")
    if len(ids) < MIN_ACCOUNTS:
        raise SelectionError("too_few")
    if len(ids) > MAX_ACCOUNTS:
        raise SelectionError("too_many")
    if any(i not in visible_ids for i in ids):
        raise SelectionError("not_visible")
    return ids


def requested_range(preset: str | None, raw_from: str | None, raw_to: str | None, today: date
                    ) -> tuple[date, date]:
    """A preset (``last_7``, ``last_28``, ``last_90``, ``last_month``) or ``from``/``to``,
    checked against today (:class:`reports.RangeError`, with ``field`` naming the input)."""
    if preset and preset != "custom":
        if preset not in reports.PRESETS:
            raise _range_error("bad_preset", "preset")
        return reports.preset_range(preset, today)
    days = []
    for name, raw in (("from", raw_from), ("to", raw_to)):
        try:
            days.append(reports.parse_day(raw))
        except reports.RangeError as error:
            error.field = name
            raise
    start, end = days
    try:
        reports.check_range(start, end, today, None)
    except reports.RangeError as error:
        error.field = "from" if error.code == "too_long" else "to"
        raise
    return start, end


def _range_error(code: str, field: str) -> reports.RangeError:
    error = reports.RangeError(code)
    error.field = field
    return error


def bounds(start: date, end: date, tz) -> tuple[datetime, datetime]:
    """Whole days ``start``..``end`` in ``tz`` as a UTC ``[since, until)``."""
    since = datetime.combine(start, time.min, tz).astimezone(UTC)
    until = datetime.combine(end + timedelta(days=1), time.min, tz).astimezone(UTC)
    return since, until


@dataclass(frozen=True)
class TopVideo:
    video_id: str
    title: str
    create_time: datetime
    view_count: int
    share_url: str | None


@dataclass(frozen=True)
class AccountNumbers:
    """One account over one range."""

    account_id: int
    display_name: str | None
    username: str | None
    followers_start: int | None
    followers_end: int | None
    #: When the start level was measured inside the range (the history begins there), that moment.
    start_measured_at: datetime | None
    #: Followers at the last measure of each day (in the viewer's zone) within the range,
    #: from the level carried in at its first day when one was measured before.
    followers: list[tuple[date, int]]
    videos_posted: int
    views: int
    likes: int
    comments: int
    shares: int
    median_views: float | None
    engagement: float | None
    top_videos: list[TopVideo]
    days: int

    @property
    def net_change(self) -> int | None:
        if self.followers_start is None or self.followers_end is None:
            return None
        return self.followers_end - self.followers_start

    @property
    def growth_rate(self) -> float | None:
        return comparison.growth_rate(self.followers_start, self.followers_end)

    @property
    def cadence(self) -> float | None:
        return comparison.cadence(self.videos_posted, self.days)

    @property
    def indexed(self) -> list[tuple[date, float]] | None:
        return comparison.indexed(self.followers, self.followers_start)


#: The numbers a comparison of two periods shows side by side (attributes of AccountNumbers).
COMPARED = ("followers_end", "net_change", "growth_rate", "videos_posted", "cadence", "median_views",
            "engagement")


@dataclass(frozen=True)
class Comparison:
    start: date
    end: date
    tz: str
    formula: str
    accounts: list[AccountNumbers]
    #: The same accounts over the range compared with (``vs``), or None.
    earlier: Comparison | None = None

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def deltas(self) -> dict[int, dict[str, comparison.Delta]]:
        """Per account and number: this range's value against the earlier range's."""
        if self.earlier is None:
            return {}
        before = {a.account_id: a for a in self.earlier.accounts}
        return {a.account_id: {key: comparison.Delta(getattr(a, key), getattr(before[a.account_id], key))
                               for key in COMPARED}
                for a in self.accounts}


def account_numbers(core: Core, account, start: date, end: date, tz_name: str,
                    formula: str = DEFAULT_FORMULA) -> AccountNumbers:
    """One account's numbers for ``start``..``end``: four bounded queries."""
    history, tz = core.store.history, ZoneInfo(tz_name)
    since, until = bounds(start, end, tz)
    baseline, inside = history.follower_levels(account.id, since, until)
    first = comparison.start_level(inside, baseline)
    last = comparison.end_level(inside, baseline)
    totals = history.posted_totals(account.id, since, until)
    middle = history.posted_median_views(account.id, since, until, totals["videos"])
    top = history.top_posted(account.id, since, until, TOP_VIDEOS)
    return AccountNumbers(
        account_id=account.id, display_name=account.display_name, username=account.username,
        followers_start=first[1] if first else None, followers_end=last[1] if last else None,
        start_measured_at=first[0] if first and baseline is None else None,
        followers=_daily(inside, baseline, start, tz),
        videos_posted=totals["videos"], views=totals["views"], likes=totals["likes"],
        comments=totals["comments"], shares=totals["shares"],
        median_views=comparison.median(middle),
        engagement=engagement(history, account.id, totals, since, until, formula),
        top_videos=[TopVideo(v.video_id, v.title or v.video_description or "", v.create_time,
                             v.view_count, v.share_url) for v in top],
        days=(end - start).days + 1,
    )


def _daily(inside, baseline, start: date, tz) -> list[tuple[date, int]]:
    """The day-by-day levels in the range; the first day holds the level carried
    in from before the range when nothing was measured on it."""
    days = analytics.resample(inside, "day", tz=tz)
    if baseline is not None and (not days or days[0][0] != start):
        days.insert(0, (start, baseline[1]))
    return days


def build_comparison(core: Core, accounts: list, start: date, end: date, tz_name: str, *,
                     vs: tuple[date, date] | None = None, formula: str = DEFAULT_FORMULA) -> Comparison:
    """The accounts side by side over ``start``..``end``, and over ``vs`` when given."""
    earlier = (build_comparison(core, accounts, *vs, tz_name, formula=formula) if vs else None)
    return Comparison(start, end, tz_name, formula,
                      [account_numbers(core, a, start, end, tz_name, formula) for a in accounts],
                      earlier)
