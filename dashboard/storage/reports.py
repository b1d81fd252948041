"""PDF reports: a row per request, its state, and the finished file."""

from __future__ import annotations

import secrets
from datetime import date, datetime

from sqlalchemy import delete, select, update

from .accounts import visible_ids
from .database import Database
from .models import Report, utcnow


class ReportStore:
    """Named queries over :class:`Report` rows."""

    def __init__(self, database: Database):
        self.database = database

    def create(self, account_id: int, person_id: int | None, date_from: date, date_to: date,
               lang: str, tz: str) -> Report:
        """A queued report with a fresh random token (its download name)."""
        row = Report(token=secrets.token_urlsafe(24), account_id=account_id, person_id=person_id,
                     date_from=date_from, date_to=date_to, lang=lang, tz=tz, status="queued")
        with self.database.session() as db:
            db.add(row)
            db.flush()
            db.expunge(row)
        return row

    def get(self, report_id: int) -> Report | None:
        with self.database.session() as db:
            return db.get(Report, report_id)

    def for_person(self, person_id: int, token: str) -> Report | None:
        """The report, only when it is of an account this person may see."""
        with self.database.session() as db:
            return db.scalar(select(Report).where(
                Report.token == token, Report.account_id.in_(visible_ids(person_id))))

    def mark_running(self, report_id: int) -> None:
        with self.database.session() as db:
            db.execute(update(Report).where(Report.id == report_id).values(status="running"))

    def finish(self, report_id: int, pdf: bytes, seconds: float) -> None:
        with self.database.session() as db:
            db.execute(update(Report).where(Report.id == report_id).values(
                status="ok", pdf=pdf, seconds=seconds, finished_at=utcnow(), error_code=None))

    def fail(self, report_id: int, code: str) -> None:
        with self.database.session() as db:
            db.execute(update(Report).where(Report.id == report_id).values(
                status="failed", error_code=code, finished_at=utcnow()))

    def purge(self, before: datetime) -> int:
        """Delete reports made before ``before`` (files are kept a day, not forever)."""
        with self.database.session() as db:
            return db.execute(delete(Report).where(Report.created_at < before)).rowcount
