"""People, their TikTok accounts, and each account's encrypted tokens."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, delete, func, select, union, update

from .crypto import TokenCipher, TokenDecryptError
from .database import Database
from .models import (
    ROLES,
    Account,
    AccountInvite,
    AccountMember,
    Person,
    ProfileSnapshot,
    SyncRun,
    Token,
    Video,
    VideoSnapshot,
    WebSession,
    utcnow,
)

log = logging.getLogger(__name__)


def role_rank(role: str | None) -> int:
    """How much a role may do: -1 for none, then viewer < manager < owner."""
    return ROLES.index(role) if role in ROLES else -1


def visible_ids(person_id: int, min_role: str = "viewer") -> Select:
    """The ids of the accounts a person has at least ``min_role`` on, as a
    subquery for other stores' reads (``Account.id.in_(visible_ids(...))``)."""
    owned = select(Account.id).where(Account.person_id == person_id)
    roles = ROLES[role_rank(min_role):-1]
    if not roles:
        return owned
    shared = select(AccountMember.account_id).where(
        AccountMember.person_id == person_id, AccountMember.role.in_(roles))
    return union(owned, shared)


@dataclass(frozen=True)
class TokenRecord:
    account_id: int
    access_token: str
    refresh_token: str
    expires_at: datetime
    refresh_expires_at: datetime
    scope: str


class AccountStore:
    """Named queries over people and accounts."""

    def __init__(self, database: Database):
        self.database = database

    def connect(self, person_id: int | None, open_id: str, scopes: str) -> tuple[int, int]:
        """Attach ``open_id`` to a person; returns (person_id, account_id).

        A returning account logs its owner back in. A new account goes to the
        person already logged in, or to a new person.
        """
        with self.database.session() as db:
            account = db.scalar(select(Account).where(Account.open_id == open_id))
            if account is None:
                if person_id is None or db.get(Person, person_id) is None:
                    person = Person()
                    db.add(person)
                    db.flush()
                    person_id = person.id
                account = Account(person_id=person_id, open_id=open_id, granted_scopes=scopes)
                db.add(account)
                db.flush()
            else:
                account.granted_scopes = scopes
                account.disconnected_at = account.disconnect_reason = None  # a new login
            return account.person_id, account.id

    def engagement_formula(self, person_id: int) -> str | None:
        """The engagement formula the person chose (None: no such person)."""
        with self.database.session() as db:
            return db.scalar(select(Person.engagement_formula).where(Person.id == person_id))

    def set_engagement_formula(self, person_id: int, formula: str) -> bool:
        """Store the person's choice; False when there is no such person."""
        with self.database.session() as db:
            person = db.get(Person, person_id)
            if person is None:
                return False
            person.engagement_formula = formula
            return True

    def of_person(self, person_id: int) -> list[Account]:
        """The accounts the person owns (what they may see: :meth:`visible_to`)."""
        with self.database.session() as db:
            return list(
                db.scalars(select(Account).where(Account.person_id == person_id).order_by(Account.id))
            )

    def for_person(self, person_id: int, account_id: int) -> Account | None:
        """The account, only if this person owns it (any role: :meth:`role_of`)."""
        with self.database.session() as db:
            return db.scalar(
                select(Account).where(Account.id == account_id, Account.person_id == person_id)
            )

    def visible_to(self, person_id: int) -> list[tuple[Account, str]]:
        """Every account the person may see, with their role on it: the ones
        they own first, then the ones shared with them, each by id."""
        with self.database.session() as db:
            owned = [(a, "owner") for a in db.scalars(
                select(Account).where(Account.person_id == person_id).order_by(Account.id))]
            shared = [(a, role) for a, role in db.execute(
                select(Account, AccountMember.role)
                .join(AccountMember, AccountMember.account_id == Account.id)
                .where(AccountMember.person_id == person_id, Account.person_id != person_id)
                .order_by(Account.id))]
            return owned + shared

    def role_of(self, person_id: int | None, account_id: int | None) -> str | None:
        """``"owner"``, ``"manager"``, ``"viewer"``, or None when the person may not see it."""
        if not person_id or not account_id or not 0 < account_id <= 2**31 - 1:
            return None
        with self.database.session() as db:
            row = db.execute(
                select(Account.person_id, AccountMember.role)
                .outerjoin(AccountMember, (AccountMember.account_id == Account.id)
                           & (AccountMember.person_id == person_id))
                .where(Account.id == account_id)).first()
        if row is None:
            return None
        owner, role = row
        return "owner" if owner == person_id else role

    def get(self, account_id: int) -> Account | None:
        with self.database.session() as db:
            return db.get(Account, account_id)

    def by_open_id(self, open_id: str) -> Account | None:
        with self.database.session() as db:
            return db.scalar(select(Account).where(Account.open_id == open_id))

    def all(self) -> list[Account]:
        with self.database.session() as db:
            return list(db.scalars(select(Account).order_by(Account.id)))

    def delete(self, account_id: int) -> None:
        """Forget the account and everything stored for it, its memberships and
        invites too; and its owner, if they have no account left to see."""
        with self.database.session() as db:
            person_id = db.scalar(select(Account.person_id).where(Account.id == account_id))
            for model in (VideoSnapshot, ProfileSnapshot, Video, SyncRun, Token, AccountMember,
                          AccountInvite):
                db.execute(delete(model).where(model.account_id == account_id))
            db.execute(delete(Account).where(Account.id == account_id))
            remaining = db.scalar(select(func.count()).select_from(Account)
                                  .where(Account.person_id == person_id))
            remaining = remaining or db.scalar(select(func.count()).select_from(AccountMember)
                                               .where(AccountMember.person_id == person_id))
            if person_id is not None and not remaining:
                db.execute(delete(WebSession).where(WebSession.person_id == person_id))
                db.execute(delete(Person).where(Person.id == person_id))

    def update_profile(self, account_id: int, profile: dict) -> None:
        """The account's latest profile columns (cleaned), without a snapshot."""
        if profile:
            with self.database.session() as db:
                db.execute(update(Account).where(Account.id == account_id).values(**profile))

    def mark_disconnected(self, account_id: int, at: datetime, reason: int | None) -> bool:
        """TikTok says the owner removed our access: its tokens are dead, so
        they go (scheduled syncs stop) and the account says when and why.
        False when it was already marked."""
        with self.database.session() as db:
            result = db.execute(update(Account).where(
                Account.id == account_id, Account.disconnected_at.is_(None))
                .values(disconnected_at=at, disconnect_reason=reason))
            db.execute(delete(Token).where(Token.account_id == account_id))
            return result.rowcount == 1

    def mark_pictures_stored(self, account_id: int, at: datetime) -> None:
        """A pictures job ended: pages computed before it show it on their next view."""
        with self.database.session() as db:
            db.execute(update(Account).where(Account.id == account_id).values(pictures_stored_at=at))

    def mark_avatar_stored(self, account_id: int, at: datetime | None) -> None:
        with self.database.session() as db:
            db.execute(update(Account).where(Account.id == account_id).values(avatar_stored_at=at))


class TokenStore:
    """Each account's OAuth tokens, encrypted at rest."""

    def __init__(self, database: Database, cipher: TokenCipher):
        self.database = database
        self.cipher = cipher

    def save(self, account_id: int, response: dict, now: datetime | None = None) -> TokenRecord:
        """The one path that writes tokens: from a token endpoint response."""
        now = now or utcnow()
        record = TokenRecord(
            account_id=account_id,
            access_token=response["access_token"],
            refresh_token=response["refresh_token"],
            expires_at=now + timedelta(seconds=int(response["expires_in"])),
            refresh_expires_at=now + timedelta(seconds=int(response["refresh_expires_in"])),
            scope=response.get("scope", ""),
        )
        values = {
            "access_token": self.cipher.encrypt(record.access_token),
            "refresh_token": self.cipher.encrypt(record.refresh_token),
            "expires_at": record.expires_at,
            "refresh_expires_at": record.refresh_expires_at,
            "scope": record.scope,
            "updated_at": now,
            "refresh_locked_until": None,
        }
        with self.database.session() as db:
            row = db.get(Token, account_id)
            if row is None:
                db.add(Token(account_id=account_id, **values))
            else:
                for key, value in values.items():
                    setattr(row, key, value)
            if record.scope:
                db.execute(
                    update(Account).where(Account.id == account_id).values(granted_scopes=record.scope)
                )
        return record

    def load(self, account_id: int) -> TokenRecord | None:
        """The account's tokens, or None when there are none or none of the
        configured keys reads them (a key was dropped too early): either way
        the owner must log in again, and nothing may crash on it."""
        with self.database.session() as db:
            row = db.get(Token, account_id)
            if row is None:
                return None
            try:
                access = self.cipher.decrypt(row.access_token)
                refresh = self.cipher.decrypt(row.refresh_token)
            except TokenDecryptError:
                log.warning("stored token of account %s is unreadable with TOKEN_ENCRYPTION_KEYS; "
                            "its owner must log in again", account_id)
                return None
            return TokenRecord(
                account_id=account_id,
                access_token=access,
                refresh_token=refresh,
                expires_at=row.expires_at,
                refresh_expires_at=row.refresh_expires_at,
                scope=row.scope,
            )

    def exists(self, account_id: int) -> bool:
        """Whether the account is connected (its tokens are here), without decrypting them."""
        with self.database.session() as db:
            return db.get(Token, account_id) is not None

    def delete(self, account_id: int) -> None:
        with self.database.session() as db:
            db.execute(delete(Token).where(Token.account_id == account_id))

    def reencrypt(self) -> int:
        """Re-encrypt every stored token under the newest key; returns the count."""
        with self.database.session() as db:
            rows = list(db.scalars(select(Token)))
            for row in rows:
                row.access_token = self.cipher.rotate(row.access_token)
                row.refresh_token = self.cipher.rotate(row.refresh_token)
            return len(rows)
