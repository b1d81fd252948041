"""Ingest: whatever TikTok (or, later, an import) sends, cleaned to fit our columns.

Every value from outside is hostile until checked: counts are clamped to
their column, text loses NUL characters and is cut, and a video that cannot
be stored truthfully (an id no TikTok video has, a creation time outside the
calendar) raises ValueError, so the sync fails as "malformed" instead of
storing something invented. PostgreSQL refuses out-of-range numbers,
over-long strings and NUL characters; SQLite would store them as text.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

PROFILE_FIELDS = (
    "union_id", "display_name", "username", "avatar_url", "bio_description",
    "profile_deep_link", "is_verified", "follower_count", "following_count",
    "likes_count", "video_count",
)
COUNT_FIELDS = ("follower_count", "following_count", "likes_count", "video_count")
VIDEO_COUNT_FIELDS = ("view_count", "like_count", "comment_count", "share_count")
TEXT_LIMIT = 5000

BIGINT_MAX = 2**63 - 1
INT_MAX = 2**31 - 1
#: Latest instant a ``create_time`` may name (9999-12-31T23:59:59Z).
MAX_TIMESTAMP = 253_402_300_799
MAX_VIDEO_ID_LENGTH = 32


def number(value, limit: int = BIGINT_MAX) -> int | None:
    """A count: a whole number clamped to [0, limit], or None if it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float):
        value = int(value) if math.isfinite(value) else None
    elif isinstance(value, str):
        try:
            value = int(value.strip()) if len(value) <= 30 else None
        except ValueError:
            value = None
    if not isinstance(value, int):
        return None
    return min(max(value, 0), limit)


def text(value, limit: int = TEXT_LIMIT) -> str | None:
    """A string without NUL characters and cut to ``limit``; None otherwise."""
    if not isinstance(value, str):
        return None
    return value.replace("\x00", "")[:limit]


def _text_or_none(value):
    return text(value) or None


def video_row(video: dict) -> dict:
    """``video_id`` and the ``videos`` columns of one API video object."""
    video_id = video["id"]
    if not isinstance(video_id, str) or len(video_id) > MAX_VIDEO_ID_LENGTH or "\x00" in video_id:
        raise ValueError("video id is not a TikTok video id")
    created = video.get("create_time")
    timestamp = 0 if created is None else number(created)
    if timestamp is None or timestamp > MAX_TIMESTAMP:
        raise ValueError("create_time is not a timestamp")
    return {
        "video_id": video_id,
        "create_time": datetime.fromtimestamp(timestamp, UTC),
        "title": text(video.get("title")) or "",
        "video_description": text(video.get("video_description")) or "",
        "duration": number(video.get("duration"), INT_MAX),
        "width": number(video.get("width"), INT_MAX),
        "height": number(video.get("height"), INT_MAX),
        "cover_image_url": _text_or_none(video.get("cover_image_url")),
        "share_url": _text_or_none(video.get("share_url")),
        "embed_link": _text_or_none(video.get("embed_link")),
        **{f: number(video.get(f)) or 0 for f in VIDEO_COUNT_FIELDS},
    }


def profile_row(user: dict) -> dict:
    """The ``accounts`` columns an API user object sets (only the fields it has)."""
    shape = {
        "union_id": lambda v: text(v, 128), "display_name": text, "username": lambda v: text(v, 255),
        "avatar_url": _text_or_none, "bio_description": text, "profile_deep_link": _text_or_none,
        "is_verified": lambda v: v if isinstance(v, bool) else None,
        **{f: number for f in COUNT_FIELDS},
    }
    return {field: shape[field](user[field]) for field in PROFILE_FIELDS if field in user}


def cover_url(video: dict) -> str | None:
    """The cover URL of a video/query answer, cleaned."""
    return _text_or_none(video.get("cover_image_url"))
