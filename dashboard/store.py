"""Storage: the one place that owns the engine, the schema and the queries.

Views, the OAuth handler and the sync call the named methods of
:class:`Store`; none of them opens a database session of its own. Every
read that serves a page names the person asking, so isolation between the
people of one deployment is enforced here, once.
"""

from __future__ import annotations

import fcntl
import json
import logging
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from flask import current_app
from sqlalchemy import create_engine, delete, event, func, insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from .crypto import TokenCipher, TokenDecryptError
from .models import (
    Account,
    Person,
    ProfileSnapshot,
    SyncRun,
    Token,
    Video,
    VideoSnapshot,
    WebSession,
    utcnow,
)

log = logging.getLogger(__name__)

PROFILE_FIELDS = (
    "union_id", "display_name", "username", "avatar_url", "bio_description",
    "profile_deep_link", "is_verified", "follower_count", "following_count",
    "likes_count", "video_count",
)
COUNT_FIELDS = ("follower_count", "following_count", "likes_count", "video_count")
VIDEO_COUNT_FIELDS = ("view_count", "like_count", "comment_count", "share_count")
TEXT_LIMIT = 5000


#: Column limits: whatever TikTok sends is clamped or cut to fit, so no value
#: of an answer can fail the write (PostgreSQL refuses out-of-range numbers,
#: over-long strings and NUL characters; SQLite would store them as text).
BIGINT_MAX = 2**63 - 1
INT_MAX = 2**31 - 1
#: Latest instant a ``create_time`` may name (9999-12-31T23:59:59Z).
MAX_TIMESTAMP = 253_402_300_799
MAX_VIDEO_ID_LENGTH = 32


def _number(value, limit: int = BIGINT_MAX) -> int | None:
    """A count from TikTok: a whole number clamped to [0, limit], or None if it is not one."""
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


def _text(value, limit: int = TEXT_LIMIT) -> str | None:
    """A string from TikTok, without NUL characters and cut to ``limit``; None otherwise."""
    if not isinstance(value, str):
        return None
    return value.replace("\x00", "")[:limit]


def video_columns(video: dict) -> dict:
    """Columns of the ``videos`` row from one API video object.

    Raises ValueError for a video that cannot be stored truthfully (an id
    no TikTok video has, a creation time outside the calendar): the sync
    then fails as "malformed" instead of storing something invented.
    """
    video_id = video["id"]
    if len(video_id) > MAX_VIDEO_ID_LENGTH or "\x00" in video_id:
        raise ValueError("video id is not a TikTok video id")
    created = video.get("create_time")
    timestamp = 0 if created is None else _number(created)
    if timestamp is None or timestamp > MAX_TIMESTAMP:
        raise ValueError("create_time is not a timestamp")
    return {
        "create_time": datetime.fromtimestamp(timestamp, UTC),
        "title": _text(video.get("title")) or "",
        "video_description": _text(video.get("video_description")) or "",
        "duration": _number(video.get("duration"), INT_MAX),
        "width": _number(video.get("width"), INT_MAX),
        "height": _number(video.get("height"), INT_MAX),
        "cover_image_url": _text_or_none(video.get("cover_image_url")),
        "share_url": _text_or_none(video.get("share_url")),
        "embed_link": _text_or_none(video.get("embed_link")),
        **{f: _number(video.get(f)) or 0 for f in VIDEO_COUNT_FIELDS},
    }


def profile_columns(user: dict) -> dict:
    """The ``accounts`` columns an API user object sets (only the fields it has)."""
    shape = {
        "union_id": lambda v: _text(v, 128), "display_name": _text, "username": lambda v: _text(v, 255),
        "avatar_url": _text_or_none, "bio_description": _text, "profile_deep_link": _text_or_none,
        "is_verified": lambda v: v if isinstance(v, bool) else None,
        **{f: _number for f in COUNT_FIELDS},
    }
    return {field: shape[field](user[field]) for field in PROFILE_FIELDS if field in user}


def _text_or_none(value):
    return _text(value) or None


MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


@dataclass(frozen=True)
class TokenRecord:
    account_id: int
    access_token: str
    refresh_token: str
    expires_at: datetime
    refresh_expires_at: datetime
    scope: str


def build_engine(url: str) -> Engine:
    """An engine for ``DATABASE_URL``; SQLite gets WAL, foreign keys and a busy timeout."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def upgrade_schema(engine: Engine, lock_dir: str | None = None) -> None:
    """Bring the schema to the newest migration (Alembic), one process at a time."""
    from alembic import command
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    lock_path = Path(lock_dir or ".") / ".migrate.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as lock, engine.begin() as connection:
        fcntl.flock(lock, fcntl.LOCK_EX)
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")


class Store:
    """Named queries over one engine."""

    def __init__(self, engine: Engine, cipher: TokenCipher):
        self.engine = engine
        self.cipher = cipher
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed on success, rolled back on any error."""
        with self._sessions.begin() as db:
            yield db

    # --- people and accounts -------------------------------------------------

    def connect_account(self, person_id: int | None, open_id: str, scopes: str) -> tuple[int, int]:
        """Attach ``open_id`` to a person; returns (person_id, account_id).

        A returning account logs its owner back in. A new account goes to the
        person already logged in, or to a new person.
        """
        with self.session() as db:
            account = db.scalar(select(Account).where(Account.open_id == open_id))
            if account is None:
                if person_id is None or db.get(Person, person_id) is None:
                    person = Person()
                    db.add(person)
                    db.flush()
                    person_id = person.id
                account = Account(person_id=person_id, open_id=open_id, granted_scopes=scopes)
                db.add(account)
                db.flush()
            else:
                account.granted_scopes = scopes
            return account.person_id, account.id

    def accounts_of(self, person_id: int) -> list[Account]:
        with self.session() as db:
            return list(
                db.scalars(select(Account).where(Account.person_id == person_id).order_by(Account.id))
            )

    def account_for(self, person_id: int, account_id: int) -> Account | None:
        """The account, only if this person owns it."""
        with self.session() as db:
            return db.scalar(
                select(Account).where(Account.id == account_id, Account.person_id == person_id)
            )

    def account_for_id(self, account_id: int) -> Account | None:
        with self.session() as db:
            return db.get(Account, account_id)

    def account_by_open_id(self, open_id: str) -> Account | None:
        with self.session() as db:
            return db.scalar(select(Account).where(Account.open_id == open_id))

    def all_accounts(self) -> list[Account]:
        with self.session() as db:
            return list(db.scalars(select(Account).order_by(Account.id)))

    def delete_account(self, account_id: int) -> None:
        """Forget the account and everything stored for it; and its owner, if
        this was their last account."""
        with self.session() as db:
            person_id = db.scalar(select(Account.person_id).where(Account.id == account_id))
            for model in (VideoSnapshot, ProfileSnapshot, Video, SyncRun, Token):
                db.execute(delete(model).where(model.account_id == account_id))
            db.execute(delete(Account).where(Account.id == account_id))
            remaining = db.scalar(select(func.count()).select_from(Account)
                                  .where(Account.person_id == person_id))
            if person_id is not None and not remaining:
                db.execute(delete(WebSession).where(WebSession.person_id == person_id))
                db.execute(delete(Person).where(Person.id == person_id))

    # --- tokens ----------------------------------------------------------------

    def save_token(self, account_id: int, response: dict, now: datetime | None = None) -> TokenRecord:
        """The one path that writes tokens: from a token endpoint response."""
        now = now or utcnow()
        record = TokenRecord(
            account_id=account_id,
            access_token=response["access_token"],
            refresh_token=response["refresh_token"],
            expires_at=now + timedelta(seconds=int(response["expires_in"])),
            refresh_expires_at=now + timedelta(seconds=int(response["refresh_expires_in"])),
            scope=response.get("scope", ""),
        )
        values = {
            "access_token": self.cipher.encrypt(record.access_token),
            "refresh_token": self.cipher.encrypt(record.refresh_token),
            "expires_at": record.expires_at,
            "refresh_expires_at": record.refresh_expires_at,
            "scope": record.scope,
            "updated_at": now,
            "refresh_locked_until": None,
        }
        with self.session() as db:
            row = db.get(Token, account_id)
            if row is None:
                db.add(Token(account_id=account_id, **values))
            else:
                for key, value in values.items():
                    setattr(row, key, value)
            if record.scope:
                db.execute(
                    update(Account).where(Account.id == account_id).values(granted_scopes=record.scope)
                )
        return record

    def load_token(self, account_id: int) -> TokenRecord | None:
        """The account's tokens, or None when there are none or none of the
        configured keys reads them (a key was dropped too early): either way
        the owner must log in again, and nothing may crash on it."""
        with self.session() as db:
            row = db.get(Token, account_id)
            if row is None:
                return None
            try:
                access = self.cipher.decrypt(row.access_token)
                refresh = self.cipher.decrypt(row.refresh_token)
            except TokenDecryptError:
                log.warning("stored token of account %s is unreadable with TOKEN_ENCRYPTION_KEYS; "
                            "its owner must log in again", account_id)
                return None
            return TokenRecord(
                account_id=account_id,
                access_token=access,
                refresh_token=refresh,
                expires_at=row.expires_at,
                refresh_expires_at=row.refresh_expires_at,
                scope=row.scope,
            )

    def has_token(self, account_id: int) -> bool:
        """Whether the account is connected (its tokens are here), without decrypting them."""
        with self.session() as db:
            return db.get(Token, account_id) is not None

    def delete_token(self, account_id: int) -> None:
        with self.session() as db:
            db.execute(delete(Token).where(Token.account_id == account_id))

    def reencrypt_tokens(self) -> int:
        """Re-encrypt every stored token under the newest key; returns the count."""
        with self.session() as db:
            rows = list(db.scalars(select(Token)))
            for row in rows:
                row.access_token = self.cipher.rotate(row.access_token)
                row.refresh_token = self.cipher.rotate(row.refresh_token)
            return len(rows)

    def try_lock(self, kind: str, account_id: int, seconds: float) -> datetime | None:
        """Take a short lease on an account (``"sync"`` or ``"refresh"``), atomically.

        One conditional UPDATE works the same on SQLite and PostgreSQL: the row
        changes only when no unexpired lease is held, so of two racing
        callers exactly one sees a changed row. The winner gets the lease's
        expiry, which doubles as proof of holding it: :meth:`renew_lock` and
        :meth:`unlock` act only while the row still holds that value, so a
        caller whose lease ran out cannot extend or free its successor's.
        """
        model, column, key = _LEASES[kind]
        now = utcnow()
        until = now + timedelta(seconds=seconds)
        with self.session() as db:
            result = db.execute(
                update(model)
                .where(key == account_id, (column.is_(None)) | (column < now))
                .values({column.key: until})
            )
            return until if result.rowcount == 1 else None

    def renew_lock(self, kind: str, account_id: int, seconds: float,
                   held: datetime) -> datetime | None:
        """Extend the lease ``held``; None when it is no longer this caller's.

        A long sync keeps its account this way, while a killed one frees it
        ``seconds`` after its last sign of life.
        """
        model, column, key = _LEASES[kind]
        until = utcnow() + timedelta(seconds=seconds)
        with self.session() as db:
            result = db.execute(update(model).where(key == account_id, column == held)
                                .values({column.key: until}))
            return until if result.rowcount == 1 else None

    def unlock(self, kind: str, account_id: int, held: datetime) -> None:
        """Free the lease ``held``, unless it has passed to someone else."""
        model, column, key = _LEASES[kind]
        with self.session() as db:
            db.execute(update(model).where(key == account_id, column == held)
                       .values({column.key: None}))

    # --- web sessions ------------------------------------------------------------

    def load_web_session(self, sid_hash: str) -> WebSession | None:
        with self.session() as db:
            return db.get(WebSession, sid_hash)

    def save_web_session(self, sid_hash: str, data: dict, person_id: int | None, touch: bool) -> None:
        with self.session() as db:
            row = db.get(WebSession, sid_hash)
            payload = json.dumps(data, separators=(",", ":"))
            if row is None:
                db.add(WebSession(id=sid_hash, data=payload, person_id=person_id))
                return
            row.data = payload
            row.person_id = person_id
            if touch:
                row.last_seen_at = utcnow()

    def touch_web_session(self, sid_hash: str) -> None:
        with self.session() as db:
            db.execute(update(WebSession).where(WebSession.id == sid_hash).values(last_seen_at=utcnow()))

    def delete_web_session(self, sid_hash: str) -> None:
        with self.session() as db:
            db.execute(delete(WebSession).where(WebSession.id == sid_hash))

    def purge_web_sessions(self, idle_before: datetime, created_before: datetime) -> int:
        with self.session() as db:
            result = db.execute(
                delete(WebSession).where(
                    (WebSession.last_seen_at < idle_before) | (WebSession.created_at < created_before)
                )
            )
            return result.rowcount

    # --- sync runs ---------------------------------------------------------------------

    def start_sync_run(self, account_id: int) -> int:
        with self.session() as db:
            run = SyncRun(account_id=account_id, started_at=utcnow(), status="running")
            db.add(run)
            db.flush()
            return run.id

    def fail_sync_run(self, run_id: int, *, code: str, message: str, log_id: str | None,
                      api_calls: int, videos_seen: int) -> None:
        with self.session() as db:
            db.execute(
                update(SyncRun).where(SyncRun.id == run_id).values(
                    status="failed", finished_at=utcnow(), error_code=code[:64],
                    error_message=message[:2000], log_id=(log_id or None) and log_id[:128],
                    api_calls=api_calls, videos_seen=videos_seen,
                )
            )

    def abandon_stale_runs(self, account_id: int) -> None:
        """A run left "running" by a killed process is recorded as failed."""
        with self.session() as db:
            db.execute(
                update(SyncRun)
                .where(SyncRun.account_id == account_id, SyncRun.status == "running")
                .values(status="failed", finished_at=utcnow(), error_code="interrupted",
                        error_message="The sync stopped before it finished.")
            )

    def record_sync(self, run_id: int, account_id: int, taken_at: datetime, user: dict,
                    videos: list[dict] | None, *, api_calls: int) -> None:
        """Write one sync's results in one transaction: all of it or none.

        ``videos`` is None when the video list was not readable (scope not
        granted): then no video is marked gone. Snapshots are keyed by the
        minute, so a second sync in the same minute replaces, never doubles.
        """
        with self.session() as db:
            account = db.get(Account, account_id)
            profile = profile_columns(user)
            for field, value in profile.items():
                setattr(account, field, value)
            account.last_synced_at = taken_at
            db.execute(delete(ProfileSnapshot).where(
                ProfileSnapshot.account_id == account_id, ProfileSnapshot.taken_at == taken_at))
            db.add(ProfileSnapshot(account_id=account_id, taken_at=taken_at,
                                   **{f: profile.get(f) for f in COUNT_FIELDS}))
            if videos is not None:
                self._record_videos(db, account_id, taken_at, videos)
            db.execute(update(SyncRun).where(SyncRun.id == run_id).values(
                status="ok", finished_at=utcnow(), taken_at=taken_at, api_calls=api_calls,
                videos_seen=len(videos or ())))

    @staticmethod
    def _record_videos(db: Session, account_id: int, taken_at: datetime, videos: list[dict]) -> None:
        known = dict(db.execute(
            select(Video.video_id, Video.id).where(Video.account_id == account_id)).all())
        db.execute(delete(VideoSnapshot).where(
            VideoSnapshot.account_id == account_id, VideoSnapshot.taken_at == taken_at))
        new_rows, changed, counts = [], [], {}
        for video in videos:
            values = video_columns(video)
            counts[video["id"]] = {f: values[f] for f in VIDEO_COUNT_FIELDS}
            values.update(last_seen_at=taken_at, gone_at=None, cover_fetched_at=taken_at)
            if video["id"] in known:
                changed.append({"id": known[video["id"]], **values})
            else:
                new_rows.append({"account_id": account_id, "video_id": video["id"],
                                 "first_seen_at": taken_at, **values})
        if new_rows:
            db.execute(insert(Video), new_rows)
        if changed:
            db.execute(update(Video), changed)
        seen = {v["id"] for v in videos}
        ids = dict(db.execute(
            select(Video.video_id, Video.id).where(Video.account_id == account_id)).all())
        gone = [pk for vid, pk in ids.items() if vid not in seen]
        if gone:
            db.execute(update(Video).where(Video.id.in_(gone), Video.gone_at.is_(None))
                       .values(gone_at=taken_at))
        if videos:
            db.execute(insert(VideoSnapshot), [
                {"video_pk": ids[v["id"]], "account_id": account_id, "taken_at": taken_at,
                 **counts[v["id"]]}
                for v in videos
            ])

    # --- reads for pages -------------------------------------------------------------

    def count_videos(self, account_id: int) -> int:
        with self.session() as db:
            return db.scalar(
                select(func.count()).select_from(Video).where(
                    Video.account_id == account_id, Video.gone_at.is_(None)
                )
            )

    def videos_page(self, account_id: int, *, sort: str = "create_time", descending: bool = True,
                    offset: int = 0, limit: int = 20, date_from: datetime | None = None,
                    date_to: datetime | None = None, include_gone: bool = False,
                    minimums: dict[str, int] | None = None, total: int | None = None
                    ) -> tuple[list[Video], int]:
        """One page of the account's videos and the count of all that match.

        ``minimums`` keeps videos with at least that many views, likes, … .
        A ``total`` the caller already knows (counted once per sync) is
        returned as is: counting is the one part that grows with the videos.
        """
        column = SORTABLE[sort]
        conditions = _video_filters(account_id, date_from, date_to, include_gone, minimums)
        order = (column.desc(), Video.id.desc()) if descending else (column.asc(), Video.id.asc())
        with self.session() as db:
            if total is None:
                total = db.scalar(select(func.count()).select_from(Video).where(*conditions))
            rows = list(db.scalars(select(Video).where(*conditions).order_by(*order)
                                   .offset(offset).limit(limit)))
            return rows, total

    def count_matching_videos(self, account_id: int, *, date_from: datetime | None = None,
                              date_to: datetime | None = None, include_gone: bool = False,
                              minimums: dict[str, int] | None = None) -> int:
        """How many videos :meth:`videos_page` pages through with these filters."""
        conditions = _video_filters(account_id, date_from, date_to, include_gone, minimums)
        with self.session() as db:
            return db.scalar(select(func.count()).select_from(Video).where(*conditions))

    def iter_videos(self, account_id: int, *, date_from=None, date_to=None, batch: int = 1000):
        """Every video (gone ones too), oldest first, read in batches for streaming."""
        conditions = _video_filters(account_id, date_from, date_to, include_gone=True)
        last = (None, 0)
        while True:
            with self.session() as db:
                query = select(Video).where(*conditions)
                if last[0] is not None:
                    query = query.where(
                        (Video.create_time > last[0])
                        | ((Video.create_time == last[0]) & (Video.id > last[1])))
                rows = list(db.scalars(query.order_by(Video.create_time, Video.id).limit(batch)))
            if not rows:
                return
            yield from rows
            last = (rows[-1].create_time, rows[-1].id)

    def videos_by_ids(self, account_id: int, video_ids: list[str]) -> list[Video]:
        """The account's videos with these ids, in the order given."""
        if not video_ids:
            return []
        with self.session() as db:
            rows = {v.video_id: v for v in db.scalars(
                select(Video).where(Video.account_id == account_id, Video.video_id.in_(video_ids)))}
        return [rows[i] for i in video_ids if i in rows]

    def view_trends(self, video_pks: list[int], since: datetime) -> dict[int, list[int]]:
        """Each video's view counts since ``since``, oldest first, in one query."""
        if not video_pks:
            return {}
        trends: dict[int, list[int]] = {pk: [] for pk in video_pks}
        with self.session() as db:
            rows = db.execute(
                select(VideoSnapshot.video_pk, VideoSnapshot.view_count)
                .where(VideoSnapshot.video_pk.in_(video_pks), VideoSnapshot.taken_at >= since)
                .order_by(VideoSnapshot.video_pk, VideoSnapshot.taken_at)).all()
        for pk, views in rows:
            trends[pk].append(views)
        return trends

    def video_for(self, account_id: int, video_id: str) -> Video | None:
        with self.session() as db:
            return db.scalar(select(Video).where(Video.account_id == account_id,
                                                 Video.video_id == video_id))

    def video_snapshots(self, video_pk: int) -> list[VideoSnapshot]:
        with self.session() as db:
            return list(db.scalars(select(VideoSnapshot).where(VideoSnapshot.video_pk == video_pk)
                                   .order_by(VideoSnapshot.taken_at)))

    def profile_snapshots(self, account_id: int, date_from=None, date_to=None) -> list[ProfileSnapshot]:
        conditions = [ProfileSnapshot.account_id == account_id]
        if date_from is not None:
            conditions.append(ProfileSnapshot.taken_at >= date_from)
        if date_to is not None:
            conditions.append(ProfileSnapshot.taken_at < date_to)
        with self.session() as db:
            return list(db.scalars(select(ProfileSnapshot).where(*conditions)
                                   .order_by(ProfileSnapshot.taken_at)))

    def iter_video_snapshots(self, account_id: int, *, date_from=None, date_to=None,
                             batch: int = 5000):
        """(video_id, snapshot) pairs by sync time, read in batches for streaming."""
        conditions = [VideoSnapshot.account_id == account_id]
        if date_from is not None:
            conditions.append(VideoSnapshot.taken_at >= date_from)
        if date_to is not None:
            conditions.append(VideoSnapshot.taken_at < date_to)
        last_id = 0
        while True:
            with self.session() as db:
                rows = db.execute(
                    select(Video.video_id, VideoSnapshot)
                    .join(Video, Video.id == VideoSnapshot.video_pk)
                    .where(*conditions, VideoSnapshot.id > last_id)
                    .order_by(VideoSnapshot.id).limit(batch)).all()
            if not rows:
                return
            yield from rows
            last_id = rows[-1][1].id

    def analytics_rows(self, account_id: int) -> list[dict]:
        """Every video as a plain dict for the analytics functions."""
        columns = (Video.video_id, Video.create_time, Video.title, Video.video_description,
                   Video.duration, Video.view_count, Video.like_count, Video.comment_count,
                   Video.share_count, Video.gone_at)
        with self.session() as db:
            rows = db.execute(select(*columns).where(Video.account_id == account_id)).all()
        names = [c.key for c in columns]
        return [dict(zip(names, row, strict=True)) for row in rows]

    def update_covers(self, account_id: int, videos: list[dict], fetched_at: datetime) -> None:
        with self.session() as db:
            for video in videos:
                db.execute(update(Video).where(Video.account_id == account_id,
                                               Video.video_id == video["id"])
                           .values(cover_image_url=_text_or_none(video.get("cover_image_url")),
                                   cover_fetched_at=fetched_at))

    def last_sync_run(self, account_id: int) -> SyncRun | None:
        with self.session() as db:
            return db.scalar(
                select(SyncRun)
                .where(SyncRun.account_id == account_id)
                .order_by(SyncRun.started_at.desc(), SyncRun.id.desc())
                .limit(1)
            )


SORTABLE = {
    "create_time": Video.create_time,
    "view_count": Video.view_count,
    "like_count": Video.like_count,
    "comment_count": Video.comment_count,
    "share_count": Video.share_count,
    "duration": Video.duration,
    "title": Video.title,
}


#: The leases :meth:`Store.try_lock` takes: table, expiry column, account key.
_LEASES = {
    "sync": (Account, Account.sync_locked_until, Account.id),
    "refresh": (Token, Token.refresh_locked_until, Token.account_id),
}

COUNT_FILTERS = ("view_count", "like_count", "comment_count", "share_count")


def _video_filters(account_id: int, date_from: datetime | None, date_to: datetime | None,
                   include_gone: bool, minimums: dict[str, int] | None = None):
    conditions = [Video.account_id == account_id]
    for field, floor in (minimums or {}).items():
        if field in COUNT_FILTERS:
            conditions.append(getattr(Video, field) >= floor)
    if not include_gone:
        conditions.append(Video.gone_at.is_(None))
    if date_from is not None:
        conditions.append(Video.create_time >= date_from)
    if date_to is not None:
        conditions.append(Video.create_time < date_to)
    return conditions


def get_store() -> Store:
    return current_app.extensions["store"]


def init_app(app) -> Store:
    """Build the engine, upgrade the schema when allowed, and attach the store."""
    engine = build_engine(app.config["DATABASE_URL"])
    if app.config.get("AUTO_MIGRATE", True):
        upgrade_schema(engine, app.instance_path)
    store = Store(engine, TokenCipher.from_config(app.config))
    app.extensions["store"] = store
    return store
