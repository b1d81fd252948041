"""Client for the TikTok API v2: Display API reads and the OAuth token endpoints.

A plain ``requests`` client with no Flask imports.  Views and jobs build a
:class:`TikTokClient` from configuration and catch the :class:`TikTokAPIError`
family at their boundary.

Everything goes through one choke point, :meth:`TikTokClient._request`,
which builds the URL, adds the bearer header and timeout, decodes JSON,
maps errors (:func:`error_from_response`), logs and retries reads.

Two response shapes exist (see the API reference, sections 2 and 4):

* data APIs wrap everything as ``{"data": {...}, "error": {"code": "ok", ...}}``
  and only ``error.code == "ok"`` means success, whatever the HTTP status;
* the OAuth endpoints answer flat JSON and report failure with a string
  ``error`` key (``{"error": "invalid_grant", ...}``), sometimes with HTTP 200.

Logs carry the method, path, HTTP status, error code and ``log_id`` only:
never a token, an authorization code or a client secret.
"""

from __future__ import annotations

import email.utils
import json as jsonlib
import logging
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import requests

__all__ = [
    "DEFAULT_TIMEOUT",
    "MAX_PAGE_SIZE",
    "MAX_QUERY_IDS",
    "SCOPE_FIELDS",
    "USER_FIELDS",
    "VIDEO_FIELDS",
    "TikTokAPIError",
    "TikTokAuthError",
    "TikTokClient",
    "TikTokConnectionError",
    "TikTokOAuthError",
    "TikTokRateLimitError",
    "TikTokResponseError",
    "TikTokScopeError",
    "VideoPage",
    "error_from_response",
    "user_fields_for_scopes",
]

logger = logging.getLogger(__name__)

# (connect, read) seconds.  Connecting to TikTok's edge takes well under a
# second, so 5 s only trips on a dead network; a read can legitimately take
# several seconds for a 20-video page, but 20 s keeps a stuck sync (or a web
# request waiting on a token refresh) from hanging a worker indefinitely.
DEFAULT_TIMEOUT = (5, 20)

#: Largest ``max_count`` accepted by ``/v2/video/list/``.
MAX_PAGE_SIZE = 20

#: Largest number of ids accepted by ``/v2/video/query/``.
MAX_QUERY_IDS = 20

#: Which user fields each scope unlocks (split in place since 2024-02-29).
SCOPE_FIELDS = {
    "user.info.basic": (
        "open_id",
        "union_id",
        "avatar_url",
        "avatar_url_100",
        "avatar_large_url",
        "display_name",
    ),
    "user.info.profile": (
        "bio_description",
        "profile_deep_link",
        "is_verified",
        "username",
    ),
    "user.info.stats": (
        "follower_count",
        "following_count",
        "likes_count",
        "video_count",
    ),
}

#: Every documented ``/v2/user/info/`` field, in the reference's order.
USER_FIELDS = tuple(field for fields in SCOPE_FIELDS.values() for field in fields)

#: The video fields the dashboard asks for by default.
VIDEO_FIELDS = (
    "id",
    "create_time",
    "title",
    "video_description",
    "duration",
    "cover_image_url",
    "share_url",
    "embed_link",
    "width",
    "height",
    "like_count",
    "comment_count",
    "share_count",
    "view_count",
)

_AUTH_CODES = frozenset({"access_token_invalid"})
_SCOPE_CODES = frozenset({"scope_not_authorized", "scope_permission_missed"})
_RATE_LIMIT_CODES = frozenset({"rate_limit_exceeded"})
_OAUTH_AUTH_ERRORS = frozenset({"invalid_grant"})

_FORM_HEADERS = {
    "Content-Type": "application/x-www-form-urlencoded",
    "Cache-Control": "no-cache",
}

_TOKEN_FIELDS = (
    ("access_token", str),
    ("expires_in", int),
    ("open_id", str),
    ("refresh_token", str),
    ("refresh_expires_in", int),
    ("scope", str),
)


# --------------------------------------------------------------------------
# Exceptions
# --------------------------------------------------------------------------


class TikTokAPIError(Exception):
    """Base of every error this module raises for a TikTok call.

    ``code`` is TikTok's error code (``error.code`` or the OAuth ``error``)
    or one of ours (``connection_error``, ``timeout``, ``malformed_response``,
    ``http_<status>``); ``log_id`` is what TikTok support asks for.
    """

    def __init__(self, message, *, code=None, log_id=None, http_status=None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.log_id = log_id
        self.http_status = http_status

    def __str__(self):
        details = []
        if self.code:
            details.append(f"code={self.code}")
        if self.log_id:
            details.append(f"log_id={self.log_id}")
        return (
            f"{self.message} ({', '.join(details)})" if details else str(self.message)
        )

    def __reduce__(self):
        # Exception pickles only ``args``; keep the keyword-only fields too.
        return (self.__class__, (self.message,), self.__dict__)


class TikTokAuthError(TikTokAPIError):
    """The token or code is invalid, expired or revoked: refresh or log in again."""


class TikTokScopeError(TikTokAPIError):
    """The user did not grant a scope the request needs."""


class TikTokRateLimitError(TikTokAPIError):
    """Rate limited (HTTP 429 / ``rate_limit_exceeded``); wait and try later.

    ``retry_after`` is the server's ``Retry-After`` in seconds, or ``None``.
    """

    def __init__(self, message, *, retry_after=None, **kwargs):
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class TikTokConnectionError(TikTokAPIError):
    """TikTok could not be reached: timeout, refused or reset connection."""


class TikTokResponseError(TikTokAPIError):
    """TikTok answered with a body that is not the documented shape."""

    def __init__(self, message, *, code="malformed_response", **kwargs):
        super().__init__(message, code=code, **kwargs)


class TikTokOAuthError(TikTokAPIError):
    """Any other OAuth error (``invalid_request``, ``invalid_client``, ...)."""


# --------------------------------------------------------------------------
# Response interpretation
# --------------------------------------------------------------------------

_EMPTY = object()  # sentinel: the body was empty
_UNPARSABLE = object()  # sentinel: the body was not JSON


def _decode_body(response) -> Any:
    """Return the decoded JSON body, ``_EMPTY`` or ``_UNPARSABLE``."""
    content = response.content or b""
    if not content.strip():
        return _EMPTY
    try:
        return jsonlib.loads(content)
    except (ValueError, RecursionError):  # JSONDecodeError, bad UTF-8, too deep
        return _UNPARSABLE


def _parse_retry_after(value) -> float | None:
    """``Retry-After`` as seconds (delta-seconds or HTTP-date), else ``None``."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    if not math.isfinite(seconds):
        return None
    return max(seconds, 0.0)


def _error_for_code(code, message, *, log_id, status, response) -> TikTokAPIError:
    """Map a data-API ``error.code`` (or an HTTP 429) to the right class."""
    kwargs = {"code": code, "log_id": log_id, "http_status": status}
    if code in _RATE_LIMIT_CODES or status == 429:
        retry_after = _parse_retry_after(response.headers.get("Retry-After"))
        return TikTokRateLimitError(message, retry_after=retry_after, **kwargs)
    if code in _AUTH_CODES:
        return TikTokAuthError(message, **kwargs)
    if code in _SCOPE_CODES:
        return TikTokScopeError(message, **kwargs)
    return TikTokAPIError(message, **kwargs)


def _error_for_status(status, response, *, message=None, log_id=None):
    """An error for an HTTP failure whose body names no usable error code."""
    code = "rate_limit_exceeded" if status == 429 else f"http_{status}"
    message = message or f"TikTok returned HTTP {status}"
    if status == 401:
        return TikTokAuthError(message, code=code, log_id=log_id, http_status=status)
    return _error_for_code(
        code, message, log_id=log_id, status=status, response=response
    )


def _string_or_none(value):
    return value if isinstance(value, str) and value else None


def _interpret(response) -> tuple[dict, TikTokAPIError | None]:
    """Decode ``response``; return ``(payload, error)``.

    ``payload`` is the decoded JSON object (``{}`` for an empty body);
    ``error`` is ``None`` on success.
    """
    status = response.status_code
    failed = status >= 400
    body = _decode_body(response)
    if body is _EMPTY:
        return {}, _error_for_status(status, response) if failed else None
    if not isinstance(body, dict):
        if failed:
            return {}, _error_for_status(status, response)
        what = "not JSON" if body is _UNPARSABLE else "not a JSON object"
        return {}, TikTokResponseError(
            f"TikTok response body is {what}", http_status=status
        )

    err = body.get("error")
    if isinstance(err, str) and err:  # OAuth shape
        message = _string_or_none(body.get("error_description")) or err
        log_id = _string_or_none(body.get("log_id"))
        cls = TikTokAuthError if err in _OAUTH_AUTH_ERRORS else TikTokOAuthError
        return body, cls(message, code=err, log_id=log_id, http_status=status)
    if isinstance(err, dict):  # data-API shape
        code = err.get("code")
        log_id = _string_or_none(err.get("log_id"))
        message = _string_or_none(err.get("message"))
        if isinstance(code, str) and code and code != "ok":
            message = message or f"TikTok returned error {code}"
            return body, _error_for_code(
                code, message, log_id=log_id, status=status, response=response
            )
        if failed:
            return body, _error_for_status(
                status, response, message=message, log_id=log_id
            )
        if code != "ok":
            return body, TikTokResponseError(
                "TikTok error object has no code", log_id=log_id, http_status=status
            )
        return body, None
    if failed:
        return body, _error_for_status(status, response)
    if err is not None:
        return body, TikTokResponseError(
            "TikTok error field has an unexpected type", http_status=status
        )
    return body, None


def error_from_response(response) -> TikTokAPIError | None:
    """Return the error a ``requests.Response`` from TikTok carries, or ``None``.

    Tells OAuth bodies (``error`` is a string) from data-API bodies
    (``error.code``); any code but ``"ok"`` is a failure even with HTTP 200,
    and an HTTP error status without a usable body is one too
    (``http_<status>``; 429 becomes :class:`TikTokRateLimitError`).
    An unparsable body on a success status is a :class:`TikTokResponseError`.
    """
    return _interpret(response)[1]


# --------------------------------------------------------------------------
# Shape validation
# --------------------------------------------------------------------------


def _malformed(what: str, log_id=None) -> TikTokResponseError:
    return TikTokResponseError(f"Unexpected TikTok response: {what}", log_id=log_id)


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _log_id_of(payload: dict):
    err = payload.get("error")
    return _string_or_none(err.get("log_id")) if isinstance(err, dict) else None


def _data_of(payload: dict) -> dict:
    data = payload.get("data")
    if not isinstance(data, dict):
        raise _malformed("missing 'data' object", _log_id_of(payload))
    return data


def _clean_videos(videos, log_id) -> list[dict]:
    """Check ``videos`` is a list of dicts with an id; ids become strings."""
    if videos is None:
        return []
    if not isinstance(videos, list):
        raise _malformed("'videos' is not a list", log_id)
    cleaned = []
    for video in videos:
        if not isinstance(video, dict):
            raise _malformed("a video is not an object", log_id)
        video_id = video.get("id")
        if _is_int(video_id):
            video_id = str(video_id)
        if not isinstance(video_id, str) or not video_id:
            raise _malformed("a video has no string 'id'", log_id)
        cleaned.append({**video, "id": video_id})
    return cleaned


def _check_token(payload: dict) -> dict:
    """Check a token response carries every documented field with its type."""
    for name, kind in _TOKEN_FIELDS:
        value = payload.get(name)
        ok = _is_int(value) if kind is int else isinstance(value, kind) and value != ""
        if not ok:
            raise _malformed(f"token response field '{name}' missing or invalid")
    return payload


def _join_fields(fields) -> str:
    if isinstance(fields, str):
        fields = [fields]
    fields = [f for f in fields if f]
    if not fields or not all(isinstance(f, str) for f in fields):
        raise ValueError("fields must be a non-empty list of field names")
    return ",".join(fields)


def user_fields_for_scopes(scopes) -> list[str]:
    """User fields the granted ``scopes`` allow, in :data:`USER_FIELDS` order.

    ``scopes`` is an iterable of scope names or the comma-separated string
    found in the token response's ``scope`` (or the callback's ``scopes``).
    """
    if isinstance(scopes, str):
        scopes = scopes.split(",")
    allowed = set()
    for scope in scopes:
        allowed.update(SCOPE_FIELDS.get(scope.strip(), ()))
    return [field for field in USER_FIELDS if field in allowed]


@dataclass(frozen=True)
class VideoPage:
    """One page of ``/v2/video/list/``; pass ``cursor`` back for the next."""

    videos: list[dict]
    cursor: int | None
    has_more: bool


# --------------------------------------------------------------------------
# Client
# --------------------------------------------------------------------------


class TikTokClient:
    """TikTok API v2 client for one user's access token.

    ``access_token`` may be ``None`` for the OAuth calls only; it is a plain
    attribute so a caller may swap in a refreshed token.  ``base_url`` may
    carry a path prefix (a local sandbox).  Reads are retried up to
    ``max_retries`` times on 429, 5xx and connection failures, waiting
    ``backoff * 2**attempt`` seconds (or ``Retry-After``), never longer
    than ``max_retry_wait``; token calls are never retried.

    ``throttle`` shares TikTok's rate limit with every other caller: any
    object with two methods,

    * ``acquire(endpoint: str)``, called before every HTTP attempt of a
      Display API call with its path (``"/v2/video/list/"``); it blocks
      until the call fits the budget (whatever it raises propagates), and
    * ``back_off(seconds: float)``, called when an attempt ends in
      :class:`TikTokRateLimitError`, with TikTok's ``Retry-After`` (or this
      client's own back-off wait when TikTok sent none), before any retry.

    The OAuth token and revoke calls are not throttled: they are not part
    of the Display API's per-endpoint limit.
    ``dashboard.core.budget.TikTokBudget`` is one such object.
    """

    def __init__(
        self,
        access_token: str | None = None,
        *,
        base_url: str = "https://open.tiktokapis.com",
        timeout=DEFAULT_TIMEOUT,
        session: requests.Session | None = None,
        max_retries: int = 3,
        backoff: float = 0.5,
        max_retry_wait: float = 30.0,
        sleep: Callable[[float], Any] = time.sleep,
        throttle=None,
    ):
        self.access_token = access_token
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = session if session is not None else requests.Session()
        self.max_retries = max(0, int(max_retries))
        self.backoff = backoff
        self.max_retry_wait = max_retry_wait
        self._sleep = sleep
        self.throttle = throttle

    def __repr__(self):
        return f"<TikTokClient base_url={self.base_url!r}>"

    # -- choke point -------------------------------------------------------

    def _request(
        self,
        method,
        path,
        *,
        params=None,
        json=None,
        data=None,
        auth=True,
        retry=True,
        throttled=True,
    ) -> dict:
        """Send one API call and return its decoded JSON object.

        Raises a :class:`TikTokAPIError` subclass on any failure.  ``data``
        is sent form-encoded (the OAuth endpoints), ``json`` as a JSON body.
        An empty success body returns ``{}``.  ``throttled`` calls go
        through :attr:`throttle`, when there is one.
        """
        headers = {}
        if auth:
            if not self.access_token:
                raise TikTokAuthError(
                    "No access token available", code="access_token_missing"
                )
            headers["Authorization"] = f"Bearer {self.access_token}"
        if data is not None:
            headers.update(_FORM_HEADERS)
        url = self.base_url + path
        throttle = self.throttle if throttled else None
        attempts = self.max_retries + 1 if retry else 1
        for attempt in range(attempts):
            if throttle is not None:
                throttle.acquire(path)
            payload, error = self._send_once(
                method, url, path, params=params, json=json, data=data, headers=headers
            )
            if error is None:
                return payload
            if throttle is not None and isinstance(error, TikTokRateLimitError):
                throttle.back_off(self._throttle_wait(error, attempt))
            if attempt + 1 >= attempts or not _is_retryable(error):
                raise error
            wait = self._retry_wait(error, attempt)
            logger.info(
                "TikTok %s %s retry %d/%d in %.2fs (code=%s)",
                method,
                path,
                attempt + 1,
                self.max_retries,
                wait,
                error.code,
            )
            self._sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    def _send_once(
        self, method, url, path, **kwargs
    ) -> tuple[dict, TikTokAPIError | None]:
        """One HTTP exchange: ``(payload, None)`` or ``({}, error)``; never raises."""
        try:
            response = self.session.request(method, url, timeout=self.timeout, **kwargs)
        except requests.exceptions.Timeout as exc:
            logger.warning(
                "TikTok %s %s timed out (%s)", method, path, type(exc).__name__
            )
            return {}, TikTokConnectionError(
                f"Timed out calling TikTok {path}", code="timeout"
            )
        except (
            requests.exceptions.ConnectionError,
            requests.exceptions.ChunkedEncodingError,
        ) as exc:
            logger.warning(
                "TikTok %s %s connection failed (%s)", method, path, type(exc).__name__
            )
            return {}, TikTokConnectionError(
                f"Could not connect to TikTok for {path}", code="connection_error"
            )
        except requests.exceptions.RequestException as exc:
            logger.error(
                "TikTok %s %s request failed (%s)", method, path, type(exc).__name__
            )
            return {}, TikTokAPIError(
                f"Request to TikTok {path} failed", code="request_error"
            )
        payload, error = _interpret(response)
        if error is None:
            logger.debug("TikTok %s %s -> HTTP %s", method, path, response.status_code)
            return payload, None
        logger.warning(
            "TikTok %s %s -> HTTP %s code=%s log_id=%s",
            method,
            path,
            response.status_code,
            error.code,
            error.log_id,
        )
        return {}, error

    def _retry_wait(self, error: TikTokAPIError, attempt: int) -> float:
        retry_after = getattr(error, "retry_after", None)
        wait = retry_after if retry_after is not None else self.backoff * 2**attempt
        return min(wait, self.max_retry_wait)

    def _throttle_wait(self, error: TikTokRateLimitError, attempt: int) -> float:
        """How long every caller should hold: TikTok's word, uncapped, else ours."""
        if error.retry_after is not None:
            return error.retry_after
        return self._retry_wait(error, attempt)

    # -- Display API ---------------------------------------------------------

    def get_user_info(self, fields) -> dict:
        """GET ``/v2/user/info/``: the user object with the requested fields.

        Ask only for fields the token's scopes allow
        (:func:`user_fields_for_scopes`) or TikTok answers
        ``scope_permission_missed``.
        """
        params = {"fields": _join_fields(fields)}
        payload = self._request("GET", "/v2/user/info/", params=params)
        user = _data_of(payload).get("user")
        if not isinstance(user, dict):
            raise _malformed("missing 'data.user' object", _log_id_of(payload))
        return user

    def list_videos(
        self, cursor=None, max_count=MAX_PAGE_SIZE, fields=VIDEO_FIELDS
    ) -> VideoPage:
        """POST ``/v2/video/list/``: one page of public videos, newest first."""
        if not _is_int(max_count) or not 1 <= max_count <= MAX_PAGE_SIZE:
            raise ValueError(f"max_count must be an int from 1 to {MAX_PAGE_SIZE}")
        if cursor is not None and not _is_int(cursor):
            raise ValueError("cursor must be an int (a millisecond timestamp) or None")
        body = {"max_count": max_count}
        if cursor is not None:
            body["cursor"] = cursor
        payload = self._request(
            "POST",
            "/v2/video/list/",
            params={"fields": _join_fields(fields)},
            json=body,
        )
        return _video_page(payload)

    def iter_videos(
        self, fields=VIDEO_FIELDS, max_count=MAX_PAGE_SIZE
    ) -> Iterator[dict]:
        """Yield every public video, following ``cursor`` while ``has_more``.

        A short (even empty) page does not end the walk; only ``has_more``
        does.  A cursor seen before means the server is looping, which
        raises :class:`TikTokResponseError` instead of spinning forever.
        """
        cursor = None
        seen = set()
        while True:
            page = self.list_videos(cursor=cursor, max_count=max_count, fields=fields)
            yield from page.videos
            if not page.has_more:
                return
            if page.cursor in seen or page.cursor == cursor:
                raise TikTokResponseError(
                    f"TikTok returned has_more with a repeated cursor {page.cursor}"
                )
            seen.add(page.cursor)
            cursor = page.cursor

    def query_videos(self, ids, fields=VIDEO_FIELDS) -> list[dict]:
        """POST ``/v2/video/query/``: fresh objects (cover URLs) for up to 20 ids."""
        if isinstance(ids, (str, bytes)):
            raise TypeError("ids must be a list of video ids, not a single string")
        ids = list(ids)
        if not ids or len(ids) > MAX_QUERY_IDS:
            raise ValueError(
                f"ids must hold 1 to {MAX_QUERY_IDS} video ids, got {len(ids)}"
            )
        video_ids = []
        for video_id in ids:
            if _is_int(video_id):
                video_id = str(video_id)
            if not isinstance(video_id, str) or not video_id:
                raise ValueError(f"invalid video id {video_id!r}")
            video_ids.append(video_id)
        payload = self._request(
            "POST",
            "/v2/video/query/",
            params={"fields": _join_fields(fields)},
            json={"filters": {"video_ids": video_ids}},
        )
        data = _data_of(payload)
        return _clean_videos(data.get("videos"), _log_id_of(payload))

    # -- OAuth ---------------------------------------------------------------

    def exchange_code(
        self, *, client_key, client_secret, code, redirect_uri, code_verifier=None
    ) -> dict:
        """Trade an authorization code (already URL-decoded) for tokens.

        Never retried: a code is single-use.  Returns TikTok's flat token
        response (``access_token``, ``expires_in``, ``refresh_token``, ...).
        """
        form = {
            "client_key": client_key,
            "client_secret": client_secret,
            "code": code,
            "grant_type": "authorization_code",
            "redirect_uri": redirect_uri,
        }
        if code_verifier is not None:
            form["code_verifier"] = code_verifier
        return _check_token(self._oauth("/v2/oauth/token/", form))

    def refresh_access_token(self, *, client_key, client_secret, refresh_token) -> dict:
        """Get a new access token; persist the returned ``refresh_token``.

        Never retried: refresh tokens rotate, so a retry after a lost
        response could spend the new token's predecessor twice.
        """
        form = {
            "client_key": client_key,
            "client_secret": client_secret,
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
        }
        return _check_token(self._oauth("/v2/oauth/token/", form))

    def revoke_token(self, *, client_key, client_secret, token) -> None:
        """Revoke the user's access token (TikTok answers an empty body)."""
        form = {
            "client_key": client_key,
            "client_secret": client_secret,
            "token": token,
        }
        self._oauth("/v2/oauth/revoke/", form)

    def _oauth(self, path, form) -> dict:
        return self._request(
            "POST", path, data=form, auth=False, retry=False, throttled=False
        )


def _is_retryable(error: TikTokAPIError) -> bool:
    if isinstance(error, (TikTokRateLimitError, TikTokConnectionError)):
        return True
    if isinstance(error, (TikTokAuthError, TikTokScopeError)):
        return False
    return (error.http_status or 0) >= 500 or error.code == "internal_error"


def _video_page(payload: dict) -> VideoPage:
    log_id = _log_id_of(payload)
    data = _data_of(payload)
    videos = _clean_videos(data.get("videos"), log_id)
    has_more = data.get("has_more")
    if not isinstance(has_more, bool):
        raise _malformed("'has_more' is not a boolean", log_id)
    cursor = data.get("cursor")
    if cursor is None and not has_more:
        return VideoPage(videos=videos, cursor=None, has_more=False)
    if not _is_int(cursor):
        raise _malformed("'cursor' is not an integer", log_id)
    return VideoPage(videos=videos, cursor=cursor, has_more=has_more)
