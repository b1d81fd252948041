"""PDF reports: a row per request, its state, and the finished file."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import and_, delete, or_, select, update

from .accounts import visible_ids
from .database import Database
from .models import Report, utcnow


@dataclass(frozen=True)
class Compared:
    """What a comparison report compares: the accounts, in order, and the range compared with."""

    account_ids: list[int]
    vs: tuple[date, date] | None = None


def compared_of(row: Report) -> Compared | None:
    """The comparison a report row holds, or None for a report of one account."""
    if not row.compared:
        return None
    raw = json.loads(row.compared)
    vs = tuple(date.fromisoformat(d) for d in raw["vs"]) if raw.get("vs") else None
    return Compared([int(i) for i in raw["accounts"]], vs)


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

    def create_comparison(self, compared: Compared, person_id: int, date_from: date, date_to: date,
                          lang: str, tz: str) -> Report:
        """A queued comparison report; its ``account_id`` is the first compared account."""
        vs = [d.isoformat() for d in compared.vs] if compared.vs else None
        row = Report(token=secrets.token_urlsafe(24), account_id=compared.account_ids[0], person_id=person_id,
                     date_from=date_from, date_to=date_to, lang=lang, tz=tz, status="queued",
                     compared=json.dumps({"accounts": compared.account_ids, "vs": vs}))
        with self.database.session() as db:
            db.add(row)
            db.flush()
            db.expunge(row)
        return row

    def get(self, report_id: int) -> Report | None:
        with self.database.session() as db:
            return db.get(Report, report_id)

    def for_person(self, person_id: int, token: str) -> Report | None:
        """The report, only when it is of an account this person may see; a
        comparison only to the person who asked for it (whose download also
        needs :meth:`sees_compared`)."""
        with self.database.session() as db:
            return db.scalar(select(Report).where(Report.token == token, or_(
                and_(Report.compared.is_(None), Report.account_id.in_(visible_ids(person_id))),
                and_(Report.compared.is_not(None), Report.person_id == person_id))))

    def sees_compared(self, person_id: int, row: Report) -> bool:
        """Whether the person may still see every account the report compares."""
        compared = compared_of(row)
        if compared is None:
            return True
        with self.database.session() as db:
            return set(db.scalars(visible_ids(person_id))).issuperset(compared.account_ids)

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
