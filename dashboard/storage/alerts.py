"""Alerts, each account's alert settings and webhook, webhook deliveries and
their attempts, and the events TikTok's own webhook delivered."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from .accounts import visible_ids
from .crypto import TokenCipher, TokenDecryptError
from .database import Database
from .models import (
    Account,
    Alert,
    AlertSettings,
    ProfileSnapshot,
    SyncRun,
    TikTokWebhookEvent,
    Token,
    Video,
    VideoSnapshot,
    WebhookAttempt,
    WebhookDelivery,
    utcnow,
)


@dataclass(frozen=True)
class AlertConfig:
    """An account's stored alert settings, decrypted."""

    rules: dict
    webhook_url: str | None = None
    webhook_secret: str | None = None
    webhook_language: str = "en"


@dataclass(frozen=True)
class StoredAlert:
    id: int
    account_id: int
    rule: str
    key: str
    subject: str
    numbers: dict
    occurred_at: datetime
    created_at: datetime
    read_at: datetime | None

    @classmethod
    def of(cls, row: Alert) -> StoredAlert:
        try:
            numbers = json.loads(row.numbers or "{}")
        except ValueError:
            numbers = {}
        return cls(row.id, row.account_id, row.rule, row.key, row.subject or "",
                   numbers if isinstance(numbers, dict) else {}, row.occurred_at,
                   row.created_at, row.read_at)


class AlertStore:
    """Named queries over alerts and what delivers them."""

    def __init__(self, database: Database, cipher: TokenCipher):
        self.database = database
        self.cipher = cipher

    # --- settings -----------------------------------------------------------------------

    def config(self, account_id: int) -> AlertConfig:
        with self.database.session() as db:
            row = db.get(AlertSettings, account_id)
            if row is None:
                return AlertConfig(rules={})
            try:
                rules = json.loads(row.rules or "{}")
            except ValueError:
                rules = {}
            return AlertConfig(
                rules=rules if isinstance(rules, dict) else {},
                webhook_url=self._decrypt(row.webhook_url),
                webhook_secret=self._decrypt(row.webhook_secret),
                webhook_language=row.webhook_language or "en")

    def _decrypt(self, value: str | None) -> str | None:
        if not value:
            return None
        try:
            return self.cipher.decrypt(value)
        except TokenDecryptError:
            return None

    def _settings_row(self, db, account_id: int) -> AlertSettings:
        row = db.get(AlertSettings, account_id)
        if row is None:
            row = AlertSettings(account_id=account_id, rules="{}", webhook_language="en")
            db.add(row)
        row.updated_at = utcnow()
        return row

    def save_rules(self, account_id: int, rules: dict) -> None:
        with self.database.session() as db:
            self._settings_row(db, account_id).rules = json.dumps(rules, sort_keys=True)

    def save_webhook(self, account_id: int, url: str | None, secret: str | None,
                     language: str = "en") -> None:
        """Set (or, with ``url=None``, remove) the account's webhook."""
        with self.database.session() as db:
            row = self._settings_row(db, account_id)
            row.webhook_url = self.cipher.encrypt(url) if url else None
            row.webhook_secret = self.cipher.encrypt(secret) if url and secret else None
            row.webhook_language = language

    # --- alerts -------------------------------------------------------------------------

    def add(self, account_id: int, *, rule: str, key: str, subject: str, numbers: dict,
            occurred_at: datetime) -> StoredAlert | None:
        """Store an event once: None when this account already has ``key``."""
        with self.database.session() as db:
            if db.scalar(select(Alert.id).where(Alert.account_id == account_id, Alert.key == key)):
                return None
        try:
            with self.database.session() as db:
                row = Alert(account_id=account_id, rule=rule, key=key[:255], subject=subject,
                            numbers=json.dumps(numbers, sort_keys=True, default=str),
                            occurred_at=occurred_at, created_at=utcnow())
                db.add(row)
                db.flush()
                return StoredAlert.of(row)
        except IntegrityError:  # a racing evaluation stored it first
            return None

    def get(self, alert_id: int) -> StoredAlert | None:
        with self.database.session() as db:
            row = db.get(Alert, alert_id)
            return StoredAlert.of(row) if row else None

    def of_person(self, person_id: int, *, limit: int = 50, offset: int = 0) -> list[StoredAlert]:
        """The alerts of every account the person may see, newest first."""
        with self.database.session() as db:
            rows = db.scalars(
                select(Alert).where(Alert.account_id.in_(visible_ids(person_id)))
                .order_by(Alert.created_at.desc(), Alert.id.desc()).limit(limit).offset(offset))
            return [StoredAlert.of(r) for r in rows]

    def count_of_person(self, person_id: int, *, unread: bool = False,
                        min_role: str = "manager") -> int:
        """How many alerts the person has of the accounts they have ``min_role``
        on (by default those whose alerts they may mark read)."""
        with self.database.session() as db:
            query = (select(func.count()).select_from(Alert)
                     .where(Alert.account_id.in_(visible_ids(person_id, min_role))))
            if unread:
                query = query.where(Alert.read_at.is_(None))
            return db.scalar(query) or 0

    def mark_read(self, person_id: int, alert_id: int | None = None) -> int:
        """Mark one (or all) of the alerts of the accounts the person manages or
        owns read; returns how many changed. (A viewer only reads: an alert's
        read mark is the account's, not each person's.)"""
        owned = visible_ids(person_id, "manager")
        query = update(Alert).where(Alert.account_id.in_(owned), Alert.read_at.is_(None))
        if alert_id is not None:
            query = query.where(Alert.id == alert_id)
        with self.database.session() as db:
            return db.execute(query.values(read_at=utcnow())).rowcount

    # --- what the rules read ------------------------------------------------------------

    def rule_inputs(self, account_id: int, since: datetime, now: datetime, *, runs: int = 20) -> dict:
        """Plain rows for the rules: follower snapshots and the snapshots of
        videos posted since ``since`` (both up to ``now``), videos gone since
        then, the latest runs, the token's end and the account's disconnection."""
        with self.database.session() as db:
            followers = db.execute(
                select(ProfileSnapshot.taken_at, ProfileSnapshot.follower_count)
                .where(ProfileSnapshot.account_id == account_id,
                       ProfileSnapshot.taken_at >= since, ProfileSnapshot.taken_at <= now)
                .order_by(ProfileSnapshot.taken_at)).all()
            videos = db.execute(
                select(Video.id, Video.video_id, Video.title, Video.create_time, Video.gone_at)
                .where(Video.account_id == account_id,
                       (Video.create_time >= since) | (Video.gone_at >= since))).all()
            pks = [v.id for v in videos]
            views: dict[int, list] = {pk: [] for pk in pks}
            for start in range(0, len(pks), 500):
                for pk, taken, count in db.execute(
                        select(VideoSnapshot.video_pk, VideoSnapshot.taken_at, VideoSnapshot.view_count)
                        .where(VideoSnapshot.video_pk.in_(pks[start:start + 500]),
                               VideoSnapshot.taken_at <= now)
                        .order_by(VideoSnapshot.taken_at)):
                    views[pk].append((taken, count))
            recent = db.execute(
                select(SyncRun.id, SyncRun.started_at, SyncRun.status, SyncRun.error_code)
                .where(SyncRun.account_id == account_id)
                .order_by(SyncRun.started_at.desc(), SyncRun.id.desc()).limit(runs)).all()
            refresh_ends = db.scalar(select(Token.refresh_expires_at).where(Token.account_id == account_id))
            disconnected = db.scalar(select(Account.disconnected_at).where(Account.id == account_id))
        return {
            "followers": [(t, n) for t, n in followers],
            "videos": [dict(video_id=v.video_id, title=v.title or "", create_time=v.create_time,
                            gone_at=v.gone_at, views=views[v.id]) for v in videos],
            "runs": [dict(id=r.id, started_at=r.started_at, status=r.status, code=r.error_code)
                     for r in recent],
            "refresh_expires_at": refresh_ends,
            "disconnected_at": disconnected,
        }

    # --- webhook deliveries ---------------------------------------------------------------

    def new_delivery(self, alert: StoredAlert, at: datetime) -> int:
        with self.database.session() as db:
            row = WebhookDelivery(alert_id=alert.id, account_id=alert.account_id, status="pending",
                                  attempts=0, created_at=at, next_attempt_at=at)
            db.add(row)
            db.flush()
            return row.id

    def delivery(self, delivery_id: int) -> WebhookDelivery | None:
        with self.database.session() as db:
            return db.get(WebhookDelivery, delivery_id)

    def record_attempt(self, delivery_id: int, *, at: datetime, status_code: int | None,
                       outcome: str, duration_ms: int, status: str,
                       next_attempt_at: datetime | None) -> None:
        """One attempt, and where the delivery stands after it."""
        with self.database.session() as db:
            db.add(WebhookAttempt(delivery_id=delivery_id, attempted_at=at, status_code=status_code,
                                  outcome=outcome[:32], duration_ms=duration_ms))
            row = db.get(WebhookDelivery, delivery_id)
            row.attempts += 1
            row.status = status
            row.next_attempt_at = next_attempt_at
            row.finished_at = at if status != "pending" else None

    def claim_overdue(self, before: datetime, now: datetime, limit: int = 100) -> list[int]:
        """Pending deliveries whose next try is overdue since ``before`` (their
        job was lost with a wiped queue): marked due ``now`` and returned, so
        the next look does not take them again."""
        with self.database.session() as db:
            ids = list(db.scalars(select(WebhookDelivery.id).where(
                WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at < before)
                .order_by(WebhookDelivery.id).limit(limit)))
            claimed = []
            for delivery_id in ids:
                result = db.execute(update(WebhookDelivery).where(
                    WebhookDelivery.id == delivery_id, WebhookDelivery.next_attempt_at < before)
                    .values(next_attempt_at=now))
                if result.rowcount == 1:
                    claimed.append(delivery_id)
            return claimed

    def recent_deliveries(self, account_id: int, limit: int = 10) -> list[dict]:
        """The account's latest deliveries with their attempts, newest first."""
        with self.database.session() as db:
            rows = list(db.scalars(select(WebhookDelivery).where(WebhookDelivery.account_id == account_id)
                                   .order_by(WebhookDelivery.created_at.desc(),
                                             WebhookDelivery.id.desc()).limit(limit)))
            attempts: dict[int, list] = {r.id: [] for r in rows}
            if rows:
                for a in db.scalars(select(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(attempts))
                                    .order_by(WebhookAttempt.attempted_at, WebhookAttempt.id)):
                    attempts[a.delivery_id].append(
                        {"at": a.attempted_at, "status_code": a.status_code, "outcome": a.outcome,
                         "duration_ms": a.duration_ms})
            rules = dict(db.execute(select(Alert.id, Alert.rule)
                                    .where(Alert.id.in_([r.alert_id for r in rows]))).all()) if rows else {}
            return [{"id": r.id, "alert_id": r.alert_id, "rule": rules.get(r.alert_id, ""),
                     "status": r.status, "created_at": r.created_at,
                     "next_attempt_at": r.next_attempt_at, "attempts": attempts[r.id]} for r in rows]

    # --- TikTok's webhook -------------------------------------------------------------------

    def record_tiktok_event(self, key: str, *, event: str, user_openid: str | None,
                            create_time: int) -> bool:
        """Note an event TikTok delivered; False when it was delivered before."""
        with self.database.session() as db:
            if db.scalar(select(TikTokWebhookEvent.id).where(TikTokWebhookEvent.key == key)):
                return False
        try:
            with self.database.session() as db:
                db.add(TikTokWebhookEvent(key=key, event=event[:64],
                                          user_openid=(user_openid or None) and user_openid[:128],
                                          create_time=create_time, received_at=utcnow()))
            return True
        except IntegrityError:
            return False
