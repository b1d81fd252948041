"""Storage: models, migrations, and one small module per thing stored.

=================  ===============================================
``accounts``       people, accounts, and their encrypted tokens; who may see which
``sharing``        an account's members (viewer, manager) and its invite links
``history``        profile snapshots, videos, video snapshots
``runs``           sync runs, leases, the sync queue marker
``summaries``     what the pages show of each account, per sync
``web_sessions``   the rows behind browser sessions
``alerts``         alerts, alert settings, webhook deliveries, TikTok's webhook events
``reports``        PDF reports made by the worker
``mail``           e-mail addresses, their confirmation, digests sent
``research``       Research API queries, runs, windows, records, quota
``page_state``     what an account's page depends on, in one round trip
``studio``         TikTok Studio imports, their figures and previews
=================  ===============================================

:class:`Store` bundles them over one engine. Nothing here imports Flask or
anything above storage; callers name what they want (``store.tokens.load``).
"""

from __future__ import annotations

from .accounts import AccountStore, TokenRecord, TokenStore
from .alerts import AlertStore
from .crypto import TokenCipher
from .database import Database, build_engine, upgrade_schema
from .history import COUNT_FILTERS, SORTABLE, HistoryStore
from .mail import MailStore
from .page_state import PageStateStore
from .reports import ReportStore
from .research import ResearchStore
from .runs import RunStore
from .sharing import SharingStore
from .studio import StudioStore
from .summaries import SummaryStore
from .web_sessions import SessionStore

__all__ = ["COUNT_FILTERS", "SORTABLE", "Store", "TokenRecord", "open_store", "upgrade_schema"]


class Store:
    """The storage modules over one database."""

    def __init__(self, database: Database, cipher: TokenCipher):
        self.database = database
        self.engine = database.engine
        self.session = database.session
        self.accounts = AccountStore(database)
        self.tokens = TokenStore(database, cipher)
        self.history = HistoryStore(database)
        self.runs = RunStore(database)
        self.summaries = SummaryStore(database)
        self.web_sessions = SessionStore(database)
        self.alerts = AlertStore(database, cipher)
        self.reports = ReportStore(database)
        self.mail = MailStore(database)
        self.research = ResearchStore(database)
        self.page_state = PageStateStore(database)
        self.studio = StudioStore(database)
        self.sharing = SharingStore(database)


def open_store(url: str, cipher: TokenCipher, *, migrate: bool = True,
               lock_dir: str | None = None) -> Store:
    """Build the engine for ``url``, upgrade the schema when allowed, and wrap it."""
    engine = build_engine(url)
    if migrate:
        upgrade_schema(engine, lock_dir)
    return Store(Database(engine), cipher)
