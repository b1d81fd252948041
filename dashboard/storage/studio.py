"""TikTok Studio imports: what each imported file wrote, and the previews
waiting for a confirmation.

Figures arrive parsed and checked (``dashboard.core.studio_files``). One
function, :meth:`StudioStore.apply`, both plans an import (the preview) and
writes it (the confirmation), so the two always agree. Its rules:

* a file whose SHA-256 the account imported before stores nothing;
* a day that has a synced (``api``) profile snapshot keeps it: the import's
  follower count for that day is not stored; a day of the daily table
  keeps the figures it has, and the import fills only the empty ones;
* a row already stored (the same day, hour or video of the same import)
  is counted as known, never written twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from .database import Database
from .models import (
    ProfileSnapshot,
    RenderedPart,
    StudioAudience,
    StudioDaily,
    StudioFollowerActivity,
    StudioImport,
    StudioPreview,
    StudioVideoFigures,
    Video,
    utcnow,
)

OVERVIEW_FIELDS = ("video_views", "profile_views", "likes", "comments", "shares")
VIEWERS_FIELDS = ("total_viewers", "new_viewers", "returning_viewers")
SOURCE_API, SOURCE_IMPORT = "api", "studio_import"


@dataclass
class FilePlan:
    """What an import does with one file."""

    name: str
    kind: str
    rows: int
    first_day: date | None
    last_day: date | None
    #: ``new``, or ``already`` (this file was imported before: nothing is stored).
    status: str = "new"
    new: int = 0
    known: int = 0
    #: Content files: rows naming a video the account has, and the others.
    matched: int = 0
    unmatched: int = 0


@dataclass
class ImportPlan:
    files: list[FilePlan] = field(default_factory=list)

    @property
    def new(self) -> int:
        return sum(f.new for f in self.files)

    @property
    def first_day(self) -> date | None:
        days = [f.first_day for f in self.files if f.first_day]
        return min(days) if days else None

    @property
    def last_day(self) -> date | None:
        days = [f.last_day for f in self.files if f.last_day]
        return max(days) if days else None


@dataclass(frozen=True)
class HistoryNote:
    """Follower history before ``before`` comes from the import of ``file_name``."""

    before: datetime | None
    file_name: str
    imported_at: datetime


def day_bounds(day: date, tz: tzinfo) -> tuple[datetime, datetime]:
    """The day's first instant and the next day's, in UTC."""
    start = datetime.combine(day, time(0), tz)
    end = datetime.combine(day + timedelta(days=1), time(0), tz)
    return start.astimezone(UTC), end.astimezone(UTC)


def snapshot_time(day: date, tz: tzinfo) -> datetime:
    """When an imported day's follower count is placed: 23:59 local, the day's end."""
    return datetime.combine(day, time(23, 59), tz).astimezone(UTC)


class StudioStore:
    def __init__(self, database: Database):
        self.database = database

    # --- ownership -------------------------------------------------------------------------

    def foreign_videos(self, account_id: int, video_ids: list[str]) -> set[str]:
        """The ids among ``video_ids`` that another account's videos have."""
        if not video_ids:
            return set()
        with self.database.session() as db:
            return set(db.scalars(select(Video.video_id).where(
                Video.video_id.in_(set(video_ids)), Video.account_id != account_id)))

    # --- planning and writing an import -----------------------------------------------------

    def apply(self, account_id: int, person_id: int | None, files: list[dict], tz: tzinfo, *,
              write: bool, then=None) -> ImportPlan:
        """Plan (``write=False``) or store the import of ``files`` (dicts of
        name, kind, sha256, first_day, last_day, rows), in one transaction;
        ``then(db)`` runs last in it when something was written."""
        plan = ImportPlan()
        with self.database.session() as db:
            done = set(db.scalars(select(StudioImport.sha256).where(
                StudioImport.account_id == account_id,
                StudioImport.sha256.in_([f["sha256"] for f in files]))))
            seen: set[str] = set()
            for file in files:
                item = FilePlan(file["name"], file["kind"], len(file["rows"]), file["first_day"],
                                file["last_day"])
                plan.files.append(item)
                if file["sha256"] in done or file["sha256"] in seen:
                    item.status, item.known = "already", item.rows
                    continue
                seen.add(file["sha256"])
                record = None
                if write:
                    record = StudioImport(account_id=account_id, person_id=person_id,
                                          file_name=file["name"][:255], sha256=file["sha256"],
                                          kind=file["kind"], first_day=file["first_day"],
                                          last_day=file["last_day"], rows_total=item.rows)
                    db.add(record)
                    db.flush()
                WRITERS[file["kind"]](db, account_id, file["rows"], tz, item,
                                      record.id if record else None)
                if record is not None:
                    record.rows_stored = item.new
            db.flush()
            if write and then is not None and any(f.status == "new" for f in plan.files):
                then(db)
            if not write:
                db.rollback()
        return plan

    # --- previews ---------------------------------------------------------------------------

    def save_preview(self, token: str, person_id: int, account_id: int, data: str,
                     expires_at: datetime) -> None:
        with self.database.session() as db:
            db.execute(delete(StudioPreview).where(StudioPreview.expires_at < utcnow()))
            db.add(StudioPreview(token=token, person_id=person_id, account_id=account_id, data=data,
                                 expires_at=expires_at))

    def take_preview(self, token: str, person_id: int, account_id: int, *,
                     keep: bool = False) -> str | None:
        """The preview's data if it is this person's, for this account, and not
        expired; it is deleted (one confirmation per preview) unless ``keep``."""
        with self.database.session() as db:
            row = db.get(StudioPreview, token)
            if row is None or row.person_id != person_id or row.account_id != account_id:
                return None
            data = row.data if row.expires_at > utcnow() else None
            if not keep or data is None:
                db.delete(row)
            return data

    # --- reads for pages and exports -------------------------------------------------------

    def imports(self, account_id: int, limit: int = 50) -> list[StudioImport]:
        with self.database.session() as db:
            return list(db.scalars(select(StudioImport).where(StudioImport.account_id == account_id)
                                   .order_by(StudioImport.imported_at.desc(), StudioImport.id.desc())
                                   .limit(limit)))

    def history_note(self, account_id: int) -> HistoryNote | None:
        """Where the follower history before the first sync comes from, if an import."""
        with self.database.session() as db:
            first_api = db.scalar(select(func.min(ProfileSnapshot.taken_at)).where(
                ProfileSnapshot.account_id == account_id, ProfileSnapshot.source == SOURCE_API))
            query = (select(StudioImport.file_name, StudioImport.imported_at)
                     .join(ProfileSnapshot, ProfileSnapshot.import_id == StudioImport.id)
                     .where(StudioImport.account_id == account_id))
            if first_api is not None:
                query = query.where(ProfileSnapshot.taken_at < first_api)
            row = db.execute(query.order_by(StudioImport.imported_at.desc()).limit(1)).first()
        if row is None:
            return None
        return HistoryNote(first_api, row.file_name, row.imported_at)

    def sources(self, account_id: int) -> dict[int, str]:
        """File name of each import of the account, by id (for export rows)."""
        with self.database.session() as db:
            return dict(db.execute(select(StudioImport.id, StudioImport.file_name)
                                   .where(StudioImport.account_id == account_id)).all())

    def daily(self, account_id: int, date_from: date | None = None,
              date_to: date | None = None) -> list[StudioDaily]:
        conditions = [StudioDaily.account_id == account_id]
        if date_from is not None:
            conditions.append(StudioDaily.day >= date_from)
        if date_to is not None:
            conditions.append(StudioDaily.day < date_to)
        with self.database.session() as db:
            return list(db.scalars(select(StudioDaily).where(*conditions).order_by(StudioDaily.day)))

    def activity(self, account_id: int) -> list[StudioFollowerActivity]:
        with self.database.session() as db:
            return list(db.scalars(select(StudioFollowerActivity)
                                   .where(StudioFollowerActivity.account_id == account_id)
                                   .order_by(StudioFollowerActivity.day, StudioFollowerActivity.hour)))

    def video_figures(self, account_id: int) -> list[StudioVideoFigures]:
        with self.database.session() as db:
            return list(db.scalars(select(StudioVideoFigures)
                                   .where(StudioVideoFigures.account_id == account_id)
                                   .order_by(StudioVideoFigures.import_id, StudioVideoFigures.id)))

    @staticmethod
    def discard_rendered(db: Session, account_id: int) -> None:
        """Inside an import's transaction: the pages rendered ahead are of the old data."""
        db.execute(delete(RenderedPart).where(RenderedPart.account_id == account_id))


# --- one writer per kind of file -------------------------------------------------------------


def _daily(db: Session, account_id: int, rows: list[dict], fields: tuple[str, ...], import_column: str,
           item: FilePlan, import_id: int | None) -> None:
    days = [r["day"] for r in rows]
    stored = {d.day: d for d in db.scalars(select(StudioDaily).where(
        StudioDaily.account_id == account_id, StudioDaily.day.in_(days)))} if days else {}
    for row in rows:
        values = {f: row[f] for f in fields if row.get(f) is not None}
        have = stored.get(row["day"])
        lacking = {f: v for f, v in values.items() if have is None or getattr(have, f) is None}
        if not lacking:
            item.known += 1
            continue
        item.new += 1
        if import_id is None:
            continue
        if have is None:
            have = StudioDaily(account_id=account_id, day=row["day"])
            db.add(have)
            stored[row["day"]] = have
        for name, value in lacking.items():
            setattr(have, name, value)
        setattr(have, import_column, import_id)


def _overview(db, account_id, rows, tz, item, import_id):
    _daily(db, account_id, rows, OVERVIEW_FIELDS, "import_id", item, import_id)


def _viewers(db, account_id, rows, tz, item, import_id):
    _daily(db, account_id, rows, VIEWERS_FIELDS, "viewers_import_id", item, import_id)


def _follower_history(db, account_id, rows, tz, item, import_id):
    rows = [r for r in rows if r.get("followers") is not None]
    item.known += item.rows - len(rows)  # a day without a count stores nothing
    if not rows:
        return
    start, _ = day_bounds(min(r["day"] for r in rows), tz)
    _, end = day_bounds(max(r["day"] for r in rows), tz)
    taken = list(db.scalars(select(ProfileSnapshot.taken_at).where(
        ProfileSnapshot.account_id == account_id, ProfileSnapshot.taken_at >= start,
        ProfileSnapshot.taken_at < end)))
    covered = {t.astimezone(tz).date() for t in taken}
    for row in rows:
        if row["day"] in covered:
            item.known += 1
            continue
        item.new += 1
        covered.add(row["day"])
        if import_id is not None:
            db.add(ProfileSnapshot(account_id=account_id, taken_at=snapshot_time(row["day"], tz),
                                   follower_count=row["followers"], source=SOURCE_IMPORT,
                                   import_id=import_id))


def _follower_activity(db, account_id, rows, tz, item, import_id):
    days = sorted({r["day"] for r in rows})
    known = {(day, hour) for day, hour in db.execute(
        select(StudioFollowerActivity.day, StudioFollowerActivity.hour).where(
            StudioFollowerActivity.account_id == account_id,
            StudioFollowerActivity.day.in_(days)))} if days else set()
    for row in rows:
        key = (row["day"], row["hour"])
        if key in known:
            item.known += 1
            continue
        known.add(key)
        item.new += 1
        if import_id is not None:
            db.add(StudioFollowerActivity(account_id=account_id, day=row["day"], hour=row["hour"],
                                          active_followers=row["active_followers"], import_id=import_id))


def _content(db, account_id, rows, tz, item, import_id):
    ids = [r["video_id"] for r in rows]
    videos = {video_id: pk for video_id, pk in db.execute(select(Video.video_id, Video.id).where(
        Video.account_id == account_id, Video.video_id.in_(ids)))} if ids else {}
    written: set[str] = set()
    for row in rows:
        pk = videos.get(row["video_id"])
        if pk is None:
            item.unmatched += 1
        else:
            item.matched += 1
        if row["video_id"] in written:  # listed twice in one file: the first row counts
            item.known += 1
            continue
        written.add(row["video_id"])
        item.new += 1
        if import_id is not None:
            db.add(StudioVideoFigures(account_id=account_id, video_id=row["video_id"], video_pk=pk,
                                      post_day=row.get("post_day"), title=row.get("title") or "",
                                      views=row["views"], likes=row["likes"], comments=row["comments"],
                                      shares=row["shares"], import_id=import_id))


def _audience(db, account_id, rows, tz, item, import_id):
    labels: set[str] = set()
    for row in rows:
        label = row["label"][:200]
        if label in labels:
            item.known += 1
            continue
        labels.add(label)
        item.new += 1
        if import_id is not None:
            db.add(StudioAudience(account_id=account_id, kind=item.kind, label=label, share=row["share"],
                                  import_id=import_id))


WRITERS = {
    "overview": _overview,
    "viewers": _viewers,
    "follower_history": _follower_history,
    "follower_activity": _follower_activity,
    "content": _content,
    "follower_gender": _audience,
    "follower_territories": _audience,
}
