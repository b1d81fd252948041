"""One sync of one account: read TikTok, write one snapshot, all or nothing.

A sync costs one user-info call and one walk of the video list,
ceil(videos / 20) calls. Everything is fetched first and written in one
transaction afterwards, so a fault half-way leaves the last good state and
a failed run with its reason. A lease on the account keeps two syncs of it
from running at once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import gettext as _
from flask_babel import ngettext

from oauth_handler import ReauthRequired, active_token, make_client
from tiktok_official_api import (
    MAX_PAGE_SIZE,
    VIDEO_FIELDS,
    TikTokAPIError,
    TikTokAuthError,
    TikTokConnectionError,
    TikTokRateLimitError,
    TikTokResponseError,
    TikTokScopeError,
    user_fields_for_scopes,
)

from .models import utcnow
from .store import get_store

log = logging.getLogger(__name__)

#: Default of the ``SYNC_LEASE_SECONDS`` setting. The lease is renewed as the
#: sync calls TikTok, so it only has to outlast one call with its retries
#: (4 x (5 + TIKTOK_TIMEOUT) s plus back-off, about 200 s by default), however
#: long the whole sync takes; and a killed sync frees the account this soon.
SYNC_LEASE_SECONDS = 5 * 60
#: A call renews the lease only once this share of it has passed since the
#: last renewal: a write before every call doubled the time of a fast sync
#: (501 commits for 10,000 videos), and the lease left still outlasts a call.
LEASE_RENEW_SHARE = 0.1

Progress = Callable[[int, int | None], None]


@dataclass(frozen=True)
class SyncResult:
    ok: bool
    message: str
    videos_seen: int = 0
    api_calls: int = 0
    error_code: str | None = None
    log_id: str | None = None
    run_id: int | None = None


class LeaseLost(Exception):
    """This sync's lease ran out and another sync took the account over."""


class _Lease:
    """The sync lease on one account: renewed as the walk goes, freed at the end."""

    def __init__(self, account_id: int, seconds: float, held):
        self.account_id = account_id
        self.seconds = seconds
        self.held = held
        self._renewed = time.monotonic()

    def renew(self) -> None:
        now = time.monotonic()
        if now - self._renewed >= self.seconds * LEASE_RENEW_SHARE:
            self.held = get_store().renew_lock("sync", self.account_id, self.seconds, self.held)
            if self.held is None:
                raise LeaseLost(self.account_id)
            self._renewed = now

    def release(self) -> None:
        if self.held is not None:
            get_store().unlock("sync", self.account_id, self.held)


class _Walker:
    """Calls the API with the account's token, refreshing once on a 401."""

    def __init__(self, account_id: int, lease: _Lease):
        self.account_id = account_id
        self.lease = lease
        token = active_token(account_id)
        self.client = make_client(token.access_token)
        #: The scopes the account granted, as its token records them.
        self.scopes = {s.strip() for s in (token.scope or "").split(",") if s.strip()}
        self.calls = 0

    def renew_lease(self) -> None:
        self.lease.renew()

    def call(self, operation):
        self.renew_lease()
        self.calls += 1
        try:
            return operation(self.client)
        except TikTokAuthError:
            self.client.access_token = active_token(self.account_id, force_refresh=True).access_token
            self.calls += 1
            return operation(self.client)

    def videos(self, progress: Progress | None, total: int | None) -> list[dict]:
        seen: dict[str, dict] = {}
        cursor = None
        cursors: set[int] = set()
        while True:
            page = self.call(lambda c, at=cursor: c.list_videos(
                cursor=at, max_count=MAX_PAGE_SIZE, fields=VIDEO_FIELDS))
            for video in page.videos:
                seen.setdefault(video["id"], video)
            if progress:
                progress(len(seen), total)
            if not page.has_more:
                return list(seen.values())
            if page.cursor is None or page.cursor in cursors:
                raise TikTokResponseError("The video list did not advance.", code="malformed_response")
            cursor = page.cursor
            cursors.add(cursor)


def run_sync(account_id: int, *, now: datetime | None = None,
             progress: Progress | None = None) -> SyncResult:
    """Sync one account; never raises for upstream faults, records them instead."""
    store = get_store()
    seconds = current_app.config.get("SYNC_LEASE_SECONDS") or SYNC_LEASE_SECONDS
    held = store.try_lock("sync", account_id, seconds)
    if held is None:
        return SyncResult(False, _("A sync of this account is already running."),
                          error_code="sync_in_progress")
    lease = _Lease(account_id, seconds, held)
    store.abandon_stale_runs(account_id)
    run_id = store.start_sync_run(account_id)
    walker = None
    try:
        walker = _Walker(account_id, lease)
        scopes = walker.scopes
        user = walker.call(lambda c: c.get_user_info(user_fields_for_scopes(scopes)))
        videos = None
        if "video.list" in scopes:
            videos = walker.videos(progress, user.get("video_count"))
        taken_at = (now or utcnow()).replace(second=0, microsecond=0)
        walker.renew_lease()
        store.record_sync(run_id, account_id, taken_at, user, videos, api_calls=walker.calls)
        count = len(videos or ())
        return SyncResult(True, ngettext("Synced %(num)d video.", "Synced %(num)d videos.", count), count,
                          walker.calls, run_id=run_id)
    except LeaseLost:
        return _failed(run_id, walker, "sync_in_progress",
                       _("A sync of this account is already running."), None)
    except ReauthRequired:
        return _failed(run_id, walker, "reauth_required",
                       _("TikTok no longer accepts this connection. Please log in again."), None)
    except TikTokAPIError as exc:
        return _failed(run_id, walker, exc.code or "api_error", _describe(exc), exc.log_id)
    except (ValueError, TypeError, KeyError) as exc:
        log.warning("sync of account %s got malformed data: %s", account_id, type(exc).__name__)
        return _failed(run_id, walker, "malformed_response",
                       _("TikTok sent data that could not be read."), None)
    finally:
        lease.release()


def _describe(exc: TikTokAPIError) -> str:
    from .errors import describe_api_error

    _status, _title, sentence = describe_api_error(exc)
    return sentence


#: Error codes of failed runs whose sentence is not the generic one.
_FAILURE_KINDS = {
    "rate_limit_exceeded": TikTokRateLimitError,
    "http_429": TikTokRateLimitError,
    "timeout": TikTokConnectionError,
    "connection_error": TikTokConnectionError,
    "request_error": TikTokConnectionError,
    "malformed_response": TikTokResponseError,
    "scope_not_authorized": TikTokScopeError,
    "scope_permission_missed": TikTokScopeError,
}


def failure_reason(code: str | None) -> str:
    """Why a run failed, in the viewer's language.

    A run stores the sentence in the language of whoever started it (or
    English from ``flask sync``), so pages rebuild it from the stored code.
    """
    if code == "interrupted":
        return _("The sync stopped before it finished.")
    if code == "reauth_required":
        return _("TikTok no longer accepts this connection. Please log in again.")
    if code == "sync_in_progress":
        return _("A sync of this account is already running.")
    kind = _FAILURE_KINDS.get(code or "", TikTokAPIError)
    return _describe(kind("", code=code))


def _failed(run_id, walker, code, message, log_id) -> SyncResult:
    calls = walker.calls if walker else 0
    get_store().fail_sync_run(run_id, code=code, message=message, log_id=log_id,
                              api_calls=calls, videos_seen=0)
    log.info("sync run %s failed: code=%s log_id=%s", run_id, code, log_id)
    return SyncResult(False, message, api_calls=calls, error_code=code, log_id=log_id, run_id=run_id)


def stale_cover_ids(videos, now: datetime | None = None, max_age=timedelta(hours=5)) -> list[str]:
    """Videos on a page whose signed cover URL is (about to be) expired."""
    now = now or utcnow()
    return [v.video_id for v in videos
            if v.cover_fetched_at is None or now - v.cover_fetched_at > max_age]
