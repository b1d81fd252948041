"""Per-sync summaries: what the pages show of an account, as JSON text.

The sync that writes an account's data also writes its summary, in the same
transaction, so a page never sees a summary of other data than the tables
hold. The text is opaque here; ``dashboard.core.summaries`` makes and reads it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .database import Database, DriverQuery
from .models import RenderedPart, SyncSummary

#: The summary part that does not depend on a time zone.
MAIN = ""

_RENDERED_PAGE = DriverQuery(
    select(RenderedPart.html).where(RenderedPart.account_id == bindparam("account_id"),
                                    RenderedPart.name == bindparam("name")),
    binds=("account_id", "name"))


@dataclass(frozen=True)
class SummaryRow:
    id: int
    run_id: int
    zone: str
    created_at: datetime
    data: str | None  # None when only the stamp was asked for


class SummaryStore:
    """The summary rows of each account: one main part and one per time zone."""

    def __init__(self, database: Database):
        self.database = database

    def stamps(self, account_id: int, zone: str) -> dict[str, SummaryRow]:
        """The main part's and ``zone``'s row (without their text), by zone, in one query."""
        with self.database.session() as db:
            rows = db.execute(select(SyncSummary.id, SyncSummary.run_id, SyncSummary.zone,
                                     SyncSummary.created_at)
                              .where(SyncSummary.account_id == account_id,
                                     SyncSummary.zone.in_((MAIN, zone)))).all()
        return {row.zone: SummaryRow(row.id, row.run_id, row.zone, row.created_at, None)
                for row in rows}

    def load(self, summary_id: int) -> str | None:
        with self.database.session() as db:
            return db.scalar(select(SyncSummary.data).where(SyncSummary.id == summary_id))

    def zones(self, account_id: int, limit: int) -> list[str]:
        """The time zones the account's summary has parts for, newest first."""
        with self.database.session() as db:
            return list(db.scalars(select(SyncSummary.zone)
                                   .where(SyncSummary.account_id == account_id,
                                          SyncSummary.zone != MAIN)
                                   .order_by(SyncSummary.created_at.desc(), SyncSummary.id)
                                   .limit(limit)))

    @staticmethod
    def replace(db: Session, account_id: int, run_id: int, parts: dict[str, str]) -> None:
        """Inside a sync's final transaction: the account's summary is now ``parts``."""
        db.execute(delete(SyncSummary).where(SyncSummary.account_id == account_id))
        db.add_all(SyncSummary(account_id=account_id, run_id=run_id, zone=zone, data=data)
                   for zone, data in parts.items())

    def discard(self, account_id: int) -> None:
        """Forget the account's summary (it was of an older shape)."""
        with self.database.session() as db:
            db.execute(delete(SyncSummary).where(SyncSummary.account_id == account_id))

    def add_parts(self, account_id: int, run_id: int, parts: dict[str, str]) -> bool:
        """Outside a sync: add parts the summary of ``run_id`` lacks (a time zone
        nobody asked for before, or the whole summary of data stored before
        summaries existed). False when the summary is of another run by now."""
        try:
            with self.database.session() as db:
                rows = dict(db.execute(select(SyncSummary.zone, SyncSummary.run_id)
                                       .where(SyncSummary.account_id == account_id)).all())
                if rows.get(MAIN, run_id) != run_id:
                    return False
                stale = [z for z in parts if z in rows and rows[z] != run_id]
                if stale:  # a part made for an older run, added while a sync replaced the rest
                    db.execute(delete(SyncSummary).where(SyncSummary.account_id == account_id,
                                                         SyncSummary.zone.in_(stale)))
                db.add_all(SyncSummary(account_id=account_id, run_id=run_id, zone=zone, data=data)
                           for zone, data in parts.items() if zone not in rows or zone in stale)
        except IntegrityError:  # another process added the same part first
            return False
        return True


    # --- page parts rendered from a summary ------------------------------------------------

    def rendered(self, account_id: int, prefix: str) -> list[tuple[str, int, datetime | None, str]]:
        """(name, run_id, pictures_stored_at, html) of the parts whose name starts with ``prefix``."""
        with self.database.session() as db:
            return [tuple(row) for row in db.execute(
                select(RenderedPart.name, RenderedPart.run_id, RenderedPart.pictures_stored_at,
                       RenderedPart.html)
                .where(RenderedPart.account_id == account_id,
                       RenderedPart.name.startswith(prefix, autoescape=True)))]

    def rendered_page(self, account_id: int, name: str) -> str | None:
        """The html of one stored part, by its exact name (read on the driver's
        cursor: a first view after a sync is this read and a warm view's two)."""
        rows = _RENDERED_PAGE.rows(self.database.engine, account_id=account_id, name=name)
        return rows[0][0] if rows else None

    def save_rendered(self, account_id: int, run_id: int, pictures_stored_at: datetime | None,
                      parts: dict[str, str]) -> None:
        """The account's rendered parts are now ``parts`` (of that summary and pictures)."""
        with self.database.session() as db:
            still = db.scalar(select(SyncSummary.id).where(
                SyncSummary.account_id == account_id, SyncSummary.zone == MAIN,
                SyncSummary.run_id == run_id))
            if still is None:  # a newer sync replaced the summary meanwhile
                return
            db.execute(delete(RenderedPart).where(RenderedPart.account_id == account_id))
            db.add_all(RenderedPart(account_id=account_id, run_id=run_id, name=name, html=html,
                                    pictures_stored_at=pictures_stored_at)
                       for name, html in parts.items())
