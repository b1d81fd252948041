"""Display API: user info, video list and video query (spec §3–§4)."""

from __future__ import annotations

import functools
import json
from typing import Any

from flask import Flask, Response, g, request

from . import data
from .data import Account, Video
from .media import avatar_url, cover_url
from .state import Grant
from .wire import API, api_error, api_ok, endpoint, sandbox

#: user/info field -> the scope it needs (since 2024-02-29).
USER_FIELDS = {
    "open_id": "user.info.basic",
    "union_id": "user.info.basic",
    "avatar_url": "user.info.basic",
    "avatar_url_100": "user.info.basic",
    "avatar_large_url": "user.info.basic",
    "display_name": "user.info.basic",
    "bio_description": "user.info.profile",
    "profile_deep_link": "user.info.profile",
    "is_verified": "user.info.profile",
    "username": "user.info.profile",
    "follower_count": "user.info.stats",
    "following_count": "user.info.stats",
    "likes_count": "user.info.stats",
    "video_count": "user.info.stats",
}
VIDEO_FIELDS = (
    "id",
    "create_time",
    "cover_image_url",
    "share_url",
    "video_description",
    "duration",
    "height",
    "width",
    "title",
    "embed_html",
    "embed_link",
    "like_count",
    "comment_count",
    "share_count",
    "view_count",
    "is_aigc",
)
VIDEO_SCOPE = "video.list"
MAX_COUNT = 20
DEFAULT_COUNT = 10
MAX_QUERY_IDS = 20


class BadRequest(Exception):
    """A request the API answers with ``invalid_params``."""


# --------------------------------------------------------------------------- request parsing


def bearer_grant() -> Grant | None:
    """The live grant behind ``Authorization: Bearer <access token>``."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    grant = sandbox().state.access_grant(token.strip())
    if grant is None or grant.account not in sandbox().accounts:
        return None
    return grant


def requested_fields(known) -> list[str]:
    raw = request.args.get("fields")
    if not raw:
        raise BadRequest("fields is required in the query string.")
    fields = list(dict.fromkeys(f.strip() for f in raw.split(",") if f.strip()))
    unknown = [f for f in fields if f not in known]
    if unknown:
        raise BadRequest(f"Invalid fields: {', '.join(unknown)}.")
    return fields


def json_body(allowed: set[str]) -> dict[str, Any]:
    if request.mimetype != "application/json":
        raise BadRequest("Content-Type must be application/json.")
    try:
        body = json.loads(request.get_data() or b"")
    except ValueError as exc:
        raise BadRequest("The request body is not valid JSON.") from exc
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object.")
    if "fields" in body:
        raise BadRequest("fields must be passed in the query string, not in the body.")
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise BadRequest(f"Unknown parameters: {', '.join(unknown)}.")
    return body


def integer(body: dict, key: str, *, low: int, high: int | None = None) -> int | None:
    """An optional JSON integer (null means absent, as in Go's decoder)."""
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequest(f"{key} must be an integer.")
    if value < low or (high is not None and value > high):
        raise BadRequest(f"{key} must be between {low} and {high}." if high else f"{key} must be >= {low}.")
    return value


def has_body() -> bool:
    return bool(request.content_length) or "chunked" in request.headers.get("Transfer-Encoding", "").lower()


def _guarded(view):
    """Authenticate, then map BadRequest to ``invalid_params``."""

    @functools.wraps(view)
    def run(*args: Any) -> Response:
        grant = bearer_grant()
        if grant is None:
            return api_error("access_token_invalid")
        try:
            return view(grant, *args)
        except BadRequest as exc:
            return api_error("invalid_params", str(exc))

    return run


# --------------------------------------------------------------------------- shaping


def user_json(account: Account, grant: Grant, fields: list[str], t: float) -> dict[str, Any]:
    hidden = sandbox().state.hidden_videos(account.key)
    stats = (
        data.profile_stats(account, t, hidden)
        if any(USER_FIELDS[f] == "user.info.stats" for f in fields)
        else {}
    )
    values = {
        "open_id": lambda: data.open_id(account.key, grant.client_key),
        "union_id": lambda: account.union_id,
        "avatar_url": lambda: avatar_url(account, t, 720),
        "avatar_url_100": lambda: avatar_url(account, t, 100),
        "avatar_large_url": lambda: avatar_url(account, t, 1080),
        "display_name": lambda: account.display_name,
        "bio_description": lambda: account.bio,
        "profile_deep_link": lambda: account.profile_deep_link,
        "is_verified": lambda: account.verified,
        "username": lambda: account.username,
    }
    return {f: stats[f] if f in stats else values[f]() for f in fields}


def video_json(
    account: Account, video: Video, fields: list[str], t: float, client_key: str
) -> dict[str, Any]:
    values = {
        "id": lambda: video.id,
        "create_time": lambda: video.create_time,
        "cover_image_url": lambda: cover_url(video, t),
        "share_url": lambda: data.share_url(account, video, client_key),
        "video_description": lambda: video.description,
        "duration": lambda: video.duration,
        "height": lambda: video.height,
        "width": lambda: video.width,
        "title": lambda: video.title,
        "embed_html": lambda: data.embed_html(account, video, client_key),
        "embed_link": lambda: data.embed_link(video),
        "like_count": lambda: data.like_count(video, t),
        "comment_count": lambda: data.comment_count(video, t),
        "share_count": lambda: data.share_count(video, t),
        "view_count": lambda: data.view_count(video, t),
        "is_aigc": lambda: False,
    }
    return {f: values[f]() for f in fields}


# --------------------------------------------------------------------------- views


@endpoint("user_info", API)
@_guarded
def user_info(grant: Grant) -> Response:
    if has_body():
        raise BadRequest("GET requests must not carry a body.")
    fields = requested_fields(USER_FIELDS)
    if any(USER_FIELDS[f] not in grant.scopes for f in fields):
        return api_error("scope_permission_missed")
    account = sandbox().accounts[grant.account]
    return api_ok({"user": user_json(account, grant, fields, sandbox().state.clock.now())})


@endpoint("video_list", API)
@_guarded
def video_list(grant: Grant) -> Response:
    if VIDEO_SCOPE not in grant.scopes:
        return api_error("scope_not_authorized")
    fields = requested_fields(VIDEO_FIELDS)
    body = json_body({"max_count", "cursor"})
    max_count = integer(body, "max_count", low=1, high=MAX_COUNT) or DEFAULT_COUNT
    cursor = integer(body, "cursor", low=0) or None
    state, account = sandbox().state, sandbox().accounts[grant.account]
    t = state.clock.now()
    hidden = state.hidden_videos(account.key)
    if g.fault == "hide_video":
        hidden = _hide_first(
            account, hidden, data.page(account, t, before_ms=cursor, max_count=1, hidden=hidden)[0]
        )
    videos, has_more = data.page(account, t, before_ms=cursor, max_count=max_count, hidden=hidden)
    next_cursor = videos[-1].create_time * 1000 if videos else (cursor or int(t) * 1000)
    return api_ok(
        {
            "videos": [video_json(account, v, fields, t, grant.client_key) for v in videos],
            "cursor": next_cursor,
            "has_more": has_more,
        }
    )


@endpoint("video_query", API)
@_guarded
def video_query(grant: Grant) -> Response:
    if VIDEO_SCOPE not in grant.scopes:
        return api_error("scope_not_authorized")
    fields = requested_fields(VIDEO_FIELDS)
    ids = _video_ids(json_body({"filters"}))
    state, account = sandbox().state, sandbox().accounts[grant.account]
    t = state.clock.now()
    hidden = state.hidden_videos(account.key)
    wanted = [account.by_id[i] for i in ids if i in account.by_id]
    if g.fault == "hide_video":
        hidden = _hide_first(account, hidden, [v for v in wanted if data.is_visible(v, t, hidden)])
    videos = [v for v in wanted if data.is_visible(v, t, hidden)]
    return api_ok(
        {
            "videos": [video_json(account, v, fields, t, grant.client_key) for v in videos],
            "cursor": 0,
            "has_more": False,
        }
    )


def _video_ids(body: dict) -> list[str]:
    filters = body.get("filters")
    if not isinstance(filters, dict) or set(filters) != {"video_ids"}:
        raise BadRequest('The body must be {"filters": {"video_ids": [...]}}.')
    ids = filters["video_ids"]
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) and i for i in ids):
        raise BadRequest("filters.video_ids must be a non-empty list of video id strings.")
    if len(ids) > MAX_QUERY_IDS:
        raise BadRequest(f"filters.video_ids accepts at most {MAX_QUERY_IDS} ids.")
    return list(dict.fromkeys(ids))


def _hide_first(account: Account, hidden: frozenset[str], candidates: list[Video]) -> frozenset[str]:
    """The ``hide_video`` fault: the first candidate is deleted right now."""
    if not candidates:
        return hidden
    sandbox().state.hide_video(account.key, candidates[0].id)
    return hidden | {candidates[0].id}


def register(app: Flask) -> None:
    app.add_url_rule("/v2/user/info/", "user_info", user_info, methods=["GET"])
    app.add_url_rule("/v2/video/list/", "video_list", video_list, methods=["POST"])
    app.add_url_rule("/v2/video/query/", "video_query", video_query, methods=["POST"])
