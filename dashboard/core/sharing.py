"""Sharing an account: invite links, accepting them, roles, removing and leaving.

Only the owner (``Account.person_id``) shares: the web layer checks that
with :meth:`AccountStore.role_of` before calling here. These functions
return outcomes (short strings); the web layer puts them into words.
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError

from dashboard.storage.models import AccountInvite, utcnow
from dashboard.storage.sharing import SHARED_ROLES, InviteCheck

from .context import Core

log = logging.getLogger(__name__)

#: An invite link works this long after it was made.
INVITE_LIFETIME = timedelta(days=7)
#: Longest invite secret a link may carry (``token_urlsafe(32)`` is 43 characters).
MAX_TOKEN_LENGTH = 64


def create_invite(core: Core, account_id: int, role: str, by: int,
                  now: datetime | None = None) -> tuple[AccountInvite, str]:
    """A new invite for ``role``, and its secret: the only time the secret
    exists outside the link (the database keeps its SHA-256)."""
    if role not in SHARED_ROLES:
        raise ValueError(role)
    token = secrets.token_urlsafe(32)
    expires = (now or utcnow()) + INVITE_LIFETIME
    invite = core.store.sharing.create_invite(account_id, role, by, token, expires)
    log.info("invite %s made for account %s (%s)", invite.id, account_id, role)
    return invite, token


def check_invite(core: Core, token: str) -> InviteCheck | None:
    """What a link leads to; None for a secret no invite has (or not a secret at all)."""
    if not token or len(token) > MAX_TOKEN_LENGTH or not token.isascii():
        return None
    return core.store.sharing.check_invite(token)


def offer_for(core: Core, check: InviteCheck, person_id: int | None) -> str:
    """Whether this person can take a working invite: ``ok``, ``own`` (they own
    the account) or ``already`` (they have access already)."""
    role = core.store.accounts.role_of(person_id, check.invite.account_id)
    if role == "owner":
        return "own"
    return "already" if role else "ok"


def accept_invite(core: Core, token: str, person_id: int) -> tuple[str, int | None]:
    """Take an invite: (outcome, account id). Outcomes: ``accepted``, ``unknown``,
    ``expired``, ``used``, ``revoked``, ``own``, ``already``. Only ``accepted``
    changes anything; the invite stays usable after ``own`` and ``already``."""
    check = check_invite(core, token)
    if check is None:
        return "unknown", None
    if check.status != "ok":
        return check.status, None
    offer = offer_for(core, check, person_id)
    if offer != "ok":
        return offer, check.invite.account_id
    try:
        taken = core.store.sharing.use_invite(check.invite.id, person_id)
    except IntegrityError:  # became a member in a parallel request
        return "already", check.invite.account_id
    if not taken:
        return "used", None
    log.info("invite %s accepted: account %s shared with person %s", check.invite.id,
             check.invite.account_id, person_id)
    return "accepted", check.invite.account_id


def set_role(core: Core, account_id: int, person_id: int, role: str) -> bool:
    if role not in SHARED_ROLES:
        return False
    return core.store.sharing.set_role(account_id, person_id, role)


def remove_member(core: Core, account_id: int, person_id: int) -> bool:
    """The owner removes someone, or someone leaves: their access and their
    e-mail digests of the account end; their browser sessions fall back to
    another account on their next request."""
    removed = core.store.sharing.remove_member(account_id, person_id)
    if removed:
        log.info("person %s no longer has access to account %s", person_id, account_id)
    return removed
