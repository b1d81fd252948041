"""What each page shows: plain view models shaped from the per-sync summary
(``dashboard.core.summaries``) by the chart functions.

Routes call these and hand the result to a template; templates only place
it, and never see an ORM row. No page aggregates over an account's videos:
the sync did that once. What is shaped from the summary, and the page parts
rendered from it (:func:`cached_fragment`), are kept per process, keyed by
the summary, the language, the time zone and the account's stamp; the cache
holds frozen view models and strings only, so no request can change what
another is shown, and concurrent first views wait for one rendering.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from babel.dates import format_skeleton
from flask import g, session, url_for
from flask_babel import format_date, format_decimal, format_time, get_locale, ngettext
from flask_babel import gettext as _
from markupsafe import Markup

from dashboard import analytics, charts, comparison
from dashboard.core import summaries
from dashboard.storage.models import utcnow
from dashboard.storage.runs import ACTIVE

from ..context import get_core, get_store
from ..engagement import formula_name, formula_words, left_out_words
from ..i18n import LANGUAGES, compact, date_fmt, datetime_fmt, percent
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
    account_stamp(account.id, known=account)
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
CACHE_SIZE = 256


class SingleFlight:
    """A bounded, least-recently-used cache of values computed once per key in
    this process: a second caller asking for a key being computed waits for it
    rather than computing it again."""

    def __init__(self, size: int):
        self.size = size
        self._values: OrderedDict = OrderedDict()
        self._lock = threading.Lock()
        self._making: dict = {}

    def get(self, key, compute):
        with self._lock:
            if key in self._values:
                self._values.move_to_end(key)
                return self._values[key]
            making = self._making.setdefault(key, threading.Lock())
        with making:
            with self._lock:
                if key in self._values:
                    return self._values[key]
            try:
                value = compute()
            finally:
                with self._lock:
                    self._making.pop(key, None)
            self.put(key, value)
        return value

    def put(self, key, value) -> None:
        with self._lock:
            self._values[key] = value
            self._values.move_to_end(key)
            while len(self._values) > self.size:
                self._values.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._values.clear()


#: Page parts and counts, shared by every app of the process (keys hold the store's id).
_cache = SingleFlight(CACHE_SIZE)
_cached = _cache.get


def latest_sync_run(account_id: int):
    """The account's latest sync run, read once per request (header and cache key)."""
    runs = g.setdefault("last_sync_runs", {})
    if account_id not in runs:
        runs[account_id] = get_store().runs.latest(account_id)
    return runs[account_id]


def summary(account_id: int, tz) -> summaries.Summary:
    """The account's summary in the viewer's time zone, read once per request."""
    known = g.setdefault("summaries", {})
    key = (account_id, str(tz))
    if key not in known:
        known[key] = summaries.load(get_core(), account_id, str(tz))
    return known[key]


def _cache_key(account_id: int, tz, *parts):
    """Names one summary's rendering exactly: the summary's stamp (its run and
    when each part was made), the store, the account's stamp, the language and
    the time zone."""
    return (id(get_store()), account_id, summary(account_id, tz).stamp, account_stamp(account_id),
            str(get_locale()), str(tz), *parts)


def fragment_key(account_id: int, tz, *parts, stored: bool = True) -> tuple:
    """The key a template passes to :func:`cached_fragment` for one page part
    (templates may add names to it: ``(key, "stats")``). ``stored`` parts are
    rendered by the worker after each sync (:func:`prerender`) and kept in the
    database, so the first view after a sync, in any process, renders nothing."""
    return ("fragment", *_cache_key(account_id, tz), stored, *parts)


def cached_fragment(key, caller):
    """``{% call cached_fragment(key) %}…{% endcall %}``: the block is rendered
    once per key, then reused from this process's cache or from the parts the
    worker stored. Only parts that change with a sync (and the language, time
    zone and pictures, which the key holds) go in one: never a CSRF token, a
    flash message or anything from the request. A key of None renders the
    block every time."""
    if key is None:
        return caller()
    if key and isinstance(key[0], tuple):  # (fragment_key(...), "part", ...)
        key = (*key[0], *key[1:])
    if g.get("prerendered") is not None:  # the worker renders every part afresh
        html = _stored_or_rendered(key, caller)
        _cache.put(key, html)
        return Markup(html)
    return Markup(_cached(key, lambda: _stored_or_rendered(key, caller)))


def _stored_or_rendered(key, caller) -> str:
    _tag, _store, account_id, _stamp, account, locale, zone, stored, *parts = key
    name = "|".join((locale, zone, *map(str, parts)))
    if stored:
        parts_by_name = _stored_parts(account_id, locale, zone)
        found = parts_by_name.get(name)
        facts = g.summaries.get((account_id, zone)) if "summaries" in g else None
        if found and facts and found[0] == facts.run_id and found[1] == (account or (None, None))[1]:
            return found[2]
    html = str(caller())
    collecting = g.get("prerendered")
    if stored and collecting is not None:
        collecting[name] = html
    return html


def _stored_parts(account_id: int, locale: str, zone: str) -> dict:
    """The parts the worker stored for this language and zone, read once per request."""
    loaded = g.setdefault("stored_parts", {})
    if (account_id, locale, zone) not in loaded:
        rows = [] if g.get("prerendered") is not None else get_store().summaries.rendered(
            account_id, f"{locale}|{zone}|")
        loaded[(account_id, locale, zone)] = {name: (run, pics, html) for name, run, pics, html in rows}
    return loaded[(account_id, locale, zone)]


class Lazy:
    """A page value computed only when a template reads it: on a view whose
    parts all come from a cache, the data behind them is never shaped."""

    __slots__ = ("_compute", "_value", "_done")

    def __init__(self, compute):
        self._compute, self._value, self._done = compute, None, False

    def _get(self):
        if not self._done:
            self._value, self._done = self._compute(), True
        return self._value

    def __getattr__(self, name):
        return getattr(self._get(), name)

    def __getitem__(self, key):
        return self._get()[key]

    def __iter__(self):
        return iter(self._get())

    def __len__(self):
        return len(self._get())

    def __bool__(self):
        return bool(self._get())

    def __str__(self):
        return str(self._get())

    def __html__(self):
        value = self._get()
        return value.__html__() if hasattr(value, "__html__") else Markup.escape(value)


def lazy_fields(compute, names) -> dict:
    """``{name: Lazy}`` over one dict that ``compute()`` makes on first use."""
    whole = Lazy(compute)
    return {name: Lazy(lambda n=name: whole[n]) for name in names}


def account_stamp(account_id: int, known=None):
    """When the account was connected and its pictures last stored (read once
    per request): row ids are reused after a deletion, and the covers a cached
    page shows arrive after its sync, in a job of their own."""
    stamps = g.setdefault("account_stamps", {})
    if known is not None:
        stamps[account_id] = (known.connected_at, known.pictures_stored_at)
    if account_id not in stamps:
        row = get_store().accounts.get(account_id)
        stamps[account_id] = (row.connected_at, row.pictures_stored_at) if row else None
    return stamps[account_id]


def matching_total(account_id: int, tz, date_from, date_to, minimums: dict[str, int]) -> int:
    """How many videos the videos table's filters match: the sync counted the
    unfiltered case; a filtered count is made once per sync."""
    if date_from is None and date_to is None and not minimums:
        return summary(account_id, tz).live_videos
    key = _cache_key(account_id, tz, "total", date_from, date_to, tuple(sorted(minimums.items())))
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


def _change_text(change: analytics.Change | None, days: int,
                 earlier: analytics.Change | None | bool = False) -> dict | None:
    """A change in words; with ``earlier`` (the change over the ``days`` before:
    ``?vs=previous``) also that one and the difference."""
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
    return {"text": text, "css": css, "vs": _vs_text(change, earlier, days) if earlier is not False else None}


def _vs_text(change: analytics.Change, earlier: analytics.Change | None, days: int) -> str:
    delta = comparison.Delta(change.value, earlier.value if earlier else None)
    return ngettext("previous %(num)d day: %(value)s; change %(change)s (%(pct)s)",
                    "previous %(num)d days: %(value)s; change %(change)s (%(pct)s)", days,
                    value=_signed(earlier.value) if earlier else "—",
                    change=_signed(delta.change) if delta.change is not None else "—",
                    pct=("+" if delta.pct and delta.pct > 0 else "") + percent(delta.pct))


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


OVERVIEW_FIELDS = ("stats", "engagement", "charts", "top_videos", "heatmap", "period", "periods")
ANALYTICS_FIELDS = ("labels", "tops", "rates", "engagement", "heatmap", "buckets", "bucket_labels",
                    "duration_chart", "tags", "tag_chart", "frequency", "frequency_chart",
                    "frequency_table", "formula", "tz_name")


#: The pages whose parts the worker renders after each sync.
PRERENDERED = (("/", "dashboard.overview"), ("/?period=week", "dashboard.overview"),
               ("/?period=month", "dashboard.overview"), ("/analytics", "dashboard.analytics"),
               ("/videos", "dashboard.videos"),
               *((f"/videos?sort={metric}", "dashboard.videos")
                 for metric in ("view_count", "like_count", "comment_count", "share_count")))


#: Time zones rendered ahead (UTC and the most recently added ones); a page in
#: another zone renders its parts on its first view.
PRERENDERED_ZONES = 4


def prerender(app, account_id: int) -> None:
    """In the worker, after a sync (or the pictures it brought): render the
    parts of the overview and analytics pages in each language and in each
    time zone the summary is kept in, and store them for every process."""
    core = app.extensions["core"]
    row = core.store.accounts.get(account_id)
    if row is None:
        return
    collected: dict[str, str] = {}
    seen = set()
    for zone in summaries.zones_of(core, account_id)[:PRERENDERED_ZONES]:
        for lang in LANGUAGES:
            for path, endpoint in PRERENDERED:
                # A context of its own (and so a g of its own) for each
                # rendering, even inside a request (the sync on connect).
                with app.app_context(), app.test_request_context(path):
                    session.update(person_id=row.person_id, account_id=account_id, lang=lang, tz=zone)
                    g.prerendered = collected
                    # The default formula only: a part of another renders on its first view.
                    g.engagement_formula = analytics.DEFAULT_ENGAGEMENT
                    app.view_functions[endpoint]()
                    seen.add(summary(account_id, ZoneInfo(zone)).run_id)
    # Parts of two summaries (a sync ended meanwhile) would be stored under the
    # newer one: store nothing then; the newer sync renders its own.
    if len(seen) == 1 and None not in seen:
        core.store.summaries.save_rendered(account_id, seen.pop(), row.pictures_stored_at, collected)


def engagement_part(formula: str) -> str:
    """The name a page part that shows an engagement rate adds to its key."""
    return "engagement=" + formula


def engagement_view(facts: summaries.Summary, formula: str) -> dict:
    """The account's engagement rate (its live videos) by ``formula``, with its words."""
    found = facts.engagement.get(formula) or {"value": None, "videos": 0, "left_out": 0}
    return {"value": found["value"], "videos": found["videos"], "formula": formula,
            "name": formula_name(formula), "words": formula_words(formula),
            "left_out": left_out_words(formula, found["left_out"])}


def overview_data(account_id: int, tz, period: str = "day",
                  formula: str = analytics.DEFAULT_ENGAGEMENT, vs: bool = False) -> dict:
    """Key numbers, their change, growth charts per ``period`` (day, week or
    month: the last count in each), the engagement rate by ``formula``, top
    videos and the posting heatmap; shaped only when a template part is
    rendered, not when it is stored. ``vs`` adds to each change the one over
    the same number of days before."""
    parts = ("overview", period, engagement_part(formula), *(("vs",) if vs else ()))
    return lazy_fields(lambda: _cached(
        _cache_key(account_id, tz, *parts),
        lambda: _overview(account_id, summary(account_id, tz), tz, period, formula, vs)),
        OVERVIEW_FIELDS)


def _overview(account_id: int, facts: summaries.Summary, tz, period: str, formula: str,
              vs: bool = False) -> dict:
    # Changes are over the days up to the sync the summary is of.
    now = facts.taken_at or utcnow()
    account = get_store().accounts.get(account_id)
    stats = []
    labels = {"follower_count": _("Followers"), "following_count": _("Following"),
              "likes_count": _("Likes"), "video_count": _("Videos")}
    growth_charts = []
    for field, label in labels.items():
        points = facts.profile.get(field, [])
        changes = [c for c in (_change_text(analytics.net_change(points, d, now), d,
                                            analytics.net_change(points, d, now - timedelta(days=d))
                                            if vs else False)
                               for d in (7, 28, 90)) if c]
        stats.append({"label": label, "value": getattr(account, field), "changes": changes})
        if field != "following_count" and points:
            resampled = analytics.resample(points, period, tz=tz)
            growth_charts.append(_line(_("%(label)s over time", label=label), label, resampled,
                                       f"chart-series-{len(growth_charts) + 1}"))
    return {
        "stats": stats,
        "engagement": engagement_view(facts, formula),
        "charts": growth_charts,
        "top_videos": videos_by_ids(account_id, facts.top.get("view_count", [])),
        "heatmap": _heatmap(facts.heatmap, tz) if facts.all_videos else None,
        "period": period,
        "periods": {"day": _("Daily"), "week": _("Weekly"), "month": _("Monthly")},
    }


def _heatmap(grid, tz) -> dict:
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


def video_data(account_id: int, video, tz, formula: str = analytics.DEFAULT_ENGAGEMENT) -> dict:
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
    facts = summary(account_id, tz)
    typical = facts.median_views
    counts = {"create_time": video.create_time, "view_count": video.view_count,
              "like_count": video.like_count, "comment_count": video.comment_count,
              "share_count": video.share_count}
    followers = analytics.FollowerHistory(facts.profile.get("follower_count", []))
    return {
        "video": video,
        "chart": {"title": title, "svg": svg,
                  "table": {"head": [_("Synced"), *names.values()], "rows": table_rows}},
        "engagement": analytics.video_rate(counts, formula, followers),
        "engagement_formula": formula,
        "followers_at_posting": followers.at(video.create_time) if formula == "followers" else None,
        "formula": formula_words(formula),
        "views_24h": analytics.views_after_posting(video.create_time, snaps, 24),
        "views_7d": analytics.views_after_posting(video.create_time, snaps, 24 * 7),
        "vs_median": video.view_count / typical if typical else None,
        "median_views": typical,
    }


def analytics_data(account_id: int, tz, formula: str = analytics.DEFAULT_ENGAGEMENT) -> dict:
    """The analytics page's lists, charts and tables (every rate by
    ``formula``), shaped on first use."""
    data = lazy_fields(lambda: _cached(
        _cache_key(account_id, tz, "analytics", engagement_part(formula)),
        lambda: _analytics(account_id, summary(account_id, tz), tz, formula)), ANALYTICS_FIELDS)
    data.update(formula=formula_words(formula), tz_name=str(tz),
                has_videos=summary(account_id, tz).all_videos > 0)
    return data


def _with_rate(rows: list[dict], formula: str) -> list[dict]:
    """Bucket or hashtag rows with ``rate``: their engagement by ``formula``."""
    return [{**row, "rate": row["engagement"][formula]["value"]} for row in rows]


def _analytics(account_id: int, facts: summaries.Summary, tz, formula: str) -> dict:
    labels = metric_labels()
    # One top list by engagement: each video's own rate ("views" and "median"
    # agree on one video), or its rate by followers at posting.
    by_rate = "engagement_followers" if formula == "followers" else "engagement"
    tops = {metric: videos_by_ids(account_id, facts.top.get(by_rate if metric == "engagement"
                                                            else metric, []))
            for metric in summaries.TOP_METRICS if metric != "engagement_followers"}
    followers = analytics.FollowerHistory(facts.profile.get("follower_count", []))
    rates = {v.video_id: analytics.video_rate(
        {"create_time": v.create_time, "view_count": v.view_count, "like_count": v.like_count,
         "comment_count": v.comment_count, "share_count": v.share_count}, formula, followers)
        for v in tops["engagement"]}
    buckets = _with_rate(facts.buckets, formula)
    bucket_labels = duration_bucket_labels()
    duration_chart = charts.responsive(
        charts.bar_chart,
        [(bucket_labels[b["label_key"]], b["median_views"] if b["count"] else None) for b in buckets],
        aria_label=_("Median views by video length"), y_format=compact,
        empty_text=_("No videos yet."), missing_text=_("no videos"))
    tags = _with_rate(facts.tags, formula)
    tag_chart = charts.responsive(charts.bar_chart, [("#" + t["tag"], t["total_views"]) for t in tags],
                                 aria_label=_("Total views of the videos with each hashtag"),
                                 y_format=compact,
                                 horizontal=True, empty_text=_("No hashtags yet."))
    frequency = facts.frequency
    frequency_chart = charts.responsive(
        charts.bar_chart,
        [(format_skeleton("yMMM", d, locale=get_locale()), n) for d, n in frequency],
        aria_label=_("Videos posted per month"), y_format=lambda n: format_decimal(n),
        empty_text=_("No videos yet."))
    return {
        "labels": labels,
        "tops": tops,
        "rates": rates,
        "engagement": engagement_view(facts, formula),
        "heatmap": _heatmap(facts.heatmap, tz) if facts.all_videos else None,
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
        "formula": formula_words(formula),
        "tz_name": str(tz),
    }
