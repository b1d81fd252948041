"""Research runs: a query over windows, page by page, within TikTok's daily quotas.

A run is worked by the worker (``research_jobs``) or by ``flask research
run`` through :func:`work_run`, which takes the run's lease, asks TikTok for
the next page of the first unfinished window, stores it (with the window's
next cursor and ``search_id``), and goes on until every window is done.

* Quotas are counted here, per UTC day, before each request: a request that
  would go over (or TikTok's ``daily_quota_limit_exceeded``) pauses the run
  until 00:00 UTC, when the tick queues it again.
* An HTTP 500 on a window of more than one day splits it in halves; on a
  one-day window it is tried again, then the run fails with TikTok's log id.
* A ``search_id`` that expired is dropped: the next request starts a new
  search at the stored cursor, so nothing stored is fetched twice.
* A worker killed mid-run leaves its lease to run out; the tick picks the
  run up at the page after the last stored one. Records are keyed by id, so
  a page fetched twice is stored once.

The core returns outcome codes; the web layer and the CLI say them in words.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from dashboard.storage import Store
from dashboard.storage.models import utcnow
from dashboard.storage.research import utc_day
from tiktok_official_api import TikTokAPIError, TikTokConnectionError, TikTokRateLimitError
from tiktok_research_api import (
    COMMENT_FIELDS,
    RESEARCH_USER_FIELDS,
    ResearchClient,
    ResearchPage,
    TikTokQuotaError,
    is_expired_search,
)

from .research_query import Estimate, VideoQuery, check_video_query, halves, parse_ymd, ymd

log = logging.getLogger(__name__)

KINDS = ("video", "comments", "user_info", "followers", "following", "advertisers", "ads")
LOOKUPS = ("comments", "user_info", "followers", "following")
#: Which daily quota each kind of run spends (TikTok's: video and comment
#: queries share one, followers and following another; the ad library's is not
#: documented and is only counted).
BUCKETS = {
    "video": "video",
    "comments": "video",
    "user_info": "video",
    "followers": "follow",
    "following": "follow",
    "advertisers": "adlib",
    "ads": "adlib",
}
#: A page that failed this many times in a row (5xx on a one-day window, a lost
#: connection, a rate limit) fails the run; it can be resumed from there.
MAX_PAGE_FAILURES = 3
#: Longest wait for a rate limit inside a run, seconds; longer ones pause it.
MAX_INLINE_WAIT = 60
USERNAME = re.compile(r"[A-Za-z0-9._]{1,64}")
NUMERIC_ID = re.compile(r"\d{1,20}")
BIGINT = 2**63 - 1


@dataclass(frozen=True)
class ResearchSettings:
    #: RESEARCH_CLIENT_KEY / RESEARCH_CLIENT_SECRET (the sandbox's in sandbox mode).
    client_key: str | None = None
    client_secret: str | None = None
    #: TikTok's daily quotas (RESEARCH_DAILY_REQUESTS, _RECORDS, _FOLLOW_CALLS).
    daily_requests: int = 1000
    daily_records: int = 100_000
    daily_follow_calls: int = 20_000
    #: Seconds a run's lease lasts without a page.
    lease_seconds: float = 60

    @property
    def configured(self) -> bool:
        return bool(self.client_key and self.client_secret)


@dataclass(frozen=True)
class Outcome:
    """How a turn at a run ended: ``done``, ``paused``, ``stopped``, ``failed`` or ``busy``."""

    code: str
    run_id: int
    error_code: str | None = None
    log_id: str | None = None
    #: When a paused run goes on (None: at the quota's reset).
    resume_at: datetime | None = None


class Research:
    """What research runs work with: storage, one client, settings, a clock."""

    def __init__(
        self,
        store: Store,
        client_factory: Callable[[], ResearchClient],
        settings: ResearchSettings,
        *,
        sleep: Callable[[float], object] = time.sleep,
        clock: Callable[[], datetime] = utcnow,
    ):
        self.store = store
        self.settings = settings
        self.sleep = sleep
        self.clock = clock
        self._factory = client_factory
        self._client: ResearchClient | None = None

    def client(self) -> ResearchClient:
        """One client per deployment process: its client token is cached in it."""
        if self._client is None:
            self._client = self._factory()
        return self._client

    def limits(self, bucket: str) -> tuple[int | None, int | None]:
        s = self.settings
        return {
            "video": (s.daily_requests, s.daily_records),
            "follow": (s.daily_follow_calls, None),
            "adlib": (None, None),
        }[bucket]


# --- the quota ---------------------------------------------------------------------------


def next_reset(now: datetime) -> datetime:
    """The next 00:00 UTC."""
    return datetime.combine(now.astimezone(UTC).date() + timedelta(days=1), datetime.min.time(), UTC)


def quota(research: Research) -> dict[str, dict]:
    """Today's use of each quota: ``{bucket: {requests, records, request_limit, record_limit}}``."""
    now = research.clock()
    day = utc_day(now)
    out = {}
    for bucket in ("video", "follow", "adlib"):
        used_requests, used_records = research.store.research.quota_used(day, bucket)
        request_limit, record_limit = research.limits(bucket)
        out[bucket] = {
            "requests": used_requests,
            "records": used_records,
            "request_limit": request_limit,
            "record_limit": record_limit,
            "resets_at": next_reset(now),
        }
    return out


def estimate(research: Research, query: VideoQuery) -> Estimate:
    """At least one request per window; each 100 results another."""
    today = quota(research)["video"]
    return Estimate(
        windows=len(query.windows()),
        min_requests=len(query.windows()),
        requests_left=max(0, today["request_limit"] - today["requests"]),
        records_left=max(0, today["record_limit"] - today["records"]),
    )


def _over_quota(research: Research, bucket: str, page_size: int) -> bool:
    used_requests, used_records = research.store.research.quota_used(utc_day(research.clock()), bucket)
    request_limit, record_limit = research.limits(bucket)
    if request_limit is not None and used_requests >= request_limit:
        return True
    return record_limit is not None and used_records + page_size > record_limit


# --- starting runs ------------------------------------------------------------------------


def start_video_run(
    research: Research,
    person_id: int | None,
    query: VideoQuery,
    *,
    label: str = "",
    query_id: int | None = None,
) -> int:
    windows = [(ymd(s), ymd(e)) for s, e in query.windows()]
    return research.store.research.create_run(
        person_id, "video", query.as_json(), label=label, windows=windows, query_id=query_id
    )


def check_lookup(kind: str, value: str) -> str | None:
    """The problem code of a lookup's input, or None."""
    if kind not in LOOKUPS and kind not in ("advertisers",):
        return "unknown_kind"
    value = (value or "").strip()
    if kind == "comments":
        return None if NUMERIC_ID.fullmatch(value) else "bad_video_id"
    if kind == "advertisers":
        return None if 0 < len(value) <= 50 else "bad_search_term"
    return None if USERNAME.fullmatch(value) else "bad_username"


def start_lookup(
    research: Research, person_id: int | None, kind: str, value: str, *, parent_id: int | None = None
) -> int:
    """A run of one lookup (checked with :func:`check_lookup` first)."""
    value = value.strip()
    key = {"comments": "video_id", "advertisers": "search_term"}.get(kind, "username")
    return research.store.research.create_run(person_id, kind, {key: value}, label=value, parent_id=parent_id)


AD_PROBLEMS = ("bad_date", "date_too_early", "end_before_start", "bad_country", "bad_search_term")


def check_ad_query(raw: dict) -> tuple[dict | None, list[tuple[str, str]]]:
    """An ad query ``{start_date, end_date, country_code, search_term}`` checked:
    the body's parts, or (field, problem) pairs."""
    problems = []
    start, end = parse_ymd(raw.get("start_date")), parse_ymd(raw.get("end_date"))
    for name, day in (("start_date", start), ("end_date", end)):
        if day is None:
            problems.append((name, "bad_date"))
        elif day <= date(2022, 10, 1):
            problems.append((name, "date_too_early"))
    if not problems and end < start:
        problems.append(("end_date", "end_before_start"))
    country = (raw.get("country_code") or "ALL").strip().upper()
    if not re.fullmatch(r"[A-Z]{2}|ALL", country):
        problems.append(("country_code", "bad_country"))
    term = (raw.get("search_term") or "").strip()
    if len(term) > 50:
        problems.append(("search_term", "bad_search_term"))
    advertiser = (raw.get("advertiser_business_id") or "").strip()
    if advertiser and not NUMERIC_ID.fullmatch(advertiser):
        problems.append(("advertiser_business_id", "bad_advertiser"))
    if problems:
        return None, problems
    filters = {"ad_published_date_range": {"min": ymd(start), "max": ymd(end)}, "country_code": country}
    if advertiser:
        filters["advertiser_business_ids"] = [int(advertiser)]
    return {"filters": filters, "search_term": term, "search_type": "fuzzy_phrase"}, []


def start_ad_run(research: Research, person_id: int | None, spec: dict, *,
                 parent_id: int | None = None) -> int:
    dates = spec["filters"]["ad_published_date_range"]
    who = spec["filters"].get("advertiser_business_ids", [spec["search_term"] or "*"])[0]
    label = f"{who} {spec['filters']['country_code']} {dates['min']}-{dates['max']}"
    return research.store.research.create_run(person_id, "ads", spec, label=label, parent_id=parent_id)


def load_video_query(text: str) -> tuple[VideoQuery | None, list]:
    try:
        raw = json.loads(text)
    except ValueError:
        return None, []
    return check_video_query(raw)


# --- working a run ------------------------------------------------------------------------


def work_run(research: Research, run_id: int, *, on_page: Callable[[int], object] | None = None) -> Outcome:
    """Take the run and work it until it is done, paused, stopped or failed."""
    store = research.store.research
    held = store.take(run_id, research.settings.lease_seconds)
    if held is None:
        return Outcome("busy", run_id)
    run = store.run(run_id)
    bucket = BUCKETS[run.kind]
    spec = json.loads(run.spec)
    try:
        while True:
            if store.stop_requested(run_id):
                store.release(run_id, held, "stopped")
                return Outcome("stopped", run_id)
            window = store.next_window(run_id)
            if window is None:
                store.release(run_id, held, "done")
                return Outcome("done", run_id)
            if _over_quota(research, bucket, _page_size(run.kind, spec)):
                store.release(
                    run_id,
                    held,
                    "paused",
                    resume_at=next_reset(research.clock()),
                    error=("daily_quota", None, None),
                )
                return Outcome("paused", run_id, "daily_quota")
            held = store.renew(run_id, held, research.settings.lease_seconds) or held
            result = _one_page(research, run_id, run.kind, spec, window, bucket)
            if isinstance(result, Outcome):
                store.release(
                    run_id,
                    held,
                    result.code,
                    error=(result.error_code, None, result.log_id),
                    resume_at=(result.resume_at or next_reset(research.clock()))
                    if result.code == "paused" else None,
                )
                return result
            if on_page is not None:
                on_page(result)
    except Exception as exc:
        log.exception("research run %s failed", run_id)
        store.release(run_id, held, "failed", error=("internal", type(exc).__name__, None))
        return Outcome("failed", run_id, "internal")


def _page_size(kind: str, spec: dict) -> int:
    return spec.get("max_count", 100) if kind == "video" else 100


def _one_page(research: Research, run_id: int, kind: str, spec: dict, window, bucket: str):
    """Fetch and store one page: the records stored, ``None`` to try again, or an Outcome."""
    store = research.store.research
    store.count_request(run_id, bucket, utc_day(research.clock()))
    try:
        page = _fetch(research.client(), kind, spec, window)
        items = page.items
        extra = _replies(research, run_id, bucket, items) if kind == "comments" else []
    except TikTokQuotaError as error:
        return Outcome("paused", run_id, "daily_quota", error.log_id)
    except TikTokAPIError as error:
        return _after_error(research, run_id, kind, window, error)
    records = [r for r in (to_record(kind, i) for i in items + extra) if r is not None]
    # has_more with no records and no step forward would ask for the same page for ever
    stuck = not items and page.cursor is not None and page.cursor <= (window.cursor or 0)
    finished = not page.has_more or stuck
    stored = store.store_page(
        run_id, window.id, records, cursor=page.cursor, search_id=page.search_id, finished=finished
    )
    store.count_records(bucket, utc_day(research.clock()), len(items) + len(extra))
    return stored


def _after_error(research: Research, run_id: int, kind: str, window, error: TikTokAPIError):
    store = research.store.research
    if is_expired_search(error) and window.search_id:
        log.info(
            "research run %s: search %s expired; starting again at cursor %s",
            run_id,
            window.search_id,
            window.cursor,
        )
        store.forget_search(window.id)
        return None
    server_error = (error.http_status or 0) >= 500 or error.code == "internal_error"
    if server_error and kind == "video" and window.start_date < window.end_date:
        parts = halves(parse_ymd(window.start_date), parse_ymd(window.end_date))
        log.info(
            "research run %s: HTTP %s on %s-%s; splitting it",
            run_id,
            error.http_status,
            window.start_date,
            window.end_date,
        )
        store.split_window(window.id, [(ymd(s), ymd(e)) for s, e in parts])
        return None
    retry_after = getattr(error, "retry_after", None)
    transient = server_error or isinstance(error, TikTokConnectionError | TikTokRateLimitError)
    if transient:
        failures = store.window_failed(window.id)
        if failures < MAX_PAGE_FAILURES:
            wait = retry_after if retry_after is not None else 2.0**failures
            if wait > MAX_INLINE_WAIT:
                return Outcome("paused", run_id, error.code, error.log_id,
                               resume_at=research.clock() + timedelta(seconds=wait))
            research.sleep(wait)
            return None
    return Outcome("failed", run_id, error.code or "unknown", error.log_id)


def _fetch(client: ResearchClient, kind: str, spec: dict, window) -> ResearchPage:
    cursor = window.cursor or 0
    if kind == "video":
        query, _ = check_video_query(spec)
        body = query.body(parse_ymd(window.start_date), parse_ymd(window.end_date))
        if cursor or window.search_id:
            body["cursor"] = cursor
        if window.search_id:
            body["search_id"] = window.search_id
        return client.query_videos(body, query.fields)
    if kind == "comments":
        return client.comments(video_id=spec["video_id"], cursor=cursor)
    if kind == "user_info":
        user = client.user_info(spec["username"], RESEARCH_USER_FIELDS)
        return ResearchPage(
            items=[{**user, "username": spec["username"]}],
            cursor=None,
            has_more=False,
            search_id=None,
            log_id=None,
        )
    if kind in ("followers", "following"):
        return client.follows(kind, spec["username"], cursor=cursor or None)
    if kind == "advertisers":
        return client.advertisers(spec["search_term"])
    body = {**spec, "max_count": 50}
    if window.search_id:
        body["search_id"] = window.search_id
        body["cursor"] = cursor
    return client.ads(body)


def _replies(research: Research, run_id: int, bucket: str, comments: list[dict]) -> list[dict]:
    """Every reply to the comments of a page that have any (each page a request)."""
    replies = []
    for comment in comments:
        if not isinstance(comment.get("reply_count"), int) or comment["reply_count"] <= 0:
            continue
        cursor = 0
        while True:
            research.store.research.count_request(run_id, bucket, utc_day(research.clock()))
            page = research.client().comments(
                comment_id=str(comment.get("id")), cursor=cursor, fields=COMMENT_FIELDS
            )
            replies.extend(page.items)
            if not page.has_more or page.cursor is None or page.cursor <= cursor:
                break
            cursor = page.cursor
    return replies


# --- records ----------------------------------------------------------------------------


def _int(value) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if -BIGINT <= value <= BIGINT else None


def _text(value, limit: int | None = None) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text[:limit] if limit else text


def _key(value) -> str | None:
    key = _text(value, 128) if not isinstance(value, int) or isinstance(value, bool) else str(value)
    return key or None


def to_record(kind: str, item: dict) -> dict | None:
    """The stored row of one item TikTok sent (None when it has no key); ids become strings."""
    data = {
        k: (
            str(v)
            if k in ("id", "video_id", "music_id", "parent_comment_id", "playlist_id")
            and isinstance(v, int)
            and not isinstance(v, bool)
            else v
        )
        for k, v in item.items()
    }
    if kind == "video":
        row = {
            "record_key": _key(item.get("id")),
            "created": _int(item.get("create_time")),
            "username": _text(item.get("username"), 255),
            "region_code": _text(item.get("region_code"), 16),
            "text": _text(item.get("video_description")) or "",
        }
        row.update(
            {k: _int(item.get(k)) for k in ("view_count", "like_count", "comment_count", "share_count")}
        )
    elif kind == "comments":
        row = {
            "record_key": _key(item.get("id")),
            "created": _int(item.get("create_time")),
            "text": _text(item.get("text")) or "",
            "like_count": _int(item.get("like_count")),
            "comment_count": _int(item.get("reply_count")),
        }
    elif kind in ("user_info", "followers", "following"):
        row = {
            "record_key": _key(item.get("username")),
            "username": _text(item.get("username"), 255),
            "text": _text(item.get("bio_description") or item.get("display_name")) or "",
            "like_count": _int(item.get("likes_count")),
            "view_count": _int(item.get("follower_count")),
        }
    elif kind == "advertisers":
        row = {
            "record_key": _key(item.get("business_id")),
            "text": _text(item.get("business_name")) or "",
            "region_code": _text(item.get("country_code"), 16),
        }
        data["business_id"] = _key(item.get("business_id"))
    else:
        ad = item.get("ad") if isinstance(item.get("ad"), dict) else {}
        advertiser = item.get("advertiser") if isinstance(item.get("advertiser"), dict) else {}
        first = ad.get("first_shown_date")
        row = {
            "record_key": _key(ad.get("id")),
            "text": _text(advertiser.get("business_name")) or "",
            "created": _int(int(first)) if isinstance(first, str) and first.isdigit() else None,
        }
        data = {
            "ad": {**ad, "id": _key(ad.get("id"))},
            "advertiser": {**advertiser, "business_id": _key(advertiser.get("business_id"))},
        }
    if not row["record_key"]:
        return None
    row["data"] = json.dumps(data, ensure_ascii=False)
    return row


#: Export columns of the runs other than video queries.
COLUMNS = {
    "comments": ("id", "video_id", "parent_comment_id", "text", "like_count", "reply_count", "create_time"),
    "user_info": ("username",) + RESEARCH_USER_FIELDS,
    "followers": ("username", "display_name"),
    "following": ("username", "display_name"),
    "advertisers": ("business_id", "business_name", "country_code"),
    "ads": (
        "ad.id",
        "ad.first_shown_date",
        "ad.last_shown_date",
        "ad.status",
        "ad.reach",
        "advertiser.business_id",
        "advertiser.business_name",
    ),
}


def columns(run) -> tuple[str, ...]:
    if run.kind == "video":
        return tuple(json.loads(run.spec).get("fields") or ())
    return COLUMNS[run.kind]


def flat(record_data: dict, column: str):
    """A column's value of a stored record; ``ad.id`` reaches into ``ad``; lists stay lists."""
    head, _, rest = column.partition(".")
    value = record_data.get(head)
    if rest:
        value = value.get(rest) if isinstance(value, dict) else None
    return value


def export_rows(store: Store, run) -> Iterator[dict]:
    """Every record of a run as ``{column: value}``, lists and objects as JSON text."""
    names = columns(run)
    for record in store.research.iter_records(run.id):
        data = json.loads(record.data)
        row = {}
        for name in names:
            value = flat(data, name)
            row[name] = json.dumps(value, ensure_ascii=False) if isinstance(value, list | dict) else value
        yield row


def export_objects(store: Store, run) -> Iterator[dict]:
    """Every record of a run as TikTok sent it (ids as strings), for JSON."""
    for record in store.research.iter_records(run.id):
        yield json.loads(record.data)


__all__ = ["KINDS", "LOOKUPS", "Outcome", "Research", "ResearchSettings", "work_run"]
