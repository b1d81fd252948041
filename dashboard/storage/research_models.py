"""The Research API explorer's tables: saved queries, runs, their windows and
records, and the day's quota as counted here. Changes go through `migrations/`."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .models import Base, UTCDateTime, utcnow


class ResearchQuery(Base):
    """A named, saved query (its JSON is QUERY.json's shape)."""

    __tablename__ = "research_queries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    spec: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ResearchRun(Base):
    """One run: ``queued``, ``running``, ``paused`` (quota), ``stopped``, ``done`` or ``failed``.

    ``kind`` is ``video`` (a query over windows), ``comments``, ``user_info``,
    ``followers``, ``following``, ``advertisers`` or ``ads``; a lookup made
    from a result row names that run as ``parent_id``.
    """

    __tablename__ = "research_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("research_runs.id", ondelete="CASCADE"),
                                                  index=True)
    query_id: Mapped[int | None] = mapped_column(ForeignKey("research_queries.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(16))
    label: Mapped[str] = mapped_column(String(200), default="")
    spec: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: A paused run goes on at this time (the quota's reset, 00:00 UTC).
    resume_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: The worker running it renews this; past it, the run was interrupted.
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    stop_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    windows_total: Mapped[int] = mapped_column(Integer, default=0)
    windows_done: Mapped[int] = mapped_column(Integer, default=0)
    records: Mapped[int] = mapped_column(Integer, default=0)
    requests: Mapped[int] = mapped_column(Integer, default=0)
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    log_id: Mapped[str | None] = mapped_column(String(128))


class ResearchWindow(Base):
    """A part of a run fetched page by page: ``pending``, ``done`` or ``split``.

    ``cursor`` and ``search_id`` are where the next page starts: they are
    written with the page's records, so a resumed run asks for the next page.
    """

    __tablename__ = "research_windows"
    __table_args__ = (Index("ix_research_windows_run_status", "run_id", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("research_runs.id", ondelete="CASCADE"))
    start_date: Mapped[str] = mapped_column(String(8))
    end_date: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    cursor: Mapped[int] = mapped_column(BigInteger, default=0)
    search_id: Mapped[str | None] = mapped_column(String(128))
    pages: Mapped[int] = mapped_column(Integer, default=0)
    failures: Mapped[int] = mapped_column(Integer, default=0)


class ResearchRecord(Base):
    """One video, comment, user, follower or ad a run brought, as TikTok sent it
    (``data``, JSON) and with the columns the results table sorts and filters on."""

    __tablename__ = "research_records"
    __table_args__ = (UniqueConstraint("run_id", "record_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("research_runs.id", ondelete="CASCADE"))
    record_key: Mapped[str] = mapped_column(String(128))
    created: Mapped[int | None] = mapped_column(BigInteger)
    username: Mapped[str | None] = mapped_column(String(255))
    region_code: Mapped[str | None] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text, default="")
    view_count: Mapped[int | None] = mapped_column(BigInteger)
    like_count: Mapped[int | None] = mapped_column(BigInteger)
    comment_count: Mapped[int | None] = mapped_column(BigInteger)
    share_count: Mapped[int | None] = mapped_column(BigInteger)
    data: Mapped[str] = mapped_column(Text)


class ResearchQuota(Base):
    """Requests and records spent on one UTC day, per quota (``video``, ``follow``, ``adlib``)."""

    __tablename__ = "research_quota"

    day: Mapped[str] = mapped_column(String(8), primary_key=True)
    bucket: Mapped[str] = mapped_column(String(16), primary_key=True)
    requests: Mapped[int] = mapped_column(Integer, default=0)
    records: Mapped[int] = mapped_column(Integer, default=0)
