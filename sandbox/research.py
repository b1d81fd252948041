"""Research API and Commercial Content API (spec §6), with deterministic public data.

About 2,900 public videos of 2026 from twelve creators in eight regions,
their comments (with replies), followers and following, and an ad library.
The query language is checked as TikTok documents it (``invalid_params`` for
a window over 30 days, unknown fields, bad operations), results page through
``cursor`` and ``search_id`` (which expires), and the daily quotas are
counted on the sandbox clock and reset at 00:00 UTC. Windows longer than the
``research_max_window_days`` setting answer HTTP 500 and still use quota, as
integrators report of TikTok; ``expire_search`` faults expire a search.
"""

from __future__ import annotations

import functools
import json
import random
import secrets
import time
from datetime import UTC, date, datetime, timedelta

from flask import Flask, Response, g, request

from .state import SANDBOX_RESEARCH_CLIENT_KEY
from .wire import API, api_error, api_ok, endpoint, json_response, log_id, oauth_error, sandbox

VIDEO_FIELDS = (
    "id",
    "create_time",
    "username",
    "region_code",
    "video_description",
    "music_id",
    "like_count",
    "comment_count",
    "share_count",
    "view_count",
    "effect_ids",
    "hashtag_names",
    "playlist_id",
    "voice_to_text",
    "is_stem_verified",
    "favorites_count",
    "video_duration",
)
COMMENT_FIELDS = ("id", "video_id", "text", "like_count", "reply_count", "parent_comment_id", "create_time")
USER_FIELDS = (
    "display_name",
    "bio_description",
    "avatar_url",
    "is_verified",
    "follower_count",
    "following_count",
    "likes_count",
    "video_count",
    "bio_url",
)
CONDITION_FIELDS = (
    "create_date",
    "username",
    "region_code",
    "video_id",
    "hashtag_name",
    "keyword",
    "music_id",
    "effect_id",
    "video_length",
)
ORDERED_OPS = ("GT", "GTE", "LT", "LTE")
EU_COUNTRIES = (
    "AT",
    "BE",
    "BG",
    "CY",
    "CZ",
    "DE",
    "DK",
    "EE",
    "ES",
    "FI",
    "FR",
    "GR",
    "HR",
    "HU",
    "IE",
    "IS",
    "IT",
    "LI",
    "LT",
    "LU",
    "LV",
    "MT",
    "NL",
    "NO",
    "PL",
    "PT",
    "RO",
    "SE",
    "SI",
    "SK",
)

CREATORS = (
    ("ana_cooks", "US"),
    ("berlin_beats", "DE"),
    ("paris_pixels", "FR"),
    ("roma_runner", "IT"),
    ("madrid_makes", "ES"),
    ("london_lens", "GB"),
    ("warsaw_wild", "PL"),
    ("amsterdam_art", "NL"),
    ("nyc_news", "US"),
    ("science_sam", "US"),
    ("lyon_lab", "FR"),
    ("hamburg_hub", "DE"),
)
HASHTAGS = ("fyp", "science", "climate", "election", "food", "music", "travel", "art", "news", "sport")
WORDS = ("quick", "honest", "late-night", "weekend", "first", "simple", "big", "tiny", "daily", "rainy")
DATA_START = date(2026, 1, 1)
DATA_DAYS = 365
VIDEOS_PER_DAY = 8
FOLLOWERS = 230
FOLLOWING = 40
TOKEN_PREFIX = "clt."


# --------------------------------------------------------------------------- the data


@functools.cache
def videos() -> tuple[dict, ...]:
    """Every public video, oldest first (ids grow with time)."""
    rng = random.Random(20260101)
    out = []
    for day in range(DATA_DAYS):
        start = int(datetime.combine(DATA_START + timedelta(days=day), datetime.min.time(), UTC).timestamp())
        for slot in range(VIDEOS_PER_DAY):
            index = len(out)
            username, region = CREATORS[rng.randrange(len(CREATORS))]
            tags = rng.sample(HASHTAGS, rng.randint(1, 3))
            text = f"{rng.choice(WORDS)} {tags[0]} video number {index} " + " ".join(f"#{t}" for t in tags)
            if index % 97 == 0:
                text = '=HYPERLINK("http://example.invalid") <script>alert("x")</script> ' + text
            duration = rng.choice(
                (rng.randint(3, 14), rng.randint(15, 60), rng.randint(61, 300), rng.randint(301, 900))
            )
            out.append(
                {
                    "id": 7_300_000_000_000_000_000 + index * 1000 + slot,
                    "create_time": start + slot * 10_000 + rng.randint(0, 9_000),
                    "username": username,
                    "region_code": region,
                    "video_description": text,
                    "music_id": 6_900_000_000_000_000_000 + rng.randint(1, 40),
                    "like_count": rng.randint(0, 50_000),
                    "comment_count": rng.randint(0, 60),
                    "share_count": rng.randint(0, 5_000),
                    "view_count": rng.randint(100, 2_000_000),
                    "effect_ids": [str(7_100_000_000_000_000_000 + rng.randint(1, 9))]
                    if rng.random() < 0.3
                    else [],
                    "hashtag_names": tags,
                    "playlist_id": None,
                    "voice_to_text": f"spoken words {index}",
                    "is_stem_verified": "science" in tags and rng.random() < 0.5,
                    "favorites_count": rng.randint(0, 3_000),
                    "video_duration": duration,
                }
            )
    return tuple(out)


@functools.cache
def _by_id() -> dict[int, int]:
    return {v["id"]: i for i, v in enumerate(videos())}


def comments_of(video_index: int) -> list[dict]:
    """A video's comments: top-level ones first, then replies (to every fifth)."""
    video = videos()[video_index]
    rng = random.Random(video["id"])
    top = []
    base = 7_400_000_000_000_000_000 + video_index * 200
    for k in range(min(video["comment_count"], 40)):
        replies = 3 if k % 5 == 0 else 0
        top.append(
            {
                "id": base + k,
                "video_id": video["id"],
                "text": f"comment {k} on {video_index}",
                "like_count": rng.randint(0, 900),
                "reply_count": replies,
                "parent_comment_id": video["id"],
                "create_time": video["create_time"] + 60 * (k + 1),
            }
        )
    return top


def replies_of(comment_id: int) -> list[dict] | None:
    offset = comment_id - 7_400_000_000_000_000_000
    if offset < 0:
        return None
    video_index, k = divmod(offset, 200)
    if video_index >= len(videos()) or k >= 40:
        return None
    parent = next((c for c in comments_of(video_index) if c["id"] == comment_id), None)
    if parent is None:
        return None
    return [
        {
            "id": comment_id * 10 % 10**19 + r,
            "video_id": parent["video_id"],
            "text": f"reply {r} to {k}",
            "like_count": r,
            "reply_count": 0,
            "parent_comment_id": comment_id,
            "create_time": parent["create_time"] + 30 * (r + 1),
        }
        for r in range(parent["reply_count"])
    ]


def user_of(username: str) -> dict | None:
    creators = dict(CREATORS)
    if username not in creators:
        return None
    own = [v for v in videos() if v["username"] == username]
    return {
        "display_name": username.replace("_", " ").title(),
        "bio_description": f"Public creator in {creators[username]}",
        "avatar_url": "",
        "is_verified": len(username) % 2 == 0,
        "follower_count": 10_000 + len(own) * 37,
        "following_count": FOLLOWING,
        "likes_count": sum(v["like_count"] for v in own),
        "video_count": len(own),
        "bio_url": "",
    }


@functools.cache
def ad_data() -> tuple[tuple[dict, ...], tuple[dict, ...]]:
    """(advertisers, ads) of the ad library."""
    rng = random.Random(2026)
    advertisers = tuple(
        {"business_id": 8_100_000_000_000 + i, "business_name": name, "country_code": cc}
        for i, (name, cc) in enumerate(
            (
                ("Coffee Works", "IT"),
                ("Green Energy Co", "DE"),
                ("Bike Bros", "NL"),
                ("Fashion Loop", "FR"),
                ("Coffee Corner", "ES"),
                ("Travel Far", "PL"),
            )
        )
    )
    ads = []
    for i in range(240):
        advertiser = advertisers[i % len(advertisers)]
        first = DATA_START + timedelta(days=rng.randint(0, DATA_DAYS - 20))
        ads.append(
            {
                "ad": {
                    "id": 9_200_000_000_000 + i,
                    "first_shown_date": first.strftime("%Y%m%d"),
                    "last_shown_date": (first + timedelta(days=rng.randint(1, 19))).strftime("%Y%m%d"),
                    "status": "active",
                    "videos": [{"url": f"https://ads.example.invalid/{i}.mp4"}],
                    "reach": {"unique_users_seen": str(rng.randint(1, 90)) + "K"},
                    "countries": sorted({advertiser["country_code"], rng.choice(EU_COUNTRIES)}),
                },
                "advertiser": dict(advertiser),
                "text": f"{advertiser['business_name']} offer {i}",
            }
        )
    return advertisers, tuple(ads)


# --------------------------------------------------------------------------- the protocol


class Invalid(Exception):
    """Answered ``invalid_params`` with this message."""


def _client_token() -> bool:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    tokens = sandbox().state.shared("research_tokens", {})
    expires = tokens.get(token.strip()) if scheme.lower() == "bearer" else None
    return expires is not None and expires > sandbox().state.clock.now()


def issue_client_token(client_key: str) -> Response:
    """``grant_type=client_credentials`` for the research client (spec §2.4)."""
    if client_key != SANDBOX_RESEARCH_CLIENT_KEY:
        return oauth_error(
            "unauthorized_client", "Client credentials are only available to Research API clients."
        )
    state = sandbox().state
    token = TOKEN_PREFIX + secrets.token_urlsafe(24)
    ttl = int(state.settings.research_token_ttl)
    now = state.clock.now()
    with state.updating("research_tokens", {}) as tokens:
        for old in [t for t, e in tokens.items() if e <= now]:
            del tokens[old]
        tokens[token] = now + ttl
    return json_response(
        {"access_token": token, "expires_in": ttl, "token_type": "Bearer"}, 200, {"Cache-Control": "no-store"}
    )


def expire_client_tokens() -> None:
    """Every client token is refused from now on (tests of the renewal)."""
    with sandbox().state.updating("research_tokens", {}) as tokens:
        tokens.clear()


def _body(allowed: set[str]) -> dict:
    if request.mimetype != "application/json":
        raise Invalid("Content-Type must be application/json.")
    try:
        body = json.loads(request.get_data() or b"")
    except ValueError as exc:
        raise Invalid("The request body is not valid JSON.") from exc
    if not isinstance(body, dict):
        raise Invalid("The request body must be a JSON object.")
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise Invalid(f"Unknown parameters: {', '.join(unknown)}.")
    return body


def _fields(known, required=True) -> list[str]:
    raw = request.args.get("fields", "")
    fields = [f.strip() for f in raw.split(",") if f.strip()]
    if not fields and required:
        raise Invalid("fields is required in the query string.")
    unknown = [f for f in fields if f not in known]
    if unknown:
        raise Invalid(f"Invalid fields: {', '.join(unknown)}.")
    return fields


def _int(body, key, default, low, high) -> int:
    value = body.get(key, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise Invalid("Invalid count or cursor" if key in ("max_count", "cursor") else f"Invalid {key}.")
    return value


def _day(value, name) -> date:
    if not isinstance(value, str) or len(value) != 8 or not value.isdigit():
        raise Invalid(f"{name} must be a string YYYYMMDD.")
    try:
        return date(int(value[:4]), int(value[4:6]), int(value[6:]))
    except ValueError as exc:
        raise Invalid(f"{name} is not a valid date.") from exc


def _spend(bucket: str, records: int = 0) -> bool:
    """Count a request (and records) on today's quota; False when it is used up."""
    state = sandbox().state
    today = time.strftime("%Y%m%d", time.gmtime(state.clock.now()))
    limits = {
        "video": state.settings.research_daily_requests,
        "follow": state.settings.research_daily_follow_calls,
        "adlib": None,
    }
    with state.updating("research_quota", {}) as quota:
        for day in [d for d in quota if d != today]:
            del quota[day]
        used = quota.setdefault(today, {})
        limit = limits[bucket]
        if limit is not None and used.get(bucket, 0) >= limit:
            return False
        if bucket == "video" and used.get("records", 0) >= state.settings.research_daily_records:
            return False
        used[bucket] = used.get(bucket, 0) + 1
        used["records"] = used.get("records", 0) + records
        return True


def _add_records(count: int) -> None:
    state = sandbox().state
    today = time.strftime("%Y%m%d", time.gmtime(state.clock.now()))
    with state.updating("research_quota", {}) as quota:
        used = quota.setdefault(today, {})
        used["records"] = used.get("records", 0) + count


def _guarded(bucket: str):
    def decorate(view):
        @functools.wraps(view)
        def run() -> Response:
            if not _client_token():
                return api_error("access_token_invalid")
            if not _spend(bucket):
                return api_error("daily_quota_limit_exceeded", "Daily quota limit exceeded.", status=429)
            try:
                return view()
            except Invalid as exc:
                return api_error("invalid_params", str(exc))

        return run

    return decorate


# --------------------------------------------------------------------------- the query language


def _condition_value(video: dict, name: str):
    if name == "keyword":
        return video["video_description"]
    if name == "create_date":
        return time.strftime("%Y%m%d", time.gmtime(video["create_time"]))
    if name == "video_id":
        return str(video["id"])
    if name == "music_id":
        return str(video["music_id"])
    if name == "hashtag_name":
        return [t.lower() for t in video["hashtag_names"]]
    if name == "effect_id":
        return video["effect_ids"]
    if name == "video_length":
        d = video["video_duration"]
        return "SHORT" if d < 15 else "MID" if d <= 60 else "LONG" if d <= 300 else "EXTRA_LONG"
    return video[name]


def _check_condition(condition) -> tuple[str, str, list[str]]:
    if not isinstance(condition, dict) or set(condition) - {"operation", "field_name", "field_values"}:
        raise Invalid("A condition must be {operation, field_name, field_values}.")
    op, name, values = condition.get("operation"), condition.get("field_name"), condition.get("field_values")
    if name not in CONDITION_FIELDS:
        raise Invalid(f"Invalid field_name: {name}.")
    if op not in ("EQ", "IN", *ORDERED_OPS):
        raise Invalid(f"Invalid operation: {op}.")
    if op in ORDERED_OPS and name != "create_date":
        raise Invalid(f"Operation {op} is not supported for {name}.")
    if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
        raise Invalid("field_values must be a non-empty list of strings.")
    return op, name, values


def _matches(video: dict, condition: tuple[str, str, list[str]]) -> bool:
    op, name, values = condition
    actual = _condition_value(video, name)
    if name == "keyword":
        return any(v.lower() in actual.lower() for v in values)
    if isinstance(actual, list):
        wanted = {v.lower() for v in values} if name == "hashtag_name" else set(values)
        return bool(wanted & set(actual))
    if op in ("EQ", "IN"):
        return actual in (values if op == "IN" else values[:1])
    first = values[0]
    return {"GT": actual > first, "GTE": actual >= first, "LT": actual < first, "LTE": actual <= first}[op]


def _compile(query) -> dict[str, list]:
    if not isinstance(query, dict) or set(query) - {"and", "or", "not"}:
        raise Invalid("query must be an object with and, or, not.")
    compiled = {}
    for group in ("and", "or", "not"):
        conditions = query.get(group) or []
        if not isinstance(conditions, list):
            raise Invalid(f"query.{group} must be a list.")
        compiled[group] = [_check_condition(c) for c in conditions]
    if not any(compiled.values()):
        raise Invalid("query must hold at least one condition.")
    return compiled


def _select(compiled, start: date, end: date) -> list[dict]:
    low = int(datetime.combine(start, datetime.min.time(), UTC).timestamp())
    high = int(datetime.combine(end + timedelta(days=1), datetime.min.time(), UTC).timestamp())
    found = []
    for video in videos():
        if not low <= video["create_time"] < high:
            continue
        if not all(_matches(video, c) for c in compiled["and"]):
            continue
        if compiled["or"] and not any(_matches(video, c) for c in compiled["or"]):
            continue
        if any(_matches(video, c) for c in compiled["not"]):
            continue
        found.append(video)
    return sorted(found, key=lambda v: v["id"], reverse=True)


def _search(body: dict, key: str) -> str:
    """The search's id: the one sent (which must be live) or a new one."""
    state = sandbox().state
    now = state.clock.now()
    search_id = body.get("search_id")
    with state.updating("research_searches", {}) as searches:
        for old in [
            s for s, info in searches.items() if info["t"] + state.settings.research_search_ttl <= now
        ]:
            del searches[old]
        if search_id is not None:
            info = searches.get(str(search_id))
            if g.fault == "expire_search" or info is None or info["key"] != key:
                searches.pop(str(search_id), None)
                raise Invalid(f"Search Id {search_id} is invalid or expired")
            return str(search_id)
        search_id = str(7_000_000_000_000_000_000 + secrets.randbelow(10**18))
        searches[search_id] = {"t": now, "key": key}
        return search_id


def _page(items: list, body: dict, *, default: int, high: int, key: str) -> tuple[list, dict]:
    max_count = _int(body, "max_count", default, 1, high)
    cursor = _int(body, "cursor", 0, 0, 10**12)
    if cursor > len(items):
        raise Invalid("Invalid count or cursor")
    page = items[cursor : cursor + max_count]
    more = cursor + len(page) < len(items)
    return page, {"cursor": cursor + len(page), "has_more": more, "search_id": _search(body, key)}


@endpoint("research_video_query", API)
@_guarded("video")
def video_query() -> Response:
    fields = _fields(VIDEO_FIELDS)
    body = _body({"query", "start_date", "end_date", "max_count", "cursor", "search_id", "is_random"})
    compiled = _compile(body.get("query"))
    start, end = _day(body.get("start_date"), "start_date"), _day(body.get("end_date"), "end_date")
    if end < start:
        raise Invalid("end_date must not be before start_date.")
    if (end - start).days > 30:
        raise Invalid("The time range between start_date and end_date must be no more than 30 days.")
    limit = sandbox().state.settings.research_max_window_days
    if limit is not None and (end - start).days + 1 > limit:
        return api_error("internal_error", status=500)
    is_random = body.get("is_random", False)
    if not isinstance(is_random, bool):
        raise Invalid("is_random must be a boolean.")
    key = json.dumps([body["query"], body["start_date"], body["end_date"], is_random], sort_keys=True)
    found = _select(compiled, start, end)
    if is_random:
        found = random.Random(key).sample(found, min(len(found), 100))
    page, meta = _page(found, body, default=20, high=100, key=key)
    _add_records(len(page))
    return api_ok({"videos": [{f: v[f] for f in fields} for v in page], **meta})


@endpoint("research_comments", API)
@_guarded("video")
def comment_list() -> Response:
    fields = _fields(COMMENT_FIELDS)
    body = _body({"video_id", "comment_id", "max_count", "cursor"})
    if ("video_id" in body) == ("comment_id" in body):
        raise Invalid("Give video_id or comment_id, not both.")
    if "video_id" in body:
        index = _by_id().get(body["video_id"]) if isinstance(body["video_id"], int) else None
        if index is None:
            raise Invalid("video_id is not a public video.")
        items = comments_of(index)
    else:
        items = replies_of(body["comment_id"]) if isinstance(body["comment_id"], int) else None
        if items is None:
            raise Invalid("comment_id is not a comment.")
    max_count = _int(body, "max_count", 10, 1, 100)
    cursor = _int(body, "cursor", 0, 0, 10**9)
    page = items[cursor : cursor + max_count]
    _add_records(len(page))
    return api_ok(
        {
            "comments": [{f: c[f] for f in fields} for c in page],
            "cursor": cursor + len(page),
            "has_more": cursor + len(page) < len(items),
        }
    )


@endpoint("research_user_info", API)
@_guarded("video")
def user_info() -> Response:
    fields = _fields(USER_FIELDS)
    body = _body({"username"})
    user = user_of(body.get("username")) if isinstance(body.get("username"), str) else None
    if user is None:
        raise Invalid("username is not a public account.")
    return api_ok({f: user[f] for f in fields})


def _follows(kind: str) -> Response:
    _fields(("display_name", "username"), required=False)
    body = _body({"username", "max_count", "cursor"})
    username = body.get("username")
    if not isinstance(username, str) or user_of(username) is None:
        raise Invalid("username is not a public account.")
    count = FOLLOWERS if kind == "followers" else FOLLOWING
    prefix = "fan" if kind == "followers" else "fav"
    items = [
        {"display_name": f"{prefix.title()} {k}", "username": f"{prefix}_{username}_{k}"}
        for k in range(count)
    ]
    max_count = _int(body, "max_count", 20, 1, 100)
    cursor = _int(body, "cursor", 0, 0, 10**9)
    page = items[cursor : cursor + max_count]
    return api_ok(
        {f"user_{kind}": page, "cursor": cursor + len(page), "has_more": cursor + len(page) < count}
    )


@endpoint("research_followers", API)
@_guarded("follow")
def followers() -> Response:
    return _follows("followers")


@endpoint("research_following", API)
@_guarded("follow")
def following() -> Response:
    return _follows("following")


@endpoint("research_advertisers", API)
@_guarded("adlib")
def advertiser_query() -> Response:
    body = _body({"search_term", "max_count"})
    term = body.get("search_term")
    if not isinstance(term, str) or not term.strip() or len(term) > 50:
        raise Invalid("search_term must be a string of 1 to 50 characters.")
    max_count = _int(body, "max_count", 10, 1, 50)
    found = [a for a in ad_data()[0] if term.lower() in a["business_name"].lower()][:max_count]
    return api_ok({"advertisers": found, "has_more": False})


@endpoint("research_ads", API)
@_guarded("adlib")
def ad_query() -> Response:
    body = _body({"filters", "search_term", "search_type", "max_count", "search_id", "cursor"})
    filters = body.get("filters")
    if not isinstance(filters, dict):
        raise Invalid("filters is required.")
    unknown = sorted(
        set(filters)
        - {
            "ad_published_date_range",
            "country_code",
            "advertiser_business_ids",
            "unique_users_seen_size_range",
        }
    )
    if unknown:
        raise Invalid(f"Unknown filters: {', '.join(unknown)}.")
    dates = filters.get("ad_published_date_range")
    if not isinstance(dates, dict) or set(dates) != {"min", "max"}:
        raise Invalid("filters.ad_published_date_range must be {min, max}.")
    low, high = _day(dates["min"], "min"), _day(dates["max"], "max")
    if low <= date(2022, 10, 1) or high < low:
        raise Invalid("ad_published_date_range.min must be after 20221001 and not after max.")
    country = filters.get("country_code", "ALL")
    if country != "ALL" and country not in EU_COUNTRIES:
        raise Invalid("country_code must be an EU/EEA country code or ALL.")
    term = body.get("search_term", "")
    if not isinstance(term, str) or len(term) > 50:
        raise Invalid("search_term must be a string of at most 50 characters.")
    if body.get("search_type", "fuzzy_phrase") not in ("exact_phrase", "fuzzy_phrase"):
        raise Invalid("search_type must be exact_phrase or fuzzy_phrase.")
    ids = filters.get("advertiser_business_ids")
    found = [
        a
        for a in ad_data()[1]
        if low.strftime("%Y%m%d") <= a["ad"]["first_shown_date"] <= high.strftime("%Y%m%d")
        and (country == "ALL" or country in a["ad"]["countries"])
        and (not term or term.lower() in a["text"].lower())
        and (not ids or a["advertiser"]["business_id"] in ids)
    ]
    key = json.dumps([filters, term], sort_keys=True)
    page, meta = _page(
        [{"ad": a["ad"], "advertiser": a["advertiser"]} for a in found], body, default=10, high=50, key=key
    )
    return api_ok({"ads": page, **meta})


def register(app: Flask) -> None:
    rules = (
        ("/v2/research/video/query/", video_query),
        ("/v2/research/video/comment/list/", comment_list),
        ("/v2/research/user/info/", user_info),
        ("/v2/research/user/followers/", followers),
        ("/v2/research/user/following/", following),
        ("/v2/research/adlib/advertiser/query/", advertiser_query),
        ("/v2/research/adlib/ad/query/", ad_query),
    )
    for path, view in rules:
        app.add_url_rule(path, f"research_{view.__name__}", view, methods=["POST"])


__all__ = ["expire_client_tokens", "issue_client_token", "log_id", "register", "videos"]
