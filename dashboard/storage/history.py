"""Snapshots and videos: what each sync saw, and the reads the pages make.

Values arrive cleaned (see ``dashboard.core.ingest``): every column fits.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from .database import Database
from .models import Account, ProfileSnapshot, SyncRun, Video, VideoSnapshot, utcnow

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

    def record_sync(self, run_id: int, account_id: int, taken_at: datetime, profile: dict,
                    videos: list[dict] | None, *, api_calls: int, guard=None) -> None:
        """Write one sync's results in one transaction: all of it or none.

        ``profile`` holds ``accounts`` columns; each of ``videos`` holds
        ``video_id`` and ``videos`` columns. ``videos`` is None when the list
        was not readable (scope not granted): then no video is marked gone.
        Snapshots are keyed by the minute, so a second sync in the same minute
        replaces, never doubles. ``guard(db)``, run first inside the
        transaction, may raise to abort the write (a lease that was lost).
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
            db.add(ProfileSnapshot(account_id=account_id, taken_at=taken_at,
                                   **{f: profile.get(f) for f in COUNT_FIELDS}))
            if videos is not None:
                self._record_videos(db, account_id, taken_at, videos)
            db.execute(update(SyncRun).where(SyncRun.id == run_id).values(
                status="ok", finished_at=utcnow(), taken_at=taken_at, api_calls=api_calls,
                videos_seen=len(videos or ()), videos_done=len(videos or ())))

    @staticmethod
    def _record_videos(db: Session, account_id: int, taken_at: datetime, videos: list[dict]) -> None:
        known = dict(db.execute(
            select(Video.video_id, Video.id).where(Video.account_id == account_id)).all())
        db.execute(delete(VideoSnapshot).where(
            VideoSnapshot.account_id == account_id, VideoSnapshot.taken_at == taken_at))
        new_rows, changed = [], []
        for video in videos:
            values = {k: v for k, v in video.items() if k != "video_id"}
            values.update(last_seen_at=taken_at, gone_at=None)
            if video["video_id"] in known:
                changed.append({"id": known[video["video_id"]], **values})
            else:
                new_rows.append({"account_id": account_id, "video_id": video["video_id"],
                                 "first_seen_at": taken_at, **values})
        if new_rows:
            db.execute(insert(Video), new_rows)
        if changed:
            db.execute(update(Video), changed)
        seen = {v["video_id"] for v in videos}
        ids = dict(db.execute(
            select(Video.video_id, Video.id).where(Video.account_id == account_id)).all())
        gone = [pk for vid, pk in ids.items() if vid not in seen]
        if gone:
            db.execute(update(Video).where(Video.id.in_(gone), Video.gone_at.is_(None))
                       .values(gone_at=taken_at))
        if videos:
            db.execute(insert(VideoSnapshot), [
                {"video_pk": ids[v["video_id"]], "account_id": account_id, "taken_at": taken_at,
                 **{f: v[f] for f in VIDEO_COUNT_FIELDS}}
                for v in videos
            ])

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
        column = SORTABLE[sort]
        conditions = _video_filters(account_id, date_from, date_to, include_gone, minimums)
        order = (column.desc(), Video.id.desc()) if descending else (column.asc(), Video.id.asc())
        with self.database.session() as db:
            return list(db.scalars(select(Video).where(*conditions).order_by(*order)
                                   .offset(offset).limit(limit)))

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
        """Every video as a plain dict for the analytics functions."""
        columns = (Video.video_id, Video.create_time, Video.title, Video.video_description,
                   Video.duration, Video.view_count, Video.like_count, Video.comment_count,
                   Video.share_count, Video.gone_at)
        with self.database.session() as db:
            rows = db.execute(select(*columns).where(Video.account_id == account_id)).all()
        names = [c.key for c in columns]
        return [dict(zip(names, row, strict=True)) for row in rows]


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
