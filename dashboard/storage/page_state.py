"""What an account's page depends on, read in one round trip.

A page of an account shows its profile and summary, the person's other
accounts, where syncing stands and the unread alerts. :meth:`PageStateStore.of`
reads all of it as plain values, so the web layer can tell whether a page it
rendered before is still the page it would render now, without rendering it.
The statements are built once and run through SQLAlchemy Core: a warm page
view costs one connection checkout and two small queries.
"""

from __future__ import annotations

from sqlalchemy import bindparam, exists, func, select, true

from .database import Database
from .models import Account, Alert, SyncRun, SyncSummary, Token
from .summaries import MAIN

_PERSON, _ACCOUNT, _ZONE = bindparam("person_id"), bindparam("account_id"), bindparam("zone")

#: Every column of the person's accounts: the header's switcher and profile card.
_ACCOUNTS = select(Account.__table__).where(Account.person_id == _PERSON).order_by(Account.id)

#: One row: the latest sync run, the summary's stamp in this zone, the unread
#: alerts and whether the account still has tokens.
_LATEST_RUN = (select(SyncRun.id, SyncRun.status, SyncRun.videos_done, SyncRun.videos_total,
                      SyncRun.finished_at, SyncRun.error_code)
               .where(SyncRun.account_id == _ACCOUNT)
               .order_by(SyncRun.started_at.desc(), SyncRun.id.desc()).limit(1).subquery())
_UNREAD = (select(func.count()).select_from(Alert).join(Account, Account.id == Alert.account_id)
           .where(Account.person_id == _PERSON, Alert.read_at.is_(None)).scalar_subquery())
_SUMMARY = (select(func.count(), func.max(SyncSummary.id), func.max(SyncSummary.run_id),
                   func.max(SyncSummary.created_at))
            .where(SyncSummary.account_id == _ACCOUNT, SyncSummary.zone.in_((MAIN, _ZONE)))
            .subquery())
_STATE = (select(_SUMMARY, _UNREAD.label("unread"),
                 exists().where(Token.account_id == _ACCOUNT).label("token"), _LATEST_RUN)
          .select_from(_SUMMARY).outerjoin(_LATEST_RUN, true()))


class PageStateStore:
    """The values an account's page is made of, as tuples that compare equal
    exactly when nothing the page shows has changed in the database."""

    def __init__(self, database: Database):
        self.database = database

    def of(self, person_id: int, account_id: int, zone: str) -> tuple | None:
        """The person's accounts and the account's latest run, summary stamp,
        tokens and the person's unread alerts; None when the person does not
        own ``account_id``."""
        values = {"person_id": person_id, "account_id": account_id, "zone": zone}
        with self.database.engine.connect() as connection:
            accounts = tuple(connection.execute(_ACCOUNTS, values).all())
            if not any(row.id == account_id for row in accounts):
                return None
            state = connection.execute(_STATE, values).one()
        return accounts, state
