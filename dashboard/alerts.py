"""Alert rules: pure functions from an account's stored history to events.

Nothing here touches Flask, the database or the network. The core hands in
an :class:`AccountHistory` (plain values read from storage) and the
account's :class:`AlertRules`; :func:`evaluate` returns the :class:`Event`\\ s
the history shows *now*. Each event carries a stable ``key`` (rule and
subject): the core stores an event once per account and key, so running the
rules again after every sync never fires the same event twice.

The rules:

``video_takeoff``
    A video at most ``TAKEOFF_MAX_AGE`` old gained more views in the last
    24 h than ``takeoff_factor`` × the median of what the account's other
    videos gained in the 24 h before they were the same age (at least
    ``MIN_PEERS`` of them with history at that age), and at least
    ``takeoff_min_views``. Once per video.
``follower_drop``
    Followers fell by more than ``follower_drop_min`` against the last
    snapshot at least 24 h old (or the oldest within the day). Once per UTC day.
``sync_failing``
    The last ``sync_failures`` syncs in a row failed. Once per streak.
``connection_expiring``
    The refresh token ends within ``expiry_days``. Once per token.
``connection_refused``
    TikTok refused the login (the last sync needed a new login). Once per streak.
``video_gone``
    A video vanished from TikTok's list within the last week. Once per disappearance.
``authorization_removed``
    Fired by TikTok's own webhook, not by :func:`evaluate`; listed here so
    every rule name lives in one place.
"""

from __future__ import annotations

import bisect
import statistics
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timedelta

DAY = timedelta(days=1)
#: Only videos this young can "take off"; older ones are the account's catalogue.
TAKEOFF_MAX_AGE = timedelta(days=30)
#: Fewer peers than this at the same age: no median worth comparing with.
MIN_PEERS = 3
#: A video that vanished longer ago than this is old news (e.g. rules just turned on).
GONE_WITHIN = timedelta(days=7)
#: Codes of runs that say nothing about the account (another sync held it).
NOT_FAILURES = frozenset({"sync_in_progress"})

RULES = ("video_takeoff", "follower_drop", "sync_failing", "connection_expiring",
         "connection_refused", "video_gone", "authorization_removed")


@dataclass(frozen=True)
class AlertRules:
    """One account's rules: each on or off, with its threshold."""

    video_takeoff: bool = True
    takeoff_factor: float = 3.0
    takeoff_min_views: int = 1000
    follower_drop: bool = True
    follower_drop_min: int = 100
    sync_failing: bool = True
    sync_failures: int = 3
    connection_expiring: bool = True
    expiry_days: int = 7
    connection_refused: bool = True
    video_gone: bool = True
    authorization_removed: bool = True

    #: Allowed ranges of the thresholds (inclusive), for forms and stored values.
    LIMITS = {"takeoff_factor": (1.5, 100.0), "takeoff_min_views": (0, 10**12),
              "follower_drop_min": (1, 10**12), "sync_failures": (1, 100),
              "expiry_days": (1, 60)}

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict | None) -> AlertRules:
        """Rules from stored or submitted values; anything unknown, mistyped or
        out of range falls back to its default (stored values are never trusted)."""
        defaults = cls()
        values = {}
        for f in fields(cls):
            value = (raw or {}).get(f.name, getattr(defaults, f.name))
            default = getattr(defaults, f.name)
            if isinstance(default, bool):
                values[f.name] = value if isinstance(value, bool) else default
                continue
            kind = type(default)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                value = default
            low, high = cls.LIMITS[f.name]
            values[f.name] = kind(value) if low <= value <= high else default
        return cls(**values)

    def enabled(self, rule: str) -> bool:
        return bool(getattr(self, rule, False))


@dataclass(frozen=True)
class VideoHistory:
    """A video and its stored view counts, oldest first."""

    video_id: str
    title: str
    create_time: datetime
    gone_at: datetime | None
    #: (taken_at, view_count), sorted by time.
    views: tuple[tuple[datetime, int], ...] = ()


@dataclass(frozen=True)
class RunRecord:
    started_at: datetime
    status: str  # "ok", "failed", "running", "queued"
    code: str | None = None
    id: int = 0


@dataclass(frozen=True)
class AccountHistory:
    """What the rules read, as of ``now``."""

    now: datetime
    #: (taken_at, follower_count), oldest first.
    followers: tuple[tuple[datetime, int | None], ...] = ()
    videos: tuple[VideoHistory, ...] = ()
    #: The latest sync runs, newest first.
    runs: tuple[RunRecord, ...] = ()
    #: When the refresh token ends; None when there is none.
    refresh_expires_at: datetime | None = None
    #: Set when TikTok told us (webhook) the access was removed.
    disconnected_at: datetime | None = None


@dataclass(frozen=True)
class Event:
    rule: str
    key: str
    occurred_at: datetime
    #: What the event is about, for people: a video's title, a date.
    subject: str = ""
    numbers: dict = field(default_factory=dict)


# --- helpers ----------------------------------------------------------------------------


def views_at(video: VideoHistory, t: datetime) -> int | None:
    """The video's views at ``t``: 0 until it was posted, the last stored
    count at or before ``t``, None when nothing stored says."""
    if t <= video.create_time:
        return 0
    times = [taken for taken, _ in video.views]
    i = bisect.bisect_right(times, t)
    return video.views[i - 1][1] if i else None


def gain_24h(video: VideoHistory, end: datetime) -> int | None:
    """Views gained in the 24 h up to ``end``, or None when unknown."""
    last, first = views_at(video, end), views_at(video, end - DAY)
    if last is None or first is None:
        return None
    return max(0, last - first)


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


# --- the rules ------------------------------------------------------------------------------


def video_takeoff(history: AccountHistory, rules: AlertRules) -> list[Event]:
    now, events = history.now, []
    for video in history.videos:
        age = now - video.create_time
        if video.gone_at is not None or not video.views or age > TAKEOFF_MAX_AGE or age <= timedelta(0):
            continue
        gained = gain_24h(video, now)
        if gained is None or gained < max(rules.takeoff_min_views, 1):
            continue
        peers = [gain_24h(other, other.create_time + age) for other in history.videos
                 if other is not video and other.create_time + age <= now]
        peers = [g for g in peers if g is not None]
        if len(peers) < MIN_PEERS:
            continue
        median = statistics.median(peers)
        if gained > rules.takeoff_factor * max(median, 1):
            events.append(Event(
                "video_takeoff", f"video_takeoff:{video.video_id}", now, video.title,
                {"video_id": video.video_id, "views_24h": gained, "median_24h": median,
                 "factor": round(gained / max(median, 1), 1), "threshold": rules.takeoff_factor,
                 "age_hours": int(age.total_seconds() // 3600),
                 "views": video.views[-1][1]}))
    return events


def follower_drop(history: AccountHistory, rules: AlertRules) -> list[Event]:
    points = [(t, n) for t, n in history.followers if n is not None and t <= history.now]
    if len(points) < 2:
        return []
    latest_at, latest = points[-1]
    day_ago = latest_at - DAY
    older = [p for p in points if p[0] <= day_ago]
    base_at, base = older[-1] if older else next(p for p in points if p[0] >= day_ago)
    lost = base - latest
    if base_at == latest_at or lost <= rules.follower_drop_min:
        return []
    day = latest_at.date().isoformat()
    return [Event("follower_drop", f"follower_drop:{day}", latest_at, day,
                  {"before": base, "after": latest, "lost": lost, "since": _iso(base_at),
                   "threshold": rules.follower_drop_min})]


def _failure_streak(history: AccountHistory) -> list[RunRecord]:
    streak = []
    for run in history.runs:
        if run.status in ("running", "queued") or run.code in NOT_FAILURES:
            continue
        if run.status != "failed":
            break
        streak.append(run)
    return streak


def sync_failing(history: AccountHistory, rules: AlertRules) -> list[Event]:
    if history.disconnected_at is not None:
        return []  # no sync can work until a new login; the removal's alert said so
    streak = _failure_streak(history)
    if len(streak) < rules.sync_failures:
        return []
    first = streak[-1]
    return [Event("sync_failing", f"sync_failing:{first.id or _iso(first.started_at)}",
                  streak[0].started_at, "",
                  {"failures": len(streak), "last_code": streak[0].code or "",
                   "since": _iso(first.started_at), "threshold": rules.sync_failures})]


def connection_expiring(history: AccountHistory, rules: AlertRules) -> list[Event]:
    ends = history.refresh_expires_at
    if ends is None or history.disconnected_at is not None:
        return []
    left = ends - history.now
    if left > timedelta(days=rules.expiry_days):
        return []
    return [Event("connection_expiring", f"connection_expiring:{ends.date().isoformat()}", history.now, "",
                  {"expires_at": _iso(ends), "days_left": max(0, left.days),
                   "threshold": rules.expiry_days})]


def connection_refused(history: AccountHistory, rules: AlertRules) -> list[Event]:
    if history.disconnected_at is not None:
        return []  # TikTok's webhook said so already, with its own alert
    streak = []
    for run in _failure_streak(history):
        if run.code != "reauth_required":
            break
        streak.append(run)
    if not streak:
        return []
    first = streak[-1]
    return [Event("connection_refused", f"connection_refused:{first.id or _iso(first.started_at)}",
                  first.started_at, "", {"since": _iso(first.started_at)})]


def video_gone(history: AccountHistory, rules: AlertRules) -> list[Event]:
    events = []
    for video in history.videos:
        gone = video.gone_at
        if gone is None or gone > history.now or history.now - gone > GONE_WITHIN:
            continue
        events.append(Event("video_gone", f"video_gone:{video.video_id}:{_iso(gone)}", gone,
                            video.title, {"video_id": video.video_id, "gone_at": _iso(gone),
                                          "views": video.views[-1][1] if video.views else None}))
    return events


EVALUATED = {
    "video_takeoff": video_takeoff,
    "follower_drop": follower_drop,
    "sync_failing": sync_failing,
    "connection_expiring": connection_expiring,
    "connection_refused": connection_refused,
    "video_gone": video_gone,
}


def evaluate(history: AccountHistory, rules: AlertRules) -> list[Event]:
    """Every event the rules that are on find in ``history``."""
    events: list[Event] = []
    for name, rule in EVALUATED.items():
        if rules.enabled(name):
            events.extend(rule(history, rules))
    return events
