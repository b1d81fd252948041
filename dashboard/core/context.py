"""What the core works with, built once per app and handed in explicitly.

The core never reaches for Flask's ``current_app`` or a request: the app
factory (or a test) builds a :class:`Core` from the settings, and every
core function takes it as its first argument.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from dashboard.storage import Store
from oauth_handler import Provider, TokenKeeper

from .budget import TikTokBudget
from .media import MediaFiles


@dataclass(frozen=True)
class CoreSettings:
    #: Seconds a sync's lease lasts without a heartbeat (SYNC_LEASE_SECONDS).
    sync_lease_seconds: float = 30
    #: Minutes between scheduled syncs of an account; 0 is off (SYNC_INTERVAL_MINUTES).
    sync_interval_minutes: int = 360
    #: Hosts besides TikTok's CDNs whose pictures may be downloaded (TIKTOK_API_BASE's).
    media_hosts: tuple[str, ...] = ()
    #: Download covers and avatars after each sync (STORE_PICTURES).
    store_pictures: bool = True
    #: Browser sessions end after this many idle minutes, or hours after login.
    session_idle_minutes: int = 7 * 24 * 60
    session_absolute_hours: int = 30 * 24
    #: Outgoing webhooks may go to loopback and private addresses (WEBHOOKS_ALLOW_PRIVATE_HOSTS).
    webhooks_allow_private: bool = False
    #: Seconds an outgoing webhook may take (WEBHOOK_TIMEOUT).
    webhook_timeout: float = 10
    #: Where people reach the dashboard, for links in webhooks (PUBLIC_BASE_URL).
    public_base_url: str = "http://localhost:5000"


@dataclass
class Core:
    store: Store
    provider: Provider
    media: MediaFiles
    budget: TikTokBudget
    settings: CoreSettings = field(default_factory=CoreSettings)
    #: Called with an account id after a sync or its pictures changed what the
    #: pages show (the web layer renders them then); a failing hook is logged.
    after_sync: list[Callable[[int], None]] = field(default_factory=list)
    #: Called with each new alert (the job queue sets it: deliver in the background).
    alert_hook: Callable | None = None

    def __post_init__(self):
        self.tokens = TokenKeeper(self.provider, self.store)
