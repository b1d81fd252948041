"""TikTok Studio import: an upload is read, checked against the account,
shown as a preview, and stored on confirmation.

``preview`` reads every file (``studio_files``), refuses another account's
data, plans what would be stored and keeps the parsed figures server-side
under a random token bound to the person and the account. ``confirm``
stores them in one transaction that also rebuilds the account's summary and
drops the page parts rendered from the old one, so the growth chart shows
the imported days at once; the caller then asks the worker to render the
pages ahead again. The core returns outcomes; the web layer words them.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo

from dashboard.storage.models import utcnow
from dashboard.storage.studio import ImportPlan

from .context import Core
from .studio_files import DEFAULT_LIMITS, Limits, StudioFile, StudioFileError, read_upload
from .summaries import summarize_sync

#: A preview waits this long for its confirmation.
PREVIEW_LIFETIME = timedelta(hours=1)


@dataclass(frozen=True)
class Preview:
    token: str
    plan: ImportPlan
    account_id: int


def preview(core: Core, account_id: int, person_id: int, uploads: list[tuple[str, bytes]], *,
            tz: tzinfo, today: date, limits: Limits = DEFAULT_LIMITS) -> Preview:
    """Read and check ``uploads``; raises :class:`StudioFileError` (nothing kept)."""
    account = core.store.accounts.get(account_id)
    files = read_upload(uploads, today=today, username=account.username if account else None,
                        limits=limits)
    _check_videos(core, account_id, files)
    plain = [_plain(f) for f in files]
    plan = core.store.studio.apply(account_id, person_id, [_typed(f) for f in plain], tz, write=False)
    token = secrets.token_urlsafe(32)
    core.store.studio.save_preview(token, person_id, account_id, json.dumps(plain),
                                   utcnow() + PREVIEW_LIFETIME)
    return Preview(token, plan, account_id)


def _check_videos(core: Core, account_id: int, files: list[StudioFile]) -> None:
    """A video id another account has is another account's data."""
    for file in files:
        if file.kind != "content":
            continue
        foreign = core.store.studio.foreign_videos(account_id, [r["video_id"] for r in file.rows])
        for row in file.rows:
            if row["video_id"] in foreign:
                raise StudioFileError("other_account_video", file.name, row["line"], 3,
                                      video_id=row["video_id"])


def confirm(core: Core, token: str, person_id: int, account_id: int, tz: tzinfo) -> ImportPlan | None:
    """Store the preview's figures (None: expired, used, or not theirs)."""
    data = core.store.studio.take_preview(token, person_id, account_id)
    if data is None:
        return None
    run = core.store.runs.latest_ok(account_id)

    def rebuild(db) -> None:
        if run is not None:  # before the first sync there is no summary to rebuild
            summarize_sync(core, account_id, run.id, run.taken_at, db)
        core.store.studio.discard_rendered(db, account_id)

    return core.store.studio.apply(account_id, person_id, [_typed(f) for f in json.loads(data)], tz,
                                   write=True, then=rebuild)


def _plain(file: StudioFile) -> dict:
    """A parsed file as JSON-ready data (dates as ISO text)."""
    def cell(value):
        return value.isoformat() if isinstance(value, date) else value
    return {"name": file.name, "kind": file.kind, "sha256": file.sha256,
            "first_day": cell(file.first_day), "last_day": cell(file.last_day),
            "rows": [{k: cell(v) for k, v in row.items()} for row in file.rows]}


DATE_KEYS = ("day", "post_day", "first_day", "last_day")


def _typed(file: dict) -> dict:
    def cell(key, value):
        return date.fromisoformat(value) if key in DATE_KEYS and value else value
    return {**{k: cell(k, v) for k, v in file.items() if k != "rows"},
            "rows": [{k: cell(k, v) for k, v in row.items()} for row in file["rows"]]}


def today_in(tz: tzinfo, now: datetime | None = None) -> date:
    return (now or utcnow()).astimezone(tz).date()
