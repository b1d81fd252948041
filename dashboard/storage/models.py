"""The database schema (SQLAlchemy 2). Changes go through `migrations/`.

One deployment holds many people, each owning the TikTok accounts they
connected and seeing those its owner shared with them (``account_members``);
every read for a page goes through the storage modules and names the person
it serves, so one person never reads rows of an account they cannot see.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator):
    """Stored as naive UTC on every backend, returned as aware UTC."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are ambiguous; pass an aware UTC datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Person(Base):
    """Someone who uses the dashboard; owns the accounts they connected."""

    __tablename__ = "people"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: The engagement formula this person reads every rate by (a key of
    #: ``analytics.ENGAGEMENT_FORMULAS``): pages, exports, comparisons, reports.
    engagement_formula: Mapped[str] = mapped_column(String(16), default="views",
                                                    server_default="views")
    accounts: Mapped[list[Account]] = relationship(back_populates="person")


class Account(Base):
    """A connected TikTok account and its latest profile."""

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    open_id: Mapped[str] = mapped_column(String(128), unique=True)
    union_id: Mapped[str | None] = mapped_column(String(128))
    display_name: Mapped[str | None] = mapped_column(Text)
    username: Mapped[str | None] = mapped_column(String(255))
    avatar_url: Mapped[str | None] = mapped_column(Text)
    bio_description: Mapped[str | None] = mapped_column(Text)
    profile_deep_link: Mapped[str | None] = mapped_column(Text)
    is_verified: Mapped[bool | None] = mapped_column(Boolean)
    follower_count: Mapped[int | None] = mapped_column(BigInteger)
    following_count: Mapped[int | None] = mapped_column(BigInteger)
    likes_count: Mapped[int | None] = mapped_column(BigInteger)
    video_count: Mapped[int | None] = mapped_column(BigInteger)
    granted_scopes: Mapped[str] = mapped_column(Text, default="")
    connected_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sync_locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: When a sync job of this account was queued and not yet started: a
    #: second request finds it and queues nothing.
    sync_queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: When someone last pressed "Sync now": at most once a minute per account.
    sync_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: When the avatar picture was last stored by the worker (None: none stored).
    avatar_stored_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: When the worker last finished storing this account's pictures.
    pictures_stored_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: When TikTok said (its webhook) that the account's owner removed our
    #: access, and its reason code; cleared by a new login.
    disconnected_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    disconnect_reason: Mapped[int | None] = mapped_column(Integer)

    person: Mapped[Person] = relationship(back_populates="accounts")


#: The roles a person can have on an account, weakest first; the owner is
#: ``Account.person_id`` and has no membership row.
ROLES = ("viewer", "manager", "owner")


class AccountMember(Base):
    """Someone the owner shared an account with, and their role (viewer or manager)."""

    __tablename__ = "account_members"
    __table_args__ = (UniqueConstraint("account_id", "person_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    added_by: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))


class AccountInvite(Base):
    """A link the owner made to share an account: single use, expiring, revocable.

    Only the SHA-256 of the link's secret is stored; the link is shown once.
    """

    __tablename__ = "account_invites"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    used_by: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Token(Base):
    """The account's OAuth tokens, encrypted; one row per account."""

    __tablename__ = "tokens"

    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    access_token: Mapped[str] = mapped_column(Text)
    refresh_token: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    refresh_expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    scope: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    refresh_locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WebSession(Base):
    """A browser session; the cookie holds a random value, this row its hash."""

    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    person_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), index=True
    )
    data: Mapped[str] = mapped_column(Text, default="{}")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SyncRun(Base):
    """One attempt to sync one account: ``queued``, ``running``, then ``ok`` or ``failed``."""

    __tablename__ = "sync_runs"
    __table_args__ = (Index("ix_sync_runs_account_started", "account_id", "started_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    taken_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default="running")
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    log_id: Mapped[str | None] = mapped_column(String(128))
    videos_seen: Mapped[int] = mapped_column(Integer, default=0)
    api_calls: Mapped[int] = mapped_column(Integer, default=0)
    #: Progress while running: videos fetched so far, of the profile's count.
    videos_done: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    videos_total: Mapped[int | None] = mapped_column(Integer)


class ProfileSnapshot(Base):
    """The account's counts at one sync."""

    __tablename__ = "profile_snapshots"
    __table_args__ = (UniqueConstraint("account_id", "taken_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime)
    follower_count: Mapped[int | None] = mapped_column(BigInteger)
    following_count: Mapped[int | None] = mapped_column(BigInteger)
    likes_count: Mapped[int | None] = mapped_column(BigInteger)
    video_count: Mapped[int | None] = mapped_column(BigInteger)
    #: ``api`` (a sync) or ``studio_import`` (a day of a Studio FollowerHistory file).
    source: Mapped[str] = mapped_column(String(16), default="api", server_default="api")
    import_id: Mapped[int | None] = mapped_column(
        ForeignKey("studio_imports.id", ondelete="CASCADE"), index=True)


class Video(Base):
    """Every video ever seen for an account, with its latest counts."""

    __tablename__ = "videos"
    __table_args__ = (
        UniqueConstraint("account_id", "video_id"),
        Index("ix_videos_account_create_time", "account_id", "create_time"),
        # One per sortable metric, ending in the id that breaks ties, so a
        # page of /videos sorted by any of them reads an index range. (Not
        # the title: a PostgreSQL index entry holds at most ~2.7 kB.)
        *(Index(f"ix_videos_account_{column}", "account_id", column, "id")
          for column in ("view_count", "like_count", "comment_count", "share_count",
                         "duration")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    video_id: Mapped[str] = mapped_column(String(32))
    create_time: Mapped[datetime] = mapped_column(UTCDateTime)
    title: Mapped[str] = mapped_column(Text, default="")
    video_description: Mapped[str] = mapped_column(Text, default="")
    duration: Mapped[int | None] = mapped_column(Integer)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    cover_image_url: Mapped[str | None] = mapped_column(Text)
    #: When the worker stored this video's cover picture (None: none stored yet).
    cover_fetched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    share_url: Mapped[str | None] = mapped_column(Text)
    embed_link: Mapped[str | None] = mapped_column(Text)
    view_count: Mapped[int] = mapped_column(BigInteger, default=0)
    like_count: Mapped[int] = mapped_column(BigInteger, default=0)
    comment_count: Mapped[int] = mapped_column(BigInteger, default=0)
    share_count: Mapped[int] = mapped_column(BigInteger, default=0)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    gone_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class VideoSnapshot(Base):
    """One video's counts at one sync."""

    __tablename__ = "video_snapshots"
    __table_args__ = (
        UniqueConstraint("video_pk", "taken_at"),
        Index("ix_video_snapshots_account_taken", "account_id", "taken_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    video_pk: Mapped[int] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime)
    view_count: Mapped[int] = mapped_column(BigInteger)
    like_count: Mapped[int] = mapped_column(BigInteger)
    comment_count: Mapped[int] = mapped_column(BigInteger)
    share_count: Mapped[int] = mapped_column(BigInteger)


class StagedVideo(Base):
    """A video one running sync has read, waiting for the sync's final write.

    A sync walks the video list page by page and parks each page here, so it
    holds one page in memory, not the whole list; the final transaction
    merges the run's rows into ``videos`` and deletes them. The first copy
    of a video wins when TikTok lists it twice in one walk.
    """

    __tablename__ = "staged_videos"

    run_id: Mapped[int] = mapped_column(ForeignKey("sync_runs.id", ondelete="CASCADE"),
                                        primary_key=True)
    video_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    create_time: Mapped[datetime] = mapped_column(UTCDateTime)
    title: Mapped[str] = mapped_column(Text, default="")
    video_description: Mapped[str] = mapped_column(Text, default="")
    duration: Mapped[int | None] = mapped_column(Integer)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    cover_image_url: Mapped[str | None] = mapped_column(Text)
    share_url: Mapped[str | None] = mapped_column(Text)
    embed_link: Mapped[str | None] = mapped_column(Text)
    view_count: Mapped[int] = mapped_column(BigInteger, default=0)
    like_count: Mapped[int] = mapped_column(BigInteger, default=0)
    comment_count: Mapped[int] = mapped_column(BigInteger, default=0)
    share_count: Mapped[int] = mapped_column(BigInteger, default=0)


class SyncSummary(Base):
    """What the pages show of one account, computed by the sync that wrote it.

    ``zone`` is empty for the part that does not depend on a time zone, and
    an IANA name for the parts that do (the posting heatmap, posts per
    month). A sync replaces the account's rows in its final transaction.
    """

    __tablename__ = "sync_summaries"
    __table_args__ = (UniqueConstraint("account_id", "zone"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    run_id: Mapped[int] = mapped_column(ForeignKey("sync_runs.id", ondelete="CASCADE"), index=True)
    zone: Mapped[str] = mapped_column(String(64), default="")
    data: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RenderedPart(Base):
    """A page part rendered from an account's summary, in one language and
    time zone, by the worker after the sync: the first view after a sync, in
    any process, reads it instead of rendering it."""

    __tablename__ = "rendered_parts"
    __table_args__ = (UniqueConstraint("account_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    #: The summary it was rendered from, and the pictures it shows.
    run_id: Mapped[int] = mapped_column(ForeignKey("sync_runs.id", ondelete="CASCADE"), index=True)
    pictures_stored_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: "language|time zone|page|part", e.g. "zh|Asia/Shanghai|overview|day|stats".
    name: Mapped[str] = mapped_column(String(200))
    html: Mapped[str] = mapped_column(Text)


class AlertSettings(Base):
    """One account's alert rules (JSON of ``dashboard.alerts.AlertRules``) and webhook."""

    __tablename__ = "alert_settings"

    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    rules: Mapped[str] = mapped_column(Text, default="{}")
    #: The outgoing webhook's URL and signing secret, encrypted like tokens
    #: (a Slack or Discord URL is itself a credential).
    webhook_url: Mapped[str | None] = mapped_column(Text)
    webhook_secret: Mapped[str | None] = mapped_column(Text)
    #: Language of the webhook's text (Slack, Discord, ``summary``): ``en`` or ``zh``.
    webhook_language: Mapped[str] = mapped_column(String(8), default="en")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Alert(Base):
    """One event a rule found; ``key`` makes it fire once per account."""

    __tablename__ = "alerts"
    __table_args__ = (
        UniqueConstraint("account_id", "key"),
        Index("ix_alerts_account_created", "account_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    rule: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(255))
    subject: Mapped[str] = mapped_column(Text, default="")
    numbers: Mapped[str] = mapped_column(Text, default="{}")
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WebhookDelivery(Base):
    """One alert on its way to the account's webhook: ``pending``, ``delivered`` or ``failed``."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_account_created", "account_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WebhookAttempt(Base):
    """One POST of a delivery: the HTTP status, or why there was none."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True)
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status_code: Mapped[int | None] = mapped_column(Integer)
    #: ``ok``, ``http_error``, ``timeout``, ``connection``, ``refused_address``, ...
    outcome: Mapped[str] = mapped_column(String(32))
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)


class TikTokWebhookEvent(Base):
    """An event TikTok's webhook delivered; ``key`` makes a redelivery a no-op."""

    __tablename__ = "tiktok_webhook_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    event: Mapped[str] = mapped_column(String(64))
    user_openid: Mapped[str | None] = mapped_column(String(128))
    create_time: Mapped[int] = mapped_column(BigInteger)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Report(Base):
    """A PDF report of one account (or a comparison of several) for one date range, made by the worker."""

    __tablename__ = "reports"
    __table_args__ = (Index("ix_reports_account_created", "account_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: The random name the download URL carries (row ids are guessable).
    token: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    date_from: Mapped[date] = mapped_column(Date)
    date_to: Mapped[date] = mapped_column(Date)
    lang: Mapped[str] = mapped_column(String(8))
    tz: Mapped[str] = mapped_column(String(64))
    #: A comparison report's accounts (and the range compared with), as JSON
    #: ``{"accounts": [3, 7], "vs": ["2026-01-01", "2026-01-28"] | null}``;
    #: None for a report of one account.
    compared: Mapped[str | None] = mapped_column(Text)
    #: ``queued``, ``running``, ``ok`` or ``failed``.
    status: Mapped[str] = mapped_column(String(16), default="queued")
    error_code: Mapped[str | None] = mapped_column(String(64))
    pdf: Mapped[bytes | None] = mapped_column(LargeBinary)
    seconds: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class MailAddress(Base):
    """One person's e-mail address for one account, and their digest schedule.

    Nothing is sent before ``confirmed_at``; nothing after ``unsubscribed_at``.
    """

    __tablename__ = "mail_addresses"
    __table_args__ = (UniqueConstraint("person_id", "account_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(254))
    lang: Mapped[str] = mapped_column(String(8), default="en")
    tz: Mapped[str] = mapped_column(String(64), default="UTC")
    #: ``off``, ``weekly`` or ``monthly``.
    frequency: Mapped[str] = mapped_column(String(8), default="off")
    weekday: Mapped[int] = mapped_column(Integer, default=0)
    hour: Mapped[int] = mapped_column(Integer, default=8)
    #: SHA-256 of the confirmation link's secret (the link itself is only in the e-mail).
    confirm_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    confirm_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Why the last confirmation e-mail did not go out (None: it did, or none was sent).
    confirm_error: Mapped[str | None] = mapped_column(Text)
    #: The one-click unsubscribe link's secret (RFC 8058).
    unsubscribe_token: Mapped[str] = mapped_column(String(64), unique=True)
    unsubscribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DigestSend(Base):
    """One digest of one period to one address: claimed once, so never sent twice."""

    __tablename__ = "digest_sends"
    __table_args__ = (UniqueConstraint("address_id", "period_start"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    address_id: Mapped[int] = mapped_column(ForeignKey("mail_addresses.id", ondelete="CASCADE"))
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    #: ``sending`` (claimed), ``sent``, ``failed`` (retried at ``next_attempt_at``) or ``gave_up``.
    status: Mapped[str] = mapped_column(String(16), default="sending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    message_id: Mapped[str | None] = mapped_column(String(255))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class StudioImport(Base):
    """One TikTok Studio file imported into an account: where figures with
    ``source = 'studio_import'`` came from."""

    __tablename__ = "studio_imports"
    __table_args__ = (UniqueConstraint("account_id", "sha256"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    file_name: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    #: ``overview``, ``follower_history``, ``follower_activity``, ``viewers``,
    #: ``content``, ``follower_gender`` or ``follower_territories``.
    kind: Mapped[str] = mapped_column(String(32))
    first_day: Mapped[date | None] = mapped_column(Date)
    last_day: Mapped[date | None] = mapped_column(Date)
    rows_total: Mapped[int] = mapped_column(Integer, default=0)
    rows_stored: Mapped[int] = mapped_column(Integer, default=0)
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class StudioDaily(Base):
    """An account's figures of one day from Studio (Overview and Viewers files):
    the Display API has none of them."""

    __tablename__ = "studio_daily"
    __table_args__ = (UniqueConstraint("account_id", "day"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)
    video_views: Mapped[int | None] = mapped_column(BigInteger)
    profile_views: Mapped[int | None] = mapped_column(BigInteger)
    likes: Mapped[int | None] = mapped_column(BigInteger)
    comments: Mapped[int | None] = mapped_column(BigInteger)
    shares: Mapped[int | None] = mapped_column(BigInteger)
    total_viewers: Mapped[int | None] = mapped_column(BigInteger)
    new_viewers: Mapped[int | None] = mapped_column(BigInteger)
    returning_viewers: Mapped[int | None] = mapped_column(BigInteger)
    #: The import that wrote the overview figures, and the viewers figures.
    import_id: Mapped[int | None] = mapped_column(ForeignKey("studio_imports.id", ondelete="CASCADE"),
                                                  index=True)
    viewers_import_id: Mapped[int | None] = mapped_column(
        ForeignKey("studio_imports.id", ondelete="CASCADE"), index=True)


class StudioFollowerActivity(Base):
    """Followers active in one hour of one day (FollowerActivity)."""

    __tablename__ = "studio_follower_activity"
    __table_args__ = (UniqueConstraint("account_id", "day", "hour"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)
    hour: Mapped[int] = mapped_column(Integer)
    active_followers: Mapped[int | None] = mapped_column(BigInteger)
    import_id: Mapped[int] = mapped_column(ForeignKey("studio_imports.id", ondelete="CASCADE"), index=True)


class StudioVideoFigures(Base):
    """One video's totals as a Studio Content file gave them, matched to the
    account's video by its id (the API's own counts stay in ``videos``)."""

    __tablename__ = "studio_video_figures"
    __table_args__ = (UniqueConstraint("account_id", "video_id", "import_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    video_id: Mapped[str] = mapped_column(String(32))
    #: The ``videos`` row with that id, when the account has it.
    video_pk: Mapped[int | None] = mapped_column(ForeignKey("videos.id", ondelete="SET NULL"))
    post_day: Mapped[date | None] = mapped_column(Date)
    title: Mapped[str] = mapped_column(Text, default="")
    views: Mapped[int | None] = mapped_column(BigInteger)
    likes: Mapped[int | None] = mapped_column(BigInteger)
    comments: Mapped[int | None] = mapped_column(BigInteger)
    shares: Mapped[int | None] = mapped_column(BigInteger)
    import_id: Mapped[int] = mapped_column(ForeignKey("studio_imports.id", ondelete="CASCADE"), index=True)


class StudioAudience(Base):
    """A share of the account's followers by gender or territory, per import."""

    __tablename__ = "studio_audience"
    __table_args__ = (UniqueConstraint("import_id", "label"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    #: ``follower_gender`` or ``follower_territories``.
    kind: Mapped[str] = mapped_column(String(32))
    label: Mapped[str] = mapped_column(String(200))
    share: Mapped[float | None] = mapped_column(Float)
    import_id: Mapped[int] = mapped_column(ForeignKey("studio_imports.id", ondelete="CASCADE"))


class StudioPreview(Base):
    """An upload parsed and waiting for its confirmation: keyed by a random
    token, bound to the person and the account, gone after ``expires_at``."""

    __tablename__ = "studio_previews"

    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    data: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
