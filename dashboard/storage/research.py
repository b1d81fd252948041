"""Research runs: saved queries, runs and their windows, records, the local quota count.

A run is worked by one worker at a time, under a lease in its row (the same
conditional-UPDATE pattern as ``runs``). Each page is stored in one unit of
work with the window's next cursor and ``search_id``, so a run killed at any
point resumes at the page after the last stored one, and a record already
stored (a page fetched twice) is not stored again.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime, timedelta

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from .database import Database
from .models import utcnow
from .research_models import ResearchQuery, ResearchQuota, ResearchRecord, ResearchRun, ResearchWindow

#: Columns the results table may sort on.
RECORD_SORTS = {
    "created": ResearchRecord.created,
    "username": ResearchRecord.username,
    "region_code": ResearchRecord.region_code,
    "view_count": ResearchRecord.view_count,
    "like_count": ResearchRecord.like_count,
    "comment_count": ResearchRecord.comment_count,
    "share_count": ResearchRecord.share_count,
    "text": ResearchRecord.text,
}
#: Record columns besides the key and the raw JSON.
RECORD_COLUMNS = ("created", "username", "region_code", "text", "view_count", "like_count",
                  "comment_count", "share_count")
#: Run states in which a worker may take the run.
TAKEABLE = ("queued", "running", "paused")
INT_MAX = 2**31 - 1


class ResearchStore:
    """Named reads and writes for the Research API explorer."""

    def __init__(self, database: Database):
        self.database = database

    # --- saved queries ---------------------------------------------------------------

    def save_query(self, person_id: int, name: str, spec: dict, query_id: int | None = None) -> int:
        """Save a new query, or overwrite the person's query ``query_id``."""
        text = json.dumps(spec, ensure_ascii=False)
        with self.database.session() as db:
            row = db.get(ResearchQuery, query_id) if query_id else None
            if row is None or row.person_id != person_id:
                row = ResearchQuery(person_id=person_id, name=name, spec=text)
                db.add(row)
            else:
                row.name, row.spec, row.updated_at = name, text, utcnow()
            db.flush()
            return row.id

    def queries(self, person_id: int) -> list[ResearchQuery]:
        with self.database.session() as db:
            return list(db.scalars(select(ResearchQuery).where(ResearchQuery.person_id == person_id)
                                   .order_by(ResearchQuery.updated_at.desc(), ResearchQuery.id.desc())))

    def query(self, person_id: int, query_id: int) -> ResearchQuery | None:
        with self.database.session() as db:
            row = db.get(ResearchQuery, query_id)
            return row if row is not None and row.person_id == person_id else None

    def delete_query(self, person_id: int, query_id: int) -> bool:
        with self.database.session() as db:
            result = db.execute(delete(ResearchQuery).where(ResearchQuery.id == query_id,
                                                            ResearchQuery.person_id == person_id))
            return result.rowcount == 1

    # --- runs ------------------------------------------------------------------------

    def create_run(self, person_id: int | None, kind: str, spec: dict, *, label: str = "",
                   windows: list[tuple[str, str]] | None = None, parent_id: int | None = None,
                   query_id: int | None = None) -> int:
        """A queued run and its windows (one window, without dates, for a lookup)."""
        windows = windows or [("", "")]
        with self.database.session() as db:
            run = ResearchRun(person_id=person_id, kind=kind, label=label[:200], parent_id=parent_id,
                              query_id=query_id, spec=json.dumps(spec, ensure_ascii=False),
                              windows_total=len(windows))
            db.add(run)
            db.flush()
            db.add_all(ResearchWindow(run_id=run.id, start_date=s, end_date=e) for s, e in windows)
            return run.id

    def run(self, run_id: int, person_id: int | None = None) -> ResearchRun | None:
        """The run, or None (also when ``person_id`` is given and it is someone else's)."""
        with self.database.session() as db:
            row = db.get(ResearchRun, run_id)
            if row is None or (person_id is not None and row.person_id != person_id):
                return None
            return row

    def runs(self, person_id: int, *, parent_id: int | None = None, limit: int = 50) -> list[ResearchRun]:
        with self.database.session() as db:
            where = ResearchRun.parent_id == parent_id if parent_id else ResearchRun.parent_id.is_(None)
            return list(db.scalars(select(ResearchRun).where(ResearchRun.person_id == person_id, where)
                                   .order_by(ResearchRun.id.desc()).limit(limit)))

    def windows(self, run_id: int) -> list[ResearchWindow]:
        with self.database.session() as db:
            return list(db.scalars(select(ResearchWindow).where(ResearchWindow.run_id == run_id)
                                   .order_by(ResearchWindow.start_date, ResearchWindow.id)))

    def next_window(self, run_id: int) -> ResearchWindow | None:
        with self.database.session() as db:
            return db.scalars(select(ResearchWindow).where(ResearchWindow.run_id == run_id,
                                                           ResearchWindow.status == "pending")
                              .order_by(ResearchWindow.start_date, ResearchWindow.id).limit(1)).first()

    # --- the lease -----------------------------------------------------------------------

    def take(self, run_id: int, seconds: float) -> datetime | None:
        """Take the run for one worker (it becomes ``running``); None when another holds it,
        or it is stopped, finished, or paused until later."""
        now = utcnow()
        until = now + timedelta(seconds=seconds)
        with self.database.session() as db:
            result = db.execute(
                update(ResearchRun)
                .where(ResearchRun.id == run_id, ResearchRun.status.in_(TAKEABLE),
                       ResearchRun.stop_requested.is_(False),
                       or_(ResearchRun.locked_until.is_(None), ResearchRun.locked_until < now),
                       or_(ResearchRun.resume_at.is_(None), ResearchRun.resume_at <= now))
                .values(status="running", locked_until=until, resume_at=None, updated_at=now))
            return until if result.rowcount == 1 else None

    def renew(self, run_id: int, held: datetime, seconds: float) -> datetime | None:
        until = utcnow() + timedelta(seconds=seconds)
        with self.database.session() as db:
            result = db.execute(update(ResearchRun).where(ResearchRun.id == run_id,
                                                          ResearchRun.locked_until == held)
                                .values(locked_until=until))
            return until if result.rowcount == 1 else None

    def stop_requested(self, run_id: int) -> bool:
        with self.database.session() as db:
            return bool(db.scalar(select(ResearchRun.stop_requested).where(ResearchRun.id == run_id)))

    def release(self, run_id: int, held: datetime, status: str, *, resume_at: datetime | None = None,
                error: tuple[str | None, str | None, str | None] | None = None) -> bool:
        """Leave the run in ``status`` (``done``, ``failed``, ``paused``, ``stopped``)."""
        code, message, log_id = error or (None, None, None)
        now = utcnow()
        values = {"status": status, "locked_until": None, "resume_at": resume_at, "updated_at": now,
                  "error_code": code, "error_message": (message or "")[:2000] or None, "log_id": log_id}
        if status in ("done", "failed", "stopped"):
            values["finished_at"] = now
        with self.database.session() as db:
            result = db.execute(update(ResearchRun).where(ResearchRun.id == run_id,
                                                          ResearchRun.locked_until == held).values(values))
            return result.rowcount == 1

    def request_stop(self, run_id: int, person_id: int) -> bool:
        """Ask a run to stop after its current page; a run nobody works on stops at once."""
        now = utcnow()
        with self.database.session() as db:
            run = db.get(ResearchRun, run_id)
            if run is None or run.person_id != person_id or run.status not in TAKEABLE:
                return False
            run.stop_requested = True
            if run.status != "running" or run.locked_until is None or run.locked_until < now:
                run.status, run.finished_at, run.locked_until = "stopped", now, None
            return True

    def reopen(self, run_id: int, person_id: int) -> bool:
        """A stopped or failed run queued again; it goes on where it ended."""
        with self.database.session() as db:
            result = db.execute(update(ResearchRun).where(
                ResearchRun.id == run_id, ResearchRun.person_id == person_id,
                ResearchRun.status.in_(("stopped", "failed", "paused")))
                .values(status="queued", stop_requested=False, finished_at=None, resume_at=None,
                        error_code=None, error_message=None, log_id=None, updated_at=utcnow()))
            return result.rowcount == 1

    def runs_to_pick_up(self, now: datetime | None = None) -> list[int]:
        """Paused runs whose time has come, and running ones whose worker died."""
        now = now or utcnow()
        with self.database.session() as db:
            return list(db.scalars(select(ResearchRun.id).where(or_(
                and_(ResearchRun.status == "paused", ResearchRun.resume_at <= now),
                and_(ResearchRun.status == "running", ResearchRun.locked_until < now)))
                .order_by(ResearchRun.id)))

    # --- pages ---------------------------------------------------------------------------

    def store_page(self, run_id: int, window_id: int, records: list[dict], *, cursor: int | None,
                   search_id: str | None, finished: bool) -> int:
        """One page's records, the window's next cursor and the run's counts, together.

        ``records`` are dicts with ``record_key``, ``data`` and any of
        :data:`RECORD_COLUMNS`. Returns how many were new.
        """
        with self.database.session() as db:
            keys = [r["record_key"] for r in records]
            seen = set(db.scalars(select(ResearchRecord.record_key).where(
                ResearchRecord.run_id == run_id, ResearchRecord.record_key.in_(keys)))) if keys else set()
            fresh = []
            for record in records:
                if record["record_key"] not in seen:
                    seen.add(record["record_key"])
                    fresh.append(ResearchRecord(run_id=run_id, **record))
            db.add_all(fresh)
            window = db.get(ResearchWindow, window_id)
            window.pages += 1
            window.failures = 0
            if cursor is not None:
                window.cursor = cursor
            window.search_id = search_id
            run = db.get(ResearchRun, run_id)
            run.records = min(INT_MAX, run.records + len(fresh))
            run.updated_at = utcnow()
            if finished:
                window.status = "done"
                run.windows_done += 1
            return len(fresh)

    def count_request(self, run_id: int, bucket: str, day: str) -> None:
        """One request sent for the run, counted on the run and on the day's quota."""
        with self.database.session() as db:
            db.execute(update(ResearchRun).where(ResearchRun.id == run_id)
                       .values(requests=ResearchRun.requests + 1))
            _spend(db, day, bucket, requests=1)

    def count_records(self, bucket: str, day: str, records: int) -> None:
        with self.database.session() as db:
            _spend(db, day, bucket, records=records)

    def split_window(self, window_id: int, parts: list[tuple[str, str]]) -> None:
        """Replace a window TikTok could not answer by its halves (from their start)."""
        with self.database.session() as db:
            window = db.get(ResearchWindow, window_id)
            window.status = "split"
            db.add_all(ResearchWindow(run_id=window.run_id, start_date=s, end_date=e) for s, e in parts)
            run = db.get(ResearchRun, window.run_id)
            run.windows_total += len(parts) - 1

    def window_failed(self, window_id: int) -> int:
        """Count a failure of the window's current page; returns the count."""
        with self.database.session() as db:
            window = db.get(ResearchWindow, window_id)
            window.failures += 1
            return window.failures

    def forget_search(self, window_id: int) -> None:
        """The window's ``search_id`` expired: the next page is asked for without it."""
        with self.database.session() as db:
            db.execute(update(ResearchWindow).where(ResearchWindow.id == window_id).values(search_id=None))

    # --- the quota -----------------------------------------------------------------------

    def quota_used(self, day: str, bucket: str) -> tuple[int, int]:
        """(requests, records) counted for ``bucket`` on the UTC day ``day`` (YYYYMMDD)."""
        with self.database.session() as db:
            row = db.get(ResearchQuota, (day, bucket))
            return (row.requests, row.records) if row else (0, 0)

    # --- results ------------------------------------------------------------------------

    def records(self, run_id: int, *, sort: str = "created", descending: bool = True,
                search: str = "", username: str = "", region: str = "", offset: int = 0,
                limit: int = 50) -> tuple[list[ResearchRecord], int]:
        """A page of a run's records, sorted and filtered, and how many match."""
        where = [ResearchRecord.run_id == run_id]
        if search:
            where.append(func.lower(ResearchRecord.text).contains(search.lower(), autoescape=True))
        if username:
            where.append(ResearchRecord.username == username)
        if region:
            where.append(ResearchRecord.region_code == region)
        column = RECORD_SORTS.get(sort, ResearchRecord.created)
        order = (column.desc() if descending else column.asc(), ResearchRecord.id)
        with self.database.session() as db:
            total = db.scalar(select(func.count()).select_from(ResearchRecord).where(*where))
            rows = list(db.scalars(select(ResearchRecord).where(*where).order_by(*order)
                                   .offset(offset).limit(limit)))
            return rows, total

    def record(self, run_id: int, record_key: str) -> ResearchRecord | None:
        with self.database.session() as db:
            return db.scalars(select(ResearchRecord).where(ResearchRecord.run_id == run_id,
                                                           ResearchRecord.record_key == record_key)).first()

    def iter_records(self, run_id: int, batch: int = 500) -> Iterator[ResearchRecord]:
        """Every record of a run in the order it arrived, read in batches."""
        last = 0
        while True:
            with self.database.session() as db:
                rows = list(db.scalars(select(ResearchRecord).where(
                    ResearchRecord.run_id == run_id, ResearchRecord.id > last)
                    .order_by(ResearchRecord.id).limit(batch)))
            if not rows:
                return
            yield from rows
            last = rows[-1].id


def _spend(db, day: str, bucket: str, *, requests: int = 0, records: int = 0) -> None:
    """Add to the day's count in one UPDATE (atomic on SQLite and PostgreSQL); the day's
    first request inserts the row, and loses to a concurrent insert gracefully."""
    add = update(ResearchQuota).where(ResearchQuota.day == day, ResearchQuota.bucket == bucket).values(
        requests=ResearchQuota.requests + requests, records=ResearchQuota.records + records)
    if db.execute(add).rowcount == 1:
        return
    try:
        with db.begin_nested():
            db.add(ResearchQuota(day=day, bucket=bucket, requests=requests, records=records))
    except IntegrityError:
        db.execute(add)


def utc_day(when: datetime | date) -> str:
    return when.strftime("%Y%m%d")
