"""E-mail addresses (per person and account), their confirmation, and the
digests sent to them: one :class:`DigestSend` row per address and period,
claimed before sending, so a period's digest goes out once however often the
worker restarts or the command runs."""

from __future__ import annotations

import hashlib
import secrets
from datetime import date, datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError

from .database import Database
from .models import DigestSend, MailAddress, utcnow


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class MailStore:
    """Named queries over :class:`MailAddress` and :class:`DigestSend`."""

    def __init__(self, database: Database):
        self.database = database

    # --- addresses ------------------------------------------------------------------

    def address(self, person_id: int, account_id: int) -> MailAddress | None:
        with self.database.session() as db:
            return db.scalar(select(MailAddress).where(MailAddress.person_id == person_id,
                                                       MailAddress.account_id == account_id))

    def get(self, address_id: int) -> MailAddress | None:
        with self.database.session() as db:
            return db.get(MailAddress, address_id)

    def save(self, person_id: int, account_id: int, *, email: str, lang: str, tz: str,
             frequency: str, weekday: int, hour: int) -> tuple[MailAddress, str | None]:
        """Save the settings; a new or changed address needs confirming again.

        Returns the row and, when a confirmation is to be sent, the link's secret
        (only its hash is stored)."""
        secret = None
        with self.database.session() as db:
            row = db.scalar(select(MailAddress).where(MailAddress.person_id == person_id,
                                                      MailAddress.account_id == account_id))
            if row is None:
                row = MailAddress(person_id=person_id, account_id=account_id, email=email,
                                  unsubscribe_token=secrets.token_urlsafe(24))
                db.add(row)
            if row.email.lower() != email.lower() or row.confirmed_at is None:
                if row.email.lower() != email.lower() or row.confirm_hash is None:
                    secret = secrets.token_urlsafe(24)
                    row.confirm_hash = token_hash(secret)
                    row.confirmed_at = None
            row.email, row.lang, row.tz = email, lang, tz
            row.frequency, row.weekday, row.hour = frequency, weekday, hour
            if frequency != "off":
                row.unsubscribed_at = None
            db.flush()
            db.expunge(row)
        return row, secret

    def new_confirmation(self, address_id: int) -> str:
        """A fresh confirmation secret (to send the link again); the old link stops working."""
        secret = secrets.token_urlsafe(24)
        with self.database.session() as db:
            db.execute(update(MailAddress).where(MailAddress.id == address_id)
                       .values(confirm_hash=token_hash(secret)))
        return secret

    def mark_confirmation_sent(self, address_id: int, at: datetime, error: str | None = None) -> None:
        """The confirmation e-mail went out at ``at`` (or failed with ``error``)."""
        values = {"confirm_error": error[:2000]} if error else {"confirm_sent_at": at, "confirm_error": None}
        with self.database.session() as db:
            db.execute(update(MailAddress).where(MailAddress.id == address_id).values(**values))

    def by_confirmation(self, secret: str) -> MailAddress | None:
        with self.database.session() as db:
            return db.scalar(select(MailAddress).where(MailAddress.confirm_hash == token_hash(secret)))

    def confirm(self, secret: str, max_age: timedelta) -> MailAddress | None:
        """Confirm the address whose link this is, if the link is younger than ``max_age``."""
        now = utcnow()
        with self.database.session() as db:
            row = db.scalar(select(MailAddress).where(MailAddress.confirm_hash == token_hash(secret)))
            if row is None or row.confirm_sent_at is None or row.confirm_sent_at < now - max_age:
                return None
            row.confirmed_at, row.confirm_hash = now, None
            db.flush()
            db.expunge(row)
            return row

    def by_unsubscribe(self, token: str) -> MailAddress | None:
        with self.database.session() as db:
            return db.scalar(select(MailAddress).where(MailAddress.unsubscribe_token == token))

    def unsubscribe(self, token: str) -> MailAddress | None:
        """Stop every e-mail to this address for this account (RFC 8058 one-click)."""
        with self.database.session() as db:
            row = db.scalar(select(MailAddress).where(MailAddress.unsubscribe_token == token))
            if row is None:
                return None
            row.unsubscribed_at = row.unsubscribed_at or utcnow()
            row.frequency = "off"
            db.flush()
            db.expunge(row)
            return row

    def confirmed(self, account_id: int | None = None) -> list[MailAddress]:
        """Confirmed, subscribed addresses (of one account, or all)."""
        conditions = [MailAddress.confirmed_at.is_not(None), MailAddress.unsubscribed_at.is_(None)]
        if account_id is not None:
            conditions.append(MailAddress.account_id == account_id)
        with self.database.session() as db:
            return list(db.scalars(select(MailAddress).where(*conditions).order_by(MailAddress.id)))

    def digest_subscribers(self) -> list[MailAddress]:
        """Confirmed addresses with a weekly or monthly digest."""
        return [a for a in self.confirmed() if a.frequency in ("weekly", "monthly")]

    # --- digest sends ---------------------------------------------------------------

    def claim(self, address_id: int, period_start: date, period_end: date,
              stale: timedelta) -> DigestSend | None:
        """Take the send of this period for this address, or None when it is
        sent, or being sent, or waiting for its retry time.

        A claim older than ``stale`` (its worker died while sending) may be
        taken again."""
        now = utcnow()
        with self.database.session() as db:
            row = db.scalar(select(DigestSend).where(DigestSend.address_id == address_id,
                                                     DigestSend.period_start == period_start))
            if row is None:
                row = DigestSend(address_id=address_id, period_start=period_start,
                                 period_end=period_end, status="sending", attempts=1, claimed_at=now)
                try:
                    with db.begin_nested():
                        db.add(row)
                except IntegrityError:
                    return None  # another worker claimed it a moment ago
                db.flush()
                db.expunge(row)
                return row
        with self.database.session() as db:
            taken = db.execute(update(DigestSend).where(
                DigestSend.id == row.id,
                or_((DigestSend.status == "failed") & (DigestSend.next_attempt_at <= now),
                    (DigestSend.status == "sending") & (DigestSend.claimed_at < now - stale)),
            ).values(status="sending", claimed_at=now, attempts=DigestSend.attempts + 1)).rowcount
            if not taken:
                return None
            row = db.get(DigestSend, row.id)
            db.refresh(row)
            db.expunge(row)
            return row

    def mark_sent(self, send_id: int, message_id: str) -> None:
        with self.database.session() as db:
            db.execute(update(DigestSend).where(DigestSend.id == send_id).values(
                status="sent", sent_at=utcnow(), message_id=message_id, error=None,
                next_attempt_at=None))

    def mark_failed(self, send_id: int, error: str, retry_at: datetime | None) -> None:
        """A failed attempt: retried at ``retry_at``, or never again when None."""
        with self.database.session() as db:
            db.execute(update(DigestSend).where(DigestSend.id == send_id).values(
                status="failed" if retry_at else "gave_up", error=error[:2000],
                next_attempt_at=retry_at))

    def retries_due(self, now: datetime) -> list[DigestSend]:
        with self.database.session() as db:
            return list(db.scalars(select(DigestSend).where(
                DigestSend.status == "failed", DigestSend.next_attempt_at <= now)))

    def sends_of(self, address_id: int, limit: int = 5) -> list[DigestSend]:
        """The address's latest digests, newest period first (for the settings page)."""
        with self.database.session() as db:
            return list(db.scalars(select(DigestSend).where(DigestSend.address_id == address_id)
                                   .order_by(DigestSend.period_start.desc()).limit(limit)))

    def send_for(self, address_id: int, period_start: date) -> DigestSend | None:
        with self.database.session() as db:
            return db.scalar(select(DigestSend).where(DigestSend.address_id == address_id,
                                                      DigestSend.period_start == period_start))
