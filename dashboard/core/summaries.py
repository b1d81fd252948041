"""Per-sync summaries: what the pages show, computed once by the sync.

At the end of a sync, inside its final transaction, the worker walks the
account's videos once, in batches, through the analytics accumulators, and
stores the result as JSON beside the data it describes: the top lists, the
length buckets, the hashtags, the median, the count behind paging, and the
profile's history. The parts that depend on a time zone (the posting
heatmap, posts per month) are stored per zone: UTC and every zone someone
viewed the account in. Pages read the summary and never aggregate over all
videos; the one exception is the first view in a time zone nobody used
before, which computes that zone's part once and stores it with the sync.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from dashboard import analytics
from dashboard.storage.history import COUNT_FIELDS
from dashboard.storage.summaries import MAIN

from .context import Core

log = logging.getLogger(__name__)

#: Bump when the stored shape changes: older summaries are then recomputed.
VERSION = 2
#: Videos in each top list, hashtags in the hashtag chart.
TOP_VIDEOS = 5
TOP_TAGS = 15
#: Metrics with a top list on the analytics page (the overview shows views).
#: ``engagement`` is each video's own rate (the ``views`` and ``median``
#: formulas agree on one video); ``engagement_followers`` the ``followers`` one.
TOP_METRICS = ("view_count", "like_count", "comment_count", "share_count", "engagement",
               "engagement_followers")
#: At most this many time zones are kept per account (the most recent ones).
MAX_ZONES = 16
ALWAYS_ZONES = ("UTC",)


@dataclass(frozen=True)
class Summary:
    """One account's summary, as the pages read it."""

    #: Names this summary exactly, for caches: (run id, when each part was made).
    stamp: tuple
    #: The sync run it summarizes (None: no sync wrote data yet).
    run_id: int | None = None
    taken_at: datetime | None = None
    #: Videos ever seen (deleted ones too) and videos still listed.
    all_videos: int = 0
    live_videos: int = 0
    median_views: float | None = None
    #: The live videos' engagement by each formula: ``{formula: {"value",
    #: "videos", "left_out"}}`` (see :meth:`analytics.EngagementTotals.as_dict`).
    engagement: dict[str, dict] = field(default_factory=dict)
    #: Video ids of the top videos by each of :data:`TOP_METRICS`, best first.
    top: dict[str, list[str]] = field(default_factory=dict)
    buckets: list[dict] = field(default_factory=list)
    tags: list[dict] = field(default_factory=list)
    #: (taken_at, value) of each profile count, oldest first, without gaps.
    profile: dict[str, list[tuple[datetime, int]]] = field(default_factory=dict)
    #: The time zone's part.
    heatmap: list[list[float | None]] | None = None
    frequency: list[tuple[date, int]] = field(default_factory=list)


EMPTY = Summary(stamp=(None,))


# --- making a summary ---------------------------------------------------------------


class _Accumulators:
    """Every number a summary holds, fed one video at a time."""

    def __init__(self, zones: Iterable[str], profile: list[dict]):
        self.all = 0
        self.live_views: list[int] = []
        followers = analytics.FollowerHistory(analytics.series(profile, "follower_count"))
        self.engagement = analytics.EngagementTotals(followers)
        self.top = {m: analytics.TopVideos(m, TOP_VIDEOS, followers=followers) for m in TOP_METRICS}
        self.buckets = analytics.DurationBuckets(followers=followers)
        self.tags = analytics.HashtagStats(followers=followers)
        self.zones = {z: (analytics.Heatmap(ZoneInfo(z), "view_count", "mean"),
                          analytics.PostingFrequency("month", tz=ZoneInfo(z))) for z in zones}

    def add(self, video: dict) -> None:
        self.all += 1
        if video["gone_at"] is None:
            self.live_views.append(video["view_count"])
            self.engagement.add(video)
        slim = _slim(video)
        for top in self.top.values():
            top.add(slim)
        self.buckets.add(video)
        self.tags.add(video)
        for heatmap, frequency in self.zones.values():
            heatmap.add(video)
            frequency.add(video)

    def main_part(self, taken_at: datetime | None, profile: list[dict]) -> str:
        return json.dumps({
            "version": VERSION,
            "taken_at": taken_at.isoformat() if taken_at else None,
            "all_videos": self.all,
            "live_videos": len(self.live_views),
            "median_views": analytics.median(self.live_views),
            "engagement": self.engagement.as_dict(),
            "top": {m: [v["video_id"] for v in top.result()] for m, top in self.top.items()},
            "buckets": self.buckets.result(),
            "tags": self.tags.result()[:TOP_TAGS],
            "profile": {f: [[t.isoformat(), v] for t, v in analytics.series(profile, f)]
                        for f in COUNT_FIELDS},
        }, separators=(",", ":"))

    def zone_parts(self) -> dict[str, str]:
        return {
            zone: json.dumps({
                "version": VERSION,
                "heatmap": heatmap.result() if self.all else None,
                "frequency": [[d.isoformat(), n] for d, n in frequency.result()],
            }, separators=(",", ":"))
            for zone, (heatmap, frequency) in self.zones.items()
        }


def _slim(video: dict) -> dict:
    """What a top list keeps of a video: not its title and description."""
    return {k: video[k] for k in ("video_id", "create_time", "view_count", "like_count",
                                  "comment_count", "share_count", "gone_at")}


def summarize_sync(core: Core, account_id: int, run_id: int, taken_at: datetime, db) -> None:
    """Inside a sync's final transaction: compute and store the account's summary,
    replacing the last one, for UTC and the zones the last one had."""
    history, summaries = core.store.history, core.store.summaries
    profile = history.profile_points(account_id, db=db)
    totals = _Accumulators(zones_of(core, account_id), profile)
    for video in history.iter_analytics_rows(account_id, db=db):
        totals.add(video)
    parts = {MAIN: totals.main_part(taken_at, profile),
             **totals.zone_parts()}
    summaries.replace(db, account_id, run_id, parts)


def zones_of(core: Core, account_id: int) -> list[str]:
    """The time zones the account's summary is kept in."""
    return _zones(core.store.summaries.zones(account_id, MAX_ZONES))


def _zones(known: list[str]) -> list[str]:
    zones = list(dict.fromkeys((*ALWAYS_ZONES, *known)))[:MAX_ZONES]
    return [z for z in zones if _valid_zone(z)]


def _valid_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ValueError, KeyError, OSError):
        return False
    return True


# --- reading a summary ----------------------------------------------------------------

_computing: dict[tuple, threading.Lock] = {}
_computing_lock = threading.Lock()


def load(core: Core, account_id: int, zone: str) -> Summary:
    """The account's summary with ``zone``'s part: one query when it is stored
    (the text is read and parsed once per process), else made now, once."""
    stamps = core.store.summaries.stamps(account_id, zone)
    main, part = stamps.get(MAIN), stamps.get(zone)
    if main is None or part is None or main.run_id != part.run_id:
        return _fill(core, account_id, zone)
    return _parsed(core, account_id, main, part)


_parsed_cache: dict[tuple, Summary] = {}
_parsed_lock = threading.Lock()
_PARSED_SIZE = 64


def _parsed(core: Core, account_id: int, main, part) -> Summary:
    key = (id(core.store), account_id, main.id, main.created_at, part.id, part.created_at)
    summary = _parsed_cache.get(key)
    if summary is None:
        main_text, zone_text = core.store.summaries.load(main.id), core.store.summaries.load(part.id)
        if main_text is None or zone_text is None:  # a sync replaced it in between
            return _fill(core, account_id, part.zone)
        summary = _parse(key, main_text, zone_text, main.run_id)
        if summary is None:  # stored by an older version of the dashboard
            return _fill(core, account_id, part.zone, force=True)
        with _parsed_lock:
            while len(_parsed_cache) >= _PARSED_SIZE:
                _parsed_cache.pop(next(iter(_parsed_cache)))
            _parsed_cache[key] = summary
    return summary


def _fill(core: Core, account_id: int, zone: str, force: bool = False) -> Summary:
    """Make the parts the stored summary lacks, one caller at a time per account
    and zone in this process (the others wait, then read what it stored)."""
    key = (id(core.store), account_id, zone)
    with _computing_lock:
        lock = _computing.setdefault(key, threading.Lock())
    with lock:
        stamps = core.store.summaries.stamps(account_id, zone)
        main, part = stamps.get(MAIN), stamps.get(zone)
        if not force and main is not None and part is not None and main.run_id == part.run_id:
            return _parsed(core, account_id, main, part)
        run = core.store.runs.latest_ok(account_id)
        if run is None:
            return EMPTY
        if not _valid_zone(zone):
            zone = "UTC"
        if force:
            core.store.summaries.discard(account_id)
            main = None
        log.info("summarizing account %s for time zone %s outside a sync", account_id, zone)
        with core.store.session() as db:
            profile = core.store.history.profile_points(account_id, db=db)
        totals = _Accumulators([zone], profile)
        for video in core.store.history.iter_analytics_rows(account_id):
            totals.add(video)
        main_text = totals.main_part(run.taken_at, profile)
        zone_text = totals.zone_parts()[zone]
        parts = {MAIN: main_text, zone: zone_text}
        if main is not None and main.run_id == run.id:
            del parts[MAIN]  # the stored main part stays; only the zone was missing
        core.store.summaries.add_parts(account_id, run.id, parts)
        return _parse((run.id, "unsaved", zone), main_text, zone_text, run.id) or EMPTY


def _parse(stamp: tuple, main_text: str, zone_text: str, run_id: int) -> Summary | None:
    """The stored texts as a :class:`Summary`; None when they are of another version."""
    main, part = json.loads(main_text), json.loads(zone_text)
    if main.get("version") != VERSION or part.get("version") != VERSION:
        return None
    return Summary(
        stamp=stamp,
        run_id=run_id,
        taken_at=datetime.fromisoformat(main["taken_at"]) if main["taken_at"] else None,
        all_videos=main["all_videos"],
        live_videos=main["live_videos"],
        median_views=main["median_views"],
        engagement=main["engagement"],
        top=main["top"],
        buckets=main["buckets"],
        tags=main["tags"],
        profile={f: [(datetime.fromisoformat(t), v) for t, v in points]
                 for f, points in main["profile"].items()},
        heatmap=part["heatmap"],
        frequency=[(date.fromisoformat(d), n) for d, n in part["frequency"]],
    )
