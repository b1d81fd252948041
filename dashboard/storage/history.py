"""Snapshots and videos: what each sync saw, and the reads the pages make.

Values arrive cleaned (see ``dashboard.core.ingest``): every column fits.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, exists, func, insert, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from .database import Database
from .models import (
    Account,
    ProfileSnapshot,
    StagedVideo,
    SyncRun,
    UTCDateTime,
    Video,
    VideoSnapshot,
    utcnow,
)

COUNT_FIELDS = ("follower_count", "following_count", "likes_count", "video_count")
VIDEO_COUNT_FIELDS = ("view_count", "like_count", "comment_count", "share_count")
COUNT_FILTERS = VIDEO_COUNT_FIELDS

SORTABLE = {
    "create_time": Video.create_time,
    "view_count": Video.view_count,
    "like_count": Video.like_count,
    "comment_count": Video.comment_count,
    "share_count": Video.share_count,
    "duration": Video.duration,
    "title": Video.title,
}


class HistoryStore:
    """Named queries over profile snapshots, videos and video snapshots."""

    def __init__(self, database: Database):
        self.database = database

    # --- writes ------------------------------------------------------------------------

    def stage_videos(self, run_id: int, videos: list[dict]) -> None:
        """Park one page of a running sync's videos; a video already parked by
        this run keeps its first copy (TikTok can list a video twice in a walk)."""
        if not videos:
            return
        with self.database.session() as db:
            insert_ = _insert_ignoring_duplicates(db)
            db.execute(insert_(StagedVideo).values([{"run_id": run_id, **v} for v in videos])
                       .on_conflict_do_nothing())

    def staged_count(self, run_id: int) -> int:
        with self.database.session() as db:
            return _staged_count(db, run_id)

    def discard_staged(self, account_id: int) -> None:
        """Drop what earlier runs of the account parked and never wrote (a worker died)."""
        with self.database.session() as db:
            db.execute(delete(StagedVideo).where(StagedVideo.run_id.in_(
                select(SyncRun.id).where(SyncRun.account_id == account_id))))

    def record_sync(self, run_id: int, account_id: int, taken_at: datetime, profile: dict, *,
                    listed: bool, api_calls: int, guard=None, then=None) -> int:
        """Write one sync's results in one transaction: all of it or none.

        ``profile`` holds ``accounts`` columns; the videos are the ones the
        run parked with :meth:`stage_videos`. ``listed`` is False when the
        list was not readable (scope not granted): then no video is marked
        gone. Snapshots are keyed by the minute, so a second sync in the same
        minute replaces, never doubles. ``guard(db)``, run first inside the
        transaction, may raise to abort the write (a lease that was lost);
        ``then(db)`` runs last in it (the sync's summary). Returns the
        number of videos listed.
        """
        with self.database.session() as db:
            if guard is not None:
                guard(db)
            account = db.get(Account, account_id)
            for field, value in profile.items():
                setattr(account, field, value)
            account.last_synced_at = taken_at
            db.execute(delete(ProfileSnapshot).where(
                ProfileSnapshot.account_id == account_id, ProfileSnapshot.taken_at == taken_at))
            # A Studio import placed its day at 23:59 local time: the one within the
            # next 24 hours is of this sync's day, and the synced count wins.
            db.execute(delete(ProfileSnapshot).where(
                ProfileSnapshot.account_id == account_id, ProfileSnapshot.source == "studio_import",
                ProfileSnapshot.taken_at >= taken_at,
                ProfileSnapshot.taken_at < taken_at + timedelta(hours=24)))
            db.add(ProfileSnapshot(account_id=account_id, taken_at=taken_at,
                                   **{f: profile.get(f) for f in COUNT_FIELDS}))
            seen = 0
            if listed:
                seen = _staged_count(db, run_id)
                _merge_staged(db, run_id, account_id, taken_at)
            db.execute(update(SyncRun).where(SyncRun.id == run_id).values(
                status="ok", finished_at=utcnow(), taken_at=taken_at, api_calls=api_calls,
                videos_seen=seen, videos_done=seen))
            db.flush()
            if then is not None:
                then(db)
        return seen

    def update_cover_urls(self, account_id: int, urls: dict[str, str | None]) -> None:
        """Fresh signed cover URLs (from video/query) by video id."""
        with self.database.session() as db:
            for video_id, url in urls.items():
                db.execute(update(Video).where(Video.account_id == account_id,
                                               Video.video_id == video_id)
                           .values(cover_image_url=url))

    def mark_covers_stored(self, account_id: int, video_ids: list[str], at: datetime) -> None:
        if not video_ids:
            return
        with self.database.session() as db:
            db.execute(update(Video).where(Video.account_id == account_id,
                                           Video.video_id.in_(video_ids))
                       .values(cover_fetched_at=at))

    # --- reads --------------------------------------------------------------------------

    def videos_without_cover(self, account_id: int, limit: int = 1000) -> list[tuple]:
        """(video_id, cover URL, deleted) of videos whose picture is not stored yet, newest first."""
        with self.database.session() as db:
            return [(vid, url, gone is not None) for vid, url, gone in db.execute(
                select(Video.video_id, Video.cover_image_url, Video.gone_at)
                .where(Video.account_id == account_id, Video.cover_fetched_at.is_(None))
                .order_by(Video.create_time.desc(), Video.id.desc()).limit(limit)).all()]

    def count_videos(self, account_id: int) -> int:
        with self.database.session() as db:
            return db.scalar(
                select(func.count()).select_from(Video).where(
                    Video.account_id == account_id, Video.gone_at.is_(None)
                )
            )

    def videos_page(self, account_id: int, *, sort: str = "create_time", descending: bool = True,
                    offset: int = 0, limit: int = 20, date_from: datetime | None = None,
                    date_to: datetime | None = None, include_gone: bool = False,
                    minimums: dict[str, int] | None = None) -> list[Video]:
        """One page of the account's videos in the chosen order.

        ``minimums`` keeps videos with at least that many views, likes, … .
        """
        query = self.videos_page_query(
            account_id, sort=sort, descending=descending, offset=offset, limit=limit,
            date_from=date_from, date_to=date_to, include_gone=include_gone, minimums=minimums)
        with self.database.session() as db:
            return list(db.scalars(query))

    @staticmethod
    def videos_page_query(account_id: int, *, sort: str, descending: bool, offset: int, limit: int,
                          date_from: datetime | None = None, date_to: datetime | None = None,
                          include_gone: bool = False, minimums: dict[str, int] | None = None):
        """The SELECT behind :meth:`videos_page`: ordered by an indexed column, then the id."""
        column = SORTABLE[sort]
        conditions = _video_filters(account_id, date_from, date_to, include_gone, minimums)
        order = (column.desc(), Video.id.desc()) if descending else (column.asc(), Video.id.asc())
        return select(Video).where(*conditions).order_by(*order).offset(offset).limit(limit)

    def count_matching_videos(self, account_id: int, *, date_from: datetime | None = None,
                              date_to: datetime | None = None, include_gone: bool = False,
                              minimums: dict[str, int] | None = None) -> int:
        """How many videos :meth:`videos_page` pages through with these filters."""
        conditions = _video_filters(account_id, date_from, date_to, include_gone, minimums)
        with self.database.session() as db:
            return db.scalar(select(func.count()).select_from(Video).where(*conditions))

    def iter_videos(self, account_id: int, *, date_from=None, date_to=None, batch: int = 1000):
        """Every video (gone ones too), oldest first, read in batches for streaming."""
        conditions = _video_filters(account_id, date_from, date_to, include_gone=True)
        last = (None, 0)
        while True:
            with self.database.session() as db:
                query = select(Video).where(*conditions)
                if last[0] is not None:
                    query = query.where(
                        (Video.create_time > last[0])
                        | ((Video.create_time == last[0]) & (Video.id > last[1])))
                rows = list(db.scalars(query.order_by(Video.create_time, Video.id).limit(batch)))
            yield from rows
            if len(rows) < batch:
                return
            last = (rows[-1].create_time, rows[-1].id)

    def videos_by_ids(self, account_id: int, video_ids: list[str]) -> list[Video]:
        """The account's videos with these ids, in the order given."""
        if not video_ids:
            return []
        with self.database.session() as db:
            rows = {v.video_id: v for v in db.scalars(
                select(Video).where(Video.account_id == account_id, Video.video_id.in_(video_ids)))}
        return [rows[i] for i in video_ids if i in rows]

    def view_trends(self, video_pks: list[int], since: datetime) -> dict[int, list[int]]:
        """Each video's view counts since ``since``, oldest first, in one query."""
        if not video_pks:
            return {}
        trends: dict[int, list[int]] = {pk: [] for pk in video_pks}
        with self.database.session() as db:
            rows = db.execute(
                select(VideoSnapshot.video_pk, VideoSnapshot.view_count)
                .where(VideoSnapshot.video_pk.in_(video_pks), VideoSnapshot.taken_at >= since)
                .order_by(VideoSnapshot.video_pk, VideoSnapshot.taken_at)).all()
        for pk, views in rows:
            trends[pk].append(views)
        return trends

    def video_for(self, account_id: int, video_id: str) -> Video | None:
        with self.database.session() as db:
            return db.scalar(select(Video).where(Video.account_id == account_id,
                                                 Video.video_id == video_id))

    def video_snapshots(self, video_pk: int) -> list[VideoSnapshot]:
        with self.database.session() as db:
            return list(db.scalars(select(VideoSnapshot).where(VideoSnapshot.video_pk == video_pk)
                                   .order_by(VideoSnapshot.taken_at)))

    def profile_snapshots(self, account_id: int, date_from=None, date_to=None) -> list[ProfileSnapshot]:
        conditions = [ProfileSnapshot.account_id == account_id]
        if date_from is not None:
            conditions.append(ProfileSnapshot.taken_at >= date_from)
        if date_to is not None:
            conditions.append(ProfileSnapshot.taken_at < date_to)
        with self.database.session() as db:
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
            with self.database.session() as db:
                rows = db.execute(
                    select(Video.video_id, VideoSnapshot)
                    .join(Video, Video.id == VideoSnapshot.video_pk)
                    .where(*conditions, VideoSnapshot.id > last_id)
                    .order_by(VideoSnapshot.id).limit(batch)).all()
            yield from rows
            if len(rows) < batch:
                return
            last_id = rows[-1][1].id

    def view_points(self, account_id: int, date_from: datetime, date_to: datetime) -> list[tuple]:
        """(video_id, taken_at, view_count) of every video snapshot in the window, by time
        (plain tuples: a report reads tens of thousands)."""
        with self.database.session() as db:
            rows = db.execute(
                select(Video.video_id, VideoSnapshot.taken_at, VideoSnapshot.view_count)
                .join(Video, Video.id == VideoSnapshot.video_pk)
                .where(VideoSnapshot.account_id == account_id, VideoSnapshot.taken_at >= date_from,
                       VideoSnapshot.taken_at < date_to)
                .order_by(VideoSnapshot.taken_at)).all()
        return [tuple(row) for row in rows]

    def analytics_rows(self, account_id: int) -> list[dict]:
        """Every video as a plain dict for the analytics functions (tests and small reads)."""
        with self.database.session() as db:
            return list(self.iter_analytics_rows(account_id, db=db))

    def iter_analytics_rows(self, account_id: int, *, db: Session | None = None,
                            batch: int = 2000):
        """:meth:`analytics_rows` in batches, by row id: a few thousand in memory
        at a time. Pass ``db`` to read inside a unit of work (a sync's final one)."""
        names = [c.key for c in ANALYTICS_COLUMNS]
        last_id = 0
        while True:
            query = (select(Video.id, *ANALYTICS_COLUMNS)
                     .where(Video.account_id == account_id, Video.id > last_id)
                     .order_by(Video.id).limit(batch))
            if db is None:
                with self.database.session() as own:
                    rows = own.execute(query).all()
            else:
                rows = db.execute(query).all()
            for row in rows:
                yield dict(zip(names, row[1:], strict=True))
            if len(rows) < batch:
                return
            last_id = rows[-1][0]

    def create_times(self, account_id: int) -> dict[str, datetime]:
        """Each video's posting time by video id (gone ones too)."""
        with self.database.session() as db:
            return dict(db.execute(select(Video.video_id, Video.create_time)
                                   .where(Video.account_id == account_id)).all())

    def follower_points(self, account_id: int) -> list[tuple[datetime, int]]:
        """(taken_at, follower_count) of every profile snapshot with a count, oldest first."""
        with self.database.session() as db:
            return [tuple(row) for row in db.execute(
                select(ProfileSnapshot.taken_at, ProfileSnapshot.follower_count)
                .where(ProfileSnapshot.account_id == account_id,
                       ProfileSnapshot.follower_count.is_not(None))
                .order_by(ProfileSnapshot.taken_at))]

    def profile_points(self, account_id: int, *, db: Session) -> list[dict]:
        """Every profile snapshot as a plain dict, oldest first, inside ``db``."""
        rows = db.execute(select(ProfileSnapshot.taken_at, *PROFILE_COLUMNS)
                          .where(ProfileSnapshot.account_id == account_id)
                          .order_by(ProfileSnapshot.taken_at)).all()
        return [dict(zip(("taken_at", *COUNT_FIELDS), row, strict=True)) for row in rows]

    # --- comparisons (/compare): a few bounded queries per account and range -------------

    def follower_levels(self, account_id: int, since: datetime, until: datetime
                        ) -> tuple[tuple[datetime, int] | None, list[tuple[datetime, int]]]:
        """The last follower count measured before ``since`` (or None), and every
        one measured in ``[since, until)``, oldest first."""
        known = (ProfileSnapshot.account_id == account_id, ProfileSnapshot.follower_count.is_not(None))
        with self.database.session() as db:
            before = db.execute(
                select(ProfileSnapshot.taken_at, ProfileSnapshot.follower_count)
                .where(*known, ProfileSnapshot.taken_at < since)
                .order_by(ProfileSnapshot.taken_at.desc()).limit(1)).first()
            inside = db.execute(
                select(ProfileSnapshot.taken_at, ProfileSnapshot.follower_count)
                .where(*known, ProfileSnapshot.taken_at >= since, ProfileSnapshot.taken_at < until)
                .order_by(ProfileSnapshot.taken_at)).all()
        return (tuple(before) if before else None), [tuple(row) for row in inside]

    def posted_totals(self, account_id: int, since: datetime, until: datetime) -> dict[str, int]:
        """How many videos were posted in ``[since, until)`` (gone ones too), and the
        sums of their latest views, likes, comments and shares: one aggregate query."""
        columns = (Video.view_count, Video.like_count, Video.comment_count, Video.share_count)
        with self.database.session() as db:
            row = db.execute(
                select(func.count(), *(func.coalesce(func.sum(c), 0) for c in columns))
                .where(Video.account_id == account_id, Video.create_time >= since,
                       Video.create_time < until)).one()
        return dict(zip(("videos", "views", "likes", "comments", "shares"), map(int, row), strict=True))

    def posted_counts(self, account_id: int, since: datetime, until: datetime) -> list[dict]:
        """The posting time and latest counts of every video posted in ``[since, until)``
        (gone ones too), for the engagement formulas that need each video."""
        columns = (Video.create_time, Video.view_count, Video.like_count, Video.comment_count,
                   Video.share_count)
        with self.database.session() as db:
            rows = db.execute(select(*columns).where(
                Video.account_id == account_id, Video.create_time >= since, Video.create_time < until))
            return [dict(zip(("create_time", *VIDEO_COUNT_FIELDS), row, strict=True)) for row in rows]

    def posted_median_views(self, account_id: int, since: datetime, until: datetime,
                            count: int) -> list[int]:
        """The one or two middle view counts of the ``count`` videos posted in the
        range (the database sorts; at most two rows come back)."""
        if count <= 0:
            return []
        with self.database.session() as db:
            return list(db.scalars(
                select(Video.view_count)
                .where(Video.account_id == account_id, Video.create_time >= since,
                       Video.create_time < until)
                .order_by(Video.view_count).offset((count - 1) // 2).limit(2 - count % 2)))

    def top_posted(self, account_id: int, since: datetime, until: datetime, limit: int) -> list[Video]:
        """The most viewed videos posted in the range that are still up."""
        with self.database.session() as db:
            return list(db.scalars(
                select(Video).where(Video.account_id == account_id, Video.create_time >= since,
                                    Video.create_time < until, Video.gone_at.is_(None))
                .order_by(Video.view_count.desc(), Video.id.desc()).limit(limit)))


#: The columns the analytics read of each video.
ANALYTICS_COLUMNS = (Video.video_id, Video.create_time, Video.title, Video.video_description,
                     Video.duration, Video.view_count, Video.like_count, Video.comment_count,
                     Video.share_count, Video.gone_at)
PROFILE_COLUMNS = tuple(getattr(ProfileSnapshot, f) for f in COUNT_FIELDS)
#: The ``videos`` columns a sync writes from what TikTok sent.
STAGED_COLUMNS = ("create_time", "title", "video_description", "duration", "width", "height",
                  "cover_image_url", "share_url", "embed_link", *VIDEO_COUNT_FIELDS)


def _insert_ignoring_duplicates(db: Session):
    """The dialect's INSERT that has ``on_conflict_do_nothing`` (SQLite, PostgreSQL)."""
    return postgresql.insert if db.get_bind().dialect.name == "postgresql" else sqlite.insert


def _staged_count(db: Session, run_id: int) -> int:
    """The videos a run has parked (each once)."""
    return db.scalar(select(func.count()).select_from(StagedVideo).where(StagedVideo.run_id == run_id))


def _merge_staged(db: Session, run_id: int, account_id: int, taken_at: datetime) -> None:
    """The run's parked videos into ``videos`` and ``video_snapshots``, in SQL:
    the database does the join, so no list of every video is ever in memory."""
    staged = StagedVideo
    at = literal(taken_at, UTCDateTime())
    mine = (staged.run_id == run_id)
    db.execute(delete(VideoSnapshot).where(
        VideoSnapshot.account_id == account_id, VideoSnapshot.taken_at == taken_at))
    db.execute(
        update(Video)
        .where(Video.account_id == account_id, Video.video_id == staged.video_id, mine)
        .values({**{c: getattr(staged, c) for c in STAGED_COLUMNS},
                 "last_seen_at": at, "gone_at": None})
        .execution_options(synchronize_session=False))
    known = exists().where(Video.account_id == account_id, Video.video_id == staged.video_id)
    db.execute(insert(Video).from_select(
        ["account_id", "video_id", *STAGED_COLUMNS, "first_seen_at", "last_seen_at"],
        select(literal(account_id), staged.video_id, *(getattr(staged, c) for c in STAGED_COLUMNS),
               at, at).where(mine, ~known)))
    listed = exists().where(mine, staged.video_id == Video.video_id)
    db.execute(update(Video).where(Video.account_id == account_id, Video.gone_at.is_(None), ~listed)
               .values(gone_at=at).execution_options(synchronize_session=False))
    db.execute(insert(VideoSnapshot).from_select(
        ["video_pk", "account_id", "taken_at", *VIDEO_COUNT_FIELDS],
        select(Video.id, literal(account_id), at, *(getattr(staged, f) for f in VIDEO_COUNT_FIELDS))
        .join(Video, (Video.account_id == account_id) & (Video.video_id == staged.video_id))
        .where(mine)))
    db.execute(delete(StagedVideo).where(mine))


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
