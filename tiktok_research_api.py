"""Client for TikTok's Research API and Commercial Content API (the ad library).

A research client is not a Login Kit app: it has its own key and secret and
authenticates with a *client* access token (``grant_type=client_credentials``,
API reference section 2.4), cached here until it expires and renewed once
when TikTok answers ``access_token_invalid``. Everything else (the one
``_request`` choke point, the error family, the throttle hook) is
:class:`tiktok_official_api.TikTokClient`'s.

Research calls are never retried here: every attempt counts against a daily
quota (an HTTP 500 on a large window still consumes it), so the caller, which
counts the quota, decides what to try next (``dashboard.core.research``).

Every field TikTok sends is untrusted text; this module only checks shapes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests

from tiktok_official_api import (
    DEFAULT_TIMEOUT,
    TikTokAPIError,
    TikTokAuthError,
    TikTokClient,
    TikTokResponseError,
)

__all__ = [
    "AD_FIELDS",
    "COMMENT_FIELDS",
    "FOLLOW_FIELDS",
    "RESEARCH_USER_FIELDS",
    "RESEARCH_VIDEO_FIELDS",
    "ResearchClient",
    "ResearchPage",
    "TikTokQuotaError",
    "is_expired_search",
]

logger = logging.getLogger(__name__)

#: Fields of ``/v2/research/video/query/`` (the codebook spells ``favorites_count``).
RESEARCH_VIDEO_FIELDS = (
    "id", "create_time", "username", "region_code", "video_description", "music_id",
    "like_count", "comment_count", "share_count", "view_count", "effect_ids", "hashtag_names",
    "playlist_id", "voice_to_text", "is_stem_verified", "favorites_count", "video_duration",
)
COMMENT_FIELDS = ("id", "video_id", "text", "like_count", "reply_count", "parent_comment_id",
                  "create_time")
RESEARCH_USER_FIELDS = ("display_name", "bio_description", "avatar_url", "is_verified",
                        "follower_count", "following_count", "likes_count", "video_count", "bio_url")
FOLLOW_FIELDS = ("display_name", "username")
AD_FIELDS = ("ad.id", "ad.first_shown_date", "ad.last_shown_date", "ad.status", "ad.videos",
             "ad.reach", "advertiser.business_id", "advertiser.business_name")

#: A client token is renewed this many seconds before TikTok says it expires.
TOKEN_LEEWAY = 60

_PATHS = {
    "video": "/v2/research/video/query/",
    "comments": "/v2/research/video/comment/list/",
    "user_info": "/v2/research/user/info/",
    "followers": "/v2/research/user/followers/",
    "following": "/v2/research/user/following/",
    "advertisers": "/v2/research/adlib/advertiser/query/",
    "ads": "/v2/research/adlib/ad/query/",
}
#: Where each endpoint puts its list in ``data``.
_LIST_KEYS = {"video": "videos", "comments": "comments", "followers": "user_followers",
              "following": "user_following", "advertisers": "advertisers", "ads": "ads"}


class TikTokQuotaError(TikTokAPIError):
    """``daily_quota_limit_exceeded``: nothing more until 00:00 UTC."""


def is_expired_search(error: TikTokAPIError) -> bool:
    """TikTok's "Search Id ... is invalid or expired" (an ``invalid_params``)."""
    message = (error.message or "").lower()
    return error.code == "invalid_params" and "search id" in message and (
        "expired" in message or "invalid" in message)


@dataclass(frozen=True)
class ResearchPage:
    """One page of a paged research endpoint."""

    items: list[dict]
    cursor: int | None
    has_more: bool
    search_id: str | None
    log_id: str | None


class ResearchClient(TikTokClient):
    """The Research and Commercial Content APIs for one research client.

    ``client_key``/``client_secret`` are the research client's, never the
    Login Kit app's. The client token lives in memory only, in this object.
    """

    def __init__(self, *, client_key: str, client_secret: str,
                 base_url: str = "https://open.tiktokapis.com", timeout=DEFAULT_TIMEOUT,
                 session: requests.Session | None = None, throttle=None,
                 clock: Callable[[], float] = time.time):
        super().__init__(None, base_url=base_url, timeout=timeout, session=session,
                         max_retries=0, throttle=throttle)
        self._client_key = client_key
        self._client_secret = client_secret
        self._clock = clock
        self._token_lock = threading.Lock()
        self._expires_at = 0.0

    def __repr__(self):
        return f"<ResearchClient base_url={self.base_url!r}>"

    # -- the client token ------------------------------------------------------------

    def client_token(self, *, renew: bool = False) -> str:
        """A live client access token, fetched when missing, expiring or ``renew``."""
        with self._token_lock:
            if renew or not self.access_token or self._clock() >= self._expires_at - TOKEN_LEEWAY:
                form = {"client_key": self._client_key, "client_secret": self._client_secret,
                        "grant_type": "client_credentials"}
                payload = self._request("POST", "/v2/oauth/token/", data=form, auth=False,
                                        retry=False, throttled=False)
                token, expires_in = payload.get("access_token"), payload.get("expires_in")
                if not isinstance(token, str) or not token or not isinstance(expires_in, int) \
                        or isinstance(expires_in, bool):
                    raise TikTokResponseError("Unexpected TikTok response: client token missing")
                self.access_token = token
                self._expires_at = self._clock() + expires_in
            return self.access_token

    def _call(self, kind: str, body: dict, fields) -> dict:
        """POST a research endpoint with the client token; renewed once on ``access_token_invalid``."""
        params = {"fields": ",".join(fields)} if fields else None
        for attempt in (0, 1):
            self.client_token(renew=attempt == 1)
            try:
                return self._request("POST", _PATHS[kind], params=params, json=body, retry=False)
            except TikTokAuthError:
                if attempt:
                    raise
                logger.info("research client token refused; renewing it once")
            except TikTokAPIError as error:
                if error.code == "daily_quota_limit_exceeded":
                    raise TikTokQuotaError(error.message, code=error.code, log_id=error.log_id,
                                           http_status=error.http_status) from None
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    # -- endpoints -----------------------------------------------------------------------

    def query_videos(self, body: dict, fields=RESEARCH_VIDEO_FIELDS) -> ResearchPage:
        """POST ``/v2/research/video/query/``: one page for one window of at most 30 days."""
        return self._page("video", body, fields)

    def comments(self, *, video_id: str | None = None, comment_id: str | None = None,
                 cursor: int = 0, max_count: int = 100, fields=COMMENT_FIELDS) -> ResearchPage:
        """A video's comments, or the replies to one comment (never both)."""
        if (video_id is None) == (comment_id is None):
            raise ValueError("give video_id or comment_id, not both")
        body: dict[str, Any] = {"max_count": max_count, "cursor": cursor}
        if video_id is not None:
            body["video_id"] = int(video_id)
        else:
            body["comment_id"] = int(comment_id)
        return self._page("comments", body, fields)

    def user_info(self, username: str, fields=RESEARCH_USER_FIELDS) -> dict:
        payload = self._call("user_info", {"username": username}, fields)
        data = payload.get("data")
        if not isinstance(data, dict):
            raise TikTokResponseError("Unexpected TikTok response: missing 'data' object")
        return data

    def follows(self, kind: str, username: str, *, cursor: int | None = None,
                max_count: int = 100) -> ResearchPage:
        """``followers`` or ``following`` of ``username``, one page."""
        if kind not in ("followers", "following"):
            raise ValueError("kind must be followers or following")
        body: dict[str, Any] = {"username": username, "max_count": max_count}
        if cursor is not None:
            body["cursor"] = cursor
        return self._page(kind, body, None)

    def advertisers(self, search_term: str, *, max_count: int = 50) -> ResearchPage:
        body = {"search_term": search_term, "max_count": max_count}
        return self._page("advertisers", body, ("business_id", "business_name", "country_code"))

    def ads(self, body: dict, fields=AD_FIELDS) -> ResearchPage:
        return self._page("ads", body, fields)

    def _page(self, kind: str, body: dict, fields) -> ResearchPage:
        payload = self._call(kind, body, fields)
        error = payload.get("error") if isinstance(payload.get("error"), dict) else {}
        log_id = error.get("log_id") if isinstance(error.get("log_id"), str) else None
        data = payload.get("data")
        if not isinstance(data, dict):
            raise TikTokResponseError("Unexpected TikTok response: missing 'data' object", log_id=log_id)
        items = data.get(_LIST_KEYS[kind]) or []
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise TikTokResponseError(f"Unexpected TikTok response: '{_LIST_KEYS[kind]}' is not a list",
                                      log_id=log_id)
        has_more = data.get("has_more", False)
        cursor = data.get("cursor")
        search_id = data.get("search_id")
        if not isinstance(has_more, bool):
            raise TikTokResponseError("Unexpected TikTok response: 'has_more' is not a boolean",
                                      log_id=log_id)
        if cursor is not None and (not isinstance(cursor, int) or isinstance(cursor, bool)):
            raise TikTokResponseError("Unexpected TikTok response: 'cursor' is not an integer",
                                      log_id=log_id)
        if has_more and cursor is None:
            raise TikTokResponseError("Unexpected TikTok response: has_more without a cursor",
                                      log_id=log_id)
        if search_id is not None:
            search_id = str(search_id)
        return ResearchPage(items=items, cursor=cursor, has_more=has_more, search_id=search_id,
                            log_id=log_id)
