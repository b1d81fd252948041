"""Connecting and disconnecting accounts: the parts of the flows that are not HTTP."""

from __future__ import annotations

import logging

from .context import Core
from .jobs import Jobs

log = logging.getLogger(__name__)


def connect(core: Core, jobs: Jobs, person_id: int | None, token: dict, *,
            granted: str | None = None, first_sync: bool = True) -> tuple[int, int]:
    """Store a login's tokens for its account and queue the first sync.

    Returns (person_id, account_id). The scopes come from the token response
    (authoritative), else from what the callback said was granted.
    """
    scopes = token.get("scope") or granted or ""
    person_id, account_id = core.store.accounts.connect(person_id, token["open_id"], scopes)
    core.store.tokens.save(account_id, token)
    log.info("account %s connected", account_id)
    if first_sync:
        jobs.request_sync(account_id)
    return person_id, account_id


def disconnect(core: Core, jobs: Jobs, account_id: int) -> None:
    """Delete everything stored for the account now; revoke its token at TikTok
    in the background (the token travels to the job encrypted)."""
    token = core.store.tokens.load(account_id)
    core.store.accounts.delete(account_id)
    core.media.delete_account(account_id)
    if token is not None:
        jobs.request_revoke(token.access_token)
    log.info("account %s disconnected and deleted", account_id)
