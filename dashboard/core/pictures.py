"""Covers and avatars kept by the app, so pages never show TikTok's expiring URLs.

After each sync the worker downloads the avatar and every cover not stored
yet, while TikTok's signed URLs are fresh. A URL whose ``x-expires`` has
passed is renewed first through ``/v2/video/query/``, 20 ids a call, only for
the covers still missing. Pages show the stored files from the app's own
origin; a deleted video keeps its cover.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

import requests

from dashboard.storage.models import utcnow
from oauth_handler import ReauthRequired
from tiktok_official_api import MAX_QUERY_IDS, TikTokAPIError

from . import ingest
from .budget import BudgetTimeout
from .context import Core
from .media import (
    AVATAR_MAX_SIDE,
    COVER_MAX_SIDE,
    MediaRefused,
    allowed_source,
    fetch_image,
    url_expires_at,
)

log = logging.getLogger(__name__)

#: A URL that expires sooner than this is renewed before use: a download
#: started a second before expiry would be refused half-way.
EXPIRY_MARGIN = timedelta(minutes=2)
#: Covers stored per job at most; a larger backlog continues in the next job.
MAX_COVERS_PER_JOB = 5000
#: Downloads at once: a CDN answers in tens of milliseconds, so a few in flight
#: store a 10,000-video account in minutes, not an hour, without crowding it.
DOWNLOAD_THREADS = 4
#: After this many network failures in a row the job stops: the CDN (or the
#: network) is down, and thousands more attempts would only wait on it.
MAX_NETWORK_FAILURES = 3
_NETWORK_REASONS = frozenset({"connection", "timeout"})


@dataclass(frozen=True)
class PicturesResult:
    stored: int = 0
    failed: int = 0
    renewed_calls: int = 0
    more: bool = False


def store_pictures(core: Core, account_id: int) -> PicturesResult:
    """Download the avatar and the missing covers of one account."""
    hosts = _media_hosts(core)
    avatar_ok = _store_avatar(core, account_id, _session(), hosts)
    missing = core.store.history.videos_without_cover(account_id, MAX_COVERS_PER_JOB + 1)
    more = len(missing) > MAX_COVERS_PER_JOB
    urls, calls = _fresh_urls(core, account_id, missing[:MAX_COVERS_PER_JOB])
    downloader = _Downloader(core, account_id, hosts)
    with ThreadPoolExecutor(DOWNLOAD_THREADS, thread_name_prefix="pictures") as pool:
        stored = [video_id for video_id in pool.map(downloader.cover, urls, urls.values()) if video_id]
    core.store.history.mark_covers_stored(account_id, stored, utcnow())
    if core.store.accounts.get(account_id) is None:  # disconnected meanwhile: keep nothing
        core.media.delete_account(account_id)
        return PicturesResult()
    core.store.accounts.mark_pictures_stored(account_id, utcnow())
    if downloader.stopped:
        log.warning("cover downloads of account %s stopped after %d network failures in a row",
                    account_id, MAX_NETWORK_FAILURES)
    # A stopped job is not continued at once: the next sync's job tries again.
    return PicturesResult(len(stored) + int(avatar_ok), len(urls) - len(stored), calls,
                          more and not downloader.stopped)


_local = threading.local()


def _session() -> requests.Session:
    """One HTTP session per thread (a session is not meant to be shared by threads)."""
    if getattr(_local, "session", None) is None:
        _local.session = requests.Session()
    return _local.session


class _Downloader:
    """Stores one cover at a time; stops everyone after repeated network failures."""

    def __init__(self, core: Core, account_id: int, hosts: tuple[str, ...]):
        self.core, self.account_id, self.hosts = core, account_id, hosts
        self.failures_in_a_row = 0
        self.stopped = False
        self._lock = threading.Lock()

    def cover(self, video_id: str, url: str) -> str | None:
        if self.stopped:
            return None
        try:
            data = fetch_image(url, session=_session(), extra_hosts=self.hosts, max_side=COVER_MAX_SIDE)
        except MediaRefused as exc:
            log.info("cover of video %s not stored: %s", video_id, exc.reason)
            with self._lock:
                if exc.reason in _NETWORK_REASONS:
                    self.failures_in_a_row += 1
                    self.stopped = self.failures_in_a_row >= MAX_NETWORK_FAILURES
            return None
        with self._lock:
            self.failures_in_a_row = 0
        self.core.media.save("cover", self.account_id, video_id, data)
        return video_id


def _media_hosts(core: Core) -> tuple[str, ...]:
    """TikTok-compatible servers serve their own pictures: allow TIKTOK_API_BASE's host."""
    return (urlsplit(core.provider.api_base()).netloc,)


def _store_avatar(core: Core, account_id: int, session, hosts) -> bool:
    account = core.store.accounts.get(account_id)
    if account is None or not account.avatar_url:
        return False
    url = account.avatar_url
    if not _usable(url, hosts):
        url = _fresh_avatar_url(core, account_id)
        if url is None:
            return False
    try:
        data = fetch_image(url, session=session, extra_hosts=hosts, max_side=AVATAR_MAX_SIDE)
    except MediaRefused as exc:
        log.info("avatar of account %s not stored: %s", account_id, exc.reason)
        return False
    core.media.save("avatar", account_id, "avatar", data)
    core.store.accounts.mark_avatar_stored(account_id, utcnow())
    return True


def _usable(url: str | None, hosts) -> bool:
    """A URL to download now: from an allowed host, and not (about to be) expired.

    A URL from another server instance (another process's sandbox port, a CDN
    host that moved) is renewed like an expired one.
    """
    if not url or not allowed_source(url, hosts):
        return False
    expires = url_expires_at(url)
    return expires is None or expires > utcnow() + EXPIRY_MARGIN


def _fresh_avatar_url(core: Core, account_id: int) -> str | None:
    try:
        user = core.tokens.call(account_id, lambda c: c.get_user_info(["open_id", "avatar_url"]))
    except (TikTokAPIError, ReauthRequired, BudgetTimeout) as exc:
        log.info("avatar URL of account %s not renewed: %s", account_id, getattr(exc, "code", "budget"))
        return None
    url = ingest.text(user.get("avatar_url")) or None
    if url:
        core.store.accounts.update_profile(account_id, {"avatar_url": url})
    return url


def _fresh_urls(core: Core, account_id: int, missing) -> tuple[dict[str, str], int]:
    """Each missing cover's URL, renewed through video/query where it cannot be used.

    Deleted videos cannot be queried: theirs are tried only while still usable.
    """
    hosts = _media_hosts(core)
    urls, stale = {}, []
    for video_id, url, gone in missing:
        if _usable(url, hosts):
            urls[video_id] = url
        elif not gone:
            stale.append(video_id)
    calls = 0
    for start in range(0, len(stale), MAX_QUERY_IDS):
        batch = stale[start:start + MAX_QUERY_IDS]
        try:
            fresh = core.tokens.call(account_id, lambda c, ids=batch: c.query_videos(ids))
        except (TikTokAPIError, ReauthRequired, BudgetTimeout) as exc:
            log.info("cover renewal of account %s stopped: %s", account_id, getattr(exc, "code", "reauth"))
            break
        calls += 1
        renewed = {v["id"]: ingest.cover_url(v) for v in fresh if v.get("id") in batch}
        core.store.history.update_cover_urls(account_id, renewed)
        urls.update({k: v for k, v in renewed.items() if v})
    return urls, calls
