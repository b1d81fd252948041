"""The e-mailed digest: which period is due for whom, and sending it once.

A weekly digest covers Monday to Sunday, a monthly one a calendar month, in
the reader's time zone. It is due at the reader's chosen weekday and hour
after its period ended (for a monthly digest: that weekday's first day in the
new month). Each send is claimed in ``digest_sends`` before the message is
built, so a period goes out once however often the worker restarts or
``flask report digest`` runs; an SMTP failure is kept there, shown on the
settings page, and retried later.

The words and pictures come from a :class:`DigestComposer` the web layer
hands in (it knows the languages and the templates); this module knows only
numbers and dates.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from dashboard.storage.models import MailAddress, utcnow

from .context import Core
from .mail import Mailer, MailError, Part, send
from .reports import ReportData, build_report, engagement_formula_of

log = logging.getLogger(__name__)

FREQUENCIES = ("weekly", "monthly")
#: Waits before each new attempt after an SMTP failure; then it gives up (about a day in all).
RETRY_DELAYS = (timedelta(minutes=5), timedelta(minutes=15), timedelta(hours=1),
                timedelta(hours=3), timedelta(hours=6), timedelta(hours=12))
#: A claim this old was left by a worker that died mid-send: it may be taken again.
STALE_CLAIM = timedelta(minutes=15)


@dataclass(frozen=True)
class DigestMail:
    """A digest in words: what :func:`dashboard.core.mail.send` needs."""

    subject: str
    text: str
    html: str
    images: tuple[Part, ...]
    pdf: Part


class DigestComposer(Protocol):
    """Words for a digest (the web layer's ``ReportRenderer``)."""

    def digest(self, address: MailAddress, data: ReportData, frequency: str) -> DigestMail: ...

    def unsubscribe_url(self, address: MailAddress) -> str: ...


def last_complete_period(frequency: str, today: date) -> tuple[date, date]:
    """The last whole week (Monday–Sunday) or calendar month before ``today``."""
    if frequency == "weekly":
        monday = today - timedelta(days=today.weekday())
        return monday - timedelta(days=7), monday - timedelta(days=1)
    if frequency == "monthly":
        end = today.replace(day=1) - timedelta(days=1)
        return end.replace(day=1), end
    raise ValueError(frequency)


def due_at(address: MailAddress, period_end: date) -> datetime:
    """When the digest of the period ending ``period_end`` is due (UTC): the
    address's weekday and hour, on or after the day after the period."""
    day = period_end + timedelta(days=1)
    day += timedelta(days=(address.weekday - day.weekday()) % 7)
    return datetime.combine(day, time(address.hour), ZoneInfo(address.tz)).astimezone(UTC)


def due_period(address: MailAddress, now: datetime) -> tuple[date, date] | None:
    """The period whose digest is due now for ``address``, or None.

    Due once its moment has come and if the address was confirmed by then
    (a new subscriber waits for the next period instead of getting an old one)."""
    if address.frequency not in FREQUENCIES or address.confirmed_at is None:
        return None
    today = now.astimezone(ZoneInfo(address.tz)).date()
    start, end = last_complete_period(address.frequency, today)
    moment = due_at(address, end)
    if moment > now or address.confirmed_at > moment:
        return None
    return start, end


def retry_at(attempts: int, now: datetime) -> datetime | None:
    """When to try again after ``attempts`` failed attempts, or None to give up."""
    return now + RETRY_DELAYS[attempts - 1] if attempts <= len(RETRY_DELAYS) else None


@dataclass(frozen=True)
class SendOutcome:
    address_id: int
    period_start: date
    status: str  # "sent", "failed", "skipped" (already sent, or being sent), "off"
    message_id: str | None = None
    error: str | None = None


def send_digest(core: Core, mailer: Mailer, composer: DigestComposer, address_id: int,
                period: tuple[date, date], *, now: datetime | None = None) -> SendOutcome:
    """Send the digest of ``period`` to one confirmed address, unless it went already."""
    store, now = core.store, now or utcnow()
    address = store.mail.get(address_id)
    start, end = period
    if (address is None or address.confirmed_at is None or address.unsubscribed_at is not None
            or not mailer.enabled):
        return SendOutcome(address_id, start, "off")
    claim = store.mail.claim(address_id, start, end, STALE_CLAIM)
    if claim is None:
        return SendOutcome(address_id, start, "skipped")
    try:
        data = build_report(core, address.account_id, start, end, address.tz, now=now,
                            formula=engagement_formula_of(core, address.person_id))
        mail = composer.digest(address, data, address.frequency if address.frequency in FREQUENCIES
                               else "weekly")
        message_id = send(mailer, to=address.email, subject=mail.subject, text=mail.text,
                          html=mail.html, images=mail.images, attachments=(mail.pdf,),
                          unsubscribe_url=composer.unsubscribe_url(address), lang=address.lang)
    except MailError as exc:
        again = retry_at(claim.attempts, now) if exc.temporary else None
        store.mail.mark_failed(claim.id, str(exc), again)
        log.warning("digest to address %s for %s failed (attempt %d): %s", address_id, start,
                    claim.attempts, exc)
        return SendOutcome(address_id, start, "failed", error=str(exc))
    except Exception as exc:  # a bug while composing: kept for a retry, never a silent loss
        store.mail.mark_failed(claim.id, f"{type(exc).__name__}: {exc}", retry_at(claim.attempts, now))
        raise
    store.mail.mark_sent(claim.id, message_id)
    return SendOutcome(address_id, start, "sent", message_id=message_id)


def due_sends(core: Core, now: datetime | None = None) -> list[tuple[int, tuple[date, date]]]:
    """(address id, period) of every digest due now, and every failed one whose retry time came."""
    store, now = core.store, now or utcnow()
    due = []
    for address in store.mail.digest_subscribers():
        period = due_period(address, now)
        if period is None:
            continue
        sent = store.mail.send_for(address.id, period[0])
        if sent is None or sent.status == "sending" and sent.claimed_at < now - STALE_CLAIM:
            due.append((address.id, period))
    due.extend((s.address_id, (s.period_start, s.period_end)) for s in store.mail.retries_due(now))
    return due
