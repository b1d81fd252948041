"""Who an account is shared with (``account_members``) and the invite links
that share it (``account_invites``, only a hash of each link's secret).

The owner of an account is ``Account.person_id`` and has no membership row;
:meth:`AccountStore.role_of` and :meth:`AccountStore.visible_to` answer who
may see what. Here are the writes, and the lists the sharing page shows.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, update

from .database import Database
from .models import Account, AccountInvite, AccountMember, MailAddress, utcnow

#: The roles an invite or a membership can give (the owner's is not given).
SHARED_ROLES = ("viewer", "manager")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class PersonName:
    """How a person is named to others: their first connected account's names."""

    display_name: str | None
    username: str | None


@dataclass(frozen=True)
class Member:
    person_id: int
    role: str
    added_at: datetime
    name: PersonName | None


@dataclass(frozen=True)
class InviteCheck:
    """What an invite link leads to: ``status`` is ``ok``, ``expired``, ``used``
    or ``revoked``; ``invite`` is the row (for ``ok``, to show what is offered)."""

    status: str
    invite: AccountInvite


class SharingStore:
    """Named queries over memberships and invites."""

    def __init__(self, database: Database):
        self.database = database

    # --- memberships ------------------------------------------------------------------------

    def members(self, account_id: int) -> list[Member]:
        """The people an account is shared with, oldest first, each with a name."""
        with self.database.session() as db:
            rows = list(db.scalars(select(AccountMember).where(AccountMember.account_id == account_id)
                                   .order_by(AccountMember.added_at, AccountMember.id)))
            names = self._names(db, [r.person_id for r in rows])
        return [Member(r.person_id, r.role, r.added_at, names.get(r.person_id)) for r in rows]

    def names(self, person_ids: list[int]) -> dict[int, PersonName]:
        with self.database.session() as db:
            return self._names(db, person_ids)

    @staticmethod
    def _names(db, person_ids: list[int]) -> dict[int, PersonName]:
        """Each person's first own account's names; a person with none is left out."""
        if not person_ids:
            return {}
        found: dict[int, PersonName] = {}
        for account in db.scalars(select(Account).where(Account.person_id.in_(set(person_ids)))
                                  .order_by(Account.id)):
            found.setdefault(account.person_id, PersonName(account.display_name, account.username))
        return found

    def add_member(self, account_id: int, person_id: int, role: str, added_by: int | None,
                   at: datetime | None = None) -> None:
        if role not in SHARED_ROLES:
            raise ValueError(f"not a role to share: {role!r}")
        with self.database.session() as db:
            db.add(AccountMember(account_id=account_id, person_id=person_id, role=role,
                                 added_by=added_by, added_at=at or utcnow()))

    def set_role(self, account_id: int, person_id: int, role: str) -> bool:
        """Change a member's role; False when they are not a member."""
        if role not in SHARED_ROLES:
            raise ValueError(f"not a role to share: {role!r}")
        with self.database.session() as db:
            return db.execute(update(AccountMember).where(
                AccountMember.account_id == account_id, AccountMember.person_id == person_id)
                .values(role=role)).rowcount == 1

    def remove_member(self, account_id: int, person_id: int) -> bool:
        """End a membership, and the member's e-mail digests of that account
        (an address is per person and account). False when there was none."""
        with self.database.session() as db:
            gone = db.execute(delete(AccountMember).where(
                AccountMember.account_id == account_id, AccountMember.person_id == person_id)).rowcount
            if gone:
                db.execute(delete(MailAddress).where(MailAddress.account_id == account_id,
                                                     MailAddress.person_id == person_id))
            return gone == 1

    # --- invites ----------------------------------------------------------------------------

    def create_invite(self, account_id: int, role: str, created_by: int, token: str,
                      expires_at: datetime) -> AccountInvite:
        if role not in SHARED_ROLES:
            raise ValueError(f"not a role to share: {role!r}")
        row = AccountInvite(account_id=account_id, role=role, created_by=created_by,
                            token_hash=token_hash(token), expires_at=expires_at, created_at=utcnow())
        with self.database.session() as db:
            db.add(row)
            db.flush()
            db.expunge(row)
        return row

    def pending_invites(self, account_id: int, now: datetime | None = None) -> list[AccountInvite]:
        """Invites that still work, soonest to expire first."""
        now = now or utcnow()
        with self.database.session() as db:
            return list(db.scalars(select(AccountInvite).where(
                AccountInvite.account_id == account_id, AccountInvite.used_at.is_(None),
                AccountInvite.revoked_at.is_(None), AccountInvite.expires_at > now)
                .order_by(AccountInvite.expires_at, AccountInvite.id)))

    def check_invite(self, token: str, now: datetime | None = None) -> InviteCheck | None:
        """What the link's secret leads to; None when no invite has it."""
        now = now or utcnow()
        with self.database.session() as db:
            row = db.scalar(select(AccountInvite).where(AccountInvite.token_hash == token_hash(token)))
        if row is None:
            return None
        if row.revoked_at is not None:
            return InviteCheck("revoked", row)
        if row.used_at is not None:
            return InviteCheck("used", row)
        if row.expires_at <= now:
            return InviteCheck("expired", row)
        return InviteCheck("ok", row)

    def use_invite(self, invite_id: int, person_id: int, now: datetime | None = None) -> bool:
        """Spend the invite and make the person a member, in one transaction;
        False when it was used, revoked or expired meanwhile (a race lost)."""
        now = now or utcnow()
        with self.database.session() as db:
            row = db.get(AccountInvite, invite_id)
            spent = db.execute(update(AccountInvite).where(
                AccountInvite.id == invite_id, AccountInvite.used_at.is_(None),
                AccountInvite.revoked_at.is_(None), AccountInvite.expires_at > now)
                .values(used_at=now, used_by=person_id)).rowcount
            if not spent or row is None:
                return False
            db.add(AccountMember(account_id=row.account_id, person_id=person_id, role=row.role,
                                 added_by=row.created_by, added_at=now))
            return True

    def revoke_invite(self, account_id: int, invite_id: int, now: datetime | None = None) -> bool:
        """Withdraw a pending invite of this account; False when there is none to withdraw."""
        with self.database.session() as db:
            return db.execute(update(AccountInvite).where(
                AccountInvite.id == invite_id, AccountInvite.account_id == account_id,
                AccountInvite.used_at.is_(None), AccountInvite.revoked_at.is_(None))
                .values(revoked_at=now or utcnow())).rowcount == 1
