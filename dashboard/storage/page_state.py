"""What an account's page depends on, read in one round trip.

A page of an account shows its profile and summary, the other accounts the
person may see (and their role on each), where syncing stands and the
unread alerts. :meth:`PageStateStore.of`
reads all of it as plain values, so the web layer can tell whether a page it
rendered before is still the page it would render now, without rendering it.
The statement is built once and run on the driver's cursor
(:class:`~dashboard.storage.database.DriverQuery`): a warm page view costs
one connection checkout and one query.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, exists, func, or_, select, true

from .accounts import visible_ids
from .database import Database, DriverQuery
from .models import Account, AccountMember, Alert, Person, SyncRun, SyncSummary, Token
from .summaries import MAIN

_PERSON, _ACCOUNT, _ZONE = bindparam("person_id"), bindparam("account_id"), bindparam("zone")

#: The latest sync run, the summary's stamp in this zone, the unread alerts
#: and whether the account still has tokens: one row.
_LATEST_RUN = (select(SyncRun.id, SyncRun.status, SyncRun.videos_done, SyncRun.videos_total,
                      SyncRun.finished_at, SyncRun.error_code)
               .where(SyncRun.account_id == _ACCOUNT)
               .order_by(SyncRun.started_at.desc(), SyncRun.id.desc()).limit(1).subquery())
_UNREAD = (select(func.count()).select_from(Alert)  # the bell's count, as AlertStore.count_of_person
           .where(Alert.account_id.in_(visible_ids(_PERSON, "manager")), Alert.read_at.is_(None))
           .scalar_subquery())
_SUMMARY = (select(func.count().label("parts"), func.max(SyncSummary.id).label("summary_id"),
                   func.max(SyncSummary.run_id).label("summary_run"),
                   func.max(SyncSummary.created_at).label("summary_at"))
            .where(SyncSummary.account_id == _ACCOUNT, SyncSummary.zone.in_((MAIN, _ZONE)))
            .subquery())
_STATE = (select(_SUMMARY, _UNREAD.label("unread"),
                 exists().where(Token.account_id == _ACCOUNT).label("token"),
                 *(column.label("run_" + column.name) for column in _LATEST_RUN.c))
          .select_from(_SUMMARY).outerjoin(_LATEST_RUN, true()).subquery())

#: Every column of the accounts the person may see (the header's switcher and
#: profile card) with their role on each, each row followed by the state above
#: and every column of the person (their choices, such as a formula, shape
#: pages too): one statement.
_PERSON_ROW = select(*(c.label("viewer_" + c.name) for c in Person.__table__.c)).where(
    Person.id == _PERSON).subquery()
_MEMBERSHIP = (AccountMember.account_id == Account.id) & (AccountMember.person_id == _PERSON)
_PAGE = (select(Account.__table__, AccountMember.role.label("member_role"), _STATE, _PERSON_ROW)
         .select_from(Account.__table__.outerjoin(AccountMember, _MEMBERSHIP)
                      .join(_STATE, true()).join(_PERSON_ROW, true()))
         .where(or_(Account.person_id == _PERSON, AccountMember.person_id.is_not(None)))
         .order_by(Account.id))
_QUERY = DriverQuery(_PAGE, binds=("person_id", "account_id", "zone"),
                     convert=("sync_requested_at", "sync_locked_until"))
_ID, _PRESSED, _LEASED = (_QUERY.columns.index(name)
                          for name in ("id", "sync_requested_at", "sync_locked_until"))


class PageStateStore:
    """The values an account's page is made of, as tuples that compare equal
    exactly when nothing the page shows has changed in the database. They are
    the driver's values (SQLite's date-times as text), for comparing: only
    :meth:`sync_times` reads two of them as date-times."""

    def __init__(self, database: Database):
        self.database = database

    def of(self, person_id: int, account_id: int, zone: str) -> tuple | None:
        """The accounts the person may see, and the account's latest run,
        summary stamp, tokens and the person's unread alerts; None when the
        person may not see ``account_id``."""
        rows = _QUERY.rows(self.database.engine, person_id=person_id, account_id=account_id,
                           zone=zone)
        return rows if any(row[_ID] == account_id for row in rows) else None

    @staticmethod
    def sync_times(rows: tuple, account_id: int) -> tuple[datetime | None, datetime | None]:
        """When "Sync now" was last pressed for the account, and until when its
        sync lease is held, from the rows :meth:`of` read."""
        row = next(row for row in rows if row[_ID] == account_id)
        return row[_PRESSED], row[_LEASED]
